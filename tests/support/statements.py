"""Counting what a piece of work sends to the database: the sync tests and benchmarks hold
a push or a pull to a number of statements, whatever the batch or the caseload."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from ccm_pwa.db import get_engine


@contextmanager
def statements_sent(database: str | sa.Engine) -> Iterator[list[str]]:
    """Every statement sent meanwhile (an executemany counts once), in order."""
    engine = get_engine(database) if isinstance(database, str) else database
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
