"""Request bodies a route reads itself (because it takes more than JSON), documented all the same.

FastAPI documents a body only when it parses it. A route that takes JSON or CSV reads the body itself and
declares it with `request_body(...)` in `openapi_extra`; the model is remembered here so that the OpenAPI
document (service/main.py) carries its schema under components, where the `$ref` points.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

SCHEMA_REF = "#/components/schemas/{model}"

_MODELS: dict[str, type[BaseModel]] = {}


def request_body(model: type[BaseModel], *, other_media: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """`openapi_extra` for a route that parses its own body: JSON as `model`, plus `other_media` entries."""
    known = _MODELS.setdefault(model.__name__, model)
    if known is not model:
        raise ValueError(f"two body models are named {model.__name__}")
    content = {"application/json": {"schema": {"$ref": SCHEMA_REF.format(model=model.__name__)}}}
    return {"requestBody": {"required": True, "content": {**content, **(other_media or {})}}}


def body_models() -> list[type[BaseModel]]:
    return list(_MODELS.values())
