"""Assemble the billing engine's input from stored events: one query set per practice-month.

This is the single place that decides which stored facts a month's billing sees (the
"every reader applies the same filters" lesson, field notes §4 D): the worklist, the
rollups, the billing report and the reminders all come through here.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.domain import billing_case as case_model
from ccm_pwa.domain.calendar import YearMonth, month_bounds
from ccm_pwa.models import (
    CarePlan,
    CarePlanStatus,
    Condition,
    Consent,
    EnrollmentStatus,
    InpatientStay,
    MonthlyAssessment,
    Patient,
    Practice,
    TimeEntry,
    TimeEntryVoid,
)

# Entries are looked up from this long before the month starts, so a call that began
# before local midnight on the 1st still contributes its in-month part.
MAX_ENTRY_SPAN = timedelta(hours=24)


@dataclass(frozen=True)
class PatientMonthInput:
    """The engine's case plus the stored rows it came from (for reports and packets)."""

    patient: Patient
    case: case_model.BillingCase
    entries: tuple[sa.Row, ...]  # ENTRY_COLUMNS of each TimeEntry, oldest first
    voided: frozenset[uuid.UUID]
    consent: Consent | None
    conditions: tuple[Condition, ...]
    care_plan: CarePlan | None


def load_month_inputs(
    *,
    session: Session,
    practice: Practice,
    month: YearMonth,
    patient_ids: list[uuid.UUID] | None = None,
) -> list[PatientMonthInput]:
    """Build one case per patient of the practice (or of `patient_ids`) for `month`.

    A fixed number of queries whatever the number of patients, so a month-end report over
    thousands of patients stays fast.
    """
    zone = ZoneInfo(practice.timezone)
    start, end = month_bounds(month, zone)
    patient_query = select(Patient).where(Patient.practice_id == practice.id)
    if patient_ids is not None:
        patient_query = patient_query.where(Patient.id.in_(patient_ids))
    patients = list(session.exec(patient_query.order_by(Patient.mrn)))
    if not patients:
        return []
    ids = [p.id for p in patients]

    def by_patient(rows: list) -> dict[uuid.UUID, list]:
        grouped: dict[uuid.UUID, list] = defaultdict(list)
        for row in rows:
            grouped[row.patient_id].append(row)
        return grouped

    conditions = by_patient(_in_chunks(session, Condition, ids, Condition.chronic.is_(True)))
    consents = by_patient(_in_chunks(session, Consent, ids))
    stays = by_patient(_in_chunks(
        session, InpatientStay, ids, InpatientStay.admitted_at < end,
        sa.or_(InpatientStay.discharged_at.is_(None), InpatientStay.discharged_at > start)))
    plans = by_patient(_in_chunks(session, CarePlan, ids, CarePlan.status != CarePlanStatus.DRAFT,
                                  CarePlan.established_on <= month.last_day))
    assessments = {a.patient_id: a for a in _in_chunks(
        session, MonthlyAssessment, ids, MonthlyAssessment.month == str(month))}
    entries = by_patient(_entry_rows(session, ids, start - MAX_ENTRY_SPAN, end))
    entry_ids = [e.id for rows in entries.values() for e in rows]
    voided = frozenset(v.time_entry_id for v in _voids(session, entry_ids))

    inputs = []
    for patient in patients:
        consent = _consent_in_force(consents.get(patient.id, []), patient, month)
        active_conditions = tuple(
            c for c in conditions.get(patient.id, [])
            if (c.onset_date is None or c.onset_date <= month.last_day)
            and (c.resolved_date is None or c.resolved_date >= month.first_day))
        plan = max(plans.get(patient.id, []), key=lambda p: p.established_on, default=None)
        assessment = assessments.get(patient.id)
        rows = tuple(sorted(entries.get(patient.id, []), key=lambda e: (e.started_at, str(e.id))))
        case = case_model.BillingCase(
            month=month, zone=zone, fee_year=practice.fee_year,
            patient=case_model.Patient(
                chronic_conditions=tuple(c.icd10_code for c in active_conditions),
                program=case_model.Program(patient.program),
                consent_date=consent.consented_on if consent else None,
                complex_mdm=bool(assessment and assessment.complex_mdm),
                inpatient_stays=tuple(case_model.InpatientStay(s.admitted_at, s.discharged_at)
                                      for s in stays.get(patient.id, [])),
                care_plan_in_force=plan is not None,
            ),
            time_entries=tuple(case_model.TimeEntry(
                id=str(e.id), started_at=e.started_at, duration_seconds=e.duration_seconds,
                performer=case_model.Performer(e.performer_kind), voided=e.id in voided)
                for e in rows),
        )
        inputs.append(PatientMonthInput(patient, case, rows, voided, consent,
                                        active_conditions, plan))
    return inputs


def is_enrolled(patient: Patient) -> bool:
    return patient.enrollment_status == EnrollmentStatus.ENROLLED


def _consent_in_force(
    consents: list[Consent], patient: Patient, month: YearMonth
) -> Consent | None:
    """The consent that covers `month` for the patient's current billing practitioner.

    Consent is needed once, and again when the billing practitioner changes (rules §3);
    a revocation takes effect at the end of the month it was given in.
    """
    usable = [
        c for c in consents
        if c.billing_practitioner_id == patient.billing_practitioner_id
        and c.consented_on <= month.last_day
        and (c.revoked_on is None or c.revoked_on >= month.first_day)
    ]
    return min(usable, key=lambda c: c.consented_on, default=None)


def _in_chunks(session: Session, model: type, ids: list[uuid.UUID], *where: object) -> list:
    rows: list = []
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        rows.extend(session.exec(select(model).where(model.patient_id.in_(chunk), *where)))
    return rows


# What billing, reports and packets read of an entry: plain rows, not ORM objects, because a
# month-end run reads hundreds of thousands of them (bench/progress.py).
ENTRY_COLUMNS = (
    TimeEntry.id, TimeEntry.patient_id, TimeEntry.performer_id, TimeEntry.performer_kind,
    TimeEntry.activity, TimeEntry.note, TimeEntry.started_at, TimeEntry.duration_seconds,
    TimeEntry.source,
)


def _entry_rows(session: Session, ids: list[uuid.UUID], since: datetime,
                until: datetime) -> list[sa.Row]:
    rows: list[sa.Row] = []
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        rows.extend(session.execute(
            sa.select(*ENTRY_COLUMNS).where(TimeEntry.patient_id.in_(chunk),
                                            TimeEntry.started_at >= since,
                                            TimeEntry.started_at < until)))
    return rows


def _voids(session: Session, entry_ids: list[uuid.UUID]) -> list[TimeEntryVoid]:
    rows: list[TimeEntryVoid] = []
    for i in range(0, len(entry_ids), 500):
        chunk = entry_ids[i : i + 500]
        rows.extend(session.exec(select(TimeEntryVoid)
                                 .where(TimeEntryVoid.time_entry_id.in_(chunk))))
    return rows
