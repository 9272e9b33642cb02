"""Server-side sessions on both backends: hashed tokens, idle and absolute limits, revocation,
deactivated and locked users, and reading the token from a raw Cookie header."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.sessions import (
    COOKIE_NAME,
    SECURE_COOKIE_NAME,
    create_session,
    resolve_session,
    revoke_all_sessions,
    revoke_session,
    token_from_cookie_header,
)
from ccm_pwa.models import AuthSession, Practice, Role, User
from ccm_pwa.services.users import create_user

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def default_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CCM_SESSION_IDLE_MINUTES", raising=False)
    monkeypatch.delenv("CCM_SESSION_ABSOLUTE_HOURS", raising=False)


@pytest.fixture
def practice(session: Session) -> Practice:
    practice = Practice(name="Lakeside Family Medicine")
    session.add(practice)
    session.commit()
    return practice


def make_user(session: Session, practice: Practice, email: str = "cm.a@example.org") -> User:
    user = create_user(session=session, practice_id=practice.id, email=email,
                       name=email.split("@")[0], role=Role.CARE_MANAGER).user
    user.must_change_password = False
    user.totp_enrolled_at = NOW - timedelta(days=30)
    session.add(user)
    session.commit()
    return user


@pytest.fixture
def user(session: Session, practice: Practice) -> User:
    return make_user(session, practice)


def new_token(session: Session, user: User, now: datetime = NOW, label: str = "") -> str:
    token = create_session(session=session, user=user, now=now, client_label=label)
    session.commit()
    return token


def stored_session(session: Session, token: str) -> AuthSession:
    session.expire_all()
    digest = hashlib.sha256(token.encode()).hexdigest()
    return session.exec(select(AuthSession).where(AuthSession.token_hash == digest)).one()


def resolve(session: Session, token: str | None, now: datetime, *, touch: bool = True):
    signed_in = resolve_session(session=session, token=token, now=now, touch=touch)
    session.commit()
    return signed_in


def test_new_session_stores_only_a_hash_of_a_long_random_token(
        session: Session, user: User) -> None:
    token = new_token(session, user, label="Pixel 8 " + "x" * 300)
    second = new_token(session, user)

    assert token != second
    assert len(token) >= 43  # 32 random bytes, urlsafe base64
    row = stored_session(session, token)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert (row.user_id, row.created_at, row.last_seen_at) == (user.id, NOW, NOW)
    assert row.absolute_expires_at == NOW + timedelta(hours=12)
    assert row.revoked_at is None
    assert len(row.client_label) == 200
    count = session.exec(select(sa.func.count()).select_from(AuthSession)).one()
    assert count == 2


def test_resolve_within_idle_window_moves_last_seen(session: Session, user: User) -> None:
    token = new_token(session, user)

    first = resolve(session, token, NOW + timedelta(minutes=14))
    assert first is not None and first.user.id == user.id and first.needs_setup is False
    assert stored_session(session, token).last_seen_at == NOW + timedelta(minutes=14)

    # 28 minutes after sign-in, but only 14 after the last use: still signed in.
    second = resolve(session, token, NOW + timedelta(minutes=28))
    assert second is not None
    assert stored_session(session, token).last_seen_at == NOW + timedelta(minutes=28)


def test_last_seen_is_written_at_most_once_a_minute(session: Session, user: User) -> None:
    """A phone syncing every few seconds must not make every request a write."""
    token = new_token(session, user)
    assert resolve(session, token, NOW + timedelta(seconds=59)) is not None
    assert stored_session(session, token).last_seen_at == NOW
    assert resolve(session, token, NOW + timedelta(seconds=60)) is not None
    assert stored_session(session, token).last_seen_at == NOW + timedelta(seconds=60)
    # The idle deadline is then at most a minute early, never late.
    assert resolve(session, token, NOW + timedelta(minutes=15, seconds=59)) is not None
    assert resolve(session, token, NOW + timedelta(minutes=31, seconds=58)) is None


def test_resolve_without_touch_leaves_last_seen(session: Session, user: User) -> None:
    token = new_token(session, user)

    assert resolve(session, token, NOW + timedelta(minutes=10), touch=False) is not None

    assert stored_session(session, token).last_seen_at == NOW
    assert resolve(session, token, NOW + timedelta(minutes=16)) is None


@pytest.mark.parametrize(("idle", "alive"), [
    (timedelta(minutes=14, seconds=59), True),
    (timedelta(minutes=15), False),
    (timedelta(minutes=16), False),
    (timedelta(hours=3), False),
])
def test_idle_timeout_is_fifteen_minutes(session: Session, user: User, idle: timedelta,
                                         alive: bool) -> None:
    token = new_token(session, user)

    assert (resolve(session, token, NOW + idle) is not None) is alive


def test_idle_session_stays_dead_and_is_not_revived(session: Session, user: User) -> None:
    token = new_token(session, user)

    assert resolve(session, token, NOW + timedelta(minutes=20)) is None
    assert stored_session(session, token).last_seen_at == NOW
    assert resolve(session, token, NOW + timedelta(minutes=20, seconds=1)) is None


def test_idle_timeout_follows_the_environment(session: Session, user: User,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCM_SESSION_IDLE_MINUTES", "5")
    token = new_token(session, user)

    assert resolve(session, token, NOW + timedelta(minutes=4)) is not None
    assert resolve(session, token, NOW + timedelta(minutes=9, seconds=1)) is None


def test_absolute_limit_ends_even_an_active_session(session: Session, user: User) -> None:
    token = new_token(session, user)

    when = NOW
    while when + timedelta(minutes=10) < NOW + timedelta(hours=12):
        when += timedelta(minutes=10)
        assert resolve(session, token, when) is not None, when
    assert when == NOW + timedelta(hours=11, minutes=50)

    assert resolve(session, token, NOW + timedelta(hours=12)) is None
    assert resolve(session, token, NOW + timedelta(hours=11, minutes=59, seconds=59)) \
        is not None
    assert stored_session(session, token).absolute_expires_at == NOW + timedelta(hours=12)


def test_revoked_session_is_refused_and_others_live_on(session: Session, user: User) -> None:
    token, other = new_token(session, user), new_token(session, user)

    revoke_session(session=session, token=token, now=NOW + timedelta(minutes=1))
    session.commit()

    assert resolve(session, token, NOW + timedelta(minutes=2)) is None
    assert stored_session(session, token).revoked_at == NOW + timedelta(minutes=1)
    assert resolve(session, other, NOW + timedelta(minutes=2)) is not None
    # Revoking again keeps the first revocation time.
    revoke_session(session=session, token=token, now=NOW + timedelta(minutes=3))
    session.commit()
    assert stored_session(session, token).revoked_at == NOW + timedelta(minutes=1)


@pytest.mark.parametrize("change", ["deactivated", "locked"])
def test_deactivated_or_locked_user_is_signed_out(session: Session, user: User,
                                                  change: str) -> None:
    token = new_token(session, user)
    assert resolve(session, token, NOW + timedelta(minutes=1)) is not None

    if change == "deactivated":
        user.active = False
    else:
        user.locked_at = NOW + timedelta(minutes=2)
    session.add(user)
    session.commit()

    assert resolve(session, token, NOW + timedelta(minutes=3)) is None


@pytest.mark.parametrize("token", [None, "", "not-a-token", "x" * 43])
def test_unknown_token_resolves_to_nobody(session: Session, user: User,
                                          token: str | None) -> None:
    new_token(session, user)

    assert resolve(session, token, NOW) is None


def test_revoke_all_sessions_ends_every_session_of_that_user_only(
        session: Session, practice: Practice, user: User) -> None:
    other_user = make_user(session, practice, "cm.b@example.org")
    tokens = [new_token(session, user) for _ in range(3)]
    bystander = new_token(session, other_user)
    revoke_session(session=session, token=tokens[0], now=NOW)
    session.commit()

    ended = revoke_all_sessions(session=session, user_id=user.id,
                                now=NOW + timedelta(minutes=1))
    session.commit()

    assert ended == 2  # the one already revoked is not counted again
    assert all(resolve(session, t, NOW + timedelta(minutes=2)) is None for t in tokens)
    assert stored_session(session, tokens[0]).revoked_at == NOW
    assert stored_session(session, tokens[1]).revoked_at == NOW + timedelta(minutes=1)
    assert resolve(session, bystander, NOW + timedelta(minutes=2)) is not None


def test_revoke_all_sessions_can_keep_the_current_one(session: Session, user: User) -> None:
    current, stale = new_token(session, user), new_token(session, user)
    keep = stored_session(session, current).id

    ended = revoke_all_sessions(session=session, user_id=user.id, now=NOW, except_id=keep)
    session.commit()

    assert ended == 1
    assert resolve(session, current, NOW + timedelta(minutes=1)) is not None
    assert resolve(session, stale, NOW + timedelta(minutes=1)) is None


@pytest.mark.parametrize(("header", "expected"), [
    ("a=1; ccm_session=XYZ", "XYZ"),
    ("ccm_session=XYZ", "XYZ"),
    ("ccm_session=XYZ; a=1", "XYZ"),
    ("__Host-ccm_session=ABC", "ABC"),
    ("ccm_session=XYZ; __Host-ccm_session=ABC", "ABC"),
    ("a=1;ccm_session=XYZ;b=2", "XYZ"),
    ('ccm_session="XYZ"', "XYZ"),
    ("_ga=GA1.2.3.4; ccm_session=tok-_9Az", "tok-_9Az"),
    # Other cookies on the same host that a strict parser rejects must not hide ours.
    ("prefs=a b; ccm_session=XYZ", "XYZ"),
    ('consent={"ads": false}; ccm_session=XYZ', "XYZ"),
    ('x="unterminated; ccm_session=XYZ', "XYZ"),
    ("ccm_session=XYZ; note=hello world", "XYZ"),
    # No token at all.
    ("", None),
    ("garbage", None),
    (";;;=", None),
    ("ccm_session=", None),
    ("ccm_session", None),
    ("xccm_session=XYZ", None),
    ("ccm_session_old=XYZ", None),
    ("a=1; b=2", None),
])
def test_token_from_cookie_header(header: str, expected: str | None) -> None:
    assert token_from_cookie_header(header) == expected


def test_cookie_names() -> None:
    assert COOKIE_NAME == "ccm_session"
    assert SECURE_COOKIE_NAME == "__Host-" + COOKIE_NAME
