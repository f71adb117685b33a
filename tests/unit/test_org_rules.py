"""Pure rules of the organisation tree (service/domain/org.py) and the file import plan (org_import.py)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings, strategies as st

from service.domain.errors import Conflict, DomainError, InvalidInput
from service.domain.org import (
    OrgKind,
    Placement,
    check_code,
    check_move,
    check_parent,
    check_validity,
    path_for,
)
from service.domain.org_import import ExistingUnit, ImportPlacement, ImportRow, plan_import

ADM, DEP, UNIT = OrgKind.administration, OrgKind.department, OrgKind.unit
D0 = date(2026, 1, 1)


def place(kind: OrgKind, path: str, valid_from: date = D0, valid_to: date | None = None) -> Placement:
    unit_id = int(path.rstrip("/").rsplit("/", 1)[-1])
    return Placement(id=unit_id, kind=kind, path=path, valid_from=valid_from, valid_to=valid_to)


def row(code: str, kind: OrgKind, parent: str | None, **kw) -> ImportRow:
    return ImportRow(code=code, name=kw.pop("name", f"Name {code}"), kind=kind, parent_code=parent,
                     valid_from=kw.pop("valid_from", D0), **kw)


def existing(r: ImportRow) -> ExistingUnit:
    return ExistingUnit(r.code, r.name or "", r.kind, r.parent_code, r.valid_from, r.valid_to)


# --- check_parent --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "kind, parent",
    [(ADM, None), (DEP, place(ADM, "/1/")), (UNIT, place(DEP, "/1/2/"))],
)
def test_check_parent_accepts_the_tree_shape(kind, parent):
    check_parent(kind, parent)


@pytest.mark.parametrize(
    "kind, parent",
    [
        (ADM, place(ADM, "/1/")),  # a förvaltning is a root
        (DEP, None),
        (UNIT, None),
        (DEP, place(DEP, "/1/2/")),
        (UNIT, place(ADM, "/1/")),  # an enhet must sit under an avdelning, not directly under the förvaltning
        (DEP, place(UNIT, "/1/2/3/")),
    ],
)
def test_check_parent_refuses_wrong_shape_with_field(kind, parent):
    with pytest.raises(InvalidInput) as err:
        check_parent(kind, parent, field="/x/parent")
    assert err.value.field == "/x/parent"


# --- check_move ----------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["/1/2/", "/1/2/7/"], ids=["onto-itself", "into-own-child"])
def test_check_move_into_own_subtree_is_a_conflict(target):
    dept = place(DEP, "/1/2/")
    # "/1/2/7/" is a unit, but the subtree rule must win over the kind rule.
    new_parent = place(DEP if target == "/1/2/" else UNIT, target)
    with pytest.raises(Conflict) as err:
        check_move(dept, new_parent)
    assert err.value.field == "parent_id"


def test_check_move_own_subtree_check_is_by_whole_segment():
    # "/1/20/" starts with "/1/2" but is a sibling of "/1/2/", not inside it: the move is refused for the
    # wrong kind (InvalidInput), not as a move into its own subtree (Conflict).
    with pytest.raises(InvalidInput):
        check_move(place(DEP, "/1/2/"), place(DEP, "/1/20/"))


def test_check_move_to_another_administration_is_allowed():
    check_move(place(DEP, "/1/2/"), place(ADM, "/9/"))


def test_check_move_still_checks_parent_kind():
    with pytest.raises(InvalidInput):
        check_move(place(UNIT, "/1/2/5/"), place(ADM, "/9/"))


# --- check_validity, check_code ------------------------------------------------------------------

@pytest.mark.parametrize("valid_to", [None, D0, date(2026, 1, 2)])
def test_check_validity_accepts_open_same_day_and_later(valid_to):
    check_validity(D0, valid_to)


def test_check_validity_refuses_end_before_start():
    with pytest.raises(InvalidInput) as err:
        check_validity(D0, date(2025, 12, 31), field="/units/0/valid_to")
    assert err.value.field == "/units/0/valid_to"


@pytest.mark.parametrize("code", ["A", "7", "SOC-IFO_1.2", "a" * 32])
def test_check_code_accepts(code):
    check_code(code)


@pytest.mark.parametrize("code", ["", "a" * 33, "-A1", "_A1", ".A1", "A 1", "Ålder", "A/1", "A1;"])
def test_check_code_refuses(code):
    with pytest.raises(InvalidInput) as err:
        check_code(code, field="/units/4/code")
    assert err.value.field == "/units/4/code"


def test_check_code_refuses_trailing_newline():
    with pytest.raises(InvalidInput):
        check_code("A1\n")


# --- Placement.is_active_on, path_for ------------------------------------------------------------

@pytest.mark.parametrize(
    "day, active",
    [
        (date(2025, 12, 31), False),  # day before valid_from
        (date(2026, 1, 1), True),  # valid_from inclusive
        (date(2026, 6, 30), True),  # valid_to inclusive
        (date(2026, 7, 1), False),  # day after valid_to
    ],
)
def test_is_active_on_closed_interval(day, active):
    assert place(UNIT, "/1/2/3/", D0, date(2026, 6, 30)).is_active_on(day) is active


def test_is_active_on_open_ended():
    p = place(UNIT, "/1/2/3/", D0, None)
    assert p.is_active_on(date(2999, 1, 1))
    assert not p.is_active_on(date(2025, 12, 31))


@pytest.mark.parametrize(
    "parent_path, unit_id, expected",
    [(None, 1, "/1/"), ("/1/", 5, "/1/5/"), ("/1/5/", 12, "/1/5/12/")],
)
def test_path_for(parent_path, unit_id, expected):
    assert path_for(parent_path, unit_id) == expected


# --- plan_import ---------------------------------------------------------------------------------

def created_and_unchanged(rows: list[ImportRow], stored: dict[str, ExistingUnit]):
    plan = plan_import(rows, stored)
    return plan.to_create, plan.unchanged


def test_plan_orders_parents_before_children_when_file_lists_children_first():
    rows = [row("U1", UNIT, "D1"), row("D1", DEP, "F"), row("U2", UNIT, "D1"), row("F", ADM, None)]
    created, unchanged = created_and_unchanged(rows, {})
    order = [r.code for r in created]
    assert sorted(order) == ["D1", "F", "U1", "U2"]
    assert order.index("F") < order.index("D1") < min(order.index("U1"), order.index("U2"))
    assert unchanged == []


def test_plan_duplicate_code_points_at_second_row():
    rows = [row("F", ADM, None), row("D1", DEP, "F"), row("D2", DEP, "F"), row("D1", DEP, "F")]
    with pytest.raises(Conflict) as err:
        plan_import(rows, {})
    assert err.value.field == "/units/3/code"


def test_plan_unknown_parent():
    rows = [row("F", ADM, None), row("D1", DEP, "F"), row("U1", UNIT, "NOPE")]
    with pytest.raises(InvalidInput) as err:
        plan_import(rows, {})
    assert err.value.field == "/units/2/parent_code"


def test_plan_parent_may_be_an_existing_unit():
    stored = existing(row("D1", DEP, "F"))
    created, unchanged = created_and_unchanged([row("U9", UNIT, "D1")], {"D1": stored})
    assert [r.code for r in created] == ["U9"]
    assert unchanged == []


@pytest.mark.parametrize(
    "rows, bad_index",
    [
        ([row("F", ADM, None), row("U1", UNIT, "F")], 1),  # enhet directly under förvaltning
        ([row("F", ADM, None), row("D1", DEP, "F"), row("D2", DEP, "D1")], 2),  # avdelning under avdelning
        ([row("F", ADM, None), row("D1", DEP, None)], 1),  # avdelning without parent
        ([row("F", ADM, None), row("G", ADM, "F")], 1),  # förvaltning with a parent
    ],
    ids=["unit-under-adm", "dept-under-dept", "dept-no-parent", "adm-with-parent"],
)
def test_plan_wrong_parent_kind(rows, bad_index):
    with pytest.raises(InvalidInput) as err:
        plan_import(rows, {})
    assert err.value.field == f"/units/{bad_index}/parent_code"


def test_plan_wrong_parent_kind_against_existing_unit():
    stored = existing(row("U1", UNIT, "D1"))
    with pytest.raises(InvalidInput) as err:
        plan_import([row("U2", UNIT, "U1")], {"U1": stored})
    assert err.value.field == "/units/0/parent_code"


@pytest.mark.parametrize(
    "rows",
    [
        [row("F", ADM, None), row("D1", DEP, "D2"), row("D2", DEP, "D1")],
        [row("F", ADM, None), row("D1", DEP, "D1")],
        [row("U1", UNIT, "D1"), row("D1", DEP, "U1")],
    ],
    ids=["two-cycle", "self-parent", "mixed-kinds"],
)
def test_plan_cycle_in_file_is_refused(rows):
    # The kind rules already break every cycle (each parent is one level up), so a cycle is reported as a
    # wrong parent; what matters is that it is refused and points at a parent_code.
    with pytest.raises(DomainError) as err:
        plan_import(rows, {})
    assert err.value.field is not None and err.value.field.endswith("/parent_code")


def test_plan_existing_identical_unit_is_unchanged_not_created():
    f, d1 = row("F", ADM, None), row("D1", DEP, "F", valid_to=date(2030, 1, 1))
    created, unchanged = created_and_unchanged(
        [f, d1, row("U1", UNIT, "D1")], {"F": existing(f), "D1": existing(d1)}
    )
    assert [r.code for r in created] == ["U1"]
    assert sorted(unchanged) == ["D1", "F"]


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Renamed"},
        {"parent": "D2"},
        {"valid_from": date(2026, 2, 1)},
        {"valid_to": date(2030, 1, 1)},
    ],
    ids=["name", "parent", "valid_from", "valid_to"],
)
def test_plan_existing_code_with_other_data_is_conflict(change):
    stored = {c: existing(r) for c, r in
              {"F": row("F", ADM, None), "D1": row("D1", DEP, "F"), "D2": row("D2", DEP, "F"),
               "U1": row("U1", UNIT, "D1")}.items()}
    change = dict(change)
    parent = change.pop("parent", "D1")
    rows = [row("U0", UNIT, "D1"), row("U1", UNIT, parent, **change)]
    with pytest.raises(Conflict) as err:
        plan_import(rows, stored)
    assert err.value.field == "/units/1/code"


def test_plan_valid_to_before_valid_from():
    rows = [row("F", ADM, None), row("D1", DEP, "F", valid_from=date(2026, 5, 1), valid_to=date(2026, 4, 30))]
    with pytest.raises(InvalidInput) as err:
        plan_import(rows, {})
    assert err.value.field == "/units/1/valid_to"


def test_plan_bad_code_points_at_its_row():
    with pytest.raises(InvalidInput) as err:
        plan_import([row("F", ADM, None), row("bad code", DEP, "F")], {})
    assert err.value.field == "/units/1/code"


@st.composite
def shuffled_trees(draw):
    n_depts = draw(st.integers(min_value=0, max_value=6))
    depts = [f"D{i}" for i in range(n_depts)]
    units = []
    if depts:
        parents = draw(st.lists(st.sampled_from(depts), max_size=15))
        units = [(f"U{i}", p) for i, p in enumerate(parents)]
    rows = [row("F", ADM, None)] + [row(d, DEP, "F") for d in depts] + [row(u, UNIT, p) for u, p in units]
    seed = draw(st.randoms(use_true_random=False))
    seed.shuffle(rows)
    return rows


@settings(max_examples=200, deadline=None)
@given(shuffled_trees())
def test_plan_property_every_code_once_parents_first(rows):
    created, unchanged = created_and_unchanged(rows, {})
    codes = [r.code for r in created]
    assert sorted(codes) == sorted(r.code for r in rows)
    assert len(set(codes)) == len(codes)
    assert unchanged == []
    position = {code: i for i, code in enumerate(codes)}
    for r in created:
        if r.parent_code is not None:
            assert position[r.parent_code] < position[r.code]


# --- histories (placements over time) ------------------------------------------------------------

def moved(code: str = "U1", **kw) -> ImportRow:
    """An enhet under D1 until the end of 2026, under D2 from 2027 on."""
    placements = kw.pop("placements", (ImportPlacement("D1", "Old name", D0, date(2026, 12, 31)),
                                       ImportPlacement("D2", "New name", date(2027, 1, 1))))
    return ImportRow(code=code, name=None, kind=UNIT, parent_code=None, valid_from=kw.pop("valid_from", D0),
                     placements=placements, **kw)


TREE = [row("F", ADM, None), row("D1", DEP, "F"), row("D2", DEP, "F")]


def test_a_history_covering_the_validity_one_placement_a_day_is_planned():
    plan = plan_import([moved(), *TREE], {})
    assert [r.code for r in plan.to_create] == ["F", "D1", "D2", "U1"]


@pytest.mark.parametrize("placements, pointer", [
    ((ImportPlacement("D1", "A", D0, date(2027, 1, 1)), ImportPlacement("D2", "B", date(2027, 1, 1))),
     "/units/3/placements/1/valid_from"),  # one day under both
    ((ImportPlacement("D1", "A", D0, date(2026, 12, 30)), ImportPlacement("D2", "B", date(2027, 1, 1))),
     "/units/3/placements/1/valid_from"),  # one day under none
    ((ImportPlacement("D1", "A", date(2026, 1, 2)),), "/units/3/placements/0/valid_from"),
    ((ImportPlacement("D1", "A", D0, date(2030, 1, 1)),), "/units/3/placements/0/valid_to"),
    ((ImportPlacement("F", "A", D0),), "/units/3/placements/0/parent_code"),
], ids=["overlap", "gap", "late-start", "early-end", "wrong-kind"])
def test_a_broken_history_points_at_the_placement(placements, pointer):
    with pytest.raises(InvalidInput) as err:
        plan_import([*TREE, moved(placements=placements)], {})
    assert err.value.field == pointer


def test_a_placement_outside_its_parents_validity_is_refused():
    tree = [row("F", ADM, None), row("D1", DEP, "F", valid_to=date(2026, 6, 30)), row("D2", DEP, "F")]
    with pytest.raises(InvalidInput) as err:
        plan_import([*tree, moved()], {})
    assert err.value.field == "/units/3/placements/0/parent_code"


def stored_as(r: ImportRow) -> ExistingUnit:
    current = r.history()[-1]
    return ExistingUnit(r.code, current.name, r.kind, current.parent_code, r.valid_from, r.valid_to, r.history())


def test_the_same_history_again_is_unchanged_and_one_reaching_further_back_extends():
    stored = {r.code: existing(r) for r in TREE} | {"U1": stored_as(moved())}
    assert plan_import([moved()], stored).unchanged == ["U1"]
    earlier = moved(valid_from=date(2020, 1, 1), placements=(
        ImportPlacement("D2", "Oldest name", date(2020, 1, 1), date(2025, 12, 31)),
        ImportPlacement("D1", "Old name", D0, date(2026, 12, 31)),
        ImportPlacement("D2", "New name", date(2027, 1, 1))))
    stored_tree = {r.code: existing(r) for r in
                   [row("F", ADM, None, valid_from=date(2020, 1, 1)), row("D1", DEP, "F", valid_from=date(2020, 1, 1)),
                    row("D2", DEP, "F", valid_from=date(2020, 1, 1))]}
    plan = plan_import([earlier], stored_tree | {"U1": stored_as(moved())})
    assert [r.code for r in plan.to_extend] == ["U1"] and plan.unchanged == [] and plan.to_create == []


@pytest.mark.parametrize("placements", [
    (ImportPlacement("D1", "Old name", D0, date(2027, 6, 30)), ImportPlacement("D2", "New name", date(2027, 7, 1))),
    (ImportPlacement("D1", "Other name", D0, date(2026, 12, 31)), ImportPlacement("D2", "New name", date(2027, 1, 1))),
], ids=["moved-later", "renamed"])
def test_a_history_that_says_otherwise_about_stored_days_is_a_conflict(placements):
    stored = {r.code: existing(r) for r in TREE} | {"U1": stored_as(moved())}
    with pytest.raises(Conflict) as err:
        plan_import([moved(placements=placements)], stored)
    assert err.value.field == "/units/0/code"


def test_splitting_a_stored_placement_in_two_agrees_with_it():
    stored = {r.code: existing(r) for r in TREE} | {"U1": stored_as(moved())}
    split = moved(placements=(ImportPlacement("D1", "Old name", D0, date(2026, 6, 30)),
                              ImportPlacement("D1", "Old name", date(2026, 7, 1), date(2026, 12, 31)),
                              ImportPlacement("D2", "New name", date(2027, 1, 1))))
    assert [r.code for r in plan_import([split], stored).to_extend] == ["U1"]
