"""/api/v1/review: the supervisor's review queue and its accept / void decisions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ccm_pwa.api.deps import (
    NO_STORE,
    ActingUser,
    json_object,
    parse_month,
    request_client,
    role_forbidden,
)
from ccm_pwa.api.errors import ApiError
from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.db import session_scope
from ccm_pwa.models import User
from ccm_pwa.services.review_queue import ReviewError, decide, review_queue

router = APIRouter(prefix="/review", tags=["supervisor"])


@router.get("/queue")
def read_review_queue(
    request: Request, user: ActingUser,
    month: Annotated[str | None, Query(description="one month; default this and last")] = None,
) -> JSONResponse:
    """Flagged entries, rejected sync mutations and open conflicts (ReviewItem)."""
    wanted = parse_month(month)
    try:
        with session_scope() as session:
            items = review_queue(session=session, viewer=user, now=datetime.now(UTC),
                                 months=[wanted] if wanted else None,
                                 client=request_client(request))
    except AccessDenied:
        raise role_forbidden(user, request, "review.queue") from None
    return JSONResponse({"items": [dataclasses.asdict(i) for i in items]}, headers=NO_STORE)


@router.post("/{entry_id}", responses={409: {"description": "decided already, or month closed"}})
async def decide_entry(request: Request, user: ActingUser, entry_id: str) -> JSONResponse:
    """`{decision: "accept" | "void", reason}`; a void needs a reason."""
    body = await json_object(request)
    decision, reason = body.get("decision"), body.get("reason", "")
    if decision not in ("accept", "void"):
        raise ApiError(422, "malformed", "decision: must be accept or void")
    if not isinstance(reason, str) or (decision == "void" and not reason.strip()):
        raise ApiError(422, "malformed", "reason: a void needs a reason")
    return await run_in_threadpool(_decide, request, user, entry_id, decision, reason)


def _decide(request: Request, user: User, entry_id: str, decision: str,
            reason: str) -> JSONResponse:
    try:
        with session_scope() as session:
            review = decide(session=session, viewer=user, entry_id=entry_id,
                            decision=decision, reason=reason, now=datetime.now(UTC),
                            client=request_client(request))
            answer = {"entry_id": str(review.time_entry_id), "decision": review.decision,
                      "reason": review.reason, "decided_at": review.decided_at.isoformat()}
    except AccessDenied:
        raise role_forbidden(user, request, "review.decide") from None
    except ReviewError as exc:
        raise ApiError(409, "refused", str(exc)) from None
    return JSONResponse(answer, headers=NO_STORE)
