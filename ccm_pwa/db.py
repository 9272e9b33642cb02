"""Database engine and sessions: one engine per URL, shared by app, API, CLI and tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from ccm_pwa.config import load_settings


def _on_sqlite_connect(dbapi_connection, _record) -> None:
    # WAL lets the app read while a sync push writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _create_private(path: Path) -> None:
    """The database holds PHI: a new file (and its -wal/-shm, which SQLite creates with the
    database's mode) is readable by the app's user only, whatever the process umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> sa.Engine:
    """The engine for `url` (default: the configured database), created once per process."""
    url = url or load_settings().database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            _create_private(Path(path))
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        sa.event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    # Sessions in UTC: the driver then returns fixed-offset UTC datetimes, which are cheap
    # to compare (a month-end run reads a million of them) and never depend on server config.
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10,
                            connect_args={"options": "-c timezone=UTC"})


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
