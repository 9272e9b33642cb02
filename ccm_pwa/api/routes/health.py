"""GET /api/v1/health: is the database reachable and migrated (for monitoring)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ccm_pwa.services.health import check_health

router = APIRouter(tags=["health"])


@router.get("/health")
def read_health() -> JSONResponse:
    """Report database reachability and schema revision; 503 when not ready."""
    report = check_health()
    return JSONResponse(report.as_dict(), status_code=200 if report.ok else 503,
                        headers={"Cache-Control": "no-store"})
