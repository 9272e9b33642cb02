"""Record and void care-management time: append-only events plus their rollups, atomically."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from ccm_pwa.auth.audit import record_audit
from ccm_pwa.models import (
    Activity,
    Patient,
    PerformerKind,
    Practice,
    TimeEntry,
    TimeEntryVoid,
    TimeSource,
    User,
    utc_now,
)
from ccm_pwa.services.month_locks import MonthClosed, refuse_closed_months
from ccm_pwa.services.rollups import months_of_entry, refresh_patient_months

# A stretch longer than a day is a stuck timer, not care-management work.
MAX_ENTRY_SECONDS = 24 * 3600
LONG_ENTRY_SECONDS = 90 * 60
# Clocks drift and a timer stops a moment after the server's "now": only beyond this is an
# entry that ends in the future flagged for review.
FUTURE_TOLERANCE = timedelta(minutes=5)


# Medicare's timely-filing limit is 12 months after the date of service: older time can
# never be billed, so it is refused rather than stored (a wrong date, a reset clock).
OLDEST_MONTHS = 12


class TimeEntryError(ValueError):
    """The entry cannot be recorded or voided as asked; the message says why."""


def check_entry_window(started_at: datetime, duration_seconds: int, now: datetime,
                       clock_skew_seconds: float | None = None) -> None:
    """Refuse time that cannot be real: starting before the timely-filing window, or ending
    after now — beyond FUTURE_TOLERANCE, plus the device's own clock lead when its push
    said what its clock read (that entry is kept, flagged for review)."""
    first_month = now.year * 12 + now.month - 1 - OLDEST_MONTHS
    earliest = now.replace(year=first_month // 12, month=first_month % 12 + 1, day=1, hour=0,
                           minute=0, second=0, microsecond=0)
    latest_end = now + FUTURE_TOLERANCE + timedelta(seconds=max(0.0, clock_skew_seconds or 0.0))
    try:
        too_old = started_at < earliest
        too_late = started_at + timedelta(seconds=duration_seconds) > latest_end
    except OverflowError:  # beyond the calendar's end: not a real call either
        too_old, too_late = False, True
    if too_old:
        raise TimeEntryError(f"started_at: before {earliest:%Y-%m-%d}, more than "
                             f"{OLDEST_MONTHS} months ago (Medicare's timely-filing limit)")
    if too_late:
        raise TimeEntryError("started_at: this call would end in the future "
                             f"(after {latest_end:%Y-%m-%d %H:%M} UTC): check the phone's clock")


def record_time_entry(
    *,
    session: Session,
    patient_id: uuid.UUID,
    performer: User,
    started_at: datetime,
    duration_seconds: int,
    activity: Activity,
    note: str = "",
    source: TimeSource = TimeSource.TIMER,
    entry_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
    performer_kind: PerformerKind | None = None,
    refresh: bool = True,
) -> TimeEntry:
    """Store one entry and refresh the patient's rollups; a replayed id is returned as is.

    `refresh=False`: the caller refreshes the rollups itself before committing (a sync push
    refreshes every touched patient once, at its end).
    """
    if started_at.tzinfo is None or started_at.utcoffset() is None:
        raise TimeEntryError("started_at must carry a time zone offset")
    if not 0 < duration_seconds <= MAX_ENTRY_SECONDS:
        raise TimeEntryError(
            f"duration_seconds must be between 1 and {MAX_ENTRY_SECONDS}, got {duration_seconds}")
    if entry_id is not None and (existing := session.get(TimeEntry, entry_id)) is not None:
        if existing.patient_id != patient_id or existing.performer_id != performer.id:
            raise TimeEntryError(f"entry {entry_id} already exists for another patient or person")
        return existing  # the same entry seen twice counts once
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise TimeEntryError(f"no patient {patient_id}")
    _refuse_if_closed(session, patient, started_at, duration_seconds)
    now = utc_now()
    flags = []
    if source == TimeSource.MANUAL:
        flags.append("manual")
    if duration_seconds > LONG_ENTRY_SECONDS:
        flags.append("over_90_min")
    if started_at + timedelta(seconds=duration_seconds) > now + FUTURE_TOLERANCE:
        flags.append("future_dated")  # it cannot have ended yet: a wrong clock or a typo
    entry = TimeEntry(
        id=entry_id or uuid.uuid4(), patient_id=patient_id, performer_id=performer.id,
        performer_kind=performer_kind or performer.performer_kind, activity=activity, note=note,
        started_at=started_at, duration_seconds=duration_seconds, source=source,
        occurred_at=occurred_at or now, received_at=now, review_flags=flags,
    )
    session.add(entry)
    session.flush()
    record_audit(session=session, action="time_entry.record", user_id=performer.id,
                 patient_id=patient_id, detail={"entry": str(entry.id), "seconds": duration_seconds,
                                                "source": str(source)}, occurred_at=now)
    if refresh:
        _refresh(session, patient, entry)
    return entry


def void_time_entry(
    *, session: Session, entry_id: uuid.UUID, reason: str, voided_by: User,
    occurred_at: datetime | None = None, refresh: bool = True,
) -> TimeEntryVoid:
    """Void an entry with a reason (never edit in place); voiding twice keeps the first."""
    if not reason.strip():
        raise TimeEntryError("a void needs a reason")
    entry = session.get(TimeEntry, entry_id)
    if entry is None:
        raise TimeEntryError(f"no time entry {entry_id}")
    existing = session.exec(select(TimeEntryVoid)
                            .where(TimeEntryVoid.time_entry_id == entry_id)).first()
    if existing is not None:
        return existing
    patient = session.get(Patient, entry.patient_id)
    assert patient is not None
    _refuse_if_closed(session, patient, entry.started_at, entry.duration_seconds)
    now = utc_now()
    void = TimeEntryVoid(time_entry_id=entry_id, reason=reason.strip(), voided_by_id=voided_by.id,
                         occurred_at=occurred_at or now, received_at=now)
    session.add(void)
    session.flush()
    record_audit(session=session, action="time_entry.void", user_id=voided_by.id,
                 patient_id=entry.patient_id, detail={"entry": str(entry_id),
                                                      "reason": void.reason}, occurred_at=now)
    _refresh(session, patient, entry)
    return void


def _refuse_if_closed(session: Session, patient: Patient, started_at: datetime,
                      duration_seconds: int) -> None:
    """A month closed for billing takes no new or voided time (services/month_locks.py)."""
    practice = session.get(Practice, patient.practice_id)
    assert practice is not None
    try:
        refuse_closed_months(session=session, practice=practice, start=started_at,
                             end=started_at + timedelta(seconds=max(duration_seconds, 1)))
    except MonthClosed as exc:
        raise TimeEntryError(str(exc)) from None


def _refresh(session: Session, patient: Patient, entry: TimeEntry) -> None:
    practice = session.get(Practice, patient.practice_id)
    assert practice is not None
    refresh_patient_months(session=session, practice=practice, patient_id=patient.id,
                           months=months_of_entry(entry, ZoneInfo(practice.timezone)))
