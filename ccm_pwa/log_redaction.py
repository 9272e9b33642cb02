"""Nothing secret reaches a log: session cookies, passwords, TOTP secrets and codes,
recovery codes, bearer tokens, private keys.

Reflex logs a whole event — with the websocket's headers, the session cookie among them —
when a client names a handler that does not exist, and a traceback can quote any value.
A log file is read by more people (and kept longer) than the database, so every record of
every logger is scrubbed as it is created, before any handler formats or writes it: the
message with its arguments, the traceback text and the stack.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

REDACTED = "[redacted]"

# Names whose values are secrets wherever they appear: dict reprs, JSON, form bodies, query
# strings. Session cookies by their names in ccm_pwa/auth/sessions.py.
SECRET_NAMES = (
    r"cookie|set-cookie|authorization|password|new_password|current_password|"
    r"confirm_password|otp|totp|totp_code|totp_secret|secret|recovery_code|recovery_codes|"
    r"token|session_token|api_token|private_key|vapid_private_key|"
    r"__Host-ccm_session|ccm_session"
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # 'cookie': 'a=b; c=d'  /  "password": "…"  (Python reprs and JSON)
    (re.compile(rf"""(?i)(['"](?:{SECRET_NAMES})['"]\s*:\s*)(['"])(?:\\.|(?!\2).)*\2"""),
     rf"\1\2{REDACTED}\2"),
    # 'recovery_codes': ['…', '…']
    (re.compile(rf"""(?i)(['"](?:{SECRET_NAMES})['"]\s*:\s*)\[[^\]]*\]"""),
     rf"\1['{REDACTED}']"),
    # b'cookie', b'…' — ASGI header tuples in a scope repr
    (re.compile(rf"""(?i)(b?['"](?:{SECRET_NAMES})['"]\s*,\s*b?)(['"])(?:\\.|(?!\2).)*\2"""),
     rf"\1\2{REDACTED}\2"),
    # Cookie: a=b; c=d   (a raw header line)
    (re.compile(r"(?im)^(\s*(?:set-)?cookie\s*:\s*).*$"), rf"\1{REDACTED}"),
    # ccm_session=…; password=…&otp=…  (cookie strings, form bodies, query strings, otpauth)
    (re.compile(rf"""(?i)(\b(?:{SECRET_NAMES})=)[^;&\s'",}}\]]+"""), rf"\1{REDACTED}"),
    # Authorization: Bearer …
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\1{REDACTED}"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
                re.DOTALL), f"-----{REDACTED} PRIVATE KEY-----"),
)


def redact(text: str) -> str:
    """The text with every recognised secret value replaced by `[redacted]`."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Render the record's message now (with its arguments) and redact it; the same for the
    traceback, which handlers would otherwise render later from the live exception."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not lose the record
        message = f"{record.msg!s} {record.args!r}"
    record.msg, record.args = redact(message), None
    if record.exc_info:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install() -> None:
    """Scrub every log record from now on, in this process (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_secrets", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub(previous(*args, **kwargs))

    redacting: Callable[..., logging.LogRecord] = factory
    redacting.redacts_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting)
