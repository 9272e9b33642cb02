"""One patient's record for the phone (GET /patients/{id}): facts, month progress, work, plan.

Billing facts come from `load_inputs` and the same evaluation the claim and the rollups use,
so the minutes and codes on this screen are the ones that will be billed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.access import require_patient
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.domain.billing import evaluate_month
from ccm_pwa.domain.calendar import YearMonth, local_date
from ccm_pwa.domain.progress import MonthProgress, month_progress
from ccm_pwa.models import (
    CarePlan,
    Condition,
    Note,
    Patient,
    Practice,
    Task,
    TaskStatus,
    TimeEntry,
    TimeEntryVoid,
    User,
)
from ccm_pwa.services import care_plans
from ccm_pwa.services.billing_cases import PatientMonthInput, reusing
from ccm_pwa.services.demo_data import PLAIN_WORDS
from ccm_pwa.services.enrollment import eligibility
from ccm_pwa.services.rollups import claim_codes_text

OPEN_TASKS = (TaskStatus.READY, TaskStatus.IN_PROGRESS, TaskStatus.ON_HOLD)
NOTES_SHOWN = 50


def read_patient_record(*, session: Session, user: User, patient_id: str,
                        month: YearMonth | None, now: datetime, client: str = "") -> dict:
    """The record if the patient is on `user`'s caseload (else AccessDenied); audited."""
    patient = require_patient(session=session, user=user, patient_id=patient_id)
    body = patient_record(session=session, patient=patient, month=month, now=now)
    record_audit(session=session, action="patient.read", user_id=user.id,
                 patient_id=patient.id, client=client, occurred_at=now,
                 detail={"month": body["progress"]["month"]})
    return body


def read_care_plan_history(*, session: Session, user: User, patient_id: str, now: datetime,
                           client: str = "") -> dict:
    patient = require_patient(session=session, user=user, patient_id=patient_id)
    revisions = care_plans.history(session=session, patient_id=patient.id)
    zone = _zone(session, patient)
    names = names_of(session, (r.author_id for r in revisions))
    record_audit(session=session, action="care_plan.history.read", user_id=user.id,
                 patient_id=patient.id, client=client, occurred_at=now)
    return {"revisions": [{"element": r.element, "version": r.version, "value": r.value,
                           "author": names.get(r.author_id), "at": _at(r.occurred_at, zone)}
                          for r in revisions]}


def patient_record(*, session: Session, patient: Patient, month: YearMonth | None,
                   now: datetime) -> dict:
    return patient_records(session=session, patients=[patient], month=month, now=now)[patient.id]


def patient_records(*, session: Session, patients: list[Patient], month: YearMonth | None,
                    now: datetime,
                    known: dict[YearMonth, dict[uuid.UUID, PatientMonthInput]] | None = None,
                    ) -> dict[uuid.UUID, dict]:
    """The records of several patients of one practice with a fixed number of queries.

    The sync pull builds a whole caseload's records on a reset to see what changed, so
    one record per query set would cost a few hundred round trips; one body, one builder.
    `known`: cases already read in this snapshot (`billing_cases.reusing`).
    """
    if not patients:
        return {}
    practice = session.get(Practice, patients[0].practice_id)
    assert practice is not None
    zone = ZoneInfo(practice.timezone)
    today = local_date(now, zone)
    month = month or YearMonth.of(today)
    ids = [p.id for p in patients]
    inputs = reusing(session=session, practice=practice, months=[month.preceding(), month],
                     patient_ids=ids, known=known)
    items = {item.patient.id: item for item in inputs[month]}
    earlier = {item.patient.id: item for item in inputs[month.preceding()]}
    entries = _entries(session, [e.id for item in items.values() for e in item.entries])
    notes: dict[uuid.UUID, list[Note]] = defaultdict(list)
    for chunk in _chunks(ids):
        for note in session.exec(select(Note).where(Note.patient_id.in_(chunk))
                                 .order_by(Note.occurred_at.desc(), Note.id)):
            if len(notes[note.patient_id]) < NOTES_SHOWN:
                notes[note.patient_id].append(note)
    tasks: dict[uuid.UUID, list[Task]] = defaultdict(list)
    for chunk in _chunks(ids):
        for task in session.exec(select(Task).where(Task.patient_id.in_(chunk),
                                                    Task.status.in_(OPEN_TASKS))
                                 .order_by(Task.due_at.is_(None), Task.due_at, Task.title)):
            tasks[task.patient_id].append(task)
    plans = care_plans.current_plans(session=session, patient_ids=ids)
    revisions = care_plans.newest_revisions_of(session=session,
                                               plan_ids=[p.id for p in plans.values()])
    conditions = _conditions(session, ids, today)
    names = names_of(session, [
        *(who for p in patients for who in (p.care_manager_id, p.billing_practitioner_id)),
        *(e.performer_id for e, _ in entries.values()),
        *(n.author_id for rows in notes.values() for n in rows),
        *(r.author_id for by_element in revisions.values() for r in by_element.values()),
        *(who for item in items.values() if item.consent
          for who in (item.consent.obtained_by_id, item.consent.billing_practitioner_id))])
    bodies: dict[uuid.UUID, dict] = {}
    for patient in patients:
        item, last = items[patient.id], earlier[patient.id]
        progress = month_progress(item.case, now, care_plan_in_force=item.care_plan is not None)
        last_evaluation = evaluate_month(last.case)
        shown = sorted((entries[e.id] for e in item.entries if e.id in entries),
                       key=lambda pair: (pair[0].started_at, str(pair[0].id)), reverse=True)
        consent = item.consent
        plan = plans.get(patient.id)
        bodies[patient.id] = {
            "patient": _patient(patient, today, names, practice.name),
            "conditions": conditions.get(patient.id, []),
            "eligibility": vars(eligibility(patient.program,
                                            item.case.patient.chronic_conditions)),
            "consent": None if consent is None else {
                "date": consent.consented_on.isoformat(), "method": consent.method,
                "obtained_by": names.get(consent.obtained_by_id),
                "billing_practitioner": names.get(consent.billing_practitioner_id),
                "disclosures": {"service_explained": consent.disclosed_service,
                                "cost_sharing": consent.disclosed_cost_sharing,
                                "one_practitioner_per_month": consent.disclosed_one_practitioner,
                                "may_stop_any_time": consent.disclosed_stop_anytime}},
            "progress": _progress(month, progress),
            "last_month": {"month": str(month.preceding()),
                           "minutes": last_evaluation.time.countable_seconds // 60,
                           "codes": claim_codes_text(last_evaluation),
                           "billable": last_evaluation.billable},
            "time_entries": [_entry(entry, void, names, zone) for entry, void in shown],
            "notes": [{"id": str(n.id), "body": n.body, "author": names.get(n.author_id),
                       "at": _at(n.occurred_at, zone)} for n in notes[patient.id]],
            "tasks": [{"id": str(t.id), "title": t.title, "status": t.status,
                       "priority": t.priority, "due_at": _at(t.due_at, zone),
                       "overdue": t.due_at is not None and t.due_at < now, "kind": t.kind}
                      for t in tasks[patient.id]],
            "care_plan": None if plan is None else _plan(plan, revisions.get(plan.id, {}),
                                                         names, zone),
        }
    return bodies


def person_label(name: str, credential: str) -> str:
    """"Kim Alvarez (RN)", as the time log auditors ask for shows who did the work."""
    if not credential or name.endswith(credential):
        return name
    return f"{name} ({credential})"


def plain_words(code: str, description: str) -> str:
    """"diabetes" for E11.9: the words a care manager says on the phone."""
    return PLAIN_WORDS.get(code.split(".")[0].strip().upper(), description)


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _patient(patient: Patient, today: date, names: dict[uuid.UUID, str],
             practice: str) -> dict:
    return {"id": str(patient.id), "name": f"{patient.given_name} {patient.family_name}",
            "practice": practice,
            "given_name": patient.given_name, "family_name": patient.family_name,
            "mrn": patient.mrn, "birth_date": patient.birth_date.isoformat(),
            "age": age_on(patient.birth_date, today), "phone": patient.phone,
            "language": patient.preferred_language, "program": patient.program,
            "enrollment_status": patient.enrollment_status,
            "enrollment_reason": patient.enrollment_reason,
            "care_manager": names.get(patient.care_manager_id) if patient.care_manager_id
            else None,
            "billing_practitioner": names.get(patient.billing_practitioner_id)
            if patient.billing_practitioner_id else None,
            "billing_practitioner_id": str(patient.billing_practitioner_id)
            if patient.billing_practitioner_id else None}


def _conditions(session: Session, ids: list[uuid.UUID], today: date
                ) -> dict[uuid.UUID, list[dict]]:
    found: dict[uuid.UUID, list[dict]] = defaultdict(list)
    for chunk in _chunks(ids):
        for c in session.exec(select(Condition).where(
                Condition.patient_id.in_(chunk),
                sa.or_(Condition.resolved_date.is_(None), Condition.resolved_date >= today))
                .order_by(Condition.chronic.desc(), Condition.icd10_code)):
            found[c.patient_id].append({
                "code": c.icd10_code, "description": c.description,
                "plain": plain_words(c.icd10_code, c.description), "chronic": c.chronic})
    return found


def _progress(month: YearMonth, progress: MonthProgress) -> dict:
    evaluation = progress.evaluation
    return {"month": str(month), "minutes": progress.countable_minutes,
            "marks": list(progress.marks),
            "codes": [{"code": line.code, "units": line.units}
                      for line in evaluation.claim_lines],
            "next_code": progress.next_code, "minutes_to_next": progress.minutes_to_next,
            "days_left": progress.days_left, "status": progress.status,
            "blocking_reasons": list(progress.blocking_reasons),
            "projected_codes": [spec.code if spec.units == 1 else f"{spec.code}x{spec.units}"
                                for spec in progress.projected_codes],
            "excluded": [{"id": e.entry_id, "reason": e.reason, "seconds": e.seconds}
                         for e in evaluation.excluded]}


def _entries(session: Session, ids: list[uuid.UUID]
             ) -> dict[uuid.UUID, tuple[TimeEntry, TimeEntryVoid | None]]:
    """The entries billing saw (by id), each with its void."""
    found: dict[uuid.UUID, tuple[TimeEntry, TimeEntryVoid | None]] = {}
    for chunk in _chunks(ids):
        voids = {v.time_entry_id: v for v in session.exec(
            select(TimeEntryVoid).where(TimeEntryVoid.time_entry_id.in_(chunk)))}
        for entry in session.exec(select(TimeEntry).where(TimeEntry.id.in_(chunk))):
            found[entry.id] = (entry, voids.get(entry.id))
    return found


def _chunks(ids: list[uuid.UUID], size: int = 500) -> list[list[uuid.UUID]]:
    """IN lists of bounded length (SQLite's parameter limit, PostgreSQL's plan cache)."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _entry(entry: TimeEntry, void: TimeEntryVoid | None, names: dict[uuid.UUID, str],
           zone: ZoneInfo) -> dict:
    return {"id": str(entry.id), "started_at": _at(entry.started_at, zone),
            "seconds": entry.duration_seconds, "minutes": entry.duration_seconds // 60,
            "activity": entry.activity, "note": entry.note,
            "performer": names.get(entry.performer_id), "performer_kind": entry.performer_kind,
            "source": entry.source, "voided": void is not None,
            "void_reason": void.reason if void else "", "flags": list(entry.review_flags)}


def _plan(plan: CarePlan, revisions: dict, names: dict[uuid.UUID, str], zone: ZoneInfo) -> dict:
    elements: dict[str, Any] = {}
    for element in care_plans.ELEMENTS:
        revision = revisions.get(element)
        elements[element.value] = (
            {"value": None, "version": 0, "author": None, "at": None} if revision is None else
            {"value": revision.value, "version": revision.version,
             "author": names.get(revision.author_id), "at": _at(revision.occurred_at, zone)})
    return {"id": str(plan.id), "established_on": _day(plan.established_on),
            "copy_given_on": _day(plan.copy_given_on),
            "copy_given_method": plan.copy_given_method,
            "next_review_on": _day(plan.next_review_on),
            "last_reviewed_on": _day(plan.last_reviewed_on), "elements": elements}


def names_of(session: Session, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """"Kim Alvarez (RN)" for each user id, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(sa.select(User.id, User.name, User.credential)
                           .where(User.id.in_(wanted)))
    return {user_id: person_label(name, credential) for user_id, name, credential in rows}


def _zone(session: Session, patient: Patient) -> ZoneInfo:
    practice = session.get(Practice, patient.practice_id)
    assert practice is not None
    return ZoneInfo(practice.timezone)


def _at(value: datetime | None, zone: ZoneInfo) -> str | None:
    """Instants in the practice's local time with their offset, as the contract says."""
    return value.astimezone(zone).isoformat() if value is not None else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None
