"""The supervisor's review queue: time worth a second look, and the accept / void decisions.

What lands here (docs/supervisor.md lists where each flag comes from):
- time entries of the viewer's visible patients with a reason: a stored review flag
  (`manual`, `over_90_min`, `future_dated`, `clock_skew`, `late_month`), longer than 90
  minutes, a manual entry recorded more than 7 days after it started (`backdated_manual`),
  or one person's entries on two patients at once (`overlap`);
- rejected sync mutations (read-only: the phone already told its author why);
- open care-plan conflicts (read-only: the care manager resolves them on the phone).

A decision (`accept`, `void`) is a `TimeEntryReview` row plus an audit row; a decided or
voided entry leaves the queue. A closed month refuses decisions on its entries until it
is reopened. Accepting an overlap says "this is real work", it does not make the billing
count the shared minutes twice: the month-close check still does that arithmetic.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.access import AccessDenied, id_or_denied, require_patient, visible_patients
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.domain.calendar import YearMonth, local_month, month_bounds
from ccm_pwa.domain.month_checks import Interval, cross_patient_overlaps
from ccm_pwa.domain.time_rules import LONG_ENTRY_SECONDS, MAX_ENTRY_SPAN
from ccm_pwa.models import (
    AppliedMutation,
    CarePlan,
    CarePlanConflict,
    MutationOutcome,
    Patient,
    Practice,
    SyncClient,
    TimeEntry,
    TimeEntryReview,
    TimeEntryVoid,
    TimeSource,
    User,
)
from ccm_pwa.services.month_locks import MonthClosed, closed_months, refuse_closed_entry
from ccm_pwa.services.record_versions import bump_patients
from ccm_pwa.services.team_scope import require_overseer, team_members
from ccm_pwa.services.time_entries import TimeEntryError, void_time_entry

BACKDATED_AFTER = timedelta(days=7)
FLAG_WORDS = {
    "manual": "entered by hand, not timed",
    "backdated_manual": "entered by hand more than 7 days after the work",
    "over_90_min": "longer than 90 minutes",
    "future_dated": "ends in the future by the server's clock",
    "clock_skew": "the phone's clock was more than 5 minutes off",
    "late_month": "arrived after its month had ended",
    "overlap": "overlaps the same person's entry on another patient",
}
ACCEPTED, VOIDED = "accepted", "voided"


class ReviewError(ValueError):
    """The decision cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class ReviewItem:
    """One line of the queue. Times are practice-local ISO-8601; ids are strings.

    `kind`: "time_entry" | "rejected_mutation" | "care_plan_conflict". `reasons` are codes
    (FLAG_WORDS keys, "rejected", "care_plan_conflict"); `detail` says it in words.
    `decidable` is True only for time entries of an open month.
    """

    kind: str
    id: str
    patient_id: str | None
    patient_name: str
    mrn: str
    care_manager_id: str | None
    care_manager: str
    person_id: str | None
    person: str
    reasons: tuple[str, ...]
    detail: str
    minutes: float | None
    started_at: str | None
    received_at: str | None
    month: str | None
    month_closed: bool
    decidable: bool


def default_months(practice: Practice, now: datetime) -> list[YearMonth]:
    """This month and the last one: the month being worked and the month being closed."""
    current = local_month(now, ZoneInfo(practice.timezone))
    return [current.preceding(), current]


def review_items(*, session: Session, viewer: User, now: datetime,
                 months: list[YearMonth] | None = None) -> list[ReviewItem]:
    """The queue without audit rows (team counts and close checks read it too).

    Time entries and rejections of `months` (default: `default_months`); every open
    care-plan conflict whatever its age. Oldest first within each kind.
    """
    require_overseer(viewer)
    practice = session.get(Practice, viewer.practice_id)
    assert practice is not None
    zone = ZoneInfo(practice.timezone)
    months = sorted(set(months or default_months(practice, now)))
    start, end = month_bounds(months[0], zone)[0], month_bounds(months[-1], zone)[1]
    closed = set(closed_months(session=session, practice_id=practice.id, months=months))
    people = {u.id: u for u in session.exec(select(User).where(
        User.practice_id == practice.id))}
    patients = {p.id: p for p in session.exec(select(Patient).where(
        Patient.id.in_(visible_patients(viewer))))}
    context = _Context(zone, people, patients, closed, visible_patients(viewer))
    items = _entry_items(session, context, start, end, set(map(str, months)))
    items += _rejection_items(session, context, viewer, start, min(end, now + MAX_ENTRY_SPAN))
    items += _conflict_items(session, context)
    return items


def review_queue(*, session: Session, viewer: User, now: datetime,
                 months: list[YearMonth] | None = None, client: str = "") -> list[ReviewItem]:
    """The queue as a screen shows it: each patient listed is a PHI read, audited once."""
    items = review_items(session=session, viewer=viewer, now=now, months=months)
    for patient_id in sorted({i.patient_id for i in items if i.patient_id}):
        record_audit(session=session, action="review_queue.read", user_id=viewer.id,
                     patient_id=uuid.UUID(patient_id), client=client, occurred_at=now,
                     detail={"items": sum(1 for i in items if i.patient_id == patient_id)})
    return items


def accept_entry(*, session: Session, viewer: User, entry_id: uuid.UUID | str, reason: str,
                 now: datetime, client: str = "") -> TimeEntryReview:
    """The entry is real work as recorded: it keeps counting and leaves the queue."""
    return decide(session=session, viewer=viewer, entry_id=entry_id, decision="accept",
                  reason=reason, now=now, client=client)


def void_entry(*, session: Session, viewer: User, entry_id: uuid.UUID | str, reason: str,
               now: datetime, client: str = "") -> TimeEntryReview:
    """The entry should not count: voided through `void_time_entry`, so rollups follow."""
    return decide(session=session, viewer=viewer, entry_id=entry_id, decision="void",
                  reason=reason, now=now, client=client)


def decide(*, session: Session, viewer: User, entry_id: uuid.UUID | str, decision: str,
           reason: str, now: datetime, client: str = "") -> TimeEntryReview:
    """Record an accept or void decision; AccessDenied outside the viewer's patients."""
    require_overseer(viewer)
    if decision not in ("accept", "void"):
        raise ReviewError(f"decision must be accept or void, not {decision!r}")
    reason = reason.strip()
    if decision == "void" and not reason:
        raise ReviewError("a void needs a reason")
    entry = session.get(TimeEntry, id_or_denied(entry_id))
    if entry is None:
        raise AccessDenied
    require_patient(session=session, user=viewer, patient_id=entry.patient_id)
    earlier = session.exec(select(TimeEntryReview).where(
        TimeEntryReview.time_entry_id == entry.id)).first()
    if earlier is not None:
        raise ReviewError(f"this entry was already {earlier.decision} on "
                          f"{earlier.decided_at.date().isoformat()}")
    if session.exec(select(TimeEntryVoid).where(
            TimeEntryVoid.time_entry_id == entry.id)).first() is not None:
        raise ReviewError("this entry is already voided")
    if decision == "void":
        try:
            void_time_entry(session=session, entry_id=entry.id, reason=reason,
                            voided_by=viewer, occurred_at=now, now=now)
        except TimeEntryError as exc:
            raise ReviewError(str(exc)) from None
    else:
        _refuse_if_closed(session, viewer, entry)
    review = TimeEntryReview(time_entry_id=entry.id, reason=reason, decided_by_id=viewer.id,
                             decision=ACCEPTED if decision == "accept" else VOIDED,
                             decided_at=now)
    session.add(review)
    record_audit(session=session, action=f"review.{decision}", user_id=viewer.id,
                 patient_id=entry.patient_id, client=client, occurred_at=now,
                 detail={"entry": str(entry.id), "reason": reason,
                         "flags": list(entry.review_flags)})
    session.flush()
    bump_patients(session, [entry.patient_id])
    return review


def _refuse_if_closed(session: Session, viewer: User, entry: TimeEntry) -> None:
    practice = session.get(Practice, viewer.practice_id)
    assert practice is not None
    try:
        refuse_closed_entry(session=session, practice=practice, started_at=entry.started_at,
                            duration_seconds=entry.duration_seconds)
    except MonthClosed as exc:
        raise ReviewError(str(exc)) from None


@dataclass(frozen=True)
class _Context:
    zone: ZoneInfo
    people: dict[uuid.UUID, User]
    patients: dict[uuid.UUID, Patient]
    closed: set[str]
    visible: sa.Select  # the viewer's patient ids, as a subquery

    def name(self, user_id: uuid.UUID | None) -> str:
        user = self.people.get(user_id) if user_id else None
        return user.name if user else ("Unassigned" if user_id is None else "")

    def local(self, instant: datetime | None) -> str | None:
        return instant.astimezone(self.zone).isoformat() if instant else None

    def item(self, *, kind: str, id: uuid.UUID, patient_id: uuid.UUID | None,
             person_id: uuid.UUID | None, reasons: tuple[str, ...], detail: str,
             minutes: float | None, started_at: datetime | None,
             received_at: datetime | None, decidable: bool) -> ReviewItem:
        patient = self.patients.get(patient_id) if patient_id else None
        month = str(local_month(started_at, self.zone)) if started_at else None
        manager = patient.care_manager_id if patient else None
        return ReviewItem(
            kind=kind, id=str(id), patient_id=str(patient.id) if patient else None,
            patient_name=f"{patient.given_name} {patient.family_name}" if patient else "",
            mrn=patient.mrn if patient else "",
            care_manager_id=str(manager) if manager else None,
            care_manager=self.name(manager) if patient else "",
            person_id=str(person_id) if person_id else None, person=self.name(person_id),
            reasons=reasons, detail=detail, minutes=minutes,
            started_at=self.local(started_at), received_at=self.local(received_at),
            month=month, month_closed=month in self.closed,
            decidable=decidable and month not in self.closed)


def entry_reasons(entry: TimeEntry | sa.Row, overlapping: bool) -> tuple[str, ...]:
    """Why one entry is in the queue (empty: it is not)."""
    reasons = [flag for flag in entry.review_flags if flag in FLAG_WORDS]
    if entry.duration_seconds > LONG_ENTRY_SECONDS and "over_90_min" not in reasons:
        reasons.append("over_90_min")
    if (entry.source == TimeSource.MANUAL
            and entry.received_at - entry.started_at > BACKDATED_AFTER):
        reasons.append("backdated_manual")
    if overlapping:
        reasons.append("overlap")
    return tuple(dict.fromkeys(reasons))


def _entry_items(session: Session, ctx: _Context, start: datetime, end: datetime,
                 months: set[str]) -> list[ReviewItem]:
    voided = sa.select(TimeEntryVoid.time_entry_id)
    entries = list(session.exec(select(TimeEntry).where(
        TimeEntry.patient_id.in_(ctx.visible),
        TimeEntry.started_at >= start - MAX_ENTRY_SPAN, TimeEntry.started_at < end,
        TimeEntry.id.not_in(voided)).order_by(TimeEntry.started_at, TimeEntry.id)))
    decided = set(session.exec(select(TimeEntryReview.time_entry_id).join(
        TimeEntry, TimeEntry.id == TimeEntryReview.time_entry_id).where(
        TimeEntry.patient_id.in_(ctx.visible), TimeEntry.started_at >= start - MAX_ENTRY_SPAN,
        TimeEntry.started_at < end)))
    overlaps: dict[uuid.UUID, list[str]] = {}
    by_id = {str(e.id): e for e in entries}
    for overlap in cross_patient_overlaps(
            Interval(str(e.id), str(e.performer_id), str(e.patient_id), e.started_at,
                     e.started_at + timedelta(seconds=e.duration_seconds)) for e in entries):
        for mine, other in ((overlap.first, overlap.second), (overlap.second, overlap.first)):
            other_patient = ctx.patients.get(by_id[other.entry_id].patient_id)
            overlaps.setdefault(by_id[mine.entry_id].id, []).append(
                f"overlaps {overlap.seconds // 60} min {overlap.seconds % 60} s with "
                f"{other_patient.mrn if other_patient else 'another patient'} at "
                f"{other.start.astimezone(ctx.zone).strftime('%Y-%m-%d %H:%M')}")
    items = []
    for entry in entries:
        month = str(local_month(entry.started_at, ctx.zone))
        if entry.id in decided or month not in months:
            continue
        reasons = entry_reasons(entry, entry.id in overlaps)
        if not reasons:
            continue
        words = [FLAG_WORDS[r] for r in reasons if r != "overlap"] + overlaps.get(entry.id, [])
        items.append(ctx.item(
            kind="time_entry", id=entry.id, patient_id=entry.patient_id,
            person_id=entry.performer_id, reasons=reasons, detail="; ".join(words),
            minutes=round(entry.duration_seconds / 60, 1), started_at=entry.started_at,
            received_at=entry.received_at, decidable=True))
    return items


def _rejection_items(session: Session, ctx: _Context, viewer: User, start: datetime,
                     end: datetime) -> list[ReviewItem]:
    team = [u.id for u in team_members(session=session, viewer=viewer)]
    rows = session.execute(
        sa.select(AppliedMutation, SyncClient.user_id)
        .join(SyncClient, SyncClient.id == AppliedMutation.client_id)
        .where(AppliedMutation.outcome == MutationOutcome.REJECTED,
               AppliedMutation.received_at >= start, AppliedMutation.received_at < end,
               sa.or_(AppliedMutation.patient_id.in_(ctx.visible),
                      SyncClient.user_id.in_(team or [uuid.UUID(int=0)])))
        .order_by(AppliedMutation.received_at))
    items = []
    for mutation, user_id in rows:
        if mutation.patient_id is not None and mutation.patient_id not in ctx.patients:
            continue  # pushed by a team member about a patient this viewer may not see
        args = mutation.args if isinstance(mutation.args, dict) else {}
        seconds = args.get("duration_seconds")
        started = _parse_instant(args.get("started_at"))
        items.append(ctx.item(
            kind="rejected_mutation", id=mutation.id, patient_id=mutation.patient_id,
            person_id=user_id, reasons=("rejected",),
            detail=f"{mutation.name} refused: {mutation.rejection_reason}",
            minutes=round(seconds / 60, 1) if isinstance(seconds, int) else None,
            started_at=started, received_at=mutation.received_at, decidable=False))
    return items


def _conflict_items(session: Session, ctx: _Context) -> list[ReviewItem]:
    rows = session.execute(
        sa.select(CarePlanConflict, CarePlan.patient_id)
        .join(CarePlan, CarePlan.id == CarePlanConflict.care_plan_id)
        .where(CarePlanConflict.resolved_at.is_(None),
               CarePlan.patient_id.in_(ctx.visible))
        .order_by(CarePlanConflict.client_occurred_at))
    return [ctx.item(
        kind="care_plan_conflict", id=conflict.id, patient_id=patient_id,
        person_id=conflict.client_author_id, reasons=("care_plan_conflict",),
        detail=(f"care plan {conflict.element.replace('_', ' ')}: a phone edit based on "
                f"version {conflict.base_version} met version {conflict.server_version}"),
        minutes=None, started_at=conflict.client_occurred_at, received_at=None,
        decidable=False) for conflict, patient_id in rows]


def _parse_instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
