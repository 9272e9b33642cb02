"""Migrations build the schema from empty, and the schema matches the models exactly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from ccm_pwa.db import get_engine
from ccm_pwa.migrations import current_revision, head_revision, upgrade


def test_upgrade_reaches_head(db_url: str) -> None:
    assert current_revision(db_url) == head_revision()
    assert upgrade(db_url) == head_revision()  # a second upgrade is a no-op


def test_schema_matches_models(db_url: str) -> None:
    with get_engine(db_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_every_table_is_created(db_url: str) -> None:
    names = set(sa.inspect(get_engine(db_url)).get_table_names())
    assert set(SQLModel.metadata.tables) <= names


def test_upgrade_from_empty_sqlite_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert current_revision(url) is None
    assert upgrade(url) == head_revision()
