"""Sign-in on both backends: TOTP steps, replay (also concurrent), recovery codes, one generic
failure message, backoff, lock and unlock, per-address pause, and the first sign-in's setup.

Every call passes an explicit, tz-aware `now`; each sign-in runs in its own session and commits,
as the API route does (`session_scope`), so the database is the only shared state.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth import recovery as recovery_module
from ccm_pwa.auth import sign_in as sign_in_module
from ccm_pwa.auth.passwords import needs_rehash, verify_password
from ccm_pwa.auth.recovery import issue_recovery_codes
from ccm_pwa.auth.sessions import resolve_session, token_hash
from ccm_pwa.auth.sign_in import (
    ALREADY_SET_UP,
    BACKOFF_AFTER,
    GENERIC_FAILURE,
    IP_LIMIT,
    LOCK_AFTER_IN_DAY,
    SignInOutcome,
    complete_setup,
    sign_in,
    unlock_user,
)
from ccm_pwa.db import get_engine
from ccm_pwa.models import AuditEvent, AuthSession, Practice, RecoveryCode, Role, User
from ccm_pwa.services.users import NewUser, create_user

# 14:00:05 UTC: five seconds into a 30-second step, so "previous step" is unambiguous.
NOW = datetime(2026, 3, 10, 14, 0, 5, tzinfo=UTC)
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "Correct-Horse-Battery-9"
EMAIL = "cm.a@example.org"
IP = "198.51.100.7"
CLIENT = "ua=pytest"
CODE_MISMATCH = ("That code did not match. Type the 6 digits your authenticator app shows "
                 "now.")


def step_of(when: datetime) -> int:
    return int(when.timestamp()) // 30


def code_at(when: datetime, offset: int = 0, secret: str = SECRET) -> str:
    return pyotp.TOTP(secret).generate_otp(step_of(when) + offset)


def wrong_code(when: datetime, secret: str = SECRET) -> str:
    """Six digits that match none of the steps around `when`."""
    near = {code_at(when, offset, secret) for offset in range(-3, 4)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


@pytest.fixture
def practice(session: Session) -> Practice:
    practice = Practice(name="Lakeside Family Medicine")
    session.add(practice)
    session.commit()
    return practice


def make_user(session: Session, practice: Practice, email: str = EMAIL, *,
              enrolled: bool = True, role: Role = Role.CARE_MANAGER,
              secret: str = SECRET) -> NewUser:
    """An account; `enrolled` ones have a real password and TOTP set up a month ago."""
    new = create_user(session=session, practice_id=practice.id, email=email,
                      name=email.split("@")[0], role=role,
                      password=PASSWORD if enrolled else None, totp_secret=secret)
    if enrolled:
        new.user.must_change_password = False
        new.user.totp_enrolled_at = NOW - timedelta(days=30)
        session.add(new.user)
    session.commit()
    return new


@pytest.fixture
def user(session: Session, practice: Practice) -> User:
    return make_user(session, practice).user


def attempt(db_url: str, *, email: str = EMAIL, password: str = PASSWORD,
            code: str | None = None, now: datetime = NOW, ip: str = IP,
            client: str = CLIENT) -> SignInOutcome:
    """One sign-in request in its own committed transaction (like the API route)."""
    with Session(get_engine(db_url), expire_on_commit=False) as own:
        outcome = sign_in(session=own, email=email, password=password,
                          code=code_at(now) if code is None else code,
                          client=client, ip=ip, now=now)
        own.commit()
    return outcome


def reload_user(session: Session, user_id: Any) -> User:
    session.expire_all()
    found = session.get(User, user_id)
    assert found is not None
    return found


def audit_rows(session: Session, action: str, **where: Any) -> list[AuditEvent]:
    session.expire_all()
    query = select(AuditEvent).where(AuditEvent.action == action)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(session.exec(query.order_by(AuditEvent.occurred_at)))


def assert_generic_failure(outcome: SignInOutcome) -> None:
    assert outcome == SignInOutcome(ok=False)
    assert outcome.message == GENERIC_FAILURE
    assert outcome.token is None
    assert outcome.user is None
    assert outcome.needs_setup is False


def race(db_url: str, calls: list[Callable[[Session], Any]]) -> list[Any]:
    """Run each call in its own thread and session, released together by a barrier."""
    engine = get_engine(db_url)
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[Session], Any]) -> None:
        try:
            with Session(engine, expire_on_commit=False) as own:
                barrier.wait(timeout=30)
                results[index] = call(own)
                own.commit()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racing sign-in hung"
    assert not errors, f"racing sign-ins raised: {errors!r}"
    return results


# --- password + TOTP --------------------------------------------------------------------------


def test_password_and_current_code_sign_in(session: Session, db_url: str, user: User) -> None:
    outcome = attempt(db_url, code=code_at(NOW))

    assert outcome.ok is True
    assert outcome.message == ""
    assert outcome.needs_setup is False
    assert outcome.user is not None and outcome.user.id == user.id
    assert outcome.token is not None and len(outcome.token) >= 43  # 256 bits, urlsafe base64
    stored = session.exec(select(AuthSession).where(AuthSession.user_id == user.id)).one()
    assert stored.token_hash == token_hash(outcome.token)
    assert stored.created_at == NOW
    assert reload_user(session, user.id).totp_last_used_step == step_of(NOW)
    [event] = audit_rows(session, "sign_in", user_id=user.id)
    assert event.outcome == "success"
    assert event.occurred_at == NOW
    assert event.client == f"ip={IP} {CLIENT}"
    assert event.detail == {"needs_setup": False}
    signed_in = resolve_session(session=session, token=outcome.token, now=NOW)
    assert signed_in is not None and signed_in.user.id == user.id


def test_email_is_matched_case_and_space_insensitively(db_url: str, user: User) -> None:
    assert attempt(db_url, email=f"  {EMAIL.upper()} ").ok is True


@pytest.mark.parametrize(("offset", "accepted"), [
    pytest.param(0, True, id="current-step"),
    pytest.param(-1, True, id="previous-step"),
    pytest.param(1, False, id="next-step-future"),
    pytest.param(2, False, id="two-steps-ahead"),
    pytest.param(-2, False, id="two-steps-ago"),
    pytest.param(-10, False, id="five-minutes-old"),
])
def test_only_current_and_previous_step_are_accepted(
        session: Session, db_url: str, user: User, offset: int, accepted: bool) -> None:
    code = code_at(NOW, offset)
    assert code not in {code_at(NOW, o) for o in (-2, -1, 0, 1, 2) if o != offset}

    outcome = attempt(db_url, code=code)

    assert outcome.ok is accepted
    stored = reload_user(session, user.id)
    if accepted:
        assert stored.totp_last_used_step == step_of(NOW) + offset
        assert stored.failed_attempts == 0
    else:
        assert_generic_failure(outcome)
        assert stored.totp_last_used_step is None
        assert stored.failed_attempts == 1
        [event] = audit_rows(session, "sign_in", user_id=user.id)
        assert (event.outcome, event.detail["why"]) == ("failure", "bad_code")


def test_same_code_twice_is_a_replay(session: Session, db_url: str, user: User) -> None:
    code = code_at(NOW)
    assert attempt(db_url, code=code).ok is True

    again = attempt(db_url, code=code, now=NOW + timedelta(seconds=10))

    assert_generic_failure(again)
    [replay] = audit_rows(session, "totp.replay")
    assert replay.user_id == user.id
    assert replay.outcome == "failure"
    assert replay.detail == {"step": step_of(NOW)}
    outcomes = [(e.outcome, e.detail.get("why")) for e in audit_rows(session, "sign_in")]
    assert outcomes == [("success", None), ("failure", "bad_code")]
    assert session.exec(select(sa.func.count()).select_from(AuthSession)).one() == 1


def test_previous_step_code_after_current_one_was_used_is_refused(
        session: Session, db_url: str, user: User) -> None:
    """Steps only move forward: an older, never-used code is stale once a newer one is in."""
    assert attempt(db_url, code=code_at(NOW)).ok is True

    assert_generic_failure(attempt(db_url, code=code_at(NOW, -1)))
    assert len(audit_rows(session, "totp.replay")) == 1
    assert reload_user(session, user.id).totp_last_used_step == step_of(NOW)


def test_next_steps_code_works_after_a_used_one(session: Session, db_url: str,
                                                user: User) -> None:
    assert attempt(db_url, code=code_at(NOW)).ok is True
    later = NOW + timedelta(seconds=30)

    outcome = attempt(db_url, code=code_at(later), now=later)

    assert outcome.ok is True
    assert reload_user(session, user.id).totp_last_used_step == step_of(NOW) + 1
    assert audit_rows(session, "totp.replay") == []


@pytest.mark.parametrize("lined_up", [False, True], ids=["free-race", "lined-up-at-claim"])
def test_concurrent_sign_ins_with_one_code_let_exactly_one_in(
        session: Session, db_url: str, user: User, monkeypatch: pytest.MonkeyPatch,
        lined_up: bool) -> None:
    """Two requests with one code: exactly one gets in, on every round.

    "free-race" only starts both together; Argon2's timing jitter decides how close they
    come. "lined-up-at-claim" also holds each request after its code matched until the other
    has matched too, so both have checked the code before either claims it: a read-then-write
    claim lets both in there, only a compare-and-set lets exactly one in.
    """
    if lined_up:
        at_claim = threading.Barrier(2)
        real_matching_step = sign_in_module.matching_step

        def matching_then_wait(secret: str, code: str, now: datetime) -> int | None:
            step = real_matching_step(secret, code, now)
            if step is not None:
                at_claim.wait(timeout=30)
            return step

        monkeypatch.setattr(sign_in_module, "matching_step", matching_then_wait)
    rounds = 5
    for round_no in range(rounds):
        now = NOW + timedelta(seconds=30 * round_no)
        code = code_at(now)

        def call(own: Session, ip: str, now: datetime = now, code: str = code) -> SignInOutcome:
            return sign_in(session=own, email=EMAIL, password=PASSWORD, code=code,
                           client=CLIENT, ip=ip, now=now)

        outcomes = race(db_url, [lambda s: call(s, "198.51.100.21"),
                                 lambda s: call(s, "198.51.100.22")])

        assert sorted(o.ok for o in outcomes) == [False, True], f"round {round_no}"
        loser = next(o for o in outcomes if not o.ok)
        assert_generic_failure(loser)

    replays = audit_rows(session, "totp.replay", user_id=user.id)
    assert sorted(e.detail["step"] for e in replays) == [step_of(NOW) + r for r in range(rounds)]
    successes = audit_rows(session, "sign_in", user_id=user.id, outcome="success")
    assert len(successes) == rounds
    assert session.exec(select(sa.func.count()).select_from(AuthSession)).one() == rounds
    stored = reload_user(session, user.id)
    assert stored.totp_last_used_step == step_of(NOW) + rounds - 1
    assert stored.failed_attempts == 1  # each winner reset it; only the last loser counts


# --- recovery codes -----------------------------------------------------------------------


def issue_codes(session: Session, user: User) -> list[str]:
    codes = issue_recovery_codes(session=session, user_id=user.id)
    session.commit()
    return codes


def test_recovery_code_works_once(session: Session, db_url: str, user: User) -> None:
    codes = issue_codes(session, user)
    assert len(codes) == 10

    first = attempt(db_url, code=codes[0])
    assert first.ok is True and first.token is not None
    assert_generic_failure(attempt(db_url, code=codes[0], now=NOW + timedelta(minutes=1)))

    session.expire_all()
    rows = list(session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)))
    assert len(rows) == 10
    assert [row.used_at for row in rows if row.used_at is not None] == [NOW]
    assert all(codes[0] not in row.code_hash for row in rows)  # only hashes are stored
    # A recovery code is not a TOTP step: the authenticator's codes still work afterwards.
    assert reload_user(session, user.id).totp_last_used_step is None
    assert attempt(db_url, code=codes[1].lower().replace("-", ""),
                   now=NOW + timedelta(minutes=2)).ok is True


def test_recovery_code_of_another_user_is_refused(session: Session, db_url: str,
                                                  practice: Practice, user: User) -> None:
    other = make_user(session, practice, "cm.b@example.org").user
    codes = issue_codes(session, other)

    assert_generic_failure(attempt(db_url, code=codes[0]))
    assert attempt(db_url, email="cm.b@example.org", code=codes[0]).ok is True


@pytest.mark.parametrize("lined_up", [False, True], ids=["free-race", "lined-up-at-claim"])
def test_concurrent_use_of_one_recovery_code_lets_exactly_one_in(
        session: Session, db_url: str, user: User, monkeypatch: pytest.MonkeyPatch,
        lined_up: bool) -> None:
    """As for TOTP codes; "lined-up-at-claim" holds each request after it found the unused
    code until the other found it too, and only then lets them mark it used."""
    if lined_up:
        at_claim = threading.Barrier(2)

        class MatchThenWait:
            @staticmethod
            def compare_digest(a: str, b: str) -> bool:
                same = hmac.compare_digest(a, b)
                if same:
                    at_claim.wait(timeout=30)
                return same

        monkeypatch.setattr(recovery_module, "hmac", MatchThenWait)
    codes = issue_codes(session, user)
    rounds = 5
    for round_no in range(rounds):
        now = NOW + timedelta(minutes=round_no)
        code = codes[round_no]

        def call(own: Session, now: datetime = now, code: str = code) -> SignInOutcome:
            return sign_in(session=own, email=EMAIL, password=PASSWORD, code=code,
                           client=CLIENT, ip=IP, now=now)

        outcomes = race(db_url, [call, call])

        assert sorted(o.ok for o in outcomes) == [False, True], f"round {round_no}"
    session.expire_all()
    used = session.exec(select(sa.func.count()).select_from(RecoveryCode)
                        .where(RecoveryCode.used_at.is_not(None))).one()
    assert used == rounds
    assert len(audit_rows(session, "sign_in", outcome="success")) == rounds


# --- one generic failure ------------------------------------------------------------------


@pytest.mark.parametrize("case", ["wrong-password", "wrong-code", "no-code", "unknown-email",
                                  "inactive-user"])
def test_every_failure_gives_the_same_generic_answer(
        session: Session, db_url: str, user: User, case: str) -> None:
    kwargs: dict[str, Any] = {}
    if case == "wrong-password":
        kwargs["password"] = PASSWORD + "x"
    elif case == "wrong-code":
        kwargs["code"] = wrong_code(NOW)
    elif case == "no-code":
        kwargs["code"] = ""
    elif case == "unknown-email":
        kwargs["email"] = "nobody@example.org"
    else:
        user.active = False
        session.add(user)
        session.commit()

    outcome = attempt(db_url, **kwargs)

    assert_generic_failure(outcome)
    [event] = audit_rows(session, "sign_in")
    assert event.outcome == "failure"
    assert event.client == f"ip={IP} {CLIENT}"
    assert event.occurred_at == NOW
    assert event.user_id == (None if case == "unknown-email" else user.id)
    assert event.detail["email"] == kwargs.get("email", EMAIL)
    assert session.exec(select(sa.func.count()).select_from(AuthSession)).one() == 0


def test_every_refusal_costs_one_password_hash(
        session: Session, db_url: str, practice: Practice, user: User,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Refusing a locked or backed-off account without hashing would answer faster and so
    reveal that the account exists (ASVS 5.0 6.3.8); every path hashes exactly once."""
    calls: list[str] = []

    def counting_verify(password_hash: str, password: str) -> bool:
        calls.append(password)
        return verify_password(password_hash, password)

    monkeypatch.setattr(sign_in_module, "verify_password", counting_verify)
    locked = make_user(session, practice, "locked@example.org").user
    locked.locked_at = NOW - timedelta(hours=1)
    backed_off = make_user(session, practice, "slow@example.org").user
    backed_off.backoff_until = NOW + timedelta(minutes=5)
    session.add_all([locked, backed_off])
    session.commit()

    for email in ("nobody@example.org", "locked@example.org", "slow@example.org", EMAIL):
        calls.clear()
        outcome = attempt(db_url, email=email, password="not the password")
        assert_generic_failure(outcome)
        assert len(calls) == 1, email


# --- throttling ---------------------------------------------------------------------------


def test_five_failures_start_a_backoff_that_even_right_credentials_wait_out(
        session: Session, db_url: str, user: User) -> None:
    for second in range(BACKOFF_AFTER):
        assert_generic_failure(attempt(db_url, password="wrong password",
                                       now=NOW + timedelta(seconds=second)))
    last_failure = NOW + timedelta(seconds=BACKOFF_AFTER - 1)
    stored = reload_user(session, user.id)
    assert stored.failed_attempts == BACKOFF_AFTER
    assert stored.backoff_until == last_failure + timedelta(seconds=30)

    during = last_failure + timedelta(seconds=20)
    assert_generic_failure(attempt(db_url, now=during))
    stored = reload_user(session, user.id)
    assert stored.failed_attempts == BACKOFF_AFTER  # a refusal during backoff is not counted
    assert stored.totp_last_used_step is None  # ...and did not spend the code
    assert audit_rows(session, "sign_in", occurred_at=during)[0].detail["why"] == "backoff"

    after = last_failure + timedelta(seconds=31)
    outcome = attempt(db_url, now=after)
    assert outcome.ok is True
    stored = reload_user(session, user.id)
    assert stored.failed_attempts == 0
    assert stored.backoff_until is None


def test_backoff_doubles_with_each_failure_up_to_fifteen_minutes(
        session: Session, db_url: str, user: User) -> None:
    when = NOW
    for failures in range(1, 11):
        assert_generic_failure(attempt(db_url, password="wrong password", now=when))
        stored = reload_user(session, user.id)
        assert stored.failed_attempts == failures
        if failures < BACKOFF_AFTER:
            assert stored.backoff_until is None
            when += timedelta(seconds=1)
        else:
            delay = min(timedelta(seconds=30 * 2 ** (failures - BACKOFF_AFTER)),
                        timedelta(minutes=15))
            assert stored.backoff_until == when + delay, failures
            when = stored.backoff_until + timedelta(seconds=1)
    assert stored.locked_at is None


def fail_many(db_url: str, count: int, start: datetime, spacing: timedelta) -> datetime:
    """`count` counted failures, each after the previous backoff ended; the last one's time."""
    when = start
    for _ in range(count):
        assert_generic_failure(attempt(db_url, password="wrong password", now=when))
        last, when = when, when + spacing
    return last


def test_twenty_failures_in_a_day_lock_until_an_admin_unlocks(
        session: Session, db_url: str, practice: Practice, user: User) -> None:
    admin = make_user(session, practice, "admin@example.org", role=Role.ADMIN).user
    spacing = timedelta(minutes=16)  # longer than the longest backoff: every failure counts

    last = fail_many(db_url, LOCK_AFTER_IN_DAY - 1, NOW, spacing)
    assert reload_user(session, user.id).locked_at is None
    twentieth = last + spacing
    fail_many(db_url, 1, twentieth, spacing)
    stored = reload_user(session, user.id)
    assert stored.locked_at == twentieth
    [locked_event] = audit_rows(session, "account.locked")
    assert locked_event.user_id == user.id and locked_event.occurred_at == twentieth

    # Locked: right credentials fail long after any backoff, and do not spend the code.
    later = twentieth + timedelta(hours=3)
    assert_generic_failure(attempt(db_url, now=later))
    assert audit_rows(session, "sign_in", occurred_at=later)[0].detail["why"] == "locked"
    assert reload_user(session, user.id).totp_last_used_step is None

    unlock_at = later + timedelta(minutes=5)
    unlock_user(session=session, user=stored, by=admin, client="admin console",
                now=unlock_at)
    session.commit()
    stored = reload_user(session, user.id)
    assert (stored.locked_at, stored.failed_attempts, stored.backoff_until) == (None, 0, None)
    [unlock] = audit_rows(session, "account.unlock")
    assert unlock.user_id == admin.id
    assert unlock.detail == {"target_user": str(user.id)}
    assert unlock.occurred_at == unlock_at

    after_unlock = unlock_at + timedelta(minutes=1)
    assert attempt(db_url, now=after_unlock).ok is True


def test_after_an_unlock_one_typo_does_not_lock_again(
        session: Session, db_url: str, practice: Practice, user: User) -> None:
    """An admin's unlock starts a fresh count; failures before it no longer lock."""
    admin = make_user(session, practice, "admin@example.org", role=Role.ADMIN).user
    last = fail_many(db_url, LOCK_AFTER_IN_DAY, NOW, timedelta(minutes=16))
    assert reload_user(session, user.id).locked_at == last
    unlock_at = last + timedelta(minutes=10)
    unlock_user(session=session, user=reload_user(session, user.id), by=admin, client="",
                now=unlock_at)
    session.commit()

    assert_generic_failure(attempt(db_url, password="typo", now=unlock_at + timedelta(minutes=1)))

    assert reload_user(session, user.id).locked_at is None
    assert attempt(db_url, now=unlock_at + timedelta(minutes=2)).ok is True


def test_failures_spread_over_more_than_a_day_do_not_lock(
        session: Session, db_url: str, user: User) -> None:
    half = LOCK_AFTER_IN_DAY // 2
    last = fail_many(db_url, half, NOW, timedelta(minutes=16))
    fail_many(db_url, LOCK_AFTER_IN_DAY - half, last + timedelta(hours=24, minutes=1),
              timedelta(minutes=16))

    stored = reload_user(session, user.id)
    assert stored.failed_attempts == LOCK_AFTER_IN_DAY
    assert stored.locked_at is None


@pytest.mark.parametrize("client", [CLIENT, ""], ids=["with-user-agent", "no-client-label"])
def test_thirty_failures_from_one_address_pause_it(
        session: Session, db_url: str, user: User, client: str) -> None:
    bad_ip, neighbour_ip, other_ip = "203.0.113.1", "203.0.113.10", "192.0.2.44"
    for i in range(IP_LIMIT - 1):
        assert_generic_failure(attempt(db_url, email=f"guess{i}@example.org", password="x",
                                       code="", ip=bad_ip, client=client,
                                       now=NOW + timedelta(seconds=i)))
    # One below the limit the address still works for a real user.
    t29 = NOW + timedelta(seconds=40)
    assert attempt(db_url, ip=bad_ip, client=client, now=t29).ok is True
    t30 = NOW + timedelta(seconds=41)
    assert_generic_failure(attempt(db_url, email="guess-last@example.org", password="x",
                                   code="", ip=bad_ip, client=client, now=t30))

    paused_at = NOW + timedelta(seconds=70)
    assert_generic_failure(attempt(db_url, ip=bad_ip, client=client, now=paused_at))
    [paused] = audit_rows(session, "sign_in", occurred_at=paused_at)
    assert (paused.user_id, paused.detail["why"]) == (user.id, "address_throttled")
    assert reload_user(session, user.id).failed_attempts == 0  # the user is not penalised

    # Another address (even one whose text starts with the paused one) is unaffected.
    assert attempt(db_url, ip=neighbour_ip, client=client, now=paused_at).ok is True
    other_at = paused_at + timedelta(seconds=30)
    assert attempt(db_url, ip=other_ip, client=client, now=other_at).ok is True

    # The pause ends 15 minutes after the last failure from that address.
    free_at = paused_at + timedelta(minutes=15, seconds=30)
    assert attempt(db_url, ip=bad_ip, client=client, now=free_at).ok is True


# --- naive datetimes (B28) ----------------------------------------------------------------


def test_naive_now_is_refused(db_url: str, user: User) -> None:
    naive = NOW.replace(tzinfo=None)
    with pytest.raises((ValueError, sa.exc.StatementError), match="naive"):
        attempt(db_url, now=naive, code=code_at(NOW))
    with pytest.raises((ValueError, sa.exc.StatementError), match="naive"):
        attempt(db_url, now=naive, code=code_at(NOW), ip="")


# --- first sign-in and setup --------------------------------------------------------------


@pytest.fixture
def newcomer(session: Session, practice: Practice) -> NewUser:
    return make_user(session, practice, "new.cm@example.org", enrolled=False)


def first_sign_in(session: Session, db_url: str, newcomer: NewUser) -> tuple[str, Any]:
    outcome = attempt(db_url, email=newcomer.user.email, password=newcomer.password, code="")
    assert outcome.ok is True and outcome.token is not None
    signed_in = resolve_session(session=session, token=outcome.token, now=NOW)
    assert signed_in is not None
    session.commit()
    return outcome.token, signed_in


def test_first_sign_in_needs_no_code_and_asks_for_setup(
        session: Session, db_url: str, newcomer: NewUser) -> None:
    outcome = attempt(db_url, email=newcomer.user.email, password=newcomer.password, code="")

    assert outcome.ok is True
    assert outcome.needs_setup is True
    assert outcome.token is not None
    signed_in = resolve_session(session=session, token=outcome.token, now=NOW)
    assert signed_in is not None and signed_in.needs_setup is True
    [event] = audit_rows(session, "sign_in", user_id=newcomer.user.id)
    assert event.detail == {"needs_setup": True}


def test_first_sign_in_with_a_wrong_one_time_password_fails(
        db_url: str, newcomer: NewUser) -> None:
    assert_generic_failure(attempt(db_url, email=newcomer.user.email,
                                   password=newcomer.password + "x", code=""))


GOOD_NEW_PASSWORD = "Tulip-Harbor-Lantern-42"


@pytest.mark.parametrize(("case", "message"), [
    ("short", "Use at least 12 characters."),
    ("mismatch", "The two passwords differ."),
    ("reused", "Choose a password different from the one-time password."),
    ("email", "Do not use your email in the password."),
    ("wrong-code", CODE_MISMATCH),
    ("future-code", CODE_MISMATCH),
    ("empty-code", CODE_MISMATCH),
])
def test_setup_refuses_with_a_specific_message(
        session: Session, db_url: str, newcomer: NewUser, case: str, message: str) -> None:
    token, signed_in = first_sign_in(session, db_url, newcomer)
    when = NOW + timedelta(minutes=1)
    new, confirm, code = GOOD_NEW_PASSWORD, GOOD_NEW_PASSWORD, code_at(when)
    if case == "short":
        new = confirm = "Tulip-42"
    elif case == "mismatch":
        confirm = GOOD_NEW_PASSWORD + "!"
    elif case == "reused":
        new = confirm = newcomer.password
    elif case == "email":
        new = confirm = "new.cm-Harbor-Lantern"
    elif case == "wrong-code":
        code = wrong_code(when)
    elif case == "future-code":
        code = code_at(when, 1)
    else:
        code = ""

    outcome = complete_setup(
        session=session, user=signed_in.user,
        new_password=new, confirm_password=confirm, code=code, client=CLIENT, now=when)
    session.commit()

    assert outcome.ok is False
    assert outcome.message == message
    assert outcome.token is None and outcome.recovery_codes == []
    stored = reload_user(session, newcomer.user.id)
    assert stored.totp_enrolled_at is None
    assert stored.must_change_password is True
    assert stored.totp_last_used_step is None
    assert verify_password(stored.password_hash, newcomer.password)
    assert resolve_session(session=session, token=token, now=when) is not None
    assert session.exec(select(sa.func.count()).select_from(RecoveryCode)).one() == 0


def test_setup_enrolls_replaces_the_session_and_issues_recovery_codes(
        session: Session, db_url: str, newcomer: NewUser) -> None:
    old_token, signed_in = first_sign_in(session, db_url, newcomer)
    other = attempt(db_url, email=newcomer.user.email, password=newcomer.password, code="")
    assert other.token is not None
    when = NOW + timedelta(minutes=1)
    setup_code = code_at(when)

    outcome = complete_setup(
        session=session, user=signed_in.user,
        new_password=GOOD_NEW_PASSWORD, confirm_password=GOOD_NEW_PASSWORD, code=setup_code,
        client=CLIENT, now=when)
    session.commit()

    assert outcome.ok is True and outcome.message == ""
    assert outcome.token is not None and outcome.token not in (old_token, other.token)
    stored = reload_user(session, newcomer.user.id)
    assert stored.totp_enrolled_at == when
    assert stored.must_change_password is False
    assert stored.password_changed_at == when
    assert stored.totp_last_used_step == step_of(when)
    assert verify_password(stored.password_hash, GOOD_NEW_PASSWORD)
    assert not verify_password(stored.password_hash, newcomer.password)

    assert resolve_session(session=session, token=old_token, now=when) is None
    assert resolve_session(session=session, token=other.token, now=when) is None
    fresh = resolve_session(session=session, token=outcome.token, now=when)
    assert fresh is not None and fresh.needs_setup is False

    codes = outcome.recovery_codes
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(sign_in_module._RECOVERY_CODE.match(code) for code in codes)
    rows = list(session.exec(select(RecoveryCode).where(RecoveryCode.user_id == stored.id)))
    assert len(rows) == 10 and all(row.used_at is None for row in rows)
    assert {row.code_hash for row in rows}.isdisjoint(codes)
    [enroll] = audit_rows(session, "totp.enroll", user_id=stored.id)
    assert enroll.outcome == "success" and enroll.occurred_at == when
    session.commit()

    # Afterwards: the setup code is spent, the one-time password is dead, the new one works.
    email = newcomer.user.email
    assert_generic_failure(attempt(db_url, email=email, password=GOOD_NEW_PASSWORD,
                                   code=setup_code, now=when + timedelta(seconds=5)))
    assert_generic_failure(attempt(db_url, email=email, password=newcomer.password,
                                   now=when + timedelta(seconds=30)))
    later = when + timedelta(seconds=60)
    signed = attempt(db_url, email=email, password=GOOD_NEW_PASSWORD, now=later)
    assert signed.ok is True and signed.needs_setup is False
    assert attempt(db_url, email=email, password=GOOD_NEW_PASSWORD, code=codes[0],
                   now=later + timedelta(minutes=1)).ok is True


def test_setup_is_refused_once_the_account_is_set_up(session: Session, db_url: str,
                                                    user: User) -> None:
    """Otherwise a session alone (plus one code) would change the password without the old
    one and replace the recovery codes."""
    signed = attempt(db_url)
    assert signed.ok is True and signed.token is not None
    signed_in = resolve_session(session=session, token=signed.token, now=NOW)
    assert signed_in is not None and signed_in.needs_setup is False
    codes = issue_codes(session, user)
    when = NOW + timedelta(seconds=30)

    outcome = complete_setup(
        session=session, user=signed_in.user,
        new_password=GOOD_NEW_PASSWORD, confirm_password=GOOD_NEW_PASSWORD,
        code=code_at(when), client=CLIENT, now=when)
    session.commit()

    assert outcome.ok is False and outcome.token is None and outcome.recovery_codes == []
    assert outcome.message == ALREADY_SET_UP
    stored = reload_user(session, user.id)
    assert verify_password(stored.password_hash, PASSWORD)
    assert stored.totp_enrolled_at == NOW - timedelta(days=30)
    assert resolve_session(session=session, token=signed.token, now=when) is not None
    session.commit()  # resolving moved last_seen_at: end that write before the next request
    assert attempt(db_url, code=codes[0], now=when).ok is True  # old codes still valid
    [refusal] = audit_rows(session, "totp.enroll", user_id=user.id)
    assert (refusal.outcome, refusal.detail) == ("failure", {"why": "already_set_up"})


def test_outdated_password_hash_is_upgraded_at_sign_in(session: Session, db_url: str,
                                                       user: User) -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    session.execute(sa.update(User).where(User.id == user.id).values(password_hash=weak))
    session.commit()
    outcome = attempt(db_url, code=code_at(NOW))
    assert outcome.ok
    stored = reload_user(session, user.id).password_hash
    assert stored != weak and not needs_rehash(stored)
    assert verify_password(stored, PASSWORD)
