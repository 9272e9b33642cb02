"""TOTP (RFC 6238) with pyotp: current and previous 30-second step only, each code once."""

from __future__ import annotations

import base64
import hmac
import io
from datetime import datetime

import pyotp
import segno

ISSUER = "ccm_pwa"
STEP_SECONDS = 30


def new_secret() -> str:
    """160 random bits, base32 (pyotp's default length)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app scans (shown as a QR code at enrollment)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg_data_uri(uri: str) -> str:
    """The enrollment QR code rendered on the server: no third-party QR service sees the seed."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=6, border=2, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def current_step(now: datetime) -> int:
    if now.tzinfo is None or now.utcoffset() is None:
        # timestamp() would read a naive value as server-local time and shift the step.
        raise ValueError("naive datetime given to TOTP; pass an aware UTC time")
    return int(now.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The step `code` belongs to, if it is the current or the previous one; else None.

    Stricter than pyotp's symmetric `valid_window`: a code from the next step (a fast
    phone clock, or a code harvested early) is never accepted.
    """
    code = code.strip().replace(" ", "")
    # isascii(): str.isdigit() also accepts "١٢٣٤٥٦" or "²", which compare_digest rejects
    # with a TypeError instead of a quiet mismatch.
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = current_step(now)
    for candidate in (step, step - 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None
