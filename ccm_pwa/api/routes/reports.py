"""GET /api/v1/reports/billing: the month's claim lines for the practice's billing system."""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from ccm_pwa.api.errors import ApiError
from ccm_pwa.config import load_settings
from ccm_pwa.db import session_scope
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.models import AuditEvent
from ccm_pwa.services.billing_report import claim_rows, report_summary, rows_as_csv
from ccm_pwa.services.practices import PracticeError, choose_practice

router = APIRouter(prefix="/reports", tags=["reports"])
NO_STORE = {"Cache-Control": "no-store"}


def _require_report_token(authorization: str | None) -> None:
    """Until staff sign-in exists, only the billing system's configured token may read PHI.

    Without CCM_REPORTS_API_TOKEN set, the route refuses everyone: no PHI is ever served
    unauthenticated.
    """
    expected = load_settings().reports_api_token
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not expected or not given or not hmac.compare_digest(given, expected):
        raise ApiError(401, "unauthenticated", "a valid bearer token is required")


@router.get("/billing")
def read_billing_report(
    request: Request,
    month: Annotated[str, Query(description="practice-local month, YYYY-MM")],
    format: Annotated[Literal["csv", "json"], Query()] = "json",
    practice: Annotated[str | None, Query()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """One row per claim line (MRN, practitioner, code, units, minutes, diagnoses, DOS)."""
    _require_report_token(authorization)
    try:
        year_month = YearMonth.parse(month)
    except ValueError as exc:
        raise ApiError(422, "malformed", f"month: {exc}") from None
    with session_scope() as session:
        try:
            chosen = choose_practice(session=session, name=practice)
        except PracticeError as exc:
            raise ApiError(422, "malformed", f"practice: {exc}") from None
        rows = claim_rows(session=session, practice=chosen, month=year_month)
        session.add(AuditEvent(
            client=f"api {request.client.host if request.client else ''}",
            action="billing_report.export",
            detail={"month": month, "format": format, "claim_lines": len(rows)}))
    if format == "csv":
        return Response(rows_as_csv(rows), media_type="text/csv", headers={
            **NO_STORE, "Content-Disposition": f'attachment; filename="ccm-claims-{month}.csv"'})
    return JSONResponse({"month": month, "practice": chosen.name,
                         "summary": report_summary(rows),
                         "claim_lines": [vars(r) for r in rows]}, headers=NO_STORE)
