"""What a live database holds and which schema revisions this release knows.

Read before a restore (is there data a restore would destroy?) and after one (did the rows
come back?), on either backend.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ccm_pwa.db import get_engine
from ccm_pwa.migrations import alembic_config
from ccm_pwa.operations.backup_files import KEY_TABLES, BackupError


def row_counts(database_url: str) -> dict[str, int]:
    """Rows per table (the Alembic bookkeeping table left out); {} for a database not set up.

    A SQLite file that does not exist is not opened: SQLAlchemy would create it, world-
    readable, before the restore could create it private.
    """
    if database_url.startswith("sqlite"):
        from ccm_pwa.operations.sqlite_files import database_path

        if not database_path(database_url).exists():
            return {}
    try:
        engine = get_engine(database_url)
        with engine.connect() as connection:
            tables = [name for name in sa.inspect(connection).get_table_names()
                      if name != "alembic_version"]
            return {name: connection.execute(
                        sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
                    for name in tables}
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot read the database {safe_url(database_url)}: "
                          f"{str(exc.orig or exc).splitlines()[0]}") from exc


def known_revisions() -> set[str]:
    """Every revision this code can migrate from; a backup at any other was made by a newer one."""
    script = ScriptDirectory.from_config(alembic_config())
    return {revision.revision for revision in script.walk_revisions()}


def describe_counts(counts: dict[str, int]) -> str:
    """'1 practices, 5 users, 20 patients, …' in a fixed order, for printing."""
    return ", ".join(f"{counts.get(table, 0):,} {one if counts.get(table, 0) == 1 else many}"
                     for table, one, many in KEY_TABLES)


def key_counts(counts: dict[str, int]) -> dict[str, int]:
    """The key tables only, for audit details (the full list would bloat every audit row)."""
    return {table: counts.get(table, 0) for table, _, _ in KEY_TABLES}


def safe_url(database_url: str) -> str:
    """The URL without its password, for messages and audit rows."""
    return make_url(database_url).render_as_string(hide_password=True)
