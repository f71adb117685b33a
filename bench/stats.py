"""Statistics speed and memory: the annual table (and the cross-tab, when it exists) against hand-written SQL.

    .venv/bin/python bench/stats.py                         # throwaway PostgreSQL, 100 k then 1 M reports
    .venv/bin/python bench/stats.py --reports 100000         # one size only
    .venv/bin/python bench/stats.py --database-url postgresql+psycopg://user@host/postgres

One fresh database: migrated with `python -m service migrate`, then filled WITHOUT the API: an
organisation of one förvaltning, 25 avdelningar and 300 enheter (a few moved between avdelningar
mid-decade, so the placement history matters), and synthetic reports received 2016-2025, generated
inside PostgreSQL with generate_series (deterministic per report number). The service runs under
uvicorn (one worker, AVV_AUTH_MODE=dev) with a statistics token for the förvaltning. For each size
(loaded in turn, the larger one on top of the smaller) it times, for one year and the whole
förvaltning, the endpoint over HTTP, the service's own SQL run directly, and the best hand-written
SQL for the same numbers, checks that endpoint and hand-written SQL agree exactly, and samples the
server's memory. Targets: endpoint <= 1.5 x raw SQL at 1 M, the annual table under 1 s at 1 M,
server memory that does not grow with the number of reports. See bench/stats.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics as stats_lib
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import create_engine, event  # noqa: E402
from sqlalchemy.engine import URL, make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402
from sqlmodel import Session  # noqa: E402

# The throwaway server, databases, uvicorn process and service CLI are handled as bench/intake.py does.
from bench.intake import (  # noqa: E402
    Server,
    ThrowawayPostgres,
    create_database,
    log,
    remove_scratch,
    service_cli,
    service_env,
)

ANNUAL_PATH = "/api/v1/statistics/annual-table"
TREND_PATH = "/api/v1/statistics/annual-table/trend"
TREND_YEARS = list(range(2016, 2026))  # the decade the data covers: the longest trend allowed
CROSSTAB_PATH = "/api/v1/statistics/crosstab"
REQUEST_TIMEOUT = 300.0
STATEMENT_TIMEOUT_MS = 600_000
TARGET_RATIO = 1.5
TARGET_ANNUAL_MS = 1000.0
MEMORY_GROWTH_TOLERANCE_MIB = 10.0

TYPES = ("not_a_deviation", "lex_sarah", "personal_data_incident", "complaint", "other_deviation")
COUNT_KEYS = (*TYPES, "unassessed", "total")
SHARE_KEYS = ("deviations", "lex_sarah", "personal_data_incident", "complaint", "other_deviation",
              "lex_sarah_serious", "lex_sarah_notified_ivo", "incident_notified_imy")
# shares() in service/domain/statistics.py: share key -> (numerator, denominator) as ShareCounts fields.
SHARE_PARTS = {
    "lex_sarah_of_deviations": ("lex_sarah", "deviations"),
    "personal_data_incident_of_deviations": ("personal_data_incident", "deviations"),
    "complaint_of_deviations": ("complaint", "deviations"),
    "other_deviation_of_deviations": ("other_deviation", "deviations"),
    "serious_of_lex_sarah": ("lex_sarah_serious", "lex_sarah"),
    "ivo_notified_of_lex_sarah": ("lex_sarah_notified_ivo", "lex_sarah"),
    "imy_notified_of_incidents": ("incident_notified_imy", "personal_data_incident"),
}


class Deadline(Exception):
    """The whole run took longer than --max-minutes."""


def on_alarm(*_: object) -> None:
    raise Deadline


def interrupt(*_: object) -> None:
    raise KeyboardInterrupt


# --------------------------------------------------------------------------- organisation

ADMINISTRATION_ID = 1
ADMINISTRATION_CODE = "SOC"
DEPARTMENTS = 25
UNITS_PER_DEPARTMENT = 12
UNITS = DEPARTMENTS * UNITS_PER_DEPARTMENT  # 300
FIRST_DEPARTMENT_ID = 2  # avdelning j (0-based) has id 2 + j
FIRST_UNIT_ID = FIRST_DEPARTMENT_ID + DEPARTMENTS  # enhet i (0-based) has id 27 + i
ORG_FROM = date(2015, 1, 1)
AREAS = ("Norra", "Södra", "Östra", "Västra", "Centrala")
THEMES = ("Hemtjänst", "Särskilt boende", "LSS", "Individ- och familjeomsorg", "Socialpsykiatri")
# Enheter i with i % 25 == 7 (twelve of them) move to the next avdelning on one of these days.
MOVE_DAYS = (date(2019, 1, 1), date(2021, 4, 1), date(2023, 7, 1))


def department_of(index: int) -> int:
    return index // UNITS_PER_DEPARTMENT


def moves() -> dict[int, tuple[int, date]]:
    """enhet index -> (new avdelning index, effective day)."""
    moved = [i for i in range(UNITS) if i % 25 == 7]
    return {i: ((department_of(i) + 1) % DEPARTMENTS, MOVE_DAYS[n % len(MOVE_DAYS)]) for n, i in enumerate(moved)}


def load_organisation(conn: psycopg.Connection) -> None:
    now = "2015-01-01T00:00:00+00:00"
    units: list[tuple[Any, ...]] = [(ADMINISTRATION_ID, ADMINISTRATION_CODE, "Socialförvaltningen (bench)",
                                     "administration", None, f"/{ADMINISTRATION_ID}/")]
    placements: list[tuple[Any, ...]] = [(ADMINISTRATION_ID, None, "Socialförvaltningen (bench)", ORG_FROM, None)]
    department_names = []
    for j in range(DEPARTMENTS):
        dep_id = FIRST_DEPARTMENT_ID + j
        name = f"{THEMES[j % len(THEMES)]} {AREAS[j // len(THEMES)]}"
        department_names.append(name)
        units.append((dep_id, f"A{j + 1:02d}", name, "department", ADMINISTRATION_ID,
                      f"/{ADMINISTRATION_ID}/{dep_id}/"))
        placements.append((dep_id, ADMINISTRATION_ID, name, ORG_FROM, None))
    moved = moves()
    for i in range(UNITS):
        unit_id = FIRST_UNIT_ID + i
        home = department_of(i)
        name = f"{department_names[home]}, enhet {i % UNITS_PER_DEPARTMENT + 1}"
        if i in moved:
            new, day = moved[i]
            placements.append((unit_id, FIRST_DEPARTMENT_ID + home, name, ORG_FROM, day - timedelta(days=1)))
            placements.append((unit_id, FIRST_DEPARTMENT_ID + new, name, day, None))
            current = new
        else:
            placements.append((unit_id, FIRST_DEPARTMENT_ID + home, name, ORG_FROM, None))
            current = home
        dep_id = FIRST_DEPARTMENT_ID + current
        units.append((unit_id, f"E{i + 1:03d}", name, "unit", dep_id, f"/{ADMINISTRATION_ID}/{dep_id}/{unit_id}/"))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO org_unit (id, code, name, kind, parent_id, path, valid_from, valid_to, created_at, "
            "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, %s, %s)",
            [(*u, ORG_FROM, now, now) for u in units])
        cur.executemany("INSERT INTO org_unit_placement (unit_id, parent_id, name, valid_from, valid_to) "
                        "VALUES (%s, %s, %s, %s, %s)", placements)
        cur.execute("SELECT setval(pg_get_serial_sequence('org_unit', 'id'), (SELECT max(id) FROM org_unit))")
    conn.commit()


# -------------------------------------------------------------------------------- reports

def rnd(k: int, seed: int) -> str:
    """A deterministic pseudo-random number in [0, 1) for report n (stream k)."""
    return f"((hashint8extended(n, {seed * 100 + k}) & 140737488355327)::float8 / 140737488355328.0)"


def generate_sql(lo: int, hi: int, seed: int) -> str:
    """The staging table bench_gen: one row per report n in (lo, hi] with everything drawn for it."""
    r = lambda k: rnd(k, seed)  # noqa: E731
    lex_share, second_share = 0.10, 0.04 / 0.87  # two types on ~4 % of all reports (87 % may have a second)
    return f"""
    CREATE UNLOGGED TABLE bench_gen AS
    WITH draws AS (
        SELECT n,
               md5('avv-bench-report-' || n)::uuid AS id,
               DATE '2016-01-01' + floor({r(1)} * 3653)::int AS received_on,
               least({UNITS - 1}, floor(power({r(2)}, 1.3) * {UNITS})::int) AS u1,
               {r(3)} AS r_multi, {r(4)} AS r_cross, 1 + floor({r(5)} * 11)::int AS o1, {r(6)} AS r_o2,
               {r(7)} AS r_type, {r(8)} AS r_second, {r(9)} AS d1, {r(10)} AS r_choice, {r(11)} AS r_notify,
               {r(12)} AS r_time, {r(13)} AS r_cat, {r(14)} AS r_lag, {r(15)} AS r_misc
        FROM generate_series({lo + 1}::bigint, {hi}::bigint) AS n
    ), shaped AS (
        SELECT *,
               CASE WHEN r_multi < 0.03 THEN 3 WHEN r_multi < 0.18 THEN 2 ELSE 1 END AS n_units,
               1 + (o1 + floor(r_o2 * 10)::int) % 11 AS o2,
               CASE WHEN r_type < 0.05 THEN NULL
                    WHEN r_type < 0.13 THEN 'not_a_deviation'
                    WHEN r_type < {0.13 + lex_share} THEN 'lex_sarah'
                    WHEN r_type < 0.28 THEN 'personal_data_incident'
                    WHEN r_type < 0.48 THEN 'complaint'
                    ELSE 'other_deviation' END AS t1,
               ((received_on + make_interval(secs => 21600 + r_time * 57600))::timestamp
                    AT TIME ZONE 'Europe/Stockholm') AS received_at,
               2 * r_choice - floor(2 * r_choice) AS d2
        FROM draws
    ), typed AS (
        SELECT *,
               CASE WHEN t1 IS NOT NULL AND t1 <> 'not_a_deviation' AND r_second < {second_share} THEN
                   CASE t1 WHEN 'lex_sarah'
                           THEN CASE WHEN r_choice < 0.5 THEN 'personal_data_incident' ELSE 'other_deviation' END
                           WHEN 'personal_data_incident'
                           THEN CASE WHEN r_choice < 0.5 THEN 'lex_sarah' ELSE 'other_deviation' END
                           WHEN 'complaint' THEN CASE WHEN r_choice < 0.5 THEN 'other_deviation' ELSE 'lex_sarah' END
                           ELSE CASE WHEN r_choice < 0.5 THEN 'complaint' ELSE 'personal_data_incident' END END
               END AS t2,
               u1 / {UNITS_PER_DEPARTMENT} AS home
        FROM shaped
    )
    SELECT n, id, received_on, received_at, t1, t2, d1, d2, r_notify, r_cat, r_lag, r_misc,
           {FIRST_UNIT_ID} + u1 AS unit1,
           CASE WHEN n_units >= 2 THEN {FIRST_UNIT_ID} + CASE
               WHEN r_cross < 0.9
               THEN home * {UNITS_PER_DEPARTMENT} + (u1 % {UNITS_PER_DEPARTMENT} + o1) % {UNITS_PER_DEPARTMENT}
               ELSE (u1 + {UNITS_PER_DEPARTMENT} + floor(r_o2 * {UNITS - 2 * UNITS_PER_DEPARTMENT})::int) % {UNITS} END
           END AS unit2,
           CASE WHEN n_units = 3
               THEN {FIRST_UNIT_ID} + home * {UNITS_PER_DEPARTMENT}
                    + (u1 % {UNITS_PER_DEPARTMENT} + o2) % {UNITS_PER_DEPARTMENT}
           END AS unit3,
           (t1 = 'lex_sarah' AND d1 < 0.15) OR (t2 = 'lex_sarah' AND d2 < 0.15) AS serious
    FROM typed
    """


def severity(d: str) -> str:
    return (f"CASE WHEN {d} < 0.075 THEN 'serious_impropriety' WHEN {d} < 0.15 THEN 'serious_tangible_risk' "
            f"WHEN {d} < 0.45 THEN 'no_impropriety' WHEN {d} < 0.75 THEN 'impropriety' ELSE 'tangible_risk' END")


def incident_risk(d: str) -> str:
    return f"CASE WHEN {d} < 0.45 THEN 'no_risk' WHEN {d} < 0.9 THEN 'risk' ELSE 'high_risk' END"


def complaint_kind(d: str) -> str:
    return (f"CASE WHEN {d} < 0.1 THEN 'praise' WHEN {d} < 0.6 THEN 'complaint' WHEN {d} < 0.8 THEN 'suggestion' "
            f"WHEN {d} < 0.9 THEN 'question' ELSE 'other' END")


def complaint_submitter(d: str) -> str:
    return (f"(ARRAY['client', 'relative', 'staff', 'other'])[1 + (floor({d} * 1000)::int % 4)]")


CATEGORY_BUCKETS = (  # the default AVV_REPORT_CATEGORIES, weighted
    (0.15, "treatment"), (0.25, "documentation"), (0.37, "communication"), (0.45, "case_handling"),
    (0.63, "care"), (0.80, "medication"), (0.85, "it_support"), (0.92, "safety"), (0.96, "confidentiality"),
)


def category_sql() -> str:
    buckets = " ".join(f"WHEN r_cat < {limit} THEN '{name}'" for limit, name in CATEGORY_BUCKETS)
    return (f"CASE WHEN t1 = 'personal_data_incident' AND r_cat < 0.7 THEN 'confidentiality' "
            f"{buckets} ELSE 'other' END")


def insert_report_sql() -> str:
    """Reports of bench_gen in the order they were received, numbered per year after the existing ones."""
    return f"""
    INSERT INTO report (id, case_number, administration_id, status, category, channel, occurred_at, noticed_at,
                        received_at, received_on, description, immediate_actions, subject_reference,
                        no_specific_subject, reporter_subject, reporter_name, reporter_title, submitted_by,
                        external_reference, payload_sha256, reported_late, search_text, first_assessed_at,
                        judged_serious_at, closed_at, registered_at)
    SELECT id, case_number, {ADMINISTRATION_ID}, status, category, channel, occurred_at, noticed_at,
           received_at, received_on, description, immediate_actions, subject_reference,
           subject_reference IS NULL, reporter, 'Rapportör ' || reporter_no, title, reporter,
           NULL, encode(sha256(convert_to('avv-bench-' || n, 'UTF8')), 'hex'),
           received_at - noticed_at > interval '24 hours',
           lower(description || E'\\n' || immediate_actions), first_assessed_at,
           CASE WHEN serious THEN first_assessed_at END,
           CASE WHEN status = 'closed' THEN first_assessed_at + interval '30 days' END, received_at
    FROM (
        SELECT g.*,
               '{ADMINISTRATION_CODE}-' || extract(year FROM received_on)::int || '-'
                   || lpad(seq::text, greatest(5, length(seq::text)), '0') AS case_number,
               CASE WHEN t1 IS NULL THEN 'reported'
                    WHEN received_on < DATE '2025-01-01' THEN 'closed'
                    WHEN r_misc < 0.3 THEN 'assessed' WHEN r_misc < 0.45 THEN 'investigating'
                    WHEN r_misc < 0.55 THEN 'investigated' WHEN r_misc < 0.65 THEN 'followed_up'
                    ELSE 'closed' END AS status,
               {category_sql()} AS category,
               CASE WHEN r_misc < 0.85 THEN 'web_form' WHEN r_misc < 0.92 THEN 'phone' WHEN r_misc < 0.96 THEN 'paper'
                    WHEN r_misc < 0.98 THEN 'in_person' ELSE 'integration' END AS channel,
               received_at - (r_lag * r_lag * 72) * interval '1 hour' AS occurred_at,
               received_at - (r_lag * r_lag * 72 * r_misc) * interval '1 hour' AS noticed_at,
               'Syntetisk avvikelse ' || n || ': brukaren fick fel läkemedel vid kvällsbesöket.' AS description,
               'Sjuksköterska kontaktad, brukaren observerad.' AS immediate_actions,
               CASE WHEN r_misc < 0.7 THEN 'B-' || (n % 5000) END AS subject_reference,
               (n * 7919) % 3000 AS reporter_no,
               'bench-reporter-' || (n * 7919) % 3000 AS reporter,
               CASE WHEN r_lag < 0.5 THEN 'Undersköterska' WHEN r_lag < 0.8 THEN 'Sjuksköterska' END AS title,
               CASE WHEN t1 IS NOT NULL THEN received_at + (1 + r_lag * 10) * interval '1 day' END AS first_assessed_at
        FROM (
            SELECT bench_gen.*,
                   coalesce(s.last_number, 0)
                     + row_number() OVER (PARTITION BY extract(year FROM received_on) ORDER BY received_at, n) AS seq
            FROM bench_gen
            LEFT JOIN case_number_sequence s
              ON s.administration_id = {ADMINISTRATION_ID} AND s.year = extract(year FROM received_on)::int
        ) g
    ) x
    ORDER BY received_at, n
    """


def load_reports(conn: psycopg.Connection, lo: int, hi: int, seed: int) -> tuple[dict[str, int], dict[str, float]]:
    """Reports lo+1..hi and what hangs on them, generated in SQL; returns rows inserted and seconds taken."""
    inserted: dict[str, int] = {}
    seconds: dict[str, float] = {}
    clock = [time.monotonic()]

    def lap(name: str) -> None:
        now = time.monotonic()
        seconds[name] = now - clock[0]
        clock[0] = now

    with conn.cursor() as cur:
        cur.execute("SET work_mem = '256MB'")
        cur.execute("DROP TABLE IF EXISTS bench_gen")
        cur.execute(generate_sql(lo, hi, seed))
        lap("generate")
        cur.execute(insert_report_sql())
        inserted["report"] = cur.rowcount
        lap("report")
        cur.execute(f"""
            INSERT INTO case_number_sequence (administration_id, year, last_number)
            SELECT {ADMINISTRATION_ID}, extract(year FROM received_on)::int, count(*) FROM report
            WHERE administration_id = {ADMINISTRATION_ID} GROUP BY 2
            ON CONFLICT (administration_id, year) DO UPDATE SET last_number = excluded.last_number""")
        cur.execute("""
            INSERT INTO report_unit (report_id, unit_id, received_on)
            SELECT id, unit, received_on FROM (
                SELECT id, received_at, received_on, n, 1 AS k, unit1 AS unit FROM bench_gen
                UNION ALL SELECT id, received_at, received_on, n, 2, unit2 FROM bench_gen WHERE unit2 IS NOT NULL
                UNION ALL SELECT id, received_at, received_on, n, 3, unit3 FROM bench_gen WHERE unit3 IS NOT NULL
            ) u ORDER BY received_at, n, k""")
        inserted["report_unit"] = cur.rowcount
        lap("report_unit")

        def details(t: str, d: str) -> str:
            return (f"CASE WHEN {t} = 'lex_sarah' THEN {severity(d)} END, "
                    f"CASE WHEN {t} = 'personal_data_incident' THEN {incident_risk(d)} END, "
                    f"CASE WHEN {t} = 'complaint' THEN {complaint_kind(d)} END, "
                    f"CASE WHEN {t} = 'complaint' THEN {complaint_submitter(d)} END")

        cur.execute(f"""
            INSERT INTO report_type (report_id, type, lex_sarah_severity, incident_risk, complaint_kind,
                                     complaint_submitter, received_on)
            SELECT id, t, s, r, ck, cs, received_on FROM (
                SELECT id, received_at, received_on, n, 1 AS k, t1 AS t, {details('t1', 'd1')}
                FROM bench_gen WHERE t1 IS NOT NULL
                UNION ALL
                SELECT id, received_at, received_on, n, 2, t2, {details('t2', 'd2')} FROM bench_gen WHERE t2 IS NOT NULL
            ) AS x (id, received_at, received_on, n, k, t, s, r, ck, cs) ORDER BY received_at, n, k""")
        inserted["report_type"] = cur.rowcount
        lap("report_type")
        # IVO for ~90 % of serious lex Sarah, IMY for ~90 % of incidents with risk (about half of them);
        # another ~5 % of each only drafted (sent_at NULL), which the statistics must not count.
        cur.execute("""
            INSERT INTO notification (report_id, authority, created_at, sender_reference, content,
                                      investigation_attached, aware_at, decision_maker_name, sent_at, channel,
                                      sent_by_name, authority_reference)
            SELECT t.report_id, a.authority, r.first_assessed_at, 'AVV-' || r.case_number,
                   json_build_object('kind',
                                     CASE a.authority WHEN 'ivo' THEN 'lex_sarah' ELSE 'personal_data_breach' END,
                                     'summary', 'Syntetisk anmälan')::text,
                   false,
                   CASE WHEN a.authority = 'imy' THEN r.received_at END,
                   'Beslutsfattare Bench',
                   CASE WHEN g.r_notify < 0.9 THEN r.first_assessed_at + interval '2 days' END,
                   CASE WHEN g.r_notify < 0.9 THEN 'e_service' END,
                   CASE WHEN g.r_notify < 0.9 THEN 'Handläggare Bench' END,
                   CASE WHEN g.r_notify < 0.9 THEN upper(a.authority) || '-' || g.n END
            FROM bench_gen g
            JOIN report r ON r.id = g.id
            JOIN report_type t ON t.report_id = g.id
            CROSS JOIN LATERAL (SELECT CASE WHEN t.type = 'lex_sarah'
                                                 AND t.lex_sarah_severity
                                                     IN ('serious_impropriety', 'serious_tangible_risk')
                                            THEN 'ivo'
                                            WHEN t.type = 'personal_data_incident'
                                                 AND t.incident_risk IN ('risk', 'high_risk')
                                            THEN 'imy' END AS authority) a
            WHERE a.authority IS NOT NULL AND g.r_notify < 0.95
            ORDER BY r.received_at, g.n, a.authority""")
        inserted["notification"] = cur.rowcount
        cur.execute("DROP TABLE bench_gen")
    conn.commit()
    lap("notification")
    conn.autocommit = True  # VACUUM runs outside a transaction
    try:
        # The whole database, the organisation's tables included: a fresh org_unit without statistics makes
        # the planner guess one row for the subtree's LIKE and pick nested loops over every report_unit row.
        conn.execute("VACUUM (ANALYZE)")
    finally:
        conn.autocommit = False
    lap("vacuum_analyze")
    return inserted, seconds


def describe_data(conn: psycopg.Connection, year: int) -> str:
    row = conn.execute(f"""
        SELECT (SELECT count(*) FROM report),
               (SELECT count(*) FROM report WHERE extract(year FROM received_on) = {year}),
               (SELECT count(*) FROM (SELECT report_id FROM report_unit GROUP BY 1 HAVING count(*) = 2) x),
               (SELECT count(*) FROM (SELECT report_id FROM report_unit GROUP BY 1 HAVING count(*) = 3) x),
               (SELECT count(*) FROM (SELECT report_id FROM report_type GROUP BY 1 HAVING count(*) = 2) x),
               (SELECT count(*) FROM report r WHERE NOT EXISTS (SELECT 1 FROM report_type t WHERE t.report_id = r.id)),
               (SELECT count(*) FROM notification WHERE sent_at IS NOT NULL AND authority = 'ivo'),
               (SELECT count(*) FROM notification WHERE sent_at IS NOT NULL AND authority = 'imy'),
               (SELECT count(*) FROM notification WHERE sent_at IS NULL),
               pg_size_pretty(pg_database_size(current_database()))""").fetchone()
    assert row is not None
    total = row[0] or 1
    types: dict[str, int] = dict(conn.execute("SELECT type, count(*) FROM report_type GROUP BY 1").fetchall())
    mix = ", ".join(f"{t} {100 * types.get(t, 0) / total:.1f}%" for t in TYPES)
    return (f"{row[0]} reports ({row[1]} in {year}); on 2 enheter {100 * row[2] / total:.1f}%, on 3 "
            f"{100 * row[3] / total:.1f}%; two types {100 * row[4] / total:.1f}%, unassessed "
            f"{100 * row[5] / total:.1f}%; {mix}; notifications sent IVO {row[6]}, IMY {row[7]}, drafts {row[8]}; "
            f"database {row[9]}")


# ----------------------------------------------------------------------- hand-written SQL

# The hand-written SQL. Both statements take the year's (report, enhet) pairs from report_unit's covering
# index (it carries the report's received_on), each placed under the avdelning the enhet stood under that
# day, and fold each report's types and sent notifications into one integer of flag bits with bit_or, read
# from report_type's covering index and joined to the (few) sent notifications. Joined to the pairs, every
# level is then a plain count of rows instead of COUNT(DISTINCT ...) per column. Bits: 1 not_a_deviation,
# 2 lex_sarah, 4 personal_data_incident, 8 complaint, 16 other_deviation, 32 serious lex Sarah, 64 lex Sarah
# notified to IVO, 128 incident notified to IMY, 256 has a type (assessed), 512 has a type other than
# not_a_deviation (a deviation).
_PAIRS = """
    SELECT ru.report_id, ru.unit_id, p.parent_id AS department_id
    FROM report_unit ru
    JOIN org_unit_placement p ON p.unit_id = ru.unit_id AND p.valid_from <= ru.received_on
                             AND (p.valid_to IS NULL OR p.valid_to >= ru.received_on)
    JOIN org_unit d ON d.id = p.parent_id
    WHERE ru.received_on BETWEEN %(start)s AND %(end)s AND d.path LIKE %(prefix)s"""
_FLAGS = """
    SELECT t.report_id,
           bit_or(CASE t.type WHEN 'not_a_deviation' THEN 257 WHEN 'lex_sarah' THEN 770
                              WHEN 'personal_data_incident' THEN 772 WHEN 'complaint' THEN 776
                              WHEN 'other_deviation' THEN 784 ELSE 0 END
                  | CASE WHEN t.type = 'lex_sarah' AND t.lex_sarah_severity
                              IN ('serious_impropriety', 'serious_tangible_risk') THEN 32 ELSE 0 END
                  | CASE WHEN t.type = 'lex_sarah' AND n.authority = 'ivo' THEN 64 ELSE 0 END
                  | CASE WHEN t.type = 'personal_data_incident' AND n.authority = 'imy' THEN 128 ELSE 0 END) AS bits
    FROM report_type t LEFT JOIN notification n ON n.report_id = t.report_id AND n.sent_at IS NOT NULL
    WHERE t.received_on BETWEEN %(start)s AND %(end)s
    GROUP BY t.report_id"""
_TYPE_COUNTS = """count(*) FILTER (WHERE bits & 1 <> 0), count(*) FILTER (WHERE bits & 2 <> 0),
       count(*) FILTER (WHERE bits & 4 <> 0), count(*) FILTER (WHERE bits & 8 <> 0),
       count(*) FILTER (WHERE bits & 16 <> 0), count(*) FILTER (WHERE bits & 256 = 0), count(*)"""

# The annual table and its shares in one statement: one row per (report, enhet, avdelning) with the report's
# bits, counted per (enhet, avdelning) as they are; per avdelning over distinct (report, avdelning); the
# total row over distinct reports, with the shares' numerators and denominators. The flags of every report
# received in the year are computed, not only those in the subtree: restricting them first with a semi-join
# on the pairs doubled the time for a whole förvaltning.
RAW_ANNUAL = f"""
WITH pairs AS ({_PAIRS}
), flags AS ({_FLAGS}
), facts AS (
    SELECT pairs.report_id, unit_id, department_id, coalesce(bits, 0) AS bits
    FROM pairs LEFT JOIN flags ON flags.report_id = pairs.report_id
)
SELECT 'unit' AS level, unit_id, department_id, {_TYPE_COUNTS},
       NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint
FROM facts GROUP BY unit_id, department_id
UNION ALL
SELECT 'department', NULL, department_id, {_TYPE_COUNTS}, NULL, NULL, NULL, NULL
FROM (SELECT DISTINCT report_id, department_id, bits FROM facts) x GROUP BY department_id
UNION ALL
SELECT 'total', NULL, NULL, {_TYPE_COUNTS},
       count(*) FILTER (WHERE bits & 512 <> 0), count(*) FILTER (WHERE bits & 32 <> 0),
       count(*) FILTER (WHERE bits & 64 <> 0), count(*) FILTER (WHERE bits & 128 <> 0)
FROM (SELECT DISTINCT report_id, bits FROM facts) x
"""

# Avdelning x type: one row per (report, avdelning), counted per avdelning (the cells and the row totals),
# and over distinct reports (the column totals and the table's total). A report without a type counts in
# the "unassessed" column, as the endpoint's type dimension does.
RAW_CROSSTAB = f"""
WITH placed AS (
    SELECT DISTINCT report_id, department_id FROM ({_PAIRS}) pairs
), flags AS ({_FLAGS}
), facts AS (
    SELECT placed.report_id, department_id, coalesce(bits, 0) AS bits
    FROM placed LEFT JOIN flags ON flags.report_id = placed.report_id
)
SELECT department_id, {_TYPE_COUNTS} FROM facts GROUP BY department_id
UNION ALL
SELECT NULL, {_TYPE_COUNTS} FROM (SELECT DISTINCT report_id, bits FROM facts) x
"""


@dataclass
class AnnualNumbers:
    units: dict[tuple[int, int], dict[str, int]] = field(default_factory=dict)  # (unit, department)
    departments: dict[int, dict[str, int]] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    shares: dict[str, int] = field(default_factory=dict)


def raw_annual(rows: list[tuple[Any, ...]]) -> AnnualNumbers:
    numbers = AnnualNumbers()
    for level, unit_id, department_id, *values in rows:
        counts = {key: int(value) for key, value in zip(COUNT_KEYS, values[:len(COUNT_KEYS)], strict=True)}
        if level == "unit":
            numbers.units[(unit_id, department_id)] = counts
        elif level == "department":
            numbers.departments[department_id] = counts
        else:
            numbers.total = counts
            deviation, serious, ivo, imy = (int(v or 0) for v in values[len(COUNT_KEYS):])
            numbers.shares = {"deviations": deviation, "lex_sarah": counts["lex_sarah"],
                              "personal_data_incident": counts["personal_data_incident"],
                              "complaint": counts["complaint"], "other_deviation": counts["other_deviation"],
                              "lex_sarah_serious": serious, "lex_sarah_notified_ivo": ivo,
                              "incident_notified_imy": imy}
    if not numbers.total:
        numbers.total = dict.fromkeys(COUNT_KEYS, 0)
        numbers.shares = dict.fromkeys(SHARE_KEYS, 0)
    return numbers


def endpoint_annual(body: dict[str, Any]) -> AnnualNumbers:
    numbers = AnnualNumbers()
    for row in body["rows"]:
        counts = {key: row["counts"][key] for key in COUNT_KEYS}
        if row["level"] == "unit":
            numbers.units[(row["unit_id"], row["department_id"])] = counts
        elif row["level"] == "department":
            numbers.departments[row["unit_id"]] = counts
        elif row["level"] == "total":
            numbers.total = counts
    for share in body["shares"]:
        numerator, denominator = SHARE_PARTS[share["key"]]
        for key, value in ((numerator, share["numerator"]), (denominator, share["denominator"])):
            if numbers.shares.setdefault(key, value) != value:
                numbers.shares[key] = -1  # inconsistent within the answer itself: shows up as a mismatch
    return numbers


def compare_annual(endpoint: AnnualNumbers, raw: AnnualNumbers) -> list[str]:
    """Every cell the hand-written SQL finds must be in the endpoint's answer with the same value, and
    every row the endpoint has but the SQL does not must be all zeros."""
    zero = dict.fromkeys(COUNT_KEYS, 0)
    problems = []
    tables: tuple[tuple[str, Mapping[Any, dict[str, int]], Mapping[Any, dict[str, int]]], ...] = (
        ("enhet", raw.units, endpoint.units), ("avdelning", raw.departments, endpoint.departments))
    for name, ours, theirs in tables:
        for key in sorted(set(ours) | set(theirs), key=str):
            if key not in theirs:
                problems.append(f"{name} {key}: missing from the endpoint's table (SQL: {ours[key]})")
            elif theirs[key] != ours.get(key, zero):
                problems.append(f"{name} {key}: endpoint {theirs[key]} != SQL {ours.get(key, zero)}")
    if endpoint.total != raw.total:
        problems.append(f"total: endpoint {endpoint.total} != SQL {raw.total}")
    if endpoint.shares != raw.shares:
        problems.append(f"shares: endpoint {endpoint.shares} != SQL {raw.shares}")
    return problems


# --------------------------------------------------------------------------- the cross-tab

def crosstab_cells(body: Any) -> dict[tuple[int | None, str | None], int] | None:
    """(avdelning id or None for a column total, type or None for a row total) -> count, from the endpoint's
    JSON (service/api/statistics.py CrossTab: rows[].unit_id, rows[].counts, rows[].total, column_totals,
    total); None when the answer does not have that shape."""
    try:
        cells: dict[tuple[int | None, str | None], int] = {}
        for row in body["rows"]:
            department = int(row["unit_id"])
            for column, count in row["counts"].items():
                cells[(department, column)] = int(count)
            cells[(department, None)] = int(row["total"])
        for column, count in body["column_totals"].items():
            cells[(None, column)] = int(count)
        cells[(None, None)] = int(body["total"])
        return cells
    except (KeyError, TypeError, ValueError):
        return None


def raw_crosstab(rows: list[tuple[Any, ...]]) -> dict[tuple[int | None, str | None], int]:
    cells: dict[tuple[int | None, str | None], int] = {}
    for department_id, *values in rows:
        for key, value in zip((*TYPES, "unassessed", None), values, strict=True):
            cells[(department_id, key)] = int(value)
    return cells


def compare_crosstab(endpoint: dict[tuple[int | None, str | None], int],
                     raw: dict[tuple[int | None, str | None], int]) -> list[str]:
    problems = []
    for key in sorted(set(endpoint) | set(raw), key=str):
        if endpoint.get(key, 0) != raw.get(key, 0):
            problems.append(f"cell {key}: endpoint {endpoint.get(key, 0)} != SQL {raw.get(key, 0)}")
    return problems


# ---------------------------------------------------------------------------- measuring

@dataclass
class Timing:
    size: int
    what: str
    endpoint_ms: float | None = None
    service_sql_ms: float | None = None
    service_nojit_ms: float | None = None
    raw_ms: float | None = None
    raw_nojit_ms: float | None = None
    agree: str = ""

    @property
    def ratio(self) -> float | None:
        if self.endpoint_ms is None or not self.raw_ms:
            return None
        return self.endpoint_ms / self.raw_ms


def median_ms(samples: list[float]) -> float:
    return stats_lib.median(samples) * 1000


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


@dataclass
class CapturedStatement:
    sql: str
    params: Any


def service_statements(db_url: URL, year: int, what: str) -> list[CapturedStatement]:
    """The SQL an endpoint runs ("annual" or "crosstab" department x type), captured by calling the service's
    own functions as the endpoint does."""
    from service import statistics as service_statistics
    from service.domain.statistics import Dimension, Period
    from service.models import OrgUnit

    engine = create_engine(db_url, poolclass=NullPool)
    captured: list[CapturedStatement] = []
    try:
        with Session(engine) as session:
            root = session.get(OrgUnit, ADMINISTRATION_ID)
            assert root is not None
            period = Period(date(year, 1, 1), date(year, 12, 31))

            def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
                captured.append(CapturedStatement(statement, parameters))

            event.listen(engine, "before_cursor_execute", record)
            if what == "annual":
                service_statistics.annual_counts(session, root, period)
                service_statistics.units_in_period(session, root, period)
            else:
                counts = service_statistics.crosstab_counts(session, root, period, [], Dimension.department,
                                                            Dimension.type)
                service_statistics.org_members(session, root, period, Dimension.department,
                                               {c.row[0] for c in counts if c.row is not None and c.row[0]})
            event.remove(engine, "before_cursor_execute", record)
    finally:
        engine.dispose()
    return captured


def explain_summary(conn: psycopg.Connection, statement: CapturedStatement, top: int = 6) -> list[str]:
    """EXPLAIN ANALYZE of one statement: execution and JIT time, and the plan nodes with the most time of their
    own (inclusive time x loops minus the children's; a CTE's work is counted in the CTE's own nodes)."""
    plan_json = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement.sql, statement.params).fetchone()
    assert plan_json is not None
    document = plan_json[0][0] if isinstance(plan_json[0], list) else json.loads(plan_json[0])[0]
    nodes: list[tuple[float, str]] = []
    cte_left: dict[str, float] = {}

    def walk(node: dict[str, Any]) -> float:
        loops = node.get("Actual Loops", 1) or 1
        inclusive = node.get("Actual Total Time", 0.0) * loops
        children = 0.0
        for child in node.get("Plans", []):
            child_time = walk(child)
            if child.get("Parent Relationship") == "InitPlan" and str(child.get("Subplan Name", "")).startswith("CTE "):
                cte_left[child["Subplan Name"][4:]] = child_time  # read through the CTE Scans, not by this node
            else:
                children += child_time
        own = inclusive - children
        if node["Node Type"] == "CTE Scan":  # the first scan of a CTE also computes it
            computed = min(own, cte_left.get(node.get("CTE Name", ""), 0.0))
            cte_left[node.get("CTE Name", "")] = cte_left.get(node.get("CTE Name", ""), 0.0) - computed
            own -= computed
        label = node["Node Type"]
        for key in ("Strategy", "Join Type"):
            if key in node:
                label = f"{node[key]} {label}"
        for key in ("Relation Name", "Index Name", "CTE Name"):
            if key in node:
                label += f" {node[key]}"
        if "Sort Method" in node:
            label += (f" [{node['Sort Method']}, {node.get('Sort Space Used', '?')} kB"
                      f" {node.get('Sort Space Type', '')}]")
        if node.get("HashAgg Batches", 1) > 1:
            label += f" [{node['HashAgg Batches']} batches, {node.get('Disk Usage', '?')} kB disk]"
        if node.get("Workers Launched"):
            label += f" [{node['Workers Launched']} workers]"
        label += f" (rows {node.get('Actual Rows', 0) * loops:.0f}, loops {loops})"
        nodes.append((max(0.0, own), label))
        return inclusive

    walk(document["Plan"])
    jit = document.get("JIT", {})  # absent when the plan's cost stayed under jit_above_cost
    jit_total = jit.get("Timing", {}).get("Total")
    jit_kind = ", ".join(f"{option.lower()} {'on' if on else 'off'}" for option, on in jit.get("Options", {}).items()
                         if option in ("Inlining", "Optimization"))
    lines = [f"execution {document.get('Execution Time', 0):.0f} ms (of which JIT compilation {fmt(jit_total)} ms"
             + (f": {jit.get('Functions')} functions, {jit_kind}" if jit else "")
             + f"), planning {document.get('Planning Time', 0):.1f} ms;"
             + f" cost {document['Plan'].get('Total Cost', 0):.0f}"]
    lines += [f"  {own:8.0f} ms  {label}" for own, label in sorted(nodes, reverse=True)[:top]]
    return lines


def rss_mib(pid: int) -> dict[str, float]:
    """VmHWM (peak) and VmRSS of a process and its children, in MiB."""
    pids = [pid] + [int(p) for p in (Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                                      if Path(f"/proc/{pid}/task/{pid}/children").exists() else [])]
    total = {"VmHWM": 0.0, "VmRSS": 0.0}
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in total:
                    total[key] += int(value.split()[0]) / 1024
        except OSError:
            pass
    return total


# --------------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/stats.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="SQLAlchemy URL of a PostgreSQL server whose user may CREATE "
                        "DATABASE (a scratch database is created and dropped there); default: a throwaway server")
    parser.add_argument("--reports", default="100000,1000000",
                        help="report counts to load and measure in turn, ascending, comma-separated "
                             "(default 100000,1000000); each size is loaded on top of the one before")
    parser.add_argument("--year", type=int, default=2021, help="the year measured (default 2021; data is 2016-2025)")
    parser.add_argument("--repeat", type=int, default=7, help="timed repetitions of each query (default 7)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed repetitions first (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic data (default 1)")
    parser.add_argument("--explain", choices=("auto", "always", "never"), default="auto",
                        help="EXPLAIN ANALYZE the endpoint's SQL at the largest size: when a target is missed "
                             "(auto, default), always, or never")
    parser.add_argument("--max-minutes", type=float, default=25.0,
                        help="give up (and clean up) after this many minutes (default 25)")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(part.replace("_", "")) for part in args.reports.split(",") if part.strip()]
    except ValueError:
        parser.error("--reports takes numbers separated by commas")
    if not args.sizes or any(s <= 0 for s in args.sizes) or args.sizes != sorted(set(args.sizes)):
        parser.error("--reports must be positive and ascending")
    if not 2016 <= args.year <= 2025:
        parser.error("--year must be within 2016-2025, the years the data covers")
    if args.repeat <= 0 or args.warmup < 0 or args.max_minutes <= 0:
        parser.error("--repeat must be positive, --warmup not negative, --max-minutes positive")
    return args


def load_average() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def psycopg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def fmt(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, args.max_minutes * 60)

    tmp = Path(tempfile.mkdtemp(prefix="avv-bench-stats.", dir=os.environ.get("TMPDIR") or "/tmp"))
    pg: ThrowawayPostgres | None = None
    admin_url: URL | None = None
    db_name = f"avv_bench_{uuid.uuid4().hex[:12]}"
    db_created = False
    server: Server | None = None
    conn: psycopg.Connection | None = None
    client: httpx.Client | None = None
    timings: list[Timing] = []
    memory: list[tuple[str, dict[str, float]]] = []
    problems: list[str] = []
    started = time.monotonic()
    load_at_start = load_average()
    pg_settings = ""
    try:
        if args.database_url:
            admin_url = make_url(args.database_url)
            if admin_url.get_backend_name() != "postgresql":
                raise SystemExit("bench: --database-url must be a PostgreSQL URL")
            banner = f"PostgreSQL at {admin_url.render_as_string(hide_password=True)}"
        else:
            pg = ThrowawayPostgres(tmp, max_connections=100)
            admin_url = pg.start()
            banner = f"throwaway PostgreSQL {pg.version} on port {admin_url.port} (fsync off, default memory settings)"
        log(banner)
        db_url = create_database(admin_url, db_name)
        db_created = True
        env = service_env(db_url, tmp / "dev-signing-key.pem")
        env["AVV_STATISTICS_MIN_SUPPRESS_BELOW"] = "1"  # the endpoints' figures are compared with raw SQL, exactly
        service_cli(env, "migrate")
        # prepare_threshold=None: a custom plan on every execution, as for a one-off query.
        conn = psycopg.connect(psycopg_dsn(db_url), autocommit=False, prepare_threshold=None)
        conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
        pg_settings = ", ".join(f"{name}={value}" for name, value in conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name IN ('jit', 'jit_above_cost', 'work_mem', "
            "'shared_buffers', 'max_parallel_workers_per_gather', 'random_page_cost') ORDER BY name").fetchall())
        conn.commit()
        load_organisation(conn)
        token = service_cli(env, "devtoken", "--role", "statistics", "--unit", ADMINISTRATION_CODE,
                            "--minutes", str(int(args.max_minutes) + 30))
        log(f"database {db_name}: migrated; 1 förvaltning, {DEPARTMENTS} avdelningar, {UNITS} enheter "
            f"({len(moves())} moved mid-decade)")

        server = Server("service", "service.asgi:app", env=env, workers=1, log_path=tmp / "service.log",
                        ready_path="/healthz")
        server.start(set())
        server.wait_ready()
        assert server.proc is not None
        memory.append(("started, no request yet", rss_mib(server.proc.pid)))
        log(f"service up at {server.base_url} (pid {server.proc.pid}, one uvicorn worker)")

        client = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"},
                              timeout=httpx.Timeout(REQUEST_TIMEOUT))
        params = {"start": date(args.year, 1, 1), "end": date(args.year, 12, 31), "prefix": f"/{ADMINISTRATION_ID}/%"}
        query = {"year": args.year, "unit_id": ADMINISTRATION_ID}

        def get(path: str, extra: dict[str, Any]) -> Any:
            response = client.get(path, params={**query, **extra})
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: HTTP {response.status_code}: {response.text[:500]}")
            return response.json()

        def run_sql(statements: list[CapturedStatement], jit: bool = True) -> list[tuple[Any, ...]]:
            rows: list[tuple[Any, ...]] = []
            if not jit:
                conn.execute("SET LOCAL jit = off")
            for statement in statements:
                rows = conn.execute(statement.sql, statement.params).fetchall()
            conn.commit()
            return rows

        def check_annual(body: Any, rows: list[tuple[Any, ...]]) -> list[str]:
            return compare_annual(endpoint_annual(body), raw_annual(rows))

        def check_crosstab(body: Any, rows: list[tuple[Any, ...]]) -> list[str]:
            cells = crosstab_cells(body)
            if cells is None:
                return [f"the answer does not have the expected shape: {json.dumps(body)[:300]}"]
            return compare_crosstab(cells, raw_crosstab(rows))

        def measure(size: int, what: str, path: str, extra: dict[str, Any], kind: str, raw_sql: str,
                    check: Callable[[Any, list[tuple[Any, ...]]], list[str]]) -> Timing:
            """Endpoint, the endpoint's own SQL run directly, and the hand-written SQL, in turn, warm-ups first;
            medians of the timed repetitions; then the endpoint's last answer checked against the SQL's."""
            timing = Timing(size, what)
            service = service_statements(db_url, args.year, kind)
            raw = [CapturedStatement(raw_sql, params)]
            samples: dict[str, list[float]] = {"endpoint": [], "service": [], "service_nojit": [], "raw": [],
                                               "raw_nojit": []}
            body: Any = None
            rows: list[tuple[Any, ...]] = []
            for rep in range(args.warmup + args.repeat):
                times = {"endpoint": timed(lambda: get(path, extra)),
                         "service": timed(lambda: run_sql(service)),
                         "service_nojit": timed(lambda: run_sql(service, jit=False))}
                times["raw"] = timed(lambda: run_sql(raw))
                times["raw_nojit"] = timed(lambda: run_sql(raw, jit=False))
                body, rows = times["endpoint"][1], times["raw"][1]
                if rep >= args.warmup:
                    for key, (seconds, _) in times.items():
                        samples[key].append(seconds)
            timing.endpoint_ms = median_ms(samples["endpoint"])
            timing.service_sql_ms = median_ms(samples["service"])
            timing.service_nojit_ms = median_ms(samples["service_nojit"])
            timing.raw_ms = median_ms(samples["raw"])
            timing.raw_nojit_ms = median_ms(samples["raw_nojit"])
            differences = check(body, rows)
            timing.agree = "yes" if not differences else f"NO ({len(differences)} differences)"
            problems.extend(f"{size} {what}: {line}" for line in differences[:10])
            log(f"{size}: {what}: endpoint {timing.endpoint_ms:.0f} ms, its SQL {fmt(timing.service_sql_ms)} ms "
                f"({fmt(timing.service_nojit_ms)} ms without JIT), hand-written SQL {timing.raw_ms:.0f} ms "
                f"({fmt(timing.raw_nojit_ms)} ms without JIT); numbers agree: {timing.agree}")
            return timing

        trend_lines: list[str] = []

        def measure_trend(size: int) -> None:
            """The ten-year trend against ten single-year annual tables: time, and the same cells in each year."""
            trend_query = {"unit_id": ADMINISTRATION_ID, "from_year": TREND_YEARS[0], "to_year": TREND_YEARS[-1]}

            def trend() -> Any:
                response = client.get(TREND_PATH, params=trend_query)
                if response.status_code != 200:
                    raise RuntimeError(f"GET {TREND_PATH}: HTTP {response.status_code}: {response.text[:500]}")
                return response.json()

            def each_year() -> dict[int, Any]:
                return {year: get(ANNUAL_PATH, {"year": year}) for year in TREND_YEARS}

            trend_samples, years_samples = [], []
            body: Any = None
            singles: dict[int, Any] = {}
            for rep in range(args.warmup + args.repeat):
                (trend_seconds, body), (years_seconds, singles) = timed(trend), timed(each_year)
                if rep >= args.warmup:
                    trend_samples.append(trend_seconds)
                    years_samples.append(years_seconds)
            differences = 0
            for year, single in singles.items():
                in_year = [row for row in body["rows"] if row["years"][str(year)] is not None]
                differences += len(in_year) != len(single["rows"]) or any(
                    row["years"][str(year)]["counts"] != expected["counts"]
                    for row, expected in zip(in_year, single["rows"], strict=False))
            line = (f"{size}: trend {TREND_YEARS[0]}-{TREND_YEARS[-1]}: endpoint {median_ms(trend_samples):.0f} ms; "
                    f"the ten annual tables one by one {median_ms(years_samples):.0f} ms; "
                    f"same cells every year: {'yes' if not differences else f'NO ({differences} years differ)'}")
            log(line)
            trend_lines.append(line)
            if differences:
                problems.append(line)

        loaded = 0
        conn.commit()
        for size in args.sizes:
            load_start = time.monotonic()
            inserted, steps = load_reports(conn, loaded, size, args.seed)
            loaded = size
            log(f"loaded {inserted} in {time.monotonic() - load_start:.1f}s ("
                + ", ".join(f"{step} {sec:.1f}s" for step, sec in steps.items()) + ")")
            log(describe_data(conn, args.year))
            conn.commit()

            # (a) the annual table; (b) the cross-tab avdelning x type.
            timings.append(measure(size, "annual table", ANNUAL_PATH, {}, "annual", RAW_ANNUAL, check_annual))
            timings.append(measure(size, "crosstab department x type", CROSSTAB_PATH,
                                   {"rows": "department", "columns": "type"}, "crosstab", RAW_CROSSTAB,
                                   check_crosstab))
            measure_trend(size)
            memory.append((f"after the {size} measurements", rss_mib(server.proc.pid)))

        # What dominates the endpoint's SQL at the largest size, when a target is missed (or when asked).
        largest = [t for t in timings if t.size == args.sizes[-1]]
        missed = any((t.ratio is not None and t.ratio > TARGET_RATIO) for t in largest) or any(
            t.what == "annual table" and (t.endpoint_ms or 0) > TARGET_ANNUAL_MS for t in largest)
        explain: list[str] = []
        if args.explain == "always" or (args.explain == "auto" and missed):
            for kind, what, raw_sql in (("annual", "annual table", RAW_ANNUAL),
                                        ("crosstab", "crosstab department x type", RAW_CROSSTAB)):
                if not any(t.what == what and t.endpoint_ms is not None for t in largest):
                    continue
                for n, statement in enumerate(service_statements(db_url, args.year, kind), 1):
                    explain.append(f"{what}, the endpoint's statement {n} ({len(statement.sql)} characters):")
                    explain += ["  " + line for line in explain_summary(conn, statement)]
                    conn.commit()
                explain.append(f"{what}, hand-written SQL:")
                explain += ["  " + line for line in explain_summary(conn, CapturedStatement(raw_sql, params))]
                conn.commit()

        # ---- report
        print(f"\nstatistics benchmark: year {args.year}, whole förvaltning ({UNITS} enheter in {DEPARTMENTS} "
              f"avdelningar); median of {args.repeat} after {args.warmup} warm-up; {banner}; {pg_settings}")
        print(f"{'reports':>9} {'what':<28} {'endpoint':>9} {'raw SQL':>8} {'ratio':>6}  {'agree':<6} "
              f"{'svc SQL':>8} {'svc -JIT':>8} {'raw -JIT':>8}")
        for t in timings:
            print(f"{t.size:>9} {t.what:<28} {fmt(t.endpoint_ms):>9} {fmt(t.raw_ms):>8} {fmt(t.ratio, '.2f'):>6}  "
                  f"{t.agree or '-':<6} {fmt(t.service_sql_ms):>8} {fmt(t.service_nojit_ms):>8} "
                  f"{fmt(t.raw_nojit_ms):>8}")
        print("(medians in ms; ratio = endpoint / raw SQL, both with the server's settings; agree = the endpoint's "
              "JSON and the raw SQL give the same numbers in every cell; svc SQL = the endpoint's own statements run "
              "directly with psycopg; -JIT = the same with SET LOCAL jit = off)")
        for t in largest:
            if t.ratio is not None:
                verdict = "met" if t.ratio <= TARGET_RATIO else "NOT met"
                print(f"{t.size} reports, {t.what}: ratio {t.ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")
            if t.what == "annual table" and t.endpoint_ms is not None:
                verdict = "met" if t.endpoint_ms < TARGET_ANNUAL_MS else "NOT met"
                print(f"{t.size} reports, annual table {t.endpoint_ms:.0f} ms (target < {TARGET_ANNUAL_MS:.0f} ms: "
                      f"{verdict})")
        for line in trend_lines:
            print(line)
        print("\nserver memory (uvicorn process, MiB): peak VmHWM / current VmRSS")
        for label, values in memory:
            print(f"  {label:<32} {values['VmHWM']:7.1f} / {values['VmRSS']:7.1f}")
        sized = [values for label, values in memory if label.startswith("after")]
        if len(sized) >= 2:
            growth = sized[-1]["VmHWM"] - sized[0]["VmHWM"]
            verdict = "met" if growth <= MEMORY_GROWTH_TOLERANCE_MIB else "NOT met"
            print(f"  peak growth from {args.sizes[0]} to {args.sizes[-1]} reports: {growth:+.1f} MiB "
                  f"(target: no growth, tolerance {MEMORY_GROWTH_TOLERANCE_MIB:.0f} MiB: {verdict})")
        if explain:
            print(f"\nEXPLAIN (ANALYZE, BUFFERS) at {args.sizes[-1]} reports, year {args.year}; "
                  f"nodes by their own time:")
            print("\n".join(explain))
        print(f"\ntotal run time {time.monotonic() - started:.0f}s; load average (1/5/15 min) at the start "
              f"{load_at_start}, at the end {load_average()}; {os.cpu_count()} CPUs. Anything else running on the "
              f"machine (a test suite, another benchmark) slows both sides and makes the times noisy.")
        if problems:
            print("\nFAILED: the endpoint and the hand-written SQL disagree:", file=sys.stderr)
            for line in problems:
                print(f"  {line}", file=sys.stderr)
            return 1
        return 0
    except Deadline:
        log(f"gave up after --max-minutes {args.max_minutes:g}")
        if server is not None:
            print(server.log_tail(), file=sys.stderr)
        return 2
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if server is not None:
            try:
                server.stop()
            except Exception as exc:  # noqa: BLE001 - clean-up must go on
                log(f"could not stop the server: {exc}")
        if client is not None:
            client.close()
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
        remove_scratch(admin_url if db_created else None, db_name, pg, tmp)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; server stopped and the scratch database removed")
        sys.exit(130)
