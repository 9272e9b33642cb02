"""GET /api/v1/candidates: patients on my caseload who are not enrolled yet."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ccm_pwa.api.deps import NO_STORE, CurrentUser, request_client
from ccm_pwa.db import session_scope
from ccm_pwa.services.candidates import candidates

router = APIRouter(prefix="/candidates", tags=["field"])


@router.get("")
def read_candidates(request: Request, user: CurrentUser) -> JSONResponse:
    """Candidates and consent-pending patients, eligible first, with the reason."""
    with session_scope() as session:
        rows = candidates(session=session, user=user, client=request_client(request))
    return JSONResponse({"patients": rows}, headers=NO_STORE)
