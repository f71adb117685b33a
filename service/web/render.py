"""Jinja2 templates and static files of the web pages, with the Swedish words they share."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from service.domain.lifecycle import CaseStatus

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"

STATUS_LABELS: dict[str, str] = {
    CaseStatus.reported: "Mottagen, väntar på bedömning",
    CaseStatus.assessed: "Bedömd",
    CaseStatus.investigating: "Utreds",
    CaseStatus.investigated: "Utredd",
    CaseStatus.followed_up: "Uppföljd",
    CaseStatus.closed: "Avslutad",
}


def _fingerprints() -> dict[str, str]:
    """A short hash of each static file, in its URL: browsers may keep a file as long as it is unchanged."""
    return {path.relative_to(STATIC_DIR).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            for path in STATIC_DIR.rglob("*") if path.is_file()}


class Pages:
    def __init__(self, time_zone: str) -> None:
        self.zone = ZoneInfo(time_zone)
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        versions = _fingerprints()
        self.env.globals["static"] = lambda name: f"/static/{name}?v={versions.get(name, '0')}"
        self.env.filters["datum_tid"] = self.local_datetime
        self.env.filters["datum"] = lambda moment: self.local(moment).strftime("%Y-%m-%d")
        self.env.filters["status"] = lambda status: STATUS_LABELS.get(status, status)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def local_datetime(self, moment: datetime) -> str:
        return self.local(moment).strftime("%Y-%m-%d kl. %H:%M")

    def render(self, request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
        current = getattr(request.state, "browser_session", None)
        shared = {"request_path": request.url.path, "signed_in": bool(current and current.claims),
                  "user_name": (current.claims or {}).get("name") if current else None,
                  "csrf_token": current.csrf_token if current else "", "error": None}
        html = self.env.get_template(template).render({**shared, **context})
        return HTMLResponse(html, status_code=status_code)


def pages(request: Request) -> Pages:
    return request.app.state.pages
