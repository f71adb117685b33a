"""History import: 100 000 cases as NDJSON through the real POST /api/v1/imports/reports, timed, with the
server's peak memory.

    .venv/bin/python bench/import.py                          # SQLite (temp file) only
    .venv/bin/python bench/import.py --postgres-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres
    .venv/bin/python bench/import.py --rows 20000 --format csv

For each database: a fresh one (a temp SQLite file; on PostgreSQL a scratch database made on the given server
and dropped afterwards) is migrated and given the demo organisation; uvicorn serves the service on it (one
process, as `scripts/serve`); a generated file of --rows cases (closed and open, one to three enheter, every
type, some IVO/IMY notifications) is posted once as a stream, then posted again (every row unchanged: the
idempotent path). Printed per run: seconds, rows per second and the server's peak resident memory (VmHWM)
before and after. The target (issue 11): 100 000 rows in under a minute with flat memory. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.intake import Server, create_database, drop_database, log, service_cli, service_env  # noqa: E402
from service.demo import DEMO_ORGANISATION  # noqa: E402
from service.domain.org import OrgKind  # noqa: E402

IMPORT_PATH = "/api/v1/imports/reports"
SWEDEN = ZoneInfo("Europe/Stockholm")
TARGET_SECONDS = 60.0
CATEGORIES = ["treatment", "documentation", "care", "medication", "safety", "other", "not_stated"]
SEVERITIES = ["no_impropriety", "impropriety", "tangible_risk", "serious_impropriety", "serious_tangible_risk"]


def generated_rows(count: int, seed: int = 11) -> Iterator[dict]:
    """Cases received over 2020-2025 in the demo organisation's enheter; most closed, some still open."""
    rng = random.Random(seed)
    by_department: dict[str, list[str]] = {}
    for code, _, kind, parent in DEMO_ORGANISATION:
        if kind is OrgKind.unit and parent is not None:
            by_department.setdefault(parent, []).append(code)
    departments = sorted(by_department)
    start = datetime(2020, 1, 2, 8, 0, tzinfo=SWEDEN)
    for index in range(count):
        received = start + timedelta(minutes=rng.randrange(0, 6 * 365 * 24 * 60))
        units = rng.sample(by_department[rng.choice(departments)], rng.choice([1, 1, 1, 2, 3]))
        row: dict = {
            "source": rng.choice(["treserva", "procapita", "lifecare"]), "previous_case_number": f"H-{index:07d}",
            "received_at": received.isoformat(), "occurred_at": (received - timedelta(hours=20)).isoformat(),
            "noticed_at": (received - timedelta(hours=18)).isoformat(), "units": units,
            "category": rng.choice(CATEGORIES),
            "description": "Genererad historik för mätning av importen. " * rng.choice([1, 3, 8]),
            "immediate_actions": "Åtgärdat på plats.", "no_specific_subject": True,
        }
        closed = rng.random() < 0.9
        if closed or rng.random() < 0.5:
            kinds = rng.choice([["other_deviation"], ["lex_sarah"], ["complaint"], ["personal_data_incident"],
                                ["lex_sarah", "complaint"], ["not_a_deviation"]])
            types = []
            for report_type in kinds:
                finding: dict = {"type": report_type}
                if report_type == "lex_sarah":
                    finding["lex_sarah_severity"] = rng.choice(SEVERITIES)
                if report_type == "personal_data_incident":
                    finding["incident_risk"] = rng.choice(["no_risk", "risk"])
                if report_type == "complaint":
                    finding["complaint_kind"], finding["complaint_submitter"] = "complaint", "not_stated"
                types.append(finding)
            assessed = received + timedelta(hours=rng.randrange(1, 96))
            row["assessment"] = {"assessed_at": assessed.isoformat(), "types": types}
            if "lex_sarah" in kinds and rng.random() < 0.3:
                row["notifications"] = [{"authority": "ivo", "sent_at": (assessed + timedelta(days=5)).isoformat(),
                                         "investigation_attached": True}]
        row["status"] = "closed" if closed else "open"
        if closed:
            row["closed_at"] = (received + timedelta(days=rng.randrange(5, 120))).isoformat()
        yield row


def write_file(path: Path, count: int) -> int:
    with path.open("w", encoding="utf-8") as out:
        for row in generated_rows(count):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path.stat().st_size


def peak_rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in KiB: its resident memory now and at its peak."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far: on a busy machine, closer to a quiet machine's wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post_file(base_url: str, token: str, path: Path) -> tuple[float, dict]:
    def chunks() -> Iterator[bytes]:
        with path.open("rb") as source:
            while chunk := source.read(256 * 1024):
                yield chunk

    started = time.perf_counter()
    answer = httpx.post(base_url + IMPORT_PATH, content=chunks(), timeout=600.0,
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})
    seconds = time.perf_counter() - started
    if answer.status_code != 200:
        raise SystemExit(f"bench: import answered {answer.status_code}: {answer.text[:2000]}")
    return seconds, answer.json()


def run_once(name: str, database_url: str, data: Path, rows: int, tmp: Path) -> list[str]:
    env = service_env(make_url(database_url), tmp / "dev-key.pem")
    service_cli(env, "migrate")
    service_cli(env, "demo")
    token = service_cli(env, "devtoken", "--role", "admin", "--unit", "*", "--minutes", "120")
    server = Server(name, "service.asgi:app", env=env, workers=1, log_path=tmp / f"{name}.log", ready_path="/readyz")
    lines = []
    try:
        server.start(set())
        server.wait_ready()
        assert server.proc is not None
        rss_before, _ = peak_rss_kib(server.proc.pid)
        for attempt in ("first load", "same file again"):
            cpu_before = cpu_seconds(server.proc.pid)
            seconds, summary = post_file(server.base_url, token, data)
            cpu = cpu_seconds(server.proc.pid) - cpu_before
            _rss, peak = peak_rss_kib(server.proc.pid)
            load = Path("/proc/loadavg").read_text().split()[0]
            lines.append(f"{name:10} {attempt:16} {seconds:7.1f} s {rows / seconds:7.0f} rows/s  "
                         f"server CPU {cpu:6.1f} s  "
                         f"load {load:>5}  "
                         f"new {summary['new']:6} unchanged {summary['unchanged']:6}  "
                         f"RSS {rss_before / 1024:5.0f} MiB before, peak {peak / 1024:5.0f} MiB")
            log(lines[-1])
    finally:
        server.stop()
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres-url", help="a PostgreSQL server (a user that may CREATE DATABASE)")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)
    results: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        tmp = Path(folder)
        data = tmp / "history.ndjson"
        size = write_file(data, args.rows)
        log(f"{args.rows} rows, {size / 1e6:.1f} MB of NDJSON")
        if not args.no_sqlite:
            results += run_once("sqlite", f"sqlite:///{tmp / 'bench.db'}", data, args.rows, tmp)
        if args.postgres_url:
            admin_url = make_url(args.postgres_url)
            name = f"bench_import_{uuid.uuid4().hex[:8]}"
            url = create_database(admin_url, name)
            try:
                results += run_once("postgresql", url.render_as_string(hide_password=False), data, args.rows, tmp)
            finally:
                drop_database(admin_url, name)
    print("\n".join(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
