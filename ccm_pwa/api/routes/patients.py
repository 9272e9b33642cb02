"""GET /api/v1/patients/{id}: one patient's record and care-plan history, caseload-checked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ccm_pwa.api.deps import NO_STORE, CurrentUser, forbidden, parse_month, request_client
from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.db import session_scope
from ccm_pwa.services.patient_record import read_care_plan_history, read_patient_record

router = APIRouter(prefix="/patients", tags=["field"])


@router.get("/{patient_id}")
def read_patient(
    request: Request,
    user: CurrentUser,
    patient_id: str,  # any text: an id that is not a UUID is refused like a foreign one
    month: Annotated[str | None, Query(description="practice-local month, YYYY-MM")] = None,
) -> JSONResponse:
    """Demographics, eligibility, consent, month progress, time, notes, tasks, care plan."""
    wanted = parse_month(month)
    try:
        with session_scope() as session:
            body = read_patient_record(session=session, user=user, patient_id=patient_id,
                                       month=wanted, now=datetime.now(UTC),
                                       client=request_client(request))
    except AccessDenied:
        raise forbidden(user, request, patient_id, "patients.read") from None
    return JSONResponse(body, headers=NO_STORE)


@router.get("/{patient_id}/care-plan/history")
def read_care_plan_revisions(request: Request, user: CurrentUser,
                             patient_id: str) -> JSONResponse:
    """Every version of every care-plan element, newest first."""
    try:
        with session_scope() as session:
            body = read_care_plan_history(session=session, user=user, patient_id=patient_id,
                                          now=datetime.now(UTC), client=request_client(request))
    except AccessDenied:
        raise forbidden(user, request, patient_id, "patients.care_plan_history") from None
    return JSONResponse(body, headers=NO_STORE)
