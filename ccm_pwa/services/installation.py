"""What an IT person checks first: which practices, which month, how big, which schema."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.models import EnrollmentStatus, Patient, Practice, Role, User


@dataclass(frozen=True)
class PracticeSummary:
    name: str
    timezone: str
    local_month: str
    days_left: int
    enrolled_patients: int
    care_managers: int


def summarize_practices(*, session: Session, now: datetime) -> list[PracticeSummary]:
    """One line per practice; counts only, never patient details (no PHI before sign-in)."""
    enrolled = dict(session.execute(
        sa.select(Patient.practice_id, sa.func.count())
        .where(Patient.enrollment_status == EnrollmentStatus.ENROLLED)
        .group_by(Patient.practice_id)).all())
    managers = dict(session.execute(
        sa.select(User.practice_id, sa.func.count())
        .where(User.role == Role.CARE_MANAGER, User.active.is_(True))
        .group_by(User.practice_id)).all())
    summaries = []
    for practice in session.exec(select(Practice).order_by(Practice.name)):
        local = now.astimezone(ZoneInfo(practice.timezone))
        days_in_month = calendar.monthrange(local.year, local.month)[1]
        summaries.append(PracticeSummary(
            name=practice.name, timezone=practice.timezone,
            local_month=f"{local.year:04d}-{local.month:02d}",
            days_left=days_in_month - local.day + 1,
            enrolled_patients=enrolled.get(practice.id, 0),
            care_managers=managers.get(practice.id, 0)))
    return summaries
