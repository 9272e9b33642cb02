"""Sync push throughput: latency of a 100-mutation batch and ingest rate vs raw SQLite.

Target (checklist A24): a 100-mutation batch processed by the server in <= 200 ms.
Everything runs on a fresh file-backed SQLite database (WAL, as the app configures it) in
a temporary directory:
- push latency: `parse_batch` + `push` (validation, caseload and overlap checks, the
  entry, its rollup refresh, the mutation log and audit rows, commit), median and p95;
  and the same batch over real HTTP (granian serving the API, session cookie) if asked;
- statements per push (a `before_cursor_execute` listener on the engine; an executemany
  counts once): the same whatever the batch size (issue 16), for a fresh batch and for
  its replay (every mutation acknowledged as a duplicate);
- replay share: the time of a replayed push (the same body sent again) as a share of the
  fresh push's;
- ingest: N `time_entry.record` mutations in batches of 100, in mutations/s, next to a
  raw `executemany` of equivalent rows into a plain table with time_entry's columns, in
  the same kind of database, committed per 100 — and their ratio (the cost of the
  sync machinery per mutation), printed last as push ingest as a share of raw insert.

    python bench/sync_ingest.py                 # in-process only
    python bench/sync_ingest.py --http          # also over HTTP
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import Session

from ccm_pwa.db import get_engine
from ccm_pwa.migrations import upgrade
from ccm_pwa.models import (
    CarePlan,
    Condition,
    Consent,
    EnrollmentStatus,
    Patient,
    PerformerKind,
    Practice,
    Role,
    User,
)
from ccm_pwa.services.sync_push import parse_batch, push
from tests.support.statements import statements_sent

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)


class _Practice:
    """Care managers with enrolled patients, each nurse's phone pushing her own entries.

    A nurse's entries are 3 minutes long, 45 minutes apart (about 32 a day, a busy but real
    day): the overlap check and the rollup refresh then read what they would in practice.
    """

    def __init__(self, url: str, nurses: int = 10, patients_each: int = 20) -> None:
        self.url = url
        with Session(get_engine(url), expire_on_commit=False) as session:
            practice = Practice(name="Bench", timezone="America/Chicago")
            session.add(practice)
            session.flush()
            doctor = User(practice_id=practice.id, name="Doc", email="doc@bench.example",
                          role=Role.CARE_MANAGER,
                          performer_kind=PerformerKind.BILLING_PRACTITIONER)
            session.add(doctor)
            self.nurses = [User(practice_id=practice.id, name=f"Nurse {n}",
                                email=f"rn{n}@bench.example", role=Role.CARE_MANAGER,
                                must_change_password=False, totp_enrolled_at=NOW)
                           for n in range(nurses)]
            session.add_all(self.nurses)
            session.flush()
            self.patients: list[list[uuid.UUID]] = []
            for n, nurse in enumerate(self.nurses):
                self.patients.append([])
                for i in range(patients_each):
                    patient = Patient(practice_id=practice.id, mrn=f"B{n}-{i}", given_name="P",
                                      family_name=str(i), birth_date=date(1950, 1, 1),
                                      care_manager_id=nurse.id,
                                      billing_practitioner_id=doctor.id,
                                      enrollment_status=EnrollmentStatus.ENROLLED)
                    session.add(patient)
                    session.flush()
                    session.add_all([
                        Condition(patient_id=patient.id, icd10_code="E11.9", description="d"),
                        Condition(patient_id=patient.id, icd10_code="I10", description="h"),
                        Consent(patient_id=patient.id, consented_on=date(2025, 1, 6),
                                obtained_by_id=nurse.id, billing_practitioner_id=doctor.id),
                        CarePlan(patient_id=patient.id, established_on=date(2025, 1, 6),
                                 established_by_id=doctor.id)])
                    self.patients[n].append(patient.id)
            session.commit()
        self.client_ids = [uuid.uuid4() for _ in self.nurses]
        self.next_ids = [1] * nurses
        self.clocks = [datetime(2026, 11, 1, 6, 0, tzinfo=UTC)] * nurses
        self.turn = 0

    def batch(self, size: int) -> tuple[int, dict[str, Any]]:
        """The next nurse's `size` new, non-overlapping entries spread over her caseload."""
        n = self.turn % len(self.nurses)
        self.turn += 1
        mutations = []
        for _ in range(size):
            patients = self.patients[n]
            mutations.append({
                "id": self.next_ids[n], "name": "time_entry.record",
                "occurred_at": NOW.isoformat(),
                "args": {"entry_id": str(uuid.uuid4()),
                         "patient_id": str(patients[self.next_ids[n] % len(patients)]),
                         "started_at": self.clocks[n].isoformat(), "duration_seconds": 180,
                         "activity": "phone_call_patient", "note": "Checked glucose log",
                         "source": "timer"}})
            self.next_ids[n] += 1
            self.clocks[n] += timedelta(minutes=45)
        return n, {"client_id": str(self.client_ids[n]), "schema_version": 1,
                   "mutations": mutations}

    def push(self, nurse: int, body: dict[str, Any],
             statements: list[str] | None = None) -> dict[str, Any]:
        """Parse and push `body` as `nurse`; the push's own statements go to `statements`."""
        with Session(get_engine(self.url), expire_on_commit=False) as session:
            user = session.get(User, self.nurses[nurse].id)
            batch = parse_batch(body)
            with statements_sent(self.url) as seen:
                result = push(session=session, user=user, batch=batch, now=NOW)
            if statements is not None:
                statements.extend(seen)
            return result


def _fresh_database(directory: str, name: str) -> str:
    url = f"sqlite:///{directory}/{name}.db"
    upgrade(url)
    return url


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure_push_latency(batch_size: int = 100, runs: int = 30) -> dict[str, Any]:
    """Milliseconds for one `batch_size` batch: parse, apply, commit (in-process, SQLite);
    then the same body again (a phone that never saw the answer), all duplicates."""
    with tempfile.TemporaryDirectory() as directory:
        world = _Practice(_fresh_database(directory, "latency"))
        for _ in world.nurses:  # warm up caches and the client rows
            world.push(*world.batch(batch_size))
        times, cpu, replays = [], [], []
        statements: list[int] = []
        replay_statements: list[int] = []
        for _ in range(runs):
            nurse, body = world.batch(batch_size)
            seen: list[str] = []
            started, started_cpu = time.perf_counter(), time.process_time()
            result = world.push(nurse, body, seen)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            statements.append(len(seen))
            assert result["last_mutation_id"] == world.next_ids[nurse] - 1
            assert all(r["status"] == "applied" for r in result["results"]), result
            seen = []
            started = time.perf_counter()
            again = world.push(nurse, body, seen)
            replays.append((time.perf_counter() - started) * 1000)
            replay_statements.append(len(seen))
            assert all(r["status"] == "duplicate" for r in again["results"]), again
        get_engine(world.url).dispose()
    return {"batch_size": batch_size, "runs": runs, "median_ms": statistics.median(times),
            "p95_ms": _percentile(times, 0.95), "max_ms": max(times),
            "median_cpu_ms": statistics.median(cpu),
            "statements": sorted(set(statements)),
            "replay_statements": sorted(set(replay_statements)),
            "replay_median_ms": statistics.median(replays),
            "replay_share": statistics.median(replays) / statistics.median(times)}


def measure_statements(sizes: tuple[int, ...] = (1, 10, 100)) -> dict[int, int]:
    """Statements of a fresh push of each size (SQLite), by one nurse whose client row and
    patient-months already exist: a push that also starts a patient-month adds its insert
    (one more statement, whatever the size)."""
    with tempfile.TemporaryDirectory() as directory:
        world = _Practice(_fresh_database(directory, "statements"), nurses=1)
        world.push(*world.batch(len(world.patients[0])))  # every patient has her month
        counts = {}
        for size in sizes:
            seen: list[str] = []
            result = world.push(*world.batch(size), seen)
            assert all(r["status"] == "applied" for r in result["results"]), result
            counts[size] = len(seen)
        get_engine(world.url).dispose()
    return counts


def measure_ingest(mutations: int = 5000, batch_size: int = 100) -> dict[str, Any]:
    """Mutations/s through push, and rows/s of a raw executemany of the same rows."""
    with tempfile.TemporaryDirectory() as directory:
        world = _Practice(_fresh_database(directory, "ingest"))
        batches = [world.batch(batch_size) for _ in range(mutations // batch_size)]
        started = time.perf_counter()
        for nurse, body in batches:
            world.push(nurse, body)
        pushed = time.perf_counter() - started
        get_engine(world.url).dispose()
        raw = _raw_insert(Path(directory) / "raw.db", [body for _n, body in batches])
    push_rate, raw_rate = mutations / pushed, mutations / raw
    return {"mutations": mutations, "batch_size": batch_size,
            "push_mutations_per_s": push_rate, "raw_rows_per_s": raw_rate,
            "raw_over_push": raw_rate / push_rate}


def _raw_insert(path: Path, bodies: list[dict[str, Any]]) -> float:
    """The floor: the same entries as plain rows, one executemany and commit per batch."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE time_entry (id TEXT PRIMARY KEY, patient_id TEXT, performer_id TEXT, "
        "performer_kind TEXT, activity TEXT, note TEXT, started_at TEXT, "
        "duration_seconds INTEGER, source TEXT, occurred_at TEXT, received_at TEXT, "
        "client_id TEXT, mutation_id INTEGER, review_flags TEXT)")
    connection.execute("CREATE INDEX ix_raw_patient ON time_entry (patient_id)")
    connection.execute("CREATE INDEX ix_raw_started ON time_entry (started_at)")
    connection.commit()
    started = time.perf_counter()
    for body in bodies:
        rows = [(m["args"]["entry_id"], m["args"]["patient_id"], "performer", "clinical_staff",
                 m["args"]["activity"], m["args"]["note"], m["args"]["started_at"],
                 m["args"]["duration_seconds"], m["args"]["source"], m["occurred_at"],
                 NOW.isoformat(), body["client_id"], m["id"], "[]")
                for m in body["mutations"]]
        connection.executemany("INSERT INTO time_entry VALUES "
                               "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        connection.commit()
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def measure_http_latency(batch_size: int = 100, runs: int = 20) -> dict[str, Any]:
    """The same batch over HTTP: granian serving the API, a real session cookie."""
    from ccm_pwa.auth.sessions import create_session

    with tempfile.TemporaryDirectory() as directory:
        url = _fresh_database(directory, "http")
        world = _Practice(url)
        with Session(get_engine(url)) as session:
            nurse = session.get(User, world.nurses[0].id)
            cookie = create_session(session=session, user=nurse, now=datetime.now(UTC))
            session.commit()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "CCM_DATABASE_URL": url, "CCM_DATA_DIR": directory}
        granian = str(Path(sys.executable).with_name("granian"))
        process = subprocess.Popen(
            [granian, "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "ccm_pwa.api.asgi:application"], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(base + "/api/v1/health", timeout=1)
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    time.sleep(0.2)

            def send(body: dict[str, Any]) -> dict[str, Any]:
                request = urllib.request.Request(
                    base + "/api/v1/sync/push", data=json.dumps(body).encode(), method="POST",
                    headers={"Content-Type": "application/json",
                             "Cookie": f"ccm_session={cookie}"})
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read())

            def first_nurses_batch() -> dict[str, Any]:
                world.turn = 0  # the cookie is the first nurse's
                return world.batch(batch_size)[1]

            send(first_nurses_batch())
            times = []
            for _ in range(runs):
                body = first_nurses_batch()
                started = time.perf_counter()
                result = send(body)
                times.append((time.perf_counter() - started) * 1000)
                assert result["last_mutation_id"] == world.next_ids[0] - 1
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        get_engine(url).dispose()
    return {"batch_size": batch_size, "runs": runs, "median_ms": statistics.median(times),
            "p95_ms": _percentile(times, 0.95), "max_ms": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--mutations", type=int, default=5000)
    parser.add_argument("--http", action="store_true", help="also measure over HTTP")
    args = parser.parse_args()
    latency = measure_push_latency(runs=args.runs)
    print(f"push of {latency['batch_size']} time_entry.record (in-process, SQLite): "
          f"median {latency['median_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms, "
          f"max {latency['max_ms']:.1f} ms over {latency['runs']} runs (target <= 200 ms); "
          f"median CPU {latency['median_cpu_ms']:.1f} ms")
    counts = measure_statements()
    print("statements per push: "
          + ", ".join(f"{count} for {size} mutation{'s' * (size > 1)}"
                      for size, count in counts.items())
          + f"; {'/'.join(map(str, latency['statements']))} per fresh batch of "
          f"{latency['batch_size']} and {'/'.join(map(str, latency['replay_statements']))} "
          f"per replay over {latency['runs']} runs")
    print(f"replay of the same {latency['batch_size']} (all duplicates): median "
          f"{latency['replay_median_ms']:.1f} ms, {latency['replay_share'] * 100:.1f} % of a "
          "fresh push")
    if args.http:
        http = measure_http_latency(runs=max(5, args.runs // 2))
        print(f"push of {http['batch_size']} over HTTP (granian, SQLite): "
              f"median {http['median_ms']:.1f} ms, p95 {http['p95_ms']:.1f} ms")
    ingest = measure_ingest(mutations=args.mutations)
    print(f"ingest of {ingest['mutations']} mutations in batches of {ingest['batch_size']}: "
          f"{ingest['push_mutations_per_s']:,.0f} mutations/s via push, "
          f"{ingest['raw_rows_per_s']:,.0f} rows/s raw SQLite executemany; "
          f"raw is {ingest['raw_over_push']:.1f}x faster")
    print(f"push ingest as a share of raw insert: {100 / ingest['raw_over_push']:.2f} %")


if __name__ == "__main__":
    main()
