"""GET /api/v1/worklist: the caller's enrolled patients in the order to work them today."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ccm_pwa.api.deps import NO_STORE, CurrentUser, parse_month, request_client
from ccm_pwa.db import session_scope
from ccm_pwa.services.worklist import worklist

router = APIRouter(prefix="/worklist", tags=["field"])


@router.get("")
def read_worklist(
    request: Request,
    user: CurrentUser,
    month: Annotated[str | None, Query(description="practice-local month, YYYY-MM")] = None,
) -> JSONResponse:
    """Ranked worklist with minutes, next code, status and the reasons for each rank."""
    wanted = parse_month(month)
    with session_scope() as session:
        body = worklist(session=session, user=user, month=wanted, now=datetime.now(UTC),
                        client=request_client(request))
    return JSONResponse(body, headers=NO_STORE)
