"""Roles in further practices: the managed team's care manager in each practice she serves,
a supervisor who also supervises there (docs/data-model.md, "Organisations and roles").

A role is given only in a practice of her own practice's organisation, never across
organisations; her role in her own practice stays on her account. Every grant, change and
revocation is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.access import role_in
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.models import Patient, Practice, PracticeRole, Role, User


class PracticeRoleError(ValueError):
    """The role cannot be given or taken as asked; the message says why."""


@dataclass(frozen=True)
class Revoked:
    """What is left to do after a revocation: her patients there need another owner."""

    still_assigned: int


def grant_role(*, session: Session, user: User, practice: Practice, role: Role,
               supervisor: User | None = None, granted_by: User | None = None,
               now: datetime, client: str = "") -> PracticeRole:
    """Give `user` `role` in `practice` (or change the role she holds there)."""
    if not user.active:
        raise PracticeRoleError(f"{user.email} is deactivated")
    if practice.id == user.practice_id:
        raise PracticeRoleError(f"{practice.name} is {user.email}'s own practice: her role "
                                "there is on her account")
    home = session.get(Practice, user.practice_id)
    assert home is not None
    if home.organisation_id is None or home.organisation_id != practice.organisation_id:
        raise PracticeRoleError(f"{practice.name} is not in the organisation of "
                                f"{user.email}'s practice ({home.name})")
    if supervisor is not None and role_in(session=session, user=supervisor,
                                          practice_id=practice.id) != Role.SUPERVISOR:
        raise PracticeRoleError(f"{supervisor.email} is not a supervisor in {practice.name}")
    if supervisor is not None and supervisor.id == user.id:
        raise PracticeRoleError("nobody supervises herself")
    held = _held(session, user, practice)
    before = None if held is None else {"role": str(held.role),
                                        "supervisor": str(held.supervisor_id or "") or None}
    held = held or PracticeRole(user_id=user.id, practice_id=practice.id)
    held.role, held.supervisor_id = role, supervisor.id if supervisor else None
    held.granted_by_id, held.granted_at = (granted_by.id if granted_by else None), now
    session.add(held)
    session.flush()
    record_audit(session=session, action="practice_role.grant",
                 user_id=granted_by.id if granted_by else None, client=client, occurred_at=now,
                 detail={"target_user": str(user.id), "practice": str(practice.id),
                         "role": str(role), "supervisor": str(supervisor.id) if supervisor
                         else None, "before": before})
    return held


def revoke_role(*, session: Session, user: User, practice: Practice,
                revoked_by: User | None = None, now: datetime, client: str = "") -> Revoked:
    """Take away her role in `practice`: from now on she sees none of its patients. Patients
    assigned to her there keep the assignment until an admin moves them, so nobody's
    care-management history changes hands silently."""
    held = _held(session, user, practice)
    if held is None:
        raise PracticeRoleError(f"{user.email} holds no role in {practice.name}")
    session.delete(held)
    session.flush()
    still = session.execute(sa.select(sa.func.count()).select_from(Patient).where(
        Patient.practice_id == practice.id, Patient.care_manager_id == user.id)).scalar_one()
    record_audit(session=session, action="practice_role.revoke",
                 user_id=revoked_by.id if revoked_by else None, client=client, occurred_at=now,
                 detail={"target_user": str(user.id), "practice": str(practice.id),
                         "role": str(held.role), "still_assigned": still})
    return Revoked(still_assigned=still)


def members(*, session: Session, practice_id: uuid.UUID) -> list[tuple[User, Role]]:
    """Everyone with a role in the practice: its own staff, then staff of its organisation's
    other practices who hold a role here; by name."""
    own = [(user, Role(user.role)) for user in session.exec(
        select(User).where(User.practice_id == practice_id).order_by(User.name))]
    return own + _visitors(session, practice_id)


def visiting_staff(*, session: Session, practice_id: uuid.UUID) -> list[dict[str, str]]:
    """Staff of other practices who hold a role here, as the Users screen lists them."""
    return [{"name": user.name, "email": user.email, "role": role.replace("_", " "),
             "home": home} for user, role, home in session.execute(
        sa.select(User, PracticeRole.role, Practice.name)
        .join(PracticeRole, PracticeRole.user_id == User.id)
        .join(Practice, Practice.id == User.practice_id)
        .where(PracticeRole.practice_id == practice_id).order_by(User.name))]


def _visitors(session: Session, practice_id: uuid.UUID) -> list[tuple[User, Role]]:
    return [(user, Role(role)) for user, role in session.execute(
        sa.select(User, PracticeRole.role).join(PracticeRole, PracticeRole.user_id == User.id)
        .where(PracticeRole.practice_id == practice_id).order_by(User.name))]


def _held(session: Session, user: User, practice: Practice) -> PracticeRole | None:
    return session.exec(select(PracticeRole).where(PracticeRole.user_id == user.id,
                                                   PracticeRole.practice_id == practice.id)
                        ).first()
