"""Opaque, signed keyset cursors: clients pass them back, they cannot build or alter them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime

from service.api.problems import ProblemException


def encode_cursor(secret: str, received_at: datetime, report_id: uuid.UUID) -> str:
    payload = base64.urlsafe_b64encode(json.dumps([received_at.isoformat(), report_id.hex]).encode()).rstrip(b"=")
    return f"{payload.decode()}.{_sign(secret, payload)}"


def decode_cursor(secret: str, cursor: str) -> tuple[datetime, uuid.UUID]:
    payload, _, signature = cursor.partition(".")
    if not _signed(secret, payload.encode(errors="replace"), signature):
        raise _invalid()
    try:
        padded = payload + "=" * (-len(payload) % 4)
        moment, report_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(moment), uuid.UUID(hex=report_id)
    except (ValueError, TypeError) as exc:
        raise _invalid() from exc


def encode_id_cursor(secret: str, last_id: int) -> str:
    """For lists in id order (grants, the audit log): the last id seen."""
    payload = str(last_id).encode()
    return f"{payload.decode()}.{_sign(secret, b'id:' + payload)}"


def decode_id_cursor(secret: str, cursor: str) -> int:
    payload, _, signature = cursor.partition(".")
    if not (payload.isascii() and payload.isdigit()) or not _signed(secret, b"id:" + payload.encode(), signature):
        raise _invalid()
    return int(payload)


def _signed(secret: str, payload: bytes, signature: str) -> bool:
    # Compared as bytes: compare_digest refuses str holding anything but ASCII (a cursor "abc.é" was a 500).
    return hmac.compare_digest(signature.encode(errors="replace"), _sign(secret, payload).encode())


def _sign(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()[:32]


def _invalid() -> ProblemException:
    return ProblemException(400, "The cursor is not one this service issued (or it has expired).",
                            type_="invalid-cursor", errors=[{"pointer": None, "location": "query",
                                                             "name": "cursor", "detail": "invalid cursor",
                                                             "code": "invalid_cursor"}])
