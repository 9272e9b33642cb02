"""What roles in further practices cost the access check (issue 17): `require_patient` and a
caseload read, in ms and statements, in the user's own practice and in a further one.

The demo practice (`create_demo_practice`) plus a second practice of the same organisation
with as many patients; a demo care manager is given a role there and half of its patients.
Each figure is the median of many runs.

    python bench/practice_access.py                        # SQLite
    python bench/practice_access.py --backend postgresql
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.access import require_patient, role_in, visible_patients
from ccm_pwa.db import get_engine
from ccm_pwa.migrations import upgrade
from ccm_pwa.models import EnrollmentStatus, Organisation, Patient, Practice, Role, User
from ccm_pwa.operations.scratch_database import scratch_postgres_database
from ccm_pwa.services.demo_practice import create_demo_practice
from ccm_pwa.services.practice_roles import grant_role
from ccm_pwa.services.practices import create_practice
from tests.support.statements import statements_sent

RUNS = 200
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _median_ms(action: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _world(url: str, patients: int) -> dict[str, object]:
    engine = get_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        create_demo_practice(session=session, patients=patients, care_managers=5, seed=1,
                             today=date(2026, 11, 18))
        session.commit()
        home = session.exec(select(Practice)).one()
        organisation = session.get(Organisation, home.organisation_id)
        assert organisation is not None
        north = create_practice(session=session, name="Northside", timezone="America/New_York",
                                organisation=organisation.name)
        manager = session.exec(select(User).where(User.practice_id == home.id,
                                                  User.role == Role.CARE_MANAGER)
                               .order_by(User.email)).first()
        supervisor = session.exec(select(User).where(User.practice_id == home.id,
                                                     User.role == Role.SUPERVISOR)).first()
        assert manager is not None and supervisor is not None
        grant_role(session=session, user=manager, practice=north, role=Role.CARE_MANAGER,
                   now=datetime.now(UTC))
        for index in range(patients):
            session.add(Patient(practice_id=north.id, mrn=f"N{index:05d}", given_name="N",
                                family_name=f"North{index}", birth_date=date(1950, 1, 1),
                                care_manager_id=manager.id if index % 2 else None,
                                enrollment_status=EnrollmentStatus.ENROLLED))
        session.commit()
        own = session.exec(select(Patient).where(Patient.practice_id == home.id,
                                                 Patient.care_manager_id == manager.id)).first()
        further = session.exec(select(Patient).where(Patient.practice_id == north.id,
                                                     Patient.care_manager_id == manager.id)
                               ).first()
        assert own is not None and further is not None
        return {"manager": manager, "supervisor": supervisor, "own": own.id,
                "further": further.id, "north": north.id}


def _measure(url: str, patients: int) -> None:
    world = _world(url, patients)
    manager, supervisor = world["manager"], world["supervisor"]
    assert isinstance(manager, User) and isinstance(supervisor, User)
    engine = get_engine(url)
    with Session(engine) as session:
        def check(patient_id: object) -> Callable[[], object]:
            def run() -> object:
                session.expunge_all()  # as a request does: nothing held from the last one
                return require_patient(session=session, user=manager, patient_id=patient_id)
            return run

        def caseload(user: User, practice_id: object = None) -> Callable[[], object]:
            role = (None if practice_id is None else
                    role_in(session=session, user=user, practice_id=practice_id))
            query = sa.select(sa.func.count()).select_from(Patient).where(
                Patient.id.in_(visible_patients(user, practice_id, role)))
            return lambda: session.execute(query).scalar_one()

        cases = [
            ("require_patient, her own practice", check(world["own"])),
            ("require_patient, a further practice", check(world["further"])),
            ("caseload, care manager, own practice", caseload(manager)),
            ("caseload, care manager, further practice", caseload(manager, world["north"])),
            ("caseload, supervisor, own practice", caseload(supervisor)),
        ]
        print(f"{engine.dialect.name}, {patients} patients per practice, median of {RUNS}")
        for label, action in cases:
            with statements_sent(url) as seen:
                result = action()
            ms = _median_ms(action)
            shown = result if isinstance(result, int) else "allowed"
            print(f"  {label:<44} {ms:7.2f} ms  {len(seen):2d} statements  ({shown})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--patients", type=int, default=300)
    args = parser.parse_args()
    if args.backend == "postgresql":
        with scratch_postgres_database(POSTGRES_ADMIN, prefix="ccm_access") as url:
            upgrade(url)
            _measure(url, args.patients)
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        _measure(url, args.patients)


if __name__ == "__main__":
    main()
