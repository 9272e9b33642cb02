"""How the production server runs: worker count, and a crashed worker replaced, not fatal.

`reflex run --env prod` serves the app with granian. Granian's default is to shut the whole
server down when one worker dies (a segfault, the kernel's OOM killer, a `kill -9`), which
would take every care manager's screen and sync down with it. Turning on granian's own
`respawn_failed_workers` makes the supervisor start a replacement instead; the phones retry
their push (each mutation is idempotent) and the browsers reconnect to a surviving worker,
whose Redis state manager holds their screens' state.

Reflex builds the granian server itself and offers no setting for this, so `rxconfig.py`
calls `apply_worker_settings` before Reflex starts the server.
"""

from __future__ import annotations

import os

from ccm_pwa.config import Settings


class WorkerSettingError(ValueError):
    """A worker setting that would break the app: refused at start, with the reason."""


def apply_worker_settings(settings: Settings) -> None:
    """Pass CCM_WORKERS to granian and make failed workers respawn."""
    if settings.workers is not None:
        if settings.workers > 1 and not settings.redis_url:
            raise WorkerSettingError(
                f"CCM_WORKERS={settings.workers} needs CCM_REDIS_URL: without Redis each "
                "worker keeps its own copy of the screens' state")
        os.environ["GRANIAN_WORKERS"] = str(settings.workers)
    _respawn_failed_workers()


def _respawn_failed_workers() -> None:
    import granian.server

    current = granian.server.Server
    if getattr(current, "respawns_failed_workers", False):
        return

    class RespawningServer(current):  # type: ignore[misc, valid-type]
        respawns_failed_workers = True

        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs.setdefault("respawn_failed_workers", True)
            super().__init__(*args, **kwargs)

    granian.server.Server = RespawningServer
