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
