"""Secrets are scrubbed from every log record; the rest of the message survives."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from ccm_pwa.log_redaction import REDACTED, install, redact

TOKEN = "HUYiAhDrXt7BPo5LRlEurBNAxrycNf36mQaavBNSh14"

# What Reflex logged for an event naming an unregistered handler (shortened).
REFLEX_EVENT = (
    "Error processing event queue entry for Event(name='reflex___state____state.x.no_such', "
    "router_data={'pathname': '/index', 'headers': {'host': '127.0.0.1:3999', "
    f"'cookie': 'theme=dark; ccm_session={TOKEN}', 'user-agent': 'Mozilla/5.0'}}, "
    "'token': '5dcfc4fa-4879-4b00-a60a-6a3f5149b76a'}, payload={})")


@pytest.mark.parametrize("text, secret", [
    (REFLEX_EVENT, TOKEN),
    (REFLEX_EVENT, "5dcfc4fa-4879-4b00-a60a-6a3f5149b76a"),
    (f"Cookie: __Host-ccm_session={TOKEN}; theme=dark", TOKEN),
    (f"cookie: ccm_session={TOKEN}", "theme"),
    (f'{{"headers": {{"cookie": "ccm_session={TOKEN}"}}}}', TOKEN),
    (f"[(b'host', b'x'), (b'cookie', b'ccm_session={TOKEN}')]", TOKEN),
    ("email=kim%40x.example&password=correct+horse&otp=123456", "correct+horse"),
    ("email=kim%40x.example&password=correct+horse&otp=123456", "123456"),
    ("{'password': 'correct horse', 'otp': '123456'}", "correct horse"),
    ("{'new_password': 'n3w p4ss', 'current_password': 'old p4ss'}", "p4ss"),
    ("otpauth://totp/CCM:kim?secret=K2QIACN5KCYMWGN3M7GYS7BUZSBKMUIV&issuer=CCM",
     "K2QIACN5KCYMWGN3M7GYS7BUZSBKMUIV"),
    ("{'totp_secret': 'K2QIACN5KCYMWGN3M7GYS7BUZSBKMUIV'}", "K2QIACN5KCYMWGN3M7GYS7BUZSBKMUIV"),
    ('{"recovery_code": "7kq2-m9xd"}', "7kq2-m9xd"),
    ("{'recovery_codes': ['7kq2-m9xd', 'p3rt-zz81']}", "7kq2"),
    ("Authorization: Bearer test-report-token-0123456789abcdef", "0123456789abcdef"),
    ("GET /_event/?EIO=4&transport=websocket&token=5dcfc4fa-4879", "5dcfc4fa"),
    ("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----", "MIGHAgEAMBMG"),
    ("{'password': 'it\\'s quoted'}", "quoted"),
])
def test_the_secret_is_gone(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert REDACTED in redact(text)


def test_what_is_not_secret_stays_readable() -> None:
    scrubbed = redact(REFLEX_EVENT)
    assert "no_such" in scrubbed
    assert "'host': '127.0.0.1:3999'" in scrubbed
    assert "'user-agent': 'Mozilla/5.0'" in scrubbed
    plain = "patient month 2026-11 closed by supervisor@riverbend.example: 42 billable"
    assert redact(plain) == plain


@pytest.fixture
def redacting() -> Iterator[logging.Logger]:
    previous = logging.getLogRecordFactory()
    install()
    install()  # idempotent: one layer
    try:
        yield logging.getLogger("reflex.test_log_redaction")
    finally:
        logging.setLogRecordFactory(previous)


def test_every_record_is_scrubbed_with_its_arguments_and_traceback(
        redacting: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    redacting.warning("event %s", REFLEX_EVENT)
    try:
        raise KeyError(f"no handler for {{'cookie': 'ccm_session={TOKEN}'}}")
    except KeyError:
        redacting.exception("Error processing %r", {"cookie": f"ccm_session={TOKEN}"})
    logging.getLogger().info("root too: password=hunter22")
    assert TOKEN not in caplog.text
    assert "hunter22" not in caplog.text
    assert "KeyError" in caplog.text  # the traceback is kept, scrubbed
    assert caplog.text.count(REDACTED) >= 4
