"""Valid request bodies shared by the API tests and the authorization matrix.

Import what a module needs, e.g. `from tests.bodies import OPERATOR, UNIT, report_body, send_order`.
"""

from __future__ import annotations

# The parties named in IVO and IMY notifications.
OPERATOR = {"name": "Socialnämnden i Exempelkommun", "organisation_number": "212000-0142",
            "contact": "Box 1, 111 11 Exempelstad, 08-123 456 00"}
UNIT = {"name": "Hemtjänst Centrum", "address": "Storgatan 1, 111 22 Exempelstad"}
CONTACT = {"name": "Dana Dataskydd", "email": "dataskydd@exempel.se", "phone": "08-123 456 99"}
CONTROLLER = {"name": "Socialnämnden i Exempelkommun", "organisation_number": "212000-0142",
              "address": "Box 1, 111 11 Exempelstad"}


def report_body(**overrides: object) -> dict:
    """A valid report from Hemtjänst Centrum (SOC-ALD-1); an override of None leaves that field out."""
    body: dict[str, object] = {
        "units": ["SOC-ALD-1"],
        "occurred_at": "2026-03-09T18:30:00+01:00",
        "noticed_at": "2026-03-09T19:00:00+01:00",
        "description": "Brukaren fick fel läkemedel vid kvällsbesöket.",
        "immediate_actions": "Sjuksköterska kontaktad, brukaren observerad.",
        "subject_reference": "Treserva-88123",
        "category": "medication",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def send_order(who: str = "Disa Delegat", **overrides: object) -> dict:
    """The body that sends a notification: who decided it, under which delegation, by which channel."""
    return {"decision_maker_name": who, "delegation_reference": "Delegationsordning punkt 4.2",
            "channel": "e_service", **overrides}


# The made-up organisation of docs/domain.md's example (enheter A1, A2 in avdelning A, B1 in B).
EXAMPLE_ORG = [
    {"code": "F", "name": "Förvaltningen", "kind": "administration", "valid_from": "2020-01-01"},
    {"code": "A", "name": "Avdelning A", "kind": "department", "parent_code": "F", "valid_from": "2020-01-01"},
    {"code": "B", "name": "Avdelning B", "kind": "department", "parent_code": "F", "valid_from": "2020-01-01"},
    {"code": "A1", "name": "Enhet A1", "kind": "unit", "parent_code": "A", "valid_from": "2020-01-01"},
    {"code": "A2", "name": "Enhet A2", "kind": "unit", "parent_code": "A", "valid_from": "2020-01-01"},
    {"code": "B1", "name": "Enhet B1", "kind": "unit", "parent_code": "B", "valid_from": "2020-01-01"},
]
