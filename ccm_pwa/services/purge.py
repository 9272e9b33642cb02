"""Delete a whole practice (used to replace the demo practice, never by the app itself)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

# Importing the models registers every table before the metadata is walked.
from ccm_pwa.models import Organisation, Practice


def delete_practice(*, session: Session, practice_id: uuid.UUID) -> None:
    """Remove the practice and every row that hangs off it, children first.

    Walks the foreign keys instead of naming tables, so a table added later is covered.
    """
    tables = SQLModel.metadata.sorted_tables
    organisation_id = session.execute(sa.select(Practice.organisation_id).where(
        Practice.id == practice_id)).scalar()
    owned: dict[str, set] = {"practice": {practice_id}}
    for table in tables:  # parents before children: collect the ids owned by the practice
        if table.name == "practice" or "id" not in table.c:
            continue
        conditions = [
            column.in_(owned[fk.column.table.name])
            for column in table.c
            for fk in column.foreign_keys
            if owned.get(fk.column.table.name)
        ]
        if conditions:
            rows = session.execute(sa.select(table.c.id).where(sa.or_(*conditions)))
            owned[table.name] = {row[0] for row in rows}
    for table in reversed(tables):  # children before parents: delete
        ids = owned.get(table.name)
        if ids:
            for chunk in _chunks(list(ids), 500):
                session.execute(sa.delete(table).where(table.c.id.in_(chunk)))
    if organisation_id is not None and session.execute(sa.select(Practice.id).where(
            Practice.organisation_id == organisation_id)).first() is None:
        session.execute(sa.delete(Organisation).where(Organisation.id == organisation_id))
    session.flush()


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]
