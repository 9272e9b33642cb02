"""Push additions over HTTP: device-clock flags, multi-element care-plan edits and their
conflicts, resolving a conflict, and discarding unsent changes at sign-out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from ccm_pwa.models import (
    AuditEvent,
    CarePlanConflict,
    CarePlanRevision,
    SyncClient,
    TimeEntry,
)
from tests.api.conftest import ApiServer
from tests.api.test_sync_push import CHICAGO, World, batch, progress, record, send


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


def flags(world: World, args: dict[str, Any]) -> list[str]:
    world.session.expire_all()
    entry = world.session.get(TimeEntry, uuid.UUID(args["entry_id"]))
    assert entry is not None
    return entry.review_flags


def test_a_skewed_device_clock_flags_its_entries(api_server: ApiServer, world: World) -> None:
    client_id = str(uuid.uuid4())
    ahead = (datetime.now(UTC) + timedelta(minutes=12)).isoformat()
    skewed = record(world, world.rosa, world.at(3))
    body = {**batch(client_id, (1, "time_entry.record", skewed)), "client_time": ahead}
    assert send(api_server, body, world.cookies).json()["results"][0]["status"] == "applied"
    assert flags(world, skewed) == ["clock_skew"]
    installation = world.session.get(SyncClient, uuid.UUID(client_id))
    assert installation is not None and 700 < installation.clock_skew_seconds < 740

    on_time = record(world, world.rosa, world.at(4))
    body = {**batch(client_id, (2, "time_entry.record", on_time)),
            "client_time": datetime.now(UTC).isoformat()}
    send(api_server, body, world.cookies)
    assert flags(world, on_time) == []
    world.session.expire_all()
    assert abs(world.session.get(SyncClient, uuid.UUID(client_id)).clock_skew_seconds) < 60
    naive = {**batch(client_id), "client_time": "2026-11-23T14:00:00"}
    refused = send(api_server, naive, world.cookies)
    assert refused.status_code == 422 and refused.json()["detail"].startswith("client_time:")


def test_time_from_an_ended_month_is_flagged_late(api_server: ApiServer, world: World) -> None:
    last_month_end = datetime.combine(world.today.replace(day=1) - timedelta(days=1), time(10),
                                      CHICAGO)
    late = record(world, world.rosa, last_month_end.isoformat())
    this_month = record(world, world.rosa, world.at(3))
    results = send(api_server, batch(str(uuid.uuid4()), (1, "time_entry.record", late),
                                     (2, "time_entry.record", this_month)),
                   world.cookies).json()["results"]
    assert [r["status"] for r in results] == ["applied", "applied"]
    assert flags(world, late) == ["late_month"]
    assert flags(world, this_month) == []


def test_an_entry_ending_in_the_future_is_refused_naming_the_field(api_server: ApiServer,
                                                                 world: World) -> None:
    started = datetime.now(UTC) - timedelta(minutes=5)
    if started.astimezone(CHICAGO).date() != datetime.now(CHICAGO).date():
        pytest.skip("too close to local midnight")
    running = record(world, world.rosa, started.isoformat(), seconds=1800)
    response = send(api_server, batch(str(uuid.uuid4()), (1, "time_entry.record", running)),
                    world.cookies)
    [result] = response.json()["results"]
    assert result["status"] == "rejected"
    assert result["reason"].startswith("started_at: this call would end in the future")
    world.session.expire_all()
    assert world.session.get(TimeEntry, uuid.UUID(running["entry_id"])) is None


def test_a_phone_whose_clock_runs_ahead_keeps_its_entry_flagged(api_server: ApiServer,
                                                                world: World) -> None:
    """The phone said what its clock read (client_time, 30 minutes ahead): its call ending
    in our future is its clock, not an invented call — kept, flagged for the supervisor."""
    now = datetime.now(UTC)
    started = now + timedelta(minutes=25) - timedelta(minutes=20)
    today = now.astimezone(CHICAGO).date()
    if (started.astimezone(CHICAGO).date() != today
            or (now + timedelta(minutes=30)).astimezone(CHICAGO).date() != today):
        pytest.skip("too close to local midnight")
    running = record(world, world.rosa, started.isoformat(), seconds=1200)
    body = batch(str(uuid.uuid4()), (1, "time_entry.record", running))
    body["client_time"] = (now + timedelta(minutes=30)).isoformat()
    response = send(api_server, body, world.cookies)
    assert response.json()["results"][0]["status"] == "applied"
    assert sorted(flags(world, running)) == ["clock_skew", "future_dated"]


def update(world: World, i: int, *changes: tuple[str, Any, int]) -> tuple[int, str, dict]:
    return (i, "care_plan.update", {"patient_id": str(world.rosa.id), "changes": [
        {"element": element, "value": value, "base_version": base}
        for element, value, base in changes]})


def test_care_plan_update_applies_each_change_on_its_own(api_server: ApiServer,
                                                         world: World) -> None:
    client_id = str(uuid.uuid4())
    first = send(api_server, batch(client_id, update(
        world, 1, ("measurable_goals", ["A1c below 8%"], 0), ("problems", ["diabetes"], 0))),
        world.cookies)
    assert first.json()["results"] == [{"id": 1, "status": "applied", "conflicts": []}]
    partial = send(api_server, batch(client_id, update(
        world, 2, ("measurable_goals", ["Walk daily"], 0), ("problems", ["diabetes, HF"], 1))),
        world.cookies)
    assert partial.json()["results"] == [{"id": 2, "status": "applied",
                                          "conflicts": ["measurable_goals"]}]
    elements = progress(api_server, world, world.rosa)["care_plan"]["elements"]
    assert (elements["problems"]["value"], elements["problems"]["version"]) == (
        ["diabetes, HF"], 2)
    assert elements["measurable_goals"]["value"] == ["A1c below 8%"]
    conflict = world.session.exec(select(CarePlanConflict)).one()
    assert (conflict.element, conflict.client_value) == ("measurable_goals", ["Walk daily"])

    stale = send(api_server, batch(client_id, update(
        world, 3, ("measurable_goals", ["x"], 0), ("problems", ["y"], 0))), world.cookies)
    assert stale.json()["results"] == [{
        "id": 3, "status": "rejected",
        "reason": "the care plan changed on the server — choose which version to keep",
        "conflicts": ["measurable_goals", "problems"]}]
    assert world.count(CarePlanConflict) == 3


@pytest.mark.parametrize("changes", [[], [("problems", 1, 0), ("problems", 2, 0)]])
def test_care_plan_update_shape(api_server: ApiServer, world: World,
                                changes: list[tuple[str, Any, int]]) -> None:
    response = send(api_server, batch(str(uuid.uuid4()), update(world, 1, *changes)),
                    world.cookies)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("mutations[0].args.changes")


def conflict_on_goals(api_server: ApiServer, world: World, client_id: str) -> CarePlanConflict:
    send(api_server, batch(client_id, update(world, 1, ("measurable_goals", ["server"], 0)),
                           update(world, 2, ("measurable_goals", ["phone"], 0))), world.cookies)
    return world.session.exec(select(CarePlanConflict)).one()


def resolve(i: int, conflict: CarePlanConflict, keep: str, server_version: int) -> tuple:
    return (i, "care_plan.resolve_conflict", {"conflict_id": str(conflict.id), "keep": keep,
                                              "server_version": server_version})


def goals(api_server: ApiServer, world: World) -> tuple[Any, int]:
    element = progress(api_server, world, world.rosa)["care_plan"]["elements"][
        "measurable_goals"]
    return element["value"], element["version"]


def test_resolve_keeping_mine_writes_it_once(api_server: ApiServer, world: World) -> None:
    client_id = str(uuid.uuid4())
    conflict = conflict_on_goals(api_server, world, client_id)
    results = send(api_server, batch(client_id, resolve(3, conflict, "mine", 1),
                                     resolve(4, conflict, "mine", 1)),
                   world.cookies).json()["results"]
    assert results == [{"id": 3, "status": "applied"}, {"id": 4, "status": "applied"}]
    assert goals(api_server, world) == (["phone"], 2)
    world.session.expire_all()
    closed = world.session.get(CarePlanConflict, conflict.id)
    assert closed.resolved_by_id == world.kim.id and closed.resolved_at is not None


def test_resolve_keeping_theirs_changes_nothing(api_server: ApiServer, world: World) -> None:
    client_id = str(uuid.uuid4())
    conflict = conflict_on_goals(api_server, world, client_id)
    results = send(api_server, batch(client_id, resolve(3, conflict, "theirs", 1)),
                   world.cookies).json()["results"]
    assert results == [{"id": 3, "status": "applied"}]
    assert goals(api_server, world) == (["server"], 1)
    assert world.count(CarePlanConflict, CarePlanConflict.resolved_at.is_(None)) == 0


def test_resolve_after_another_change_is_refused(api_server: ApiServer, world: World) -> None:
    client_id = str(uuid.uuid4())
    conflict = conflict_on_goals(api_server, world, client_id)
    results = send(api_server, batch(
        client_id, update(world, 3, ("measurable_goals", ["server again"], 1)),
        resolve(4, conflict, "mine", 1)), world.cookies).json()["results"]
    assert results[1] == {"id": 4, "status": "rejected",
                          "reason": "the care plan changed again: review the new value"}
    assert goals(api_server, world) == (["server again"], 2)
    assert world.count(CarePlanConflict, CarePlanConflict.resolved_at.is_(None)) == 1
    assert world.count(CarePlanRevision) == 2
    ben = send(api_server, batch(str(uuid.uuid4()), resolve(1, conflict, "theirs", 2)),
               world.ben_cookies).json()["results"]
    # Another caseload's conflict reads exactly like one that does not exist (issue 14).
    assert ben == [{"id": 1, "status": "rejected",
                    "reason": "there is no such care-plan conflict"}]


def discard(server: ApiServer, body: Any, cookies: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/sync/discard", json=body, cookies=cookies,
                      timeout=30)


def test_discard_is_audited_and_ends_the_installation(api_server: ApiServer,
                                                      world: World) -> None:
    client_id = str(uuid.uuid4())
    send(api_server, batch(client_id, (1, "time_entry.record",
                                       record(world, world.rosa, world.at(3)))), world.cookies)
    thrown = [{"id": 2, "name": "time_entry.record", "occurred_at": "2026-11-23T15:00:00Z",
               "patient_id": str(world.rosa.id)},
              {"id": 3, "name": "note.add", "occurred_at": "2026-11-23T15:01:00Z"}]
    assert discard(api_server, {"client_id": client_id, "mutations": thrown},
                   world.ben_cookies).status_code == 403
    response = discard(api_server, {"client_id": client_id, "mutations": thrown}, world.cookies)
    assert response.status_code == 200 and response.json() == {"discarded": 2}
    assert response.headers["cache-control"] == "no-store"
    world.session.expire_all()
    (row,) = world.session.exec(select(AuditEvent).where(AuditEvent.action == "sync.discard",
                                                         AuditEvent.outcome == "success"))
    assert (row.user_id, row.client) == (world.kim.id, f"sync {client_id}")
    assert row.detail == {**row.detail, "count": 2, "mutation_ids": [2, 3],
                          "names": ["time_entry.record", "note.add"],
                          "patient_ids": [str(world.rosa.id)]}
    assert world.session.get(SyncClient, uuid.UUID(client_id)).revoked_at is not None
    later = send(api_server, batch(client_id, (2, "time_entry.record",
                                               record(world, world.rosa, world.at(4)))),
                 world.cookies)
    assert later.status_code == 403 and later.json()["error"] == "forbidden"
    pulled = httpx.get(f"{api_server.url}/api/v1/sync/pull", params={"client_id": client_id},
                       cookies=world.cookies)
    assert pulled.status_code == 403
    assert world.count(TimeEntry) == 1


def test_discard_shape_and_session(api_server: ApiServer, world: World) -> None:
    bad = discard(api_server, {"client_id": str(uuid.uuid4()), "mutations": [
        {"id": 1, "name": "note.add", "occurred_at": "yesterday"}]}, world.cookies)
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("mutations[0].occurred_at")
    assert discard(api_server, {"client_id": str(uuid.uuid4()), "mutations": []},
                   {}).status_code == 401
