"""Create user accounts: hashed one-time password, TOTP secret to enroll at first sign-in."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlmodel import Session, select

from ccm_pwa.auth.passwords import generate_password, hash_password
from ccm_pwa.auth.totp import new_secret, provisioning_uri
from ccm_pwa.models import PerformerKind, Role, User

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UserError(ValueError):
    """The account cannot be created as asked."""


@dataclass(frozen=True)
class NewUser:
    """What the admin hands over once: never stored in clear."""

    user: User
    password: str
    totp_secret: str
    otpauth_uri: str


def create_user(
    *,
    session: Session,
    practice_id: uuid.UUID,
    email: str,
    name: str,
    role: Role,
    performer_kind: PerformerKind | None = None,
    credential: str = "",
    supervisor_id: uuid.UUID | None = None,
    password: str | None = None,
    totp_secret: str | None = None,
    user_id: uuid.UUID | None = None,
) -> NewUser:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise UserError(f"not an email address: {email!r}")
    if not name.strip():
        raise UserError("name must not be empty")
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise UserError(f"a user with email {email} already exists")
    password = password or generate_password()
    totp_secret = totp_secret or new_secret()
    user = User(
        id=user_id or uuid.uuid4(),
        practice_id=practice_id,
        email=email,
        name=name.strip(),
        role=role,
        performer_kind=performer_kind or PerformerKind.CLINICAL_STAFF,
        credential=credential,
        supervisor_id=supervisor_id,
        password_hash=hash_password(password),
        must_change_password=True,
        totp_secret=totp_secret,
    )
    session.add(user)
    session.flush()
    return NewUser(user, password, totp_secret, provisioning_uri(totp_secret, email))
