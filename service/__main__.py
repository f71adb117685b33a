"""Command line: `python -m service COMMAND`. Run with --help for the list."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session

from service.config import get_settings
from service.db import make_engine
from service.domain.access import Role

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from service.audit import ChainHead


def _now() -> datetime:
    return datetime.now(UTC)


def cmd_migrate(_: argparse.Namespace) -> int:
    from service.migrate import upgrade

    settings = get_settings()
    _ensure_sqlite_folder(settings.database_url)
    upgrade(settings.database_url)
    return 0


def cmd_demo(_: argparse.Namespace) -> int:
    from service.demo import DEMO_GRANT_UNIT, ensure_grant, load_demo_organisation

    settings = get_settings()
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        created = load_demo_organisation(session, _now(), settings.report_categories)
        for role, unit in DEMO_GRANT_UNIT.items():
            ensure_grant(session, f"demo-{role.value}", role, unit, _now(), granted_by="system:demo")
        session.commit()
    print(f"demo organisation: {created} units created; demo users demo-<role> for every role", file=sys.stderr)
    return 0


def cmd_grant(args: argparse.Namespace) -> int:
    """The same use case as POST /api/v1/grants, as a system administrator on '*', with its access record."""
    from service import grants
    from service.domain.access import EVERYWHERE, Grant, Principal
    from service.domain.errors import DomainError

    settings = get_settings()
    if (problem := _not_ready_for_grants(settings.database_url)) is not None:
        print(f"grant: {problem}", file=sys.stderr)
        return 1
    administrator = Principal(subject="system:cli", display_name="Command line (python -m service grant)",
                              grants=(Grant(Role.admin, EVERYWHERE),))
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        try:
            grants.grant_role(session, administrator, args.subject, Role(args.role), args.unit, None, _now(),
                              settings)
        except DomainError as error:
            session.rollback()  # the refusal's access record, if any, is committed on its own
            if error.field == "role":  # already held: nothing to do, as before
                print(f"{args.subject} already holds {args.role} on {args.unit}", file=sys.stderr)
                return 0
            print(f"not granted: {error.detail}", file=sys.stderr)
            return 1 if error.field == "unit_code" else 2
        session.commit()
    print(f"granted {args.role} on {args.unit} to {args.subject}", file=sys.stderr)
    return 0


def _not_ready_for_grants(database_url: str) -> str | None:
    """Why grants cannot be stored in this database yet (with what to do), or None when they can.

    Looks before it touches anything: connecting would create an empty SQLite file where none was.
    """
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    parsed = make_url(database_url)
    shown = parsed.render_as_string(hide_password=True)
    migrate = "run `python -m service migrate` first (scripts/serve does when it starts)"
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).exists():
        return f"there is no database at {parsed.database}: {migrate}, or set AVV_DATABASE_URL or AVV_DATA_DIR " \
               "to the one the service uses"
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            migrated = inspector.has_table("org_unit") and inspector.has_table("role_grant")
    except SQLAlchemyError as error:
        return f"cannot use the database {shown}: {getattr(error, 'orig', None) or error}"
    finally:
        engine.dispose()
    return None if migrated else f"the database {shown} has no tables yet: {migrate}"


def cmd_devtoken(args: argparse.Namespace) -> int:
    from service.demo import DEMO_GRANT_UNIT, ensure_grant
    from service.tokens import MAX_SUBJECT_LENGTH, is_clean_text, load_or_create_dev_key

    settings = get_settings()
    if settings.auth_mode != "dev":
        print("devtoken works only with AVV_AUTH_MODE=dev", file=sys.stderr)
        return 2
    role = Role(args.role)
    subject = args.subject or f"demo-{role.value}"
    if len(subject) > MAX_SUBJECT_LENGTH or not is_clean_text(subject):
        # The service would refuse the token (and could not store the grant): say so now.
        print(f"--subject must be at most {MAX_SUBJECT_LENGTH} characters, without control characters",
              file=sys.stderr)
        return 2
    unit = args.unit or DEMO_GRANT_UNIT[role]
    if settings.grant_source == "service":
        if (problem := _not_ready_for_grants(settings.database_url)) is not None:
            print(f"devtoken: {problem}", file=sys.stderr)
            return 1
        engine = make_engine(settings.database_url)
        with Session(engine) as session:
            try:
                ensure_grant(session, subject, role, unit, _now(), granted_by="system:devtoken")
            except ValueError:
                print(_no_such_unit(role, unit, given=args.unit is not None), file=sys.stderr)
                return 1
            session.commit()
    claims = {"sub": subject, "name": args.name or f"Demo {role.value.replace('_', ' ')}",
              "grants": [{"role": role.value, "unit": unit}]}
    key = load_or_create_dev_key(settings.dev_key_path)
    print(key.mint(claims, issuer=settings.oidc_issuer, audience=settings.oidc_audience,
                   lifetime_seconds=args.minutes * 60))
    return 0


def _no_such_unit(role: Role, unit: str, *, given: bool) -> str:
    """What to do when the unit a development token's grant names is not in the database."""
    admin = "to create units, take an admin token for every förvaltning: " \
            "`python -m service devtoken --role admin --unit '*'`"
    if given:
        return (f"devtoken: there is no org unit with the code {unit!r}. Pass --unit with the code of an existing "
                f"unit, or load the demo organisation with `python -m service demo`; {admin}")
    return (f"devtoken: the database has no org unit {unit!r}, where the demo grants {role.value}: the demo "
            "organisation is not loaded (`scripts/serve --no-demo` leaves the database empty). Load it with "
            f"`python -m service demo`, or pass --unit with the code of a unit that exists; {admin}")


def cmd_verify_audit(args: argparse.Namespace) -> int:
    """Verify the chain, then the expected heads, and only then seal; the new head alone on stdout.

    stdout carries nothing but the head, `SEQ:HASH`, so that `>> file` or `| logger` keeps it outside
    the database; what happened goes to stderr. Exit 1 when anything does not fit, 2 for bad input.
    """
    from service import audit

    heads_file = Path(args.heads_file) if args.heads_file else None
    if args.append and heads_file is None:
        print("--append needs --heads-file", file=sys.stderr)
        return 2
    try:
        expected = [audit.ChainHead.parse(text) for text in args.expect_head]
        if heads_file is not None and (heads_file.exists() or not args.append):
            expected += _read_heads(heads_file)
    except (OSError, ValueError) as error:
        print(f"verify-audit: {error}", file=sys.stderr)
        return 2

    engine = make_engine(get_settings().database_url)
    try:
        checked = _verify_then_seal(engine, expected)
    finally:
        engine.dispose()
    if isinstance(checked, str):
        print(checked, file=sys.stderr)
        return 1
    sealed, head = checked
    vouched = f"; {len(set(expected))} expected head(s) found, the newest {max(expected)}" if expected else \
        "; no expected head given: records cut off the end, or the whole log re-sealed, cannot be noticed"
    if head is None:
        print(f"OK: the audit log is empty{vouched}", file=sys.stderr)
        return 0
    print(f"OK: {head.chain_seq} records, {sealed} sealed now{vouched}; head {head}", file=sys.stderr)
    print(head)
    if args.append and heads_file is not None and head not in expected:  # a head is kept once
        with heads_file.open("a") as out:
            out.write(f"{head}\n")
            out.flush()
            os.fsync(out.fileno())
    return 0


def _verify_then_seal(engine: Engine, expected: list[ChainHead]) -> tuple[int, ChainHead | None] | str:
    """(records sealed now, the new head), or what is wrong."""
    from service import audit

    def broken(found: audit.Broken) -> str:
        return f"BROKEN: audit record id {found.id} (chain_seq {found.chain_seq}): {found.reason}"

    with Session(engine) as session:
        # Verify what is sealed before sealing anything: sealing first would chain edited or re-numbered
        # records into a chain that then verifies.
        checked = audit.walk(session)
        if checked.broken is not None:
            return broken(checked.broken)
        problems = audit.check_heads(session, expected, checked.head)
        if problems:
            shown = [f"BROKEN: {problem}" for problem in problems[:20]]
            return "\n".join(shown + ([f"BROKEN: ... and {len(problems) - 20} more"] if len(problems) > 20 else []))
        sealed = audit.seal_all(session, _now())
        extended = audit.walk(session, checked.head)  # what was sealed now (or meanwhile by the app)
        if extended.broken is not None:
            return broken(extended.broken)
        return sealed, extended.head


def _read_heads(path: Path) -> list[ChainHead]:
    """Heads kept by earlier runs: `SEQ:HASH` per line; blank lines and `#` comments ignored."""
    from service.audit import ChainHead

    heads = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            try:
                heads.append(ChainHead.parse(text))
            except ValueError as error:
                raise ValueError(f"{path}, line {number}: {error}") from None
    return heads


def cmd_openapi(args: argparse.Namespace) -> int:
    from service.openapi_file import OPENAPI_PATH, render_openapi

    rendered = render_openapi()
    if args.check:
        if not OPENAPI_PATH.exists() or OPENAPI_PATH.read_text() != rendered:
            print(f"{OPENAPI_PATH} is out of date: run `python -m service openapi`", file=sys.stderr)
            return 1
        return 0
    OPENAPI_PATH.write_text(rendered)
    print(f"wrote {OPENAPI_PATH}", file=sys.stderr)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from service.backup import BackupError, backup_sqlite, default_destination, sqlite_path

    database_url = get_settings().database_url
    try:
        destination = Path(args.to) if args.to else default_destination(sqlite_path(database_url), _now())
        written = backup_sqlite(database_url, destination)
    except BackupError as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 1
    print(written)  # alone on stdout, for scripts that keep or ship the file
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.logs import configure_logging

    if not args.access_log:
        os.environ["AVV_ACCESS_LOG"] = "false"  # the service's own access line (service/api/observe.py)
    configure_logging()  # service.asgi does it again in each worker; a second call changes nothing
    settings = get_settings()
    cmd_migrate(args)
    if args.demo:
        cmd_demo(args)
    base = f"http://{args.host}:{args.port}"
    # The token command names this interpreter by its full path, so it works from any directory.
    # Without the demo organisation there is no unit to grant on: an admin everywhere can create them.
    role = "--role investigator" if args.demo else "--role admin --unit '*'"
    devtoken = f"{shlex.quote(sys.executable)} -m service devtoken {role}"
    print(
        f"\n  API docs:     {base}/docs\n"
        f"  OpenAPI:      {base}/openapi.json\n"
        f"  Database:     {settings.database_url}\n"
        f"  Dev token:    TOKEN=$({devtoken})\n"
        f"                curl -H \"Authorization: Bearer $TOKEN\" {base}/api/v1/org-units\n"
        f"  The server runs in the foreground until Ctrl-C: use another terminal for the commands above.\n",
        file=sys.stderr,
    )
    if settings.is_sqlite and args.workers > 1:
        print("SQLite is single-process: use PostgreSQL for more than one worker", file=sys.stderr)
        return 2
    uvicorn.run("service.asgi:app", host=args.host, port=args.port, workers=args.workers,
                # uvicorn's access log names the path as sent, which may hold ids: the service logs its own.
                log_level=args.log_level, access_log=False)
    return 0


def _ensure_sqlite_folder(url: str) -> None:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate the database, then run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="also load the demo organisation and demo users")
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--no-access-log", dest="access_log", action="store_false")
    serve.set_defaults(func=cmd_serve)

    commands.add_parser("migrate", help="upgrade the database to the newest schema").set_defaults(func=cmd_migrate)
    commands.add_parser("demo", help="load the demo organisation and demo users").set_defaults(func=cmd_demo)

    token = commands.add_parser("devtoken", help="print a development token (AVV_AUTH_MODE=dev only)")
    token.add_argument("--role", required=True, choices=[role.value for role in Role])
    token.add_argument("--unit", help="org unit code the role is granted on, or '*' (default: per role)")
    token.add_argument("--subject", help="default: demo-<role>")
    token.add_argument("--name", help="display name")
    token.add_argument("--minutes", type=int, default=60)
    token.set_defaults(func=cmd_devtoken)

    grant = commands.add_parser("grant", help="store a role grant (e.g. the first admin)")
    grant.add_argument("--subject", required=True)
    grant.add_argument("--role", required=True, choices=[role.value for role in Role])
    grant.add_argument("--unit", required=True, help="org unit code, or '*' for every förvaltning")
    grant.set_defaults(func=cmd_grant)

    verify = commands.add_parser(
        "verify-audit", help="check the audit log's hash chain against kept heads, then seal (exit 1 if broken)",
        description="Verify the access log's hash chain from its first record and every expected head (each "
                    "must still be in the chain with the same hash), then seal new records and print the new "
                    "head, SEQ:HASH, alone on stdout. Keep those heads where the database's users cannot "
                    "write (an append-only file, syslog): without them records cut off the end, an emptied "
                    "log or a re-sealed one cannot be noticed.")
    verify.add_argument("--expect-head", action="append", default=[], metavar="SEQ:HASH",
                        help="a head printed by an earlier run (repeatable)")
    verify.add_argument("--heads-file", metavar="FILE",
                        help="a file of heads, one SEQ:HASH per line (blank lines and # comments ignored)")
    verify.add_argument("--append", action="store_true",
                        help="after a successful run, append the new head to --heads-file (created if missing)")
    verify.set_defaults(func=cmd_verify_audit)

    spec = commands.add_parser("openapi", help="write openapi/openapi.json (or --check it)")
    spec.add_argument("--check", action="store_true")
    spec.set_defaults(func=cmd_openapi)

    backup = commands.add_parser("backup", help="copy the embedded SQLite database while it serves (checked copy)")
    backup.add_argument("--to", help="the new file (default: backups/<name>-<UTC time>.db beside the database)")
    backup.set_defaults(func=cmd_backup)

    args = parser.parse_args(argv)
    from service.db import install_session_listeners

    install_session_listeners()  # sessions opened here behave as the app's do
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
