"""Who may see which patients: care managers their caseload, supervisors their team's,
admins their practice; in each practice where they hold a role. Every API route and Reflex
event handler asks here, on the server.

A user's role in her own practice is on the user (`User.practice_id`, `User.role`,
`User.supervisor_id`); roles in further practices of her organisation are `PracticeRole`
rows. Each role applies in its practice only: a supervisor in one practice and care manager
in another sees her team's patients in the first and her own caseload in the second.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import Session

from ccm_pwa.models import Patient, PracticeRole, Role, User


class AccessDenied(Exception):
    """The signed-in user may not see or change this; say nothing more to the caller."""


def visible_patients(user: User, practice_id: uuid.UUID | None = None,
                     role: Role | None = None) -> sa.Select | sa.CompoundSelect:
    """A SELECT of the ids of the patients of one practice that `user` may see; compose it
    into any patient query (`Patient.id.in_(...)`), never extend it: it may be a union.

    The practice is her own unless `practice_id` says another, where she holds `role`
    (`role_in`); the screens work in one practice at a time, the phone in all of hers
    (`visible_everywhere`).

    A caseload is a union of index lookups (the patient's (practice, care manager) and
    (practice, billing practitioner) indexes), not one query with an OR: with the OR the
    databases walk every patient of the practice, for each of the several times a sync
    pull asks. An id may appear twice (her own patient that she also bills for); every
    use is a membership test.
    """
    practice_id = practice_id or user.practice_id
    if practice_id != user.practice_id and role is None:
        raise ValueError("a role in another practice comes from role_in()")
    role = user.role if practice_id == user.practice_id else role
    assert role is not None
    return _union(_caseload_parts(user, practice_id, role))


def visible_everywhere(user: User, held: list[tuple[uuid.UUID, Role]]
                       ) -> sa.Select | sa.CompoundSelect:
    """`visible_patients` in every practice of `held` (`roles_held`) at once, each with her
    role there: what the phone keeps. With her own practice alone it is exactly
    `visible_patients(user)`, so a one-practice user's queries are unchanged."""
    return _union([part for practice_id, role in held
                   for part in _caseload_parts(user, practice_id, role)])


def roles_held(*, session: Session, user: User) -> list[tuple[uuid.UUID, Role]]:
    """Every practice where she holds a role, with that role: her own first, then the
    others in a fixed order (the phone's documents must not depend on the read)."""
    others = session.execute(sa.select(PracticeRole.practice_id, PracticeRole.role).where(
        PracticeRole.user_id == user.id).order_by(PracticeRole.practice_id)).all()
    return [(user.practice_id, user.role),
            *((practice_id, Role(role)) for practice_id, role in others)]


def _caseload_parts(user: User, practice_id: uuid.UUID, role: Role) -> list[sa.Select]:
    """The index lookups whose union is her caseload in one practice (kept flat: SQLite
    refuses a compound SELECT nested in another)."""
    query = sa.select(Patient.id).where(Patient.practice_id == practice_id)
    if role == Role.ADMIN:
        return [query]
    if role == Role.SUPERVISOR:
        managed = query.where(Patient.care_manager_id.in_(_team(user, practice_id)))
    else:
        managed = query.where(Patient.care_manager_id == user.id)
    return [managed, query.where(Patient.billing_practitioner_id == user.id)]


def _union(parts: list[sa.Select]) -> sa.Select | sa.CompoundSelect:
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)


def _team(supervisor: User, practice_id: uuid.UUID) -> sa.CompoundSelect:
    """Who she supervises in this practice: its own staff whose supervisor she is, and
    staff of other practices whose role here names her; and herself."""
    return sa.union_all(
        sa.select(User.id).where(User.supervisor_id == supervisor.id,
                                 User.practice_id == practice_id),
        sa.select(PracticeRole.user_id).where(PracticeRole.supervisor_id == supervisor.id,
                                              PracticeRole.practice_id == practice_id),
        sa.select(sa.literal(supervisor.id, sa.Uuid())))


def role_in(*, session: Session, user: User, practice_id: uuid.UUID) -> Role | None:
    """Her role in this practice, or None when she holds none there."""
    if practice_id == user.practice_id:
        return user.role
    held = session.execute(sa.select(PracticeRole.role).where(
        PracticeRole.user_id == user.id, PracticeRole.practice_id == practice_id)).scalar()
    return Role(held) if held is not None else None


OVERSEERS = (Role.SUPERVISOR, Role.ADMIN)


def acting_in(*, session: Session, user: User, practice_id: uuid.UUID | str) -> User:
    """The user as she acts in one practice: the same id and name, that practice, her role
    and supervisor there. AccessDenied where she holds no role (or the id is malformed).

    The screens and reports work in one practice at a time with `viewer.practice_id` and
    `viewer.role`; handing them this stand-in makes them work in that practice with her
    role there, with no second code path. For her own practice it is the user herself.
    The stand-in is transient and never saved: a flush would try to insert a second row
    with her id and fail loudly. It carries no password hash nor TOTP secret.
    """
    wanted = id_or_denied(practice_id)
    if wanted == user.practice_id:
        return user
    held = session.execute(sa.select(PracticeRole.role, PracticeRole.supervisor_id).where(
        PracticeRole.user_id == user.id, PracticeRole.practice_id == wanted)).first()
    if held is None:
        raise AccessDenied
    return stand_in(user, wanted, Role(held.role), held.supervisor_id)


def stand_in(user: User, practice_id: uuid.UUID, role: Role,
             supervisor_id: uuid.UUID | None) -> User:
    """`user` with the role and supervisor she holds in another practice (`acting_in`)."""
    columns = {name: getattr(user, name) for name in User.model_fields}
    return User(**{**columns, "practice_id": practice_id, "role": role,
                   "supervisor_id": supervisor_id, "password_hash": "", "totp_secret": None})


def overseen_practices(*, session: Session, user: User) -> list[uuid.UUID]:
    """The practices where she is a supervisor or admin, her own first: the ones whose
    Team, Program, review and month close she may open."""
    return [practice_id for practice_id, role in roles_held(session=session, user=user)
            if role in OVERSEERS]


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
    """The patient, if `user` may see them in the patient's own practice; otherwise
    AccessDenied (also for unknown ids, so a caller cannot probe which ids exist). A
    caller that works in one practice (the sync) still checks the patient is of it."""
    wanted = id_or_denied(patient_id)
    patient = session.get(Patient, wanted)  # its practice decides which role applies
    role = None if patient is None else role_in(session=session, user=user,
                                                practice_id=patient.practice_id)
    if patient is None or role is None:
        raise AccessDenied
    allowed = session.execute(sa.select(Patient.id).where(
        Patient.id == wanted,
        Patient.id.in_(visible_patients(user, patient.practice_id, role)))).first()
    if allowed is None:
        raise AccessDenied
    return patient


def require_role(user: User, *roles: Role) -> None:
    if user.role not in roles:
        raise AccessDenied
