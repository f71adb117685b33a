"""The committed OpenAPI document: rendered from the app, byte for byte stable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

from service.config import Settings
from service.tokens import TokenVerifier

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def render_openapi() -> str:
    from service.main import create_app

    # The document depends on code, not on this machine's settings or database.
    app = create_app(Settings(database_url="sqlite://", dev_key_path=Path("/nonexistent")),
                     token_verifier=cast(TokenVerifier, _NoVerifier()))  # never asked: no request is served
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class _NoVerifier:
    def verify(self, token: str) -> dict:
        raise NotImplementedError
