"""A user's push subscriptions (one per device): validate, save, list, remove.

The endpoint is a URL the server will later POST to, chosen by the browser, so it is
checked like any outbound URL a user supplies: https only (plain http only to loopback, and
only when `CCM_PUSH_ALLOW_LOOPBACK` is on, for the test push service), no credentials in it,
no private or loopback IP literal. Keys are checked for the sizes RFC 8291 fixes (a P-256
point and a 16-byte auth secret), so a broken subscription fails here, not at 09:00.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import Session, select

from ccm_pwa.auth.audit import record_audit
from ccm_pwa.models import PushSubscription, User
from ccm_pwa.push.vapid import b64url_decode

MAX_ENDPOINT_LENGTH = 2048
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class SubscriptionError(ValueError):
    """The subscription JSON cannot be used; the message names the field."""


@dataclass(frozen=True)
class SubscriptionInput:
    """The browser's `PushSubscription.toJSON()`, checked."""

    endpoint: str
    p256dh: str
    auth: str
    user_agent: str = ""
    old_endpoint: str | None = None


def check_endpoint(endpoint: str, *, allow_loopback: bool, field: str = "endpoint") -> str:
    if not endpoint or len(endpoint) > MAX_ENDPOINT_LENGTH:
        raise SubscriptionError(f"{field}: expected a URL of at most {MAX_ENDPOINT_LENGTH} "
                                "characters")
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise SubscriptionError(f"{field}: not a URL") from None
    if not host or parts.username or parts.password or parts.fragment:
        raise SubscriptionError(f"{field}: not a push service URL")
    loopback = host in _LOOPBACK_NAMES
    if parts.scheme == "http" and not (loopback and allow_loopback):
        raise SubscriptionError(f"{field}: push services are reached over https only")
    if parts.scheme not in ("https", "http"):
        raise SubscriptionError(f"{field}: push services are reached over https only")
    if loopback and not allow_loopback:
        raise SubscriptionError(f"{field}: not a push service URL")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and not (loopback and allow_loopback) and (
            address.is_private or address.is_loopback or address.is_link_local
            or address.is_reserved or address.is_multicast or address.is_unspecified):
        raise SubscriptionError(f"{field}: not a push service URL")
    return endpoint


def parse_subscription(body: object, *, allow_loopback: bool, user_agent: str = ""
                       ) -> SubscriptionInput:
    """Check the JSON a browser (or the service worker's `pushsubscriptionchange`) posts."""
    if not isinstance(body, dict):
        raise SubscriptionError("body: expected the PushSubscription JSON object")
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str):
        raise SubscriptionError("endpoint: expected a URL")
    check_endpoint(endpoint, allow_loopback=allow_loopback)
    keys = body.get("keys")
    if not isinstance(keys, dict):
        raise SubscriptionError("keys: expected {p256dh, auth}")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not _is_p256_point(p256dh):
        raise SubscriptionError("keys.p256dh: expected a P-256 public key (65 bytes, base64url)")
    if not isinstance(auth, str) or not _decodes_to(auth, 16):
        raise SubscriptionError("keys.auth: expected a 16-byte secret (base64url)")
    old = body.get("old_endpoint")
    if old is not None and not isinstance(old, str):
        raise SubscriptionError("old_endpoint: expected a URL or null")
    agent = body.get("user_agent")
    agent = agent if isinstance(agent, str) and agent else user_agent
    return SubscriptionInput(endpoint=endpoint, p256dh=p256dh, auth=auth,
                             user_agent=agent[:200], old_endpoint=old or None)


def _decodes_to(text: str, size: int) -> bool:
    try:
        return len(text) < 200 and len(b64url_decode(text)) == size
    except ValueError:
        return False


def _is_p256_point(text: str) -> bool:
    if not _decodes_to(text, 65):
        return False
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(text))
    except ValueError:
        return False
    return True


def save_subscription(*, session: Session, user: User, subscription: SubscriptionInput,
                      client: str, now: datetime) -> tuple[PushSubscription, bool]:
    """Insert or update the device's row, bound to `user`; returns (row, created).

    An endpoint is one browser profile's: if another user registers it (a shared phone,
    signed in by someone else), it moves to them, so reminders follow whoever signed in
    last. `old_endpoint` (a `pushsubscriptionchange`) renames the caller's own row.
    """
    row = _by_endpoint(session, subscription.endpoint)
    if row is None and subscription.old_endpoint:
        previous = _by_endpoint(session, subscription.old_endpoint)
        if previous is not None and previous.user_id == user.id:
            row = previous
    created = row is None
    moved_from = None if row is None or row.user_id == user.id else row.user_id
    if row is None:
        row = PushSubscription(user_id=user.id, endpoint=subscription.endpoint,
                               p256dh=subscription.p256dh, auth=subscription.auth,
                               user_agent=subscription.user_agent, created_at=now)
    else:
        row.user_id, row.endpoint = user.id, subscription.endpoint
        row.p256dh, row.auth = subscription.p256dh, subscription.auth
        row.user_agent = subscription.user_agent or row.user_agent
        row.failure_count = 0
    session.add(row)
    session.flush()
    record_audit(session=session, action="push.subscribe", user_id=user.id, client=client,
                 occurred_at=now, detail={"subscription_id": str(row.id), "created": created,
                                          "renewed": bool(subscription.old_endpoint),
                                          "moved_from_user": str(moved_from) if moved_from
                                          else None, "push_service": _host(row.endpoint)})
    return row, created


def delete_subscription(*, session: Session, user: User, endpoint: str, client: str,
                        now: datetime) -> int:
    """Remove the caller's row for `endpoint` (another user's is left alone); rows removed."""
    removed = session.execute(sa.delete(PushSubscription).where(
        PushSubscription.user_id == user.id, PushSubscription.endpoint == endpoint)).rowcount
    record_audit(session=session, action="push.unsubscribe", user_id=user.id, client=client,
                 occurred_at=now, detail={"removed": removed, "push_service": _host(endpoint)})
    return removed


def list_subscriptions(*, session: Session, user_id: uuid.UUID) -> list[PushSubscription]:
    return list(session.exec(select(PushSubscription).where(
        PushSubscription.user_id == user_id).order_by(PushSubscription.created_at)))


def describe(row: PushSubscription) -> dict[str, object]:
    """A device as the settings screen shows it: never the endpoint or keys (capabilities)."""
    return {"id": str(row.id), "user_agent": row.user_agent, "push_service": _host(row.endpoint),
            "created_at": row.created_at.isoformat(),
            "last_success_at": row.last_success_at.isoformat() if row.last_success_at else None,
            "failure_count": row.failure_count}


def _by_endpoint(session: Session, endpoint: str) -> PushSubscription | None:
    return session.exec(select(PushSubscription).where(
        PushSubscription.endpoint == endpoint)).first()


def _host(endpoint: str) -> str:
    try:
        return urlsplit(endpoint).hostname or ""
    except ValueError:
        return ""
