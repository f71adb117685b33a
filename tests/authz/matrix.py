"""The authorization matrix, as data: every operation of the OpenAPI document × every role × where the
caller's grant lies, with the outcome the permission table (service/domain/access.py, docs/domain.md) and
issue 4 call for. tests/authz/test_matrix.py runs every cell and fails on an operation without a row.

Where the grant lies (RELATIONS). Every caller holds exactly one role, granted on one unit, picked
relative to the enhet the target case concerns, SOC-ALD-1 (demo organisation, service/demo.py):

    own      the role on SOC-ALD-1 itself
    parent   the role on its avdelning SOC-ALD (a grant covers the unit's subtree)
    sibling  the role on SOC-ALD-2, another enhet of the same avdelning
    other    the role on SOC-FUN, another avdelning
    none     signed in (a valid token) but no grant at all

The relation names where the grant is; each operation's TARGET says what the operation acts on, so
"own" means for a case operation "a grant on the case's enhet", for the statistics "a grant on the
enhet the figures are asked for", and for creating an org unit (target: SOC-ALD, the new unit's
parent) it is a grant *below* the target, which does not cover it.

Outcomes (one per cell):

    ALLOWED  the operation ran past authorization: any 2xx, or a 409/422 that the case's state or the
             input causes (a domain refusal; a request-schema 422 is a broken test, never ALLOWED).
             Writes are aimed at targets where they are harmless, so that no cell changes another's
             outcome: most case steps at a closed case (409 from the lifecycle, nothing changes);
             reopen at an open case (409); the authority response, rename and move set what is
             already there; the rest add something nobody else looks at (a report, a grant to a
             dummy subject, a unit under SOC-ALD, a log review) or answer 409 the second time.
    LISTED   a collection answers 2xx and the target is in it (list endpoints filter, they do not 404)
    ABSENT   a collection answers 2xx and the target is not in it: the list's 404
    403      may see the target, lacks the operation's permission (or: not an operation for this role)
    404      the case is outside what the caller may read: as if it did not exist

Encoding: one row per operation, one cell per role (in ROLES order), each cell a named pattern over
the five relations (the patterns below). A cell that the service gets wrong keeps the correct
expectation here and is listed in KNOWN_BUGS with the reason; its test is xfail(strict=True).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("reporter", "unit_manager", "investigator", "decision_maker", "dpo", "statistics", "auditor", "admin",
         "integration")
RELATIONS = ("own", "parent", "sibling", "other", "none")
GRANT_UNIT = {"own": "SOC-ALD-1", "parent": "SOC-ALD", "sibling": "SOC-ALD-2", "other": "SOC-FUN", "none": None}

ALLOWED, LISTED, ABSENT = "allowed", "listed", "absent"
OUTCOMES = (ALLOWED, LISTED, ABSENT, 403, 404)

# ---- patterns: the outcome for (own, parent, sibling, other, none) ------------------------------------

EVERYONE = (ALLOWED, ALLOWED, ALLOWED, ALLOWED, ALLOWED)  # anyone signed in, even without a grant
ANY_GRANT = (ALLOWED, ALLOWED, ALLOWED, ALLOWED, 403)  # any grant of the role, wherever it lies
SUBTREE = (ALLOWED, ALLOWED, 403, 403, 403)  # the role must cover the target unit; no secret to hide
ABOVE = (403, ALLOWED, 403, 403, 403)  # target is SOC-ALD: only the avdelning grant covers it
NEVER = (403, 403, 403, 403, 403)  # the role has no such permission anywhere
HANDLES = (ALLOWED, ALLOWED, 404, 404, 404)  # reads the case, and the role has the step's permission
LACKS = (403, 403, 404, 404, 404)  # reads the case, but the role lacks the step's permission
HIDDEN = (404, 404, 404, 404, 404)  # the role never reads case content: the case does not exist
SEES = (LISTED, LISTED, ABSENT, ABSENT, ABSENT)  # a list shows the case to those who read it
UNSEEN = (ABSENT, ABSENT, ABSENT, ABSENT, ABSENT)
SCOPED = (LISTED, LISTED, ABSENT, ABSENT, 403)  # the role's list is scoped to its subtree; no role: 403

PATTERNS = {"EVERYONE": EVERYONE, "ANY_GRANT": ANY_GRANT, "SUBTREE": SUBTREE, "ABOVE": ABOVE, "NEVER": NEVER,
            "HANDLES": HANDLES, "LACKS": LACKS, "HIDDEN": HIDDEN, "SEES": SEES, "UNSEEN": UNSEEN, "SCOPED": SCOPED}

# ---- targets -----------------------------------------------------------------------------------------

TARGETS = {
    "closed_case": "A closed case on SOC-ALD-1, reported by 'someone-else': lex Sarah (serious) and a high-risk "
                   "personal-data incident, with its full investigation, an IMY notification, the data "
                   "subjects informed, an IVO notification (the notification used; both sent), one action "
                   "done and evaluated, followed up. Steps on it are 409 for an authorized caller.",
    "open_case": "An assessed case on SOC-ALD-1 (serious lex Sarah, IVO deadline running), reported by "
                 "'someone-else'. Reopening it is 409 for an authorized caller.",
    "open_case_deadline": "The open case's deadlines, in GET /deadlines.",
    "case_in_list": "The closed case in GET /reports?q=<a word only its text has>.",
    "enhet": "The enhet SOC-ALD-1 (reports for it; its statistics; renaming it to its own name; moving it under "
             "the avdelning it is under; closing it before it began, which is 422 when authorized).",
    "avdelning": "SOC-ALD, as the parent of a new enhet (create: the same code each time, 409 once it exists; "
                 "import: a new code each time).",
    "org": "The organisation tree and reference data, which everyone signed in reads.",
    "administration": "The förvaltning SOC's report categories (changed only with admin on the förvaltning itself, "
                      "which no relation's grant covers; create: the same code each time, 409 once it exists; "
                      "relabel 'medication' with its own label; retire it before it began, 422 when authorized).",
    "grant": "The grant of the reporter role on SOC-ALD-1 to 'matrix-revokee' (list: ?subject=matrix-revokee; "
             "revoke: 409 once revoked); for POST, a reporter grant on SOC-ALD-1 to 'matrix-grantee' "
             "(409 once given).",
    "records": "The access-log records about the closed case (?report_id=).",
    "reviews": "Log reviews (loggkontroll): recorded and listed by auditors, not scoped to a unit.",
}


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    target: str
    cells: tuple[tuple, ...]  # one pattern per role, in ROLES order

    def expected(self, role: str, relation: str) -> str | int:
        return self.cells[ROLES.index(role)][RELATIONS.index(relation)]


def row(method: str, path: str, target: str, *cells: tuple) -> Row:
    assert target in TARGETS, target
    assert len(cells) == len(ROLES), (path, len(cells))
    assert all(cell in PATTERNS.values() for cell in cells), path
    return Row(method, path, target, cells)


R = "/api/v1/reports/{report_id}"
N = R + "/notifications/{notification_id}"

# Permissions by role (service/domain/access.py), which the cells below spell out operation by operation:
#   reporter, integration: submit_report only (integration: for the enheter of its grant)
#   unit_manager:   read case, reporter's identity, statistics, assess, investigate, manage actions,
#                   follow up, close
#   investigator:   ... the same, and draft notifications, reopen
#   decision_maker: read case, identity, statistics, draft and send IVO and IMY notifications, close, reopen
#   dpo:            read case, identity, statistics, draft notifications, send IMY notifications
#   statistics: aggregates only; auditor: the access log only; admin: org and grants only, no case content
MATRIX: dict[str, Row] = {
    # operationId: row(method, path, target,
    #   reporter   unit_mgr   investig.  decision   dpo        statist.   auditor    admin      integr.
    # -- the organisation (read by everyone signed in, changed by admins) --
    "list_units": row("GET", "/api/v1/org-units", "org",
        EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE),
    "get_unit": row("GET", "/api/v1/org-units/{unit_id}", "enhet",
        EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE),
    "create_unit": row("POST", "/api/v1/org-units", "avdelning",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     ABOVE,     NEVER),
    "rename_unit": row("PATCH", "/api/v1/org-units/{unit_id}", "enhet",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     SUBTREE,   NEVER),
    # moving needs manage_org on the unit and on its new parent (here: SOC-ALD)
    "move_unit": row("POST", "/api/v1/org-units/{unit_id}/move", "enhet",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     ABOVE,     NEVER),
    "close_unit": row("POST", "/api/v1/org-units/{unit_id}/close", "enhet",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     SUBTREE,   NEVER),
    "import_units": row("POST", "/api/v1/org-units/import", "avdelning",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     ABOVE,     NEVER),
    # a history import needs admin somewhere (else 403 before the body is read); an enhet outside the
    # caller's admin grants refuses that row (a 422 listing it, or a dry run's error), like a wrong code
    "import_reports": row("POST", "/api/v1/imports/reports", "enhet",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     ANY_GRANT, NEVER),
    "report_categories": row("GET", "/api/v1/report-categories", "org",
        EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE),
    "create_category": row("POST", "/api/v1/report-categories", "administration",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER),
    "change_category": row("PATCH", "/api/v1/report-categories/{category_id}", "administration",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER),
    "retire_category": row("POST", "/api/v1/report-categories/{category_id}/retire", "administration",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER),
    "root_causes": row("GET", "/api/v1/root-causes", "org",
        EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE,  EVERYONE),
    # -- reports --
    "submit_report": row("POST", "/api/v1/reports", "enhet",
        SUBTREE,   SUBTREE,   SUBTREE,   SUBTREE,   SUBTREE,   NEVER,     NEVER,     NEVER,     SUBTREE),
    "list_reports": row("GET", "/api/v1/reports", "case_in_list",
        UNSEEN,    SEES,      SEES,      SEES,      SEES,      UNSEEN,    UNSEEN,    UNSEEN,    UNSEEN),
    "get_report": row("GET", R, "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    # -- the case --
    "get_case": row("GET", R + "/case", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "list_assessments": row("GET", R + "/assessments", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "timeline": row("GET", R + "/timeline", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "assess": row("POST", R + "/assessments", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   LACKS,     LACKS,     HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "follow_up": row("POST", R + "/follow-ups", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   LACKS,     LACKS,     HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "close": row("POST", R + "/close", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   HANDLES,   LACKS,     HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "reopen": row("POST", R + "/reopen", "open_case",
        HIDDEN,    LACKS,     HANDLES,   HANDLES,   LACKS,     HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "list_deadlines": row("GET", "/api/v1/deadlines", "open_case_deadline",
        UNSEEN,    SEES,      SEES,      SEES,      SEES,      UNSEEN,    UNSEEN,    UNSEEN,    UNSEEN),
    # -- the investigation and the actions --
    "get_investigation": row("GET", R + "/investigation", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "start_investigation": row("POST", R + "/investigation", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   LACKS,     LACKS,     HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "add_investigation_entry": row("POST", R + "/investigation/entries", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   LACKS,     LACKS,     HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "decide_investigation": row("POST", R + "/investigation/decision", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   LACKS,     LACKS,     HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "list_actions": row("GET", R + "/actions", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "create_action": row("POST", R + "/actions", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   LACKS,     LACKS,     HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "mark_action_done": row("POST", R + "/actions/{action_id}/done", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   LACKS,     LACKS,     HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "evaluate_action": row("POST", R + "/actions/{action_id}/evaluation", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   LACKS,     LACKS,     HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    # -- notifications (the IVO one of the closed case) --
    "list_notifications": row("GET", R + "/notifications", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "create_notification": row("POST", R + "/notifications", "closed_case",
        HIDDEN,    LACKS,     HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "get_notification": row("GET", N, "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "edit_notification": row("PATCH", N, "closed_case",
        HIDDEN,    LACKS,     HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    # IVO: only the decision maker sends (the dpo sends IMY notifications only)
    "send_notification": row("POST", N + "/send", "closed_case",
        HIDDEN,    LACKS,     LACKS,     HANDLES,   LACKS,     HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "add_supplement": row("POST", N + "/supplements", "closed_case",
        HIDDEN,    LACKS,     HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "record_authority_response": row("POST", N + "/authority-response", "closed_case",
        HIDDEN,    LACKS,     HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "notification_document": row("GET", N + "/document", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    "get_data_subject_communication": row("GET", R + "/data-subject-communication", "closed_case",
        HIDDEN,    HANDLES,   HANDLES,   HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    # GDPR art. 34 goes with the IMY notification: send_imy_notification
    "record_data_subject_communication": row("POST", R + "/data-subject-communication", "closed_case",
        HIDDEN,    LACKS,     LACKS,     HANDLES,   HANDLES,   HIDDEN,    HIDDEN,    HIDDEN,    HIDDEN),
    # -- statistics (for the enhet SOC-ALD-1) --
    "annual_table": row("GET", "/api/v1/statistics/annual-table", "enhet",
        NEVER,     SUBTREE,   SUBTREE,   SUBTREE,   SUBTREE,   SUBTREE,   NEVER,     NEVER,     NEVER),
    "annual_table_trend": row("GET", "/api/v1/statistics/annual-table/trend", "enhet",
        NEVER,     SUBTREE,   SUBTREE,   SUBTREE,   SUBTREE,   SUBTREE,   NEVER,     NEVER,     NEVER),
    "crosstab": row("GET", "/api/v1/statistics/crosstab", "enhet",
        NEVER,     SUBTREE,   SUBTREE,   SUBTREE,   SUBTREE,   SUBTREE,   NEVER,     NEVER,     NEVER),
    "lead_times": row("GET", "/api/v1/statistics/lead-times", "enhet",
        NEVER,     SUBTREE,   SUBTREE,   SUBTREE,   SUBTREE,   SUBTREE,   NEVER,     NEVER,     NEVER),
    "open_and_overdue": row("GET", "/api/v1/statistics/open-and-overdue", "enhet",
        NEVER,     SUBTREE,   SUBTREE,   SUBTREE,   SUBTREE,   SUBTREE,   NEVER,     NEVER,     NEVER),
    # -- grants (admins, inside the subtree they hold manage_grants on) --
    "list_grants": row("GET", "/api/v1/grants", "grant",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     SCOPED,    NEVER),
    "grant_role": row("POST", "/api/v1/grants", "grant",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     SUBTREE,   NEVER),
    "revoke_role": row("POST", "/api/v1/grants/{grant_id}/revoke", "grant",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     SUBTREE,   NEVER),
    # -- the access log (auditors; a unit auditor sees the records about its subtree's cases) --
    "list_records": row("GET", "/api/v1/audit/records", "records",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     SCOPED,    NEVER,     NEVER),
    "record_review": row("POST", "/api/v1/audit/reviews", "reviews",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     ANY_GRANT, NEVER,     NEVER),
    "list_reviews": row("GET", "/api/v1/audit/reviews", "reviews",
        NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     NEVER,     ANY_GRANT, NEVER,     NEVER),
}

# Cells where the service does not do what the matrix says: (operationId, role, relation) → why.
# Their tests are xfail(strict=True): fixing the service makes them pass, and then the entry must go.
# (None at the moment. Gaps found beside the matrix, with requests the matrix does not send, are
# xfail tests at the end of tests/authz/test_matrix.py.)
KNOWN_BUGS: dict[tuple[str, str, str], str] = {}


def cells() -> list[tuple[str, str, str]]:
    """Every (operationId, role, relation) of the matrix, in a stable order."""
    return [(operation, role, relation) for operation in MATRIX for role in ROLES for relation in RELATIONS]
