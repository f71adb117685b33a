"""Use cases for report categories: the per-förvaltning lists (service/domain/categories.py), read and changed.

`check_category` is the one check of a report's category, for intake and for anything that brings reports
in later (imports): the code must be one of the report's förvaltning's categories, valid on the day the
report was received; none is `not_stated`. Admins (manage_org on the förvaltning) create, relabel and
retire categories; every change is in the access log. No commits here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service import audit
from service.domain import categories as rules
from service.domain.access import Principal
from service.domain.categories import NOT_STATED, Category
from service.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.domain.org import OrgKind
from service.models import OrgUnit, Report, ReportCategory
from service.scope import categories_visible_to, may_manage_categories


def _category(row: ReportCategory) -> Category:
    return Category(id=row.id or 0, administration_id=row.administration_id, code=row.code, label_sv=row.label_sv,
                    label_en=row.label_en, valid_from=row.valid_from, valid_to=row.valid_to)


@dataclass(frozen=True)
class CategoryBook:
    """Every förvaltning's categories, as intake reads them (cached per process: service/api/deps.py)."""

    by_administration: dict[int, tuple[Category, ...]]

    @classmethod
    def load(cls, session: Session) -> CategoryBook:
        found: dict[int, list[Category]] = {}
        for row in session.exec(select(ReportCategory).order_by(col(ReportCategory.id))).all():
            found.setdefault(row.administration_id, []).append(_category(row))
        return cls({administration_id: tuple(rows) for administration_id, rows in found.items()})

    def of(self, administration_id: int) -> tuple[Category, ...]:
        return self.by_administration.get(administration_id, ())


def categories_of(session: Session, administration_id: int) -> tuple[Category, ...]:
    rows = session.exec(select(ReportCategory).where(ReportCategory.administration_id == administration_id)
                        .order_by(col(ReportCategory.id))).all()
    return tuple(_category(row) for row in rows)


def check_category(session: Session | None, administration_id: int, code: str | None, on_day: date, *,
                   book: CategoryBook | None = None) -> str:
    """The category a report of the förvaltning received on `on_day` stores: `code` if it is one of the
    förvaltning's categories valid that day, `not_stated` when none is given; else InvalidInput on /category.

    `book`: the categories already loaded (intake passes its cached copy); else they are read in `session`.
    """
    if book is not None:
        known = book.of(administration_id)
    else:
        assert session is not None, "without a book the categories are read in the session"
        known = categories_of(session, administration_id)
    return rules.check_category(known, code, on_day)


# ---- listing -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryView:
    category: Category
    administration_code: str


def list_categories(session: Session, principal: Principal, *, administration_id: int | None, on: date,
                    include_retired: bool) -> list[CategoryView]:
    """The categories of the caller's förvaltningar: those valid on `on`, or all of them with include_retired."""
    query = (select(ReportCategory, OrgUnit.code)
             .join(OrgUnit, col(OrgUnit.id) == col(ReportCategory.administration_id))
             .where(categories_visible_to(principal)))
    if administration_id is not None:
        query = query.where(ReportCategory.administration_id == administration_id)
    if not include_retired:
        query = query.where(col(ReportCategory.valid_from) <= on,
                            col(ReportCategory.valid_to).is_(None) | (col(ReportCategory.valid_to) >= on))
    rows = session.exec(query.order_by(col(ReportCategory.administration_id), col(ReportCategory.id))).all()
    return [CategoryView(_category(row), code) for row, code in rows]


# ---- administration ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewCategory:
    administration_id: int
    code: str
    label_sv: str
    label_en: str | None
    valid_from: date
    valid_to: date | None = None


@dataclass(frozen=True)
class CategoryChange:
    label_sv: str | None = None
    label_en: str | None = None
    valid_from: date | None = None


def _administration(session: Session, administration_id: int) -> OrgUnit:
    unit = session.get(OrgUnit, administration_id)
    if unit is None or unit.kind != OrgKind.administration:
        raise InvalidInput("No förvaltning has this id.", field="administration_id")
    return unit


def _require_manage(session: Session, principal: Principal, administration: OrgUnit, action: str) -> None:
    if not may_manage_categories(principal, administration):
        audit.record(session, principal, action, outcome=audit.DENIED,
                     detail=f"categories of {administration.code}: no manage_org on the förvaltning")
        raise Forbidden("You may not change this förvaltning's categories.")


def create_category(session: Session, principal: Principal, new: NewCategory, now: datetime) -> CategoryView:
    administration = _administration(session, new.administration_id)
    _require_manage(session, principal, administration, "create_category")
    rules.check_new_code(new.code)
    rules.check_valid_from(new.valid_from, new.valid_to, None)
    taken = session.exec(select(ReportCategory.id).where(
        ReportCategory.administration_id == administration.id,
        func.lower(ReportCategory.code) == new.code.lower())).first()
    if taken is not None:
        raise Conflict("The förvaltning has a category with this code (regardless of case); codes are never "
                       "reused. Relabel or retire that one instead.", field="code")
    row = ReportCategory(administration_id=administration.id or 0, code=new.code, label_sv=new.label_sv,
                         label_en=new.label_en or new.label_sv, valid_from=new.valid_from, valid_to=new.valid_to,
                         created_at=now, updated_at=now)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # the same code stored by a request running at the same time
        raise Conflict("The förvaltning has a category with this code (regardless of case).", field="code") from None
    audit.record(session, principal, "create_category",
                 detail=f"category {row.id}: {row.code} in {administration.code}, valid {row.valid_from}–"
                        f"{row.valid_to or ''}")
    return CategoryView(_category(row), administration.code)


def _load_for_change(session: Session, principal: Principal, category_id: int,
                     action: str) -> tuple[ReportCategory, OrgUnit]:
    row = session.get(ReportCategory, category_id)
    if row is None:
        raise NotFound("No such category.")
    administration = session.get(OrgUnit, row.administration_id)
    assert administration is not None
    _require_manage(session, principal, administration, action)
    return row, administration


def _use(session: Session, row: ReportCategory) -> tuple[date | None, date | None]:
    """The first and last day a report of the category's förvaltning with its code was received."""
    first, last = session.exec(select(func.min(Report.received_on), func.max(Report.received_on)).where(
        Report.administration_id == row.administration_id, Report.category == row.code)).one()
    return first, last


def change_category(session: Session, principal: Principal, category_id: int, change: CategoryChange,
                    now: datetime) -> CategoryView:
    """New labels (the code and its meaning stay), or an earlier valid_from (for reports of the past)."""
    row, administration = _load_for_change(session, principal, category_id, "change_category")
    before = _category(row)
    if change.valid_from is not None:
        rules.check_valid_from(change.valid_from, row.valid_to, _use(session, row)[0], field="valid_from")
        row.valid_from = change.valid_from
    if change.label_sv is not None:
        row.label_sv = change.label_sv
    if change.label_en is not None:
        row.label_en = change.label_en
    after = _category(row)
    changed = [name for name in ("label_sv", "label_en", "valid_from")
               if getattr(before, name) != getattr(after, name)]
    if changed:
        row.updated_at = now
        session.add(row)
        session.flush()
    audit.record(session, principal, "change_category",
                 detail=f"category {row.id}: {row.code} in {administration.code}; "
                        f"changed: {', '.join(changed) or 'nothing'}")
    return CategoryView(after, administration.code)


def retire_category(session: Session, principal: Principal, category_id: int, valid_to: date,
                    now: datetime) -> CategoryView:
    """The category's last day: from the next it is refused for new reports, and old reports keep it."""
    row, administration = _load_for_change(session, principal, category_id, "retire_category")
    rules.check_retire(row.valid_from, valid_to, _use(session, row)[1])
    row.valid_to, row.updated_at = valid_to, now
    session.add(row)
    session.flush()
    audit.record(session, principal, "retire_category",
                 detail=f"category {row.id}: {row.code} in {administration.code}, last day {valid_to}")
    return CategoryView(_category(row), administration.code)


def seed_administration(session: Session, administration: OrgUnit, configured: Mapping[str, str],
                        now: datetime) -> None:
    """A new förvaltning's list: the configured categories (AVV_REPORT_CATEGORIES), valid from its first day."""
    for code, label_sv, label_en in rules.seed_rows(configured):
        session.add(ReportCategory(administration_id=administration.id or 0, code=code, label_sv=label_sv,
                                   label_en=label_en, valid_from=administration.valid_from, created_at=now,
                                   updated_at=now))
    session.flush()


def follow_earlier_first_day(session: Session, administration: OrgUnit, earlier_first_day: date,
                             now: datetime) -> None:
    """A förvaltning whose history now reaches further back (the org import): the categories it has had since its
    first day had them from the new first day too, so reports of those years can be filed and imported with them."""
    session.execute(update(ReportCategory)
                    .where(col(ReportCategory.administration_id) == administration.id,
                           col(ReportCategory.valid_from) == administration.valid_from)
                    .values(valid_from=earlier_first_day, updated_at=now))


# ---- statistics ----------------------------------------------------------------------------------------


def for_statistics(session: Session, administration_id: int, start: date, end: date,
                   seen: set[str]) -> list[Category]:
    """The förvaltning's categories in table order: those valid at some day of the period, and any other a
    report of the period has (a category retired before it, or a code of an import); not_stated is not one."""
    return [category for category in categories_of(session, administration_id)
            if category.code != NOT_STATED and (category.overlaps(start, end) or category.code in seen)]
