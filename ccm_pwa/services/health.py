"""Health of the installation: database reachable and migrated, Redis reachable if used.

Monitoring (and a load balancer taking a worker out of rotation) needs one answer: can this
worker serve a care manager right now? That needs the database at the schema this code
expects and, when several workers share screen state, the Redis state manager.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from ccm_pwa.config import Settings, load_settings
from ccm_pwa.migrations import current_revision, head_revision

NOT_CONFIGURED = "not configured"
REDIS_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class HealthReport:
    database: str
    schema_revision: str | None
    expected_revision: str
    redis: str = NOT_CONFIGURED
    backend: str = "sqlite"

    @property
    def ok(self) -> bool:
        return (self.database == "ok" and self.schema_revision == self.expected_revision
                and self.redis in ("ok", NOT_CONFIGURED))

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "database": self.database, "backend": self.backend,
                "schema_revision": self.schema_revision,
                "expected_revision": self.expected_revision, "redis": self.redis}


def check_health(settings: Settings | None = None) -> HealthReport:
    settings = settings or load_settings()
    try:
        revision = current_revision(settings.database_url)
        database = "ok"
    except SQLAlchemyError as exc:
        revision, database = None, f"unreachable: {type(exc).__name__}"
    backend = "sqlite" if settings.is_sqlite else "postgresql"
    return HealthReport(database, revision, head_revision(), redis_status(settings.redis_url),
                        backend)


def redis_status(url: str | None) -> str:
    """`ok`, `not configured`, or why Redis did not answer (never the URL: it holds a password)."""
    if not url:
        return NOT_CONFIGURED
    import redis

    try:
        _redis_client(url).ping()
    except (redis.RedisError, OSError) as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"


@functools.lru_cache(maxsize=4)
def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_S,
                                socket_timeout=REDIS_TIMEOUT_S)
