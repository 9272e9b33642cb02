"""/api/v1/push: the VAPID key, this user's devices (subscribe, list, remove), a test send.

Bodies are read after the session check (as in /sync), so a caller without a session learns
nothing about their format. Sending runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from ccm_pwa.api.deps import NO_STORE, CurrentUser, decode_json, request_client
from ccm_pwa.api.errors import ApiError
from ccm_pwa.config import load_settings
from ccm_pwa.db import session_scope
from ccm_pwa.models import User
from ccm_pwa.push.delivery import send_test
from ccm_pwa.push.sender import PushSender, RetryPolicy
from ccm_pwa.push.subscriptions import (
    SubscriptionError,
    check_endpoint,
    delete_subscription,
    describe,
    list_subscriptions,
    parse_subscription,
    save_subscription,
)
from ccm_pwa.push.vapid import load_vapid

router = APIRouter(prefix="/push", tags=["push"])


@router.get("/key")
def read_key(user: CurrentUser) -> JSONResponse:
    """`{public_key}`: the base64url P-256 point for `PushManager.subscribe`."""
    return JSONResponse({"public_key": load_vapid().public_key}, headers=NO_STORE)


@router.get("/subscriptions")
def read_subscriptions(user: CurrentUser) -> JSONResponse:
    """The caller's devices: id, user agent, push service host, created, last success."""
    with session_scope() as session:
        rows = [describe(row) for row in list_subscriptions(session=session, user_id=user.id)]
    return JSONResponse({"subscriptions": rows}, headers=NO_STORE)


@router.post("/subscriptions", status_code=201,
             responses={200: {"description": "an existing device updated"},
                        422: {"description": "not a usable PushSubscription"}})
async def create_subscription(request: Request, user: CurrentUser) -> JSONResponse:
    """Save the browser's `PushSubscription.toJSON()` (plus `old_endpoint` on renewal)."""
    body = await _json(request)
    try:
        subscription = parse_subscription(
            body, allow_loopback=load_settings().push_allow_loopback,
            user_agent=request.headers.get("user-agent", ""))
    except SubscriptionError as exc:
        raise ApiError(422, "malformed", str(exc)) from None
    client = request_client(request)
    try:
        row, created = await run_in_threadpool(_save, user, subscription, client)
    except IntegrityError:  # the same new endpoint posted twice at once: the second updates
        row, created = await run_in_threadpool(_save, user, subscription, client)
    return JSONResponse({"subscription": row}, status_code=201 if created else 200,
                        headers=NO_STORE)


@router.delete("/subscriptions")
async def remove_subscription(request: Request, user: CurrentUser) -> JSONResponse:
    """`{endpoint}`: forget that device of the caller (idempotent)."""
    body = await _json(request)
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    if not isinstance(endpoint, str):
        raise ApiError(422, "malformed", "endpoint: expected the subscription's URL")
    try:
        check_endpoint(endpoint, allow_loopback=True)
    except SubscriptionError as exc:
        raise ApiError(422, "malformed", str(exc)) from None
    with session_scope() as session:
        removed = delete_subscription(session=session, user=user, endpoint=endpoint,
                                      client=request_client(request), now=datetime.now(UTC))
    return JSONResponse({"removed": removed}, headers=NO_STORE)


@router.post("/test")
async def send_test_notification(request: Request, user: CurrentUser) -> JSONResponse:
    """Send "Reminders are on" to each of the caller's devices now; per-device outcome."""
    results = await run_in_threadpool(_test, user, request_client(request))
    if not results:
        raise ApiError(404, "not_found", "no device of yours has reminders turned on")
    return JSONResponse({"results": results}, headers=NO_STORE)


def _save(user: User, subscription: Any, client: str) -> tuple[dict[str, object], bool]:
    with session_scope() as session:
        row, created = save_subscription(session=session, user=user, subscription=subscription,
                                         client=client, now=datetime.now(UTC))
        return describe(row), created


def _test(user: User, client: str) -> list[dict[str, object]]:
    settings = load_settings()
    # A person waits for this answer: one quick try per device, no long retries.
    sender = PushSender(load_vapid(settings), timeout=min(settings.push_timeout_seconds, 10.0),
                        retry=RetryPolicy(attempts=1))
    with session_scope() as session:
        return send_test(session=session, user_id=user.id, sender=sender, now=datetime.now(UTC),
                         client=client)


async def _json(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > 16_384:
        raise ApiError(422, "malformed", "body: too large for a push subscription")
    return decode_json(raw or b"null")
