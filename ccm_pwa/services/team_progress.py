"""A team's month at a glance, one row per care manager, read from the rollups.

`team_progress` is what dashboards call: one grouped query over PatientMonth, O(patients).
`team_progress_from_events` recomputes the same figures from the raw time events; it exists
to prove the rollups right (tests) and to measure what they save (bench/progress.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.domain.billing import evaluate_month
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.models import EnrollmentStatus, Patient, PatientMonth, Practice, User
from ccm_pwa.services.billing_cases import load_month_inputs


@dataclass(frozen=True)
class CareManagerMonth:
    care_manager_id: uuid.UUID | None
    care_manager: str
    enrolled_patients: int
    billable_patients: int
    patients_with_time: int
    countable_minutes: int
    expected_amount_cents: int

    @property
    def patients_needing_minutes(self) -> int:
        return self.enrolled_patients - self.billable_patients


def team_progress(
    *, session: Session, practice: Practice, month: YearMonth
) -> list[CareManagerMonth]:
    """Enrolled patients per care manager with their month's rollups (missing row = 0)."""
    rollup = sa.and_(PatientMonth.patient_id == Patient.id, PatientMonth.month == str(month))
    query = (
        sa.select(
            Patient.care_manager_id,
            sa.func.count(Patient.id),
            sa.func.count(sa.case((PatientMonth.billable.is_(True), 1))),
            sa.func.count(sa.case((PatientMonth.countable_minutes > 0, 1))),
            sa.func.coalesce(sa.func.sum(PatientMonth.countable_minutes), 0),
            sa.func.coalesce(sa.func.sum(PatientMonth.expected_amount_cents), 0),
        )
        .select_from(Patient)
        .outerjoin(PatientMonth, rollup)
        .where(Patient.practice_id == practice.id,
               Patient.enrollment_status == EnrollmentStatus.ENROLLED)
        .group_by(Patient.care_manager_id)
    )
    names = _names(session, practice)
    rows = [
        CareManagerMonth(manager, names.get(manager, "Unassigned"), int(enrolled), int(billable),
                         int(with_time), int(minutes), int(cents))
        for manager, enrolled, billable, with_time, minutes, cents in session.execute(query)
    ]
    return sorted(rows, key=lambda r: r.care_manager)


def team_progress_from_events(
    *, session: Session, practice: Practice, month: YearMonth
) -> list[CareManagerMonth]:
    """The same figures as `team_progress`, recomputed from every time event of the month."""
    totals: dict[uuid.UUID | None, list[int]] = {}
    for item in load_month_inputs(session=session, practice=practice, month=month):
        if item.patient.enrollment_status != EnrollmentStatus.ENROLLED:
            continue
        evaluation = evaluate_month(item.case)
        minutes = evaluation.time.countable_seconds // 60
        row = totals.setdefault(item.patient.care_manager_id, [0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += evaluation.billable
        row[2] += minutes > 0
        row[3] += minutes
        row[4] += int(evaluation.total_amount * 100)
    names = _names(session, practice)
    rows = [CareManagerMonth(manager, names.get(manager, "Unassigned"), *values)
            for manager, values in totals.items()]
    return sorted(rows, key=lambda r: r.care_manager)


def _names(session: Session, practice: Practice) -> dict[uuid.UUID | None, str]:
    users = session.exec(select(User).where(User.practice_id == practice.id))
    return {u.id: u.name for u in users}
