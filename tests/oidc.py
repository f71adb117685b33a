"""A real OpenID provider for the tests: oidc-provider (npm) run by tests/node/oidc_provider.mjs on loopback.

`OidcProvider.start()` launches it and waits until its discovery document answers; the session fixture
`oidc_provider` (tests/conftest.py) keeps one running for the whole test run. Tokens come from its real
endpoints: client credentials, and the authorization code flow with PKCE driven through the provider's
development login and consent pages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import secrets
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx

NODE_DIR = Path(__file__).resolve().parent / "node"
SCRIPT = NODE_DIR / "oidc_provider.mjs"
AUDIENCE = "avvikelser-api"  # the API's audience, and the name of one of the provider's clients
RESOURCE = "https://avvikelser.example/api"  # the resource indicator (RFC 8707) whose tokens say aud AUDIENCE
OTHER_RESOURCE = "https://other.example/api"  # tokens for another API: aud "another-api"
REDIRECT_URI = "http://127.0.0.1/callback"  # never called: the code is read from the redirect itself
WAIT_SECONDS = 60  # a bound on waiting for the provider process, not a pause


class OidcProvider:
    def __init__(self, process: subprocess.Popen[str], client_secret: str) -> None:
        self.process, self.client_secret = process, client_secret
        self.issuer = ""
        self.http = httpx.Client(timeout=10)
        self._messages: queue.Queue[dict | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    @classmethod
    def start(cls) -> OidcProvider:
        node = shutil.which("node")
        if node is None or not (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("the OIDC tests need Node.js and tests/node/node_modules (scripts/test runs npm ci)")
        secret = secrets.token_urlsafe(24)
        process = subprocess.Popen([node, str(SCRIPT), AUDIENCE, RESOURCE, OTHER_RESOURCE, REDIRECT_URI, secret],
                                   cwd=NODE_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
        provider = cls(process, secret)
        try:
            provider.issuer = provider._message()["issuer"]
            provider.http.base_url = provider.issuer
            discovery = provider.http.get("/.well-known/openid-configuration")
            discovery.raise_for_status()
            assert discovery.json()["issuer"] == provider.issuer
        except BaseException:
            provider.stop()
            raise
        return provider

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue  # oidc-provider's own notices
            if isinstance(message, dict):
                self._messages.put(message)
        self._messages.put(None)

    def _message(self) -> dict:
        message = self._messages.get(timeout=WAIT_SECONDS)
        if message is None:
            raise RuntimeError(f"the OIDC provider stopped (exit code {self.process.wait()})")
        return message

    def stop(self) -> None:
        self.http.close()
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()  # the script stops when its stdin closes
        try:
            self.process.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def rotate(self) -> str:
        """A new key signs from now on; the old one stays in the JWKS. Returns the new key's kid."""
        assert self.process.stdin is not None
        self.process.stdin.write("rotate\n")
        self.process.stdin.flush()
        return self._message()["kid"]

    def client_credentials(self, resource: str = RESOURCE) -> str:
        """An access token of the `integration` client (its sub is "integration")."""
        response = self.http.post("/token", data={"grant_type": "client_credentials", "client_id": "integration",
                                                  "client_secret": self.client_secret, "resource": resource,
                                                  "scope": "reports"})
        response.raise_for_status()
        return response.json()["access_token"]

    def log_in(self, user: str, client_id: str = "webapp", resource: str = RESOURCE) -> dict[str, str]:
        """The token response (access_token, id_token) of an authorization code flow with PKCE for `user`."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        with httpx.Client(base_url=self.issuer, timeout=10) as browser:  # a browser of its own: own cookies
            response = browser.get("/auth", params={
                "client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT_URI,
                "scope": "openid profile reports", "resource": resource, "state": secrets.token_urlsafe(8),
                "nonce": secrets.token_urlsafe(8), "code_challenge": challenge, "code_challenge_method": "S256"})
            for _ in range(10):  # login, consent, and the redirects between them
                assert response.status_code in (302, 303), response.text
                location = response.headers["location"]
                if location.startswith(REDIRECT_URI):
                    break
                path = urlparse(location).path
                if path.startswith("/interaction/"):
                    page = browser.get(path)
                    prompt = "login" if 'name="login"' in page.text else "consent"
                    response = browser.post(path, data={"prompt": prompt, "login": user, "password": "any"})
                else:
                    response = browser.get(location)
            else:
                raise AssertionError("the login did not end at the redirect URI")
            query = parse_qs(urlparse(location).query)
            assert "code" in query, location
            tokens = browser.post("/token", data={"grant_type": "authorization_code", "code": query["code"][0],
                                                  "redirect_uri": REDIRECT_URI, "client_id": client_id,
                                                  "code_verifier": verifier})
            tokens.raise_for_status()
            return tokens.json()
