"""Health: the database at the expected schema and, when configured, Redis answering."""

from __future__ import annotations

import dataclasses
import socket

from ccm_pwa.config import load_settings
from ccm_pwa.services.health import NOT_CONFIGURED, check_health, redis_status
from tests.conftest import REDIS_TEST_URL, note_backend, redis_unavailable_reason, unavailable


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_without_redis_the_database_decides(db_url: str) -> None:
    settings = dataclasses.replace(load_settings(), database_url=db_url, redis_url=None)
    report = check_health(settings)
    assert report.ok and report.redis == NOT_CONFIGURED
    assert report.backend == db_url.split(":", 1)[0].split("+")[0]
    assert report.as_dict()["schema_revision"] == report.expected_revision


def test_an_unreachable_redis_makes_the_worker_unhealthy(db_url: str) -> None:
    settings = dataclasses.replace(load_settings(), database_url=db_url,
                                   redis_url=f"redis://:secret@127.0.0.1:{_closed_port()}/0")
    report = check_health(settings)
    assert not report.ok
    assert report.redis.startswith("unreachable: ")
    assert "secret" not in str(report.as_dict())  # the URL's password never leaks


def test_a_reachable_redis_is_ok(db_url: str) -> None:
    reason = redis_unavailable_reason()
    if reason:
        unavailable("redis", reason)
    note_backend("redis", "ran")
    settings = dataclasses.replace(load_settings(), database_url=db_url,
                                   redis_url=REDIS_TEST_URL)
    report = check_health(settings)
    assert report.ok and report.redis == "ok"


def test_an_unreachable_database_is_reported(tmp_path) -> None:
    settings = dataclasses.replace(
        load_settings(), redis_url=None,
        database_url=f"postgresql+psycopg://nobody@127.0.0.1:{_closed_port()}/none")
    report = check_health(settings)
    assert not report.ok and report.database.startswith("unreachable: ")
    assert redis_status(None) == NOT_CONFIGURED
