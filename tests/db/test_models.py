"""Timestamps stay tz-aware through every backend; naive ones are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError
from sqlmodel import Session, select

from ccm_pwa.models import Practice


def test_timestamp_round_trips_as_aware_utc(session: Session) -> None:
    chicago_evening = datetime(2026, 11, 30, 23, 50, tzinfo=timezone(timedelta(hours=-6)))
    session.add(Practice(name="Lakeside", created_at=chicago_evening))
    session.commit()
    session.expire_all()
    stored = session.exec(select(Practice)).one().created_at
    assert stored.tzinfo is not None
    assert stored == chicago_evening
    assert stored.astimezone(UTC) == datetime(2026, 12, 1, 5, 50, tzinfo=UTC)


def test_naive_timestamp_is_refused(session: Session) -> None:
    session.add(Practice(name="Naive", created_at=datetime(2026, 11, 1, 12, 0)))
    with pytest.raises(StatementError, match="naive datetime"):
        session.commit()


def test_a_new_sqlite_database_is_private(tmp_path) -> None:
    """PHI at rest: the file, and the WAL SQLite writes beside it, are the app user's only."""
    import stat

    from ccm_pwa.db import get_engine
    from ccm_pwa.migrations import upgrade

    path = tmp_path / "new" / "ccm.db"
    upgrade(f"sqlite:///{path}")
    with get_engine(f"sqlite:///{path}").begin() as connection:
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS probe (x int)")
        connection.exec_driver_sql("INSERT INTO probe VALUES (1)")
        for name in ("ccm.db", "ccm.db-wal"):
            mode = stat.S_IMODE((path.parent / name).stat().st_mode)
            assert mode == 0o600, (name, oct(mode))
