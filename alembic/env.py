"""Alembic environment: migrate the database ccm_pwa is configured for."""

from logging.config import fileConfig

from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import ccm_pwa.models  # noqa: F401  (registers every table on SQLModel.metadata)
from alembic import context
from ccm_pwa.db import get_engine
from ccm_pwa.models import UtcDateTime

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    url = config.attributes.get("database_url") or get_engine().url.render_as_string(False)
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = get_engine(config.attributes.get("database_url"))
        with engine.connect() as connection:
            _run(connection)
    else:
        _run(connection)


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Write our column types as plain SQLAlchemy types, so revisions never import app code."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        return "sa.String()"
    return False


def _run(connection) -> None:
    # Batch mode lets SQLite alter tables (it rebuilds them); PostgreSQL alters in place.
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
