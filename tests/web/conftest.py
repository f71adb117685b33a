"""The web pages: a browser-like client (HTTPS, cookies), signed in through the development sign-in page."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from service.tokens import DevKey, StaticKeySource, TokenVerifier
from tests.api.conftest import Users, admin, client, investigator, org, settings, staff, users  # noqa: F401 - fixtures
from tests.conftest import TEST_AUDIENCE, TEST_ISSUER, FakeClock

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_ID = re.compile(r'name="formular_id" value="([^"]+)"')


def make_app(settings: Settings, db: Engine, clock: FakeClock, dev_key: DevKey):
    verifier = TokenVerifier(StaticKeySource(dev_key.public_jwks()), issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
    return create_app(settings, engine=db, clock=clock, token_verifier=verifier)


@pytest.fixture
def browser(settings: Settings, db: Engine, clock: FakeClock, dev_key: DevKey) -> Iterator[TestClient]:
    """Like a browser: HTTPS (the session cookie is Secure), cookies kept, redirects not followed."""
    app = make_app(settings, db, clock, dev_key)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False,
                    follow_redirects=False) as client:
        yield client


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(browser: TestClient, role: str = "reporter") -> None:
    page = browser.get("/logga-in")
    assert page.status_code == 200, page.text
    done = browser.post("/logga-in", data={"csrf_token": csrf_of(page.text), "anvandare": role,
                                           "nasta": "/rapportera"})
    assert done.status_code == 303, done.text


def form_fields(**overrides: str) -> dict[str, str]:
    """What a person types into the form for a medication error at Hemtjänst Centrum (local time)."""
    fields = {
        "enhet": "SOC-ALD-1", "intraffat_datum": "2026-03-09", "intraffat_tid": "18:30",
        "upptackt_datum": "2026-03-09", "upptackt_tid": "19:00",
        "beskrivning": "Brukaren fick fel läkemedel vid kvällsbesöket.",
        "atgarder": "Sjuksköterska kontaktad.", "person": "referens", "person_referens": "Treserva-88123",
        "kategori": "medication",
    }
    fields.update(overrides)
    return fields


def open_form(browser: TestClient) -> tuple[str, str]:
    page = browser.get("/rapportera")
    assert page.status_code == 200, page.text
    return csrf_of(page.text), FORM_ID.search(page.text).group(1)  # type: ignore[union-attr]  # no form: the test fails


def submit(browser: TestClient, **overrides: str):
    csrf, form_id = open_form(browser)
    return browser.post("/rapportera", data={"csrf_token": csrf, "formular_id": form_id, **form_fields(**overrides)})
