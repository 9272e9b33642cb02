"""Whose work a supervisor or admin oversees: the people on the team views' rows.

`auth.access.visible_patients` decides which *patients* a viewer sees; this module says
which *people*: a supervisor's team is the users whose `supervisor_id` is hers (plus
herself when she carries a caseload), an admin's is everyone in the practice who can
carry one. Care managers have no team view (AccessDenied).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.access import AccessDenied, id_or_denied, require_role
from ccm_pwa.models import Patient, Role, User

OVERSEERS = (Role.SUPERVISOR, Role.ADMIN)


def require_overseer(viewer: User) -> None:
    """Team, review and month-close views are for supervisors and admins only."""
    require_role(viewer, *OVERSEERS)


def team_members(*, session: Session, viewer: User) -> list[User]:
    """The care managers on the viewer's rows, by name (inactive ones too: their patients
    still need an owner until reassigned)."""
    require_overseer(viewer)
    carrying = sa.select(Patient.care_manager_id).where(
        Patient.practice_id == viewer.practice_id, Patient.care_manager_id.is_not(None))
    query = select(User).where(User.practice_id == viewer.practice_id)
    if viewer.role == Role.SUPERVISOR:
        query = query.where(sa.or_(User.supervisor_id == viewer.id,
                                   sa.and_(User.id == viewer.id, User.id.in_(carrying))))
    else:
        query = query.where(sa.or_(User.role == Role.CARE_MANAGER, User.id.in_(carrying)))
    return sorted(session.exec(query), key=lambda u: (u.name.lower(), str(u.id)))


def require_team_member(*, session: Session, viewer: User,
                        user_id: uuid.UUID | str) -> User:
    """A member of the viewer's team, or AccessDenied (also for unknown or malformed ids)."""
    wanted = id_or_denied(user_id)
    for member in team_members(session=session, viewer=viewer):
        if member.id == wanted:
            return member
    raise AccessDenied
