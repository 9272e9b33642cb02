"""Patients on my caseload not yet enrolled, in every practice where I hold a role: who
could be, and why (not)."""

from __future__ import annotations

import uuid
from collections import defaultdict

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.access import roles_held, visible_everywhere
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.models import Condition, EnrollmentStatus, Patient, Practice, Role, User
from ccm_pwa.services.enrollment import eligibility
from ccm_pwa.services.patient_record import plain_words

OPEN_STATUSES = (EnrollmentStatus.CANDIDATE, EnrollmentStatus.CONSENT_PENDING)


def candidates(*, session: Session, user: User, client: str = "") -> list[dict[str, object]]:
    """Candidates and consent-pending patients, eligible first, with the reason in words."""
    rows = candidate_rows(session=session, user=user,
                          held=roles_held(session=session, user=user))
    record_audit(session=session, action="candidates.view", user_id=user.id, client=client,
                 detail={"patients": len(rows)})
    session.flush()
    return rows


def candidate_rows(*, session: Session, user: User,
                   held: list[tuple[uuid.UUID, Role]] | None = None) -> list[dict[str, object]]:
    """The rows without the audit row: the sync pull audits what it sends its own way.

    `held`: the practices to look in (`access.roles_held`); None is her own practice.
    """
    held = held or [(user.practice_id, user.role)]
    practice_names = dict(session.execute(sa.select(Practice.id, Practice.name).where(
        Practice.id.in_([practice_id for practice_id, _ in held]))).all()
    ) if len(held) > 1 else {}
    patients = list(session.exec(
        select(Patient).where(Patient.id.in_(visible_everywhere(user, held)),
                              Patient.enrollment_status.in_(OPEN_STATUSES))
        .order_by(Patient.family_name, Patient.given_name)))
    conditions: dict = defaultdict(list)
    if patients:
        for condition in session.exec(select(Condition).where(
                Condition.patient_id.in_([p.id for p in patients]), Condition.chronic.is_(True),
                Condition.resolved_date.is_(None))):
            conditions[condition.patient_id].append(condition)
    rows = []
    for patient in patients:
        chronic = conditions[patient.id]
        verdict = eligibility(patient.program, [c.icd10_code for c in chronic])
        rows.append({
            "id": str(patient.id), "name": f"{patient.given_name} {patient.family_name}",
            "mrn": patient.mrn, "status": patient.enrollment_status.replace("_", " "),
            "conditions": ", ".join(sorted({plain_words(c.icd10_code, c.description)
                                            for c in chronic})) or "none on file",
            "eligible": verdict.eligible, "reason": verdict.reason,
            "practice": practice_names.get(patient.practice_id, ""),
        })
    rows.sort(key=lambda r: (not r["eligible"], r["name"]))
    return rows
