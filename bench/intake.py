"""Intake throughput: the real POST /api/v1/reports against a bare one-INSERT endpoint.

    .venv/bin/python bench/intake.py                  # throwaway PostgreSQL, 10 s per run
    .venv/bin/python bench/intake.py --seconds 5 --concurrency 32
    .venv/bin/python bench/intake.py --database-url postgresql+psycopg://user@host/postgres

Both servers run under uvicorn on 127.0.0.1 against one fresh database on the same
PostgreSQL server; concurrent httpx clients post reports to each in turn (bare, real,
bare, real, ...) and the best run of each is compared. The target is real/bare >= 0.50
with zero errors; the exit status is non-zero when any request failed.

Without --database-url a throwaway server is started the way scripts/test does it
(initdb + pg_ctl in a temp dir, as the `postgres` user when run as root, durability
off) and removed at the end. See bench/README.md for what the figures mean.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import math
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import URL, make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from service.demo import DEMO_ORGANISATION  # noqa: E402
from service.domain.org import OrgKind  # noqa: E402

HOST = "127.0.0.1"
REPORTS_PATH = "/api/v1/reports"
BARE_PATH = "/bare"
STARTUP_SECONDS = 60.0
REQUEST_TIMEOUT = 30.0
TARGET_RATIO = 0.50


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def run(cmd: list[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, text=True, timeout=timeout, **kwargs)


# --------------------------------------------------------------- throwaway PostgreSQL

class ThrowawayPostgres:
    """A private PostgreSQL server in `tmp`, started like scripts/test starts one."""

    def __init__(self, tmp: Path, *, max_connections: int) -> None:
        self.tmp = tmp
        self.dir = tmp / "pg"
        self.data = self.dir / "data"
        self.max_connections = max_connections
        self.pg_ctl = ""
        self.version = ""

    def _as_pg(self, cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        # initdb refuses root, so as root the server belongs to Debian's `postgres` user.
        # cwd=self.dir keeps that user out of a cwd it may not be able to read.
        if os.geteuid() != 0:
            full = cmd
        elif shutil.which("runuser"):
            full = ["runuser", "-u", "postgres", "--", *cmd]
        else:
            full = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]
        kwargs.setdefault("timeout", 120)
        return run(full, cwd=self.dir, **kwargs)

    @staticmethod
    def _find_bin() -> Path | None:
        def version(path: Path) -> tuple[int, ...]:
            return tuple(int(part) for part in path.parent.name.split(".") if part.isdigit())

        found = [path for path in Path("/usr/lib/postgresql").glob("*/bin")
                 if os.access(path / "initdb", os.X_OK) and os.access(path / "pg_ctl", os.X_OK)]
        return max(found, key=version) if found else None

    def start(self) -> URL:
        pg_bin = self._find_bin()
        if pg_bin is None:
            raise SystemExit("bench: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; run "
                             "scripts/test once (it installs Debian's postgresql package) or pass --database-url")
        self.pg_ctl = str(pg_bin / "pg_ctl")
        self.version = pg_bin.parent.name
        (self.dir / "sock").mkdir(parents=True)
        if os.geteuid() == 0:
            import pwd

            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise SystemExit("bench: running as root but there is no 'postgres' user to own the "
                                 "throwaway server; install Debian's postgresql package") from None
            for path in (self.dir, self.dir / "sock"):
                os.chown(path, account.pw_uid, account.pw_gid)
            self.tmp.chmod(0o711)  # the postgres user must reach self.dir through tmp

        initdb_log = self.dir / "initdb.log"
        initdb = [str(pg_bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--encoding=UTF8"]
        with initdb_log.open("w") as out:
            done = self._as_pg([*initdb, "--locale=C.UTF-8"], stdout=out, stderr=subprocess.STDOUT)
            if done.returncode != 0:  # some minimal images lack the C.UTF-8 locale
                self._as_pg(["rm", "-rf", str(self.data)])
                done = self._as_pg([*initdb, "--no-locale"], stdout=out, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            sys.stderr.write(initdb_log.read_text())
            raise SystemExit("bench: initdb failed")

        # Durability off, as in scripts/test: the data is thrown away.
        for _ in range(3):  # another process may grab the free port first
            port = free_port()
            options = (f"-c listen_addresses={HOST} -p {port} -k {self.dir / 'sock'} -c fsync=off "
                       f"-c synchronous_commit=off -c full_page_writes=off -c max_connections={self.max_connections}")
            started = self._as_pg([self.pg_ctl, "-D", str(self.data), "-l", str(self.dir / "server.log"),
                                   "-w", "-t", "60", "-s", "-o", options, "start"])
            if started.returncode == 0:
                return make_url(f"postgresql+psycopg://postgres@{HOST}:{port}/postgres")
        log_file = self.dir / "server.log"
        if log_file.exists():
            sys.stderr.write(log_file.read_text())
        raise SystemExit("bench: could not start the throwaway PostgreSQL server")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        pid = self.postmaster_pid()
        if pid is None:
            return
        try:
            self._as_pg([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-s", "stop"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        except subprocess.TimeoutExpired:
            pass
        if self.postmaster_pid() is not None:  # pg_ctl could not stop it: no server outlives the run
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ------------------------------------------------------------------------ databases

def admin_engine(url: URL) -> Engine:
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def create_database(admin_url: URL, name: str) -> URL:
    engine = admin_engine(admin_url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return admin_url.set(database=name)


def drop_database(admin_url: URL, name: str) -> None:
    engine = admin_engine(admin_url)
    try:
        with engine.connect() as connection:
            force = " WITH (FORCE)" if (connection.dialect.server_version_info or ()) >= (13,) else ""
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"{force}'))
    finally:
        engine.dispose()


def remove_scratch(admin_url: URL | None, db_name: str, pg: ThrowawayPostgres | None, tmp: Path) -> None:
    """The end of every benchmark, also after an error: drop its database (when `admin_url` is given), stop
    the throwaway PostgreSQL (if one was started) and remove the temp dir. Failures are logged, not raised."""
    if admin_url is not None:
        try:
            drop_database(admin_url, db_name)
        except Exception as exc:  # noqa: BLE001 - clean-up must go on
            log(f"could not drop database {db_name}: {exc}")
    if pg is not None:
        pg.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def execute(url: URL, sql: str) -> None:
    engine = admin_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


# -------------------------------------------------------------------------- servers

class Server:
    """One uvicorn process (plus its workers) on 127.0.0.1, logging to a file."""

    def __init__(self, name: str, app: str, *, env: dict[str, str], workers: int, log_path: Path,
                 ready_path: str, app_dir: Path | None = None) -> None:
        self.name = name
        self.app = app
        self.env = env
        self.workers = workers
        self.log_path = log_path
        self.ready_path = ready_path
        self.app_dir = app_dir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, taken: set[int]) -> None:
        self.port = free_port()
        while self.port in taken:
            self.port = free_port()
        taken.add(self.port)
        cmd = [sys.executable, "-m", "uvicorn", self.app, "--host", HOST, "--port", str(self.port),
               "--workers", str(self.workers), "--no-access-log", "--log-level", "warning"]
        if self.app_dir is not None:
            cmd += ["--app-dir", str(self.app_dir)]
        with self.log_path.open("ab") as out:
            # Own session: a Ctrl-C reaches only this script, which then stops the server itself.
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: {self.name} server exited with {self.proc.returncode}\n{self.log_tail()}")
            try:
                if httpx.get(self.base_url + self.ready_path, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"bench: {self.name} server not ready after {STARTUP_SECONDS:.0f}s\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this script created for it
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=15)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def print_log_tails(servers: list[Server]) -> None:
    """After failed requests: the end of each server's log, where the reason usually is."""
    for server in servers:
        tail = server.log_tail()
        if tail:
            print(f"--- last lines of the {server.name} server's log ---\n{tail}", file=sys.stderr)


def stop_all(servers: list[Server]) -> None:
    """Stop every server, also when one of them fails to stop: clean-up must go on."""
    for server in servers:
        try:
            server.stop()
        except Exception as exc:  # noqa: BLE001
            log(f"could not stop the {server.name} server: {exc}")


def tree_cpu_seconds(root_pid: int | None) -> float | None:
    """User+system CPU of a process, its live descendants and its reaped children (Linux /proc)."""
    if root_pid is None or not Path("/proc/self/stat").exists():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    cpu: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        parent[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    if root_pid not in cpu:
        return None
    total, todo = 0, [root_pid]
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / tick


# ------------------------------------------------------------------------------ load

@dataclass
class Result:
    target: str
    round: int
    requests: int = 0
    errors: int = 0
    warmup_errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_error: str | None = None
    cpu: dict[str, float | None] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000  # nearest rank


class Bodies:
    """Request bodies that differ per request: a counter in the text, the units in turn."""

    def __init__(self, units: list[str]) -> None:
        self.units = units
        self.counter = itertools.count(1)
        now = datetime.now(UTC)
        self.occurred_at = (now - timedelta(hours=3)).isoformat()
        self.noticed_at = (now - timedelta(hours=2)).isoformat()

    def real(self) -> dict:
        n = next(self.counter)
        return {
            "units": [self.units[n % len(self.units)]],
            "occurred_at": self.occurred_at,
            "noticed_at": self.noticed_at,
            "description": f"Bench-rapport {n}: brukaren fick fel läkemedel vid kvällsbesöket.",
            "immediate_actions": "Sjuksköterska kontaktad, brukaren observerad.",
            "subject_reference": f"Bench-{n % 1000}",
            "category": "medication",
        }

    def bare(self) -> dict:
        n = next(self.counter)
        return {"description": f"Bench-rapport {n}: brukaren fick fel läkemedel vid kvällsbesöket.",
                "unit": self.units[n % len(self.units)]}


async def drive(base_url: str, path: str, make_body: Callable[[], dict], headers: dict[str, str], *,
                concurrency: int, pool: int, warmup: float, seconds: float, result: Result,
                cpu_probes: dict[str, Callable[[], float | None]]) -> None:
    # SIGTERM cancels the load (asyncio.run already does that for SIGINT); the loop's handler
    # is swapped for ours again at the end, because closing the loop would reset it to default.
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    try:
        await _drive(base_url, path, make_body, headers, concurrency=concurrency, pool=pool, warmup=warmup,
                     seconds=seconds, result=result, cpu_probes=cpu_probes)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, interrupt)


async def _drive(base_url: str, path: str, make_body: Callable[[], dict], headers: dict[str, str], *,
                 concurrency: int, pool: int, warmup: float, seconds: float, result: Result,
                 cpu_probes: dict[str, Callable[[], float | None]]) -> None:
    # `concurrency` connections in all, spread over AsyncClients of `pool` connections each. One client
    # with one big pool costs the load generator about four times the CPU per request at 32 connections
    # (measured: ~3.5-4 ms against ~0.8 ms), and on a shared 2-core machine that would cap the bare
    # endpoint at the client's speed and flatter the ratio. --pool CONCURRENCY restores one shared client.
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(
                       httpx.AsyncClient(base_url=base_url, limits=limits, headers=headers,
                                         timeout=httpx.Timeout(REQUEST_TIMEOUT)))
                   for _ in range(math.ceil(concurrency / pool))]

        async def phase(length: float, record: bool) -> tuple[int, int, float]:
            counts = [0, 0]  # requests, errors
            start = time.perf_counter()
            deadline = start + length

            async def worker(client: httpx.AsyncClient) -> None:
                while time.perf_counter() < deadline:
                    body = make_body()
                    sent = time.perf_counter()
                    detail = None
                    try:
                        response = await client.post(path, json=body)
                        if not 200 <= response.status_code < 300:
                            detail = f"HTTP {response.status_code}: {response.text[:300]}"
                    except Exception as exc:  # noqa: BLE001 - every failure is an error to count
                        detail = f"{type(exc).__name__}: {exc}"
                    elapsed = time.perf_counter() - sent
                    counts[0] += 1
                    if detail is None:
                        if record:
                            result.latencies.append(elapsed)
                    else:
                        counts[1] += 1
                        result.first_error = result.first_error or detail

            await asyncio.gather(*(worker(clients[i // pool]) for i in range(concurrency)))
            return counts[0], counts[1], time.perf_counter() - start

        if warmup > 0:
            _, result.warmup_errors, _ = await phase(warmup, record=False)
        before = {name: probe() for name, probe in cpu_probes.items()}
        result.requests, result.errors, result.seconds = await phase(seconds, record=True)
        for name, probe in cpu_probes.items():
            start_cpu, end_cpu = before[name], probe()
            result.cpu[name] = (None if start_cpu is None or end_cpu is None
                                else 100 * (end_cpu - start_cpu) / result.seconds)


# ----------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/intake.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="SQLAlchemy URL of a PostgreSQL server whose user may CREATE "
                        "DATABASE (a scratch database is created and dropped there); default: a throwaway server")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each run (default 2)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--pool", type=int, default=1,
                        help="connections per httpx.AsyncClient; the clients together hold --concurrency "
                             "connections (default 1: one client per concurrent worker; see drive())")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers for each server (default 1)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="bare,real pairs; the best run of each target counts (default 2)")
    args = parser.parse_args(argv)
    for name in ("seconds", "concurrency", "pool", "workers", "rounds"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return args


def service_env(database_url: URL, key_path: Path) -> dict[str, str]:
    # The caller's own AVV_* settings must not change what is measured.
    env = {key: value for key, value in os.environ.items() if not key.startswith("AVV_")}
    env.update(AVV_DATABASE_URL=database_url.render_as_string(hide_password=False), AVV_AUTH_MODE="dev",
               AVV_DEV_KEY_PATH=str(key_path), AVV_ENVIRONMENT="development")
    return env


def service_cli(env: dict[str, str], *args: str) -> str:
    done = run([sys.executable, "-m", "service", *args], cwd=ROOT, env=env, capture_output=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"bench: `python -m service {' '.join(args)}` failed:\n{done.stderr}{done.stdout}")
    return done.stdout.strip()


def fmt_cpu(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


def print_table(results: list[Result], title: str) -> None:
    print(f"\n{title}")
    print(f"{'target':<6} {'round':>5} {'requests':>9} {'errors':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
          f"   cpu: client / server / postgres (100% = one core)")
    for r in results:
        print(f"{r.target:<6} {r.round:>5} {r.requests:>9} {r.errors + r.warmup_errors:>7} {r.rate:>9.1f} "
              f"{r.percentile_ms(0.50):>8.1f} {r.percentile_ms(0.99):>8.1f}   "
              f"{fmt_cpu(r.cpu.get('client'))} / {fmt_cpu(r.cpu.get('server'))} / {fmt_cpu(r.cpu.get('postgres'))}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A TERM cleans up like a Ctrl-C: through the finally block below (and see drive()).
    signal.signal(signal.SIGTERM, interrupt)

    units = [code for code, _name, kind, _parent in DEMO_ORGANISATION if kind == OrgKind.unit]
    tmp = Path(tempfile.mkdtemp(prefix="avv-bench.", dir=os.environ.get("TMPDIR") or "/tmp"))
    pg: ThrowawayPostgres | None = None
    admin_url: URL | None = None
    db_name = f"avv_bench_{uuid.uuid4().hex[:12]}"
    db_created = False
    servers: list[Server] = []
    results: list[Result] = []
    try:
        if args.database_url:
            admin_url = make_url(args.database_url)
            if admin_url.get_backend_name() != "postgresql":
                raise SystemExit("bench: --database-url must be a PostgreSQL URL")
            banner = f"PostgreSQL at {admin_url.render_as_string(hide_password=True)}"
        else:
            # Each server's engine may open 20 + 20 connections per worker.
            pg = ThrowawayPostgres(tmp, max_connections=max(200, 2 * 40 * args.workers + 20))
            started = time.monotonic()
            admin_url = pg.start()
            banner = (f"throwaway PostgreSQL {pg.version} on port {admin_url.port}, "
                      f"started in {time.monotonic() - started:.1f}s")
        log(banner)

        db_url = create_database(admin_url, db_name)
        db_created = True
        env = service_env(db_url, tmp / "dev-signing-key.pem")
        service_cli(env, "migrate")
        service_cli(env, "demo")
        expected = args.rounds * 2 * (args.warmup + args.seconds)
        token = service_cli(env, "devtoken", "--role", "reporter",
                            "--minutes", str(max(60, math.ceil(expected / 60) + 30)))
        execute(db_url, "CREATE TABLE bench_bare (id uuid PRIMARY KEY, body text NOT NULL, "
                        "received_at timestamptz NOT NULL)")
        log(f"database {db_name}: migrated, demo organisation loaded ({len(units)} enheter), bench_bare created")

        real = Server("real", "service.asgi:app", env=env, workers=args.workers, log_path=tmp / "real.log",
                      ready_path="/healthz")
        bare = Server("bare", "bare_app:app", env=env, workers=args.workers, log_path=tmp / "bare.log",
                      ready_path="/healthz", app_dir=BENCH)
        ports: set[int] = set()
        for server in (real, bare):
            servers.append(server)
            server.start(ports)
        for server in (real, bare):
            server.wait_ready()
        log(f"servers up: real {real.base_url}, bare {bare.base_url} ({args.workers} worker(s) each); "
            f"{args.rounds} round(s) of bare+real, {args.warmup:g}s warm-up + {args.seconds:g}s measured, "
            f"{args.concurrency} concurrent clients, {min(args.pool, args.concurrency)} connection(s) per httpx client")

        bodies = Bodies(units)
        headers = {"Authorization": f"Bearer {token}"}
        postmaster = pg.postmaster_pid() if pg else None
        for round_no in range(1, args.rounds + 1):
            for server, path, make_body in ((bare, BARE_PATH, bodies.bare), (real, REPORTS_PATH, bodies.real)):
                result = Result(target=server.name, round=round_no)
                assert server.proc is not None
                probes: dict[str, Callable[[], float | None]] = {
                    "client": time.process_time,
                    "server": functools.partial(tree_cpu_seconds, server.proc.pid),
                    "postgres": lambda: tree_cpu_seconds(postmaster),
                }
                try:
                    asyncio.run(drive(server.base_url, path, make_body, headers,
                                      concurrency=args.concurrency,
                                      pool=min(args.pool, args.concurrency), warmup=args.warmup,
                                      seconds=args.seconds, result=result, cpu_probes=probes))
                except asyncio.CancelledError:  # SIGTERM during the load
                    raise KeyboardInterrupt from None
                results.append(result)
                log(f"round {round_no} {server.name}: {result.requests} requests, "
                    f"{result.errors + result.warmup_errors} errors, {result.rate:.1f} req/s, "
                    f"p50 {result.percentile_ms(0.5):.1f} ms, p99 {result.percentile_ms(0.99):.1f} ms")

        best = {target: max((r for r in results if r.target == target), key=lambda r: r.rate)
                for target in ("bare", "real")}
        print_table(results, "all runs:")
        print_table([best["bare"], best["real"]], f"best of {args.rounds} (used for the ratio):")
        ratio = best["real"].rate / best["bare"].rate if best["bare"].rate else float("nan")
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(f"\nratio real/bare = {ratio:.2f} (target >= {TARGET_RATIO:.2f}: {verdict})")

        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"note: this machine has {cpus} CPU(s); the load generator (one Python process), both servers "
              f"and PostgreSQL all share them, so absolute req/s and latencies are pessimistic and the "
              f"real/bare ratio is the figure to compare. {banner}; {args.workers} uvicorn worker(s) per server; "
              f"{args.concurrency} concurrent clients.")

        errors = sum(r.errors + r.warmup_errors for r in results)
        if errors:
            print(f"\nFAILED: {errors} request(s) failed (warm-ups included)", file=sys.stderr)
            for r in results:
                if r.first_error:
                    print(f"  {r.target} round {r.round}: first error: {r.first_error}", file=sys.stderr)
            print_log_tails(servers)
            return 1
        return 0
    finally:
        stop_all(servers)
        if db_created and admin_url is not None:
            try:
                execute(admin_url.set(database=db_name), "DROP TABLE IF EXISTS bench_bare")
            except Exception as exc:  # noqa: BLE001
                log(f"could not drop table bench_bare: {exc}")
        remove_scratch(admin_url if db_created else None, db_name, pg, tmp)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped and temporary databases removed")
        sys.exit(130)
