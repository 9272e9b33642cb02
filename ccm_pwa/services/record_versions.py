"""Change stamps for the sync pull: a counter per patient and one per practice.

The pull (services/sync_pull.py) rebuilds a phone's documents only when a stamp moved, so
every write that changes what a document shows bumps a stamp in the same transaction:
- `bump_patients`: anything shown in one patient's record (time, voids, reviews, notes,
  tasks, care plan and its conflicts, consent, conditions, stays, enrollment, the care
  manager, the month's rollup);
- `bump_practice`: anything kept outside the practice row that may change every document
  of the practice (a month closed or reopened, a full rollup rebuild). The practice row
  itself (settings) and the user's own name and role are hashed by the pull directly.
A write that forgets its bump leaves phones with a stale copy; the sync simulation
(tests/db/test_sync_simulation.py) plants exactly that bug and must catch it.

One UPDATE per call whatever the number of patients. Ids are sorted so two transactions
bumping overlapping sets take PostgreSQL's row locks in the same order (no deadlock); the
rows bumped are ones the caller is writing about anyway, so the locks add no new waits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session

from ccm_pwa.models import Patient, Practice


def bump_patients(session: Session, patient_ids: Iterable[uuid.UUID]) -> None:
    """Mark these patients' records changed (same transaction as the change itself)."""
    ids = sorted(set(patient_ids), key=str)
    if not ids:
        return
    session.execute(sa.update(Patient.__table__)
                    .where(Patient.__table__.c.id.in_(ids))
                    .values(record_version=Patient.__table__.c.record_version + 1))


def bump_practice(session: Session, practice_id: uuid.UUID) -> None:
    """Mark every document of this practice changed (settings, people, month status)."""
    session.execute(sa.update(Practice.__table__)
                    .where(Practice.__table__.c.id == practice_id)
                    .values(record_version=Practice.__table__.c.record_version + 1))
