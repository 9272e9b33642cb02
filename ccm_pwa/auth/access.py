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


def visible_patients(user: User) -> sa.Select | sa.CompoundSelect:
    """A SELECT of the patient ids `user` may see; compose it into any patient query
    (`Patient.id.in_(...)`), never extend it: it may be a union.

    A caseload is a union of index lookups (the patient's (practice, care manager) and
    (practice, billing practitioner) indexes), not one query with an OR: with the OR the
    databases walk every patient of the practice, for each of the several times a sync
    pull asks. An id may appear twice (her own patient that she also bills for); every
    use is a membership test.
    """
    query = sa.select(Patient.id).where(Patient.practice_id == user.practice_id)
    if user.role == Role.ADMIN:
        return query
    managed = (query.where(Patient.care_manager_id.in_(sa.select(User.id).where(
                   sa.or_(User.supervisor_id == user.id, User.id == user.id))))
               if user.role == Role.SUPERVISOR else
               query.where(Patient.care_manager_id == user.id))
    return sa.union_all(managed, query.where(Patient.billing_practitioner_id == user.id))


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
    allowed = session.execute(sa.select(Patient.id).where(
        Patient.id == wanted, Patient.id.in_(visible_patients(user)))).first()
    if allowed is None:
        raise AccessDenied
    patient = session.get(Patient, wanted)
    assert patient is not None
    return patient


def require_role(user: User, *roles: Role) -> None:
    if user.role not in roles:
        raise AccessDenied
