"""Sync pull cost: a reset, an unchanged pull and a one-patient change, in ms and statements.

The demo practice (`create_demo_practice`) in a fresh database; the care manager with the
largest caseload pulls as her phone does (services/sync_pull.py, the route's own call):
- reset: no cursor, everything built and sent;
- unchanged: the cursor of the previous pull and no write in between (the most common
  pull: a phone polling, or reconnecting with nothing new);
- one patient changed: a one-minute call recorded for one caseload patient, then a pull.
Each figure is the median of several runs; statements are counted with a
`before_cursor_execute` listener (an executemany counts once).

    python bench/sync_pull.py                               # SQLite, 285 patients
    python bench/sync_pull.py --patients 2000 --care-managers 8
    python bench/sync_pull.py --backend postgresql
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from sqlmodel import Session

from ccm_pwa.db import get_engine
from ccm_pwa.migrations import upgrade
from ccm_pwa.models import Activity, EnrollmentStatus, Patient, Role, User
from ccm_pwa.operations.scratch_database import scratch_postgres_database
from ccm_pwa.services.demo_practice import DEMO_TIMEZONE, create_demo_practice
from ccm_pwa.services.sync_pull import pull
from ccm_pwa.services.time_entries import record_time_entry
from tests.support.statements import statements_sent

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class Phone:
    def __init__(self, url: str, user_id: uuid.UUID) -> None:
        self.engine, self.user_id = get_engine(url), user_id
        self.client_id, self.cursor = uuid.uuid4(), None

    def pull(self) -> tuple[float, int, dict[str, Any]]:
        with Session(self.engine) as session:
            user = session.get(User, self.user_id)
            assert user is not None
            session.expunge(user)
        with Session(self.engine) as session, statements_sent(self.engine) as count:
            started = time.perf_counter()
            body = pull(session=session, user=user, client_id=self.client_id,
                        cursor=self.cursor, now=datetime.now(UTC))
            elapsed = (time.perf_counter() - started) * 1000
        self.cursor = body["cursor"]
        return elapsed, len(count), body


def busiest_manager(url: str) -> tuple[uuid.UUID, list[uuid.UUID]]:
    with Session(get_engine(url)) as session:
        rows = session.execute(
            sa.select(User.id, sa.func.count(Patient.id))
            .join(Patient, Patient.care_manager_id == User.id)
            .where(User.role == Role.CARE_MANAGER,
                   Patient.enrollment_status == EnrollmentStatus.ENROLLED)
            .group_by(User.id).order_by(sa.func.count(Patient.id).desc())).all()
        manager = rows[0][0]
        patients = list(session.execute(sa.select(Patient.id).where(
            Patient.care_manager_id == manager,
            Patient.enrollment_status == EnrollmentStatus.ENROLLED)).scalars())
    return manager, patients


def median_of(runs: int, step: Callable[[], tuple[float, int, dict[str, Any]]]
              ) -> tuple[float, int, dict[str, Any]]:
    results = [step() for _ in range(runs)]
    return (statistics.median(r[0] for r in results), results[-1][1], results[-1][2])


def run(url: str, patients: int, care_managers: int, runs: int) -> None:
    upgrade(url)
    zone = ZoneInfo(DEMO_TIMEZONE)
    today = datetime.now(UTC).astimezone(zone).date()
    with Session(get_engine(url)) as session:
        create_demo_practice(session=session, patients=patients, care_managers=care_managers,
                             seed=7, today=today)
        session.commit()
    manager, caseload = busiest_manager(url)

    resets = []
    for _ in range(runs):
        phone = Phone(url, manager)
        resets.append(phone.pull())
    reset_ms = statistics.median(r[0] for r in resets)
    reset_statements, reset_body = resets[-1][1], resets[-1][2]
    unchanged_ms, unchanged_statements, unchanged_body = median_of(runs * 2, phone.pull)
    assert not unchanged_body["puts"], "an unchanged pull sent documents"

    # One-minute calls a minute apart, ten minutes before now: past, never overlapping.
    start = datetime.now(UTC) - timedelta(minutes=10 + 2 * runs)
    calls = iter(range(runs))

    def one_change() -> tuple[float, int, dict[str, Any]]:
        index = next(calls)
        with Session(get_engine(url)) as session:
            performer = session.get(User, manager)
            assert performer is not None
            record_time_entry(session=session, patient_id=caseload[index % len(caseload)],
                              performer=performer, started_at=start + timedelta(minutes=2 * index),
                              duration_seconds=60, activity=Activity.PHONE_CALL_PATIENT)
            session.commit()
        return phone.pull()

    changed_ms, changed_statements, changed_body = median_of(runs, one_change)
    documents = len(reset_body["puts"])
    print(f"{patients} patients, {care_managers} care managers; the busiest caseload "
          f"{len(caseload)} patients, {documents} documents; median of {runs} (unchanged: "
          f"{runs * 2})")
    print(f"reset:               {reset_ms:8.1f} ms  {reset_statements:5d} statements")
    print(f"unchanged:           {unchanged_ms:8.1f} ms  {unchanged_statements:5d} statements")
    print(f"one patient changed: {changed_ms:8.1f} ms  {changed_statements:5d} statements "
          f"(sent: {', '.join(sorted(k.split('/')[0] for k in changed_body['puts']))})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=285)
    parser.add_argument("--care-managers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    print(f"backend: {args.backend}")
    if args.backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            run(f"sqlite:///{directory}/pull.db", args.patients, args.care_managers, args.runs)
    else:
        with scratch_postgres_database(POSTGRES_ADMIN, prefix="ccm_pull") as url:
            run(url, args.patients, args.care_managers, args.runs)


if __name__ == "__main__":
    main()
