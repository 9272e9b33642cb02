"""Is a practice-month locked for billing? The one place every writer of time asks.

A closed month (`MonthClose.status == closed`) refuses new, voided or reviewed time until a
supervisor reopens it with a reason (services/month_close.py). Sync push checks it first
with its own words (`sync_mutations._refuse_closed_months`); `record_time_entry` and
`void_time_entry` check it again here, so a manual entry or a review decision cannot
slip past the lock either.
"""

from __future__ import annotations

import uuid
from datetime import datetime
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
