"""The patients a user may see, with this month's progress from the rollups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from ccm_pwa.auth.access import visible_patients
from ccm_pwa.domain.calendar import local_month
from ccm_pwa.models import EnrollmentStatus, Patient, PatientMonth, Practice, User


@dataclass(frozen=True)
class CaseloadRow:
    patient_id: str
    name: str
    mrn: str
    program: str
    minutes: int
    claim_codes: str
    next_code: str
    minutes_to_next: int | None


def caseload(*, session: Session, user: User, now: datetime, limit: int = 500
             ) -> tuple[str, list[CaseloadRow]]:
    """Enrolled patients on `user`'s caseload with this (practice-local) month's rollup."""
    practice = session.get(Practice, user.practice_id)
    assert practice is not None
    month = str(local_month(now, ZoneInfo(practice.timezone)))
    query = (
        sa.select(Patient, PatientMonth)
        .outerjoin(PatientMonth, sa.and_(PatientMonth.patient_id == Patient.id,
                                         PatientMonth.month == month))
        .where(Patient.id.in_(visible_patients(user)),
               Patient.enrollment_status == EnrollmentStatus.ENROLLED)
        .order_by(Patient.family_name, Patient.given_name)
        .limit(limit)
    )
    rows = []
    for patient, rollup in session.execute(query):
        rows.append(CaseloadRow(
            patient_id=str(patient.id), name=f"{patient.given_name} {patient.family_name}",
            mrn=patient.mrn, program=patient.program,
            minutes=rollup.countable_minutes if rollup else 0,
            claim_codes=rollup.claim_codes if rollup else "",
            next_code=rollup.next_code if rollup else "",
            minutes_to_next=rollup.minutes_to_next if rollup else None))
    return month, rows
