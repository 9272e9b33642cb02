"""Worker settings: several workers only with shared (Redis) state; a dead worker respawns."""

from __future__ import annotations

import dataclasses
import os

import granian.server
import pytest

from ccm_pwa.config import Settings, load_settings
from ccm_pwa.serving import WorkerSettingError, apply_worker_settings


@pytest.fixture
def clean_granian(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(granian.server, "Server", granian.server.Server)
    monkeypatch.delenv("GRANIAN_WORKERS", raising=False)


def _settings(**changes: object) -> Settings:
    return dataclasses.replace(load_settings(), **changes)


def test_several_workers_without_redis_are_refused(clean_granian: None) -> None:
    with pytest.raises(WorkerSettingError, match="CCM_WORKERS=3 needs CCM_REDIS_URL"):
        apply_worker_settings(_settings(workers=3, redis_url=None))


def test_workers_reach_granian(clean_granian: None) -> None:
    apply_worker_settings(_settings(workers=4, redis_url="redis://127.0.0.1:6379/0"))
    assert os.environ["GRANIAN_WORKERS"] == "4"


def test_unset_workers_leave_reflex_to_choose(clean_granian: None) -> None:
    apply_worker_settings(_settings(workers=None))
    assert "GRANIAN_WORKERS" not in os.environ


def test_failed_workers_respawn_by_default(clean_granian: None) -> None:
    apply_worker_settings(_settings(workers=None))
    apply_worker_settings(_settings(workers=None))  # applying twice wraps once
    server_class = granian.server.Server
    assert server_class.respawns_failed_workers
    assert server_class.__mro__[1].__name__ in {"MPServer", "MTServer"}
    server = server_class(target="ccm_pwa.api.asgi:application", interface="asgi")
    assert server.respawn_failed_workers is True
    explicit = server_class(target="x:y", interface="asgi", respawn_failed_workers=False)
    assert explicit.respawn_failed_workers is False


@pytest.mark.parametrize("value, message", [("two", "whole number"), ("0", "at least 1")])
def test_bad_worker_counts_are_named(monkeypatch: pytest.MonkeyPatch, value: str,
                                     message: str) -> None:
    monkeypatch.setenv("CCM_WORKERS", value)
    with pytest.raises(ValueError, match=f"CCM_WORKERS must be .*{message}"):
        load_settings()
