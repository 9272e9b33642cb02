"""Each mutation the phone pushes, applied over HTTP: time, voids, plans, tasks, enrollment."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from ccm_pwa.models import (
    AuditEvent,
    CarePlan,
    CarePlanConflict,
    CarePlanRevision,
    Consent,
    InpatientStay,
    MonthClose,
    MonthStatus,
    Patient,
    PatientMonth,
    Task,
    TaskStatus,
    TimeEntry,
    TimeEntryVoid,
)
from tests.api.conftest import ApiServer
from tests.api.test_sync_push import CHICAGO, World, batch, progress, record, send


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


def test_overlapping_own_entry_is_rejected(api_server: ApiServer, world: World) -> None:
    body = batch(str(uuid.uuid4()),
                 (1, "time_entry.record", record(world, world.rosa, world.at(5), 1800)),
                 (2, "time_entry.record", record(world, world.ana, world.at(5, 20), 600)),
                 (3, "time_entry.record", record(world, world.ana, world.at(5, 30), 600)))
    results = send(api_server, body, world.cookies).json()["results"]
    assert results[0]["status"] == "applied" and results[2]["status"] == "applied"
    assert results[1] == {"id": 2, "status": "rejected", "reason": "overlaps your entry at 05:00"}
    assert world.count(TimeEntry) == 2


def test_closed_month_rejects_late_entries(api_server: ApiServer, world: World) -> None:
    world.session.add(MonthClose(practice_id=world.practice.id, month=world.month,
                                 status=MonthStatus.CLOSED))
    world.session.commit()
    body = batch(str(uuid.uuid4()), (1, "time_entry.record",
                                     record(world, world.rosa, world.at(5))))
    (result,) = send(api_server, body, world.cookies).json()["results"]
    assert result["status"] == "rejected" and "closed" in result["reason"]


def test_void_takes_the_minutes_back(api_server: ApiServer, world: World) -> None:
    client_id = str(uuid.uuid4())
    args = record(world, world.rosa, world.at(5))
    send(api_server, batch(client_id, (1, "time_entry.record", args)), world.cookies)
    ben_try = send(api_server, batch(str(uuid.uuid4()), (1, "time_entry.void", {
        "entry_id": args["entry_id"], "reason": "not mine"})), world.ben_cookies)
    assert ben_try.json()["results"][0]["status"] == "rejected"
    response = send(api_server, batch(client_id, (2, "time_entry.void", {
        "entry_id": args["entry_id"], "reason": "Logged to the wrong patient"})), world.cookies)
    assert response.json()["results"] == [{"id": 2, "status": "applied"}]
    void = world.session.exec(select(TimeEntryVoid)).one()
    assert (void.voided_by_id, void.reason) == (world.kim.id, "Logged to the wrong patient")
    shown = progress(api_server, world, world.rosa)
    assert shown["progress"]["minutes"] == 0
    assert shown["time_entries"][0]["voided"] is True
    assert shown["progress"]["excluded"] == [
        {"id": args["entry_id"], "reason": "voided", "seconds": 1260}]


def test_care_plan_stale_version_becomes_a_conflict(api_server: ApiServer,
                                                    world: World) -> None:
    client_id, pid = str(uuid.uuid4()), str(world.rosa.id)

    def goals(i: int, value: list[str], base: int) -> tuple[int, str, dict[str, Any]]:
        return (i, "care_plan.set_element", {"patient_id": pid, "element": "measurable_goals",
                                             "value": value, "base_version": base})

    first = send(api_server, batch(client_id, goals(1, ["A1c below 8%"], 0)), world.cookies)
    assert first.json()["results"] == [{"id": 1, "status": "applied"}]
    stale = send(api_server, batch(client_id, goals(2, ["Walk daily"], 0)), world.cookies)
    (result,) = stale.json()["results"]
    assert result["status"] == "rejected" and "changed since version 0" in result["reason"]
    conflict = world.session.exec(select(CarePlanConflict)).one()
    assert (conflict.base_version, conflict.server_version) == (0, 1)
    assert (conflict.server_value, conflict.client_value) == (["A1c below 8%"], ["Walk daily"])
    assert conflict.client_author_id == world.kim.id
    assert world.count(CarePlanRevision) == 1
    element = progress(api_server, world, world.rosa)["care_plan"]["elements"][
        "measurable_goals"]
    assert (element["value"], element["version"]) == (["A1c below 8%"], 1)
    send(api_server, batch(client_id, goals(3, ["Walk daily"], 1)), world.cookies)
    history = httpx.get(f"{api_server.url}/api/v1/patients/{pid}/care-plan/history",
                        cookies=world.cookies)
    assert history.status_code == 200
    assert [(r["version"], r["value"]) for r in history.json()["revisions"]] == [
        (2, ["Walk daily"]), (1, ["A1c below 8%"])]


def test_notes_tasks_and_plan_details(api_server: ApiServer, world: World) -> None:
    task = Task(patient_id=world.rosa.id, owner_id=world.kim.id, title="Check BP log",
                due_at=datetime.now(UTC) - timedelta(days=1))
    world.session.add(task)
    world.session.commit()
    pid = str(world.rosa.id)
    body = batch(str(uuid.uuid4()),
                 (1, "task.complete", {"task_id": str(task.id)}),
                 (2, "care_plan.set_details", {"patient_id": pid, "copy_given_on": "2026-11-02",
                                               "copy_given_method": "portal"}),
                 (3, "care_plan.review", {"patient_id": pid,
                                          "reviewed_on": world.today.isoformat()}),
                 (4, "care_plan.review", {"patient_id": pid, "reviewed_on": "2099-01-01"}))
    results = send(api_server, body, world.cookies).json()["results"]
    assert [r["status"] for r in results] == ["applied"] * 3 + ["rejected"]
    world.session.expire_all()
    assert world.session.get(Task, task.id).status == TaskStatus.COMPLETED
    plan = world.session.exec(select(CarePlan).where(CarePlan.patient_id == world.rosa.id)).one()
    assert (plan.copy_given_on, plan.copy_given_method) == (date(2026, 11, 2), "portal")
    assert plan.next_review_on is None and plan.last_reviewed_on == world.today
    shown = progress(api_server, world, world.rosa)
    assert shown["tasks"] == []
    assert shown["care_plan"]["last_reviewed_on"] == world.today.isoformat()


def enroll_args(world: World, **consent: Any) -> dict[str, Any]:
    given = {"date": world.today.isoformat(), "method": "verbal", "disclosed_service": True,
             "disclosed_cost_sharing": True, "disclosed_one_practitioner": True,
             "disclosed_stop_anytime": True, **consent}
    return {"patient_id": str(world.ana.id), "program": "ccm",
            "billing_practitioner_id": str(world.doctor.id), "consent": given}


def test_enroll_refuses_a_missing_disclosure(api_server: ApiServer, world: World) -> None:
    body = batch(str(uuid.uuid4()),
                 (1, "patient.enroll", enroll_args(world, disclosed_cost_sharing=False)),
                 (2, "patient.enroll", enroll_args(world, date="2099-01-01")),
                 (3, "patient.enroll", {**enroll_args(world),
                                        "billing_practitioner_id": str(world.ben.id)}))
    results = send(api_server, body, world.cookies).json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * 3
    assert "cost sharing" in results[0]["reason"]
    assert "future" in results[1]["reason"]
    assert "billing practitioner" in results[2]["reason"]
    assert world.count(Consent, Consent.patient_id == world.ana.id) == 0
    world.session.expire_all()
    assert world.session.get(Patient, world.ana.id).enrollment_status == "candidate"


def test_enroll_then_unenroll(api_server: ApiServer, world: World) -> None:
    client_id = str(uuid.uuid4())
    send(api_server, batch(client_id, (1, "time_entry.record",
                                       record(world, world.ana, world.at(5)))), world.cookies)
    enrolled = send(api_server, batch(client_id, (2, "patient.enroll", enroll_args(world))),
                    world.cookies)
    assert enrolled.json()["results"] == [{"id": 2, "status": "applied"}]
    consent = world.session.exec(select(Consent).where(Consent.patient_id == world.ana.id)).one()
    assert (consent.obtained_by_id, consent.billing_practitioner_id) == (world.kim.id,
                                                                        world.doctor.id)
    assert (consent.consented_on, consent.method) == (world.today, "verbal")
    detail = progress(api_server, world, world.ana)
    assert detail["patient"]["enrollment_status"] == "enrolled"
    assert detail["eligibility"] == {"eligible": True, "program": "ccm",
                                     "reason": "2 chronic conditions"}
    assert detail["consent"]["obtained_by"] == "Kim Alvarez (RN)"
    worklist = httpx.get(f"{api_server.url}/api/v1/worklist", cookies=world.cookies).json()
    assert str(world.ana.id) in {p["id"] for p in worklist["patients"]}

    def rollup() -> tuple[int, str, bool]:
        world.session.expire_all()
        row = world.session.exec(select(PatientMonth).where(
            PatientMonth.patient_id == world.ana.id, PatientMonth.month == world.month)).one()
        return row.countable_minutes, row.claim_codes, row.billable

    assert rollup() == (21, "", False)  # no care plan yet: time counts, nothing bills
    before = rollup()
    asked_on = datetime.now(CHICAGO).date()
    left = send(api_server, batch(client_id, (3, "patient.unenroll",
                                              {"patient_id": str(world.ana.id),
                                               "reason": "Moving to Florida"})), world.cookies)
    answered_on = datetime.now(CHICAGO).date()
    assert left.json()["results"] == [{"id": 3, "status": "applied"}]
    world.session.expire_all()
    ana = world.session.get(Patient, world.ana.id)
    assert (ana.enrollment_status, ana.enrollment_reason) == ("disenrolled", "Moving to Florida")
    # revoked on the practice-local day the server took it (not `world.today`, which
    # lags by seven hours so that `world.at` stays in the past)
    assert world.session.get(Consent, consent.id).revoked_on in {asked_on, answered_on}
    assert rollup() == before  # effective at the end of the month
    again = send(api_server, batch(client_id, (4, "patient.unenroll",
                                               {"patient_id": str(world.ana.id),
                                                "reason": "twice"})), world.cookies)
    assert again.json()["results"][0]["status"] == "rejected"
    actions = {a.action for a in world.session.exec(select(AuditEvent).where(
        AuditEvent.patient_id == world.ana.id, AuditEvent.user_id == world.kim.id))}
    assert {"sync.patient.enroll", "sync.patient.unenroll", "patient.read",
            "worklist.read"} <= actions


def test_discharge_without_a_call_tops_the_worklist(api_server: ApiServer, world: World) -> None:
    discharged = datetime.now(UTC) - timedelta(days=3)
    world.session.add(InpatientStay(patient_id=world.rosa.id, admitted_at=discharged
                                    - timedelta(days=2), discharged_at=discharged))
    world.session.add(Task(patient_id=world.rosa.id, title="Transition call",
                           kind="transition_follow_up", due_at=datetime.now(UTC)
                           - timedelta(days=1)))
    world.session.commit()

    def first_row() -> dict[str, Any]:
        rows = httpx.get(f"{api_server.url}/api/v1/worklist", cookies=world.cookies).json()[
            "patients"]
        assert {r["id"] for r in rows} == {str(world.rosa.id)}  # Ana is only a candidate
        return rows[0]

    row = first_row()
    day = discharged.astimezone(CHICAGO).date().isoformat()
    assert row["recent_discharge"] == day
    assert row["why"][:1] == [f"discharged {day}, no call since"]
    assert (row["overdue_tasks"], row["tasks_due"]) == (1, 1)
    call = {**record(world, world.rosa, datetime.now(UTC).isoformat(), 300),
            "activity": "transition_follow_up"}
    send(api_server, batch(str(uuid.uuid4()), (1, "time_entry.record", call)), world.cookies)
    row = first_row()
    assert not any("no call since" in why for why in row["why"])
    assert row["contacted_this_month"] is True and row["minutes"] == 5
