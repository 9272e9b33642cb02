"""VAPID keys and tokens, subscription checks, Retry-After and payload limits (no database)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt

from ccm_pwa.push.sender import MAX_PAYLOAD_BYTES, PushMessage, retry_after_seconds
from ccm_pwa.push.subscriptions import SubscriptionError, parse_subscription
from ccm_pwa.push.vapid import KEY_FILE_NAME, VapidError, _load, b64url, b64url_decode
from tests.support.event_loop import run_in_own_loop
from tests.support.push_service import BrowserSubscription


def keys(key: str | None = None, subject: str | None = "mailto:ops@x.example",
         public_url: str | None = None, data_dir: Path | None = None):
    _load.cache_clear()
    return _load(key, subject, public_url, str(data_dir or "/nonexistent"))


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = keys(data_dir=tmp_path)
    path = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys(data_dir=tmp_path).public_key == first.public_key
    path.chmod(0o644)
    assert keys(data_dir=tmp_path).public_key == first.public_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = b64url_decode(first.public_key)
    assert len(raw) == 65 and raw[0] == 4


def test_key_from_environment_as_pem_or_raw() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    raw = b64url(private.private_numbers().private_value.to_bytes(32, "big"))
    assert keys(pem).public_key == keys(raw).public_key
    for bad in ("not a key", b64url(b"short"), "-----BEGIN PRIVATE KEY-----\nxx\n-----END"):
        with pytest.raises(VapidError):
            keys(bad)
    other_curve = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    with pytest.raises(VapidError):
        keys(other_curve)


def test_subject_defaults_and_checks() -> None:
    raw = b64url(bytes(range(1, 33)))
    assert keys(raw, None, "https://ccm.example.org:8443/app").subject == \
        "https://ccm.example.org:8443"
    assert keys(raw, None, "http://localhost:3000").subject.startswith("mailto:")
    with pytest.raises(VapidError):
        keys(raw, "ops@x.example")


def test_vapid_token_claims() -> None:
    vapid = keys(b64url(bytes(range(1, 33))))
    header = vapid.authorization("https://fcm.googleapis.com/fcm/send/abc", now=1_000_000)
    scheme, _, rest = header["Authorization"].partition(" ")
    parts = dict(p.split("=", 1) for p in rest.split(","))
    assert scheme == "vapid" and parts["k"] == vapid.public_key
    claims = vapid_jwt.decode(parts["t"], parts["k"])
    assert claims == {"aud": "https://fcm.googleapis.com", "sub": "mailto:ops@x.example",
                      "exp": 1_000_000 + 12 * 3600}


def test_subscription_checks() -> None:
    browser = BrowserSubscription("https://updates.push.services.mozilla.com/wpush/v2/abc")
    ok = parse_subscription({**browser.to_json(), "user_agent": "Firefox"}, allow_loopback=False)
    assert ok.p256dh == browser.p256dh and ok.user_agent == "Firefox"
    loopback = BrowserSubscription("http://127.0.0.1:9999/push/x").to_json()
    with pytest.raises(SubscriptionError, match=r"^endpoint"):
        parse_subscription(loopback, allow_loopback=False)
    assert parse_subscription(loopback, allow_loopback=True).endpoint.startswith("http://")
    not_on_curve = {**browser.to_json(), "keys": {
        "p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": b64url(b"a" * 16)}}
    with pytest.raises(SubscriptionError, match=r"^keys\.p256dh"):
        parse_subscription(not_on_curve, allow_loopback=False)
    for endpoint in ("https://[::1]/x", "https://169.254.169.254/latest", "https://0.0.0.0/",
                     "https:///nohost", "https://push.example.com:99999/x",
                     "https://push.example.com/x#frag", "x" * 3000):
        with pytest.raises(SubscriptionError, match=r"^endpoint"):
            parse_subscription({**browser.to_json(), "endpoint": endpoint},
                               allow_loopback=False)


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Tue, 24 Nov 2026 15:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Tue, 24 Nov 2026 14:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None


def test_payload_is_the_four_fields_and_bounded() -> None:
    message = PushMessage(kind="daily_digest", title="T", body="B", url="/", tag="daily_digest",
                          ttl_seconds=60, urgency="normal", topic="daily_digest")
    assert message.payload() == b'{"title":"T","body":"B","url":"/","tag":"daily_digest"}'
    assert message.headers() == {"Urgency": "normal", "Topic": "daily_digest"}
    huge = PushMessage(kind="x", title="T", body="B" * MAX_PAYLOAD_BYTES, url="/", tag="x",
                       ttl_seconds=60, urgency="normal", topic="x")
    with pytest.raises(ValueError, match="exceeds"):
        huge.payload()


def test_reminder_loop_can_be_switched_off_and_survives_errors(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from ccm_pwa.push import scheduler

    run = run_in_own_loop
    monkeypatch.setenv("CCM_REMINDERS", "off")
    run(lambda: asyncio.wait_for(scheduler.reminder_loop(), 1))  # returns at once
    monkeypatch.setenv("CCM_REMINDERS", "on")
    calls: list[datetime] = []

    def failing_run(*, now: datetime, **_kwargs: object) -> list:
        calls.append(now)
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(scheduler, "run_due", failing_run)

    async def main() -> None:
        task = asyncio.create_task(scheduler.reminder_loop(interval_seconds=0.05))
        await asyncio.sleep(0.4)
        assert not task.done()  # an error in a run never ends the loop (nor the app)
        task.cancel()

    run(main)
    assert len(calls) >= 2
