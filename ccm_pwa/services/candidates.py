"""Patients on my caseload not yet enrolled: who could be, and why (not)."""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import Session, select

from ccm_pwa.auth.access import visible_patients
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.models import Condition, EnrollmentStatus, Patient, User
from ccm_pwa.services.enrollment import eligibility
from ccm_pwa.services.patient_record import plain_words

OPEN_STATUSES = (EnrollmentStatus.CANDIDATE, EnrollmentStatus.CONSENT_PENDING)


def candidates(*, session: Session, user: User, client: str = "") -> list[dict[str, object]]:
    """Candidates and consent-pending patients, eligible first, with the reason in words."""
    rows = candidate_rows(session=session, user=user)
    record_audit(session=session, action="candidates.view", user_id=user.id, client=client,
                 detail={"patients": len(rows)})
    session.flush()
    return rows


def candidate_rows(*, session: Session, user: User) -> list[dict[str, object]]:
    """The rows without the audit row: the sync pull audits what it sends its own way."""
    patients = list(session.exec(
        select(Patient).where(Patient.id.in_(visible_patients(user)),
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
        })
    rows.sort(key=lambda r: (not r["eligible"], r["name"]))
    return rows
