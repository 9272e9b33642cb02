"""POST /api/v1/sync/push: the phone's queued mutations, applied once each and in order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ccm_pwa.api.deps import NO_STORE, CurrentUser
from ccm_pwa.api.errors import ApiError
from ccm_pwa.db import session_scope
from ccm_pwa.models import User
from ccm_pwa.services.sync_push import Batch, SyncError, parse_batch, push

router = APIRouter(prefix="/sync", tags=["field"])


@router.post("/push", responses={409: {"description": "sync gap: resend from last_mutation_id"},
                                 422: {"description": "malformed batch: nothing applied"}})
async def push_mutations(request: Request, user: CurrentUser) -> JSONResponse:
    """Apply `{client_id, schema_version, mutations: [{id, name, occurred_at, args}]}`.

    The body is read here, after the session check, so a caller without a session learns
    nothing about the batch format; its errors name the field as `mutations[2].args.x`.
    """
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(422, "malformed", "body: not valid JSON") from None
    try:
        batch = parse_batch(body)
        result = await run_in_threadpool(_push, user, batch)
    except SyncError as exc:
        content: dict[str, Any] = {"error": exc.code, "detail": exc.detail}
        if exc.last_mutation_id is not None:
            content["last_mutation_id"] = exc.last_mutation_id
        return JSONResponse(content, status_code=exc.status, headers=NO_STORE)
    return JSONResponse(result, headers=NO_STORE)


def _push(user: User, batch: Batch) -> dict[str, Any]:
    """Blocking database work, off the event loop so pushes from many phones overlap."""
    with session_scope() as session:
        return push(session=session, user=user, batch=batch, now=datetime.now(UTC))
