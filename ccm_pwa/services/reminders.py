"""Who may get a reminder now, with their patients' month in numbers: the policy's input.

Minutes and status come from `load_inputs` and `month_progress`, the evaluation the claim
and the worklist use (field notes §4 D), so "4 patients need minutes" in a push is the
count the worklist's "needs minutes" chip shows when the reminder is tapped.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.domain.calendar import YearMonth, local_date, start_of_local_day
from ccm_pwa.domain.progress import month_progress
from ccm_pwa.domain.reminders import PatientSnapshot, Recipient, ReminderSettings
from ccm_pwa.models import (
    EnrollmentStatus,
    Patient,
    Practice,
    PracticeRole,
    ReminderDelivery,
    Role,
    Task,
    TaskStatus,
    User,
)
from ccm_pwa.services.billing_cases import load_inputs

OPEN_TASKS = (TaskStatus.READY, TaskStatus.IN_PROGRESS)


def practice_settings(practice: Practice) -> ReminderSettings:
    """The policy's defaults with the practice's own digest time (`HH:MM`, practice time)."""
    try:
        digest = time.fromisoformat(practice.reminder_local_time)
    except ValueError:
        digest = ReminderSettings().digest_time
    return ReminderSettings(digest_time=digest)


def reminder_recipients(*, session: Session, practice: Practice, now: datetime
                        ) -> list[tuple[User, Recipient]]:
    """Every active care manager with enrolled patients here, and every supervisor here, at
    `now`: the practice's own staff and the managed team holding a role in it, each with
    her role and supervisor in this practice (a managed-team member's reminders about this
    practice name it, and her own practice's come apart)."""
    zone = ZoneInfo(practice.timezone)
    today = local_date(now, zone)
    month = YearMonth.of(today)
    people = [(user, user.role, user.supervisor_id, False) for user in session.exec(
        select(User).where(User.practice_id == practice.id, User.active.is_(True)))]
    people += [(user, Role(role), supervisor_id, True)
               for user, role, supervisor_id in session.execute(
                   sa.select(User, PracticeRole.role, PracticeRole.supervisor_id)
                   .join(PracticeRole, PracticeRole.user_id == User.id)
                   .where(PracticeRole.practice_id == practice.id, User.active.is_(True)))]
    patients = list(session.exec(select(Patient).where(
        Patient.practice_id == practice.id, Patient.care_manager_id.is_not(None),
        Patient.enrollment_status == EnrollmentStatus.ENROLLED)))
    snapshots = _snapshots(session, practice, month, patients, now, zone) if patients else {}
    by_manager: dict[uuid.UUID, list[PatientSnapshot]] = defaultdict(list)
    for patient in patients:
        assert patient.care_manager_id is not None
        by_manager[patient.care_manager_id].append(snapshots[patient.id])
    sent = _sent_today(session, [u.id for u, *_ in people], today, zone)
    recipients = []
    for user, role, _supervisor, visiting in sorted(people, key=lambda p: p[0].email):
        supervises = role == Role.SUPERVISOR
        if not by_manager.get(user.id) and not supervises:
            continue
        team = [s for member, _r, supervisor_id, _v in people
                if supervisor_id == user.id or member.id == user.id
                for s in by_manager.get(member.id, [])] if supervises else []
        recipients.append((user, Recipient(
            user_id=str(user.id), patients=tuple(by_manager.get(user.id, [])),
            supervises=supervises, team_patients=tuple(team),
            sent_today=frozenset(sent.get(user.id, ())),
            practice_id=str(practice.id) if visiting else "",
            practice_name=practice.name if visiting else "")))
    return recipients


def _snapshots(session: Session, practice: Practice, month: YearMonth, patients: list[Patient],
               now: datetime, zone: ZoneInfo) -> dict[uuid.UUID, PatientSnapshot]:
    ids = [p.id for p in patients]
    today = local_date(now, zone)
    inputs = load_inputs(session=session, practice=practice, months=[month], patient_ids=ids,
                         entry_details=False)[month]
    due = _follow_ups_due_today(session, ids, start_of_local_day(today, zone),
                                start_of_local_day(today + timedelta(days=1), zone))
    found = {}
    for item in inputs:
        progress = month_progress(item.case, now, care_plan_in_force=item.care_plan is not None)
        consent = item.case.patient.consent_date
        found[item.patient.id] = PatientSnapshot(
            enrolled=item.patient.enrollment_status == EnrollmentStatus.ENROLLED,
            consented=consent is not None and consent <= today,
            status=progress.status, minutes=progress.countable_minutes,
            next_threshold_minutes=progress.next_threshold_minutes,
            follow_ups_due_today=due[item.patient.id])
    return found


def _follow_ups_due_today(session: Session, ids: list[uuid.UUID], start: datetime,
                          end: datetime) -> Counter[uuid.UUID]:
    """Open tasks per patient due on today's local date (earlier today included)."""
    due: Counter[uuid.UUID] = Counter()
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for (patient_id,) in session.execute(sa.select(Task.patient_id).where(
                Task.patient_id.in_(chunk), Task.status.in_(OPEN_TASKS),
                Task.due_at >= start, Task.due_at < end)):
            due[patient_id] += 1
    return due


def _sent_today(session: Session, user_ids: list[uuid.UUID], today, zone: ZoneInfo
                ) -> dict[uuid.UUID, set[str]]:
    """Reminder keys already claimed today per user (they count against the daily cap)."""
    start = start_of_local_day(today, zone)
    end = start_of_local_day(today + timedelta(days=1), zone)
    sent: dict[uuid.UUID, set[str]] = defaultdict(set)
    for chunk in (user_ids[i : i + 500] for i in range(0, len(user_ids), 500)):
        for user_id, key in session.execute(sa.select(
                ReminderDelivery.user_id, ReminderDelivery.reminder_key).where(
                ReminderDelivery.user_id.in_(chunk), ReminderDelivery.sent_at >= start,
                ReminderDelivery.sent_at < end)):
            sent[user_id].add(key)
    return sent
