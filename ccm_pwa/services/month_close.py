"""Closing a billing month: the final checks, the lock, and the audited reopen.

Rules (docs/supervisor.md):
- only a supervisor or admin of the practice closes or reopens;
- a month closes only after it has ended, practice-local (the last day's work must be in);
- a blocking check refuses the close; there is no override: the fix is in the data (void
  a double-logged entry, record the consent, …) or in reopening later. Warnings (undecided
  review items) do not block; their counts go into the close's audit row;
- the close locks the month: sync, `record_time_entry`, voids and review decisions for
  its time are refused (services/month_locks.py) until `reopen_month` with a reason;
- the close's audit row keeps the CSV's claim lines, total and SHA-256, so what was
  closed can be compared with what the month says later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.domain.calendar import YearMonth, local_date
from ccm_pwa.models import MonthClose, MonthStatus, Practice, User
from ccm_pwa.services.billing_report import claim_rows, rows_as_csv
from ccm_pwa.services.close_checks import CheckResult, Finding, close_checks
from ccm_pwa.services.record_versions import bump_practice
from ccm_pwa.services.team_scope import require_overseer

__all__ = ["CheckResult", "Finding", "MonthCloseError", "MonthState", "close_checks",
           "close_month", "month_state", "reopen_month"]


class MonthCloseError(ValueError):
    """The month cannot be closed or reopened as asked; `checks` holds the failing checks."""

    def __init__(self, message: str, checks: list[CheckResult] | None = None) -> None:
        super().__init__(message)
        self.checks = checks or []


@dataclass(frozen=True)
class MonthState:
    """Where a month stands. `closed_by`/`closed_at` stay after a reopen (the last close);
    `reopened_reason` is the last reopen's reason ("" if never reopened)."""

    month: str
    status: str  # "open" | "closed"
    ended: bool  # the practice-local month is over, so it may be closed
    closed_by_id: str | None
    closed_by: str
    closed_at: str | None  # ISO-8601, practice-local
    reopened_reason: str


def month_state(*, session: Session, practice: Practice, month: YearMonth,
                now: datetime) -> MonthState:
    row = _row(session, practice, month)
    zone = ZoneInfo(practice.timezone)
    closer = session.get(User, row.closed_by_id) if row and row.closed_by_id else None
    return MonthState(
        month=str(month), status=str(row.status) if row else str(MonthStatus.OPEN),
        ended=local_date(now, zone) > month.last_day,
        closed_by_id=str(closer.id) if closer else None,
        closed_by=closer.name if closer else "",
        closed_at=row.closed_at.astimezone(zone).isoformat() if row and row.closed_at else None,
        reopened_reason=row.reopened_reason if row else "")


def close_month(*, session: Session, practice: Practice, month: YearMonth, by: User,
                now: datetime, client: str = "") -> MonthState:
    """Run the checks and lock the month; MonthCloseError says why not (with the checks)."""
    _require_closer(by, practice)
    if local_date(now, ZoneInfo(practice.timezone)) <= month.last_day:
        raise MonthCloseError(f"{month} has not ended yet (practice time): it can be closed "
                              f"from {month.following().first_day.isoformat()}")
    row = _row(session, practice, month, for_update=True)
    if row is not None and row.status == MonthStatus.CLOSED:
        raise MonthCloseError(f"{month} is already closed")
    checks = close_checks(session=session, practice=practice, month=month, now=now)
    failing = [c for c in checks if c.blocks_close]
    if failing:
        count = sum(1 for c in failing for f in c.findings if f.blocking)
        record_audit(session=session, action="month.close", user_id=by.id, client=client,
                     outcome="refused", occurred_at=now,
                     detail={"month": str(month), "failing": [c.name for c in failing],
                             "blocking_findings": count})
        raise MonthCloseError(
            f"{month} cannot be closed: {count} blocking finding(s) in "
            + ", ".join(c.name for c in failing), checks)
    rows = claim_rows(session=session, practice=practice, month=month)
    total = sum((Decimal(r.amount) for r in rows if r.amount), Decimal("0.00"))
    if row is None:
        row = MonthClose(practice_id=practice.id, month=str(month))
    row.status, row.closed_by_id, row.closed_at = MonthStatus.CLOSED, by.id, now
    session.add(row)
    record_audit(session=session, action="month.close", user_id=by.id, client=client,
                 occurred_at=now, detail={
                     "month": str(month), "claim_lines": len(rows),
                     "patients": len({r.mrn for r in rows}), "expected_amount": f"{total:.2f}",
                     "csv_sha256": hashlib.sha256(rows_as_csv(rows).encode()).hexdigest(),
                     "warnings": {c.name: len(c.findings) for c in checks
                                  if c.findings and not c.blocks_close}})
    session.flush()
    bump_practice(session, practice.id)  # phones show which months are closed
    return month_state(session=session, practice=practice, month=month, now=now)


def reopen_month(*, session: Session, practice: Practice, month: YearMonth, by: User,
                 reason: str, now: datetime, client: str = "") -> MonthState:
    """Unlock a closed month for corrections; the reason is kept and audited."""
    _require_closer(by, practice)
    reason = reason.strip()
    if not reason:
        raise MonthCloseError("reopening a month needs a reason")
    row = _row(session, practice, month, for_update=True)
    if row is None or row.status != MonthStatus.CLOSED:
        raise MonthCloseError(f"{month} is not closed")
    row.status, row.reopened_reason = MonthStatus.OPEN, reason
    session.add(row)
    record_audit(session=session, action="month.reopen", user_id=by.id, client=client,
                 occurred_at=now, detail={
                     "month": str(month), "reason": reason,
                     "closed_by": str(row.closed_by_id) if row.closed_by_id else None,
                     "closed_at": row.closed_at.isoformat() if row.closed_at else None})
    session.flush()
    bump_practice(session, practice.id)
    return month_state(session=session, practice=practice, month=month, now=now)


def _require_closer(user: User, practice: Practice) -> None:
    require_overseer(user)
    if user.practice_id != practice.id or not user.active:
        raise AccessDenied


def _row(session: Session, practice: Practice, month: YearMonth,
         for_update: bool = False) -> MonthClose | None:
    query = select(MonthClose).where(MonthClose.practice_id == practice.id,
                                     MonthClose.month == str(month))
    if for_update:
        query = query.with_for_update()  # two supervisors closing at once: one waits
    return session.exec(query).first()
