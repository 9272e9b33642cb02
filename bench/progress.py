"""Team progress via rollups vs a full recompute from time events, at practice-group scale.

Builds a practice of N patients and M time events (default 50,000 and 1,000,000) with bulk
inserts, then prints:
- raw insert speed of time events on this machine (rows/s),
- the time to rebuild every PatientMonth rollup from the events (target: < 60 s),
- the team-progress read from rollups (median of several runs),
- the same figures recomputed from every event (the work rollups save),
- and their ratio (target: rollups >= 100x faster).
The rollup and recompute results are compared for equality before any figure is printed.

    python bench/progress.py                          # SQLite, and PostgreSQL if reachable
    python bench/progress.py --patients 5000 --events 100000 --backend sqlite
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ccm_pwa.db import get_engine
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.migrations import upgrade
from ccm_pwa.models import (
    CarePlan,
    Condition,
    Consent,
    Patient,
    Practice,
    TimeEntry,
    User,
)
from ccm_pwa.services.rollups import rebuild_rollups
from ccm_pwa.services.team_progress import team_progress, team_progress_from_events

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MONTH = YearMonth(2026, 11)
WORKERS = os.cpu_count() or 1
CODES = ["E11.9", "I10", "J44.9", "I50.22", "N18.30", "E78.5", "I48.91", "F33.1"]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _insert(connection: sa.Connection, model: type, rows: list[dict], chunk: int = 5000) -> None:
    table = model.__table__
    for i in range(0, len(rows), chunk):
        connection.execute(table.insert(), rows[i : i + chunk])


def build_practice(url: str, patients: int, events: int, seed: int) -> tuple[uuid.UUID, float]:
    """Bulk-load the practice; returns its id and raw time-event insert speed (rows/s)."""
    rng = random.Random(seed)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    practice_id = _uuid(rng)
    managers = [_uuid(rng) for _ in range(max(1, patients // 5000))]
    doctor = _uuid(rng)
    engine = get_engine(url)
    with engine.begin() as connection:
        _insert(connection, Practice, [{"id": practice_id, "name": "Bench Group",
                                        "timezone": "America/Chicago", "fee_year": 2026,
                                        "reminder_local_time": "09:00", "created_at": now}])
        users = [{"id": m, "name": f"Care manager {i}", "role": "care_manager",
                  "performer_kind": "clinical_staff"} for i, m in enumerate(managers)]
        users.append({"id": doctor, "name": "Dr. Bench", "role": "care_manager",
                      "performer_kind": "billing_practitioner"})
        _insert(connection, User, [{**u, "practice_id": practice_id,
                                    "email": f"{u['id'].hex}@bench.example", "credential": "",
                                    "npi": "", "active": True, "password_hash": "",
                                    "must_change_password": False, "failed_attempts": 0,
                                    "created_at": now} for u in users])
        patient_ids = [_uuid(rng) for _ in range(patients)]
        _insert(connection, Patient, [{
            "id": pid, "practice_id": practice_id, "mrn": f"B{i:07d}", "given_name": "Bench",
            "family_name": str(i), "birth_date": date(1950, 1, 1), "phone": "",
            "preferred_language": "en", "care_manager_id": managers[i % len(managers)],
            "billing_practitioner_id": doctor, "program": "ccm",
            "enrollment_status": "enrolled", "enrollment_reason": "",
            "enrollment_changed_at": now, "created_at": now, "updated_at": now, "version": 1,
        } for i, pid in enumerate(patient_ids)])
        _insert(connection, Condition, [{
            "id": _uuid(rng), "patient_id": pid, "icd10_code": code, "description": code,
            "chronic": True} for pid in patient_ids for code in rng.sample(CODES, 2)])
        _insert(connection, Consent, [{
            "id": _uuid(rng), "patient_id": pid, "consented_on": date(2026, 1, 5),
            "method": "verbal", "disclosed_service": True, "disclosed_cost_sharing": True,
            "disclosed_one_practitioner": True, "disclosed_stop_anytime": True,
            "obtained_by_id": managers[0], "billing_practitioner_id": doctor, "program": "ccm",
            "revocation_reason": "", "recorded_at": now} for pid in patient_ids])
        _insert(connection, CarePlan, [{
            "id": _uuid(rng), "patient_id": pid, "status": "active",
            "established_on": date(2026, 1, 5), "established_by_id": doctor,
            "copy_given_method": "", "created_at": now} for pid in patient_ids])
    start = datetime(2026, 10, 1, 5, tzinfo=UTC)
    span = int(timedelta(days=61).total_seconds())
    entries = [{
        "id": _uuid(rng), "patient_id": patient_ids[rng.randrange(patients)],
        "performer_id": managers[0], "performer_kind": "clinical_staff",
        "activity": "phone_call_patient", "note": "",
        "started_at": start + timedelta(seconds=rng.randrange(span)),
        "duration_seconds": rng.randrange(60, 420), "source": "timer",
        "occurred_at": now, "received_at": now, "review_flags": [],
    } for _ in range(events)]
    began = time.perf_counter()
    with engine.begin() as connection:
        _insert(connection, TimeEntry, entries, chunk=10_000)
    return practice_id, events / (time.perf_counter() - began)


def run(url: str, label: str, patients: int, events: int, seed: int, repeats: int) -> None:
    upgrade(url)
    print(f"\n== {label}: {patients:,} patients, {events:,} time events ==", flush=True)
    began = time.perf_counter()
    practice_id, insert_rate = build_practice(url, patients, events, seed)
    print(f"load: {time.perf_counter() - began:.1f} s; raw time-event insert "
          f"{insert_rate:,.0f} rows/s", flush=True)
    with Session(get_engine(url), expire_on_commit=False) as session:
        practice = session.get(Practice, practice_id)
        assert practice is not None
        began = time.perf_counter()
        written = rebuild_rollups(session=session, practice=practice, workers=WORKERS)
        session.commit()
        rebuild_s = time.perf_counter() - began
        print(f"rebuild all rollups ({WORKERS} processes): {rebuild_s:.1f} s for {written:,} "
              f"patient-months ({events / rebuild_s:,.0f} events/s; target < 60 s)", flush=True)
    reads = []
    for _ in range(repeats):
        with Session(get_engine(url)) as session:
            practice = session.get(Practice, practice_id)
            began = time.perf_counter()
            via_rollups = team_progress(session=session, practice=practice, month=MONTH)
            reads.append(time.perf_counter() - began)
    with Session(get_engine(url)) as session:
        practice = session.get(Practice, practice_id)
        began = time.perf_counter()
        recomputed = team_progress_from_events(session=session, practice=practice, month=MONTH)
        recompute_s = time.perf_counter() - began
    if via_rollups != recomputed:
        raise SystemExit("rollups and recompute disagree: the figures would be meaningless")
    read_s = statistics.median(reads)
    billable = sum(r.billable_patients for r in via_rollups)
    print(f"team progress via rollups: {read_s * 1000:.1f} ms (median of {repeats}); "
          f"{len(via_rollups)} care managers, {billable:,} billable patients in {MONTH}")
    print(f"team progress recomputed from events: {recompute_s:.2f} s")
    print(f"ratio recompute / rollups: {recompute_s / read_s:,.0f}x (target >= 100x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/bench.db", "SQLite", args.patients, args.events, args.seed,
                args.repeats)
    if args.backend in ("postgresql", "both"):
        name = f"ccm_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except sa.exc.OperationalError as exc:
            print(f"\nPostgreSQL skipped: not reachable ({type(exc).__name__})")
            return 0
        url = sa.engine.make_url(POSTGRES_ADMIN).set(database=name).render_as_string(False)
        try:
            run(url, "PostgreSQL", args.patients, args.events, args.seed, args.repeats)
        finally:
            get_engine(url).dispose()
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
