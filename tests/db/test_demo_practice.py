"""The demo practice is believable and identical for the same seed and day."""

from __future__ import annotations

from collections import Counter
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from ccm_pwa.models import Condition, EnrollmentStatus, Patient, Practice, Program, TimeEntry
from ccm_pwa.services.demo_data import CHRONIC_CONDITIONS
from ccm_pwa.services.demo_practice import create_demo_practice

TODAY = date(2026, 11, 23)


def _dump(session: Session) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order, as comparable tuples.

    Left out: password hashes (Argon2 salts each hash, so equal passwords hash apart) and
    the rollups' refresh time (a cache timestamp, not data).
    """
    dump = {}
    for table in SQLModel.metadata.sorted_tables:
        columns = [c for c in table.c if c.name != "password_hash"
                   and not (table.name == "patient_month" and c.name == "updated_at")]
        rows = session.execute(sa.select(*columns)).all()
        dump[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return dump


def _load(session: Session, seed: int, patients: int = 60) -> None:
    create_demo_practice(session=session, patients=patients, care_managers=3, seed=seed,
                         today=TODAY)
    session.commit()


def test_same_seed_gives_same_data_even_when_run_twice(session: Session) -> None:
    _load(session, seed=7)
    first = _dump(session)
    _load(session, seed=7)  # replaces the demo practice
    assert _dump(session) == first
    assert len(session.exec(select(Practice)).all()) == 1


def test_different_seed_gives_different_data(session: Session) -> None:
    _load(session, seed=1)
    first = _dump(session)
    _load(session, seed=2)
    assert _dump(session)["patient"] != first["patient"]


def test_demo_is_a_believable_panel(session: Session) -> None:
    _load(session, seed=1, patients=300)
    patients = session.exec(select(Patient)).all()
    assert len(patients) == 300
    programs = Counter(p.program for p in patients)
    assert set(programs) == {Program.CCM, Program.COMPLEX_CCM, Program.PCM}
    statuses = Counter(p.enrollment_status for p in patients)
    assert statuses[EnrollmentStatus.ENROLLED] > 200
    assert len(statuses) >= 4
    real_codes = {code for code, _ in CHRONIC_CONDITIONS}
    chronic = session.exec(select(Condition).where(Condition.chronic)).all()
    assert {c.icd10_code for c in chronic} <= real_codes
    assert len({c.icd10_code for c in chronic}) >= 12
    entries = session.exec(select(TimeEntry)).all()
    months = {e.started_at.astimezone().strftime("%Y-%m") for e in entries}
    assert len(months) >= 2
    # this month's minutes per patient span from nothing to past 60
    this_month = Counter()
    for entry in entries:
        if entry.started_at >= entry.started_at.replace(year=2026, month=11, day=1, hour=6,
                                                         minute=0, second=0, microsecond=0):
            this_month[entry.patient_id] += entry.duration_seconds
    minutes = [s // 60 for s in this_month.values()]
    assert min(minutes) < 20
    assert max(minutes) > 60
