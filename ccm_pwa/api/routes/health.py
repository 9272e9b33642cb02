"""GET /api/v1/health: database reachable and migrated, Redis reachable (for monitoring)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ccm_pwa.services.health import check_health

router = APIRouter(tags=["health"])


@router.get("/health")
def read_health() -> JSONResponse:
    """Database, schema and Redis state; 503 when this worker cannot serve."""
    report = check_health()
    return JSONResponse(report.as_dict(), status_code=200 if report.ok else 503,
                        headers={"Cache-Control": "no-store"})
