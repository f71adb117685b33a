"""Every log record of the test run, searched for case content and bearer tokens (tests/conftest.py).

The service's log must never hold a report's description, a subject reference or a token: the run fails
at its end if any record made in this process did, naming the record and the test that made it.
"""

from __future__ import annotations

import logging
import re

from service.logs import JsonFormatter, RequestContextFilter
from tests.bodies import report_body

_BODY = report_body()
# Texts the tests send as case content: the shared report body's and a few others used across the suite.
SECRET_TEXTS: tuple[str, ...] = (
    _BODY["description"], _BODY["immediate_actions"], _BODY["subject_reference"],
    "Treserva-4711", "19121212-1212", "Journalanteckningar om en brukare", "Dottern till en brukare ringde",
    "Brukaren föll i hemmet", "Fel dos på ÄLDREBOENDET", "Uppdatera rutinen för läkemedelsöverlämning",
)
# A compact JWS: header and payload are base64url JSON objects, so both start with "eyJ".
BEARER_TOKEN = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


def offence(line: str) -> str | None:
    """What in a formatted log line must not be there, or None."""
    for text in SECRET_TEXTS:
        if text in line:
            return f"case content {text!r}"
    if BEARER_TOKEN.search(line):
        return "a bearer token"
    return None


class LeakCatcher(logging.Handler):
    """Formats every record as the production log would (JSON, request context included, exceptions too)
    and keeps those that hold what they must not."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.addFilter(RequestContextFilter())
        self.current_test = "(outside a test)"
        self.seen = 0
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "_leak_checked", False):  # reached through both the service's logger and the root
            return
        record._leak_checked = True
        try:
            line = self.format(record)
        except Exception as exc:  # noqa: BLE001 - a record that cannot be formatted is reported, not lost
            line = f"unformattable record from {record.name}: {exc!r} {record.msg!r} {record.args!r}"
        self.seen += 1
        found = offence(line)
        if found is not None:
            self.leaks.append(f"{self.current_test}: {found} in {line[:500]}")
