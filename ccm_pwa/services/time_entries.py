"""Record and void care-management time: append-only events plus their rollups, atomically.

`record_entries` is the one writer of time entries: the phone's sync (timer and manual
entry), a server-side recording and the tests all come through it, so the rules of
ccm_pwa/domain/time_rules.py (bounds, timely filing, closed months, one person's overlaps,
review flags) hold for every way time arrives. It reads what the rules need once per batch
(three queries whatever the batch size) and writes the accepted entries and their audit
rows with one multi-row insert each, every field complete on insert.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.audit import record_audit
from ccm_pwa.domain import time_rules
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.domain.time_rules import (
    LONG_ENTRY_SECONDS,
    MAX_ENTRY_SECONDS,
    Accepted,
    Circumstances,
    NewTime,
    Refused,
    Replayed,
    Stored,
    Verdict,
)
from ccm_pwa.models import (
    Activity,
    AuditEvent,
    MonthClose,
    MonthStatus,
    Patient,
    PerformerKind,
    Practice,
    TimeEntry,
    TimeEntryVoid,
    TimeSource,
    User,
    utc_now,
)
from ccm_pwa.services.month_locks import MonthClosed, refuse_closed_entry
from ccm_pwa.services.record_versions import bump_patients
from ccm_pwa.services.rollups import refresh_patient_months

__all__ = ["LONG_ENTRY_SECONDS", "MAX_ENTRY_SECONDS", "EntryToRecord", "TimeEntryError",
           "record_entries", "record_time_entry", "void_time_entry"]


class TimeEntryError(ValueError):
    """The entry cannot be recorded or voided as asked; the message says why."""


@dataclass(frozen=True)
class EntryToRecord:
    """One entry for `record_entries`; the patient is already known to be the caller's."""

    entry_id: uuid.UUID
    patient_id: uuid.UUID
    started_at: datetime
    duration_seconds: int
    activity: Activity
    note: str = ""
    source: TimeSource = TimeSource.TIMER
    occurred_at: datetime | None = None  # device clock; the server's when not given
    client_id: uuid.UUID | None = None  # the installation and mutation it came from
    mutation_id: int | None = None


def record_entries(
    *,
    session: Session,
    practice: Practice,
    performer: User,
    entries: Sequence[EntryToRecord],
    now: datetime,
    clock_skew_seconds: float | None = None,
    from_phone: bool = False,
    performer_kind: PerformerKind | None = None,
) -> list[Verdict]:
    """Judge `entries` in order and store the accepted ones; one verdict per entry.

    The caller refreshes the rollups of the accepted entries' months (`Accepted.months`)
    before committing, once for everything it wrote.
    """
    if not entries:
        return []
    zone = ZoneInfo(practice.timezone)
    batch = [NewTime(e.entry_id, e.patient_id, e.started_at, e.duration_seconds,
                     manual=e.source == TimeSource.MANUAL) for e in entries]
    when = Circumstances(performer_id=performer.id, now=now, zone=zone,
                         clock_skew_seconds=clock_skew_seconds, from_phone=from_phone)
    verdicts = time_rules.judge(batch, _stored(session, practice, batch, when), when)
    kind = performer_kind or performer.performer_kind
    rows, audits = [], []
    for entry, verdict in zip(entries, verdicts, strict=True):
        if not isinstance(verdict, Accepted):
            continue
        rows.append({
            "id": entry.entry_id, "patient_id": entry.patient_id, "performer_id": performer.id,
            "performer_kind": str(kind), "activity": str(entry.activity), "note": entry.note,
            "started_at": entry.started_at, "duration_seconds": entry.duration_seconds,
            "source": str(entry.source), "occurred_at": entry.occurred_at or now,
            "received_at": now, "client_id": entry.client_id, "mutation_id": entry.mutation_id,
            "review_flags": list(verdict.flags)})
        audits.append(audit_row(action="time_entry.record", user_id=performer.id,
                                patient_id=entry.patient_id, occurred_at=now,
                                detail={"entry": str(entry.entry_id),
                                        "seconds": entry.duration_seconds,
                                        "source": str(entry.source)}))
    if rows:
        session.execute(sa.insert(TimeEntry.__table__), rows)
        session.execute(sa.insert(AuditEvent.__table__), audits)
        bump_patients(session, {row["patient_id"] for row in rows})
    return verdicts


def _stored(session: Session, practice: Practice, batch: list[NewTime],
            when: Circumstances) -> Stored:
    """What the rules compare the batch with: three reads, whatever its size.

    Entries the rules refuse on their own (bounds, timely filing) widen no read.
    """
    ids = [e.entry_id for e in batch]
    owners = {entry_id: (patient_id, performer_id) for entry_id, patient_id, performer_id in
              session.execute(sa.select(TimeEntry.id, TimeEntry.patient_id,
                                        TimeEntry.performer_id).where(TimeEntry.id.in_(ids)))}
    sane = [e for e in batch if 0 < e.duration_seconds <= MAX_ENTRY_SECONDS and
            time_rules.entry_window_error(e.started_at, e.duration_seconds, when.now,
                                          when.clock_skew_seconds, zone=when.zone) is None]
    busy: list[tuple[datetime, datetime]] = []
    months: set[YearMonth] = set()
    if sane:
        first = min(e.started_at for e in sane) - time_rules.MAX_ENTRY_SPAN
        last = max(e.ended_at for e in sane)
        voided = sa.select(TimeEntryVoid.time_entry_id)
        busy = [(began, began + timedelta(seconds=seconds)) for began, seconds in
                session.execute(sa.select(TimeEntry.started_at, TimeEntry.duration_seconds)
                                .where(TimeEntry.performer_id == when.performer_id,
                                       TimeEntry.started_at < last,
                                       TimeEntry.started_at > first,
                                       TimeEntry.id.not_in(voided)))]
        for entry in sane:
            months.update(time_rules.months_of(entry.started_at, entry.duration_seconds,
                                               when.zone))
    closed: frozenset[YearMonth] = frozenset()
    if months:
        closed = frozenset(YearMonth.parse(m) for m in session.exec(select(MonthClose.month).where(
            MonthClose.practice_id == practice.id, MonthClose.month.in_(sorted(map(str, months))),
            MonthClose.status == MonthStatus.CLOSED)))
    return Stored(owners=owners, busy=busy, closed=closed)


def audit_row(*, action: str, user_id: uuid.UUID | None, occurred_at: datetime,
              patient_id: uuid.UUID | None = None, client: str = "", outcome: str = "success",
              detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """An AuditEvent as a row for a multi-row insert (auth/audit.py's record, in bulk)."""
    return {"id": uuid.uuid4(), "occurred_at": occurred_at, "user_id": user_id,
            "client": client[:500], "patient_id": patient_id, "action": action,
            "outcome": outcome, "detail": detail or {}}


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
    now: datetime | None = None,
) -> TimeEntry:
    """One entry through `record_entries`, rollups refreshed; a replayed id is returned as
    is. TimeEntryError says why an entry is refused."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise TimeEntryError(f"no patient {patient_id}")
    practice = session.get(Practice, patient.practice_id)
    assert practice is not None
    wanted = EntryToRecord(entry_id=entry_id or uuid.uuid4(), patient_id=patient_id,
                           started_at=started_at, duration_seconds=duration_seconds,
                           activity=activity, note=note, source=source, occurred_at=occurred_at)
    [verdict] = record_entries(session=session, practice=practice, performer=performer,
                               entries=[wanted], now=now or utc_now(),
                               performer_kind=performer_kind)
    if isinstance(verdict, Refused):
        raise TimeEntryError(verdict.reason)
    if isinstance(verdict, Accepted):
        refresh_patient_months(session=session, practice=practice, patient_id=patient_id,
                               months=verdict.months)
    assert isinstance(verdict, Accepted | Replayed)
    entry = session.get(TimeEntry, wanted.entry_id)
    assert entry is not None
    return entry


def void_time_entry(
    *, session: Session, entry_id: uuid.UUID, reason: str, voided_by: User,
    occurred_at: datetime | None = None, refresh: bool = True, now: datetime | None = None,
) -> TimeEntryVoid:
    """Void an entry with a reason (never edit in place); voiding twice keeps the first.

    With `refresh=False` the caller refreshes the entry's months' rollups itself (a sync
    push does, once for everything it wrote). `now`: the caller's clock (a push's one
    instant for everything it stores); the server's by default.
    """
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
    practice = session.get(Practice, patient.practice_id)
    assert practice is not None
    try:
        refuse_closed_entry(session=session, practice=practice, started_at=entry.started_at,
                            duration_seconds=entry.duration_seconds)
    except MonthClosed as exc:
        raise TimeEntryError(str(exc)) from None
    now = now or utc_now()
    void = TimeEntryVoid(time_entry_id=entry_id, reason=reason.strip(), voided_by_id=voided_by.id,
                         occurred_at=occurred_at or now, received_at=now)
    session.add(void)
    session.flush()
    record_audit(session=session, action="time_entry.void", user_id=voided_by.id,
                 patient_id=entry.patient_id, detail={"entry": str(entry_id),
                                                      "reason": void.reason}, occurred_at=now)
    bump_patients(session, [entry.patient_id])
    if refresh:
        refresh_patient_months(session=session, practice=practice, patient_id=patient.id,
                               months=time_rules.months_of(entry.started_at,
                                                           entry.duration_seconds,
                                                           ZoneInfo(practice.timezone)))
    return void
