"""/api/v1/organisation: every practice the caller oversees, side by side, and the total."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ccm_pwa.api.deps import NO_STORE, CurrentUser, parse_month, request_client, role_forbidden
from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.db import session_scope
from ccm_pwa.services.organisation_month import organisation_month

router = APIRouter(prefix="/organisation", tags=["supervisor"])


@router.get("/month")
def read_organisation_month(
    request: Request, user: CurrentUser,
    month: Annotated[str | None, Query(
        description="YYYY-MM in each practice's calendar (default: each one's current)")] = None,
) -> JSONResponse:
    """`{practices: [PracticeFigures], total, care_managers: [CareManagerFigures]}`
    (services/organisation_month.py); 403 for someone who oversees no practice."""
    wanted = parse_month(month)
    try:
        with session_scope() as session:
            figures = organisation_month(session=session, viewer=user, month=wanted,
                                         now=datetime.now(UTC))
            record_audit(session=session, action="organisation.month.read", user_id=user.id,
                         client=request_client(request),
                         detail={"month": month, "practices": len(figures.practices)})
    except AccessDenied:
        raise role_forbidden(user, request, "organisation.month") from None
    return JSONResponse(dataclasses.asdict(figures), headers=NO_STORE)
