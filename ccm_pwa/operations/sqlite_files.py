"""SQLite: copy the live database online, check a copy, and copy a backup back in.

Everything goes through SQLite's online backup API (`sqlite3.Connection.backup`) rather than
a file copy: the app runs in WAL mode, so committed pages may still sit in `ccm.db-wal`, and a
plain `cp` of `ccm.db` while the app writes can be missing them or be torn.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from ccm_pwa.operations.backup_files import BackupContents, BackupError, BackupKind

# How long a copy waits for another connection's lock before saying why it cannot go on.
LOCK_WAIT_SECONDS = 60.0


def database_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("the configured SQLite database lives in memory; nothing on disk to "
                          "back up or restore")
    return Path(database)


def copy_live_database(source: Path, destination: Path) -> None:
    """One consistent snapshot of `source`, WAL included, while the app keeps writing.

    The copy is switched out of WAL mode so it is one self-contained file: a WAL-mode copy
    would need its `-wal`/`-shm` companions to be opened read-only later.
    """
    if not source.is_file():
        raise BackupError(f"no database at {source} (run `ccm-pwa db upgrade` to create one)")
    try:
        with _closing(_open(source, "rw")) as origin, \
                _closing(sqlite3.connect(destination)) as copy:
            origin.backup(copy, progress=_give_up_after(LOCK_WAIT_SECONDS, source))
            copy.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise BackupError(f"copying {source} failed: {exc}") from exc


def read_backup(path: Path) -> BackupContents:
    """Integrity first: numbers read from a damaged file would only mislead the operator."""
    try:
        with _closing(_open(path, "ro")) as connection:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise BackupError(f"{path} is damaged: integrity check says {problems[0]!r}")
            tables = [name for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
            revision = None
            if "alembic_version" in tables:
                row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
            if revision is None:
                raise BackupError(f"{path} holds no ccm-pwa schema revision; it is not a ccm-pwa "
                                  f"backup")
            counts = {table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                      for table in tables if table != "alembic_version"}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is damaged or incomplete: {exc}") from exc
    return BackupContents(kind=BackupKind.SQLITE, revision=revision, counts=counts)


def copy_backup_into(backup: Path, target: Path) -> None:
    """Overwrite the target database page for page; the caller has checked the backup.

    The app should be stopped: its connections would otherwise see the database change
    under them (SQLite keeps the file consistent, the app's requests in flight would not be).
    A target that does not exist yet is created 0600, because it will hold PHI.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    try:
        with _closing(_open(backup, "ro")) as origin, \
                _closing(sqlite3.connect(target, timeout=LOCK_WAIT_SECONDS)) as destination:
            origin.backup(destination, progress=_give_up_after(LOCK_WAIT_SECONDS, target))
    except sqlite3.Error as exc:
        raise BackupError(f"copying the backup into {target} failed: {exc} (if that file is "
                          f"damaged beyond opening, move it aside and restore again)") from exc


def _open(path: Path, mode: str) -> sqlite3.Connection:
    """A URI connection, so a missing source is an error instead of a new empty database."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True,
                           timeout=LOCK_WAIT_SECONDS)


class _closing:
    """sqlite3's own context manager commits but does not close; these files must be closed."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, *_exc: object) -> None:
        self.connection.close()


def _give_up_after(seconds: float, path: Path) -> Callable[[int, int, int], None]:
    """Python's backup loop retries a locked database forever; stop and say why instead."""
    deadline = time.monotonic() + seconds

    def progress(status: int, _remaining: int, _total: int) -> None:
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and time.monotonic() > deadline:
            raise BackupError(f"{path} stayed locked by another program for {seconds:.0f} s "
                              f"(is the app still running? stop it before a restore)")

    return progress
