"""The phone's reads over HTTP: worklist and patient record, caseload-checked, audited, and
agreeing with the rollups and the billing evaluation."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session, select

from ccm_pwa.auth.sessions import create_session
from ccm_pwa.domain.billing import evaluate_month
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.domain.progress import ProgressStatus
from ccm_pwa.domain.worklist import WorklistInput, rank_worklist
from ccm_pwa.models import AuditEvent, EnrollmentStatus, Patient, PatientMonth, Practice, User
from ccm_pwa.services.billing_cases import load_month_inputs
from ccm_pwa.services.demo_practice import create_demo_practice
from ccm_pwa.services.rollups import claim_codes_text
from tests.api.conftest import ApiServer

CHICAGO = ZoneInfo("America/Chicago")


class Demo:
    """The demo practice built for today, with a signed-in care manager and supervisor."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.today = datetime.now(UTC).astimezone(CHICAGO).date()
        self.month = YearMonth.of(self.today)
        result = create_demo_practice(session=session, patients=40, care_managers=2, seed=11,
                                      today=self.today)
        session.commit()
        self.practice = session.get(Practice, result.practice_id)
        users = {u.name: u for u in session.exec(select(User))}
        self.kim, self.dana = users["Kim Alvarez"], users["Dana Brooks"]
        self.supervisor = users["Renee Walsh"]
        self.cookies = self._cookies(self.kim)

    def _cookies(self, user: User) -> dict[str, str]:
        token = create_session(session=self.session, user=user, now=datetime.now(UTC))
        self.session.commit()
        return {"ccm_session": token}

    def patients_of(self, manager: User, enrolled: bool = True) -> list[Patient]:
        query = select(Patient).where(Patient.care_manager_id == manager.id)
        if enrolled:
            query = query.where(Patient.enrollment_status == EnrollmentStatus.ENROLLED)
        return list(self.session.exec(query))


@pytest.fixture
def demo(session: Session) -> Demo:
    return Demo(session)


def get(server: ApiServer, path: str, cookies: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1{path}", cookies=cookies, timeout=30)


def test_field_routes_need_a_finished_session(api_server: ApiServer, demo: Demo) -> None:
    patient = demo.patients_of(demo.kim)[0]
    paths = ["/worklist", f"/patients/{patient.id}", f"/patients/{patient.id}/care-plan/history"]
    demo.dana.must_change_password = True
    demo.session.add(demo.dana)
    demo.session.commit()
    newcomer = demo._cookies(demo.dana)
    for path in paths:
        for cookies in ({}, {"ccm_session": "forged"}, newcomer):
            response = get(api_server, path, cookies)
            assert response.status_code == 401, (path, cookies)
            assert response.json()["error"] == "unauthenticated"


def test_worklist_is_the_callers_enrolled_patients_in_rank_order(api_server: ApiServer,
                                                                  demo: Demo) -> None:
    response = get(api_server, "/worklist", demo.cookies)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["month"] == str(demo.month) and body["today"] == demo.today.isoformat()
    assert body["days_in_month"] == demo.month.days
    assert body["days_left"] == demo.month.days - demo.today.day + 1
    rows = body["patients"]
    assert {r["id"] for r in rows} == {str(p.id) for p in demo.patients_of(demo.kim)}
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    rebuilt = [WorklistInput(
        patient_id=r["id"], name=r["name"], status=ProgressStatus(r["status"]),
        minutes=r["minutes"], next_code=r["next_code"], minutes_to_next=r["minutes_to_next"],
        days_left=body["days_left"], days_in_month=body["days_in_month"],
        overdue_tasks=r["overdue_tasks"], tasks_due_today=r["tasks_due"] - r["overdue_tasks"],
        recent_discharge=date.fromisoformat(r["recent_discharge"])
        if r["recent_discharge"] else None,
        contacted_since_discharge=not any("no call since" in w for w in r["why"]),
        contacted_this_month=r["contacted_this_month"],
        blocking_reasons=tuple(r["blocking_reasons"])) for r in reversed(rows)]
    expected = rank_worklist(rebuilt)
    assert [r["id"] for r in rows] == [e.item.patient_id for e in expected]
    assert [r["why"] for r in rows] == [list(e.why) for e in expected]
    statuses = [r["status"] for r in rows]
    needing = [i for i, s in enumerate(statuses) if s in ("at_risk", "on_track")]
    done = [i for i, s in enumerate(statuses)
            if s == "billable" and not any("no call since" in w for w in rows[i]["why"])]
    assert not needing or not done or max(needing) < min(done)
    audited = {a.patient_id for a in demo.session.exec(select(AuditEvent).where(
        AuditEvent.action == "worklist.read", AuditEvent.user_id == demo.kim.id))}
    assert audited == {uuid.UUID(r["id"]) for r in rows}


def test_worklist_numbers_agree_with_rollups(api_server: ApiServer, demo: Demo) -> None:
    rows = get(api_server, f"/worklist?month={demo.month}", demo.cookies).json()["patients"]
    rollups = {r.patient_id: r for r in demo.session.exec(select(PatientMonth).where(
        PatientMonth.month == str(demo.month)))}
    inputs = {i.patient.id: i for i in load_month_inputs(
        session=demo.session, practice=demo.practice, month=demo.month)}
    for row in rows:
        patient_id = uuid.UUID(row["id"])
        evaluation = evaluate_month(inputs[patient_id].case)
        rollup = rollups.get(patient_id)
        assert row["codes"] == claim_codes_text(evaluation) == (rollup.claim_codes if rollup
                                                                else "")
        assert (row["status"] == "billable") == evaluation.billable
        if evaluation.shown.lane.key in ("ccm_staff", "pcm_staff", "ccm_complex"):
            assert row["minutes"] == (rollup.countable_minutes if rollup else 0)
        assert row["contacted_this_month"] == bool(rollup and rollup.last_contact_at)


def test_supervisor_sees_the_team(api_server: ApiServer, demo: Demo) -> None:
    rows = get(api_server, "/worklist", demo._cookies(demo.supervisor)).json()["patients"]
    team = demo.patients_of(demo.kim) + demo.patients_of(demo.dana)
    assert {r["id"] for r in rows} == {str(p.id) for p in team}


def test_patient_record_agrees_with_the_evaluation(api_server: ApiServer, demo: Demo) -> None:
    inputs = {i.patient.id: i for i in load_month_inputs(
        session=demo.session, practice=demo.practice, month=demo.month)}
    previous = {i.patient.id: i for i in load_month_inputs(
        session=demo.session, practice=demo.practice, month=demo.month.preceding())}
    checked = 0
    for patient in demo.patients_of(demo.kim):
        response = get(api_server, f"/patients/{patient.id}", demo.cookies)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        item = inputs[patient.id]
        evaluation = evaluate_month(item.case)
        codes = [{"code": line.code, "units": line.units} for line in evaluation.claim_lines]
        assert body["progress"]["codes"] == codes
        assert body["progress"]["month"] == str(demo.month)
        assert {e["id"] for e in body["time_entries"]} == {str(e.id) for e in item.entries}
        assert {e["id"] for e in body["time_entries"] if e["voided"]} == {
            str(e.id) for e in item.entries if e.id in item.voided}
        last = evaluate_month(previous[patient.id].case)
        assert body["last_month"] == {"month": str(demo.month.preceding()),
                                      "minutes": last.time.countable_seconds // 60,
                                      "codes": claim_codes_text(last),
                                      "billable": last.billable}
        assert body["patient"]["mrn"] == patient.mrn
        assert body["patient"]["care_manager"] == "Kim Alvarez (RN)"
        assert body["eligibility"]["eligible"] == (
            len(item.case.patient.distinct_conditions) >= (1 if patient.program == "pcm" else 2))
        assert (body["consent"] is None) == (item.consent is None)
        if body["care_plan"] is not None:
            assert set(body["care_plan"]["elements"]) == {
                "problems", "expected_outcome", "measurable_goals", "symptom_management",
                "interventions", "medication_management", "community_services",
                "coordination", "review_schedule"}
        checked += 1
    assert checked
    reads = demo.session.exec(select(AuditEvent).where(AuditEvent.action == "patient.read"))
    assert len(list(reads)) == checked


def test_patient_record_of_a_past_month(api_server: ApiServer, demo: Demo) -> None:
    patient = demo.patients_of(demo.kim)[0]
    earlier = demo.month.preceding()
    body = get(api_server, f"/patients/{patient.id}?month={earlier}", demo.cookies).json()
    assert body["progress"]["month"] == str(earlier)
    assert body["progress"]["days_left"] == 0
    assert body["progress"]["status"] in ("billable", "missed", "blocked")
    assert body["last_month"]["month"] == str(earlier.preceding())


def test_other_caseload_is_forbidden_on_every_patient_route(api_server: ApiServer,
                                                            demo: Demo) -> None:
    foreign = demo.patients_of(demo.dana, enrolled=False)[0]
    for target in (str(foreign.id), str(uuid.uuid4()), "not-a-uuid"):
        for path in (f"/patients/{target}", f"/patients/{target}/care-plan/history"):
            response = get(api_server, path, demo.cookies)
            assert response.status_code == 403, path
            assert response.json()["error"] == "forbidden"
            assert foreign.mrn not in response.text
    denials = list(demo.session.exec(select(AuditEvent).where(
        AuditEvent.action == "access.denied", AuditEvent.user_id == demo.kim.id)))
    assert len(denials) == 6
    assert sum(d.patient_id == foreign.id for d in denials) == 2
    rows = get(api_server, "/worklist", demo.cookies).json()["patients"]
    assert str(foreign.id) not in {r["id"] for r in rows}


def test_bad_month_is_a_named_422(api_server: ApiServer, demo: Demo) -> None:
    patient = demo.patients_of(demo.kim)[0]
    for path in ("/worklist?month=2026-13", f"/patients/{patient.id}?month=11-2026"):
        response = get(api_server, path, demo.cookies)
        assert response.status_code == 422
        assert response.json()["error"] == "malformed"
        assert response.json()["detail"].startswith("month:")


def test_openapi_lists_the_field_routes(api_server: ApiServer) -> None:
    paths = httpx.get(f"{api_server.url}/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/worklist", "/api/v1/patients/{patient_id}",
            "/api/v1/patients/{patient_id}/care-plan/history", "/api/v1/sync/push"} <= set(paths)
