"""Whose work a supervisor or admin oversees: the people on the team views' rows.

`auth.access.visible_patients` decides which *patients* a viewer sees; this module says
which *people*, in the viewer's practice (`viewer.practice_id`; `access.acting_in` for
another practice where she holds a role): a supervisor's team is the practice's staff
whose `supervisor_id` is hers and the managed team's members whose role there names her
(plus herself when she carries a caseload); an admin's is everyone who can carry a
caseload there, the practice's own staff and the managed team's. Care managers have no
team view (AccessDenied).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.access import (
    OVERSEERS,
    AccessDenied,
    id_or_denied,
    require_role,
    stand_in,
)
from ccm_pwa.models import Patient, PracticeRole, Role, User


def require_overseer(viewer: User) -> None:
    """Team, review and month-close views are for supervisors and admins only."""
    require_role(viewer, *OVERSEERS)


def team_members(*, session: Session, viewer: User) -> list[User]:
    """The care managers on the viewer's rows, by name (inactive ones too: their patients
    still need an owner until reassigned). A managed-team member comes as she acts in
    this practice (`access.stand_in`: her role and supervisor here), so her worklist on a
    team screen is of this practice only."""
    require_overseer(viewer)
    practice_id = viewer.practice_id
    carrying = sa.select(Patient.care_manager_id).where(
        Patient.practice_id == practice_id, Patient.care_manager_id.is_not(None))
    staff = select(User).where(User.practice_id == practice_id)
    visiting = (select(User, PracticeRole).join(PracticeRole, PracticeRole.user_id == User.id)
                .where(PracticeRole.practice_id == practice_id))
    if viewer.role == Role.SUPERVISOR:
        staff = staff.where(sa.or_(User.supervisor_id == viewer.id,
                                   sa.and_(User.id == viewer.id, User.id.in_(carrying))))
        visiting = visiting.where(PracticeRole.supervisor_id == viewer.id)
    else:
        staff = staff.where(sa.or_(User.role == Role.CARE_MANAGER, User.id.in_(carrying)))
        visiting = visiting.where(sa.or_(PracticeRole.role == Role.CARE_MANAGER,
                                         User.id.in_(carrying)))
    members = list(session.exec(staff))
    members += [stand_in(user, practice_id, Role(held.role), held.supervisor_id)
                for user, held in session.exec(visiting)]
    return sorted(members, key=lambda u: (u.name.lower(), str(u.id)))


def require_team_member(*, session: Session, viewer: User,
                        user_id: uuid.UUID | str) -> User:
    """A member of the viewer's team, or AccessDenied (also for unknown or malformed ids)."""
    wanted = id_or_denied(user_id)
    for member in team_members(session=session, viewer=viewer):
        if member.id == wanted:
            return member
    raise AccessDenied
