"""Push reminders end to end against a local push service on loopback, on both backends.

The service (tests/support/push_service.py) verifies VAPID like a real one and decrypts
with the browser-side keys the test generated, so "the payload decrypts and carries no
PHI" is checked on what actually went over the wire.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from ccm_pwa.config import Settings, load_settings
from ccm_pwa.db import get_engine
from ccm_pwa.models import AuditEvent, Patient, PushSubscription, ReminderDelivery, User
from ccm_pwa.push.delivery import TEST_MESSAGE, record_results, targets_for
from ccm_pwa.push.leader import leader_lock
from ccm_pwa.push.scheduler import run_due
from ccm_pwa.push.sender import Outcome, PushSender, RetryPolicy
from ccm_pwa.push.subscriptions import parse_subscription, save_subscription
from ccm_pwa.push.vapid import load_vapid
from ccm_pwa.services.demo_practice import create_demo_practice
from tests.support.push_service import BrowserSubscription, PushService

CHICAGO = ZoneInfo("America/Chicago")
TODAY = date(2026, 11, 24)  # a Tuesday, 7 days left in November: escalated digests
NOW = datetime(2026, 11, 24, 9, 5, tzinfo=CHICAGO)


@dataclasses.dataclass
class PushWorld:
    session: Session
    db_url: str
    settings: Settings
    service: PushService
    kim: User
    dana: User
    supervisor: User

    def subscribe(self, user: User) -> BrowserSubscription:
        browser = self.service.subscribe()
        subscription = parse_subscription(browser.to_json(), allow_loopback=True,
                                          user_agent="Test phone")
        save_subscription(session=self.session, user=user, subscription=subscription,
                          client="test", now=NOW)
        self.session.commit()
        return browser

    def sender(self, **retry: float) -> PushSender:
        return PushSender(load_vapid(self.settings), timeout=self.settings.push_timeout_seconds,
                          retry=RetryPolicy(**{"attempts": 3, "base_delay": 0.05, **retry}))

    def run(self, now: datetime = NOW, **kwargs: object) -> list:
        kwargs.setdefault("sender", self.sender())
        return run_due(now=now, db_url=self.db_url, settings=self.settings, **kwargs)

    def rows(self, model: type) -> list:
        self.session.expire_all()
        return list(self.session.exec(select(model)))


@pytest.fixture
def world(session: Session, db_url: str, tmp_path: Path) -> Iterator[PushWorld]:
    create_demo_practice(session=session, patients=24, care_managers=2, seed=3, today=TODAY)
    session.commit()
    settings = dataclasses.replace(load_settings(), database_url=db_url, data_dir=tmp_path,
                                   redis_url=None, push_timeout_seconds=0.5)
    users = {u.name: u for u in session.exec(select(User))}
    with PushService(load_vapid(settings).public_key) as service:
        yield PushWorld(session, db_url, settings, service, users["Kim Alvarez"],
                        users["Dana Brooks"], users["Renee Walsh"])


def test_reminder_payload_decrypts_and_carries_no_phi(world: PushWorld) -> None:
    phone, tablet = world.subscribe(world.kim), world.subscribe(world.kim)
    planned = world.run()
    mine = [p for p in planned if p.user_id == world.kim.id]
    assert [p.reminder.kind for p in mine] == ["daily_digest"]
    digest = mine[0].reminder
    assert mine[0].status == "sent" and mine[0].outcomes == ["sent", "sent"]
    for device in (phone, tablet):
        [received] = world.service.for_subscription(device)
        assert received.problems == [] and received.vapid_ok
        assert received.payload == {"title": "Month end is near", "body": digest.body,
                                    "url": "/?filter=needs_minutes", "tag": "daily_digest"}
        assert received.headers["ttl"] == str(digest.ttl_seconds)
        assert int(received.headers["ttl"]) == 39300  # 09:05 until quiet hours at 20:00
        assert received.headers["urgency"] == "high"
        assert received.headers["topic"] == "daily_digest"
        assert received.claims and received.claims["aud"] == world.service.origin
    assert re.fullmatch(r"\d+ patients? needs? minutes — 7 days left this month", digest.body)
    text = b" ".join(r.plaintext or b"" for r in world.service.received).decode()
    audit = " ".join(str(a.detail) for a in world.rows(AuditEvent) if a.action == "push.send")
    for patient in world.rows(Patient):
        for secret in (patient.mrn, patient.given_name, patient.family_name, str(patient.id)):
            assert secret not in text and secret not in audit
    sends = [a for a in world.rows(AuditEvent) if a.action == "push.send"]
    assert len(sends) == 2 and {a.detail["outcome"] for a in sends} == {"sent"}
    assert {a.detail["kind"] for a in sends} == {"daily_digest"}
    assert all(s.last_success_at is not None for s in world.rows(PushSubscription))
    [delivery] = [d for d in world.rows(ReminderDelivery) if d.user_id == world.kim.id]
    assert delivery.reminder_key == digest.key and delivery.outcome == "sent:2"


def test_a_second_run_and_a_restart_send_nothing_again(world: PushWorld) -> None:
    device = world.subscribe(world.kim)
    world.run()
    world.run()
    world.run(now=NOW.replace(hour=15))
    assert len(world.service.for_subscription(device)) == 1


def test_dry_run_lists_everyone_and_sends_nothing(world: PushWorld) -> None:
    device = world.subscribe(world.kim)
    planned = run_due(now=NOW, dry_run=True, db_url=world.db_url, settings=world.settings)
    assert {p.email for p in planned} >= {world.kim.email, world.dana.email}
    assert {p.devices for p in planned if p.user_id == world.kim.id} == {1}
    assert world.service.for_subscription(device) == []
    assert world.rows(ReminderDelivery) == []


def test_users_without_devices_are_not_claimed(world: PushWorld) -> None:
    world.run()
    assert world.rows(ReminderDelivery) == []
    device = world.subscribe(world.dana)  # subscribes at 10:00: today's digest still comes
    world.run(now=NOW.replace(hour=10))
    assert len(world.service.for_subscription(device)) == 1


@pytest.mark.parametrize("status", [404, 410])
def test_dead_subscription_is_deleted(world: PushWorld, status: int) -> None:
    dead, alive = world.subscribe(world.kim), world.subscribe(world.kim)
    world.service.answer(dead, status)
    world.run()
    assert [s.endpoint for s in world.rows(PushSubscription)] == [alive.endpoint]
    gone = [a for a in world.rows(AuditEvent) if a.action == "push.send"
            and a.detail["outcome"] == Outcome.GONE]
    assert len(gone) == 1 and gone[0].detail["status"] == status


def test_delete_is_conditional_on_the_endpoint(world: PushWorld) -> None:
    device = world.subscribe(world.kim)
    world.service.answer(device, 410)
    sender = world.sender()
    [row] = world.rows(PushSubscription)
    [target] = targets_for(session=world.session, user_ids=[world.kim.id])[world.kim.id]
    [result] = sender.send_many([(target, TEST_MESSAGE)])
    assert result.outcome == Outcome.GONE
    row.endpoint = world.service.subscribe().endpoint  # the browser renewed it meanwhile
    world.session.add(row)
    world.session.commit()
    record_results(session=world.session, results=[result], now=NOW)
    world.session.commit()
    assert len(world.rows(PushSubscription)) == 1


def test_429_is_retried_after_retry_after(world: PushWorld) -> None:
    device = world.subscribe(world.kim)
    world.service.answer(device, 429, retry_after="1")
    started = time.monotonic()
    [item] = [p for p in world.run() if p.user_id == world.kim.id]
    assert time.monotonic() - started >= 1.0
    assert item.outcomes == ["sent"] and item.results[0].attempts == 2
    received = world.service.for_subscription(device)
    assert [r.status for r in received] == [429, 201]


def test_5xx_retries_are_bounded(world: PushWorld) -> None:
    device = world.subscribe(world.kim)
    world.service.answer(device, 503, 503, 503, 503)
    [item] = [p for p in world.run() if p.user_id == world.kim.id]
    assert item.outcomes == [Outcome.FAILED] and item.results[0].attempts == 3
    assert len(world.service.for_subscription(device)) == 3
    [row] = world.rows(PushSubscription)
    assert row.failure_count == 1


def test_retry_after_beyond_the_budget_gives_up_at_once(world: PushWorld) -> None:
    device = world.subscribe(world.kim)
    world.service.answer(device, 429, retry_after="3600")
    started = time.monotonic()
    [item] = [p for p in world.run(sender=world.sender(max_delay=3600, max_total_wait=5))
              if p.user_id == world.kim.id]
    assert time.monotonic() - started < 3
    assert item.outcomes == [Outcome.THROTTLED]


def test_a_hanging_push_service_times_out(world: PushWorld) -> None:
    device = world.subscribe(world.kim)
    world.service.answer(device, "hang", "hang")
    started = time.monotonic()
    [item] = [p for p in world.run(sender=world.sender(attempts=2))
              if p.user_id == world.kim.id]
    assert time.monotonic() - started < 5
    assert item.outcomes == [Outcome.TIMEOUT] and item.results[0].attempts == 2
    assert [a.detail["outcome"] for a in world.rows(AuditEvent)
            if a.action == "push.send"] == [Outcome.TIMEOUT]


def test_413_is_alerted_and_the_subscription_kept(world: PushWorld,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    device = world.subscribe(world.kim)
    world.service.answer(device, 413)
    with caplog.at_level(logging.ERROR, logger="ccm_pwa.push.sender"):
        [item] = [p for p in world.run() if p.user_id == world.kim.id]
    assert item.outcomes == [Outcome.REJECTED]
    assert any("ALERT" in r.message and "413" in r.message for r in caplog.records)
    [row] = world.rows(PushSubscription)
    assert row.failure_count == 1
    [audit] = [a for a in world.rows(AuditEvent) if a.action == "push.send"]
    assert audit.outcome == Outcome.REJECTED and audit.detail["status"] == 413
    assert len(world.service.for_subscription(device)) == 1  # no retry of a 4xx


@pytest.mark.parametrize("use_lock", [True, False], ids=["leader-lock", "keys-only"])
def test_exactly_once_across_two_concurrent_schedulers(world: PushWorld, use_lock: bool) -> None:
    devices = [world.subscribe(world.kim), world.subscribe(world.kim),
               world.subscribe(world.dana), world.subscribe(world.supervisor)]
    monday = datetime(2026, 11, 23, 13, 30, tzinfo=CHICAGO)  # digests, nudges, team digest
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def scheduler() -> None:
        try:
            start.wait()
            world.run(now=monday, use_lock=use_lock)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    expected = run_due(now=monday, dry_run=True, db_url=world.db_url, settings=world.settings)
    keys = [d.reminder_key for d in world.rows(ReminderDelivery)]
    assert len(keys) == len(set(keys))
    per_device = {d.endpoint: Counter(r.payload["tag"] for r in world.service.for_subscription(d))
                  for d in devices}
    assert all(n == 1 for counts in per_device.values() for n in counts.values()), per_device
    assert {k.split(":")[0] for k in keys} == {"daily_digest", "follow_up_due", "team_digest"}
    assert sum(sum(c.values()) for c in per_device.values()) == len(world.service.received)
    assert all(p.devices == 0 for p in expected)  # what is still due is for the unsubscribed
    # a third run after both: nothing new
    before = len(world.service.received)
    world.run(now=monday)
    assert len(world.service.received) == before


def test_leader_lock_admits_one_holder(world: PushWorld) -> None:
    engine = get_engine(world.db_url)
    with leader_lock(engine) as first, leader_lock(engine) as second:
        assert first and not second
    with leader_lock(engine) as again:
        assert again


def test_redis_leader_lock(world: PushWorld) -> None:
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    engine = get_engine(world.db_url)
    name = f"test-{world.db_url[:6]}-{time.monotonic_ns()}"
    with (leader_lock(engine, redis_url=url, name=name) as first,
          leader_lock(engine, redis_url=url, name=name) as second):
        assert first and not second
    with leader_lock(engine, redis_url=url, name=name) as again:
        assert again
