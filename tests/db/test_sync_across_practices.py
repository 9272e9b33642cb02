"""The phone across practices (issue 17, second slice): one pull holds a managed care
manager's patients of every practice where she holds a role, and one push records each
entry in its patient's own practice: its time zone, its month, its closed months.

The world is test_practice_roles.World: Sam is a Lakeside (Chicago) care manager who also
works Northside (New York) patients. Most cases run at 05:30 UTC on 1 December, when it is
still 30 November in Chicago and already 1 December in New York, so a practice's month
taken from the wrong time zone shows.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from ccm_pwa.domain.reminders import ReminderKind, due_reminders
from ccm_pwa.models import (
    CarePlan,
    Condition,
    Consent,
    MonthClose,
    MonthStatus,
    Patient,
    PatientMonth,
    PerformerKind,
    Practice,
    Role,
    TimeEntry,
    User,
)
from ccm_pwa.services.practice_roles import revoke_role
from ccm_pwa.services.reminders import reminder_recipients
from ccm_pwa.services.sync_pull import pull
from ccm_pwa.services.sync_push import parse_batch, push
from ccm_pwa.services.users import create_user
from tests.db.test_practice_roles import World

BOUNDARY = datetime(2026, 12, 1, 5, 30, tzinfo=UTC)  # Chicago 23:30 Nov 30, New York 00:30


@pytest.fixture
def world(session: Session) -> World:
    made = World(session)
    for practice, patients in ((made.lakeside, (made.l1,)),
                               (made.northside, (made.n1, made.n2))):
        _billable(session, practice, patients)
    session.commit()
    return made


def _billable(session: Session, practice: Practice, patients: tuple[Patient, ...]) -> None:
    """Each patient ready to bill once time is recorded: two chronic conditions, consent,
    a care plan, the practice's billing practitioner."""
    doctor = create_user(session=session, practice_id=practice.id,
                         email=f"dr.{practice.name.lower()}@x.example",
                         name=f"Dr. {practice.name}", role=Role.CARE_MANAGER).user
    doctor.performer_kind = PerformerKind.BILLING_PRACTITIONER
    doctor.credential = "MD"
    session.flush()
    for patient in patients:
        patient.billing_practitioner_id = doctor.id
        session.add(patient)
        for code in ("E11.9", "I50.22"):
            session.add(Condition(patient_id=patient.id, icd10_code=code, description=code,
                                  onset_date=date(2020, 1, 1)))
        session.add(Consent(patient_id=patient.id, consented_on=date(2025, 1, 6),
                            obtained_by_id=doctor.id, billing_practitioner_id=doctor.id,
                            disclosed_service=True, disclosed_cost_sharing=True,
                            disclosed_one_practitioner=True, disclosed_stop_anytime=True))
        session.add(CarePlan(patient_id=patient.id, established_on=date(2025, 1, 6),
                             established_by_id=doctor.id))


def _entry(patient: Patient, started_at: datetime, minutes: int = 10) -> dict[str, Any]:
    return {"name": "time_entry.record", "args": {
        "entry_id": str(uuid.uuid4()), "patient_id": str(patient.id),
        "started_at": started_at.isoformat(), "duration_seconds": minutes * 60,
        "activity": "phone_call_patient", "note": "", "source": "timer"}}


def _push(session: Session, user: User, client_id: uuid.UUID, now: datetime,
          *mutations: dict[str, Any], first: int = 1) -> list[dict[str, Any]]:
    batch = parse_batch({"client_id": str(client_id), "schema_version": 1, "mutations": [
        {"id": first + i, "occurred_at": now.isoformat(), **m}
        for i, m in enumerate(mutations)]})
    return push(session=session, user=user, batch=batch, now=now)["results"]


def _rollup(session: Session, patient: Patient) -> dict[str, int]:
    session.expire_all()
    return {row.month: row.staff_seconds for row in session.exec(
        select(PatientMonth).where(PatientMonth.patient_id == patient.id))}


def _rows(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["mrn"]: row for row in answer["puts"]["worklist"]["patients"]}


def test_one_pull_holds_her_patients_of_every_practice(session: Session,
                                                       world: World) -> None:
    answer = pull(session=session, user=world.sam, client_id=uuid.uuid4(), cursor=None,
                  now=BOUNDARY)
    puts = answer["puts"]
    records = {key for key in puts if key.startswith("patient/")}
    assert records == {f"patient/{world.l1.id}", f"patient/{world.n1.id}"}  # not Nick's N2
    assert puts["me"]["practices"] == [
        {"id": str(world.lakeside.id), "name": "Lakeside", "role": "care_manager"},
        {"id": str(world.northside.id), "name": "Northside", "role": "care_manager"}]
    rows = _rows(answer)
    assert {mrn: (r["practice"], r["month"], r["days_left"]) for mrn, r in rows.items()} == {
        "L1": ("Lakeside", "2026-11", 1), "N1": ("Northside", "2026-12", 31)}
    # One list, ranked across practices: Lakeside's month ends tonight.
    assert [mrn for mrn, _ in sorted(rows.items(), key=lambda kv: kv[1]["rank"])] == [
        "L1", "N1"]
    assert rows["L1"]["blocking_reasons"] == [] and rows["L1"]["status"] == "at_risk"
    worklist = puts["worklist"]
    assert [(p["name"], p["today"], p["days_left"]) for p in worklist["practices"]] == [
        ("Lakeside", "2026-11-30", 1), ("Northside", "2026-12-01", 31)]
    assert (worklist["month"], worklist["days_left"]) == ("2026-11", 1)  # her own practice
    # Each record is of its own practice's month.
    assert puts[f"patient/{world.n1.id}"]["progress"]["month"] == "2026-12"
    assert puts[f"patient/{world.l1.id}"]["progress"]["month"] == "2026-11"


def test_a_one_practice_user_sees_her_practice_alone(session: Session,
                                                       world: World) -> None:
    answer = pull(session=session, user=world.nick, client_id=uuid.uuid4(), cursor=None,
                  now=BOUNDARY)
    assert set(_rows(answer)) == {"N2"}
    assert answer["puts"]["me"]["practices"] == [
        {"id": str(world.northside.id), "name": "Northside", "role": "care_manager"}]


def test_one_push_records_each_entry_in_its_patients_practice(session: Session,
                                                              world: World) -> None:
    client = uuid.uuid4()
    first = pull(session=session, user=world.sam, client_id=client, cursor=None, now=BOUNDARY)
    # 23:10 in Chicago (November), 00:10 in New York (December).
    results = _push(session, world.sam, client, BOUNDARY,
                    _entry(world.l1, BOUNDARY - timedelta(minutes=60)),
                    _entry(world.n1, BOUNDARY - timedelta(minutes=20)))
    assert [r["status"] for r in results] == ["applied", "applied"]
    assert _rollup(session, world.l1) == {"2026-11": 600}
    assert _rollup(session, world.n1) == {"2026-12": 600}
    later = pull(session=session, user=world.sam, client_id=client, cursor=first["cursor"],
                 now=BOUNDARY + timedelta(minutes=1))
    assert sorted(later["puts"]) == sorted(
        ["worklist", f"patient/{world.l1.id}", f"patient/{world.n1.id}"])
    assert {mrn: r["minutes"] for mrn, r in _rows(later).items()} == {"L1": 10, "N1": 10}


def test_a_call_counts_in_one_practice_only(session: Session, world: World) -> None:
    """Her time is one time line across practices: the same minutes cannot be claimed for
    a Lakeside and a Northside patient, in one push or in two."""
    client = uuid.uuid4()
    started = BOUNDARY - timedelta(minutes=40)
    results = _push(session, world.sam, client, BOUNDARY, _entry(world.l1, started),
                    _entry(world.n1, started + timedelta(minutes=5)))
    assert [r["status"] for r in results] == ["applied", "rejected"]
    assert "overlap" in results[1]["reason"]
    again = _push(session, world.sam, client, BOUNDARY,
                  _entry(world.n1, started + timedelta(minutes=2)), first=3)
    assert again[0]["status"] == "rejected" and "overlap" in again[0]["reason"]
    assert _rollup(session, world.n1) == {}


def test_each_practice_closes_its_own_month(session: Session, world: World) -> None:
    """Lakeside closed November; Northside has not: a late November call counts there."""
    now = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    session.add(MonthClose(practice_id=world.lakeside.id, month="2026-11",
                           status=MonthStatus.CLOSED, closed_by_id=world.lou.id, closed_at=now))
    session.commit()
    late = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 30 November in both time zones
    results = _push(session, world.sam, uuid.uuid4(), now, _entry(world.l1, late),
                    _entry(world.n1, late + timedelta(minutes=30)))
    assert [r["status"] for r in results] == ["rejected", "applied"]
    assert "closed" in results[0]["reason"]
    assert _rollup(session, world.n1) == {"2026-11": 600}
    assert _rollup(session, world.l1) == {}


def test_a_void_refreshes_the_month_of_the_patients_practice(session: Session,
                                                             world: World) -> None:
    client = uuid.uuid4()
    entry = _entry(world.n1, BOUNDARY - timedelta(minutes=20))  # 00:10 in New York
    assert _push(session, world.sam, client, BOUNDARY, entry)[0]["status"] == "applied"
    assert _rollup(session, world.n1) == {"2026-12": 600}
    void = {"name": "time_entry.void",
            "args": {"entry_id": entry["args"]["entry_id"], "reason": "wrong patient"}}
    assert _push(session, world.sam, client, BOUNDARY, void, first=2)[0]["status"] == "applied"
    assert _rollup(session, world.n1) == {"2026-12": 0}


def test_a_revoked_role_takes_the_practice_off_the_phone(session: Session,
                                                         world: World) -> None:
    client = uuid.uuid4()
    first = pull(session=session, user=world.sam, client_id=client, cursor=None, now=BOUNDARY)
    revoke_role(session=session, user=world.sam, practice=world.northside,
                revoked_by=world.nadia, now=BOUNDARY)
    session.commit()
    later = pull(session=session, user=world.sam, client_id=client, cursor=first["cursor"],
                 now=BOUNDARY + timedelta(minutes=1))
    assert f"patient/{world.n1.id}" in later["deletes"]
    assert set(_rows(later)) == {"L1"}
    assert [p["name"] for p in later["puts"]["me"]["practices"]] == ["Lakeside"]
    results = _push(session, world.sam, client, BOUNDARY + timedelta(minutes=1),
                    _entry(world.n1, BOUNDARY - timedelta(minutes=20)))
    assert results[0] == {"id": 1, "status": "rejected",
                          "reason": "this patient is not on your caseload"}
    assert session.exec(select(TimeEntry).where(TimeEntry.patient_id == world.n1.id)).all() == []


def test_the_month_of_each_practice_moves_the_phone_at_its_own_midnight(
        session: Session, world: World) -> None:
    """New York's midnight comes first: a pull just after it must not be answered from
    the view built before it (the worklist's days left changed)."""
    client = uuid.uuid4()
    before = BOUNDARY - timedelta(hours=1)  # 23:30 in New York, 22:30 in Chicago
    first = pull(session=session, user=world.sam, client_id=client, cursor=None, now=before)
    assert {r["month"] for r in _rows(first).values()} == {"2026-11"}
    after = pull(session=session, user=world.sam, client_id=client, cursor=first["cursor"],
                 now=BOUNDARY)
    assert "worklist" in after["puts"]
    assert {mrn: r["month"] for mrn, r in _rows(after).items()} == {
        "L1": "2026-11", "N1": "2026-12"}


def test_reminders_of_each_practice_reach_the_managed_team(session: Session,
                                                           world: World) -> None:
    """Sam's Northside patients remind him too, in their own digest that names Northside;
    Nora's team digest there counts them; Lakeside's supervisor never hears of them."""
    now = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 / 09:00 local
    north = {user.email: r for user, r in reminder_recipients(
        session=session, practice=world.northside, now=now)}
    lake = {user.email: r for user, r in reminder_recipients(
        session=session, practice=world.lakeside, now=now)}
    assert (len(north["sam@x.example"].patients), north["sam@x.example"].practice_name) == (
        1, "Northside")
    assert len(north["nora@x.example"].team_patients) == 2  # Nick's N2 and Sam's N1
    assert (len(lake["sam@x.example"].patients), lake["sam@x.example"].practice_id) == (1, "")
    assert lake["lou@x.example"].team_patients == lake["sam@x.example"].patients  # L1 only
    [there] = [r for r in due_reminders(north["sam@x.example"], now=now,
                                        zone=ZoneInfo("America/New_York"))
               if r.kind == ReminderKind.DAILY_DIGEST]
    [home] = [r for r in due_reminders(lake["sam@x.example"], now=now,
                                       zone=ZoneInfo("America/Chicago"))
              if r.kind == ReminderKind.DAILY_DIGEST]
    assert there.body.startswith("Northside: 1 patient needs minutes")
    assert not home.body.startswith("Lakeside")
    assert there.key != home.key and there.topic != home.topic
