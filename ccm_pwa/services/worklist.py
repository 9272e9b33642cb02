"""Today's worklist (GET /worklist): the caller's enrolled patients, ranked, with reasons.

Minutes, codes and status come from `load_inputs` and `month_progress`, the evaluation the
claim uses; the order comes from `domain.worklist.rank_worklist`.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from ccm_pwa.auth.access import roles_held, visible_patients
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.domain.calendar import YearMonth, local_date, start_of_local_day
from ccm_pwa.domain.progress import ProgressStatus, month_progress
from ccm_pwa.domain.worklist import TRANSITION_WINDOW_DAYS, WorklistInput, rank_worklist
from ccm_pwa.models import (
    Activity,
    EnrollmentStatus,
    InpatientStay,
    Patient,
    Practice,
    Role,
    Task,
    TaskStatus,
    User,
)
from ccm_pwa.services.billing_cases import PatientMonthInput, reusing
from ccm_pwa.services.patient_record import age_on, plain_words
from ccm_pwa.services.rollups import claim_codes_text

# What counts as the follow-up call after a discharge: talking with the patient or caregiver.
CALL_ACTIVITIES = frozenset({Activity.PHONE_CALL_PATIENT, Activity.PHONE_CALL_CAREGIVER,
                             Activity.TRANSITION_FOLLOW_UP})
# On-hold tasks wait on someone else, so they do not make a patient due today.
ACTIVE_TASKS = (TaskStatus.READY, TaskStatus.IN_PROGRESS)


def worklist(*, session: Session, user: User, month: YearMonth | None, now: datetime,
             client: str = "") -> dict:
    """The worklist of `month` (default: each practice's current month) as seen at `now`,
    across every practice where she holds a role: one list, ranked together.

    Each patient listed is a PHI read, so each gets an audit row.
    """
    body = worklist_body(session=session, user=user, month=month, now=now,
                         held=roles_held(session=session, user=user))
    for row in body["patients"]:
        record_audit(session=session, action="worklist.read", user_id=user.id,
                     patient_id=uuid.UUID(row["id"]), client=client, occurred_at=now,
                     detail={"month": row["month"], "rank": row["rank"]})
    return body


def worklist_body(*, session: Session, user: User, month: YearMonth | None, now: datetime,
                  previous: dict | None = None,
                  changed: Collection[uuid.UUID] = (),
                  known: dict[YearMonth, dict[uuid.UUID, PatientMonthInput]] | None = None,
                  held: list[tuple[uuid.UUID, Role]] | None = None) -> dict:
    """The worklist without its audit rows: the sync pull audits what it sends its own way.

    `held`: the practices to list, each with her role there (`access.roles_held`); None is
    her own practice alone (a supervisor's tap-through shows a member's worklist in the
    supervisor's practice, never the member's other practices). Each practice's own time
    zone decides its today, current month and days left; every row says its practice and
    month, and the ranking weighs each row by its own practice's days left. The top-level
    month, today and days left are her own practice's (the phone's heading); `practices`
    lists each one's.

    `previous`: this worklist as built earlier (the sync pull keeps the one it sent). Its
    rows are reused, practice by practice on the same local day and month, for every
    patient not in `changed`, and only the others are evaluated; the ranking is always
    redone. The caller vouches that nothing else moved (services/sync_pull.py's change
    stamps). `known`: cases already read in this snapshot (`billing_cases.reusing`).
    """
    held = held or [(user.practice_id, user.role)]
    moved = {str(c) for c in changed}
    sent_days = {p["id"]: (p["month"], p["today"]) for p in (previous or {}).get("practices", [])}
    sent = {row["id"]: row for row in (previous or {}).get("patients", [])}
    rows: dict[str, dict] = {}
    items: list[WorklistInput] = []
    practices: list[dict] = []
    for practice_id, role in held:
        practice = session.get(Practice, practice_id)
        assert practice is not None
        zone = ZoneInfo(practice.timezone)
        today = local_date(now, zone)
        its_month = month or YearMonth.of(today)
        days_left = (its_month.days if today < its_month.first_day else 0
                     if today > its_month.last_day else its_month.days - today.day + 1)
        label = {"practice_id": str(practice.id), "practice": practice.name,
                 "month": str(its_month), "days_left": days_left}
        practices.append({"id": str(practice.id), "name": practice.name,
                          "timezone": practice.timezone, "month": str(its_month),
                          "today": today.isoformat(), "days_in_month": its_month.days,
                          "days_left": days_left})
        # Enrolment is filtered here, not in SQL: there the planner walks every enrolled
        # patient of the practice by that index instead of the caseload's few.
        ids = [pid for pid, status in session.execute(sa.select(
            Patient.id, Patient.enrollment_status).where(
                Patient.id.in_(visible_patients(user, practice.id, role))))
            if status == EnrollmentStatus.ENROLLED]
        same_day = sent_days.get(str(practice.id)) == (str(its_month), today.isoformat())
        kept = {str(i): sent[str(i)] for i in ids
                if same_day and str(i) in sent and str(i) not in moved}
        fresh = [i for i in ids if str(i) not in kept]
        if fresh:
            evaluated, more = _evaluate(session, practice, its_month, fresh, now, zone, known)
            rows |= {key: {**row, **label} for key, row in evaluated.items()}
            items += more
        for key, row in kept.items():
            rows[key] = {k: v for k, v in row.items() if k not in ("rank", "why")}
            items.append(_item_of(row, days_left, its_month.days))
    ranked = rank_worklist(items)
    own = practices[0]
    return {"month": own["month"], "days_in_month": own["days_in_month"],
            "days_left": own["days_left"], "today": own["today"], "practices": practices,
            "patients": [{**rows[r.item.patient_id], "rank": r.rank, "why": list(r.why)}
                         for r in ranked]}


def _evaluate(session: Session, practice: Practice, month: YearMonth, ids: list[uuid.UUID],
              now: datetime, zone: ZoneInfo,
              known: dict[YearMonth, dict[uuid.UUID, PatientMonthInput]] | None = None,
              ) -> tuple[dict[str, dict], list[WorklistInput]]:
    """The rows of these patients, and what the ranking needs of each."""
    today = local_date(now, zone)
    inputs = reusing(session=session, practice=practice, months=[month], patient_ids=ids,
                     known=known)
    discharged = _discharged_lately(session, ids, now, zone)
    earlier = {item.patient.id: item for item in reusing(
        session=session, practice=practice, months=[month.preceding()],
        patient_ids=discharged, known=known)[month.preceding()]} if discharged else {}
    overdue, due_today = _task_counts(session, ids, now, start_of_local_day(
        today + timedelta(days=1), zone))
    rows: dict[str, dict] = {}
    items: list[WorklistInput] = []
    for item in inputs[month]:
        progress = month_progress(item.case, now, care_plan_in_force=item.care_plan is not None)
        counted = [e for e in item.entries if e.id not in item.voided]
        last_contact = max((e.started_at for e in counted), default=None)
        discharge = _recent_discharge(item, earlier.get(item.patient.id), now, zone)
        called_since = discharge is not None and _called_since(
            discharge, item, earlier.get(item.patient.id))
        patient = item.patient
        key = str(patient.id)
        items.append(WorklistInput(
            patient_id=key, name=f"{patient.given_name} {patient.family_name}",
            status=progress.status, minutes=progress.countable_minutes,
            next_code=progress.next_code, minutes_to_next=progress.minutes_to_next,
            days_left=progress.days_left, days_in_month=progress.days_in_month,
            overdue_tasks=overdue[patient.id], tasks_due_today=due_today[patient.id],
            recent_discharge=local_date(discharge, zone) if discharge else None,
            contacted_since_discharge=called_since, contacted_this_month=bool(counted),
            blocking_reasons=progress.blocking_reasons))
        rows[key] = {
            "id": key, "name": items[-1].name, "mrn": patient.mrn, "phone": patient.phone,
            "age": age_on(patient.birth_date, today), "program": patient.program,
            "conditions": _condition_words(item), "minutes": progress.countable_minutes,
            "marks": list(progress.marks), "codes": claim_codes_text(progress.evaluation),
            "next_code": progress.next_code, "minutes_to_next": progress.minutes_to_next,
            "status": progress.status, "blocking_reasons": list(progress.blocking_reasons),
            "tasks_due": overdue[patient.id] + due_today[patient.id],
            "overdue_tasks": overdue[patient.id],
            "recent_discharge": items[-1].recent_discharge.isoformat()
            if items[-1].recent_discharge else None,
            "contacted_since_discharge": called_since,
            "last_contact": last_contact.astimezone(zone).isoformat() if last_contact else None,
            "contacted_this_month": bool(counted)}
    return rows, items


def _item_of(row: dict, days_left: int, days_in_month: int) -> WorklistInput:
    """What the ranking needs of a reused row: every field of it is in the row."""
    return WorklistInput(
        patient_id=row["id"], name=row["name"], status=ProgressStatus(row["status"]),
        minutes=row["minutes"], next_code=row["next_code"],
        minutes_to_next=row["minutes_to_next"], days_left=days_left,
        days_in_month=days_in_month, overdue_tasks=row["overdue_tasks"],
        tasks_due_today=row["tasks_due"] - row["overdue_tasks"],
        recent_discharge=date.fromisoformat(row["recent_discharge"])
        if row["recent_discharge"] else None,
        contacted_since_discharge=row["contacted_since_discharge"],
        contacted_this_month=row["contacted_this_month"],
        blocking_reasons=tuple(row["blocking_reasons"]))


def _discharged_lately(session: Session, ids: list[uuid.UUID], now: datetime,
                       zone: ZoneInfo) -> list[uuid.UUID]:
    """The patients with a discharge in the transition window: only they need the month
    before (a stay that ended in it, and the calls since), so only they pay for reading it."""
    since = start_of_local_day(local_date(now, zone) - timedelta(days=TRANSITION_WINDOW_DAYS),
                               zone)
    found: set[uuid.UUID] = set()
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        found.update(session.execute(sa.select(InpatientStay.patient_id).where(
            InpatientStay.patient_id.in_(chunk), InpatientStay.discharged_at.is_not(None),
            InpatientStay.discharged_at >= since,
            InpatientStay.discharged_at <= now)).scalars())
    return sorted(found, key=str)


def _task_counts(session: Session, ids: list[uuid.UUID], now: datetime, tomorrow: datetime
                 ) -> tuple[Counter[uuid.UUID], Counter[uuid.UUID]]:
    """Open tasks per patient already overdue, and due later today."""
    overdue: Counter[uuid.UUID] = Counter()
    due_today: Counter[uuid.UUID] = Counter()
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for patient_id, due_at in session.execute(sa.select(Task.patient_id, Task.due_at).where(
                Task.patient_id.in_(chunk), Task.status.in_(ACTIVE_TASKS),
                Task.due_at.is_not(None), Task.due_at < tomorrow)):
            (overdue if due_at < now else due_today)[patient_id] += 1
    return overdue, due_today


def _recent_discharge(item: PatientMonthInput, earlier: PatientMonthInput | None,
                      now: datetime, zone: ZoneInfo) -> datetime | None:
    """The latest discharge in the last TRANSITION_WINDOW_DAYS (stays of both months read)."""
    stays = [*item.case.patient.inpatient_stays,
             *(earlier.case.patient.inpatient_stays if earlier else ())]
    window_start = local_date(now, zone) - timedelta(days=TRANSITION_WINDOW_DAYS)
    ends = [s.end for s in stays
            if s.end is not None and s.end <= now and local_date(s.end, zone) >= window_start]
    return max(ends, default=None)


def _called_since(discharge: datetime, item: PatientMonthInput,
                  earlier: PatientMonthInput | None) -> bool:
    for source in (item, earlier):
        if source is None:
            continue
        if any(e.started_at >= discharge and e.activity in CALL_ACTIVITIES
               and e.id not in source.voided for e in source.entries):
            return True
    return False


def _condition_words(item: PatientMonthInput) -> str:
    words: list[str] = []
    for condition in sorted(item.conditions, key=lambda c: c.icd10_code):
        word = plain_words(condition.icd10_code, condition.description)
        if word not in words:
            words.append(word)
    return ", ".join(words)
