"""Online backups of the embedded SQLite database (PostgreSQL is backed up with its own tools: README).

SQLite's backup API copies the database page by page through a connection of its own. Done in one
step it holds a read transaction for the whole copy, so the copy is one consistent moment even while the
service keeps writing (in WAL mode writers are not blocked by that reader). The copy is checked with
`PRAGMA integrity_check` before it is given its final name, so a file with that name is always whole.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    pass


def sqlite_path(database_url: str) -> Path:
    """The database file a SQLite URL names; BackupError for any other database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError("`backup` copies the embedded SQLite database; back up PostgreSQL with pg_dump "
                          "(README, Backups)")
    if not url.database or url.database == ":memory:":
        raise BackupError("the database is in memory: there is no file to back up")
    return Path(url.database)


def default_destination(source: Path, now: datetime) -> Path:
    return source.parent / "backups" / f"{source.stem}-{now.strftime('%Y%m%dT%H%M%SZ')}{source.suffix or '.db'}"


def backup_sqlite(database_url: str, destination: Path) -> Path:
    """Copy the live database to `destination` (which must not exist yet) and check the copy."""
    source = sqlite_path(database_url)
    if not source.is_file():
        raise BackupError(f"no database file at {source}")
    if destination.exists():
        raise BackupError(f"{destination} exists already; a backup never overwrites a file")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    # Read-only URI: the backup can never change the live database, whatever goes wrong.
    with sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30) as live:
        target = sqlite3.connect(partial)
        try:
            live.backup(target)  # pages=-1: the whole database in one step, so one consistent moment
            # The copy keeps the live database's WAL mode; a backup file is easier to handle as one file.
            target.execute("PRAGMA journal_mode=DELETE")
            (result,) = target.execute("PRAGMA integrity_check").fetchone()
        finally:
            target.close()
    if result != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check: {result}")
    partial.rename(destination)
    return destination
