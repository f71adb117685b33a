"""Mixed load: submissions, audited reads, lists, timelines and statistics, against a bare audited read.

    .venv/bin/python bench/load.py                        # throwaway PostgreSQL, 60 s mix (~3 minutes in all)
    .venv/bin/python bench/load.py --database sqlite      # the embedded default, a file in a temp dir
    .venv/bin/python bench/load.py --seconds 5            # a quick end-to-end check
    .venv/bin/python bench/load.py --database-url postgresql+psycopg://user@host/postgres

One fresh database (a throwaway PostgreSQL server as bench/intake.py starts one, a server given with
--database-url, or a SQLite file) is migrated, given the demo organisation and seeded with --reports
reports straight through SQL (--assessed of them then assessed through the API, so timelines and
statistics have content). Two uvicorn servers on 127.0.0.1 share it: the service as deployed, and
bench/bare_app.py, whose GET /bare/reports/{id} does one SELECT of the report row and one access-log
INSERT, committed. Then, with concurrent keep-alive clients:

1. each kind alone for --phase-seconds (bare read, read, list of 50, timeline, statistics, submission),
   so the ratios are clean;
2. submissions and single reads alone at each of --levels concurrent clients (p50/p90/p99);
3. the mix for --seconds, every client picking its next request by --mix weights.

It prints rates and latencies per kind and PASS/FAIL against the targets of issue 13. The exit status
is 1 when any request failed, 0 otherwise (a missed target is reported, not a failure). Servers,
databases and temp dirs are removed on any exit, Ctrl-C and SIGTERM included. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.engine import URL, make_url  # noqa: E402
from sqlmodel import col  # noqa: E402

from bench.bare_app import bench_access, bench_metadata  # noqa: E402

# The throwaway server, databases, uvicorn processes and service CLI are handled as bench/intake.py does.
from bench.intake import (  # noqa: E402
    REQUEST_TIMEOUT,
    Server,
    ThrowawayPostgres,
    create_database,
    execute,
    interrupt,
    log,
    print_log_tails,
    remove_scratch,
    service_cli,
    service_env,
    stop_all,
    tree_cpu_seconds,
)
from service.db import make_engine  # noqa: E402
from service.demo import DEMO_ORGANISATION  # noqa: E402
from service.domain.deadlines import Policy, first_assessment_deadline  # noqa: E402
from service.domain.org import OrgKind  # noqa: E402
from service.domain.reports import case_number  # noqa: E402
from service.models import (  # noqa: E402
    CaseDeadline,
    CaseEvent,
    CaseNumberSequence,
    OrgUnit,
    Report,
    ReportUnit,
    table_of,
)

API = "/api/v1"
TIME_ZONE = ZoneInfo("Europe/Stockholm")  # the service's default (Settings.time_zone)
KINDS = ("bare_read", "read", "list", "timeline", "stats", "submit")
SERVICE_KINDS = KINDS[1:]
DEFAULT_MIX = "read=50,list=15,timeline=15,submit=15,stats=5"
LIST_SIZE = 50
# Targets of issue 13.
TARGET_READ_RATIO = 0.8   # audited single read >= 0.8 x the bare read
TARGET_LIST_RATIO = 0.5   # a list of 50 >= 0.5 x the bare read
TARGET_P99_MS = {16: 100.0, 32: 250.0}  # submissions and single reads, per concurrency level


# ------------------------------------------------------------------------------ results

@dataclass
class Stats:
    """One kind of request in one phase."""

    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    first_error: str | None = None

    def rate(self, seconds: float) -> float:
        return (self.requests - self.errors) / seconds if seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000  # nearest rank


@dataclass
class Phase:
    name: str
    concurrency: int
    seconds: float = 0.0
    kinds: dict[str, Stats] = field(default_factory=dict)
    warmup_errors: int = 0
    warmup_first_error: str | None = None
    cpu: dict[str, float | None] = field(default_factory=dict)

    def stats(self, kind: str) -> Stats:
        return self.kinds.setdefault(kind, Stats())

    @property
    def errors(self) -> int:
        return self.warmup_errors + sum(s.errors for s in self.kinds.values())


# ---------------------------------------------------------------------------- requests

@dataclass
class Workload:
    """What each kind of request asks, with ids picked at random from the seeded reports."""

    units: list[str]
    report_ids: list[str]
    assessed_ids: list[str]
    tokens: dict[str, str]  # role -> bearer token
    rng: random.Random = field(default_factory=lambda: random.Random(13))
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        now = datetime.now(UTC)
        self.occurred_at = (now - timedelta(hours=3)).isoformat()
        self.noticed_at = (now - timedelta(hours=2)).isoformat()
        self.headers = {role: {"Authorization": f"Bearer {token}"} for role, token in self.tokens.items()}

    def request(self, kind: str) -> tuple[str, str, dict[str, str], dict | None]:
        """(method, path, headers, json body)"""
        if kind == "bare_read":
            return "GET", f"/bare/reports/{self.rng.choice(self.report_ids)}", {}, None
        if kind == "read":
            return "GET", f"{API}/reports/{self.rng.choice(self.report_ids)}", self.headers["investigator"], None
        if kind == "list":
            return "GET", f"{API}/reports?limit={LIST_SIZE}", self.headers["investigator"], None
        if kind == "timeline":
            return ("GET", f"{API}/reports/{self.rng.choice(self.assessed_ids)}/timeline",
                    self.headers["investigator"], None)
        if kind == "stats":
            return "GET", f"{API}/statistics/annual-table", self.headers["statistics"], None
        if kind == "submit":
            n = next(self.counter)
            return "POST", f"{API}/reports", self.headers["reporter"], {
                "units": [self.units[n % len(self.units)]],
                "occurred_at": self.occurred_at,
                "noticed_at": self.noticed_at,
                "description": f"Lastprov {n}: brukaren föll i badrummet under kvällsbesöket.",
                "immediate_actions": "Sjuksköterska kontaktad, brukaren observerad.",
                "subject_reference": f"Last-{n % 1000}",
                "category": "care",
            }
        raise ValueError(kind)


def parse_mix(text: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in SERVICE_KINDS:
            raise ValueError(f"unknown kind {name!r} (one of {', '.join(SERVICE_KINDS)})")
        weights[name] = float(value)
        if weights[name] < 0:
            raise ValueError(f"negative weight for {name}")
    if not any(weights.values()):
        raise ValueError("all weights are zero")
    return weights


# ----------------------------------------------------------------------------- the driver

async def drive(base_url: str, choose: Callable[[], str], workload: Workload, *, concurrency: int,
                warmup: float, seconds: float, phase: Phase,
                cpu_probes: dict[str, Callable[[], float | None]]) -> None:
    # SIGTERM cancels the load (asyncio.run already does that for SIGINT); our handler is put back at
    # the end, because closing the loop would reset it to the default (as in bench/intake.py).
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    try:
        await _drive(base_url, choose, workload, concurrency=concurrency, warmup=warmup, seconds=seconds,
                     phase=phase, cpu_probes=cpu_probes)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, interrupt)


async def _drive(base_url: str, choose: Callable[[], str], workload: Workload, *, concurrency: int,
                 warmup: float, seconds: float, phase: Phase,
                 cpu_probes: dict[str, Callable[[], float | None]]) -> None:
    # One AsyncClient with one keep-alive connection per concurrent worker: a shared client with a big
    # pool costs the generator about four times the CPU per request (bench/README.md, "The load generator").
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(
                       httpx.AsyncClient(base_url=base_url, limits=limits, timeout=httpx.Timeout(REQUEST_TIMEOUT)))
                   for _ in range(concurrency)]

        # Warm-up and measurement are one run without a pause: a connection left idle between them (while
        # slow requests of the warm-up finish) would meet uvicorn's 5 s keep-alive timeout, and its next
        # request a closed connection. Requests sent after the warm-up count.
        start = time.perf_counter()
        measured_from = start + warmup
        deadline = measured_from + seconds
        before: dict[str, float | None] = {}

        async def probe_start() -> None:
            await asyncio.sleep(max(0.0, measured_from - time.perf_counter()))
            before.update({name: probe() for name, probe in cpu_probes.items()})

        async def worker(client: httpx.AsyncClient) -> None:
            while (sent := time.perf_counter()) < deadline:
                kind = choose()
                method, path, headers, body = workload.request(kind)
                detail = None
                try:
                    response = await client.request(method, path, headers=headers, json=body)
                    if not 200 <= response.status_code < 300:
                        detail = f"{kind} {method} {path}: HTTP {response.status_code}: {response.text[:300]}"
                except Exception as exc:  # noqa: BLE001 - every failure is an error to count
                    detail = f"{kind} {method} {path}: {type(exc).__name__}: {exc}"
                elapsed = time.perf_counter() - sent
                if sent < measured_from:
                    if detail is not None:
                        phase.warmup_errors += 1
                        phase.warmup_first_error = phase.warmup_first_error or detail
                    continue
                stats = phase.stats(kind)
                stats.requests += 1
                if detail is None:
                    stats.latencies.append(elapsed)
                else:
                    stats.errors += 1
                    stats.first_error = stats.first_error or detail

        await asyncio.gather(probe_start(), *(worker(client) for client in clients))
        phase.seconds = time.perf_counter() - measured_from
        for name, probe in cpu_probes.items():
            start_cpu, end_cpu = before[name], probe()
            phase.cpu[name] = (None if start_cpu is None or end_cpu is None
                               else 100 * (end_cpu - start_cpu) / phase.seconds)


# ------------------------------------------------------------------------------- seeding

def seed_reports(db_url: str, count: int, reporter_subject: str) -> list[str]:
    """`count` reports received over the last 60 days, written as the intake writes them (report, enhet,
    timeline event, first-assessment deadline, case-number counter), in one transaction. Their ids."""
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            units = connection.execute(select(col(OrgUnit.id), col(OrgUnit.code), col(OrgUnit.path))
                                       .where(col(OrgUnit.kind) == OrgKind.unit.value)
                                       .order_by(col(OrgUnit.code))).all()
            admin_id, admin_code = connection.execute(
                select(col(OrgUnit.id), col(OrgUnit.code))
                .where(col(OrgUnit.kind) == OrgKind.administration.value)).one()
            now = datetime.now(UTC)
            rng = random.Random(2026)
            offsets = sorted((rng.uniform(60, 60 * 24 * 3600) for _ in range(count)), reverse=True)
            last_number: dict[int, int] = {}
            reports, report_units, events, deadlines = [], [], [], []
            ids = []
            for n, offset in enumerate(offsets):  # oldest first, so case numbers follow received_at
                received_at = now - timedelta(seconds=offset)
                received_on = received_at.astimezone(TIME_ZONE).date()
                last_number[received_on.year] = last_number.get(received_on.year, 0) + 1
                unit_id, unit_code, _path = units[n % len(units)]
                report_id = uuid.uuid4()
                ids.append(str(report_id))
                description = f"Seedrapport {n}: brukaren fick fel läkemedel vid kvällsbesöket."
                actions = "Sjuksköterska kontaktad, brukaren observerad."
                reports.append(dict(
                    id=report_id, case_number=case_number(admin_code, received_on.year, last_number[received_on.year]),
                    administration_id=admin_id, status="reported", category=("medication", "care", "other")[n % 3],
                    channel="web_form", occurred_at=received_at - timedelta(hours=5),
                    noticed_at=received_at - timedelta(hours=4), received_at=received_at, received_on=received_on,
                    registered_at=received_at,
                    description=description, immediate_actions=actions, subject_reference=f"Seed-{n % 500}",
                    no_specific_subject=False, reporter_subject=reporter_subject, reporter_name="Demo reporter",
                    reporter_title=None, submitted_by=reporter_subject, external_reference=None,
                    payload_sha256="0" * 64, reported_late=False,
                    search_text=f"{description}\n{actions}".casefold()))
                report_units.append({"report_id": report_id, "unit_id": unit_id, "received_on": received_on})
                events.append({"report_id": report_id, "at": received_at, "actor_subject": reporter_subject,
                               "actor_name": "Demo reporter", "kind": "reported",
                               "detail": json.dumps({"changes": {"status": [None, "reported"],
                                                                 "units": [None, [unit_code]]}})})
                first = first_assessment_deadline(received_at, Policy())
                deadlines.append({"report_id": report_id, "kind": first.kind.value, "due_at": first.due_at})
            for table, rows in ((Report, reports), (ReportUnit, report_units), (CaseEvent, events),
                                (CaseDeadline, deadlines)):
                for start in range(0, len(rows), 1000):
                    connection.execute(insert(table_of(table)), rows[start:start + 1000])
            connection.execute(insert(table_of(CaseNumberSequence)),
                               [{"administration_id": admin_id, "year": year, "last_number": number}
                                for year, number in last_number.items()])
    finally:
        engine.dispose()
    return ids


async def assess_reports(base_url: str, token: str, report_ids: list[str], *, concurrency: int = 8) -> None:
    """One bedömning each, through the API: a timeline of two events and counted types for statistics."""
    types = ({"type": "other_deviation"}, {"type": "not_a_deviation"},
             {"type": "lex_sarah", "lex_sarah_severity": "impropriety"})
    todo = iter(enumerate(report_ids))
    headers = {"Authorization": f"Bearer {token}"}

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=base_url, headers=headers,
                                     timeout=httpx.Timeout(REQUEST_TIMEOUT)) as client:
            for n, report_id in todo:
                body = {"types": [types[n % len(types)]], "justification": "Bedömd i lastprovet."}
                response = await client.post(f"{API}/reports/{report_id}/assessments", json=body)
                if response.status_code != 201:
                    raise SystemExit(f"bench: assessing {report_id} failed: HTTP {response.status_code}: "
                                     f"{response.text[:300]}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


# ----------------------------------------------------------------------------- printing

def fmt_cpu(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


def ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


HEADER = (f"{'kind':<10} {'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} "
          f"{'p99 ms':>8}")


def row(kind: str, phase: Phase) -> str:
    s = phase.stats(kind)
    return (f"{kind:<10} {phase.concurrency:>7} {s.requests:>8} {s.errors:>6} {s.rate(phase.seconds):>8.1f} "
            f"{ms(s.percentile_ms(0.5)):>8} {ms(s.percentile_ms(0.9)):>8} {ms(s.percentile_ms(0.99)):>8}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# ----------------------------------------------------------------------------------- main

def py_spy_path() -> str | None:
    """py-spy next to this Python (a virtualenv's bin/) or on PATH."""
    return shutil.which("py-spy", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/load.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql",
                        help="postgresql (default: a throwaway server, or --database-url) or sqlite (a file in "
                             "a temp dir, the embedded default)")
    parser.add_argument("--database-url", help="SQLAlchemy URL of a PostgreSQL server whose user may CREATE "
                        "DATABASE (a scratch database is created and dropped there); default: a throwaway server")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds of the mix (default 60)")
    parser.add_argument("--phase-seconds", type=float,
                        help="measured seconds of each single-kind phase (default: --seconds / 6, 2 to 8)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each phase (default 1)")
    parser.add_argument("--concurrency", type=int, default=32,
                        help="concurrent clients for the single-kind phases and the mix (default 32)")
    parser.add_argument("--levels", default="16,32",
                        help="concurrency levels for the submission and read latency table (default 16,32)")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"weights of the mix (default {DEFAULT_MIX})")
    parser.add_argument("--reports", type=int, default=3000, help="reports seeded through SQL (default 3000)")
    parser.add_argument("--assessed", type=int, default=300,
                        help="of those, assessed through the API; timelines read these (default 300)")
    parser.add_argument("--py-spy", metavar="DIR", type=Path,
                        help="profile the server during every phase with py-spy (pip install py-spy; not a project "
                             "dependency), sampling only threads that hold the GIL; collapsed stacks go to "
                             "DIR/<database>-<phase>.txt. The sampling costs CPU: figures of such a run are "
                             "for reading the profile, not for the table")
    args = parser.parse_args(argv)
    if args.py_spy is not None and not py_spy_path():
        parser.error("--py-spy needs py-spy installed (pip install py-spy)")
    if args.database_url and args.database != "postgresql":
        parser.error("--database-url is for --database postgresql")
    if args.phase_seconds is None:
        args.phase_seconds = min(8.0, max(2.0, args.seconds / 6))
    for name in ("seconds", "phase_seconds", "concurrency", "reports", "assessed"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.assessed > args.reports:
        parser.error("--assessed must not exceed --reports")
    try:
        args.levels = sorted({int(level) for level in args.levels.split(",")})
        args.mix = parse_mix(args.mix)
    except ValueError as exc:
        parser.error(str(exc))
    if any(level <= 0 for level in args.levels):
        parser.error("--levels must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt)  # a TERM cleans up like a Ctrl-C, through the finally below

    units = [code for code, _name, kind, _parent in DEMO_ORGANISATION if kind == OrgKind.unit]
    tmp = Path(tempfile.mkdtemp(prefix="avv-load.", dir=os.environ.get("TMPDIR") or "/tmp"))
    pg: ThrowawayPostgres | None = None
    admin_url: URL | None = None
    db_name = f"avv_load_{uuid.uuid4().hex[:12]}"
    db_created = False
    servers: list[Server] = []
    phases: list[Phase] = []
    try:
        if args.database == "sqlite":
            db_url = make_url(f"sqlite:///{tmp / 'load.db'}")
            banner = f"SQLite file {db_url.database}"
        else:
            if args.database_url:
                admin_url = make_url(args.database_url)
                if admin_url.get_backend_name() != "postgresql":
                    raise SystemExit("bench: --database-url must be a PostgreSQL URL")
                banner = f"PostgreSQL at {admin_url.render_as_string(hide_password=True)}"
            else:
                pg = ThrowawayPostgres(tmp, max_connections=200)  # two servers of up to 40 connections each
                started = time.monotonic()
                admin_url = pg.start()
                banner = (f"throwaway PostgreSQL {pg.version} on port {admin_url.port}, "
                          f"started in {time.monotonic() - started:.1f}s")
            db_url = create_database(admin_url, db_name)
            db_created = True
        log(banner)

        env = service_env(db_url, tmp / "dev-signing-key.pem")
        service_cli(env, "migrate")
        service_cli(env, "demo")
        phase_count = len(KINDS) + 2 * len(args.levels)
        expected = phase_count * (args.warmup + args.phase_seconds) + args.warmup + args.seconds
        minutes = str(max(60, math.ceil(expected / 60) + 30))
        tokens = {role: service_cli(env, "devtoken", "--role", role, "--minutes", minutes)
                  for role in ("reporter", "investigator", "statistics")}
        url_text = db_url.render_as_string(hide_password=False)
        started = time.monotonic()
        report_ids = seed_reports(url_text, args.reports, reporter_subject="demo-reporter")
        engine = make_engine(url_text)
        try:
            bench_metadata.create_all(engine, tables=[bench_access])
        finally:
            engine.dispose()
        log(f"seeded {args.reports} reports through SQL in {time.monotonic() - started:.1f}s")

        if args.database == "postgresql":
            # A live database has planner statistics (autovacuum keeps them); a fresh bulk load has none
            # until autovacuum comes by, and the plans for empty tables are ruinous at 3000 reports.
            execute(db_url, "ANALYZE")

        real = Server("real", "service.asgi:app", env=env, workers=1, log_path=tmp / "real.log",
                      ready_path="/healthz")
        bare = Server("bare", "bare_app:app", env=env, workers=1, log_path=tmp / "bare.log",
                      ready_path="/healthz", app_dir=BENCH)
        ports: set[int] = set()
        for server in (real, bare):
            servers.append(server)
            server.start(ports)
        for server in (real, bare):
            server.wait_ready()

        started = time.monotonic()
        assessed = random.Random(7).sample(report_ids, args.assessed)
        asyncio.run(assess_reports(real.base_url, tokens["investigator"], assessed))
        log(f"assessed {len(assessed)} of them through the API in {time.monotonic() - started:.1f}s; "
            f"servers: real {real.base_url}, bare {bare.base_url}")

        workload = Workload(units=units, report_ids=report_ids, assessed_ids=assessed, tokens=tokens)
        postmaster = pg.postmaster_pid() if pg else None

        def measure(name: str, server: Server, choose: Callable[[], str], concurrency: int, seconds: float) -> Phase:
            phase = Phase(name=name, concurrency=concurrency)
            assert server.proc is not None
            probes: dict[str, Callable[[], float | None]] = {
                "client": time.process_time,
                "server": functools.partial(tree_cpu_seconds, server.proc.pid),
                "postgres": lambda: tree_cpu_seconds(postmaster),
            }
            spy = None
            if args.py_spy is not None:
                args.py_spy.mkdir(parents=True, exist_ok=True)
                out = args.py_spy / f"{args.database}-{name.replace(' ', '-')}.txt"
                spy = subprocess.Popen([py_spy_path() or "py-spy", "record", "-p", str(server.proc.pid), "--gil",
                                        "-r", "100",
                                        "--format", "raw", "-o", str(out), "-d", str(math.ceil(args.warmup + seconds))],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                asyncio.run(drive(server.base_url, choose, workload, concurrency=concurrency, warmup=args.warmup,
                                  seconds=seconds, phase=phase, cpu_probes=probes))
            except asyncio.CancelledError:  # SIGTERM during the load
                raise KeyboardInterrupt from None
            finally:
                if spy is not None:
                    try:
                        spy.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        spy.kill()
                        spy.wait()
            phases.append(phase)
            summary = ", ".join(f"{kind} {s.rate(phase.seconds):.0f} req/s p99 {ms(s.percentile_ms(0.99))} ms"
                                for kind, s in phase.kinds.items())
            log(f"{name} ({concurrency} clients, {phase.seconds:.1f}s): {summary}; {phase.errors} errors")
            return phase

        # 1. Each kind alone.
        alone: dict[str, Phase] = {}
        for kind in KINDS:
            alone[kind] = measure(f"alone {kind}", bare if kind == "bare_read" else real,
                                  functools.partial(str, kind), args.concurrency, args.phase_seconds)
        # 2. Submissions and single reads per concurrency level (the alone phases serve their own level).
        levels: dict[tuple[int, str], Phase] = {}
        for level in args.levels:
            for kind in ("submit", "read"):
                levels[(level, kind)] = (alone[kind] if level == args.concurrency else
                                         measure(f"level {level} {kind}", real, functools.partial(str, kind), level,
                                                 args.phase_seconds))
        # 3. The mix.
        names, weights = list(args.mix), list(args.mix.values())
        mix_rng = random.Random(42)
        mix = measure("mix", real, lambda: mix_rng.choices(names, weights)[0], args.concurrency, args.seconds)

        # ---- report
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"\nbench/load.py on {args.database}: {banner}; {args.reports} reports seeded, {args.assessed} "
              f"assessed; {cpus} CPU(s); one uvicorn worker per server; {args.warmup:g}s warm-up per phase")
        print(f"\n1. each kind alone, {args.phase_seconds:g}s each "
              f"(bare_read: bench/bare_app.py, one SELECT + one access-log INSERT)")
        print(f"{HEADER}   cpu: client / server / postgres (100% = one core)")
        for kind in KINDS:
            phase = alone[kind]
            print(f"{row(kind, phase)}   {fmt_cpu(phase.cpu.get('client'))} / {fmt_cpu(phase.cpu.get('server'))}"
                  f" / {fmt_cpu(phase.cpu.get('postgres'))}")
        print(f"\n2. submissions and single reads per concurrency level ({args.database})")
        print(HEADER)
        for level in args.levels:
            for kind in ("submit", "read"):
                print(row(kind, levels[(level, kind)]))
        print(f"\n3. the mix, {args.seconds:g}s, {args.concurrency} clients, weights "
              + ", ".join(f"{k}={v:g}" for k, v in args.mix.items()))
        print(HEADER)
        for kind in names:
            print(row(kind, mix))
        total = sum(s.requests - s.errors for s in mix.kinds.values())
        print(f"{'all':<10} {args.concurrency:>7} {sum(s.requests for s in mix.kinds.values()):>8} "
              f"{sum(s.errors for s in mix.kinds.values()):>6} {total / mix.seconds:>8.1f}   "
              f"cpu: client {fmt_cpu(mix.cpu.get('client'))}, server {fmt_cpu(mix.cpu.get('server'))}, "
              f"postgres {fmt_cpu(mix.cpu.get('postgres'))}")

        bare_rate = alone["bare_read"].stats("bare_read").rate(alone["bare_read"].seconds)

        def ratio(kind: str) -> float:
            return alone[kind].stats(kind).rate(alone[kind].seconds) / bare_rate if bare_rate else float("nan")

        errors = sum(phase.errors for phase in phases)
        print("\ntargets (issue 13):")
        read_ratio, list_ratio = ratio("read"), ratio("list")
        print(f"{verdict(read_ratio >= TARGET_READ_RATIO)}  audited single read / bare read = {read_ratio:.2f} "
              f"(target >= {TARGET_READ_RATIO:.2f})")
        print(f"{verdict(list_ratio >= TARGET_LIST_RATIO)}  list of {LIST_SIZE} / bare single read = {list_ratio:.2f} "
              f"(target >= {TARGET_LIST_RATIO:.2f})")
        for level in args.levels:
            target = TARGET_P99_MS.get(level)
            if target is None:
                continue
            for kind in ("submit", "read"):
                p99 = levels[(level, kind)].stats(kind).percentile_ms(0.99)
                print(f"{verdict(p99 < target)}  p99 of {'submissions' if kind == 'submit' else 'single reads'} at "
                      f"{level} clients = {ms(p99)} ms (target < {target:g} ms)")
        print(f"{verdict(errors == 0)}  errors = {errors} (target 0; warm-ups included)")
        print(f"note: the load generator, both servers{' and PostgreSQL' if args.database != 'sqlite' else ''} "
              f"share this machine's {cpus} CPU(s): ratios compare between runs, absolute figures less so.")

        if errors:
            print(f"\nFAILED: {errors} request(s) failed", file=sys.stderr)
            for phase in phases:
                if phase.warmup_first_error:
                    print(f"  {phase.name} warm-up: first error: {phase.warmup_first_error}", file=sys.stderr)
                for kind, s in phase.kinds.items():
                    if s.first_error:
                        print(f"  {phase.name} {kind}: first error: {s.first_error}", file=sys.stderr)
            print_log_tails(servers)
            return 1
        return 0
    finally:
        stop_all(servers)
        remove_scratch(admin_url if db_created else None, db_name, pg, tmp)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped and temporary databases removed")
        sys.exit(130)
