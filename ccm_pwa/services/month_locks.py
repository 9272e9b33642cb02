"""Is a practice-month locked for billing? The one place every writer of time asks.

A closed month (`MonthClose.status == closed`) refuses new, voided or reviewed time until a
supervisor reopens it with a reason (services/month_close.py). New time is judged with the
closed months read once per batch (`closed_months`, used by services/time_entries.py for
domain/time_rules.py); `void_time_entry` and the review queue ask `refuse_closed_months`,
so a void or a review decision cannot slip past the lock either.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from ccm_pwa.domain.calendar import YearMonth, split_by_month
from ccm_pwa.models import MonthClose, MonthStatus, Practice


class MonthClosed(ValueError):
    """The time falls in a month closed for billing; the message says which and what to do."""


def closed_months(*, session: Session, practice_id: uuid.UUID,
                  months: list[YearMonth]) -> list[str]:
    """The months of `months` that are closed, "YYYY-MM", oldest first."""
    if not months:
        return []
    found = session.exec(select(MonthClose.month).where(
        MonthClose.practice_id == practice_id, MonthClose.month.in_([str(m) for m in months]),
        MonthClose.status == MonthStatus.CLOSED))
    return sorted(found)


def is_month_closed(*, session: Session, practice_id: uuid.UUID, month: YearMonth) -> bool:
    return bool(closed_months(session=session, practice_id=practice_id, months=[month]))


def refuse_closed_months(*, session: Session, practice: Practice, start: datetime,
                         end: datetime) -> None:
    """Raise MonthClosed when any practice-local month that [start, end) touches is closed."""
    months = [month for month, _s, _e in split_by_month(start, end, ZoneInfo(practice.timezone))]
    closed = closed_months(session=session, practice_id=practice.id, months=months)
    if closed:
        raise MonthClosed(f"{closed[0]} is closed for billing: ask a supervisor to reopen it")


def refuse_closed_entry(*, session: Session, practice: Practice, started_at: datetime,
                        duration_seconds: int) -> None:
    """`refuse_closed_months` for an entry's own span (a zero-length entry still has an
    instant, so it is locked with the month it is in)."""
    refuse_closed_months(session=session, practice=practice, start=started_at,
                         end=started_at + timedelta(seconds=max(duration_seconds, 1)))
