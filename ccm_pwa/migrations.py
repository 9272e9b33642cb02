"""Run Alembic migrations from code (the CLI, the app's start script and the tests)."""

from __future__ import annotations

import functools

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alembic import command
from ccm_pwa.config import PROJECT_ROOT
from ccm_pwa.db import get_engine


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["configure_logger"] = False
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> str:
    """Migrate to `revision` and return the revision the database is now at."""
    command.upgrade(alembic_config(database_url), revision)
    return current_revision(database_url) or "base"


def current_revision(database_url: str | None = None) -> str | None:
    with get_engine(database_url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    """The code's newest revision: fixed for the life of the process, and the health check
    asks on every load-balancer probe, so the migration scripts are read once."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head
