"""Caseload assignment: move patients between care managers (admins only, audited).

Reminders follow automatically: the reminder job computes each care manager's digest
from `Patient.care_manager_id` at send time, and the phone's pull rebuilds the caseload
from the same column, so moving the assignment moves the patient's reminders, worklist
row and offline snapshot to the new care manager at their next run or sync.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session, select

from ccm_pwa.auth.access import AccessDenied, require_role, role_in
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.models import Patient, Role, User
from ccm_pwa.services.record_versions import bump_patients


class CaseloadError(ValueError):
    """The assignment cannot be made as asked; the message says why."""


def assign_patients(*, session: Session, admin: User, patient_ids: list[uuid.UUID | str],
                    care_manager_id: uuid.UUID | str, now: datetime,
                    client: str = "") -> list[Patient]:
    """Give every listed patient to `care_manager_id`; one audit row per patient moved.

    The new owner must be an active care manager or supervisor in the admin's practice (its
    own staff, or the managed team's with a role here: services/practice_roles.py);
    unknown or foreign patient ids refuse the whole batch (AccessDenied), nothing moves.
    """
    require_role(admin, Role.ADMIN)
    try:
        target_id = (care_manager_id if isinstance(care_manager_id, uuid.UUID)
                     else uuid.UUID(str(care_manager_id)))
        wanted = [p if isinstance(p, uuid.UUID) else uuid.UUID(str(p)) for p in patient_ids]
    except ValueError:
        raise AccessDenied from None
    target = session.get(User, target_id)
    role = None if target is None else role_in(session=session, user=target,
                                               practice_id=admin.practice_id)
    if target is None or role is None:
        raise AccessDenied
    if not target.active or role not in (Role.CARE_MANAGER, Role.SUPERVISOR):
        raise CaseloadError(f"{target.name} is not an active care manager or supervisor")
    if not wanted:
        raise CaseloadError("no patients given")
    patients = list(session.exec(select(Patient).where(Patient.id.in_(wanted))))
    if len(patients) != len(set(wanted)) or any(
            p.practice_id != admin.practice_id for p in patients):
        raise AccessDenied
    moved = []
    for patient in sorted(patients, key=lambda p: p.mrn):
        if patient.care_manager_id == target.id:
            continue
        before = patient.care_manager_id
        patient.care_manager_id, patient.updated_at = target.id, now
        patient.version += 1
        session.add(patient)
        record_audit(session=session, action="caseload.assign", user_id=admin.id,
                     patient_id=patient.id, client=client, occurred_at=now,
                     detail={"from": str(before) if before else None, "to": str(target.id)})
        moved.append(patient)
    session.flush()
    bump_patients(session, [p.id for p in moved])  # on one phone now, off another
    return moved
