"""Where an audited read's time goes: statements per request and a profile of the whole request, in-process.

    .venv/bin/python bench/reads.py                                   # a temporary SQLite file
    .venv/bin/python bench/reads.py --database-url postgresql+psycopg://user@host:5432/postgres
    .venv/bin/python bench/reads.py --profile 40                      # also print the 40 costliest functions
    .venv/bin/python bench/reads.py --dump /tmp/prof                  # cProfile files to read with pstats
    .venv/bin/python bench/reads.py --calls                           # Python calls per request, under cProfile

One database is migrated, given the demo organisation and seeded with --reports reports (as bench/load.py
seeds them; PostgreSQL is then ANALYZEd). The service app is built as deployed (token, grant and org caches
on, audit sealer off) and driven in this process, one request at a time, through httpx's ASGI transport,
with the thread pool replaced by a direct call so that the profile sees the endpoint's own work too. For
a trivial route of the bare app (the floor: the in-process client and the ASGI stack), the bare read of
bench/bare_app.py, two steps between it and the audited read (the bare read with the service's own SELECT;
the service's read served by a plain Starlette route, without FastAPI's routing and dependency solving:
what a fast path beside FastAPI could save at most), GET /api/v1/reports/{id}, GET /api/v1/reports?limit=50
and a read of an id that does not exist (refused, logged) it prints the CPU time of this process per request
(the least of --rounds interleaved rounds: on a shared machine others can only slow a round down), its ratio
to the bare read, and the statements each request sends (a `before_cursor_execute` listener on the engine; an
executemany counts once). Caches are warmed first, so what is counted is the request itself. The profile
(--profile, --dump, --calls) measures CPU time too; under it each line also gives the Python calls per request,
a count that, unlike CPU time, does not move with what else the machine is doing: the figure to compare
before and after a change to the Python side. With a PostgreSQL server URL a scratch database is created
and dropped. The HTTP client's own work is in the figures of every kind alike.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import random
import re
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, event, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio.to_thread
import httpx
from fastapi import FastAPI
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.bare_app import bench_access, bench_metadata, create_app as create_bare_app
from bench.load import seed_reports
from service import reports as core_reports
from service.api.deps import get_principal
from service.api.reports import _read  # the endpoint's own answer, private to it: measured as it is
from service.config import Settings
from service.db import make_engine
from service.demo import ensure_grant, load_demo_organisation
from service.domain.access import Role
from service.main import create_app
from service.migrate import upgrade
from service.tokens import StaticKeySource, TokenVerifier, load_or_create_dev_key

warnings.simplefilter("ignore")
ISSUER, AUDIENCE = "urn:avvikelser:bench", "avvikelser-bench"


def mount_outside_fastapi(app: FastAPI) -> str:
    """The service's single read as a plain Starlette route in front of the app's routes: the same token check,
    grants, reading session, use case, access record, answer and middlewares, but none of FastAPI's routing,
    parameter checking or dependency solving. For measuring only; returns the path it serves under."""
    async def read_report(request: Request) -> Response:
        principal = await get_principal(request)
        engine = request.app.state.reading_engine

        def read() -> str:
            with Session(engine, expire_on_commit=False) as session:
                view = core_reports.get_report(session, principal, request.path_params["report_id"])
                session.commit()
            return _read(view).model_dump_json()

        return Response(await run_in_threadpool(read), media_type="application/json")

    app.router.routes.insert(0, Route("/bench/outside-fastapi/{report_id:uuid}", read_report, methods=["GET"]))
    return "/bench/outside-fastapi"


async def _inline(func, *args, abandon_on_cancel=False, cancellable=None, limiter=None):  # type: ignore[no-untyped-def]
    return func(*args)


def statement_kind(statement: str) -> str:
    word = statement.lstrip().split(None, 1)[0].upper()
    return "SELECT" if word in ("SELECT", "WITH") else word


def python_calls(profiler: cProfile.Profile) -> int:
    """Every call the profiler saw, recursive ones included (what pstats prints as "function calls")."""
    return sum(calls for _primitive, calls, *_times in pstats.Stats(profiler).stats.values())  # type: ignore[attr-defined]


def run(url: str, workdir: Path, *, reports: int, requests: int, profile_lines: int,
        dump: Path | None = None, rounds: int = 3, calls: bool = False) -> None:
    upgrade(url)
    setup = make_engine(url)
    with Session(setup) as session:
        from datetime import UTC, datetime
        load_demo_organisation(session, datetime.now(UTC))
        ensure_grant(session, "ivar", Role.investigator, "SOC", datetime.now(UTC), granted_by="bench")
        session.commit()
    bench_metadata.create_all(setup, tables=[bench_access])
    setup.dispose()
    ids = seed_reports(url, reports, reporter_subject="demo-reporter")
    if url.startswith("postgresql"):
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(text("ANALYZE"))

    key = load_or_create_dev_key(workdir / "key.pem")
    settings = Settings(database_url=url, oidc_issuer=ISSUER, oidc_audience=AUDIENCE, dev_key_path=workdir / "no",
                        cursor_secret="bench", audit_seal_seconds=0)
    verifier = TokenVerifier(StaticKeySource(key.public_jwks()), issuer=ISSUER, audience=AUDIENCE,
                             cache_seconds=settings.token_cache_seconds)
    app = create_app(settings, clock=None, token_verifier=verifier)
    outside_fastapi = mount_outside_fastapi(app)
    bare = create_bare_app(url)
    gc.collect()
    gc.freeze()  # as service/asgi.py does once the app is built: the collector then walks only what requests make
    headers = {"Authorization": f"Bearer {key.mint({'sub': 'ivar', 'name': 'Ivar'}, issuer=ISSUER, audience=AUDIENCE)}"}
    counted: Counter = Counter()
    listened = []
    for engine in (app.state.engine,):
        def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            counted[statement_kind(statement)] += 1
        event.listen(engine, "before_cursor_execute", count)
        listened.append((engine, count))
    rng = random.Random(1)
    anyio.to_thread.run_sync = _inline  # type: ignore[assignment]

    async def drive() -> None:
        transports = {"real": httpx.ASGITransport(app=app), "bare": httpx.ASGITransport(app=bare)}
        clients = {name: httpx.AsyncClient(transport=t, base_url="http://bench") for name, t in transports.items()}
        kinds = {
            "nothing (the bare app's /healthz)": ("bare", lambda: "/healthz"),
            "bare read": ("bare", lambda: f"/bare/reports/{rng.choice(ids)}"),
            "bare read, the service's SELECT": ("bare", lambda: f"/bare/scoped-reports/{rng.choice(ids)}"),
            "audited read outside FastAPI's routing": ("real", lambda: f"{outside_fastapi}/{rng.choice(ids)}"),
            "audited read": ("real", lambda: f"/api/v1/reports/{rng.choice(ids)}"),
            "list of 50": ("real", lambda: "/api/v1/reports?limit=50"),
            "read, not found": ("real", lambda: f"/api/v1/reports/{uuid.uuid4()}"),
        }
        cpu_ms: dict[str, float] = {}
        statements: dict[str, dict[str, int]] = {}
        profiled = bool(profile_lines or dump or calls)
        # CPU time, not wall time: on a shared machine waiting for a core is not the code's cost.
        profilers = {name: cProfile.Profile(time.process_time) for name in kinds}
        status: dict[str, int] = {}
        for name, (target, path) in kinds.items():
            for _ in range(5):  # warm caches and the statement cache
                await clients[target].get(path(), headers=headers)
            counted.clear()
            status[name] = (await clients[target].get(path(), headers=headers)).status_code
            statements[name] = dict(counted)
        # Interleaved rounds, the least CPU per request of each kind counts: on a shared machine a round
        # can only be slowed down by others, never sped up.
        for _ in range(rounds):
            for name, (target, path) in kinds.items():
                started = time.process_time()
                if profiled:
                    profilers[name].enable()
                for _ in range(requests):
                    await clients[target].get(path(), headers=headers)
                profilers[name].disable()
                spent = (time.process_time() - started) / requests * 1000
                cpu_ms[name] = min(cpu_ms.get(name, spent), spent)
        for name, (target, _path) in kinds.items():
            once = statements[name]
            print(f"{name}: HTTP {status[name]}, {cpu_ms[name]:.2f} ms CPU per request"
                  + (f" (under cProfile), {python_calls(profilers[name]) / (requests * rounds):.0f}"
                     " Python calls per request" if profiled else "")
                  + (f", {cpu_ms[name] / cpu_ms['bare read']:.2f} x the bare read" if name != "bare read" else "")
                  + ", statements per request: "
                  + (", ".join(f"{k} {v}" for k, v in sorted(once.items())) if target == "real" else "n/a")
                  + f" (all {sum(once.values())})" * (target == "real"))
            if dump is not None:
                profilers[name].dump_stats(str(dump / (re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") + ".prof")))
            if profile_lines:
                out = io.StringIO()
                pstats.Stats(profilers[name], stream=out).sort_stats("cumulative").print_stats(profile_lines)
                print(out.getvalue())
        for client in clients.values():
            await client.aclose()

    async def served() -> None:
        # The app's lifespan runs as under uvicorn: on SQLite its checkpointer keeps the write-ahead log short,
        # without which every read would search a log that only grows.
        async with app.router.lifespan_context(app):
            await drive()

    asyncio.run(served())
    for engine, count in listened:
        event.remove(engine, "before_cursor_execute", count)
    app.state.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server whose user may CREATE DATABASE")
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=200, help="requests per kind and round (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the least CPU counts (default 3)")
    parser.add_argument("--dump", type=Path, help="write each kind's cProfile statistics to DIR/<kind>.prof")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the N costliest functions")
    parser.add_argument("--calls", action="store_true", help="count Python calls per request (runs under cProfile)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="avv-reads.") as tmp:
        if not args.database_url:
            run(f"sqlite:///{Path(tmp) / 'reads.db'}", Path(tmp), reports=args.reports, requests=args.requests,
                profile_lines=args.profile, dump=args.dump, rounds=args.rounds, calls=args.calls)
            return 0
        admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
        name = f"avv_bench_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(make_url(args.database_url).set(database=name).render_as_string(hide_password=False), Path(tmp),
                reports=args.reports, requests=args.requests, profile_lines=args.profile, dump=args.dump,
                rounds=args.rounds, calls=args.calls)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
