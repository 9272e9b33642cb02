"""Application settings: the one place that reads the environment.

Everything a deployment may change (database, Redis, timeouts, paths) is read here once,
so rxconfig, the CLI, the API and the tests agree on the same values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator used.

    `postgres://` and `postgresql://` would otherwise make SQLAlchemy look for psycopg2,
    which the project does not install.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    """Deployment knobs, read from `CCM_*` environment variables (see README)."""

    data_dir: Path = field(default_factory=lambda: Path(_env("CCM_DATA_DIR") or DEFAULT_DATA_DIR))
    database_url: str = ""
    redis_url: str | None = None
    # Backend worker processes; None = Reflex's choice (1 without Redis, 2×CPUs+1 with it).
    workers: int | None = None
    session_idle_minutes: int = 15
    session_absolute_hours: int = 12
    public_url: str | None = None
    # Proxies whose X-Forwarded-Proto/-For are believed (comma-separated addresses/networks).
    trusted_proxies: str = ""
    reports_api_token: str | None = None
    # Web Push (docs/push.md): the reminder job, its VAPID identity and the sender's limits.
    reminders_enabled: bool = True
    vapid_private_key: str | None = None
    vapid_subject: str | None = None
    push_timeout_seconds: float = 10.0
    push_allow_loopback: bool = False

    @property
    def public_origin(self) -> str | None:
        """`https://ccm.example/app` → `https://ccm.example`: what browsers send as Origin."""
        if not self.public_url:
            return None
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}".lower() if parts.netloc else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings() -> Settings:
    """Build settings from the environment (called again by tests that change it)."""
    data_dir = Path(_env("CCM_DATA_DIR") or DEFAULT_DATA_DIR)
    url = _env("CCM_DATABASE_URL") or _env("DATABASE_URL") or f"sqlite:///{data_dir / 'ccm.db'}"
    return Settings(
        data_dir=data_dir,
        database_url=normalize_database_url(url),
        redis_url=_env("CCM_REDIS_URL") or _env("REDIS_URL"),
        workers=_workers(_env("CCM_WORKERS")),
        session_idle_minutes=int(_env("CCM_SESSION_IDLE_MINUTES", "15") or 15),
        session_absolute_hours=int(_env("CCM_SESSION_ABSOLUTE_HOURS", "12") or 12),
        public_url=_env("CCM_PUBLIC_URL"),
        # Nobody's X-Forwarded-* is believed unless the deployment names its proxy: a local
        # process could otherwise forge the audit IP and dodge the per-IP pause.
        trusted_proxies=os.environ.get("CCM_TRUSTED_PROXIES", ""),
        reports_api_token=_env("CCM_REPORTS_API_TOKEN"),
        reminders_enabled=_flag(_env("CCM_REMINDERS", "on")),
        vapid_private_key=_env("CCM_VAPID_PRIVATE_KEY"),
        vapid_subject=_env("CCM_VAPID_SUBJECT"),
        push_timeout_seconds=float(_env("CCM_PUSH_TIMEOUT", "10") or 10),
        push_allow_loopback=_flag(_env("CCM_PUSH_ALLOW_LOOPBACK", "off")),
    )


def _workers(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        workers = int(value)
    except ValueError:
        raise ValueError(f"CCM_WORKERS must be a whole number, got {value!r}") from None
    if workers < 1:
        raise ValueError(f"CCM_WORKERS must be at least 1, got {workers}")
    return workers


def _flag(value: str | None) -> bool:
    """on/off switches: anything but an explicit "off" word keeps the default meaning."""
    return (value or "").strip().lower() not in ("off", "0", "false", "no", "")
