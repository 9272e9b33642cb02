"""What an admin does to accounts: invite, deactivate, unlock, reset TOTP. Every action audited."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session, select

from ccm_pwa.auth.access import AccessDenied, id_or_denied
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.auth.passwords import generate_password, hash_password
from ccm_pwa.auth.sessions import revoke_all_sessions
from ccm_pwa.auth.sign_in import unlock_user
from ccm_pwa.auth.totp import new_secret
from ccm_pwa.models import PerformerKind, RecoveryCode, Role, User
from ccm_pwa.services.users import NewUser, create_user


def practice_user(*, session: Session, admin: User, user_id: str) -> User:
    """A user of the admin's own practice, or AccessDenied (also for malformed ids)."""
    user = session.get(User, id_or_denied(user_id))
    if user is None or user.practice_id != admin.practice_id:
        raise AccessDenied
    return user


def deactivate_user(*, session: Session, admin: User, user_id: str, now: datetime,
                    client: str) -> User:
    user = practice_user(session=session, admin=admin, user_id=user_id)
    if user.id == admin.id:
        raise ValueError("You cannot deactivate your own account.")
    user.active = False
    session.add(user)
    revoke_all_sessions(session=session, user_id=user.id, now=now)
    record_audit(session=session, action="user.deactivate", user_id=admin.id, client=client,
                 detail={"target_user": str(user.id)}, occurred_at=now)
    return user


def unlock(*, session: Session, admin: User, user_id: str, client: str) -> User:
    user = practice_user(session=session, admin=admin, user_id=user_id)
    unlock_user(session=session, user=user, by=admin, client=client)
    return user


def reset_totp(*, session: Session, admin: User, user_id: str, now: datetime,
               client: str) -> str:
    """Lost phone: every session ends now, and the user enrolls a new secret at the next
    sign-in with the new one-time password returned here (handed over after the admin has
    checked who is asking, so the old password alone can never enroll a device)."""
    user = practice_user(session=session, admin=admin, user_id=user_id)
    password = generate_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.totp_secret = new_secret()
    user.totp_enrolled_at = None
    user.totp_last_used_step = None
    session.add(user)
    for code in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(code)
    revoke_all_sessions(session=session, user_id=user.id, now=now)
    record_audit(session=session, action="totp.reset", user_id=admin.id, client=client,
                 detail={"target_user": str(user.id)}, occurred_at=now)
    return password


def invite_user(*, session: Session, admin: User, email: str, name: str, role: Role,
                now: datetime, performer_kind: PerformerKind | None = None,
                credential: str = "", supervisor_id: uuid.UUID | None = None,
                client: str = "") -> NewUser:
    """Create an account in the admin's practice; the returned one-time password and TOTP
    secret are shown once (never stored in clear). UserError says what is wrong."""
    if admin.role != Role.ADMIN:
        raise AccessDenied
    if supervisor_id is not None:
        practice_user(session=session, admin=admin, user_id=str(supervisor_id))
    new = create_user(session=session, practice_id=admin.practice_id, email=email, name=name,
                      role=role, performer_kind=performer_kind, credential=credential,
                      supervisor_id=supervisor_id)
    record_audit(session=session, action="user.invite", user_id=admin.id, client=client,
                 detail={"target_user": str(new.user.id), "role": str(role)}, occurred_at=now)
    return new
