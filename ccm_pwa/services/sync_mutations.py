"""How each of the phone's mutations (docs/field-api.md) is applied; shapes in sync_args.

A handler either applies its mutation or raises `Rejected` with a reason for the care
manager; it checks everything before writing, so a rejection leaves nothing half done
(except a care-plan conflict, whose record is the point). The performer or author is
always the signed-in user, never a value from the arguments.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.access import AccessDenied, require_patient
from ccm_pwa.domain.calendar import YearMonth, local_date, split_by_month
from ccm_pwa.models import (
    CarePlan,
    CarePlanConflict,
    MonthClose,
    MonthStatus,
    Note,
    Patient,
    Practice,
    Role,
    Task,
    TaskStatus,
    TimeEntry,
    TimeEntryVoid,
    User,
)
from ccm_pwa.services import care_plans, enrollment
from ccm_pwa.services.billing_cases import MAX_ENTRY_SPAN
from ccm_pwa.services.rollups import months_of_entry
from ccm_pwa.services.sync_args import (
    AddNote,
    Args,
    CompleteTask,
    Enroll,
    RecordTime,
    ResolveConflict,
    Review,
    SetDetails,
    SetElement,
    Unenroll,
    UpdatePlan,
    VoidTime,
)
from ccm_pwa.services.time_entries import (
    TimeEntryError,
    check_entry_window,
    record_time_entry,
    void_time_entry,
)

MAX_SKEW_SECONDS = 300


class Rejected(Exception):
    """The server cannot accept this mutation; `reason` goes back to its author.

    `extra` joins the mutation's result (e.g. which care-plan elements conflicted).
    """

    def __init__(self, reason: str, patient_id: uuid.UUID | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason, self.patient_id, self.extra = reason, patient_id, extra or {}


@dataclass(frozen=True)
class Applied:
    """A handler's answer when its result says more than "applied" (most return the id)."""

    patient_id: uuid.UUID
    extra: dict[str, Any]


@dataclass
class PushState:
    """Shared by the mutations of one push: patients already checked against the caseload,
    and the patient-months whose rollups the push refreshes once, at its end."""

    patients: dict[uuid.UUID, Patient] = field(default_factory=dict)
    touched: dict[uuid.UUID, set[YearMonth]] = field(default_factory=dict)

    def touch(self, entry: TimeEntry, zone: ZoneInfo) -> None:
        self.touched.setdefault(entry.patient_id, set()).update(months_of_entry(entry, zone))


@dataclass(frozen=True)
class Context:
    """What every handler may use: the push's transaction, who pushed, and when."""

    session: Session
    user: User
    practice: Practice
    client_id: uuid.UUID
    mutation_id: int
    occurred_at: datetime  # device clock
    now: datetime  # server clock
    clock_skew_seconds: float | None = None  # device − server at this push, when it said
    state: PushState = field(default_factory=PushState)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.practice.timezone)


@contextmanager
def _refusals_as_rejection(patient_id: uuid.UUID) -> Iterator[None]:
    """A service's refusal (its own words) becomes the mutation's rejection."""
    try:
        yield
    except (TimeEntryError, care_plans.CarePlanError, enrollment.EnrollmentError) as exc:
        raise Rejected(str(exc), patient_id) from None


NOT_ON_CASELOAD = "this patient is not on your caseload"
NO_SUCH_ENTRY = "there is no such time entry"
NO_SUCH_CONFLICT = "there is no such care-plan conflict"
NO_SUCH_TASK = "there is no such task"


def _patient(ctx: Context, patient_id: uuid.UUID, unknown: str = NOT_ON_CASELOAD) -> Patient:
    """The patient, if on the pusher's caseload; else rejected with `unknown`.

    A task, entry or conflict found by id but belonging to someone else's patient is
    refused with the same words as an id that does not exist (`unknown`), so a rejection
    never tells whether another caseload's record exists.
    """
    if (known := ctx.state.patients.get(patient_id)) is not None:
        return known  # checked earlier in this push (one transaction: still true)
    try:
        patient = require_patient(session=ctx.session, user=ctx.user, patient_id=patient_id)
    except AccessDenied:
        raise Rejected(unknown) from None
    ctx.state.patients[patient_id] = patient
    return patient


def record_time(ctx: Context, args: RecordTime) -> uuid.UUID:
    patient = _patient(ctx, args.patient_id)
    existing = ctx.session.get(TimeEntry, args.entry_id)
    if existing is not None:
        if existing.patient_id == patient.id and existing.performer_id == ctx.user.id:
            return patient.id  # recorded before (another device, or a reinstall): once only
        raise Rejected("this entry id is already used by another entry", patient.id)
    with _refusals_as_rejection(patient.id):
        check_entry_window(args.started_at, args.duration_seconds, ctx.now,
                           ctx.clock_skew_seconds)
    end = args.started_at + timedelta(seconds=args.duration_seconds)
    _refuse_closed_months(ctx, args.started_at, end, patient.id)
    clash = _overlapping_entry(ctx, args.started_at, end)
    if clash is not None:
        at = clash.astimezone(ctx.zone).strftime("%H:%M")
        raise Rejected(f"overlaps your entry at {at}", patient.id)
    with _refusals_as_rejection(patient.id):
        entry = record_time_entry(
            session=ctx.session, patient_id=patient.id, performer=ctx.user,
            started_at=args.started_at, duration_seconds=args.duration_seconds,
            activity=args.activity, note=args.note, source=args.source,
            entry_id=args.entry_id, occurred_at=ctx.occurred_at, refresh=False)
    ctx.state.touch(entry, ctx.zone)
    entry.client_id, entry.mutation_id = ctx.client_id, ctx.mutation_id
    entry.review_flags = [*entry.review_flags,
                          *(f for f in _sync_flags(ctx, args.started_at)
                            if f not in entry.review_flags)]
    ctx.session.add(entry)
    return patient.id


def _sync_flags(ctx: Context, started_at: datetime) -> list[str]:
    """What a supervisor should look at in time that came from a phone (design §3).

    `clock_skew`: the phone's clock was off by more than MAX_SKEW when it sent this, so its
    times may be too; `late_month`: the entry belongs to a month that had already ended
    (practice-local) when it arrived. Overlaps and closed months are rejections instead.
    """
    flags = []
    if ctx.clock_skew_seconds is not None and abs(ctx.clock_skew_seconds) > MAX_SKEW_SECONDS:
        flags.append("clock_skew")
    if YearMonth.of(local_date(started_at, ctx.zone)) < YearMonth.of(local_date(ctx.now,
                                                                                ctx.zone)):
        flags.append("late_month")
    return flags


def void_time(ctx: Context, args: VoidTime) -> uuid.UUID:
    entry = ctx.session.get(TimeEntry, args.entry_id)
    if entry is None:
        raise Rejected(NO_SUCH_ENTRY)
    patient = _patient(ctx, entry.patient_id, unknown=NO_SUCH_ENTRY)
    if entry.performer_id != ctx.user.id and ctx.user.role == Role.CARE_MANAGER:
        raise Rejected("only the person who recorded an entry, or a supervisor, may void it",
                       patient.id)
    if not args.reason.strip():
        raise Rejected("a void needs a reason", patient.id)
    _refuse_closed_months(ctx, entry.started_at,
                          entry.started_at + timedelta(seconds=entry.duration_seconds),
                          patient.id)
    void_time_entry(session=ctx.session, entry_id=entry.id, reason=args.reason,
                    voided_by=ctx.user, occurred_at=ctx.occurred_at, refresh=False)
    ctx.state.touch(entry, ctx.zone)
    return patient.id


def add_note(ctx: Context, args: AddNote) -> uuid.UUID:
    patient = _patient(ctx, args.patient_id)
    existing = ctx.session.get(Note, args.note_id)
    if existing is not None:
        if existing.patient_id == patient.id and existing.author_id == ctx.user.id:
            return patient.id
        raise Rejected("this note id is already used by another note", patient.id)
    if not args.body.strip():
        raise Rejected("the note is empty", patient.id)
    ctx.session.add(Note(id=args.note_id, patient_id=patient.id, author_id=ctx.user.id,
                         body=args.body.strip(), occurred_at=ctx.occurred_at,
                         received_at=ctx.now))
    return patient.id


def set_element(ctx: Context, args: SetElement) -> uuid.UUID:
    patient = _patient(ctx, args.patient_id)
    with _refusals_as_rejection(patient.id):
        care_plans.set_element(session=ctx.session, patient=patient, user=ctx.user,
                               element=args.element, value=args.value,
                               base_version=args.base_version, occurred_at=ctx.occurred_at,
                               now=ctx.now)
    return patient.id


def update_plan(ctx: Context, args: UpdatePlan) -> Applied:
    """Each change compare-and-set on its own: a stale one becomes a conflict, the rest apply.

    Only when every change conflicted is the mutation rejected, so the care manager sees it.
    """
    patient = _patient(ctx, args.patient_id)
    conflicts: list[str] = []
    for change in args.changes:
        try:
            care_plans.set_element(session=ctx.session, patient=patient, user=ctx.user,
                                   element=change.element, value=change.value,
                                   base_version=change.base_version,
                                   occurred_at=ctx.occurred_at, now=ctx.now)
        except care_plans.CarePlanConflictError:
            conflicts.append(change.element.value)
    if len(conflicts) == len(args.changes):
        raise Rejected("the care plan changed on the server — choose which version to keep",
                       patient.id, {"conflicts": conflicts})
    return Applied(patient.id, {"conflicts": conflicts})


def resolve_conflict(ctx: Context, args: ResolveConflict) -> uuid.UUID:
    conflict = ctx.session.get(CarePlanConflict, args.conflict_id)
    plan = ctx.session.get(CarePlan, conflict.care_plan_id) if conflict else None
    if conflict is None or plan is None:
        raise Rejected(NO_SUCH_CONFLICT)
    patient = _patient(ctx, plan.patient_id, unknown=NO_SUCH_CONFLICT)
    with _refusals_as_rejection(patient.id):
        care_plans.resolve_conflict(session=ctx.session, conflict=conflict, user=ctx.user,
                                    keep_mine=args.keep == "mine",
                                    server_version=args.server_version,
                                    occurred_at=ctx.occurred_at, now=ctx.now)
    return patient.id


def set_details(ctx: Context, args: SetDetails) -> uuid.UUID:
    patient = _patient(ctx, args.patient_id)
    changes = {name: getattr(args, name) for name in care_plans.DETAIL_FIELDS
               if name in args.model_fields_set}
    with _refusals_as_rejection(patient.id):
        care_plans.set_details(session=ctx.session, patient=patient, changes=changes)
    return patient.id


def review(ctx: Context, args: Review) -> uuid.UUID:
    patient = _patient(ctx, args.patient_id)
    # A phone that takes "today" from its UTC clock is a day ahead every evening in the
    # Americas; the later of the two calendars' today is accepted.
    latest = max(local_date(ctx.now, ctx.zone), ctx.now.astimezone(UTC).date())
    with _refusals_as_rejection(patient.id):
        care_plans.review(session=ctx.session, patient=patient, reviewed_on=args.reviewed_on,
                          latest_allowed=latest)
    return patient.id


def complete_task(ctx: Context, args: CompleteTask) -> uuid.UUID:
    task = ctx.session.get(Task, args.task_id)
    if task is None:
        raise Rejected(NO_SUCH_TASK)
    patient = _patient(ctx, task.patient_id, unknown=NO_SUCH_TASK)
    if task.status == TaskStatus.COMPLETED:
        return patient.id
    if task.status == TaskStatus.CANCELLED:
        raise Rejected("the task was cancelled", patient.id)
    task.status = TaskStatus.COMPLETED
    task.completed_at = min(ctx.occurred_at, ctx.now)
    task.version += 1
    ctx.session.add(task)
    return patient.id


def enroll(ctx: Context, args: Enroll) -> uuid.UUID:
    patient = _patient(ctx, args.patient_id)
    consent = enrollment.ConsentGiven(**args.consent.model_dump())
    with _refusals_as_rejection(patient.id):
        enrollment.enroll(session=ctx.session, user=ctx.user, patient=patient,
                          program=args.program,
                          billing_practitioner_id=args.billing_practitioner_id,
                          consent=consent, now=ctx.now)
    return patient.id


def unenroll(ctx: Context, args: Unenroll) -> uuid.UUID:
    patient = _patient(ctx, args.patient_id)
    with _refusals_as_rejection(patient.id):
        enrollment.unenroll(session=ctx.session, user=ctx.user, patient=patient,
                            reason=args.reason, now=ctx.now)
    return patient.id


# name → (argument model, handler); the contract's list, in its order.
MUTATIONS: dict[str, tuple[type[Args], Callable[[Context, Any], uuid.UUID | Applied]]] = {
    "time_entry.record": (RecordTime, record_time),
    "time_entry.void": (VoidTime, void_time),
    "note.add": (AddNote, add_note),
    "care_plan.set_element": (SetElement, set_element),  # phones before care_plan.update
    "care_plan.update": (UpdatePlan, update_plan),
    "care_plan.resolve_conflict": (ResolveConflict, resolve_conflict),
    "care_plan.set_details": (SetDetails, set_details),
    "care_plan.review": (Review, review),
    "task.complete": (CompleteTask, complete_task),
    "patient.enroll": (Enroll, enroll),
    "patient.unenroll": (Unenroll, unenroll),
}


def _overlapping_entry(ctx: Context, start: datetime, end: datetime) -> datetime | None:
    """The start of the signed-in user's own live entry that shares a second with
    [start, end), if any (two columns, not whole entries: this runs for every entry).

    One person cannot do two things at once; two people on one patient is for billing to
    sort out (it counts those seconds once).
    """
    voided = select(TimeEntryVoid.time_entry_id)
    candidates = ctx.session.execute(sa.select(TimeEntry.started_at, TimeEntry.duration_seconds)
                                     .where(TimeEntry.performer_id == ctx.user.id,
                                            TimeEntry.started_at < end,
                                            TimeEntry.started_at > start - MAX_ENTRY_SPAN,
                                            TimeEntry.id.not_in(voided))
                                     .order_by(TimeEntry.started_at))
    return next((began for began, seconds in candidates
                 if began + timedelta(seconds=seconds) > start), None)


def _refuse_closed_months(ctx: Context, start: datetime, end: datetime,
                          patient_id: uuid.UUID) -> None:
    months = [str(month) for month, _s, _e in split_by_month(start, end, ctx.zone)]
    closed = ctx.session.exec(select(MonthClose.month).where(
        MonthClose.practice_id == ctx.practice.id, MonthClose.month.in_(months),
        MonthClose.status == MonthStatus.CLOSED)).first()
    if closed is not None:
        raise Rejected(f"{closed} is closed for billing: ask a supervisor to reopen it",
                       patient_id)
