"""Shared fixtures: a migrated database per backend, emptied after every test.

Every test that takes `db_url` or `session` runs once on SQLite and once on PostgreSQL;
the browser tests run against the app on SQLite with on-disk state (one worker) and on
PostgreSQL with Redis state (two workers). When no PostgreSQL answers at 127.0.0.1:5432 (or
no Redis at 127.0.0.1:6379) those runs are skipped with a reason (pytest's -ra summary lists
it) — unless `CCM_REQUIRE_BACKENDS` names them (CI sets it), where a missing server fails
the run. The closing summary says which backends ran.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

import ccm_pwa.models  # noqa: F401  (registers the tables)
from ccm_pwa.db import get_engine
from ccm_pwa.migrations import upgrade
from ccm_pwa.operations import scratch_database as scratch

POSTGRES_ADMIN_URL = os.environ.get(
    "CCM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("CCM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = ["sqlite", "postgresql"]
_backends_used: dict[str, str] = {}
_REQUIRED = {name.strip() for name in os.environ.get("CCM_REQUIRE_BACKENDS", "").split(",")
             if name.strip()}


def note_backend(name: str, status: str) -> None:
    """Record what happened to a backend, for the closing summary."""
    if status == "ran" or name not in _backends_used:
        _backends_used[name] = status


def unavailable(backend: str, reason: str) -> None:
    """Skip (a laptop without the server) — or fail, when the run requires this backend."""
    note_backend(backend, f"skipped ({reason})")
    if backend in _REQUIRED:
        pytest.fail(f"{backend} is required (CCM_REQUIRE_BACKENDS) but {reason}")
    pytest.skip(reason)


def redis_unavailable_reason(url: str = REDIS_TEST_URL) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except (redis.RedisError, OSError) as exc:
        return f"Redis not reachable at {url}: {type(exc).__name__}"
    return None


def postgres_unavailable_reason() -> str | None:
    return scratch.postgres_unavailable_reason(POSTGRES_ADMIN_URL)


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL server, dropped at the end of the run."""
    reason = postgres_unavailable_reason()
    if reason:
        unavailable("postgresql", reason)
    with throwaway_postgres_database() as url:
        yield url


def throwaway_postgres_database() -> AbstractContextManager[str]:
    """A new, empty database on the local server; dropped (connections and all) after."""
    return scratch.scratch_postgres_database(POSTGRES_ADMIN_URL, prefix="ccm_test")


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'ccm_test.db'}"


_migrated: set[str] = set()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a migrated, empty database; emptied again after the test."""
    backend = request.param
    url = request.getfixturevalue(f"{backend}_url")
    if backend not in _migrated:
        upgrade(url)
        _migrated.add(backend)
    note_backend(backend, "ran")
    yield url
    empty_database(url)


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with Session(get_engine(db_url), expire_on_commit=False) as session:
        yield session


def empty_database(url: str) -> None:
    engine = get_engine(url)
    tables = list(SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(sa.text(f"TRUNCATE {names} CASCADE"))
        else:
            for table in reversed(tables):
                connection.execute(table.delete())


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CCM_DATA_DIR", str(tmp_path))
    return tmp_path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _backends_used:
        return
    terminalreporter.section("database backends")
    for backend in BACKENDS:
        terminalreporter.write_line(f"{backend}: {_backends_used.get(backend, 'not used')}")
    for name, status in _backends_used.items():
        if name not in BACKENDS:
            terminalreporter.write_line(f"{name}: {status}")
