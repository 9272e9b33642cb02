"""How each of the phone's mutations (docs/field-api.md) is applied; shapes in sync_args.

A handler either applies its mutation or raises `Rejected` with a reason for the care
manager; it checks everything before writing, so a rejection leaves nothing half done
(except a care-plan conflict, whose record is the point). The performer or author is
always the signed-in user, never a value from the arguments.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from ccm_pwa.auth.access import AccessDenied, require_patient
from ccm_pwa.domain.calendar import YearMonth, local_date
from ccm_pwa.domain.time_rules import Accepted, Refused, Verdict
from ccm_pwa.models import (
    CarePlan,
    CarePlanConflict,
    Note,
    Patient,
    Practice,
    Role,
    Task,
    TaskStatus,
    TimeEntry,
    User,
)
from ccm_pwa.services import care_plans, enrollment
from ccm_pwa.services.record_versions import bump_patients
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
    EntryToRecord,
    TimeEntryError,
    record_entries,
    void_time_entry,
)


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
    their practices, and the patient-months whose rollups the push refreshes once, at its
    end."""

    patients: dict[uuid.UUID, Patient] = field(default_factory=dict)
    not_visible: set[uuid.UUID] = field(default_factory=set)
    practices: dict[uuid.UUID, Practice] = field(default_factory=dict)
    touched: dict[uuid.UUID, set[YearMonth]] = field(default_factory=dict)

    def touch(self, entry: TimeEntry, zone: ZoneInfo) -> None:
        self.touched.setdefault(entry.patient_id, set()).update(months_of_entry(entry, zone))


@dataclass(frozen=True)
class Context:
    """What every handler may use: the push's transaction, who pushed, and when.

    Each patient is worked in her own practice: its time zone decides the local day and
    month, its closed months and rules apply (`practice_of`), whichever practice the
    care manager belongs to.
    """

    session: Session
    user: User
    client_id: uuid.UUID
    mutation_id: int
    occurred_at: datetime  # device clock
    now: datetime  # server clock
    clock_skew_seconds: float | None = None  # device − server at this push, when it said
    state: PushState = field(default_factory=PushState)

    def practice_of(self, patient: Patient) -> Practice:
        known = self.state.practices.get(patient.practice_id)
        if known is None:
            known = self.session.get(Practice, patient.practice_id)
            assert known is not None
            self.state.practices[patient.practice_id] = known
        return known

    def zone_of(self, patient: Patient) -> ZoneInfo:
        return ZoneInfo(self.practice_of(patient).timezone)


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
    if patient_id in ctx.state.not_visible:
        raise Rejected(unknown)
    try:
        patient = require_patient(session=ctx.session, user=ctx.user, patient_id=patient_id)
    except AccessDenied:
        ctx.state.not_visible.add(patient_id)
        raise Rejected(unknown) from None
    ctx.state.patients[patient_id] = patient
    return patient


def record_times(ctx: Context, items: Sequence[tuple[int, datetime, RecordTime]]
                 ) -> list[uuid.UUID | Rejected]:
    """A run of consecutive `time_entry.record` mutations, judged and stored together
    (services/time_entries.record_entries: the rules every way of recording time obeys).

    Each result is the patient's id (applied, or recorded before: counted once) or the
    mutation's rejection, in order; later entries see the ones accepted before them. The
    run is judged in consecutive parts of one practice each (its time zone and closed
    months); each part is stored before the next is judged, and the overlap check reads
    the performer's time in every practice, so a call is never counted in two.
    """
    results: list[uuid.UUID | Rejected | None] = []
    parts: list[tuple[Practice, list[EntryToRecord]]] = []
    for mutation_id, occurred_at, args in items:
        try:
            patient = _patient(ctx, args.patient_id)
        except Rejected as rejected:
            results.append(rejected)
            continue
        results.append(None)
        practice = ctx.practice_of(patient)
        if not parts or parts[-1][0].id != practice.id:
            parts.append((practice, []))
        parts[-1][1].append(EntryToRecord(
            entry_id=args.entry_id, patient_id=patient.id, started_at=args.started_at,
            duration_seconds=args.duration_seconds, activity=args.activity, note=args.note,
            source=args.source, occurred_at=occurred_at, client_id=ctx.client_id,
            mutation_id=mutation_id))
    judged: list[tuple[EntryToRecord, Verdict]] = []
    for practice, wanted in parts:
        judged += zip(wanted, record_entries(
            session=ctx.session, practice=practice, performer=ctx.user, entries=wanted,
            now=ctx.now, clock_skew_seconds=ctx.clock_skew_seconds, from_phone=True),
            strict=True)
    done: list[uuid.UUID | Rejected] = []
    verdicts = iter(judged)
    for result in results:
        if result is not None:
            done.append(result)
            continue
        entry, verdict = next(verdicts)
        if isinstance(verdict, Refused):
            done.append(Rejected(verdict.reason, entry.patient_id))
            continue
        if isinstance(verdict, Accepted):
            ctx.state.touched.setdefault(entry.patient_id, set()).update(verdict.months)
        done.append(entry.patient_id)
    return done


def record_time(ctx: Context, args: RecordTime) -> uuid.UUID:
    """One `time_entry.record` alone (the push applies them in runs: `RUNS`)."""
    [result] = record_times(ctx, [(ctx.mutation_id, ctx.occurred_at, args)])
    if isinstance(result, Rejected):
        raise result
    return result


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
    with _refusals_as_rejection(patient.id):
        void_time_entry(session=ctx.session, entry_id=entry.id, reason=args.reason,
                        voided_by=ctx.user, occurred_at=ctx.occurred_at, refresh=False,
                        now=ctx.now)
    ctx.state.touch(entry, ctx.zone_of(patient))
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
    bump_patients(ctx.session, [patient.id])
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
    latest = max(local_date(ctx.now, ctx.zone_of(patient)), ctx.now.astimezone(UTC).date())
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
    bump_patients(ctx.session, [patient.id])
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

# Mutations the push applies a run at a time (consecutive ones of the same name, together).
RUNS: dict[str, Callable[[Context, Sequence[tuple[int, datetime, Any]]],
                         list[uuid.UUID | Rejected]]] = {
    "time_entry.record": record_times,
}
