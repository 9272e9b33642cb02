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
from ccm_pwa.domain.time_rules import MAX_ENTRY_SPAN
from ccm_pwa.models import (
    CarePlan,
    CarePlanStatus,
    Condition,
    Consent,
    InpatientStay,
    MonthlyAssessment,
    Patient,
    Practice,
    TimeEntry,
    TimeEntryVoid,
)

# Entries are looked up from MAX_ENTRY_SPAN before the month starts, so a call that began
# before local midnight on the 1st still contributes its in-month part.


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
    """One case per patient of the practice (or of `patient_ids`) for `month`."""
    return load_inputs(session=session, practice=practice, months=[month],
                       patient_ids=patient_ids)[month]


def load_inputs(
    *,
    session: Session,
    practice: Practice,
    months: list[YearMonth],
    patient_ids: list[uuid.UUID] | None = None,
    only_with_entries: bool = False,
    entry_details: bool = True,
) -> dict[YearMonth, list[PatientMonthInput]]:
    """Cases for several months at once, reading each table once for the whole range.

    A fixed number of queries whatever the number of patients or months, so a month-end
    report or a full rollup rebuild over a practice group stays fast (bench/progress.py).
    With `only_with_entries`, a patient-month is built only when a time entry touches it;
    without `entry_details`, entries carry only what billing needs (no note, activity, who).
    """
    zone = ZoneInfo(practice.timezone)
    months = sorted(set(months))
    bounds = {m: month_bounds(m, zone) for m in months}
    first_start, last_end = bounds[months[0]][0], bounds[months[-1]][1]
    patients = _Scope(practice, None if patient_ids is None else list(patient_ids)
                      ).patients(session)
    result: dict[YearMonth, list[PatientMonthInput]] = {m: [] for m in months}
    if not patients:
        return result
    scope = _Scope(practice, [p.id for p in patients] if patient_ids is not None else None)
    conditions = _by_patient(scope.rows(session, Condition, Condition.chronic.is_(True)))
    consents = _by_patient(scope.rows(session, Consent))
    stays = _by_patient(scope.rows(
        session, InpatientStay, InpatientStay.admitted_at < last_end,
        sa.or_(InpatientStay.discharged_at.is_(None), InpatientStay.discharged_at > first_start)))
    plans = _by_patient(scope.rows(session, CarePlan, CarePlan.status != CarePlanStatus.DRAFT,
                                   CarePlan.established_on <= months[-1].last_day))
    assessments = {(a.patient_id, a.month): a for a in scope.rows(
        session, MonthlyAssessment, MonthlyAssessment.month.in_([str(m) for m in months]))}
    entries = _by_patient(scope.entry_rows(session, first_start - MAX_ENTRY_SPAN, last_end,
                                           ENTRY_COLUMNS if entry_details else BILLING_COLUMNS))
    voided = frozenset(scope.voided(session, first_start - MAX_ENTRY_SPAN, last_end))
    for patient in patients:
        rows = sorted(entries.get(patient.id, []), key=lambda e: (e.started_at, str(e.id)))
        spans = [(e, e.started_at, e.started_at + timedelta(seconds=e.duration_seconds))
                 for e in rows]
        for month in months:
            start, end = bounds[month]
            touching = tuple(e for e, e_start, e_end in spans if e_start < end and e_end > start)
            if only_with_entries and not touching:
                continue
            result[month].append(_patient_month(
                practice, zone, month, (start, end), patient, touching, voided,
                conditions.get(patient.id, []), consents.get(patient.id, []),
                stays.get(patient.id, []), plans.get(patient.id, []),
                assessments.get((patient.id, str(month)))))
    return result


def reusing(
    *,
    session: Session,
    practice: Practice,
    months: list[YearMonth],
    patient_ids: list[uuid.UUID],
    known: dict[YearMonth, dict[uuid.UUID, PatientMonthInput]] | None,
) -> dict[YearMonth, list[PatientMonthInput]]:
    """`load_inputs` of these patients, through `known`: a cache of one session and snapshot.

    The sync pull builds a moved patient's worklist row and her record from one read of
    her cases (the two used to read the same rows twice). Patients missing from `known` in
    any of `months` are read, for `months` and the month before them both (what a record
    shows), and added to it; the others are taken from it.
    """
    if known is None:
        return load_inputs(session=session, practice=practice, months=months,
                           patient_ids=patient_ids)
    missing = [p for p in patient_ids if any(p not in known.get(m, {}) for m in months)]
    if missing:
        wider = sorted({*months, *(m.preceding() for m in months)})
        for month, items in load_inputs(session=session, practice=practice, months=wider,
                                        patient_ids=missing).items():
            known.setdefault(month, {}).update((item.patient.id, item) for item in items)
    wanted = set(patient_ids)
    return {m: sorted((item for pid, item in known.get(m, {}).items() if pid in wanted),
                      key=lambda item: item.patient.mrn) for m in months}


def _patient_month(
    practice: Practice, zone: ZoneInfo, month: YearMonth, bounds: tuple[datetime, datetime],
    patient: Patient, entries: tuple[sa.Row, ...], voided: frozenset[uuid.UUID],
    conditions: list[Condition], consents: list[Consent], stays: list[InpatientStay],
    plans: list[CarePlan], assessment: MonthlyAssessment | None,
) -> PatientMonthInput:
    start, end = bounds
    consent = _consent_in_force(consents, patient, month)
    active_conditions = tuple(
        c for c in conditions
        if (c.onset_date is None or c.onset_date <= month.last_day)
        and (c.resolved_date is None or c.resolved_date >= month.first_day))
    in_force = [p for p in plans if p.established_on <= month.last_day]
    plan = max(in_force, key=lambda p: p.established_on, default=None)
    month_stays = [s for s in stays
                   if s.admitted_at < end and (s.discharged_at is None or s.discharged_at > start)]
    case = case_model.BillingCase(
        month=month, zone=zone, fee_year=practice.fee_year,
        patient=case_model.Patient(
            chronic_conditions=tuple(c.icd10_code for c in active_conditions),
            program=case_model.Program(patient.program),
            consent_date=consent.consented_on if consent else None,
            complex_mdm=bool(assessment and assessment.complex_mdm),
            inpatient_stays=tuple(case_model.InpatientStay(s.admitted_at, s.discharged_at)
                                  for s in month_stays),
            care_plan_in_force=plan is not None,
        ),
        time_entries=tuple(case_model.TimeEntry(
            id=str(e.id), started_at=e.started_at, duration_seconds=e.duration_seconds,
            performer=case_model.Performer(e.performer_kind), voided=e.id in voided)
            for e in entries),
    )
    return PatientMonthInput(patient, case, entries, voided, consent, active_conditions, plan)


def _by_patient(rows: list) -> dict[uuid.UUID, list]:
    grouped: dict[uuid.UUID, list] = defaultdict(list)
    for row in rows:
        grouped[row.patient_id].append(row)
    return grouped



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


class _Scope:
    """Which patients a load covers: a few ids (IN lists), or the whole practice (subquery)."""

    def __init__(self, practice: Practice, patient_ids: list[uuid.UUID] | None) -> None:
        self.practice_id = practice.id
        self.ids = patient_ids

    def _chunks(self) -> list[object]:
        if self.ids is None:
            everyone = sa.select(Patient.id).where(Patient.practice_id == self.practice_id)
            return [lambda column: column.in_(everyone)]
        return [lambda column, chunk=self.ids[i : i + 500]: column.in_(chunk)
                for i in range(0, len(self.ids), 500)]

    def patients(self, session: Session) -> list[Patient]:
        """The patients themselves, by MRN. A few are read by id alone and the practice is
        checked here: with both in SQL the planner walks the practice's (practice, mrn)
        index, every patient of it, for a caseload of few."""
        if self.ids is None:
            return list(session.exec(select(Patient).where(
                Patient.practice_id == self.practice_id).order_by(Patient.mrn)))
        return sorted((p for within in self._chunks()
                       for p in session.exec(select(Patient).where(within(Patient.id)))
                       if p.practice_id == self.practice_id), key=lambda p: p.mrn)

    def rows(self, session: Session, model: type, *where: object) -> list:
        found: list = []
        for within in self._chunks():
            found.extend(session.exec(select(model).where(within(model.patient_id), *where)))
        return found

    def entry_rows(self, session: Session, since: datetime, until: datetime,
                   columns: tuple) -> list[sa.Row]:
        found: list[sa.Row] = []
        for within in self._chunks():
            found.extend(session.execute(
                sa.select(*columns).where(within(TimeEntry.patient_id),
                                                TimeEntry.started_at >= since,
                                                TimeEntry.started_at < until)))
        return found

    def voided(self, session: Session, since: datetime, until: datetime) -> list[uuid.UUID]:
        found: list[uuid.UUID] = []
        for within in self._chunks():
            found.extend(session.execute(
                sa.select(TimeEntryVoid.time_entry_id)
                .join(TimeEntry, TimeEntry.id == TimeEntryVoid.time_entry_id)
                .where(within(TimeEntry.patient_id), TimeEntry.started_at >= since,
                       TimeEntry.started_at < until)).scalars())
        return found


# What billing, reports and packets read of an entry: plain rows, not ORM objects, because a
# month-end run reads hundreds of thousands of them (bench/progress.py).
ENTRY_COLUMNS = (
    TimeEntry.id, TimeEntry.patient_id, TimeEntry.performer_id, TimeEntry.performer_kind,
    TimeEntry.activity, TimeEntry.note, TimeEntry.started_at, TimeEntry.duration_seconds,
    TimeEntry.source,
)
BILLING_COLUMNS = (TimeEntry.id, TimeEntry.patient_id, TimeEntry.performer_kind,
                   TimeEntry.started_at, TimeEntry.duration_seconds)
