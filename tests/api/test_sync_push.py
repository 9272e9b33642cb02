"""POST /api/v1/sync/push over HTTP: once-only, in order, validated whole, rejected visibly."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session, select

from ccm_pwa.auth.sessions import create_session
from ccm_pwa.models import (
    AppliedMutation,
    AuditEvent,
    CarePlan,
    CarePlanConflict,
    Condition,
    Consent,
    EnrollmentStatus,
    Note,
    Patient,
    PatientMonth,
    PerformerKind,
    Practice,
    Role,
    SyncClient,
    Task,
    TimeEntry,
    User,
)
from ccm_pwa.services.users import create_user
from tests.api.conftest import ApiServer

CHICAGO = ZoneInfo("America/Chicago")


class World:
    """Kim (care manager) with Rosa (enrolled) and Ana (candidate); Ben with Lee; Dr. Osei."""

    def __init__(self, session: Session) -> None:
        self.session = session
        practice = Practice(name="Lakeside", timezone="America/Chicago")
        session.add(practice)
        session.flush()
        self.practice = practice

        def user(name: str, role: Role = Role.CARE_MANAGER,
                 kind: PerformerKind = PerformerKind.CLINICAL_STAFF) -> User:
            new = create_user(session=session, practice_id=practice.id,
                              email=f"{name.split()[0].lower()}@lakeside.example", name=name,
                              role=role, performer_kind=kind, credential="RN")
            new.user.must_change_password = False
            new.user.totp_enrolled_at = datetime.now(UTC)
            return new.user

        self.kim, self.ben = user("Kim Alvarez"), user("Ben Ode")
        self.doctor = user("Kwame Osei", kind=PerformerKind.BILLING_PRACTITIONER)
        session.flush()
        # The server refuses a call that would end in the future, and the tests book calls
        # at 03:00-05:59 local (`at`): "today" is the practice-local date seven hours ago,
        # so those hours are past at any time of day. (From midnight to 07:00 on the 1st it
        # is last month's last day: `month` follows it.)
        self.today = (datetime.now(UTC).astimezone(CHICAGO) - timedelta(hours=7)).date()
        self.month = f"{self.today:%Y-%m}"
        self.rosa = self._patient("R1", self.kim, EnrollmentStatus.ENROLLED)
        self.ana = self._patient("A1", self.kim, EnrollmentStatus.CANDIDATE)
        self.lee = self._patient("L1", self.ben, EnrollmentStatus.ENROLLED)
        for patient in (self.rosa, self.lee):
            session.add(Consent(patient_id=patient.id, consented_on=date(2025, 1, 6),
                                obtained_by_id=self.kim.id,
                                billing_practitioner_id=self.doctor.id,
                                disclosed_service=True, disclosed_cost_sharing=True,
                                disclosed_one_practitioner=True, disclosed_stop_anytime=True))
            session.add(CarePlan(patient_id=patient.id, established_on=date(2025, 1, 6),
                                 established_by_id=self.doctor.id))
        session.commit()
        self.cookies = {"ccm_session": create_session(session=session, user=self.kim,
                                                      now=datetime.now(UTC))}
        self.ben_cookies = {"ccm_session": create_session(session=session, user=self.ben,
                                                          now=datetime.now(UTC))}
        session.commit()

    def _patient(self, mrn: str, manager: User, status: EnrollmentStatus) -> Patient:
        patient = Patient(practice_id=self.practice.id, mrn=mrn, given_name="Given" + mrn,
                          family_name="Family" + mrn, birth_date=date(1948, 2, 1),
                          care_manager_id=manager.id, billing_practitioner_id=self.doctor.id,
                          enrollment_status=status)
        self.session.add(patient)
        self.session.flush()
        for code in ("E11.9", "I50.22"):
            self.session.add(Condition(patient_id=patient.id, icd10_code=code,
                                       description=code, onset_date=date(2020, 1, 1)))
        return patient

    def at(self, hour: int, minute: int = 0) -> str:
        """An instant early today (before the working day), in the practice's zone."""
        return datetime.combine(self.today, time(hour, minute), CHICAGO).isoformat()

    def count(self, model: type, *where: Any) -> int:
        self.session.expire_all()
        return len(self.session.exec(select(model).where(*where)).all())


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


def batch(client_id: str, *mutations: tuple[int, str, dict[str, Any]]) -> dict[str, Any]:
    return {"client_id": client_id, "schema_version": 1,
            "mutations": [{"id": i, "name": name, "occurred_at": "2026-11-23T14:00:00Z",
                           "args": args} for i, name, args in mutations]}


def record(world: World, patient: Patient, start: str, seconds: int = 1260,
           entry_id: str | None = None) -> dict[str, Any]:
    return {"entry_id": entry_id or str(uuid.uuid4()), "patient_id": str(patient.id),
            "started_at": start, "duration_seconds": seconds, "activity": "phone_call_patient",
            "note": "Called about glucose log", "source": "timer"}


def send(server: ApiServer, body: Any, cookies: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/sync/push", json=body, cookies=cookies, timeout=30)


def progress(server: ApiServer, world: World, patient: Patient) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/v1/patients/{patient.id}?month={world.month}",
                         cookies=world.cookies)
    assert response.status_code == 200
    return response.json()


def test_push_records_time_and_moves_progress(api_server: ApiServer, world: World) -> None:
    client_id = str(uuid.uuid4())
    args = record(world, world.rosa, world.at(5))
    response = send(api_server, batch(client_id, (1, "time_entry.record", args)), world.cookies)
    assert response.status_code == 200
    body = response.json()
    assert body["last_mutation_id"] == 1
    assert body["results"] == [{"id": 1, "status": "applied"}]
    assert response.headers["cache-control"] == "no-store"
    entry = world.session.get(TimeEntry, uuid.UUID(args["entry_id"]))
    assert entry is not None and entry.performer_id == world.kim.id
    assert entry.client_id == uuid.UUID(client_id) and entry.mutation_id == 1
    assert entry.occurred_at == datetime(2026, 11, 23, 14, tzinfo=UTC)
    assert entry.received_at > entry.occurred_at
    rollup = world.session.exec(select(PatientMonth).where(
        PatientMonth.patient_id == world.rosa.id, PatientMonth.month == world.month)).one()
    assert (rollup.countable_minutes, rollup.claim_codes) == (21, "99490")
    shown = progress(api_server, world, world.rosa)["progress"]
    assert (shown["minutes"], shown["codes"]) == (21, [{"code": "99490", "units": 1}])
    assert shown["status"] == "billable"
    audits = world.session.exec(select(AuditEvent).where(
        AuditEvent.action == "sync.time_entry.record")).all()
    assert [(a.user_id, a.patient_id, a.outcome) for a in audits] == [
        (world.kim.id, world.rosa.id, "applied")]


def test_performer_comes_from_the_session_not_the_args(api_server: ApiServer,
                                                       world: World) -> None:
    args = {**record(world, world.rosa, world.at(5)), "performer_id": str(world.doctor.id),
            "performer_kind": "billing_practitioner"}
    response = send(api_server, batch(str(uuid.uuid4()), (1, "time_entry.record", args)),
                    world.cookies)
    assert response.status_code == 200
    entry = world.session.get(TimeEntry, uuid.UUID(args["entry_id"]))
    assert entry is not None
    assert (entry.performer_id, entry.performer_kind) == (world.kim.id, "clinical_staff")


def test_same_batch_twice_applies_once(api_server: ApiServer, world: World) -> None:
    body = batch(str(uuid.uuid4()), (1, "time_entry.record", record(world, world.rosa,
                                                                    world.at(5))),
                 (2, "note.add", {"note_id": str(uuid.uuid4()), "patient_id": str(world.rosa.id),
                                  "body": "Daughter helps with pills"}))
    first, second = send(api_server, body, world.cookies), send(api_server, body, world.cookies)
    assert first.json()["results"] == [{"id": 1, "status": "applied"},
                                       {"id": 2, "status": "applied"}]
    assert second.status_code == 200
    assert second.json() == {**second.json(), "last_mutation_id": 2, "results": [
        {"id": 1, "status": "duplicate"}, {"id": 2, "status": "duplicate"}]}
    assert world.count(TimeEntry) == 1 and world.count(Note) == 1
    assert world.count(AppliedMutation) == 2


def test_concurrent_identical_pushes_apply_once(api_server: ApiServer, world: World) -> None:
    body = batch(str(uuid.uuid4()),
                 *[(i, "time_entry.record", record(world, world.rosa, world.at(1, 10 * i), 300))
                   for i in range(1, 4)])
    responses: list[httpx.Response] = []
    start = threading.Barrier(4)

    def push() -> None:
        start.wait()
        responses.append(send(api_server, body, world.cookies))

    threads = [threading.Thread(target=push) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in responses) == [200] * 4
    statuses = [r["status"] for response in responses for r in response.json()["results"]]
    assert statuses.count("applied") == 3 and statuses.count("duplicate") == 9
    assert world.count(TimeEntry) == 3 and world.count(AppliedMutation) == 3
    assert world.count(SyncClient) == 1
    rollup = world.session.exec(select(PatientMonth).where(
        PatientMonth.patient_id == world.rosa.id, PatientMonth.month == world.month)).one()
    assert rollup.countable_minutes == 15


def test_gap_answers_409_with_where_to_resume(api_server: ApiServer, world: World) -> None:
    client_id = str(uuid.uuid4())
    note = {"note_id": str(uuid.uuid4()), "patient_id": str(world.rosa.id), "body": "first"}
    assert send(api_server, batch(client_id, (1, "note.add", note)), world.cookies).json()[
        "last_mutation_id"] == 1
    later = {"note_id": str(uuid.uuid4()), "patient_id": str(world.rosa.id), "body": "later"}
    response = send(api_server, batch(client_id, (3, "note.add", later)), world.cookies)
    assert response.status_code == 409
    assert response.json()["error"] == "sync_gap"
    assert response.json()["last_mutation_id"] == 1
    assert "resend from 2" in response.json()["detail"]
    assert world.count(Note) == 1 and world.count(AppliedMutation) == 1


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b["mutations"][1]["args"].update(duration_seconds=0),
     "mutations[1].args.duration_seconds: "),
    (lambda b: b["mutations"][1]["args"].pop("patient_id"), "mutations[1].args.patient_id: "),
    (lambda b: b["mutations"][1].update(name="time_entry.edit"), "mutations[1].name: "),
    (lambda b: b["mutations"][1].update(id=5), "mutations[1].id: "),
    (lambda b: b["mutations"][1].update(occurred_at="2026-11-23T14:00:00"),
     "mutations[1].occurred_at: "),
    (lambda b: b.update(client_id="phone-1"), "client_id: "),
    (lambda b: b.update(schema_version=2), "schema_version: "),
])
def test_malformed_batch_names_the_field_and_applies_nothing(
        api_server: ApiServer, world: World, mutate: Any, field: str) -> None:
    body = batch(str(uuid.uuid4()),
                 (1, "note.add", {"note_id": str(uuid.uuid4()),
                                  "patient_id": str(world.rosa.id), "body": "ok"}),
                 (2, "time_entry.record", record(world, world.rosa, world.at(5))))
    mutate(body)
    response = send(api_server, body, world.cookies)
    assert response.status_code == 422
    assert response.json()["error"] == "malformed"
    assert response.json()["detail"].startswith(field)
    assert world.count(Note) == world.count(TimeEntry) == world.count(SyncClient) == 0


def test_other_caseload_is_rejected_visibly(api_server: ApiServer, world: World) -> None:
    body = batch(str(uuid.uuid4()),
                 (1, "time_entry.record", record(world, world.lee, world.at(5))),
                 (2, "note.add", {"note_id": str(uuid.uuid4()), "patient_id": str(world.lee.id),
                                  "body": "peek"}),
                 (3, "care_plan.set_element", {"patient_id": str(uuid.uuid4()),
                                               "element": "problems", "value": ["x"],
                                               "base_version": 0}))
    response = send(api_server, body, world.cookies)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * 3
    assert all(r["reason"] == "this patient is not on your caseload" for r in results)
    assert response.json()["last_mutation_id"] == 3
    assert world.count(TimeEntry) == world.count(Note) == 0
    logged = world.session.exec(select(AppliedMutation).order_by(AppliedMutation.mutation_id))
    assert [(m.outcome, m.rejection_reason) for m in logged] == [
        ("rejected", "this patient is not on your caseload")] * 3
    assert world.count(AuditEvent, AuditEvent.action.startswith("sync."),
                       AuditEvent.outcome == "rejected", AuditEvent.user_id == world.kim.id) == 3


def test_foreign_ids_are_rejected_like_unknown_ones(api_server: ApiServer,
                                                   world: World) -> None:
    """A task, entry or conflict of another caseload: the same words as an id that does not
    exist, so a rejection never tells whether someone else's record is there."""
    plan = world.session.exec(select(CarePlan).where(CarePlan.patient_id == world.lee.id)).one()
    task = Task(patient_id=world.lee.id, owner_id=world.ben.id, title="Call after discharge")
    entry = TimeEntry(patient_id=world.lee.id, performer_id=world.ben.id,
                      performer_kind=PerformerKind.CLINICAL_STAFF,
                      activity="phone_call_patient", started_at=datetime.now(UTC),
                      duration_seconds=600, occurred_at=datetime.now(UTC))
    conflict = CarePlanConflict(care_plan_id=plan.id, element="goals", base_version=0,
                                server_version=1, server_value=["a"], client_value=["b"],
                                client_author_id=world.ben.id,
                                client_occurred_at=datetime.now(UTC))
    world.session.add_all([task, entry, conflict])
    world.session.commit()
    unknown = str(uuid.uuid4())
    body = batch(str(uuid.uuid4()),
                 (1, "task.complete", {"task_id": str(task.id)}),
                 (2, "task.complete", {"task_id": unknown}),
                 (3, "time_entry.void", {"entry_id": str(entry.id), "reason": "mine"}),
                 (4, "time_entry.void", {"entry_id": unknown, "reason": "mine"}),
                 (5, "care_plan.resolve_conflict", {"conflict_id": str(conflict.id),
                                                    "keep": "mine", "server_version": 1}),
                 (6, "care_plan.resolve_conflict", {"conflict_id": unknown, "keep": "mine",
                                                    "server_version": 1}))
    response = send(api_server, body, world.cookies)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * 6
    reasons = [r["reason"] for r in results]
    assert reasons[0] == reasons[1] == "there is no such task"
    assert reasons[2] == reasons[3] == "there is no such time entry"
    assert reasons[4] == reasons[5] == "there is no such care-plan conflict"
    logged = world.session.exec(select(AppliedMutation).order_by(AppliedMutation.mutation_id))
    assert [m.patient_id for m in logged] == [None] * 6  # nothing names Lee either
    world.session.expire_all()
    assert world.session.get(Task, task.id).status == "ready"


def test_client_bound_to_another_user_is_refused(api_server: ApiServer, world: World) -> None:
    client_id = str(uuid.uuid4())
    assert send(api_server, batch(client_id), world.cookies).status_code == 200
    note = {"note_id": str(uuid.uuid4()), "patient_id": str(world.lee.id), "body": "mine"}
    response = send(api_server, batch(client_id, (1, "note.add", note)), world.ben_cookies)
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert world.count(Note) == 0
    assert world.count(AuditEvent, AuditEvent.action == "sync.push",
                       AuditEvent.user_id == world.ben.id, AuditEvent.outcome == "denied") == 1


def test_push_needs_a_session(api_server: ApiServer, world: World) -> None:
    response = send(api_server, batch(str(uuid.uuid4())), {})
    assert response.status_code == 401 and response.json()["error"] == "unauthenticated"
