"""Who may see which patients: care managers their caseload, supervisors their team's,
admins their practice. Every API route and Reflex event handler asks here, on the server.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import Session

from ccm_pwa.models import Patient, Role, User


class AccessDenied(Exception):
    """The signed-in user may not see or change this; say nothing more to the caller."""


def visible_patients(user: User) -> sa.Select:
    """A SELECT of the patient ids `user` may see; compose it into any patient query."""
    query = sa.select(Patient.id).where(Patient.practice_id == user.practice_id)
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.SUPERVISOR:
        team = sa.select(User.id).where(User.supervisor_id == user.id)
        return query.where(sa.or_(Patient.care_manager_id.in_(team),
                                  Patient.care_manager_id == user.id,
                                  Patient.billing_practitioner_id == user.id))
    return query.where(sa.or_(Patient.care_manager_id == user.id,
                              Patient.billing_practitioner_id == user.id))


def id_or_denied(value: uuid.UUID | str) -> uuid.UUID:
    """An id from a request or a screen; a malformed one is refused like an unknown one,
    so a caller learns nothing from the difference."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise AccessDenied from None


def require_patient(*, session: Session, user: User, patient_id: uuid.UUID | str) -> Patient:
    """The patient, if `user` may see them; otherwise AccessDenied (also for unknown ids,
    so a caller cannot probe which ids exist)."""
    wanted = id_or_denied(patient_id)
    allowed = session.execute(visible_patients(user).where(Patient.id == wanted)).first()
    if allowed is None:
        raise AccessDenied
    patient = session.get(Patient, wanted)
    assert patient is not None
    return patient


def require_role(user: User, *roles: Role) -> None:
    if user.role not in roles:
        raise AccessDenied
