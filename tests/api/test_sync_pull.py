"""GET /api/v1/sync/pull over HTTP: a reset, then only what changed, from one snapshot."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from ccm_pwa.models import (
    AuditEvent,
    Consent,
    EnrollmentStatus,
    Patient,
    Role,
    SyncClient,
    SyncClientView,
)
from ccm_pwa.services.practice_settings import update_practice_settings
from ccm_pwa.services.users import create_user
from tests.api.conftest import ApiServer
from tests.api.test_sync_push import World, batch, record, send


class PullWorld(World):
    """The push tests' world, with a second enrolled patient (Rick) on Kim's caseload."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.rick = self._patient("R2", self.kim, EnrollmentStatus.ENROLLED)
        session.add(Consent(patient_id=self.rick.id, consented_on=date(2025, 1, 6),
                            obtained_by_id=self.kim.id, billing_practitioner_id=self.doctor.id,
                            disclosed_service=True, disclosed_cost_sharing=True,
                            disclosed_one_practitioner=True, disclosed_stop_anytime=True))
        session.commit()


@pytest.fixture
def world(session: Session) -> PullWorld:
    return PullWorld(session)


def pull(server: ApiServer, cookies: dict[str, str], client_id: str,
         cursor: str | None = None) -> httpx.Response:
    params = {"client_id": client_id, **({"cursor": cursor} if cursor is not None else {})}
    return httpx.get(f"{server.url}/api/v1/sync/pull", params=params, cookies=cookies,
                     timeout=60)


def get(server: ApiServer, path: str, cookies: dict[str, str]) -> Any:
    response = httpx.get(f"{server.url}/api/v1{path}", cookies=cookies, timeout=30)
    assert response.status_code == 200
    return response.json()


def key(patient: Patient) -> str:
    return f"patient/{patient.id}"


def audits(world: World, action: str) -> list[AuditEvent]:
    world.session.expire_all()
    return list(world.session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def test_first_pull_is_a_reset_and_the_next_is_empty(api_server: ApiServer,
                                                     world: PullWorld) -> None:
    client_id = str(uuid.uuid4())
    first = pull(api_server, world.cookies, client_id)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert set(body) == {"cursor", "reset", "last_mutation_id", "server_time", "puts",
                         "deletes"}
    assert (body["reset"], body["last_mutation_id"], body["deletes"]) == (True, 0, [])
    assert set(body["puts"]) == {"me", "worklist", "candidates", "rejections", "conflicts",
                                 key(world.rosa), key(world.rick)}
    puts = body["puts"]
    assert puts["me"] == {"name": "Kim Alvarez", "role": "care_manager",
                          "practice": "Lakeside", "timezone": "America/Chicago",
                          "app_lock_minutes": 5, "practices": [
                              {"id": str(world.practice.id), "name": "Lakeside",
                               "role": "care_manager"}]}
    # Each document is the body of the matching GET route.
    assert puts["worklist"] == get(api_server, "/worklist", world.cookies)
    assert puts["candidates"] == get(api_server, "/candidates", world.cookies)
    assert puts[key(world.rosa)] == get(api_server, f"/patients/{world.rosa.id}", world.cookies)
    assert puts["rejections"] == {"items": []} and puts["conflicts"] == {"items": []}
    installation = world.session.get(SyncClient, uuid.UUID(client_id))
    assert installation is not None and installation.user_id == world.kim.id

    again = pull(api_server, world.cookies, client_id, body["cursor"]).json()
    assert again == {**again, "cursor": body["cursor"], "reset": False, "puts": {},
                     "deletes": [], "last_mutation_id": 0}
    assert world.count(SyncClientView) == 1  # nothing changed: no new view


def test_after_a_push_only_that_patient_and_the_worklist_come(api_server: ApiServer,
                                                              world: PullWorld) -> None:
    client_id = str(uuid.uuid4())
    cursor = pull(api_server, world.cookies, client_id).json()["cursor"]
    reads_before = len(audits(world, "patient.read"))
    pushed = send(api_server, batch(client_id, (1, "time_entry.record",
                                                record(world, world.rosa, world.at(5)))),
                  world.cookies)
    assert pushed.json()["results"] == [{"id": 1, "status": "applied"}]
    body = pull(api_server, world.cookies, client_id, cursor).json()
    assert (body["reset"], body["last_mutation_id"], body["deletes"]) == (False, 1, [])
    assert set(body["puts"]) == {"worklist", key(world.rosa)}
    assert body["cursor"] != cursor
    assert body["puts"][key(world.rosa)]["progress"]["minutes"] == 21
    reads = audits(world, "patient.read")[reads_before:]
    assert [(r.patient_id, r.client) for r in reads] == [(world.rosa.id, f"sync {client_id}")]


def test_unusable_cursors_reset(api_server: ApiServer, world: PullWorld) -> None:
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    pull(api_server, world.cookies, mine)
    foreign_cursor = pull(api_server, world.cookies, other).json()["cursor"]
    for cursor in ("not-a-cursor", foreign_cursor, str(uuid.uuid4()), ""):
        body = pull(api_server, world.cookies, mine, cursor).json()
        assert body["reset"] is True, cursor
        assert key(world.rosa) in body["puts"] and "me" in body["puts"]
    views = world.session.exec(select(SyncClientView).where(
        SyncClientView.client_id == uuid.UUID(mine))).all()
    assert len(views) == 3  # the newest few are kept


def test_a_patient_moved_off_the_caseload_is_deleted(api_server: ApiServer,
                                                     world: PullWorld) -> None:
    client_id = str(uuid.uuid4())
    cursor = pull(api_server, world.cookies, client_id).json()["cursor"]
    world.session.expire_all()
    rick = world.session.get(Patient, world.rick.id)
    assert rick is not None
    rick.care_manager_id = world.ben.id
    world.session.commit()
    body = pull(api_server, world.cookies, client_id, cursor).json()
    assert body["deletes"] == [key(world.rick)]
    assert set(body["puts"]) == {"worklist"}


def test_rejections_sync_back_to_their_own_client(api_server: ApiServer,
                                                  world: PullWorld) -> None:
    phone, tablet = str(uuid.uuid4()), str(uuid.uuid4())
    send(api_server, batch(phone,
                           (1, "time_entry.record", record(world, world.rosa, world.at(5), 1800)),
                           (2, "time_entry.record", record(world, world.rick, world.at(5, 10))),
                           (3, "note.add", {"note_id": str(uuid.uuid4()),
                                            "patient_id": str(world.lee.id), "body": "hi"})),
         world.cookies)
    items = pull(api_server, world.cookies, phone).json()["puts"]["rejections"]["items"]
    assert [(i["mutation_id"], i["name"]) for i in items] == [(3, "note.add"),
                                                             (2, "time_entry.record")]
    lee, overlap = items
    assert overlap["reason"] == "overlaps your entry at 05:00"
    assert (overlap["patient_id"], overlap["patient_name"]) == (str(world.rick.id),
                                                                "GivenR2 FamilyR2")
    assert overlap["occurred_at"].startswith("2026-11-23T08:00:00-06:00")
    # Someone else's patient: the id the phone sent comes back, never the name.
    assert (lee["patient_id"], lee["patient_name"]) == (str(world.lee.id), None)
    assert lee["reason"] == "this patient is not on your caseload"
    other = pull(api_server, world.cookies, tablet).json()
    assert other["puts"]["rejections"] == {"items": []}


def test_conflicts_show_the_current_value_until_resolved(api_server: ApiServer,
                                                         world: PullWorld) -> None:
    client_id, pid = str(uuid.uuid4()), str(world.rosa.id)

    def goals(i: int, value: list[str], base: int) -> tuple[int, str, dict[str, Any]]:
        return (i, "care_plan.set_element", {"patient_id": pid, "element": "measurable_goals",
                                             "value": value, "base_version": base})

    send(api_server, batch(client_id, goals(1, ["A1c below 8%"], 0), goals(2, ["Walk"], 0),
                           goals(3, ["A1c below 7%"], 1)), world.cookies)
    cursor, body = None, pull(api_server, world.cookies, client_id).json()
    (item,) = body["puts"]["conflicts"]["items"]
    assert item == {**item, "patient_id": pid, "patient_name": "GivenR1 FamilyR1",
                    "element": "measurable_goals", "base_version": 0,
                    "server_version": 2, "server_value": ["A1c below 7%"],
                    "client_value": ["Walk"], "client_author": "Kim Alvarez (RN)"}
    cursor = body["cursor"]
    resolved = send(api_server, batch(client_id, (4, "care_plan.resolve_conflict", {
        "conflict_id": item["id"], "keep": "mine", "server_version": 2})), world.cookies)
    assert resolved.json()["results"] == [{"id": 4, "status": "applied"}]
    after = pull(api_server, world.cookies, client_id, cursor).json()
    assert after["puts"]["conflicts"] == {"items": []}
    element = after["puts"][key(world.rosa)]["care_plan"]["elements"]["measurable_goals"]
    assert (element["value"], element["version"]) == (["Walk"], 3)


def test_another_users_installation_is_refused(api_server: ApiServer,
                                               world: PullWorld) -> None:
    client_id = str(uuid.uuid4())
    assert pull(api_server, world.cookies, client_id).status_code == 200
    refused = pull(api_server, world.ben_cookies, client_id)
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    (denied,) = [a for a in audits(world, "sync.pull") if a.outcome == "denied"]
    assert (denied.user_id, denied.client) == (world.ben.id, f"sync {client_id}")
    assert len(audits(world, "patient.read")) == 2  # Kim's reset only


def test_pull_needs_a_session_and_a_client_id(api_server: ApiServer, world: PullWorld) -> None:
    assert pull(api_server, {}, str(uuid.uuid4())).status_code == 401
    for bad in ("nope", ""):
        response = pull(api_server, world.cookies, bad)
        assert response.status_code == 422
        assert response.json()["error"] == "malformed"
        assert response.json()["detail"].startswith("client_id:")
    missing = httpx.get(f"{api_server.url}/api/v1/sync/pull", cookies=world.cookies)
    assert missing.status_code == 422 and missing.json()["detail"].startswith("client_id:")


def test_pull_audit_rows(api_server: ApiServer, world: PullWorld) -> None:
    client_id = str(uuid.uuid4())
    cursor = pull(api_server, world.cookies, client_id).json()["cursor"]
    again = pull(api_server, world.cookies, client_id, cursor).json()
    assert (again["cursor"], again["puts"]) == (cursor, {})
    pulls = audits(world, "sync.pull")
    # The unchanged pull seconds later sent nothing and writes no row (tests/db/
    # test_sync_pull_stamps.py: one a minute).
    assert [(p.user_id, p.outcome, p.detail["reset"], p.detail["puts"], p.detail["deletes"])
            for p in pulls] == [(world.kim.id, "success", True, 7, 0)]
    reads = audits(world, "patient.read")
    assert sorted(str(r.patient_id) for r in reads) == sorted([str(world.rosa.id),
                                                               str(world.rick.id)])
    assert audits(world, "worklist.read") == [] and audits(world, "candidates.view") == []


def test_documents_agree_with_last_mutation_id(api_server: ApiServer,
                                               world: PullWorld) -> None:
    """Pushes land while pulls run: each pull's record of Rosa holds exactly the entries of
    the mutations it reports as applied (one snapshot), never more or fewer."""
    client_id = str(uuid.uuid4())
    pushes = 8
    done = threading.Event()
    failures: list[str] = []

    def pusher() -> None:
        try:
            for i in range(1, pushes + 1):
                response = send(api_server, batch(client_id, (i, "time_entry.record", record(
                    world, world.rosa, world.at(1, 5 * i), 120))), world.cookies)
                if response.json()["results"] != [{"id": i, "status": "applied"}]:
                    failures.append(response.text)
        finally:
            done.set()

    send(api_server, batch(client_id), world.cookies)  # the phone's first contact
    thread = threading.Thread(target=pusher)
    thread.start()
    seen: list = []
    while not done.is_set() or not seen:
        body = pull(api_server, world.cookies, client_id).json()  # a reset: all documents
        entries = body["puts"][key(world.rosa)]["time_entries"]
        worklist_row = next(p for p in body["puts"]["worklist"]["patients"]
                            if p["id"] == str(world.rosa.id))
        seen.append((body["last_mutation_id"], len(entries), worklist_row["minutes"]))
    thread.join()
    assert failures == []
    assert all(last == count and minutes == 2 * count for last, count, minutes in seen), seen
    final = pull(api_server, world.cookies, client_id).json()
    assert final["last_mutation_id"] == pushes
    assert len(final["puts"][key(world.rosa)]["time_entries"]) == pushes


def test_the_practices_lock_minutes_reach_the_phone(api_server: ApiServer,
                                                    world: PullWorld) -> None:
    """The phone locks behind its PIN after the practice's idle minutes (assets/field/lock.js);
    an admin's change arrives with the next pull, as a changed `me` and nothing else."""
    client_id = str(uuid.uuid4())
    first = pull(api_server, world.cookies, client_id).json()
    assert first["puts"]["me"]["app_lock_minutes"] == 5
    admin = create_user(session=world.session, practice_id=world.practice.id,
                        email="ada@lakeside.example", name="Ada Admin", role=Role.ADMIN).user
    update_practice_settings(session=world.session, admin=admin, now=datetime.now(UTC),
                             app_lock_minutes=2)
    world.session.commit()
    after = pull(api_server, world.cookies, client_id, first["cursor"]).json()
    assert after["puts"] == {"me": {**first["puts"]["me"], "app_lock_minutes": 2}}
    assert after["deletes"] == []
