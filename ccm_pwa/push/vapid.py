"""The application server's VAPID identity (RFC 8292): one P-256 key used only for signing.

The key is the server's, never shared with message encryption (pywebpush makes a fresh ECDH
key per message, RFC 8292 §3.2). It comes from `CCM_VAPID_PRIVATE_KEY` when set (PEM, or the
32-byte private scalar in base64url), otherwise from a file under `CCM_DATA_DIR` created on
first use with mode 0600. Browsers bind each subscription to the public key they were given
(`applicationServerKey`), so a deployment with several hosts must share one key through the
environment: a key generated per host would make the other hosts' pushes fail with 403.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from ccm_pwa.config import Settings, load_settings

log = logging.getLogger(__name__)

KEY_FILE_NAME = "vapid_private_key.pem"
# pywebpush's own default; RFC 8292 allows at most 24 h and some push services less.
TOKEN_LIFETIME_SECONDS = 12 * 3600
_SUBJECT = re.compile(r"^(mailto:[^@\s]+@[^@\s]+|https://[^\s/]+)$", re.IGNORECASE)


class VapidError(ValueError):
    """The configured VAPID key or subject cannot be used."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class VapidKeys:
    """The signing key and the contact a push service operator can reach (`sub`)."""

    private_key: ec.EllipticCurvePrivateKey
    subject: str

    @property
    def public_key(self) -> str:
        """The uncompressed point in base64url: what `PushManager.subscribe` expects."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return b64url(point)

    def authorization(self, endpoint: str, *, now: float | None = None) -> dict[str, str]:
        """The `Authorization: vapid t=…, k=…` header for one push resource.

        `aud` is the endpoint's origin (a token is only good for that push service) and `exp`
        stays well inside the 24 h RFC 8292 allows.
        """
        parts = urlsplit(endpoint)
        claims = {"aud": f"{parts.scheme}://{parts.netloc}", "sub": self.subject,
                  "exp": int((now if now is not None else time.time()) + TOKEN_LIFETIME_SECONDS)}
        # no-strict: py_vapid's own `sub` check refuses https contacts with a port; ours is
        # checked when the keys are loaded.
        return Vapid02(self.private_key, conf={"no-strict": True}).sign(claims)


def load_vapid(settings: Settings | None = None) -> VapidKeys:
    """The deployment's VAPID keys (created on first use when nothing is configured)."""
    settings = settings or load_settings()
    return _load(settings.vapid_private_key, settings.vapid_subject, settings.public_url,
                 str(settings.data_dir))


@lru_cache(maxsize=8)
def _load(configured_key: str | None, subject: str | None, public_url: str | None,
          data_dir: str) -> VapidKeys:
    key = (_parse_key(configured_key) if configured_key
           else _key_from_file(Path(data_dir) / KEY_FILE_NAME))
    return VapidKeys(key, _subject(subject, public_url))


def _subject(configured: str | None, public_url: str | None) -> str:
    if configured:
        if not _SUBJECT.match(configured):
            raise VapidError("CCM_VAPID_SUBJECT must be a mailto: address or an https: origin")
        return configured
    if public_url and public_url.startswith("https://"):
        return "https://" + urlsplit(public_url).netloc
    log.warning("CCM_VAPID_SUBJECT is not set; push services get no way to contact the "
                "operator (set it to mailto:ops@your-practice)")
    return "mailto:ccm-pwa@localhost"


def _parse_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A PEM private key, or the raw 32-byte scalar in base64url (the web-push convention)."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = b64url_decode(text)
            if len(raw) != 32:
                raise ValueError("expected 32 bytes")
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError as exc:
        raise VapidError(f"CCM_VAPID_PRIVATE_KEY is not a P-256 private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise VapidError("CCM_VAPID_PRIVATE_KEY must be a P-256 (ES256) key")
    return key


def _key_from_file(path: Path) -> ec.EllipticCurvePrivateKey:
    """Read the key file, creating it once; two workers starting together agree on one key.

    The new key is written to a private temporary file and hard-linked into place, which
    fails if another process got there first: then that process's key is read instead.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            os.link(temporary, path)
            log.info("created the VAPID key %s", path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        log.warning("VAPID key %s was readable by others; mode set to 0600", path)
        path.chmod(0o600)
    return _parse_key(path.read_text())
