"""What every field route needs first: the signed-in user from the cookie, and audited refusals."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from ccm_pwa.api.errors import ApiError
from ccm_pwa.auth.access import AccessDenied, acting_in
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.auth.sessions import resolve_session, token_from_cookie_header
from ccm_pwa.db import session_scope
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.models import Patient, User

NO_STORE = {"Cache-Control": "no-store"}


def current_user(request: Request) -> User:
    """The user behind the session cookie; 401 without one, or before account setup is done.

    A first sign-in has not yet chosen a password nor enrolled TOTP, so it must not reach
    PHI even with a valid session (the phone sends the user to setup on this 401).
    """
    token = token_from_cookie_header(request.headers.get("cookie", ""))
    with session_scope() as session:
        signed_in = resolve_session(session=session, token=token, now=datetime.now(UTC))
        if signed_in is None:
            raise ApiError(401, "unauthenticated", "not signed in")
        if signed_in.needs_setup:
            raise ApiError(401, "unauthenticated", "finish setting up your account first")
        return signed_in.user


CurrentUser = Annotated[User, Depends(current_user)]


def acting_user(
    request: Request, user: CurrentUser,
    practice: Annotated[str | None, Query(
        description="a practice id where the caller holds a role (her own without it)")] = None,
) -> User:
    """The caller as she acts in `?practice=` (`access.acting_in`): the supervisor and
    month-close routes work in one practice at a time. A practice where she holds no role
    is refused like a role she lacks (403, audited), unknown ids alike."""
    if practice is None:
        return user
    with session_scope() as session:
        try:
            return acting_in(session=session, user=user, practice_id=practice)
        except AccessDenied:
            pass
    raise role_forbidden(user, request, "practice")


ActingUser = Annotated[User, Depends(acting_user)]


def request_client(request: Request) -> str:
    """Who called, for the audit log: address and user agent (never a token)."""
    ip = request.client.host if request.client else ""
    return f"api {ip} ua={request.headers.get('user-agent', '')[:200]}"


def forbidden(user: User, request: Request, patient_id: str, action: str) -> ApiError:
    """Audit a refused patient access in its own transaction, and the 403 to raise.

    The same answer for someone else's patient and for an id that does not exist, so the
    caller cannot probe which ids are real.
    """
    try:
        wanted: uuid.UUID | None = uuid.UUID(patient_id)
    except ValueError:
        wanted = None
    with session_scope() as session:
        known = wanted is not None and session.get(Patient, wanted) is not None
        record_audit(session=session, action="access.denied", user_id=user.id,
                     patient_id=wanted if known else None, client=request_client(request),
                     outcome="denied", detail={"why": "caseload", "route": action,
                                               "patient_id": patient_id[:64]})
    return ApiError(403, "forbidden", "this patient is not on your caseload")


def parse_month(month: str | None) -> YearMonth | None:
    """A `?month=YYYY-MM` query value, or None for the practice's current month."""
    if month is None or month == "":
        return None
    try:
        return YearMonth.parse(month)
    except ValueError as exc:
        raise ApiError(422, "malformed", f"month: {exc}") from None


def role_forbidden(user: User, request: Request, action: str) -> ApiError:
    """Audit a refused supervisor/admin route in its own transaction, and the 403 to raise."""
    with session_scope() as session:
        record_audit(session=session, action="access.denied", user_id=user.id,
                     client=request_client(request), outcome="denied",
                     detail={"why": "role", "route": action})
    return ApiError(403, "forbidden", "supervisors and admins only, for their own team")


def parse_path_month(text: str) -> YearMonth:
    """A `{month}` path segment, "YYYY-MM"; 422 otherwise."""
    try:
        return YearMonth.parse(text)
    except ValueError as exc:
        raise ApiError(422, "malformed", f"month: {exc}") from None


# No request the app sends nests deeper than a care-plan change (about 6 levels); far deeper
# is a probe, and Python's parser and validators recurse (the probe's 50,000-deep body
# answered 500).
MAX_JSON_DEPTH = 32


def decode_json(raw: bytes) -> Any:
    """Strict JSON (no NaN or Infinity), at most MAX_JSON_DEPTH deep; 422 naming the body."""
    def refuse(constant: str) -> None:
        raise ValueError(constant)

    try:
        value = json.loads(raw, parse_constant=refuse)
    except RecursionError:
        raise ApiError(422, "malformed", "body: nested too deeply") from None
    except ValueError:
        raise ApiError(422, "malformed", "body: not valid JSON") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise ApiError(422, "malformed", f"body: nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    """Without recursion: the point is to measure what recursion cannot take."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                stack.extend((child, level + 1)
                             for child in (item.values() if isinstance(item, dict) else item))
    return deepest


async def json_body(request: Request) -> Any:
    """The request's JSON body (api/request_guard.py already capped its size)."""
    return decode_json(await request.body())


async def json_object(request: Request) -> dict:
    """The request's JSON object body, read after the session check; 422 otherwise."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(422, "malformed", "body: expected a JSON object")
    return body
