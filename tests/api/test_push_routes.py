"""/api/v1/push over real HTTP: key, subscribe, list, renew, delete, test send, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from ccm_pwa.auth.sessions import create_session
from ccm_pwa.models import AuditEvent, PushSubscription, User
from ccm_pwa.services.demo_practice import create_demo_practice
from tests.api.conftest import ApiServer
from tests.support.push_service import PushService, b64url_decode

ROUTES = [("GET", "/push/key"), ("GET", "/push/subscriptions"),
          ("POST", "/push/subscriptions"), ("DELETE", "/push/subscriptions"),
          ("POST", "/push/test")]


@pytest.fixture
def push_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The API server's data dir (its VAPID key) and loopback push endpoints allowed."""
    monkeypatch.setenv("CCM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CCM_PUSH_ALLOW_LOOPBACK", "on")
    monkeypatch.setenv("CCM_VAPID_SUBJECT", "mailto:ops@riverbend.example")
    return tmp_path


@pytest.fixture
def server(push_env: Path, api_server: ApiServer) -> ApiServer:
    return api_server


class Phones:
    def __init__(self, session: Session, server: ApiServer) -> None:
        self.session, self.server = session, server
        create_demo_practice(session=session, patients=6, care_managers=2, seed=2,
                             today=date(2026, 11, 24))
        session.commit()
        users = {u.name: u for u in session.exec(select(User))}
        self.kim, self.dana = users["Kim Alvarez"], users["Dana Brooks"]
        self.kim_cookies, self.dana_cookies = self.cookies(self.kim), self.cookies(self.dana)

    def cookies(self, user: User) -> dict[str, str]:
        token = create_session(session=self.session, user=user, now=datetime.now(UTC))
        self.session.commit()
        return {"ccm_session": token}

    def call(self, method: str, path: str, cookies: dict[str, str], body: object = None
             ) -> httpx.Response:
        return httpx.request(method, f"{self.server.url}/api/v1{path}", cookies=cookies,
                             json=body, timeout=30,
                             headers={"user-agent": "Mozilla/5.0 (Linux; Android 15) Test"})

    def subscriptions(self) -> list[PushSubscription]:
        self.session.expire_all()
        return list(self.session.exec(select(PushSubscription)))


@pytest.fixture
def phones(session: Session, server: ApiServer) -> Phones:
    return Phones(session, server)


@pytest.fixture
def service(phones: Phones) -> Iterator[PushService]:
    key = phones.call("GET", "/push/key", phones.kim_cookies).json()["public_key"]
    with PushService(key) as running:
        yield running


def test_every_push_route_needs_a_session(phones: Phones) -> None:
    for method, path in ROUTES:
        for cookies in ({}, {"ccm_session": "forged"}):
            response = phones.call(method, path, cookies, {"endpoint": "https://x.example/1"})
            assert response.status_code == 401, (method, path)
            assert response.json()["error"] == "unauthenticated"


def test_key_is_an_uncompressed_p256_point(phones: Phones) -> None:
    response = phones.call("GET", "/push/key", phones.kim_cookies)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    raw = b64url_decode(response.json()["public_key"])
    assert len(raw) == 65 and raw[0] == 4
    again = phones.call("GET", "/push/key", phones.dana_cookies).json()["public_key"]
    assert again == response.json()["public_key"]


def test_subscribe_list_renew_and_delete(phones: Phones, service: PushService) -> None:
    browser = service.subscribe()
    created = phones.call("POST", "/push/subscriptions", phones.kim_cookies, browser.to_json())
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    again = phones.call("POST", "/push/subscriptions", phones.kim_cookies, browser.to_json())
    assert again.status_code == 200
    second = service.subscribe()
    assert phones.call("POST", "/push/subscriptions", phones.kim_cookies,
                       second.to_json()).status_code == 201
    listed = phones.call("GET", "/push/subscriptions", phones.kim_cookies)
    devices = listed.json()["subscriptions"]
    assert len(devices) == 2 and listed.headers["cache-control"] == "no-store"
    assert set(devices[0]) == {"id", "user_agent", "push_service", "created_at",
                               "last_success_at", "failure_count"}
    assert "Android" in devices[0]["user_agent"]
    assert browser.endpoint not in listed.text and browser.p256dh not in listed.text
    assert phones.call("GET", "/push/subscriptions", phones.dana_cookies).json() == {
        "subscriptions": []}
    # pushsubscriptionchange: the service worker posts the new one with old_endpoint
    renewed = service.subscribe()
    body = {**renewed.to_json(), "old_endpoint": browser.endpoint}
    assert phones.call("POST", "/push/subscriptions", phones.kim_cookies, body).status_code == 200
    endpoints = {s.endpoint for s in phones.subscriptions()}
    assert endpoints == {renewed.endpoint, second.endpoint}
    # dana cannot delete kim's device; kim can
    gone = phones.call("DELETE", "/push/subscriptions", phones.dana_cookies,
                       {"endpoint": second.endpoint})
    assert gone.json() == {"removed": 0}
    gone = phones.call("DELETE", "/push/subscriptions", phones.kim_cookies,
                       {"endpoint": second.endpoint})
    assert gone.status_code == 200 and gone.json() == {"removed": 1}
    assert {s.endpoint for s in phones.subscriptions()} == {renewed.endpoint}
    actions = [a.action for a in phones.session.exec(select(AuditEvent)) if
               a.action.startswith("push.")]
    assert actions.count("push.subscribe") == 4 and actions.count("push.unsubscribe") == 2


def test_an_endpoint_registered_by_another_user_moves_to_them(phones: Phones,
                                                               service: PushService) -> None:
    shared = service.subscribe()
    phones.call("POST", "/push/subscriptions", phones.kim_cookies, shared.to_json())
    moved = phones.call("POST", "/push/subscriptions", phones.dana_cookies, shared.to_json())
    assert moved.status_code == 200
    [row] = phones.subscriptions()
    assert row.user_id == phones.dana.id


MALFORMED = [
    ({"endpoint": "http://push.example.com/x"}, "endpoint"),
    ({"endpoint": "https://10.0.0.7/x"}, "endpoint"),
    ({"endpoint": "https://user:pw@push.example.com/x"}, "endpoint"),
    ({"endpoint": "ftp://push.example.com/x"}, "endpoint"),
    ({"endpoint": 5}, "endpoint"),
    ({"keys": {"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "keys.p256dh"),
    ({"keys": None}, "keys"),
]


def test_malformed_subscriptions_are_refused(phones: Phones, service: PushService) -> None:
    short_auth = service.subscribe().to_json()
    short_auth["keys"]["auth"] = "AAAA"
    cases = [({**service.subscribe().to_json(), **change}, field) for change, field in MALFORMED]
    for body, field in [*cases, (short_auth, "keys.auth"), ([1, 2], "body")]:
        response = phones.call("POST", "/push/subscriptions", phones.kim_cookies, body)
        assert response.status_code == 422, body
        assert response.json()["error"] == "malformed"
        assert response.json()["detail"].startswith(field), response.json()
    assert phones.subscriptions() == []


def test_test_send_reaches_every_device_of_the_caller(phones: Phones,
                                                      service: PushService) -> None:
    assert phones.call("POST", "/push/test", phones.kim_cookies, {}).status_code == 404
    phone, tablet, other = service.subscribe(), service.subscribe(), service.subscribe()
    for browser, cookies in ((phone, phones.kim_cookies), (tablet, phones.kim_cookies),
                             (other, phones.dana_cookies)):
        phones.call("POST", "/push/subscriptions", cookies, browser.to_json())
    service.answer(tablet, 410)
    response = phones.call("POST", "/push/test", phones.kim_cookies, {})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    outcomes = sorted(r["outcome"] for r in response.json()["results"])
    assert outcomes == ["gone", "sent"]
    [received] = service.for_subscription(phone)
    assert received.problems == []
    assert received.payload == {"title": "Reminders are on",
                                "body": "This phone will get your care-management reminders.",
                                "url": "/", "tag": "test"}
    assert received.headers["topic"] == "test" and int(received.headers["ttl"]) > 0
    assert received.claims and received.claims["sub"] == "mailto:ops@riverbend.example"
    assert service.for_subscription(other) == []
    assert {s.endpoint for s in phones.subscriptions()} == {phone.endpoint, other.endpoint}
    sends = [a for a in phones.session.exec(select(AuditEvent)) if a.action == "push.send"]
    assert sorted(a.detail["outcome"] for a in sends) == ["gone", "sent"]
    assert all(a.user_id == phones.kim.id and a.detail["kind"] == "test" for a in sends)
