"""The FastAPI app: collects the routers; no logic here."""

from __future__ import annotations

from fastapi import FastAPI

from ccm_pwa.api.errors import install_error_handlers
from ccm_pwa.api.routes import (
    candidates,
    health,
    installations,
    months,
    organisation,
    patients,
    push,
    reports,
    review,
    session,
    sync,
    team,
    worklist,
)

API_PREFIX = "/api/v1"

api = FastAPI(
    title="ccm_pwa API",
    version="1",
    openapi_url=f"{API_PREFIX}/openapi.json",
    docs_url=None,  # no third-party CDN assets (design §5)
    redoc_url=None,
)
install_error_handlers(api)
api.include_router(health.router, prefix=API_PREFIX)
api.include_router(reports.router, prefix=API_PREFIX)
api.include_router(session.router, prefix=API_PREFIX)
api.include_router(worklist.router, prefix=API_PREFIX)
api.include_router(patients.router, prefix=API_PREFIX)
api.include_router(sync.router, prefix=API_PREFIX)
api.include_router(installations.router, prefix=API_PREFIX)
api.include_router(candidates.router, prefix=API_PREFIX)
api.include_router(team.router, prefix=API_PREFIX)
api.include_router(review.router, prefix=API_PREFIX)
api.include_router(months.router, prefix=API_PREFIX)
api.include_router(organisation.router, prefix=API_PREFIX)
api.include_router(push.router, prefix=API_PREFIX)
