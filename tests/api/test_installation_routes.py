"""GET /api/v1/sync/wipe and POST /api/v1/sync/wiped over HTTP: a lost phone learns, with
or without a session, that it is to be erased; sync refuses it meanwhile; its confirmation
is recorded once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.models import AuditEvent, Practice, Role, SyncClient, User
from ccm_pwa.services.installations import CONFIRMED, REQUESTED, request_wipe
from ccm_pwa.services.users import create_user
from tests.api.conftest import ApiServer
from tests.api.test_sync_push import World, batch, send


class WipeWorld(World):
    """The push tests' world, with Lakeside's admin and another practice's admin."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        other = Practice(name="Elsewhere", timezone="America/Denver")
        session.add(other)
        session.flush()

        def admin(name: str, practice_id: uuid.UUID) -> User:
            new = create_user(session=session, practice_id=practice_id, role=Role.ADMIN,
                              email=f"{name.split()[0].lower()}@admins.example", name=name)
            return new.user

        self.admin = admin("Ada Admin", self.practice.id)
        self.other_admin = admin("Otto Other", other.id)
        session.commit()

    def installation(self, server: ApiServer) -> str:
        """Kim's phone, as its first push makes it."""
        client_id = str(uuid.uuid4())
        assert send(server, batch(client_id), self.cookies).status_code == 200
        return client_id

    def wipe(self, client_id: str, actor: User | None = None) -> None:
        request_wipe(session=self.session, actor=actor or self.admin, client_id=client_id,
                     now=datetime.now(UTC), client="test")
        self.session.commit()

    def client(self, client_id: str) -> SyncClient:
        self.session.expire_all()
        row = self.session.get(SyncClient, uuid.UUID(client_id))
        assert row is not None
        return row


@pytest.fixture
def world(session: Session) -> WipeWorld:
    return WipeWorld(session)


def ask(server: ApiServer, client_id: str | None, cookies: dict[str, str] | None = None
        ) -> httpx.Response:
    params = {} if client_id is None else {"client_id": client_id}
    return httpx.get(f"{server.url}/api/v1/sync/wipe", params=params, cookies=cookies or {},
                     timeout=30)


def confirm(server: ApiServer, body: Any, cookies: dict[str, str] | None = None
            ) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/sync/wiped", json=body, cookies=cookies or {},
                      timeout=30)


def pull(server: ApiServer, client_id: str, cookies: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/sync/pull", params={"client_id": client_id},
                     cookies=cookies, timeout=60)


def test_an_erase_is_learned_without_a_session_and_sync_refuses(api_server: ApiServer,
                                                                 world: WipeWorld) -> None:
    client_id = world.installation(api_server)
    assert pull(api_server, client_id, world.cookies).status_code == 200
    before = ask(api_server, client_id)
    assert before.status_code == 200 and before.json() == {"wipe": False}
    assert before.headers["cache-control"] == "no-store"

    world.wipe(client_id)
    seen = world.client(client_id).last_seen_at
    for cookies in ({}, world.cookies):  # an expired session or a live one: the same answer
        answer = ask(api_server, client_id, cookies)
        assert answer.status_code == 200 and answer.json() == {"wipe": True}
        assert answer.headers["cache-control"] == "no-store"
    assert world.client(client_id).last_seen_at == seen  # an anonymous ask changes nothing

    refused = pull(api_server, client_id, world.cookies)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    pushed = send(api_server, batch(client_id), world.cookies)
    assert pushed.status_code == 403 and pushed.json()["error"] == "forbidden"
    assert world.count(AuditEvent, AuditEvent.action == REQUESTED) == 1


def test_the_confirmation_is_recorded_once_and_signs_the_phone_out(
        api_server: ApiServer, world: WipeWorld) -> None:
    client_id = world.installation(api_server)
    world.wipe(client_id)
    done = confirm(api_server, {"client_id": client_id}, world.cookies)
    assert done.status_code == 204 and done.headers["cache-control"] == "no-store"
    assert "ccm_session=" in done.headers.get("set-cookie", "")  # the cookie is cleared
    wiped_at = world.client(client_id).wiped_at
    assert wiped_at is not None
    session_now = httpx.get(f"{api_server.url}/api/v1/session", cookies=world.cookies)
    assert session_now.status_code == 401  # the erased phone's session ended with it

    again = confirm(api_server, {"client_id": client_id})
    assert again.status_code == 204
    assert world.client(client_id).wiped_at == wiped_at
    assert world.count(AuditEvent, AuditEvent.action == CONFIRMED,
                       AuditEvent.user_id == world.kim.id) == 1
    assert ask(api_server, client_id).json() == {"wipe": True}  # a stale copy erases too


def test_a_confirmation_without_an_erase_stores_nothing(api_server: ApiServer,
                                                        world: WipeWorld) -> None:
    client_id = world.installation(api_server)
    for body in ({"client_id": client_id}, {"client_id": str(uuid.uuid4())}):
        answer = confirm(api_server, body, world.cookies)
        assert answer.status_code == 204 and "set-cookie" not in answer.headers
    assert world.client(client_id).wiped_at is None
    assert world.count(AuditEvent, AuditEvent.action == CONFIRMED) == 0
    assert httpx.get(f"{api_server.url}/api/v1/session",
                     cookies=world.cookies).status_code == 200
    assert pull(api_server, client_id, world.cookies).status_code == 200


def test_someone_elses_session_is_not_signed_out(api_server: ApiServer,
                                                 world: WipeWorld) -> None:
    client_id = world.installation(api_server)
    world.wipe(client_id)
    answer = confirm(api_server, {"client_id": client_id}, world.ben_cookies)
    assert answer.status_code == 204 and "set-cookie" not in answer.headers
    assert world.client(client_id).wiped_at is not None
    assert httpx.get(f"{api_server.url}/api/v1/session",
                     cookies=world.ben_cookies).status_code == 200


def test_another_practices_admin_cannot_erase(api_server: ApiServer, world: WipeWorld) -> None:
    client_id = world.installation(api_server)
    for intruder in (world.other_admin, world.ben):
        with pytest.raises(AccessDenied):
            world.wipe(client_id, actor=intruder)
        world.session.rollback()
    assert ask(api_server, client_id).json() == {"wipe": False}
    assert pull(api_server, client_id, world.cookies).status_code == 200
    assert world.count(AuditEvent, AuditEvent.action == REQUESTED) == 0
    world.wipe(client_id, actor=world.kim)  # her own phone, from her Account screen
    assert ask(api_server, client_id).json() == {"wipe": True}


def test_unknown_and_malformed_ids(api_server: ApiServer, world: WipeWorld) -> None:
    assert ask(api_server, str(uuid.uuid4())).json() == {"wipe": False}
    for bad in ("nope", "", None, "1234"):
        answer = ask(api_server, bad)
        assert answer.status_code == 422, bad
        assert answer.json()["error"] == "malformed"
        assert answer.json()["detail"].startswith("client_id:")
        assert answer.headers["cache-control"] == "no-store"
    for body in ({"client_id": "nope"}, {"client_id": 7}, {}, ["client_id"]):
        answer = confirm(api_server, body)
        assert answer.status_code == 422, body
        assert answer.json()["error"] == "malformed"
    assert confirm(api_server, {}).json()["detail"].startswith("client_id:")
    as_text = httpx.post(f"{api_server.url}/api/v1/sync/wiped",
                         content=f'{{"client_id": "{uuid.uuid4()}"}}',
                         headers={"content-type": "text/plain"})
    assert as_text.status_code == 415  # api/request_guard.py: JSON only
