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
from tests.db.test_cli_exports import FORMULA_NAMES, rename_billed

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


def test_a_formula_in_a_patient_name_reaches_no_spreadsheet(api_server: ApiServer,
                                                            session: Session) -> None:
    """Names come from the EHR panel: one beginning with `=` must not run in Excel. Only the
    name cells change; codes, units, minutes, amounts and dates are what they were."""
    _load_demo(session)
    url = f"{api_server.url}/api/v1/reports/billing?month=2026-10&format=csv"
    before = list(csv.DictReader(io.StringIO(httpx.get(url, headers=AUTH).text, newline="")))
    assert before
    names = rename_billed(session, sorted({r["mrn"] for r in before}),
                          [*FORMULA_NAMES, "Lee\r=1+1"])
    response = httpx.get(url, headers=AUTH)
    after = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert len(after) == len(before)  # a CR inside a name split no row
    for old, new in zip(before, after, strict=True):
        wanted = names[new["mrn"]]
        assert new["patient_name"] == (wanted if wanted.startswith("Lee") else "'" + wanted)
        assert {k: v for k, v in new.items() if k != "patient_name"} == \
            {k: v for k, v in old.items() if k != "patient_name"}
    assert {r["patient_name"][:2] for r in after} >= {"'=", "'+", "'-", "'@", "'\t", "'\r"}
