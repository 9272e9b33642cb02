"""/api/v1/sync: push the phone's queued mutations, pull what changed, discard at sign-out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ccm_pwa.api.deps import NO_STORE, CurrentUser, json_body, request_client
from ccm_pwa.api.errors import ApiError
from ccm_pwa.db import session_scope
from ccm_pwa.models import User
from ccm_pwa.services.sync_discard import Discard, discard, parse_discard
from ccm_pwa.services.sync_pull import pull
from ccm_pwa.services.sync_push import Batch, SyncError, parse_batch, push

router = APIRouter(prefix="/sync", tags=["field"])


@router.post("/push", responses={409: {"description": "sync gap: resend from last_mutation_id"},
                                 422: {"description": "malformed batch: nothing applied"}})
async def push_mutations(request: Request, user: CurrentUser) -> JSONResponse:
    """Apply `{client_id, schema_version, client_time?, mutations: [{id, name, occurred_at,
    args}]}`.

    The body is read here, after the session check, so a caller without a session learns
    nothing about the batch format; its errors name the field as `mutations[2].args.x`.
    """
    body = await json_body(request)
    try:
        batch = parse_batch(body)
        result = await run_in_threadpool(_push, user, batch)
    except SyncError as exc:
        return _refusal(exc)
    return JSONResponse(result, headers=NO_STORE)


@router.get("/pull", responses={403: {"description": "installation of another user, or revoked"}})
async def pull_changes(
    request: Request,
    user: CurrentUser,
    client_id: Annotated[str | None, Query(description="the installation's uuid")] = None,
    cursor: Annotated[str | None, Query(description="opaque, from the previous pull")] = None,
) -> JSONResponse:
    """`{cursor, reset, last_mutation_id, server_time, puts: {key: doc}, deletes: [key]}`."""
    try:
        client = uuid.UUID(client_id or "")
    except ValueError:
        raise ApiError(422, "malformed", "client_id: expected the installation's UUID") from None
    try:
        result = await run_in_threadpool(_pull, user, client, cursor, request_client(request))
    except SyncError as exc:
        return _refusal(exc)
    return JSONResponse(result, headers=NO_STORE)


@router.post("/discard", responses={403: {"description": "installation of another user"}})
async def discard_mutations(request: Request, user: CurrentUser) -> JSONResponse:
    """`{client_id, mutations: [{id, name, occurred_at, patient_id?}]}` thrown away on the
    phone at sign-out: audited, and the installation is revoked. `{"discarded": n}`."""
    body = await json_body(request)
    try:
        wanted = parse_discard(body)
        result = await run_in_threadpool(_discard, user, wanted)
    except SyncError as exc:
        return _refusal(exc)
    return JSONResponse(result, headers=NO_STORE)


def _refusal(exc: SyncError) -> JSONResponse:
    content: dict[str, Any] = {"error": exc.code, "detail": exc.detail}
    if exc.last_mutation_id is not None:
        content["last_mutation_id"] = exc.last_mutation_id
    return JSONResponse(content, status_code=exc.status, headers=NO_STORE)


# Blocking database work, off the event loop so many phones' syncs overlap.
def _push(user: User, batch: Batch) -> dict[str, Any]:
    with session_scope() as session:
        return push(session=session, user=user, batch=batch, now=datetime.now(UTC))


def _pull(user: User, client_id: uuid.UUID, cursor: str | None, client: str) -> dict[str, Any]:
    with session_scope() as session:
        return pull(session=session, user=user, client_id=client_id, cursor=cursor,
                    now=datetime.now(UTC), client=client)


def _discard(user: User, wanted: Discard) -> dict[str, int]:
    with session_scope() as session:
        return discard(session=session, user=user, request=wanted, now=datetime.now(UTC))
