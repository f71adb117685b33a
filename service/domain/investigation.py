"""The utredning (docs/requirements.md X4), without a database. Åtgärder: actions.py.

A full investigation follows SOSFS 2011:5 5 kap. and is required for lex Sarah and personal-data
incidents; a light one is enough for other deviations and complaints handled within the unit.
Its contents are append-only entries, each on one topic of the regulation, with the date it was
documented, its source, whether it is fact or assessment, and who documented it (name and title).
A correction is a new entry that points at the one it corrects and keeps its topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from service.domain.assessment import ReportType, TypeFinding
from service.domain.errors import Conflict, InvalidInput


class InvestigationKind(StrEnum):
    full = "full"  # SOSFS 2011:5: lex Sarah and personal-data incidents
    light = "light"  # other deviations and complaints, handled within the unit


class Topic(StrEnum):
    """What an entry documents: the items of SOSFS 2011:5 5 kap. (the decision has its own step)."""

    what_happened = "what_happened"  # and its consequences, actual or potential, for the person
    how_noticed = "how_noticed"  # when and how it was noticed
    when_happened = "when_happened"
    causes = "causes"
    earlier_events = "earlier_events"  # whether something similar happened before, and why it recurred
    recurrence_risk = "recurrence_risk"
    actions_taken = "actions_taken"  # with when they were taken
    actions_planned = "actions_planned"  # to prevent recurrence
    other_findings = "other_findings"


class Nature(StrEnum):
    fact = "fact"
    assessment = "assessment"


FULL_TYPES = frozenset({ReportType.lex_sarah, ReportType.personal_data_incident})

# What must be documented before the decision (X4: items 1-6 for a full investigation).
REQUIRED_TOPICS: dict[InvestigationKind, tuple[Topic, ...]] = {
    InvestigationKind.full: (Topic.what_happened, Topic.how_noticed, Topic.when_happened, Topic.causes,
                             Topic.earlier_events, Topic.recurrence_risk),
    InvestigationKind.light: (Topic.what_happened, Topic.causes),
}


# ---- the kind ----------------------------------------------------------------------------------------


def required_kind(findings: Iterable[TypeFinding]) -> InvestigationKind:
    """Full when the current types include lex Sarah or a personal-data incident, else light."""
    if any(finding.type in FULL_TYPES for finding in findings):
        return InvestigationKind.full
    return InvestigationKind.light


def choose_kind(wanted: InvestigationKind | None, findings: list[TypeFinding]) -> InvestigationKind:
    """The kind asked for, or the one the types require. A full investigation is always allowed;
    a light one is refused when the types require a full one."""
    needed = required_kind(findings)
    if wanted is None:
        return needed
    if wanted is InvestigationKind.light and needed is InvestigationKind.full:
        types = ", ".join(sorted(finding.type.value for finding in findings if finding.type in FULL_TYPES))
        raise Conflict(f"A case assessed as {types} needs a full investigation (SOSFS 2011:5), not a light one.",
                       field="kind")
    return wanted


def decision_kind(kind: InvestigationKind, findings: list[TypeFinding]) -> InvestigationKind:
    """The kind the decision is checked against: a re-assessment to lex Sarah or a personal-data incident
    while a light investigation is open makes it full."""
    return InvestigationKind.full if required_kind(findings) is InvestigationKind.full else kind


# ---- entries -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryRef:
    """What the correction rule needs to know about an earlier entry."""

    id: int
    investigation_id: int
    topic: Topic


def check_documented_on(documented_on: date, today: date) -> None:
    if documented_on > today:
        raise InvalidInput("documented_on is in the future.", field="documented_on")


def check_correction(corrected: EntryRef | None, investigation_id: int, topic: Topic) -> None:
    """A correcting entry points at an entry of the same investigation and keeps its topic.
    `corrected` is the entry pointed at, or None if there is no entry with that id."""
    if corrected is None or corrected.investigation_id != investigation_id:
        raise InvalidInput("corrects_entry_id is not an entry of this investigation.", field="corrects_entry_id")
    if corrected.topic is not topic:
        raise InvalidInput(f"A correction keeps the topic of the entry it corrects ({corrected.topic.value}).",
                           field="topic")


def corrected_by(entries: Iterable[tuple[int, int | None]]) -> dict[int, list[int]]:
    """entry id -> ids of the entries that correct it, oldest first; from (id, corrects_entry_id) pairs."""
    result: dict[int, list[int]] = {}
    for entry_id, corrects in sorted(entries):
        result.setdefault(entry_id, [])
        if corrects is not None:
            result.setdefault(corrects, []).append(entry_id)
    return result


# ---- the decision ------------------------------------------------------------------------------------


def missing_topics(kind: InvestigationKind, topics_present: Iterable[Topic]) -> list[Topic]:
    """The required topics without an entry, in the regulation's order."""
    present = set(topics_present)
    return [topic for topic in REQUIRED_TOPICS[kind] if topic not in present]


class IncompleteInvestigation(Conflict):
    def __init__(self, kind: InvestigationKind, missing: list[Topic]) -> None:
        self.kind, self.missing = kind, missing
        super().__init__(f"A {kind.value} investigation needs at least one entry on each of "
                         f"{', '.join(REQUIRED_TOPICS[kind])} before the decision; missing: "
                         f"{', '.join(missing)}.")

    def extensions(self) -> dict[str, object]:
        return {"missing_topics": [topic.value for topic in self.missing]}


def check_root_causes(codes: list[str], known: Mapping[str, str] | Iterable[str]) -> None:
    """Root causes are codes from the configured list, each given once."""
    known_codes = set(known)
    seen: set[str] = set()
    for index, code in enumerate(codes):
        if code not in known_codes:
            raise InvalidInput(f"Not a known root cause; known: {', '.join(sorted(known_codes))}.",
                               field=f"/root_causes/{index}")
        if code in seen:
            raise InvalidInput("This root cause is given twice.", field=f"/root_causes/{index}")
        seen.add(code)


def check_decision(kind: InvestigationKind, topics_present: Iterable[Topic], root_causes: list[str],
                   known_root_causes: Mapping[str, str] | Iterable[str]) -> None:
    """The input first (unknown root causes: InvalidInput), then the contents (missing topics: Conflict)."""
    check_root_causes(root_causes, known_root_causes)
    missing = missing_topics(kind, topics_present)
    if missing:
        raise IncompleteInvestigation(kind, missing)
