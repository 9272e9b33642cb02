"""GET /api/v1/reports/billing over HTTP: token required, CSV and JSON, errors as JSON."""

from __future__ import annotations

import csv
import io
from datetime import date

import httpx
from sqlmodel import Session, select

from ccm_pwa.models import AuditEvent
from ccm_pwa.services.demo_practice import create_demo_practice
from tests.api.conftest import REPORT_TOKEN, ApiServer

AUTH = {"Authorization": f"Bearer {REPORT_TOKEN}"}


def _load_demo(session: Session) -> None:
    create_demo_practice(session=session, patients=40, care_managers=2, seed=3,
                         today=date(2026, 11, 23))
    session.commit()


def test_report_requires_the_token(api_server: ApiServer, session: Session) -> None:
    _load_demo(session)
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = httpx.get(f"{api_server.url}/api/v1/reports/billing?month=2026-10",
                             headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": "unauthenticated",
                                   "detail": "a valid bearer token is required"}


def test_report_as_json_and_csv(api_server: ApiServer, session: Session) -> None:
    _load_demo(session)
    response = httpx.get(f"{api_server.url}/api/v1/reports/billing?month=2026-10", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["summary"]["claim_lines"] == len(body["claim_lines"]) > 0
    as_csv = httpx.get(f"{api_server.url}/api/v1/reports/billing?month=2026-10&format=csv",
                       headers=AUTH)
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["code"] for r in rows] == [r["code"] for r in body["claim_lines"]]
    exports = session.exec(select(AuditEvent).where(
        AuditEvent.action == "billing_report.export")).all()
    assert len(exports) == 2


def test_bad_month_is_a_named_422(api_server: ApiServer, session: Session) -> None:
    _load_demo(session)
    response = httpx.get(f"{api_server.url}/api/v1/reports/billing?month=2026-13", headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"] == "malformed"
    assert response.json()["detail"].startswith("month:")
    missing = httpx.get(f"{api_server.url}/api/v1/reports/billing", headers=AUTH)
    assert missing.status_code == 422
    assert "month" in missing.json()["detail"]


def test_openapi_lists_the_routes(api_server: ApiServer) -> None:
    spec = httpx.get(f"{api_server.url}/api/v1/openapi.json").json()
    assert "/api/v1/reports/billing" in spec["paths"]
    assert "/api/v1/health" in spec["paths"]
