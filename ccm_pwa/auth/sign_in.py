"""Sign-in with password and TOTP, throttled, with one generic answer for every failure.

Rules (docs/security.md, checklist B11/B12):
- a TOTP code is accepted once: the step is written with a conditional UPDATE that only one
  of two concurrent requests can win;
- 5 consecutive failures start an exponential backoff; 20 failures in 24 h lock the account
  until an admin unlocks it; 30 failures from one address in 15 min pause that address;
- the answer never says which part was wrong or whether the account exists.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.audit import record_audit
from ccm_pwa.auth.passwords import hash_password, needs_rehash, verify_password
from ccm_pwa.auth.recovery import issue_recovery_codes, use_recovery_code
from ccm_pwa.auth.sessions import create_session, revoke_all_sessions
from ccm_pwa.auth.totp import matching_step
from ccm_pwa.models import AuditEvent, User, utc_now

GENERIC_FAILURE = ("Sign-in failed. Check your email, password and code — or, after several "
                   "tries, wait a few minutes.")
BACKOFF_AFTER = 5
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=15)
LOCK_AFTER_IN_DAY = 20
IP_LIMIT = 30
IP_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
ALREADY_SET_UP = "This account is already set up."
_RECOVERY_CODE = re.compile(r"^[A-Z2-9]{6}(-?[A-Z2-9]{6}){3}$", re.IGNORECASE)

# Verifying against a real hash when the account does not exist keeps both paths equally slow.
_DUMMY_HASH = hash_password("not-a-real-password-0")


@dataclass(frozen=True)
class SignInOutcome:
    ok: bool
    user: User | None = None
    token: str | None = None
    needs_setup: bool = False
    message: str = GENERIC_FAILURE


@dataclass(frozen=True)
class SetupOutcome:
    ok: bool
    token: str | None = None
    recovery_codes: list[str] = field(default_factory=list)
    message: str = ""


def sign_in(*, session: Session, email: str, password: str, code: str, client: str,
            ip: str, now: datetime) -> SignInOutcome:
    """Check the credentials; on success the caller sets the returned token as the cookie."""
    email = email.strip().lower()
    user = session.exec(select(User).where(User.email == email)).first()
    if _address_paused(session, ip, now):
        verify_password(_DUMMY_HASH, password)
        return _failed(session, user, email, client, ip, now, "address_throttled", count=False)
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password)
        return _failed(session, user, email, client, ip, now, "unknown_or_inactive")
    if user.locked_at is not None:
        verify_password(_DUMMY_HASH, password)  # as slow as any other refusal
        return _failed(session, user, email, client, ip, now, "locked", count=False)
    if user.backoff_until is not None and now < user.backoff_until:
        verify_password(_DUMMY_HASH, password)
        return _failed(session, user, email, client, ip, now, "backoff", count=False)
    if not verify_password(user.password_hash, password):
        return _failed(session, user, email, client, ip, now, "bad_password")
    enrolled = user.totp_enrolled_at is not None
    if enrolled and not _second_factor_ok(session, user, code, now, _client(ip, client)):
        return _failed(session, user, email, client, ip, now, "bad_code")
    session.execute(sa.update(User).where(User.id == user.id)
                    .values(failed_attempts=0, backoff_until=None))
    if needs_rehash(user.password_hash):  # Argon2 parameters moved on: upgrade the stored hash
        session.execute(sa.update(User).where(User.id == user.id)
                        .values(password_hash=hash_password(password)))
    token = create_session(session=session, user=user, now=now, client_label=client)
    needs_setup = user.must_change_password or not enrolled
    record_audit(session=session, action="sign_in", user_id=user.id, client=_client(ip, client),
                 detail={"needs_setup": needs_setup}, occurred_at=now)
    return SignInOutcome(ok=True, user=user, token=token, needs_setup=needs_setup, message="")


def complete_setup(*, session: Session, user: User,
                   new_password: str, confirm_password: str, code: str, client: str,
                   now: datetime) -> SetupOutcome:
    """First sign-in: set a real password and confirm TOTP with a first valid code.

    On success every other session ends and this one is replaced by a fresh token, so a
    token seen before enrollment is worthless afterwards. Refused once setup is done: it
    would change the password without the old one and reissue the recovery codes.
    """
    if not user.must_change_password and user.totp_enrolled_at is not None:
        record_audit(session=session, action="totp.enroll", user_id=user.id, client=client,
                     outcome="failure", detail={"why": "already_set_up"}, occurred_at=now)
        return SetupOutcome(ok=False, message=ALREADY_SET_UP)
    problem = password_problem(new_password, confirm_password, user)
    if problem:
        return SetupOutcome(ok=False, message=problem)
    if user.totp_secret is None or (step := matching_step(user.totp_secret, code, now)) is None:
        record_audit(session=session, action="totp.enroll", user_id=user.id, client=client,
                     outcome="failure", occurred_at=now)
        return SetupOutcome(ok=False, message="That code did not match. Type the 6 digits your "
                                              "authenticator app shows now.")
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.password_changed_at = now
    user.totp_enrolled_at = now
    user.totp_last_used_step = step
    session.add(user)
    revoke_all_sessions(session=session, user_id=user.id, now=now)
    codes = issue_recovery_codes(session=session, user_id=user.id)
    token = create_session(session=session, user=user, now=now, client_label=client)
    record_audit(session=session, action="totp.enroll", user_id=user.id, client=client,
                 occurred_at=now)
    return SetupOutcome(ok=True, token=token, recovery_codes=codes)


def password_problem(password: str, confirm: str, user: User) -> str | None:
    if password != confirm:
        return "The two passwords differ."
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if password.lower() in user.email.lower() or user.email.split("@")[0].lower() in \
            password.lower():
        return "Do not use your email in the password."
    if verify_password(user.password_hash, password):
        return "Choose a password different from the one-time password."
    return None


@dataclass(frozen=True)
class PasswordChange:
    ok: bool
    token: str | None = None
    message: str = ""


WRONG_CURRENT = "Your current password or the code did not match."


def change_password(*, session: Session, user: User, current_password: str, code: str,
                    new_password: str, confirm_password: str, client: str,
                    now: datetime, ip: str = "") -> PasswordChange:
    """A signed-in user changes the password: current password and a fresh code required
    (re-authentication), then every session ends and this device gets a new one.

    `ip` goes into the refusal's and a replay's audit row as sign-in's do (`ip=… ua=…`);
    without it the rows keep the client label alone."""
    who = _client(ip, client) if ip else client
    if not verify_password(user.password_hash, current_password) or \
            not _second_factor_ok(session, user, code, now, who):
        record_audit(session=session, action="password.change", user_id=user.id, client=who,
                     outcome="failure", occurred_at=now)
        return PasswordChange(ok=False, message=WRONG_CURRENT)
    problem = password_problem(new_password, confirm_password, user)
    if problem:
        problem = problem.replace("the one-time password", "your current password")
        return PasswordChange(ok=False, message=problem)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    session.add(user)
    revoke_all_sessions(session=session, user_id=user.id, now=now)
    token = create_session(session=session, user=user, now=now, client_label=client)
    record_audit(session=session, action="password.change", user_id=user.id, client=client,
                 occurred_at=now)
    return PasswordChange(ok=True, token=token)


def unlock_user(*, session: Session, user: User, by: User, client: str,
                now: datetime | None = None) -> None:
    """An admin lifts a lock after checking who is asking (audited).

    The unlock also restarts the 24-hour count: failures before it no longer lock.
    """
    session.execute(sa.update(User).where(User.id == user.id)
                    .values(locked_at=None, failed_attempts=0, backoff_until=None))
    record_audit(session=session, action="account.unlock", user_id=by.id, client=client,
                 detail={"target_user": str(user.id)}, occurred_at=now or utc_now())


def _second_factor_ok(session: Session, user: User, code: str, now: datetime,
                      client: str) -> bool:
    """`client` (address and user agent) goes into a replay's audit row: a replayed code
    means someone has the password and a code already seen in use (phished, watched), and
    the address is the lead to follow."""
    if _RECOVERY_CODE.match(code.strip()):
        return use_recovery_code(session=session, user_id=user.id, code=code, now=now)
    assert user.totp_secret is not None
    step = matching_step(user.totp_secret, code, now)
    if step is None:
        return False
    claimed = session.execute(
        sa.update(User)
        .where(User.id == user.id,
               sa.or_(User.totp_last_used_step.is_(None), User.totp_last_used_step < step))
        .values(totp_last_used_step=step))
    if claimed.rowcount != 1:
        record_audit(session=session, action="totp.replay", user_id=user.id, outcome="failure",
                     client=client, detail={"step": step}, occurred_at=now)
        return False
    return True


def _failed(session: Session, user: User | None, email: str, client: str, ip: str,
            now: datetime, why: str, *, count: bool = True) -> SignInOutcome:
    user_id = user.id if user is not None else None
    if user is not None and count:
        session.execute(sa.update(User).where(User.id == user.id)
                        .values(failed_attempts=User.failed_attempts + 1))
        session.refresh(user)
        if user.failed_attempts >= BACKOFF_AFTER:
            delay = min(BACKOFF_BASE * 2 ** (user.failed_attempts - BACKOFF_AFTER), BACKOFF_MAX)
            user.backoff_until = now + delay
            session.add(user)
        if _failures_in_day(session, user.id, now) + 1 >= LOCK_AFTER_IN_DAY:
            user.locked_at = now
            session.add(user)
            record_audit(session=session, action="account.locked", user_id=user.id,
                         client=_client(ip, client), outcome="failure", occurred_at=now)
    record_audit(session=session, action="sign_in", user_id=user_id, client=_client(ip, client),
                 outcome="failure", detail={"email": email, "why": why}, occurred_at=now)
    return SignInOutcome(ok=False)


def _failures_in_day(session: Session, user_id: uuid.UUID, now: datetime) -> int:
    """Failed sign-ins in the last 24 h, but none from before an admin's latest unlock."""
    since = now - timedelta(hours=24)
    last_unlock = session.execute(
        sa.select(sa.func.max(AuditEvent.occurred_at))
        .where(AuditEvent.action == "account.unlock", AuditEvent.occurred_at >= since,
               AuditEvent.detail["target_user"].as_string() == str(user_id))).scalar_one()
    if last_unlock is not None:
        since = max(since, last_unlock)
    return session.execute(
        sa.select(sa.func.count()).select_from(AuditEvent)
        .where(AuditEvent.user_id == user_id, AuditEvent.action == "sign_in",
               AuditEvent.outcome == "failure",
               AuditEvent.occurred_at >= since)).scalar_one()


def _address_paused(session: Session, ip: str, now: datetime) -> bool:
    if not ip:
        return False
    # `_client` writes "ip=<ip> <client>", or just "ip=<ip>" when the client label is empty.
    from_ip = sa.or_(AuditEvent.client == _client(ip, ""),
                     AuditEvent.client.startswith(f"ip={ip} ", autoescape=True))
    failures = session.execute(
        sa.select(sa.func.count()).select_from(AuditEvent)
        .where(AuditEvent.action == "sign_in", AuditEvent.outcome == "failure", from_ip,
               AuditEvent.occurred_at >= now - IP_WINDOW)).scalar_one()
    return failures >= IP_LIMIT


def _client(ip: str, client: str) -> str:
    return f"ip={ip} {client}".strip()
