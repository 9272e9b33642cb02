"""Server-side sign-in sessions: random token in an HttpOnly cookie, only its hash stored."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.config import load_settings
from ccm_pwa.models import AuthSession, User

COOKIE_NAME = "ccm_session"
SECURE_COOKIE_NAME = "__Host-ccm_session"  # used when served over HTTPS


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    user: User
    auth_session: AuthSession

    @property
    def needs_setup(self) -> bool:
        """First sign-in: the password must change and TOTP must be enrolled before any PHI."""
        return self.user.must_change_password or self.user.totp_enrolled_at is None


def create_session(*, session: Session, user: User, now: datetime, client_label: str = "") -> str:
    """A fresh 256-bit token for `user`; returned once, stored only as a hash."""
    token = secrets.token_urlsafe(32)
    settings = load_settings()
    session.add(AuthSession(
        user_id=user.id, token_hash=token_hash(token), created_at=now, last_seen_at=now,
        absolute_expires_at=now + timedelta(hours=settings.session_absolute_hours),
        client_label=client_label[:200]))
    session.flush()
    return token


TOUCH_EVERY = timedelta(minutes=1)


def resolve_session(*, session: Session, token: str | None, now: datetime,
                    touch: bool = True) -> SignedIn | None:
    """The signed-in user for a cookie token, or None when unknown, expired, revoked or idle.

    Each use moves the idle deadline (15 min by default); the absolute limit (12 h) never moves.
    The move is written at most once a minute (`TOUCH_EVERY`): a phone syncing every few
    seconds must not turn every read into a write, which on SQLite serialises all requests.
    The deadline can thus fall up to a minute early — the safe side.
    """
    if not token:
        return None
    auth = session.exec(select(AuthSession).where(AuthSession.token_hash == token_hash(token))
                        ).first()
    if auth is None or auth.revoked_at is not None or now >= auth.absolute_expires_at:
        return None
    idle = timedelta(minutes=load_settings().session_idle_minutes)
    if now - auth.last_seen_at >= idle:
        return None
    user = session.get(User, auth.user_id)
    if user is None or not user.active or user.locked_at is not None:
        return None
    if touch and now - auth.last_seen_at >= TOUCH_EVERY:
        auth.last_seen_at = now
        session.add(auth)
        session.flush()
    return SignedIn(user, auth)


def revoke_session(*, session: Session, token: str, now: datetime) -> None:
    session.execute(sa.update(AuthSession)
                    .where(AuthSession.token_hash == token_hash(token),
                           AuthSession.revoked_at.is_(None))
                    .values(revoked_at=now))


def revoke_all_sessions(*, session: Session, user_id: uuid.UUID, now: datetime,
                        except_id: uuid.UUID | None = None) -> int:
    """Sign the user out everywhere (password or TOTP change, deactivation, lost phone)."""
    query = (sa.update(AuthSession)
             .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
             .values(revoked_at=now))
    if except_id is not None:
        query = query.where(AuthSession.id != except_id)
    return session.execute(query).rowcount


def token_from_cookie_header(cookie_header: str) -> str | None:
    """Pick our session token out of a raw Cookie header (the websocket's handshake).

    Parsed leniently, as browsers write it ("a=1; b=2"): http.cookies.SimpleCookie stops at
    the first cookie it dislikes (a space or JSON in a value), so any other cookie on the
    host could hide ours and sign the user out.
    """
    found: dict[str, str] = {}
    for part in (cookie_header or "").split(";"):
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if sep and name and value:
            found.setdefault(name, value)
    for name in (SECURE_COOKIE_NAME, COOKIE_NAME):
        if name in found:
            return found[name]
    return None
