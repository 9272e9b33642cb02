"""The push applies a batch of time entries with a fixed number of statements (issue 16),
in order, each entry seeing the ones before it; on every backend.

The world is test_sync_replay's: Kim with Rosa and Ned, Ben with Lee, and Kim's entry
OLD_ENTRY on Rosa at 14:00-14:15 UTC (09:00 Chicago) on 18 March 2026; the server's clock
is 21:00 UTC that day.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, func, select

from ccm_pwa.db import get_engine
from ccm_pwa.models import (
    AppliedMutation,
    AuditEvent,
    Note,
    PatientMonth,
    SyncClient,
    TimeEntry,
    TimeEntryVoid,
    User,
)
from ccm_pwa.services.sync_push import SyncMalformed, parse_batch, push
from tests.db.test_sync_replay import BASE, KIM, NED, NOW, OLD_ENTRY, ROSA, _build_world
from tests.support.statements import statements_sent

# Measured: 24 on SQLite and PostgreSQL alike, for 10 entries as for 100 — 5 to claim the
# client, lock the performer and load the caseload, 3 reads for the rules, 3 writes of the
# entries (time_entry, audit, record version), 10 for the rollup refresh, 3 for the
# client's row and the mutation log. A little slack for one more read.
STATEMENT_BOUND = 30


def record(start: datetime, seconds: int = 180, patient: uuid.UUID = ROSA,
           entry_id: uuid.UUID | None = None) -> dict[str, Any]:
    return {"name": "time_entry.record", "args": {
        "entry_id": str(entry_id or uuid.uuid4()), "patient_id": str(patient),
        "started_at": start.isoformat(), "duration_seconds": seconds,
        "activity": "phone_call_patient", "note": "", "source": "timer"}}


def void(entry_id: uuid.UUID, reason: str = "wrong patient") -> dict[str, Any]:
    return {"name": "time_entry.void", "args": {"entry_id": str(entry_id), "reason": reason}}


def body(*mutations: dict[str, Any], client: uuid.UUID | None = None) -> dict[str, Any]:
    return {"client_id": str(client or uuid.uuid4()), "schema_version": 1,
            "mutations": [{"id": i, "occurred_at": (NOW - timedelta(minutes=1)).isoformat(),
                           **m} for i, m in enumerate(mutations, start=1)]}


def send(db_url: str, sent: dict[str, Any], statements: list[str] | None = None
         ) -> dict[str, Any]:
    """Kim's push of `sent`; the statements of the push itself go to `statements`."""
    with Session(get_engine(db_url), expire_on_commit=False) as session:
        kim = session.get(User, KIM)
        assert kim is not None
        batch = parse_batch(sent)
        with statements_sent(db_url) as seen:
            result = push(session=session, user=kim, batch=batch, now=NOW)
        (statements if statements is not None else []).extend(seen)
        return result


def rows(db_url: str) -> dict[str, int]:
    with Session(get_engine(db_url)) as session:
        return {model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
                for model in (TimeEntry, TimeEntryVoid, AuditEvent, AppliedMutation,
                              SyncClient, PatientMonth, Note)}


def entries(db_url: str) -> set[uuid.UUID]:
    with Session(get_engine(db_url)) as session:
        return set(session.exec(select(TimeEntry.id)).all())


def statuses(result: dict[str, Any]) -> list[str]:
    return [r["status"] for r in result["results"]]


@pytest.fixture
def world(db_url: str) -> str:
    _build_world(db_url)
    return db_url


def test_a_push_of_100_entries_takes_as_many_statements_as_one_of_10(world: str) -> None:
    """Three-minute calls for Rosa and Ned, 5 minutes apart, each batch from a new phone:
    the same two patient-months (their rollup rows already there) either way, so only the
    batch size differs."""

    def calls(count: int, first: datetime) -> dict[str, Any]:
        return body(*[record(first + timedelta(minutes=5 * i), patient=(ROSA, NED)[i % 2])
                      for i in range(count)])

    assert set(statuses(send(world, calls(2, datetime.fromisoformat("2026-03-15T06:00Z"))))
               ) == {"applied"}  # the patient-months exist from here on
    small, large = calls(10, datetime.fromisoformat("2026-03-16T06:00Z")), calls(
        100, datetime.fromisoformat("2026-03-17T00:00Z"))
    small_statements: list[str] = []
    large_statements: list[str] = []
    assert set(statuses(send(world, small, small_statements))) == {"applied"}
    assert set(statuses(send(world, large, large_statements))) == {"applied"}
    print(f"\n[{get_engine(world).dialect.name}] statements per push: "  # noqa: T201
          f"10 entries {len(small_statements)}, 100 entries {len(large_statements)}")
    assert rows(world)["time_entry"] == 1 + 2 + 10 + 100
    assert len(large_statements) == len(small_statements), "\n".join(large_statements)
    assert len(large_statements) <= STATEMENT_BOUND, "\n".join(large_statements)


@pytest.mark.parametrize("void_first", [True, False], ids=["void first", "record first"])
def test_a_void_frees_its_time_only_for_the_entries_after_it(world: str,
                                                             void_first: bool) -> None:
    """Voiding OLD_ENTRY (09:00-09:15 Chicago) then recording 09:05-09:15 is a correction;
    the other way round the new call overlaps an entry that was still live."""
    correction = record(BASE + timedelta(minutes=5), 600)
    voiding = void(OLD_ENTRY)
    result = send(world, body(*([voiding, correction] if void_first else
                                [correction, voiding])))
    assert result["last_mutation_id"] == 2
    new_id = uuid.UUID(correction["args"]["entry_id"])
    if void_first:
        assert statuses(result) == ["applied", "applied"]
        assert entries(world) == {OLD_ENTRY, new_id}
    else:
        assert result["results"][0] == {"id": 1, "status": "rejected",
                                        "reason": "overlaps your entry at 09:00"}
        assert result["results"][1] == {"id": 2, "status": "applied"}
        assert entries(world) == {OLD_ENTRY}
    assert rows(world)["time_entry_void"] == 1


def test_an_entry_overlapping_an_earlier_one_of_its_batch_is_rejected_alone(world: str
                                                                           ) -> None:
    first = record(BASE + timedelta(hours=1), 1800)  # 10:00-10:30 Chicago, Rosa
    clash = record(BASE + timedelta(hours=1, minutes=10), 600, patient=NED)
    after = record(BASE + timedelta(hours=1, minutes=30), 600, patient=NED)  # adjacent
    note = {"name": "note.add", "args": {"note_id": str(uuid.uuid4()),
                                         "patient_id": str(ROSA), "body": "Daughter helps"}}
    result = send(world, body(first, clash, note, after))
    assert result["last_mutation_id"] == 4
    assert result["results"] == [
        {"id": 1, "status": "applied"},
        {"id": 2, "status": "rejected", "reason": "overlaps your entry at 10:00"},
        {"id": 3, "status": "applied"},
        {"id": 4, "status": "applied"}]
    assert entries(world) == {OLD_ENTRY, *(uuid.UUID(m["args"]["entry_id"])
                                           for m in (first, after))}
    assert rows(world)["note"] == 1
    with Session(get_engine(world)) as session:
        logged = session.exec(select(AppliedMutation.mutation_id, AppliedMutation.outcome,
                                     AppliedMutation.rejection_reason)
                              .order_by(AppliedMutation.mutation_id)).all()
        months = session.exec(select(PatientMonth.patient_id, PatientMonth.month,
                                     PatientMonth.countable_minutes)).all()
    assert [tuple(row) for row in logged] == [
        (1, "applied", ""), (2, "rejected", "overlaps your entry at 10:00"),
        (3, "applied", ""), (4, "applied", "")]
    # Only the applied calls count: Ned's ten minutes, not twenty.
    assert {(p, m): minutes for p, m, minutes in months}[(NED, "2026-03")] == 10


def test_a_replayed_batch_is_acknowledged_and_stores_nothing_twice(world: str) -> None:
    client = uuid.uuid4()
    calls = [record(BASE + timedelta(hours=2, minutes=5 * i), patient=(ROSA, NED)[i % 2])
             for i in range(6)]
    sent = body(*calls, void(uuid.UUID(calls[0]["args"]["entry_id"])), client=client)
    first = send(world, sent)
    assert statuses(first) == ["applied"] * 7
    once = rows(world)
    assert once["time_entry"] == 1 + 6 and once["time_entry_void"] == 1
    again = send(world, sent)
    assert again["last_mutation_id"] == first["last_mutation_id"] == 7
    assert statuses(again) == ["duplicate"] * 7
    assert rows(world) == once

    # The same entries from a reinstalled phone (a new client): acknowledged, counted once.
    reinstalled = send(world, body(*calls, client=uuid.uuid4()))
    assert statuses(reinstalled) == ["applied"] * 6
    after = rows(world)
    assert (after["time_entry"], after["time_entry_void"]) == (once["time_entry"], 1)
    with Session(get_engine(world)) as session:
        recorded = session.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "time_entry.record")).one()
    assert recorded == 6


@pytest.mark.parametrize(("broken", "field"), [
    ({"duration_seconds": 0}, "mutations[1].args.duration_seconds"),
    ({"started_at": "2026-03-18T09:00:00"}, "mutations[1].args.started_at"),
    ({"activity": "lunch"}, "mutations[1].args.activity"),
    ({"patient_id": "rosa"}, "mutations[1].args.patient_id"),
], ids=["zero duration", "no offset", "unknown activity", "not a uuid"])
def test_a_batch_with_one_malformed_mutation_is_refused_whole(world: str, broken: dict[str, Any],
                                                              field: str) -> None:
    good = record(BASE + timedelta(hours=3))
    bad = record(BASE + timedelta(hours=4))
    bad["args"].update(broken)
    before = rows(world)
    with pytest.raises(SyncMalformed) as refused:
        send(world, body(good, bad, record(BASE + timedelta(hours=5))))
    assert (refused.value.status, refused.value.code) == (422, "malformed")
    assert refused.value.detail.startswith(f"{field}: "), refused.value.detail
    assert rows(world) == before
