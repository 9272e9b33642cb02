"""Practice settings an admin changes: time zone, reminder time, fee year, app-lock minutes
(audited).

- The time zone defines every billing month (design §4), so changing it re-buckets time
  entries between months: it is refused while any month is closed, and the rollups are
  rebuilt in the same transaction.
- The fee year prices every month's expected amount: the rollups are rebuilt; a closed
  month keeps the totals recorded in its close audit row.
- The reminder time is the practice-local "HH:MM" of the daily digest.
- The app-lock minutes are how long a phone may sit idle before it asks for its PIN again
  (assets/field/lock.js); phones get it in their next sync pull (`me`).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from ccm_pwa.auth.access import require_role
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.domain.fee_schedule import fee_years
from ccm_pwa.models import MonthClose, MonthStatus, Practice, Role, User
from ccm_pwa.services.rollups import rebuild_rollups

_HH_MM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
# Under a minute locks mid-call; past half an hour an unattended phone stays open too long.
APP_LOCK_MINUTES = range(1, 31)


class SettingsError(ValueError):
    """A setting cannot be changed as asked; the message names it."""


def update_practice_settings(*, session: Session, admin: User, now: datetime,
                             timezone: str | None = None,
                             reminder_local_time: str | None = None,
                             fee_year: int | None = None, app_lock_minutes: int | None = None,
                             client: str = "") -> Practice:
    """Change the given settings (None: leave as is); one audit row with before/after."""
    require_role(admin, Role.ADMIN)
    practice = session.get(Practice, admin.practice_id)
    assert practice is not None
    changes: dict[str, dict[str, object]] = {}
    if timezone is not None and timezone != practice.timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"timezone: unknown time zone {timezone!r}") from None
        closed = session.exec(select(MonthClose.month).where(
            MonthClose.practice_id == practice.id,
            MonthClose.status == MonthStatus.CLOSED)).first()
        if closed is not None:
            raise SettingsError(f"timezone: {closed} is closed; changing the zone would move "
                                "time between closed months (reopen them first)")
        changes["timezone"] = {"from": practice.timezone, "to": timezone}
        practice.timezone = timezone
    if reminder_local_time is not None and reminder_local_time != practice.reminder_local_time:
        if not _HH_MM.fullmatch(reminder_local_time):
            raise SettingsError(f"reminder_local_time: {reminder_local_time!r} is not HH:MM")
        changes["reminder_local_time"] = {"from": practice.reminder_local_time,
                                          "to": reminder_local_time}
        practice.reminder_local_time = reminder_local_time
    if fee_year is not None and fee_year != practice.fee_year:
        if fee_year not in fee_years():
            raise SettingsError(f"fee_year: no fee table for {fee_year} (have "
                                f"{', '.join(map(str, fee_years()))})")
        changes["fee_year"] = {"from": practice.fee_year, "to": fee_year}
        practice.fee_year = fee_year
    if app_lock_minutes is not None and app_lock_minutes != practice.app_lock_minutes:
        if app_lock_minutes not in APP_LOCK_MINUTES:
            raise SettingsError(f"app_lock_minutes: {app_lock_minutes} is not between "
                                f"{APP_LOCK_MINUTES[0]} and {APP_LOCK_MINUTES[-1]}")
        changes["app_lock_minutes"] = {"from": practice.app_lock_minutes,
                                       "to": app_lock_minutes}
        practice.app_lock_minutes = app_lock_minutes
    if not changes:
        return practice
    session.add(practice)
    session.flush()
    if "timezone" in changes or "fee_year" in changes:
        rebuild_rollups(session=session, practice=practice)
    record_audit(session=session, action="practice.settings", user_id=admin.id, client=client,
                 occurred_at=now, detail=changes)
    return practice
