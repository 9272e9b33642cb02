"""Team today: one row per care manager the viewer oversees, read from the rollups.

Minutes, thresholds and billable come from `PatientMonth` (one row per patient-month,
O(patients)); blockers from `patient_facts` (three grouped queries); the pace projection
is `domain.progress.projected_lines` on the rollup's seconds, the rule the worklist uses.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.audit import record_audit
from ccm_pwa.domain.billing_lanes import PROGRAM_LANES
from ccm_pwa.domain.calendar import YearMonth, local_date, start_of_local_day
from ccm_pwa.domain.progress import lane_pool_seconds, projected_lines
from ccm_pwa.models import (
    EnrollmentStatus,
    Note,
    Patient,
    PatientMonth,
    Practice,
    Program,
    Role,
    TimeEntry,
    TimeEntryVoid,
    User,
)
from ccm_pwa.services.patient_facts import patient_facts
from ccm_pwa.services.review_queue import default_months, review_items
from ccm_pwa.services.team_scope import require_team_member, team_members
from ccm_pwa.services.worklist import worklist_body


@dataclass(frozen=True)
class TeamRow:
    """One care manager's month. Counts are of her *enrolled* patients.

    `at_base_code` / `at_first_add_on` / `at_second_add_on`: patients at or over the
    1st / 2nd / 3rd threshold of their program's first lane (CCM 20/40/60 min, complex
    CCM 60/90/120, PCM 30/60/90). `at_risk_patients`: not billable, not blocked, and the
    pace so far does not reach a base code by month end (for a past month: missed).
    `blocked_patients`: no time can help (consent, conditions, care plan).
    `minutes_this_week`: time she logged herself (any patient of this practice, not voided)
    in the current practice-local ISO week, whatever `month` is. `review_items`: undecided
    review-queue items about her patients (or pushed by her). `last_activity_at`: newest
    received time entry or note by her about a patient of this practice, practice-local
    ISO-8601. A managed-team member's work in her other practices is not this practice's
    to see, so neither figure counts it.
    """

    care_manager_id: str | None  # None: the "Unassigned" row (admins only)
    name: str
    credential: str
    active: bool
    enrolled_patients: int
    at_base_code: int
    at_first_add_on: int
    at_second_add_on: int
    billable_patients: int
    at_risk_patients: int
    blocked_patients: int
    countable_minutes: int
    expected_amount_cents: int
    minutes_this_week: int
    review_items: int
    last_activity_at: str | None


def team_today(*, session: Session, viewer: User, month: YearMonth,
               now: datetime) -> list[TeamRow]:
    """Rows in name order; AccessDenied for a care manager."""
    members = team_members(session=session, viewer=viewer)
    practice = session.get(Practice, viewer.practice_id)
    assert practice is not None
    zone = ZoneInfo(practice.timezone)
    member_ids = [m.id for m in members]
    owners = Patient.care_manager_id.in_(member_ids or [uuid.UUID(int=0)])
    if viewer.role == Role.ADMIN:
        owners = sa.or_(owners, Patient.care_manager_id.is_(None))
    patients = list(session.exec(select(Patient).where(
        Patient.practice_id == practice.id, Patient.enrollment_status == EnrollmentStatus.ENROLLED,
        owners)))
    rollups = _rollups(session, [p.id for p in patients], month)
    facts = patient_facts(session=session, patients=patients, month=month)
    today = local_date(now, zone)
    totals: dict[uuid.UUID | None, Counter[str]] = defaultdict(Counter)
    for patient in patients:
        row = totals[patient.care_manager_id]
        row["enrolled"] += 1
        rollup = rollups.get(patient.id)
        minutes = rollup.countable_minutes if rollup else 0
        lanes = PROGRAM_LANES[Program(patient.program)]
        for index, threshold in enumerate(lanes[0].thresholds()[:3]):
            row[f"mark{index}"] += minutes >= threshold
        row["minutes"] += minutes
        row["cents"] += rollup.expected_amount_cents if rollup else 0
        if rollup is not None and rollup.billable:
            row["billable"] += 1
        elif facts[patient.id].blocked:
            row["blocked"] += 1
        elif not any(projected_lines(lane, lane_pool_seconds(
                lane, rollup.staff_seconds if rollup else 0,
                rollup.practitioner_seconds if rollup else 0), month, today)
                for lane in lanes):
            row["at_risk"] += 1
    week = _week_minutes(session, member_ids, practice, today, zone)
    last = _last_activity(session, member_ids, practice)
    reviews = _review_counts(session, viewer, practice, month, now)
    people: list[User | None] = list(members)
    if None in totals:
        people.append(None)
    return [_row(person, totals[person.id if person else None], week, last, reviews, zone)
            for person in people]


def care_manager_worklist(*, session: Session, viewer: User, care_manager_id: str,
                          month: YearMonth | None, now: datetime, client: str = "") -> dict:
    """A team member's worklist exactly as she sees it (tap-through from a team row).

    Each patient listed is a PHI read by the viewer, audited like the worklist itself.
    """
    member = require_team_member(session=session, viewer=viewer, user_id=care_manager_id)
    body = worklist_body(session=session, user=member, month=month, now=now)
    for row in body["patients"]:
        record_audit(session=session, action="team.worklist.read", user_id=viewer.id,
                     patient_id=uuid.UUID(row["id"]), client=client, occurred_at=now,
                     detail={"month": body["month"], "care_manager": str(member.id)})
    return body


def _row(person: User | None, counts: Counter[str], week: dict[uuid.UUID, int],
         last: dict[uuid.UUID, datetime], reviews: Counter[uuid.UUID | None],
         zone: ZoneInfo) -> TeamRow:
    key = person.id if person else None
    seen = last.get(key) if key else None
    return TeamRow(
        care_manager_id=str(key) if key else None,
        name=person.name if person else "Unassigned",
        credential=person.credential if person else "",
        active=person.active if person else True,
        enrolled_patients=counts["enrolled"], at_base_code=counts["mark0"],
        at_first_add_on=counts["mark1"], at_second_add_on=counts["mark2"],
        billable_patients=counts["billable"], at_risk_patients=counts["at_risk"],
        blocked_patients=counts["blocked"], countable_minutes=counts["minutes"],
        expected_amount_cents=counts["cents"],
        minutes_this_week=week.get(key, 0) if key else 0, review_items=reviews[key],
        last_activity_at=seen.astimezone(zone).isoformat() if seen else None)


def _rollups(session: Session, ids: list[uuid.UUID],
             month: YearMonth) -> dict[uuid.UUID, PatientMonth]:
    found: dict[uuid.UUID, PatientMonth] = {}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for row in session.exec(select(PatientMonth).where(
                PatientMonth.patient_id.in_(chunk), PatientMonth.month == str(month))):
            found[row.patient_id] = row
    return found


def _week_minutes(session: Session, member_ids: list[uuid.UUID], practice: Practice,
                  today: date, zone: ZoneInfo) -> dict[uuid.UUID, int]:
    """Minutes each person logged in the practice-local ISO week (Monday to Sunday)."""
    if not member_ids:
        return {}
    monday = today - timedelta(days=today.weekday())
    start = start_of_local_day(monday, zone)
    end = start_of_local_day(monday + timedelta(days=7), zone)
    voided = sa.select(TimeEntryVoid.time_entry_id)
    rows = session.execute(
        sa.select(TimeEntry.performer_id, sa.func.sum(TimeEntry.duration_seconds))
        .join(Patient, Patient.id == TimeEntry.patient_id)
        .where(TimeEntry.performer_id.in_(member_ids), TimeEntry.started_at >= start,
               TimeEntry.started_at < end, TimeEntry.id.not_in(voided),
               Patient.practice_id == practice.id)
        .group_by(TimeEntry.performer_id))
    return {performer: int(seconds or 0) // 60 for performer, seconds in rows}


def _last_activity(session: Session, member_ids: list[uuid.UUID],
                   practice: Practice) -> dict[uuid.UUID, datetime]:
    if not member_ids:
        return {}
    latest: dict[uuid.UUID, datetime] = {}
    for column, owner, about in ((TimeEntry.received_at, TimeEntry.performer_id,
                                  TimeEntry.patient_id),
                                 (Note.received_at, Note.author_id, Note.patient_id)):
        for person, at in session.execute(
                sa.select(owner, sa.func.max(column)).join(Patient, Patient.id == about)
                .where(owner.in_(member_ids), Patient.practice_id == practice.id)
                .group_by(owner)):
            if at is None:
                continue
            at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
            at = at if at.tzinfo else at.replace(tzinfo=ZoneInfo("UTC"))  # SQLite aggregates
            latest[person] = max(latest.get(person, at), at)
    return latest


def _review_counts(session: Session, viewer: User, practice: Practice, month: YearMonth,
                   now: datetime) -> Counter[uuid.UUID | None]:
    """Undecided items per care manager: of her patients, else of whoever pushed them.

    For the current month the queue's default window (this month and the last, the one
    being closed) is counted; for another month, that month only.
    """
    current = default_months(practice, now)
    months = current if month == current[-1] else [month]
    counts: Counter[uuid.UUID | None] = Counter()
    for item in review_items(session=session, viewer=viewer, now=now, months=months):
        owner = item.care_manager_id or item.person_id
        counts[uuid.UUID(owner) if owner else None] += 1
    return counts
