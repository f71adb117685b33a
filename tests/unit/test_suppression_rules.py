"""Small-count suppression (service/domain/statistics.py): the threshold, and the cells hidden with a small one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from service.domain.errors import InvalidInput
from service.domain.statistics import (
    SHARE_ROW,
    ShareCounts,
    is_small,
    share_cell,
    share_groups,
    shares,
    suppressed_cells,
    suppression_threshold,
    table_groups,
)

TOTAL = "total"


# ---- the threshold ----------------------------------------------------------------------------------------

def test_the_minimum_applies_when_nothing_is_asked_and_may_be_raised_not_lowered():
    assert suppression_threshold(None, 5) == 5
    assert suppression_threshold(5, 5) == 5 and suppression_threshold(10, 5) == 10
    with pytest.raises(InvalidInput) as err:
        suppression_threshold(3, 5)
    assert err.value.field == "suppress_below"
    assert suppression_threshold(None, 1) is None  # the operator turned it off
    assert suppression_threshold(3, 1) == 3


@pytest.mark.parametrize("count, small", [(0, False), (1, True), (4, True), (5, False), (100, False)])
def test_counts_from_one_to_n_minus_one_are_small_and_zero_is_not(count, small):
    assert is_small(count, 5) is small
    assert is_small(count, None) is False


# ---- complementary suppression ------------------------------------------------------------------------------

def _org_table(units: dict[str, dict[str, list[int]]]) -> tuple[dict, list, list, dict]:
    """An additive table (each report in one enhet and one type: the worst case, where every total is exactly
    the sum of its parts) of avdelningar → enheter → type counts, with a Totalt row and column."""
    rows: list[str] = []
    children: dict[str, list[str]] = {TOTAL: []}
    counts: dict[str, list[int]] = {}
    width = len(next(iter(next(iter(units.values())).values())))
    for department, enheter in units.items():
        rows.append(department)
        children[TOTAL].append(department)
        children[department] = list(enheter)
        rows += list(enheter)
        counts.update(enheter)
        counts[department] = [sum(values[i] for values in enheter.values()) for i in range(width)]
    counts[TOTAL] = [sum(counts[d][i] for d in units) for i in range(width)]
    rows.append(TOTAL)
    columns = [f"c{i}" for i in range(width)] + [TOTAL]
    values = {(row, column): (sum(counts[row]) if column == TOTAL else counts[row][int(column[1:])])
              for row in rows for column in columns}
    return values, rows, columns, children


def test_a_single_small_cell_in_a_row_takes_the_next_smallest_with_it():
    values, rows, columns, children = _org_table({"A": {"A1": [0, 2, 7, 9], "A2": [6, 6, 8, 9]}})
    hidden = suppressed_cells(values, table_groups(rows, columns, children), 5)
    assert ("A1", "c1") in hidden and ("A1", "c2") in hidden  # 7: the smallest non-zero cell left in A1's row
    assert ("A1", "c0") not in hidden  # zero is shown
    # A = A1 + A2 in column c1 (2 + 6 = 8): A2's or A's c1 goes too, so A − A2 does not give A1's 2
    assert ("A2", "c1") in hidden or ("A", "c1") in hidden


def test_an_avdelning_with_one_enhet_hides_with_it():
    values, rows, columns, children = _org_table({"A": {"A1": [3, 20, 30]}, "B": {"B1": [10, 10, 10]}})
    hidden = suppressed_cells(values, table_groups(rows, columns, children), 5)
    assert {("A1", "c0"), ("A", "c0")} <= hidden
    assert ("B1", "c0") not in hidden or ("B", "c0") in hidden


def test_nothing_is_hidden_without_small_counts_or_threshold():
    values, rows, columns, children = _org_table({"A": {"A1": [0, 6, 7], "A2": [5, 0, 9]}})
    assert suppressed_cells(values, table_groups(rows, columns, children), 5) == set()
    assert suppressed_cells({("r", "c"): 1}, [], None) == set()


def test_the_shares_follow_the_total_row():
    counts = ShareCounts(deviations=20, lex_sarah=2, personal_data_incident=0, complaint=6, other_deviation=12,
                         lex_sarah_serious=1, lex_sarah_notified_ivo=0, incident_notified_imy=0)
    values = {(TOTAL, "not_a_deviation"): 5, (TOTAL, "lex_sarah"): 2, (TOTAL, "personal_data_incident"): 0,
              (TOTAL, "complaint"): 6, (TOTAL, "other_deviation"): 12, (TOTAL, "unassessed"): 0, (TOTAL, "total"): 25,
              **{(SHARE_ROW, key): getattr(counts, key) for key in ("deviations", "lex_sarah_serious",
                                                                     "lex_sarah_notified_ivo",
                                                                     "incident_notified_imy")}}
    row = [(TOTAL, key) for key in ("not_a_deviation", "lex_sarah", "personal_data_incident", "complaint",
                                    "other_deviation", "unassessed", "total")]
    hidden = suppressed_cells(values, [tuple(row), *share_groups(TOTAL)], 5)
    # lex Sarah's 2 is small; deviations (20) = 2 + 0 + 6 + 12 would give it away, so the complaints' 6 go too
    assert {(TOTAL, "lex_sarah"), (TOTAL, "complaint"), (SHARE_ROW, "lex_sarah_serious")} <= hidden
    suppressed = {share.key for share in shares(counts)
                  if {share_cell(share.numerator_of, TOTAL), share_cell(share.denominator_of, TOTAL)} & hidden}
    assert {"lex_sarah_of_deviations", "complaint_of_deviations", "serious_of_lex_sarah",
            "ivo_notified_of_lex_sarah"} <= suppressed
    assert "other_deviation_of_deviations" not in suppressed


# ---- properties ----------------------------------------------------------------------------------------------

_counts = st.integers(min_value=0, max_value=12)
_tables = st.integers(min_value=1, max_value=4).flatmap(lambda width: st.dictionaries(
    st.sampled_from("ABC"),
    st.lists(st.lists(_counts, min_size=width, max_size=width), min_size=1, max_size=4),
    min_size=1, max_size=3))


def _derivable(values: dict, groups: list[tuple], hidden: set) -> set:
    """What an attacker works out from an additive table: wherever a group (a parent and its parts) has one
    unknown cell left, it is the parent minus the others, or a part is the parent minus the other parts; and
    every cell so found may open another group."""
    known = set(values) - hidden
    found: set = set()
    progress = True
    while progress:
        progress = False
        for group in groups:
            unknown = [cell for cell in group if cell not in known]
            if len(unknown) == 1:
                known.add(unknown[0])
                found.add(unknown[0])
                progress = True
    return found


@settings(max_examples=300, deadline=None)
@given(_tables, st.integers(min_value=2, max_value=8))
def test_no_hidden_cell_is_alone_in_its_group_nor_can_the_totals_reveal_it(departments, threshold):
    units = {name: {f"{name}{index}": values for index, values in enumerate(enheter)}
             for name, enheter in departments.items()}
    values, rows, columns, children = _org_table(units)
    groups = table_groups(rows, columns, children)
    hidden = suppressed_cells(values, groups, threshold)
    assert {cell for cell, value in values.items() if 0 < value < threshold} <= hidden
    for group in groups:
        assert sum(cell in hidden for cell in group) != 1, group
    assert _derivable(values, groups, hidden) == set()
    assert suppressed_cells(values, groups, threshold) == hidden  # the same table hides the same cells


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_counts, min_size=1, max_size=5), min_size=1, max_size=6).filter(
    lambda rows: len({len(row) for row in rows}) == 1), st.integers(min_value=2, max_value=8))
def test_a_crosstab_with_totals_keeps_every_small_cell_hidden(cells, threshold):
    """Rows × columns with a total per row, per column and in all, shaped as the cross-tab endpoint shapes it."""
    width = len(cells[0])
    row_ids = [*range(len(cells)), TOTAL]
    column_ids = [*range(width), TOTAL]
    values = {(r, c): cells[r][c] for r in range(len(cells)) for c in range(width)}
    values |= {(r, TOTAL): sum(cells[r]) for r in range(len(cells))}
    values |= {(TOTAL, c): sum(row[c] for row in cells) for c in range(width)}
    values[(TOTAL, TOTAL)] = sum(map(sum, cells))
    groups = table_groups(row_ids, column_ids, {TOTAL: list(range(len(cells)))})
    hidden = suppressed_cells(values, groups, threshold)
    assert {cell for cell, value in values.items() if 0 < value < threshold} <= hidden
    assert all(sum(cell in hidden for cell in group) != 1 for group in groups)
    assert _derivable(values, groups, hidden) == set()
