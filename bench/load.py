"""Load: N phones pushing and pulling over HTTP, on 1 and 2 workers, SQLite and PostgreSQL.

For each configuration (backend × workers) a fresh database (a SQLite file in a temporary
directory, or a throw-away PostgreSQL database dropped at the end, also on error or Ctrl-C)
gets a practice: care managers with one or two phones each (N phones in all), each with
`--patients` enrolled patients (consent, two chronic conditions, a care plan, two open
tasks), and one server session per phone. granian serves the API on a free loopback port,
in its own process group, stopped (SIGTERM, then SIGKILL) when the configuration ends.

- Warm-up, not measured: every phone makes its first (reset) pull, one per worker at a time.
- The measured window (`--duration` s): each phone loops: think 10–60 s (seeded,
  `--think`), queue 1–10 new mutations (4 on average) and push its outbox, then pull with
  its cursor. Mostly
  `time_entry.record` (never overlapping its care manager's other time, whichever of her
  phones recorded it), some `note.add`, `task.complete` and `care_plan.update` built from
  what the phone's last pull showed. Mutation ids increase per phone, the client id is the
  phone's for the whole run, and a phone has one request in flight at a time (its own
  connection and session cookie). A failed request (connection error, timeout after
  `--timeout` s, 5xx) counts as an error and is sent once more, unchanged, a think time
  later (a push is idempotent); what still failed stays in the outbox for the next push.
  No request starts after the window; the rates divide by the time until the last one
  in flight ended.
- Per operation: requests/s, mutations/s (new ones, acknowledged applied or rejected),
  p50/p95/p99 latency of the answered (2xx) requests, errors by kind (HTTP status or
  exception), and the exceptions in the server's log. The CPU used meanwhile, in cores:
  by the server's processes, by PostgreSQL's backends of the bench's database, by this
  client, and by the whole machine (the rest, "other", is another job on a shared machine,
  which skews the figures). The phones are closed-loop: once the CPU or a lock is used up,
  latency grows instead of throughput.
- The check: after the window every outbox is drained (pushed again, not measured), then
  the database must hold exactly the time entries whose `time_entry.record` was
  acknowledged `applied` (none lost, none twice, none unacknowledged; one acknowledged only
  as `duplicate` after a lost answer, or by a pull, must be there too), one
  `applied_mutation` row per mutation, and every installation's `last_mutation_id` must
  equal its phone's last id.
- Raw insert speed, with the server stopped: the run's time entries (repeated up to 5,000)
  copied into a plain table with time_entry's columns and indexes (no foreign keys) in the
  same database, by executemany in batches of the run's average push size, committed per
  batch; rows/s, and the run's sync mutations/s ÷ that.

Figures are printed, never asserted.

    python bench/load.py                      # 200 phones, 60 s, sqlite,postgresql × 1,2
    python bench/load.py --think 0.5,3 --duration 30   # stress: every phone syncing non-stop
    python bench/load.py --phones 20 --duration 5 --backends sqlite --workers 1
    python bench/load.py --logs /tmp/load-logs    # keep each server's log
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ccm_pwa.auth.sessions import create_session  # noqa: E402
from ccm_pwa.db import get_engine  # noqa: E402
from ccm_pwa.migrations import upgrade  # noqa: E402
from ccm_pwa.models import (  # noqa: E402
    CarePlan,
    CarePlanElement,
    Condition,
    Consent,
    Patient,
    PerformerKind,
    Practice,
    Role,
    Task,
    User,
)
from ccm_pwa.operations.scratch_database import (  # noqa: E402
    postgres_unavailable_reason,
    scratch_postgres_database,
)

POSTGRES_ADMIN = os.environ.get("CCM_TEST_POSTGRES_URL",
                                "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ZONE = ZoneInfo("America/Chicago")
# Seconds between a phone's syncs. A care manager's phone syncs after each change, on
# returning to the foreground and when the network comes back: every 10–60 s while she
# works is busy. `--think 0.5,3` is the stress case (every phone syncing non-stop).
THINK = (10.0, 60.0)
BATCH_WEIGHTS = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]  # 1..10 mutations per push, 4 on average
KINDS = ["time_entry.record", "note.add", "care_plan.update", "task.complete"]
KIND_WEIGHTS = [70, 15, 8, 7]
WARMUP_PER_WORKER = 1  # reset pulls at a time (more only make SQLite pulls retry)
RAW_MINIMUM_ROWS = 5000
ACTIVITIES = ["phone_call_patient", "phone_call_caregiver", "care_coordination",
              "medication_reconciliation", "records_review", "care_plan_revision"]
CALL_NOTES = ["Reviewed glucose log, fasting readings 140-160", "Daughter helps with pills",
              "Called pharmacy about refill timing", "BP log reviewed, 130s/80s",
              "Discussed low-salt diet and daily weights", "Scheduled cardiology follow-up",
              "", ""]
NOTES = ["Patient reports ankle swelling since Tuesday; advised to weigh daily.",
         "Caregiver asked about transport to dialysis; referred to community services.",
         "Missed two doses of metformin this week; set up pill organizer.",
         "Lives alone, neighbor checks in daily. No falls this month.",
         "Wants to discuss insulin pen with Dr. Osei at next visit."]
GOALS = ["A1c below 8% by March", "Walk 15 minutes 5 days a week", "Weight within 2 lb daily",
         "No ER visits this quarter", "Takes all medications as prescribed"]
CONDITIONS = [("E11.9", "Type 2 diabetes without complications"),
              ("I50.22", "Chronic systolic heart failure"), ("I10", "Essential hypertension"),
              ("J44.9", "COPD, unspecified"), ("N18.31", "Chronic kidney disease, stage 3a")]
GIVEN = ["Rosa", "James", "Mary", "Luis", "Ana", "Robert", "Linda", "Wei", "Fatima", "George"]
FAMILY = ["Garcia", "Smith", "Nguyen", "Johnson", "Okafor", "Brown", "Kowalski", "Lee", "Patel"]
ELEMENTS = [e.value for e in CarePlanElement]


# ---------------------------------------------------------------------------- the practice


@dataclass
class World:
    """Who is who in the seeded practice (ids only: the phones know nothing else)."""

    patients: list[list[uuid.UUID]]  # per care manager
    phone_users: list[int]  # per phone: its care manager
    tokens: list[str]  # per phone: its session cookie

    @property
    def managers(self) -> int:
        return len(self.patients)


def seed(url: str, phones: int, patients_each: int, rng: random.Random) -> World:
    """The practice in one transaction: ORM for the few people, bulk inserts for the rest."""

    def new_id() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    now = datetime.now(UTC)
    devices: list[int] = []  # a care manager has one or two phones
    while sum(devices) < phones:
        devices.append(min(rng.choice((1, 2)), phones - sum(devices)))
    phone_users = [m for m, count in enumerate(devices) for _ in range(count)]
    with Session(get_engine(url), expire_on_commit=False) as session:
        practice = Practice(id=new_id(), name="Lakeside Load", timezone=ZONE.key)
        doctor = User(id=new_id(), practice_id=practice.id, name="Kwame Osei",
                      email="osei@load.example", credential="MD", role=Role.CARE_MANAGER,
                      performer_kind=PerformerKind.BILLING_PRACTITIONER,
                      must_change_password=False, totp_enrolled_at=now)
        managers = [User(id=new_id(), practice_id=practice.id, name=f"Nurse {m:03d}",
                         email=f"rn{m:03d}@load.example", credential="RN",
                         role=Role.CARE_MANAGER, must_change_password=False,
                         totp_enrolled_at=now) for m in range(len(devices))]
        session.add(practice)
        session.flush()
        session.add_all([doctor, *managers])
        session.flush()
        patients: list[list[uuid.UUID]] = [[] for _ in managers]
        rows: dict[Any, list[dict[str, Any]]] = {Patient: [], Condition: [], Consent: [],
                                                 CarePlan: [], Task: []}
        for m, manager in enumerate(managers):
            for p in range(patients_each):
                pid = new_id()
                patients[m].append(pid)
                consented = date(2025, 1, 6) + timedelta(days=rng.randrange(300))
                rows[Patient].append({
                    "id": pid, "practice_id": practice.id, "mrn": f"LD{m:03d}{p:03d}",
                    "given_name": rng.choice(GIVEN), "family_name": rng.choice(FAMILY),
                    "birth_date": date(rng.randint(1936, 1958), rng.randint(1, 12),
                                       rng.randint(1, 28)),
                    "phone": f"+1-312-555-{rng.randrange(10000):04d}",
                    "care_manager_id": manager.id, "billing_practitioner_id": doctor.id,
                    "program": "ccm", "enrollment_status": "enrolled",
                    "last_initiating_visit_on": consented - timedelta(days=14)})
                for code, description in rng.sample(CONDITIONS, 2):
                    rows[Condition].append({"id": new_id(), "patient_id": pid,
                                            "icd10_code": code, "description": description,
                                            "chronic": True, "onset_date": date(2019, 5, 1)})
                rows[Consent].append({
                    "id": new_id(), "patient_id": pid, "consented_on": consented,
                    "method": "written", "disclosed_service": True,
                    "disclosed_cost_sharing": True, "disclosed_one_practitioner": True,
                    "disclosed_stop_anytime": True, "obtained_by_id": manager.id,
                    "billing_practitioner_id": doctor.id, "program": "ccm"})
                rows[CarePlan].append({"id": new_id(), "patient_id": pid,
                                       "established_on": consented,
                                       "established_by_id": doctor.id,
                                       "copy_given_on": consented, "copy_given_method": "mail"})
                for t, (title, due) in enumerate([("Call about BP log", -2),
                                                  ("Confirm cardiology follow-up", 5)]):
                    rows[Task].append({"id": new_id(), "patient_id": pid,
                                       "owner_id": manager.id, "title": title,
                                       "priority": "urgent" if t == 0 else "routine",
                                       "due_at": now + timedelta(days=due),
                                       "created_at": now - timedelta(days=10)})
        for model, batch in rows.items():
            session.execute(sa.insert(model.__table__), batch)
        tokens = [create_session(session=session, user=managers[m], now=now,
                                 client_label=f"load phone {i}")
                  for i, m in enumerate(phone_users)]
        session.commit()
    return World(patients, phone_users, tokens)


# ---------------------------------------------------------------------------- databases


def postgres_unavailable() -> str | None:
    return postgres_unavailable_reason(POSTGRES_ADMIN)


@contextmanager
def fresh_database(backend: str, directory: str) -> Iterator[str]:
    """A migrated, empty database; a PostgreSQL one is dropped at the end, whatever happens."""
    if backend == "sqlite":
        url = f"sqlite:///{directory}/load.db"
        try:
            upgrade(url)
            yield url
        finally:
            get_engine(url).dispose()
        return
    with scratch_postgres_database(POSTGRES_ADMIN, prefix="ccm_load") as url:
        upgrade(url)
        yield url


# ---------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(url: str, workers: int, directory: str, log_path: Path) -> Iterator[tuple[str, int]]:
    """granian serving the API on a free loopback port; (base URL, process group id)."""
    port = _free_port()
    env = {**os.environ, "CCM_DATABASE_URL": url, "CCM_DATA_DIR": directory,
           "CCM_REMINDERS": "off"}
    granian = str(Path(sys.executable).with_name("granian"))
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [granian, "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers), "ccm_pwa.api.asgi:application"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"granian exited:\n{log_path.read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(base + "/api/v1/health", timeout=2) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.2)
            yield base, process.pid
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to exactly the server's process group, SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _cpu_ticks(pgrp: int | None, database: str | None) -> dict[int, int]:
    """utime + stime per process of process group `pgrp`, or per PostgreSQL backend serving
    `database` (its title names the database: other sessions' databases are not counted)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
            if database is not None:
                title = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            continue
        fields = text[text.rindex(")") + 2:].split()
        if (pgrp is not None and int(fields[2]) == pgrp) or (
                database is not None and title.startswith("postgres:")
                and f" {database} " in title):
            found[int(entry.name)] = int(fields[11]) + int(fields[12])
    return found


def _machine_ticks() -> int:
    """Busy ticks of the whole machine, all cores (/proc/stat: all but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values[:8]) - values[3] - values[4]


class CpuMeter:
    """Cores used between start() and stop() by the server, by PostgreSQL's backends of the
    bench's database, by this process, and by the whole machine (the rest is someone else)."""

    def __init__(self, server_pgrp: int, database: str | None) -> None:
        self.pgrp, self.database = server_pgrp, database
        self.tick = os.sysconf("SC_CLK_TCK")

    def _postgres(self) -> dict[int, int]:
        return _cpu_ticks(None, self.database) if self.database else {}

    def start(self) -> None:
        self.server, self.postgres = _cpu_ticks(self.pgrp, None), self._postgres()
        self.machine = _machine_ticks()
        self.client, self.wall = time.process_time(), time.perf_counter()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall

        def cores(before: dict[int, int], after: dict[int, int]) -> float:
            used = sum(ticks - before.get(pid, 0) for pid, ticks in after.items())
            return used / self.tick / wall

        return {"server": cores(self.server, _cpu_ticks(self.pgrp, None)),
                "postgres": cores(self.postgres, self._postgres()),
                "client": (time.process_time() - self.client) / wall,
                "machine": (_machine_ticks() - self.machine) / self.tick / wall}


# ---------------------------------------------------------------------------- the phones


@dataclass
class OpStats:
    latencies: list[float] = field(default_factory=list)  # ms, answered requests
    errors: Counter[str] = field(default_factory=Counter)
    mutations: int = 0  # new mutations acknowledged (pushes)
    resets: int = 0  # pulls answered with reset: true


@dataclass
class Phone:
    """One installation: its outbox, cursor, and what its pulls showed it."""

    index: int
    user: int
    client_id: uuid.UUID
    rng: random.Random
    http: httpx.AsyncClient | None = None
    next_id: int = 1
    outbox: list[dict[str, Any]] = field(default_factory=list)
    cursor: str | None = None
    versions: dict[tuple[str, str], int] = field(default_factory=dict)  # (patient, element)
    open_tasks: dict[str, set[str]] = field(default_factory=dict)  # patient -> task ids
    entries: dict[int, str] = field(default_factory=dict)  # mutation id -> entry id
    told: dict[int, str] = field(default_factory=dict)  # mutation id -> what it was told


class Run:
    """Everything the phones share: the world, their care managers' clocks, the figures."""

    def __init__(self, world: World, workers: int, seed: int, timeout: float) -> None:
        self.base, self.world, self.workers, self.timeout = "", world, workers, timeout
        rng = random.Random(seed)
        self.phones = [Phone(i, user, uuid.UUID(int=rng.getrandbits(128), version=4),
                             random.Random(f"{seed}:{i}"))
                       for i, user in enumerate(world.phone_users)]
        # Each care manager's next free minute: her entries never overlap, whichever phone.
        first = datetime.now(ZONE).replace(day=1, hour=8, minute=0, second=0, microsecond=0)
        self.clocks = [first] * world.managers
        self.push, self.pull, self.warmup, self.drained = (OpStats(), OpStats(), OpStats(),
                                                           OpStats())
        self.outcomes: Counter[tuple[str, str]] = Counter()  # (name, status)
        self.reasons: Counter[str] = Counter()

    # ------------------------------------------------------------------ mutations

    def queue(self, phone: Phone, count: int) -> None:
        """`count` new mutations, as the care manager's work on this phone would make them."""
        rng, now = phone.rng, datetime.now(UTC)
        own = [str(p) for p in self.world.patients[phone.user]]
        for _ in range(count):
            kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
            with_tasks = [p for p, tasks in phone.open_tasks.items() if tasks]
            if kind == "task.complete" and not with_tasks:
                kind = "note.add"
            patient = rng.choice(own)
            if kind == "time_entry.record":
                entry_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                started, seconds = self._next_slot(phone.user, rng)
                args: dict[str, Any] = {
                    "entry_id": entry_id, "patient_id": patient,
                    "started_at": started.isoformat(), "duration_seconds": seconds,
                    "activity": rng.choice(ACTIVITIES), "note": rng.choice(CALL_NOTES),
                    "source": "timer" if rng.random() < 0.6 else "manual"}
                phone.entries[phone.next_id] = entry_id
            elif kind == "note.add":
                args = {"note_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "patient_id": patient, "body": rng.choice(NOTES)}
            elif kind == "care_plan.update":
                changes = []
                for element in rng.sample(ELEMENTS, rng.choice((1, 1, 2, 3))):
                    base = phone.versions.get((patient, element), 0)
                    phone.versions[(patient, element)] = base + 1  # the phone's own copy
                    changes.append({"element": element, "base_version": base,
                                    "value": rng.sample(GOALS, 2)})
                args = {"patient_id": patient, "changes": changes}
            else:
                patient = rng.choice(with_tasks)
                task = rng.choice(sorted(phone.open_tasks[patient]))
                phone.open_tasks[patient].discard(task)
                args = {"task_id": task}
            phone.outbox.append({"id": phone.next_id, "name": kind,
                                 "occurred_at": now.isoformat(), "args": args})
            phone.next_id += 1

    def _next_slot(self, user: int, rng: random.Random) -> tuple[datetime, int]:
        """A call or a stretch of coordination: 2–30 min, then a gap, working hours only."""
        start = self.clocks[user]
        seconds = rng.randint(2, 30) * 60 + rng.randrange(60)
        following = start + timedelta(seconds=seconds + rng.randint(1, 15) * 60)
        if following.hour >= 18:
            following = (following + timedelta(days=1)).replace(hour=8, minute=0)
        self.clocks[user] = following
        return start, seconds

    # ------------------------------------------------------------------ requests

    async def _attempt(self, stats: OpStats, label: str,
                       send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response | None:
        """One request; None when it failed in a way worth sending again (network, 5xx)."""
        started = time.perf_counter()
        try:
            response = await send()
        except httpx.HTTPError as exc:
            stats.errors[f"{label} {type(exc).__name__}"] += 1
            return None
        if response.status_code >= 500:
            stats.errors[f"{label} HTTP {response.status_code}"] += 1
            return None
        if response.status_code != 200:
            stats.errors[f"{label} HTTP {response.status_code}"] += 1
        else:
            stats.latencies.append((time.perf_counter() - started) * 1000)
        return response

    async def _request(self, phone: Phone, stats: OpStats, label: str,
                       send: Callable[[], Awaitable[httpx.Response]],
                       deadline: float) -> httpx.Response | None:
        """The request, and once more, unchanged, a think time later if it failed (unless
        that is after the window: the drain sends what is left)."""
        response = await self._attempt(stats, label, send)
        if response is None:
            pause = phone.rng.uniform(*THINK)
            if time.monotonic() + pause < deadline:
                await asyncio.sleep(pause)
                response = await self._attempt(stats, label, send)
        return response

    async def push_outbox(self, phone: Phone, stats: OpStats, deadline: float) -> None:
        if not phone.outbox:
            return
        assert phone.http is not None
        body = {"client_id": str(phone.client_id), "schema_version": 1,
                "client_time": datetime.now(UTC).isoformat(), "mutations": list(phone.outbox)}
        response = await self._request(phone, stats, "push", lambda: phone.http.post(
            "/api/v1/sync/push", json=body), deadline)
        if response is None:
            return
        answer = response.json()
        if response.status_code == 200:
            names = {m["id"]: m["name"] for m in body["mutations"]}
            for result in answer["results"]:
                status = result["status"]
                if status == "duplicate":
                    phone.told.setdefault(result["id"], status)
                    continue
                phone.told[result["id"]] = status
                stats.mutations += 1
                self.outcomes[(names[result["id"]], status)] += 1
                if status == "rejected":
                    self.reasons[f"{names[result['id']]}: {result.get('reason', '')[:60]}"] += 1
        if "last_mutation_id" in answer:  # 200, or a 409 saying where to resume
            self._acknowledge(phone, int(answer["last_mutation_id"]), "acknowledged")

    async def pull_changes(self, phone: Phone, stats: OpStats, deadline: float) -> None:
        assert phone.http is not None
        params = {"client_id": str(phone.client_id)}
        if phone.cursor is not None:
            params["cursor"] = phone.cursor
        response = await self._request(phone, stats, "pull", lambda: phone.http.get(
            "/api/v1/sync/pull", params=params), deadline)
        if response is None or response.status_code != 200:
            return
        answer = response.json()
        if answer["reset"]:
            phone.versions.clear()
            phone.open_tasks.clear()
            stats.resets += 1
        for key in answer["deletes"]:
            phone.open_tasks.pop(key.removeprefix("patient/"), None)
        for key, doc in answer["puts"].items():
            if key.startswith("patient/"):
                self._learn(phone, key.removeprefix("patient/"), doc)
        phone.cursor = answer["cursor"]
        self._acknowledge(phone, int(answer["last_mutation_id"]), "pulled")

    def _learn(self, phone: Phone, patient: str, doc: dict[str, Any]) -> None:
        """What the next edits build on: care-plan versions and the open tasks."""
        phone.open_tasks[patient] = {t["id"] for t in doc["tasks"]
                                     if t["status"] in ("ready", "in_progress")}
        elements = (doc.get("care_plan") or {}).get("elements") or {}
        for element, value in elements.items():
            phone.versions[(patient, element)] = int(value.get("version") or 0)

    def _acknowledge(self, phone: Phone, upto: int, how: str) -> None:
        for mutation in phone.outbox:
            if mutation["id"] <= upto:
                phone.told.setdefault(mutation["id"], how)
        phone.outbox = [m for m in phone.outbox if m["id"] > upto]

    # ------------------------------------------------------------------ the phone's day

    async def warm_up(self, phone: Phone, gate: asyncio.Semaphore) -> None:
        async with gate:
            await self.pull_changes(phone, self.warmup, float("inf"))

    async def work(self, phone: Phone, deadline: float) -> None:
        """Rounds of think, push, pull; none starts after the deadline, and a round that
        reaches it finishes its request in flight and stops."""
        while True:
            think = phone.rng.uniform(*THINK)
            # A think that would end after the window ends with it: idle time after the
            # deadline would otherwise count in the rates' denominator.
            await asyncio.sleep(min(think, max(0.0, deadline - time.monotonic())))
            if time.monotonic() >= deadline:
                return
            self.queue(phone, phone.rng.choices(range(1, 11), BATCH_WEIGHTS)[0])
            await self.push_outbox(phone, self.push, deadline)
            if time.monotonic() >= deadline:
                return
            await self.pull_changes(phone, self.pull, deadline)

    async def drain(self, phone: Phone) -> None:
        """After the window: what a failure left in the outbox goes, for the check."""
        for _ in range(3):
            if not phone.outbox:
                return
            await self.push_outbox(phone, self.drained, float("inf"))


async def drive(run: Run, duration: float, meter: CpuMeter) -> dict[str, Any]:
    """Warm-up, the measured window, the drain; the window's elapsed time and CPU."""
    timeout = httpx.Timeout(run.timeout, connect=10)
    async with AsyncExitStack() as stack:
        for phone, token in zip(run.phones, run.world.tokens, strict=True):
            phone.http = await stack.enter_async_context(httpx.AsyncClient(
                base_url=run.base, cookies={"ccm_session": token}, timeout=timeout,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                headers={"User-Agent": f"ccm-load-phone/{phone.index}"}))
        started = time.perf_counter()
        gate = asyncio.Semaphore(WARMUP_PER_WORKER * run.workers)
        await asyncio.gather(*(run.warm_up(phone, gate) for phone in run.phones))
        warmup = time.perf_counter() - started
        meter.start()
        started = time.perf_counter()
        deadline = time.monotonic() + duration
        await asyncio.gather(*(run.work(phone, deadline) for phone in run.phones))
        elapsed = time.perf_counter() - started
        cpu = meter.stop()
        await asyncio.gather(*(run.drain(phone) for phone in run.phones))
    return {"warmup_s": warmup, "elapsed_s": elapsed, "cpu": cpu}


# ---------------------------------------------------------------------------- the check


def check(url: str, phones: list[Phone]) -> dict[str, Any]:
    """The database against what the phones were told (see the module doc)."""
    told_applied, uncertain, told_rejected = set(), set(), set()
    for phone in phones:
        for mutation_id, entry_id in phone.entries.items():
            told = phone.told.get(mutation_id)
            if told == "applied":
                told_applied.add(entry_id)
            elif told == "rejected":
                told_rejected.add(entry_id)
            else:  # "duplicate" after a lost answer, only pulled, or never sent
                uncertain.add(entry_id)
    with get_engine(url).connect() as connection:
        entries = connection.execute(sa.text(
            "SELECT id, client_id, mutation_id FROM time_entry")).all()
        log = connection.execute(sa.text(
            "SELECT count(*), count(DISTINCT client_id || ':' || mutation_id) "
            "FROM applied_mutation")).one()
        last_ids = dict(connection.execute(sa.text(
            "SELECT id, last_mutation_id FROM sync_client")).all())
    stored = {str(uuid.UUID(str(row[0]))) for row in entries}
    by_client = {str(uuid.UUID(str(key))): value for key, value in last_ids.items()}
    queued = sum(phone.next_id - 1 for phone in phones)
    return {
        "stored": len(stored), "told_applied": len(told_applied),
        "lost": len(told_applied - stored),
        "unexpected": len(stored - told_applied - uncertain),
        "rejected_but_stored": len(told_rejected & stored),
        "uncertain": len(uncertain), "uncertain_stored": len(uncertain & stored),
        "entry_twice": len(entries) - len({(row[1], row[2]) for row in entries}),
        "log_rows": log[0], "log_distinct": log[1], "queued": queued,
        "behind": sum(1 for p in phones
                      if by_client.get(str(p.client_id), 0) != p.next_id - 1),
        "stuck": sum(len(p.outbox) for p in phones),
    }


def check_ok(c: dict[str, Any]) -> bool:
    return (c["lost"] == c["unexpected"] == c["rejected_but_stored"] == c["entry_twice"]
            == c["behind"] == c["stuck"] == 0 and c["uncertain"] == c["uncertain_stored"]
            and c["log_rows"] == c["log_distinct"] == c["queued"])


# ---------------------------------------------------------------------------- raw inserts


def raw_insert(url: str, batch: int) -> dict[str, Any]:
    """rows/s of executemany into a plain copy of time_entry, committed per `batch` rows."""
    if url.startswith("sqlite"):
        connection: Any = sqlite3.connect(url.split("///", 1)[1])
        connection.execute("PRAGMA synchronous=NORMAL")  # as the app's connections (WAL)
        ddl = connection.execute("SELECT sql FROM sqlite_master WHERE tbl_name = 'time_entry' "
                                 "AND sql IS NOT NULL ORDER BY type DESC").fetchall()
        for (statement,) in ddl:  # the table, then its indexes
            connection.execute(statement.replace("time_entry", "raw_time_entry"))
        marker = "?"
    else:
        import psycopg
        from psycopg.types.json import Json

        target = sa.engine.make_url(url)
        connection = psycopg.connect(host=target.host, port=target.port, user=target.username,
                                     dbname=target.database)
        connection.execute("CREATE TABLE raw_time_entry (LIKE time_entry INCLUDING ALL)")
        marker = "%s"
    connection.commit()
    cursor = connection.cursor()
    cursor.execute("SELECT * FROM time_entry")
    columns = [d[0] for d in cursor.description]
    found = cursor.fetchall()
    if not found:
        connection.close()
        return {"rows": 0, "rows_per_s": 0.0, "batch": batch}
    key = columns.index("id")
    rows = []
    while len(rows) < max(RAW_MINIMUM_ROWS, len(found)):
        for row in found:
            values = list(row)
            fresh = uuid.uuid4()
            values[key] = fresh.hex if isinstance(row[key], str) else fresh
            if marker == "%s":
                values = [Json(v) if isinstance(v, list | dict) else v for v in values]
            rows.append(tuple(values))
    statement = (f"INSERT INTO raw_time_entry ({', '.join(columns)}) "
                 f"VALUES ({', '.join([marker] * len(columns))})")
    started = time.perf_counter()
    for i in range(0, len(rows), batch):
        cursor.executemany(statement, rows[i:i + batch])
        connection.commit()
    elapsed = time.perf_counter() - started
    connection.close()
    return {"rows": len(rows), "rows_per_s": len(rows) / elapsed, "batch": batch}


# ---------------------------------------------------------------------------- reporting


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _other_cpu(cpu: dict[str, float]) -> float:
    """Cores the rest of the machine used (another job on a shared machine skews the run)."""
    return max(0.0, cpu["machine"] - cpu["server"] - cpu["postgres"] - cpu["client"])


def _errors(errors: Counter[str]) -> str:
    return ", ".join(f"{kind} ×{n}" for kind, n in errors.most_common()) or "none"


def server_errors(log_path: Path) -> Counter[str]:
    """The exceptions the server logged (the last line of each traceback)."""
    found: Counter[str] = Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        match = re.match(r"^([\w.]+(?:Error|Exception|Timeout)\w*): (.*)", line)
        if match:
            found[f"{match.group(1)}: {match.group(2)[:90]}"] += 1
    return found


def run_configuration(backend: str, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    title = f"{backend} × {workers} worker{'s' if workers > 1 else ''}"
    print(f"\n== {title}: {args.phones} phones, {args.duration:g} s ==", flush=True)
    with tempfile.TemporaryDirectory(prefix="ccm_load_") as directory, \
            fresh_database(backend, directory) as url:
        started = time.perf_counter()
        world = seed(url, args.phones, args.patients, random.Random(args.seed))
        get_engine(url).dispose()
        print(f"seeded {world.managers} care managers (1–2 phones each), "
              f"{world.managers * args.patients:,} patients, {args.phones} sessions in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        log_path = Path(directory) / "server.log"
        run = Run(world, workers, args.seed, args.timeout)
        with serve(url, workers, directory, log_path) as (base, pgrp):
            run.base = base
            database = None if backend == "sqlite" else sa.engine.make_url(url).database
            timing = asyncio.run(drive(run, args.duration, CpuMeter(pgrp, database)))
        logged = server_errors(log_path)
        if args.logs:
            Path(args.logs).mkdir(parents=True, exist_ok=True)
            shutil.copy(log_path, Path(args.logs) / f"{backend}-{workers}w.log")
        verdict = check(url, run.phones)
        pushes = len(run.push.latencies)
        average_batch = run.push.mutations / pushes if pushes else 1.0
        raw = raw_insert(url, max(1, round(average_batch)))
    elapsed = timing["elapsed_s"]
    result = {"title": title, "elapsed": elapsed, "duration": args.duration, "run": run,
              "timing": timing, "check": verdict, "raw": raw, "logged": logged,
              "average_batch": average_batch,
              "push_rps": pushes / elapsed, "mut_rps": run.push.mutations / elapsed,
              "pull_rps": len(run.pull.latencies) / elapsed}
    report(result)
    return result


def report(r: dict[str, Any]) -> None:
    run, timing, c, raw = r["run"], r["timing"], r["check"], r["raw"]
    warm = run.warmup.latencies
    print(f"warm-up: {len(warm)} reset pulls, {WARMUP_PER_WORKER * run.workers} at a time, in "
          f"{timing['warmup_s']:.1f} s (p50 {percentile(warm, .5):.0f} ms, "
          f"p95 {percentile(warm, .95):.0f} ms); errors: {_errors(run.warmup.errors)}")
    print(f"window: new rounds for {r['duration']:g} s, the last one ended after "
          f"{r['elapsed']:.1f} s (the rates below divide by that)")
    for name, stats, rate in (("push", run.push, r["push_rps"]), ("pull", run.pull,
                                                                   r["pull_rps"])):
        extra = (f", {stats.mutations:,} mutations = {r['mut_rps']:,.0f}/s "
                 f"({r['average_batch']:.1f}/push)" if name == "push"
                 else f" ({stats.resets} resets)")
        print(f"{name}: {len(stats.latencies):,} answered = {rate:,.1f}/s{extra}; latency "
              f"p50 {percentile(stats.latencies, .5):,.0f} / p95 "
              f"{percentile(stats.latencies, .95):,.0f} / p99 "
              f"{percentile(stats.latencies, .99):,.0f} ms; errors: {_errors(stats.errors)}")
    outcomes = Counter[str]()
    for (name, status), n in run.outcomes.items():
        outcomes[f"{name} {status}"] += n
    print("mutations: " + ", ".join(f"{k} {n:,}" for k, n in sorted(outcomes.items())))
    if run.reasons:
        print("rejections: " + "; ".join(f"{k} ×{n}" for k, n in run.reasons.most_common(3)))
    cpu = timing["cpu"]
    cpu = timing["cpu"]
    print(f"CPU in the window (cores of {os.cpu_count()}): server {cpu['server']:.2f}, "
          f"PostgreSQL (this database) {cpu['postgres']:.2f}, this client "
          f"{cpu['client']:.2f}; whole machine {cpu['machine']:.2f}, so other processes "
          f"{_other_cpu(cpu):.2f}")
    print(f"drain after the window: {len(run.drained.latencies)} pushes; errors: "
          f"{_errors(run.drained.errors)}")
    print(f"server log: {_errors(r['logged']) if r['logged'] else 'no exceptions'}")
    print(f"check: {c['stored']:,} time entries stored, {c['told_applied']:,} "
          f"time_entry.record acknowledged applied; lost {c['lost']}, unacknowledged "
          f"{c['unexpected']}, rejected yet stored {c['rejected_but_stored']}, twice "
          f"{c['entry_twice']}; {c['uncertain']} answered only as duplicate/by a pull "
          f"({c['uncertain_stored']} stored); applied_mutation {c['log_rows']:,} rows, "
          f"{c['log_distinct']:,} distinct, {c['queued']:,} queued; installations behind "
          f"{c['behind']}, left in outboxes {c['stuck']} → "
          f"{'OK' if check_ok(c) else 'MISMATCH'}")
    if raw["rows"]:
        print(f"raw executemany: {raw['rows']:,} time_entry rows in batches of {raw['batch']}"
              f", a commit each: {raw['rows_per_s']:,.0f} rows/s; sync {r['mut_rps']:,.0f} "
              f"mutations/s = {r['mut_rps'] / raw['rows_per_s']:.2%} of raw")


def summary(results: list[dict[str, Any]], skipped: list[str]) -> None:
    print("\n" + " | ".join(["configuration         ", " push/s", " mut/s",
                              "push p50/p95/p99 ms", " pull/s", "pull p50/p95/p99 ms",
                              "errors", "srv+pg CPU", "other CPU", "raw rows/s", " ratio",
                              "check"]))
    for r in results:
        run, cpu = r["run"], r["timing"]["cpu"]
        errors = sum(run.push.errors.values()) + sum(run.pull.errors.values())

        def lat(stats: OpStats) -> str:
            return "/".join(f"{percentile(stats.latencies, q):,.0f}" for q in (.5, .95, .99))

        raw = r["raw"]["rows_per_s"]
        print(" | ".join([f"{r['title']:<22}", f"{r['push_rps']:7.1f}", f"{r['mut_rps']:6.0f}",
                          f"{lat(run.push):>19}", f"{r['pull_rps']:7.1f}",
                          f"{lat(run.pull):>19}", f"{errors:6d}",
                          f"{cpu['server'] + cpu['postgres']:10.2f}",
                          f"{_other_cpu(cpu):9.2f}",
                          f"{raw:10,.0f}",
                          f"{r['mut_rps'] / raw if raw else 0:6.2%}",
                          "OK" if check_ok(r["check"]) else "MISMATCH"]))
    for line in skipped:
        print(line)


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C: server stopped, database dropped


def main() -> None:
    global THINK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--phones", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per configuration")
    parser.add_argument("--think", default=f"{THINK[0]:g},{THINK[1]:g}",
                        help="MIN,MAX seconds between a phone's syncs (stress: 0.5,3)")
    parser.add_argument("--patients", type=int, default=40, help="per care manager")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--logs", help="keep each server's log in this directory")
    args = parser.parse_args()
    try:
        low, high = (float(part) for part in args.think.split(","))
    except ValueError:
        parser.error(f"--think must be MIN,MAX seconds, got {args.think!r}")
    THINK = (low, high)
    signal.signal(signal.SIGTERM, _interrupt)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    skipped = []
    if "postgresql" in backends and (reason := postgres_unavailable()):
        skipped.append(f"postgresql skipped: {reason}")
        print(skipped[-1])
        backends.remove("postgresql")
    print(f"{args.phones} phones, think {THINK[0]}–{THINK[1]} s, 1–10 mutations per push, "
          f"{args.duration:g} s per configuration, seed {args.seed}; {os.cpu_count()} CPUs")
    try:
        results = [run_configuration(backend, n, args) for backend in backends for n in workers]
    except KeyboardInterrupt:
        print("\ninterrupted: the server was stopped and the database removed", file=sys.stderr)
        raise SystemExit(130) from None
    summary(results, skipped)


if __name__ == "__main__":
    main()
