"""TOTP secrets and provisioning URIs (pyotp); verification rules live with sign-in."""

from __future__ import annotations

import pyotp

ISSUER = "ccm_pwa"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app scans (shown as a QR code at enrollment)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)
