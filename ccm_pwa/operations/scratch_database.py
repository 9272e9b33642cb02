"""Throw-away PostgreSQL databases: for a restore drill, a benchmark or a test run.

A drill restores into a scratch database, never the live one; benchmarks and tests need an
empty database of their own on a shared server. Each gets a unique name and is dropped
(with any connection still open to it) however the work ends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from ccm_pwa.db import get_engine


def postgres_unavailable_reason(server_url: str) -> str | None:
    """None when the server answers; otherwise why not, in one line (no password)."""
    try:
        engine = sa.create_engine(server_url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect is a reason to skip, said as such
        shown = sa.engine.make_url(server_url).render_as_string(hide_password=True)
        return f"PostgreSQL not reachable at {shown}: {type(exc).__name__}"
    return None


@contextmanager
def scratch_postgres_database(server_url: str, prefix: str = "ccm_scratch") -> Iterator[str]:
    """The URL of a new, empty database on `server_url`'s server, dropped afterwards."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(server_url).set(database=name).render_as_string(False)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
