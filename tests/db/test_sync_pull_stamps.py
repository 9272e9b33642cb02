"""The pull's change stamps (services/sync_pull.py): an unchanged pull builds nothing, a
changed one builds only what moved, and time alone (a task falling due, a new day) still
reaches the phone. Both backends; the pull service is called directly with its own session,
as the route does."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.db import get_engine
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.models import (
    Activity,
    AuditEvent,
    CarePlanElement,
    Consent,
    EnrollmentStatus,
    Patient,
    Practice,
    Role,
    SyncClient,
    SyncClientView,
    Task,
    User,
)
from ccm_pwa.services import billing_cases, care_plans, sync_pull, worklist
from ccm_pwa.services.caseload_admin import assign_patients
from ccm_pwa.services.enrollment import ConsentGiven, enroll, unenroll
from ccm_pwa.services.practice_settings import update_practice_settings
from ccm_pwa.services.sync_push import parse_batch, push
from ccm_pwa.services.time_entries import record_time_entry
from ccm_pwa.services.users import create_user
from tests.api.test_sync_push import CHICAGO, World, batch, record
from tests.support.statements import statements_sent


class Phone:
    """One installation: pulls with its own session and keeps its cursor."""

    def __init__(self, db_url: str, user: User) -> None:
        self.db_url, self.user, self.client_id = db_url, user, uuid.uuid4()
        self.cursor: str | None = None
        self.statements, self.sent = 0, []
        self.records_built: list[uuid.UUID] = []

    def pull(self, now: datetime) -> dict[str, Any]:
        engine = get_engine(self.db_url)
        with Session(engine) as session:  # the route signs in with a session of its own
            user = session.get(User, self.user.id)
            assert user is not None
            session.expunge(user)
        with Session(engine) as session, statements_sent(engine) as count:
            body = sync_pull.pull(session=session, user=user, client_id=self.client_id,
                                  cursor=self.cursor, now=now)
        self.statements, self.sent = len(count), list(count)
        self.cursor = body["cursor"]
        return body


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[uuid.UUID]:
    """The patients whose records the pulls built, in order."""
    seen: list[uuid.UUID] = []
    real = sync_pull.patient_records

    def spy(**kwargs: Any) -> Any:
        seen.extend(p.id for p in kwargs["patients"])
        return real(**kwargs)

    monkeypatch.setattr(sync_pull, "patient_records", spy)
    return seen


def noon(world: World, days: int = 0) -> datetime:
    """Noon (practice time) on the world's working day, `days` later."""
    return datetime.combine(world.today + timedelta(days=days), datetime.min.time(),
                            CHICAGO).replace(hour=12)


def more_patients(world: World, count: int) -> list[Patient]:
    patients = []
    for n in range(count):
        patient = world._patient(f"X{n}", world.kim, EnrollmentStatus.ENROLLED)
        world.session.add(Consent(patient_id=patient.id, consented_on=date(2025, 1, 6),
                                  obtained_by_id=world.kim.id,
                                  billing_practitioner_id=world.doctor.id,
                                  disclosed_service=True, disclosed_cost_sharing=True,
                                  disclosed_one_practitioner=True, disclosed_stop_anytime=True))
        patients.append(patient)
    world.session.commit()
    return patients


CALL = Activity.PHONE_CALL_PATIENT


def key(patient: Patient) -> str:
    return f"patient/{patient.id}"


def test_an_unchanged_pull_costs_the_same_whatever_the_caseload(
        db_url: str, world: World) -> None:
    small = Phone(db_url, world.kim)
    small.pull(noon(world))
    small.pull(noon(world) + timedelta(minutes=1))
    with_two = small.statements
    more_patients(world, 20)
    big = Phone(db_url, world.kim)
    first = big.pull(noon(world))
    assert len([k for k in first["puts"] if k.startswith("patient/")]) == 21
    again = big.pull(noon(world) + timedelta(minutes=1))
    assert (again["puts"], again["deletes"], again["cursor"]) == ({}, [], first["cursor"])
    assert big.statements == with_two
    assert big.statements < first_statements(db_url, world) / 3


def _spy_on_worklist(monkeypatch: pytest.MonkeyPatch) -> list[list[uuid.UUID]]:
    """The patients each worklist build evaluated (the rest were reused rows)."""
    seen: list[list[uuid.UUID]] = []
    real = worklist._evaluate

    def spy(session: Session, practice: Practice, month: Any, ids: list[uuid.UUID],
            *rest: Any) -> Any:
        seen.append(list(ids))
        return real(session, practice, month, ids, *rest)

    monkeypatch.setattr(worklist, "_evaluate", spy)
    return seen


def first_statements_body(db_url: str, world: World) -> dict[str, Any]:
    """What a fresh phone gets now: the reference a reused worklist must equal."""
    return Phone(db_url, world.kim).pull(noon(world) + timedelta(minutes=1))


def first_statements(db_url: str, world: World) -> int:
    phone = Phone(db_url, world.kim)
    phone.pull(noon(world))
    return phone.statements


def test_a_change_rebuilds_the_lists_and_only_that_patients_record(
        db_url: str, world: World, built: list[uuid.UUID],
        monkeypatch: pytest.MonkeyPatch) -> None:
    others = more_patients(world, 5)
    phone = Phone(db_url, world.kim)
    phone.pull(noon(world))
    built.clear()
    record_time_entry(session=world.session, patient_id=others[2].id, performer=world.kim,
                      started_at=datetime.fromisoformat(world.at(4)), duration_seconds=600,
                      activity=CALL, now=noon(world))
    world.session.commit()
    evaluated = _spy_on_worklist(monkeypatch)
    body = phone.pull(noon(world) + timedelta(minutes=1))
    assert built == [others[2].id]
    assert evaluated == [[others[2].id]]  # the worklist re-evaluated her row only
    assert set(body["puts"]) == {"worklist", key(others[2])}
    assert body["puts"]["worklist"] == first_statements_body(db_url, world)["puts"]["worklist"]
    assert body["puts"][key(others[2])]["progress"]["minutes"] == 10
    built.clear()
    assert phone.pull(noon(world) + timedelta(minutes=2))["puts"] == {}
    assert built == []  # the unchanged pull built nothing


def test_a_changed_pull_reads_each_patients_cases_once(
        db_url: str, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Her worklist row and her record are built from one read of her billing cases."""
    others = more_patients(world, 3)
    phone = Phone(db_url, world.kim)
    phone.pull(noon(world))
    record_time_entry(session=world.session, patient_id=others[1].id, performer=world.kim,
                      started_at=datetime.fromisoformat(world.at(4)), duration_seconds=600,
                      activity=CALL, now=noon(world))
    world.session.commit()
    reads: list[list[uuid.UUID]] = []
    real = billing_cases.load_inputs

    def spy(**kwargs: Any) -> Any:
        reads.append(list(kwargs["patient_ids"]))
        return real(**kwargs)

    monkeypatch.setattr(billing_cases, "load_inputs", spy)
    body = phone.pull(noon(world) + timedelta(minutes=1))
    assert reads == [[others[1].id]]
    assert body["puts"][key(others[1])]["progress"]["minutes"] == 10
    assert body["puts"][key(others[1])]["last_month"]["month"] == str(
        YearMonth.of(world.today).preceding())


def test_the_candidates_are_rebuilt_only_when_a_patient_may_join_or_leave_them(
        db_url: str, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[int] = []
    real = sync_pull.candidate_rows

    def spy(**kwargs: Any) -> Any:
        rows = real(**kwargs)
        builds.append(len(rows))
        return rows

    monkeypatch.setattr(sync_pull, "candidate_rows", spy)
    phone = Phone(db_url, world.kim)
    first = phone.pull(noon(world))
    assert [r["name"] for r in first["puts"]["candidates"]["patients"]] == ["GivenA1 FamilyA1"]
    record_time_entry(session=world.session, patient_id=world.rosa.id, performer=world.kim,
                      started_at=datetime.fromisoformat(world.at(4)), duration_seconds=600,
                      activity=CALL, now=noon(world))
    world.session.commit()
    builds.clear()
    body = phone.pull(noon(world) + timedelta(minutes=1))
    assert builds == []  # Rosa was enrolled and still is: the list cannot have changed
    assert set(body["puts"]) == {"worklist", key(world.rosa)}

    enroll(session=world.session, user=world.kim, patient=world.ana, program="ccm",
           billing_practitioner_id=world.doctor.id,
           consent=ConsentGiven(date=world.today, method="verbal", disclosed_service=True,
                                disclosed_cost_sharing=True, disclosed_one_practitioner=True,
                                disclosed_stop_anytime=True), now=noon(world))
    world.session.commit()
    body = phone.pull(noon(world) + timedelta(minutes=2))
    assert builds == [0]  # Ana left the candidates for the worklist
    assert body["puts"]["candidates"] == {"patients": []}
    assert key(world.ana) in body["puts"]
    assert "GivenA1 FamilyA1" in [r["name"] for r in body["puts"]["worklist"]["patients"]]

    unenroll(session=world.session, user=world.kim, patient=world.rosa, reason="moved away",
             now=noon(world))
    world.session.commit()
    body = phone.pull(noon(world) + timedelta(minutes=3))
    assert builds == [0, 0]  # Rosa left the worklist: rebuilt (disenrolled is no candidate)
    assert key(world.rosa) in body["deletes"]
    again = phone.pull(noon(world) + timedelta(minutes=4))
    assert (again["puts"], again["deletes"], again["cursor"]) == ({}, [], body["cursor"])


def test_after_its_own_push_a_phone_gets_only_what_the_push_changed(
        db_url: str, world: World, built: list[uuid.UUID]) -> None:
    """The usual rhythm, push then pull: the push moves the client's last mutation id and
    adds a rejection, neither of which may make the pull rebuild every record."""
    others = more_patients(world, 5)
    phone = Phone(db_url, world.kim)
    phone.pull(noon(world))
    built.clear()
    body = batch(str(phone.client_id),
                 (1, "time_entry.record", record(world, others[3], world.at(4))),
                 (2, "time_entry.record", record(world, world.lee, world.at(5))))
    with Session(get_engine(db_url)) as session:
        kim = session.get(User, world.kim.id)
        assert kim is not None
        results = push(session=session, user=kim, batch=parse_batch(body),
                       now=noon(world))["results"]
    assert [r["status"] for r in results] == ["applied", "rejected"]  # Lee is Ben's
    pulled = phone.pull(noon(world) + timedelta(minutes=1))
    assert pulled["last_mutation_id"] == 2
    assert set(pulled["puts"]) == {"worklist", "rejections", key(others[3])}
    assert built == [others[3].id]


def test_an_unchanged_pull_writes_nothing_but_its_audit_row_once_a_minute(
        db_url: str, world: World) -> None:
    phone = Phone(db_url, world.kim)
    start = noon(world)

    def pull_rows() -> list[tuple[int, int]]:
        world.session.expire_all()
        return [(a.detail["puts"], a.detail["deletes"]) for a in world.session.exec(
            select(AuditEvent).where(AuditEvent.action == "sync.pull")
            .order_by(AuditEvent.occurred_at))]

    cursor = phone.pull(start)["cursor"]
    quiet = phone.pull(start + timedelta(seconds=30))
    assert (quiet["cursor"], quiet["puts"], quiet["deletes"]) == (cursor, {}, [])
    assert phone.statements <= 9  # reads only: no BEGIN IMMEDIATE, no insert, no commit
    assert not any(q.startswith(("INSERT", "UPDATE", "BEGIN IMMEDIATE")) for q in phone.sent)
    assert len(pull_rows()) == 1
    phone.pull(start + timedelta(seconds=61))  # the installation is due to be marked seen
    assert pull_rows()[1:] == [(0, 0)]
    world.session.expire_all()
    client = world.session.get(SyncClient, phone.client_id)
    assert client is not None
    assert sync_pull._aware(client.last_seen_at) == start + timedelta(seconds=61)
    record_time_entry(session=world.session, patient_id=world.rosa.id, performer=world.kim,
                      started_at=datetime.fromisoformat(world.at(4)), duration_seconds=600,
                      activity=CALL, now=start)
    world.session.commit()
    phone.pull(start + timedelta(seconds=70))  # a pull that sends always writes its row
    assert pull_rows()[2:] == [(2, 0)]


def test_a_rebuilt_record_that_came_out_the_same_is_not_sent(
        db_url: str, world: World) -> None:
    phone = Phone(db_url, world.kim)
    first = phone.pull(noon(world))
    world.session.execute(sa.update(Patient).where(Patient.id == world.rosa.id)
                          .values(record_version=Patient.record_version + 1))
    world.session.commit()
    body = phone.pull(noon(world) + timedelta(minutes=1))
    assert (body["puts"], body["cursor"]) == ({}, first["cursor"])
    views = _views(world, phone)
    assert len(views) == 1 and views[0].stamps[key(world.rosa)] == "1"  # stamps kept fresh


def test_a_task_falling_due_reaches_the_phone_with_no_write(
        db_url: str, world: World) -> None:
    due = noon(world) + timedelta(hours=1)
    world.session.add(Task(patient_id=world.rosa.id, owner_id=world.kim.id, title="Call back",
                           due_at=due))
    world.session.commit()
    phone = Phone(db_url, world.kim)
    first = phone.pull(noon(world))
    (task,) = first["puts"][key(world.rosa)]["tasks"]
    assert task["overdue"] is False
    quiet = phone.pull(due - timedelta(minutes=1))
    assert quiet["puts"] == {} and phone.statements < 12
    later = phone.pull(due + timedelta(seconds=1))
    assert set(later["puts"]) == {"worklist", key(world.rosa)}
    assert later["puts"][key(world.rosa)]["tasks"][0]["overdue"] is True
    assert later["puts"]["worklist"]["patients"][0]["overdue_tasks"] == 1


def test_the_next_local_day_reaches_the_phone(db_url: str, world: World) -> None:
    phone = Phone(db_url, world.kim)
    late = noon(world) + timedelta(hours=11, minutes=58)  # 23:58 practice time
    phone.pull(late)
    body = phone.pull(late + timedelta(minutes=3))
    assert body["puts"]["worklist"]["today"] == (world.today + timedelta(days=1)).isoformat()


def test_practice_settings_reach_every_phone(db_url: str, world: World) -> None:
    admin = create_user(session=world.session, practice_id=world.practice.id,
                        email="ada@lakeside.example", name="Ada Admin", role=Role.ADMIN).user
    world.session.commit()
    phone = Phone(db_url, world.kim)
    phone.pull(noon(world))
    update_practice_settings(session=world.session, admin=admin, now=noon(world),
                             app_lock_minutes=9)
    world.session.commit()
    body = phone.pull(noon(world) + timedelta(minutes=1))
    assert body["puts"]["me"]["app_lock_minutes"] == 9


def test_a_reassigned_patient_moves_between_phones(db_url: str, world: World) -> None:
    admin = create_user(session=world.session, practice_id=world.practice.id,
                        email="ada@lakeside.example", name="Ada Admin", role=Role.ADMIN).user
    world.session.commit()
    kims, bens = Phone(db_url, world.kim), Phone(db_url, world.ben)
    kims.pull(noon(world))
    bens.pull(noon(world))
    assign_patients(session=world.session, admin=admin, patient_ids=[world.rosa.id],
                    care_manager_id=world.ben.id, now=noon(world))
    world.session.commit()
    later = noon(world) + timedelta(minutes=1)
    assert kims.pull(later)["deletes"] == [key(world.rosa)]
    assert key(world.rosa) in bens.pull(later)["puts"]


def test_a_view_from_before_the_stamps_is_compared_in_full_once(
        db_url: str, world: World) -> None:
    phone = Phone(db_url, world.kim)
    first = phone.pull(noon(world))
    cheap = phone.pull(noon(world) + timedelta(minutes=1)) and phone.statements
    world.session.execute(sa.update(SyncClientView).values(stamps={}))  # an older release's
    world.session.commit()
    body = phone.pull(noon(world) + timedelta(minutes=2))
    assert (body["puts"], body["cursor"]) == ({}, first["cursor"])
    assert phone.statements > cheap  # everything was built to compare
    phone.pull(noon(world) + timedelta(minutes=3))
    assert phone.statements == cheap  # and the stamps were kept for next time


def test_new_code_rebuilds_everything_once(db_url: str, world: World,
                                           monkeypatch: pytest.MonkeyPatch,
                                           built: list[uuid.UUID]) -> None:
    phone = Phone(db_url, world.kim)
    phone.pull(noon(world))
    built.clear()
    monkeypatch.setattr(sync_pull, "documents_code", lambda: "an-upgrade")
    assert phone.pull(noon(world) + timedelta(minutes=1))["puts"] == {}
    assert sorted(built, key=str) == sorted([world.rosa.id], key=str)


@pytest.mark.parametrize("write", ["care plan element", "care plan review", "reassign",
                                   "time entry"])
def test_writes_a_phone_shows_move_the_patients_stamp(world: World, write: str) -> None:
    session = world.session
    admin = create_user(session=session, practice_id=world.practice.id,
                        email="ada@lakeside.example", name="Ada Admin", role=Role.ADMIN).user
    before = _stamp(session, world.rosa)
    if write == "care plan element":
        care_plans.set_element(session=session, patient=world.rosa, user=world.kim,
                               element=CarePlanElement.PROBLEMS, value=["diabetes"],
                               base_version=0, occurred_at=noon(world), now=noon(world))
    elif write == "care plan review":
        care_plans.review(session=session, patient=world.rosa, reviewed_on=world.today,
                          latest_allowed=world.today)
    elif write == "reassign":
        assign_patients(session=session, admin=admin, patient_ids=[world.rosa.id],
                        care_manager_id=world.ben.id, now=noon(world))
    else:
        record_time_entry(session=session, patient_id=world.rosa.id, performer=world.kim,
                          started_at=datetime.fromisoformat(world.at(4)),
                          duration_seconds=60, activity=CALL, now=noon(world))
    session.commit()
    assert _stamp(session, world.rosa) > before


def _stamp(session: Session, patient: Patient) -> int:
    return session.execute(sa.select(Patient.record_version)
                           .where(Patient.id == patient.id)).scalar_one()


def _views(world: World, phone: Phone) -> list[SyncClientView]:
    world.session.expire_all()
    return list(world.session.exec(select(SyncClientView).where(
        SyncClientView.client_id == phone.client_id)))


def test_the_stamps_are_read_in_the_pulls_snapshot(db_url: str, world: World) -> None:
    """A write that lands while the pull builds is in the next pull, never lost: the view's
    stamps are the ones read with the documents."""
    phone = Phone(db_url, world.kim)
    phone.pull(noon(world))
    real = sync_pull.documents
    landed = []

    def while_building(**kwargs: Any) -> Any:
        docs = real(**kwargs)
        if not landed:
            with Session(get_engine(db_url)) as other:
                practice = other.get(Practice, world.practice.id)
                assert practice is not None
                record_time_entry(session=other, patient_id=world.rosa.id,
                                  performer=other.get(User, world.kim.id),
                                  started_at=datetime.fromisoformat(world.at(3)),
                                  duration_seconds=300, activity=CALL, now=noon(world))
                other.commit()
            landed.append(True)
        return docs

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sync_pull, "documents", while_building)
        record_time_entry(session=world.session, patient_id=world.rosa.id,
                          performer=world.kim, started_at=datetime.fromisoformat(world.at(5)),
                          duration_seconds=60, activity=CALL, now=noon(world))
        world.session.commit()
        during = phone.pull(noon(world) + timedelta(minutes=1))
    assert during["puts"][key(world.rosa)]["progress"]["minutes"] == 1
    after = phone.pull(noon(world) + timedelta(minutes=2))
    assert after["puts"][key(world.rosa)]["progress"]["minutes"] == 6

