"""Deterministic simulation of phones syncing with the real server (checklist A16).

Modelled on the Yjs randomized harness and Jepsen's end-of-test protocol: one seeded
`random.Random` drives a dozen phones (several per care manager) against the real
`parse_batch`/`push` and `pull` service functions and a real database, through an
in-memory network that drops, duplicates and reorders messages, while phones crash and
their clocks are skewed by up to a day. Then every fault heals, every phone drains its
outbox and pulls until nothing changes, and the invariants are checked:

(a) no acknowledged mutation is lost, and its effect exists;
(b) nothing is applied twice (rows, audit, rollups);
(c) every phone's snapshot equals a fresh reset pull for its user;
(d) each patient-month's minutes equal the accepted, non-voided entries' seconds / 60,
    in the rollup, the worklist and the patient record alike;
(e) every rejection reaches its author (a push result it received, or its pull);
(f) a phone's last_mutation_id never goes backwards across pulls.

Everything a run does is a function of the seed, so a failure prints the seed and
`CCM_SIM_SEED=<seed>` replays exactly that run. Both pytest (tests/db/test_sync_simulation.py)
and bench/sync_simulation.py import this module.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.db import get_engine
from ccm_pwa.domain.calendar import local_month, month_bounds, split_by_month
from ccm_pwa.models import (
    AppliedMutation,
    AuditEvent,
    CarePlan,
    CarePlanConflict,
    CarePlanElement,
    CarePlanRevision,
    Condition,
    Consent,
    EnrollmentStatus,
    MutationOutcome,
    Note,
    Patient,
    PatientMonth,
    PerformerKind,
    Practice,
    Role,
    SyncClient,
    Task,
    TaskStatus,
    TimeEntry,
    TimeEntryVoid,
    User,
)
from ccm_pwa.services import sync_push

ZONE_NAME = "America/Chicago"
ACTIVITIES = ("phone_call_patient", "care_coordination", "medication_reconciliation",
              "records_review")
ELEMENTS = tuple(e.value for e in CarePlanElement)

PushFn = Callable[..., dict[str, Any]]
PullFn = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class SimConfig:
    """The size of one run; small worlds, many seeds find more than one big world."""

    managers: int = 3
    devices: tuple[int, int] = (3, 4)  # phones per care manager, inclusive range
    patients_per_manager: int = 2
    steps: int = 80
    skewed_share: float = 0.35  # phones whose clock is off by up to ±24 h


@dataclass
class Message:
    kind: str  # push | push_response | pull | pull_response
    phone: int
    incarnation: int
    body: Any
    status: int = 200
    seq: int = 0


@dataclass
class Phone:
    """One installation: durable outbox and snapshot (IndexedDB), volatile send state."""

    index: int
    client_id: uuid.UUID
    user_id: uuid.UUID
    manager: int
    skew: timedelta
    # durable: survives a crash
    next_id: int = 1
    outbox: list[dict[str, Any]] = field(default_factory=list)
    snapshot: dict[str, Any] = field(default_factory=dict)
    cursor: str | None = None
    pulled_lmid: int = 0
    recorded: list[str] = field(default_factory=list)  # entry ids this phone recorded
    # volatile: lost in a crash
    incarnation: int = 0
    sent_upto: int = 0
    pull_seq: int = 0
    pull_inflight: bool = False


@dataclass
class SimResult:
    seed: int
    violations: list[str]
    log: list[str]
    stats: Counter[str]

    @property
    def ok(self) -> bool:
        return not self.violations

    def report(self, tail: int = 40) -> str:
        lines = [f"seed={self.seed}: {len(self.violations)} invariant violation(s); replay "
                 f"with CCM_SIM_SEED={self.seed}", *(f"  - {v}" for v in self.violations[:20]),
                 f"last {tail} steps:", *(f"  {line}" for line in self.log[-tail:])]
        return "\n".join(lines)


def default_pull() -> PullFn:
    from ccm_pwa.services.sync_pull import pull

    return pull


class Server:
    """The server as a phone sees it: one fresh session per request, JSON on the wire."""

    def __init__(self, db_url: str, push: PushFn | None = None,
                 pull: PullFn | None = None) -> None:
        self.engine = get_engine(db_url)
        self.push_fn = push or sync_push.push
        self.pull_fn = pull or default_pull()
        self.errors: list[str] = []
        self._users: dict[uuid.UUID, User] = {}

    def user(self, user_id: uuid.UUID) -> User:
        """The signed-in user as a route has it: read once, in a session of its own."""
        if user_id not in self._users:
            with Session(self.engine, expire_on_commit=False) as session:
                user = session.get(User, user_id)
                assert user is not None
                session.expunge(user)
                self._users[user_id] = user
        return self._users[user_id]

    def push(self, user_id: uuid.UUID, body: dict[str, Any], now: datetime
             ) -> tuple[int, dict[str, Any]]:
        wire = json.loads(json.dumps(body))
        user = self.user(user_id)
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                batch = sync_push.parse_batch(wire)
                result = self.push_fn(session=session, user=user, batch=batch, now=now)
            except sync_push.SyncError as exc:
                content: dict[str, Any] = {"error": exc.code, "detail": exc.detail}
                if exc.last_mutation_id is not None:
                    content["last_mutation_id"] = exc.last_mutation_id
                return exc.status, content
            except Exception as exc:  # a 500: recorded as a violation, the phone retries
                self.errors.append(f"push raised {type(exc).__name__}: {exc}"[:300])
                return 500, {"error": "internal"}
        return 200, json.loads(json.dumps(result, default=str))

    def pull(self, user_id: uuid.UUID, client_id: uuid.UUID, cursor: str | None,
             now: datetime) -> tuple[int, dict[str, Any]]:
        user = self.user(user_id)
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                result = self.pull_fn(session=session, user=user, client_id=client_id,
                                      cursor=cursor, now=now, client=f"sim {client_id}")
                session.commit()
            except Exception as exc:
                session.rollback()
                self.errors.append(f"pull raised {type(exc).__name__}: {exc}"[:300])
                return 500, {"error": "internal"}
        return 200, json.loads(json.dumps(result, default=str))


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def next(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


@dataclass
class World:
    practice_id: uuid.UUID
    managers: list[uuid.UUID]
    patients: dict[int, list[uuid.UUID]]  # manager index -> patient ids
    tasks: dict[uuid.UUID, list[uuid.UUID]]  # patient -> task ids
    zone: ZoneInfo
    start: datetime  # the server clock at step 0


def build_world(session: Session, rng: random.Random, config: SimConfig) -> World:
    """A practice of its own per run (ids from the seed), so runs share one database."""
    ids = _Ids(rng)
    zone = ZoneInfo(ZONE_NAME)
    tag = ids.next().hex[:10]
    practice = Practice(id=ids.next(), name=f"Sim {tag}", timezone=ZONE_NAME)
    session.add(practice)
    session.flush()
    doctor = User(id=ids.next(), practice_id=practice.id, name="Dr. Sim", credential="MD",
                  email=f"dr.{tag}@sim.example", role=Role.CARE_MANAGER,
                  performer_kind=PerformerKind.BILLING_PRACTITIONER)
    session.add(doctor)
    managers, patients, tasks = [], {}, {}
    for m in range(config.managers):
        manager = User(id=ids.next(), practice_id=practice.id, name=f"Nurse {m}",
                       credential="RN", email=f"n{m}.{tag}@sim.example",
                       role=Role.CARE_MANAGER, performer_kind=PerformerKind.CLINICAL_STAFF)
        session.add(manager)
        managers.append(manager.id)
    session.flush()
    # A mid-month start, so a day of clock skew stays near this month; day 1 or the last
    # day sometimes, so entries also straddle a month boundary.
    day = rng.choice([1, 2, *range(5, 26), 28, 31])
    start = datetime(2026, 3, day, rng.randrange(13, 22), rng.randrange(60), tzinfo=UTC)
    for m, manager_id in enumerate(managers):
        patients[m] = []
        for p in range(config.patients_per_manager):
            patient = Patient(id=ids.next(), practice_id=practice.id, mrn=f"S{m}-{p}-{tag}",
                              given_name=f"Pat{m}{p}", family_name="Sim",
                              birth_date=date(1948, 2, 1), care_manager_id=manager_id,
                              billing_practitioner_id=doctor.id,
                              enrollment_status=EnrollmentStatus.ENROLLED)
            session.add(patient)
            session.flush()
            for code in ("E11.9", "I50.22"):
                session.add(Condition(id=ids.next(), patient_id=patient.id, icd10_code=code,
                                      description=code, onset_date=date(2020, 1, 1)))
            session.add(Consent(id=ids.next(), patient_id=patient.id,
                                consented_on=date(2025, 1, 6), obtained_by_id=manager_id,
                                billing_practitioner_id=doctor.id, disclosed_service=True,
                                disclosed_cost_sharing=True, disclosed_one_practitioner=True,
                                disclosed_stop_anytime=True))
            if p % 2 == 0:  # the others get their plan from the first care_plan.set_element
                session.add(CarePlan(id=ids.next(), patient_id=patient.id,
                                     established_on=date(2025, 1, 6),
                                     established_by_id=doctor.id))
            tasks[patient.id] = []
            for t in range(2):
                task = Task(id=ids.next(), patient_id=patient.id, owner_id=manager_id,
                            title=f"Follow up {t}", due_at=start + timedelta(days=t - 1),
                            created_at=start - timedelta(days=10))
                session.add(task)
                tasks[patient.id].append(task.id)
            patients[m].append(patient.id)
    session.commit()
    return World(practice.id, managers, patients, tasks, zone, start)


class Simulation:
    """One seeded run; `run()` returns the violations found and the step log."""

    def __init__(self, db_url: str, seed: int, config: SimConfig | None = None,
                 push: PushFn | None = None, pull: PullFn | None = None) -> None:
        self.db_url, self.seed = db_url, seed
        self.config = config or SimConfig()
        self.rng = random.Random(seed)
        self.ids = _Ids(self.rng)
        self.server = Server(db_url, push=push, pull=pull)
        self.engine = get_engine(db_url)
        self.log: list[str] = []
        self.violations: list[str] = []
        self.stats: Counter[str] = Counter()
        self.network: list[Message] = []
        # Harness knowledge (never lost in a crash): what each phone durably queued, what
        # it was told, and what a crash prevented from ever being written.
        self.durable: dict[tuple[uuid.UUID, int], dict[str, Any]] = {}
        self.acked: dict[tuple[uuid.UUID, int], str] = {}
        self.rejections_seen: dict[uuid.UUID, set[int]] = {}
        self.phantoms: list[dict[str, Any]] = []
        self.lmid_history: dict[uuid.UUID, list[int]] = {}

    # ----------------------------------------------------------------------------- run

    def run(self) -> SimResult:
        with Session(self.engine, expire_on_commit=False) as session:
            self.world = build_world(session, self.rng, self.config)
        self.now = self.world.start
        self.phones = self._make_phones()
        for step in range(self.config.steps):
            self.now += timedelta(seconds=self.rng.randrange(20, 400))
            self._step(step)
        self._heal_and_quiesce()
        self._check()
        self.violations.extend(self.server.errors)
        return SimResult(self.seed, self.violations, self.log, self.stats)

    def _make_phones(self) -> list[Phone]:
        phones = []
        low, high = self.config.devices
        for m, user_id in enumerate(self.world.managers):
            for _ in range(high if m == 0 else self.rng.randint(low, high)):
                skew = timedelta(0)
                if self.rng.random() < self.config.skewed_share:
                    skew = timedelta(seconds=self.rng.randint(-24 * 3600, 24 * 3600))
                phone = Phone(len(phones), self.ids.next(), user_id, m, skew)
                phones.append(phone)
                self.rejections_seen[phone.client_id] = set()
                self.lmid_history[phone.client_id] = []
        return phones

    def _note(self, text: str) -> None:
        self.log.append(f"[{self.now:%d %H:%M:%S}] {text}")

    def _step(self, step: int) -> None:
        roll = self.rng.random()
        phone = self.rng.choice(self.phones)
        if roll < 0.40:
            self._local_write(phone)
        elif roll < 0.55:
            self._send(phone)
        elif roll < 0.65:
            self._start_pull(phone)
        elif roll < 0.92:
            self._deliver_one()
        elif roll < 0.96:
            self._crash(phone)
        else:
            self._drop_one()

    # ------------------------------------------------------------------ local writes

    def _device_now(self, phone: Phone) -> datetime:
        return self.now + phone.skew

    def _local_write(self, phone: Phone) -> None:
        """The user does something; the mutation is durable before the screen says saved."""
        mutation = self._make_mutation(phone)
        if mutation is None:
            return
        if self.rng.random() < 0.03:
            # Crash before the local write completed: no outbox row, no id consumed; the
            # user never saw it saved, so it must never appear anywhere.
            self.phantoms.append(mutation)
            phone.incarnation += 1
            self._reset_volatile(phone)
            self._note(f"phone{phone.index} crashed while writing {mutation['name']}")
            self.stats["crash_before_write"] += 1
            return
        mutation["id"] = phone.next_id
        phone.next_id += 1  # the outbox row and the counter commit together
        phone.outbox.append(mutation)
        if mutation["name"] == "time_entry.record":
            phone.recorded.append(mutation["args"]["entry_id"])
        self.durable[(phone.client_id, mutation["id"])] = mutation
        self._note(f"phone{phone.index} queued #{mutation['id']} {mutation['name']}")
        self.stats[f"queued {mutation['name']}"] += 1
        if self.rng.random() < 0.05:
            self._crash(phone, "after its local write, before sending")
        elif self.rng.random() < 0.5:
            self._send(phone)

    def _make_mutation(self, phone: Phone) -> dict[str, Any] | None:
        kind = self.rng.choices(["record", "void", "note", "element", "task"],
                                weights=[5, 1.2, 1.5, 1.5, 0.8])[0]
        occurred = self._device_now(phone)
        own = self.world.patients[phone.manager]
        if kind == "record":
            return self._make_record(phone, own, occurred)
        if kind == "void":
            choices = phone.recorded or [e["id"] for key, doc in phone.snapshot.items()
                                         if key.startswith("patient/") and doc
                                         for e in doc.get("time_entries", [])]
            if not choices:
                return None
            return self._mutation("time_entry.void", occurred, {
                "entry_id": self.rng.choice(choices),
                "reason": self.rng.choice(["wrong patient", "logged twice", " "])})
        patient = self._pick_patient(own)
        if kind == "note":
            return self._mutation("note.add", occurred, {
                "note_id": str(self.ids.next()), "patient_id": str(patient),
                "body": f"note {self.ids.next().hex[:8]}"})
        if kind == "element":
            element = self.rng.choice(ELEMENTS)
            base = self._known_version(phone, patient, element)
            if self.rng.random() < 0.2:
                base = max(0, base + self.rng.choice([-1, 1]))
            return self._mutation("care_plan.set_element", occurred, {
                "patient_id": str(patient), "element": element, "base_version": base,
                "value": [f"value {self.ids.next().hex[:8]}"]})
        tasks = self.world.tasks.get(patient) or [self.ids.next()]
        return self._mutation("task.complete", occurred,
                              {"task_id": str(self.rng.choice(tasks))})

    def _make_record(self, phone: Phone, own: list[uuid.UUID], occurred: datetime
                     ) -> dict[str, Any]:
        seconds = self.rng.randint(60, 40 * 60)
        style = self.rng.random()
        if style < 0.55:  # a timer: it ran until "now" on this phone's clock
            start = occurred - timedelta(seconds=seconds + self.rng.randrange(0, 90))
            source = "timer"
        elif style < 0.85:  # typed in: any time this (practice-local) month
            first, end = month_bounds(local_month(self.now, self.world.zone),
                                      self.world.zone)
            span = int((end - first).total_seconds())
            start = first + timedelta(seconds=self.rng.randrange(span))
            source = "manual"
        else:  # the same person on another phone, overlapping an entry already made
            siblings = [p for p in self.phones if p.manager == phone.manager and p.recorded]
            starts = [m["args"]["started_at"] for p in siblings for m in
                      [self.durable.get((p.client_id, i)) for i in range(1, p.next_id)]
                      if m and m["name"] == "time_entry.record"]
            start = (datetime.fromisoformat(self.rng.choice(starts))
                     + timedelta(seconds=self.rng.randrange(0, 300))
                     if starts else occurred - timedelta(seconds=seconds))
            source = "manual"
        entry_id = str(self.ids.next())
        return self._mutation("time_entry.record", occurred, {
            "entry_id": entry_id, "patient_id": str(self._pick_patient(own)),
            "started_at": start.astimezone(self.world.zone).isoformat(),
            "duration_seconds": seconds, "activity": self.rng.choice(ACTIVITIES),
            "note": "", "source": source})

    def _pick_patient(self, own: list[uuid.UUID]) -> uuid.UUID:
        roll = self.rng.random()
        if roll < 0.06:  # another care manager's patient: rejected, not on the caseload
            return self.rng.choice([p for ps in self.world.patients.values() for p in ps])
        if roll < 0.08:  # no such patient at all
            return self.ids.next()
        return self.rng.choice(own)

    def _known_version(self, phone: Phone, patient: uuid.UUID, element: str) -> int:
        doc = phone.snapshot.get(f"patient/{patient}") or {}
        plan = doc.get("care_plan") or {}
        return int(((plan.get("elements") or {}).get(element) or {}).get("version") or 0)

    def _mutation(self, name: str, occurred: datetime, args: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "occurred_at": occurred.isoformat(), "args": args}

    # ------------------------------------------------------------------ network

    def _send(self, phone: Phone, everything: bool = False) -> None:
        """Push the outbox; a pipelining phone sometimes sends only what it has not sent."""
        queued = sorted(phone.outbox, key=lambda m: m["id"])
        if not queued:
            return
        if not everything and phone.sent_upto and self.rng.random() < 0.35:
            queued = [m for m in queued if m["id"] > phone.sent_upto] or queued
        if not everything and len(queued) > 1 and self.rng.random() < 0.3:
            queued = queued[: self.rng.randint(1, len(queued) - 1)]
        phone.sent_upto = max(phone.sent_upto, queued[-1]["id"])
        body = {"client_id": str(phone.client_id), "schema_version": sync_push.SCHEMA_VERSION,
                "client_time": self._device_now(phone).isoformat(),
                "mutations": [dict(m) for m in queued]}
        self.network.append(Message("push", phone.index, phone.incarnation, body))
        self._note(f"phone{phone.index} sends #{queued[0]['id']}..#{queued[-1]['id']}")

    def _start_pull(self, phone: Phone) -> None:
        if phone.pull_inflight and self.rng.random() < 0.7:
            return
        cursor = phone.cursor
        if self.rng.random() < 0.04:
            cursor = self.rng.choice(["garbage", "", "v9:zz", (cursor or "x")[:-1] + "#"])
            self.stats["garbled_cursor"] += 1
        phone.pull_seq += 1
        phone.pull_inflight = True
        self.network.append(Message("pull", phone.index, phone.incarnation,
                                    {"cursor": cursor}, seq=phone.pull_seq))
        self._note(f"phone{phone.index} pulls from {cursor!r}")

    def _deliver_one(self) -> None:
        if not self.network:
            return
        message = self.network.pop(self.rng.randrange(len(self.network)))
        if message.kind in ("push", "pull") and self.rng.random() < 0.08:
            self.network.append(message)  # duplicated delivery: a copy stays in flight
            self.stats["duplicated"] += 1
        response_lost = self.rng.random() < 0.12
        self._deliver(message, response_lost)

    def _deliver(self, message: Message, response_lost: bool = False) -> None:
        phone = self.phones[message.phone]
        if message.kind == "push":
            status, body = self.server.push(phone.user_id, message.body, self.now)
            self._note(f"server push phone{phone.index} -> {status} "
                       f"lmid={body.get('last_mutation_id')}")
            self.stats[f"push {status}"] += 1
            if response_lost:
                self.stats["push_response_lost"] += 1
                self._note(f"  response to phone{phone.index} lost")
                return
            self.network.append(Message("push_response", message.phone, message.incarnation,
                                        body, status))
        elif message.kind == "pull":
            status, body = self.server.pull(phone.user_id, phone.client_id,
                                            message.body["cursor"], self.now)
            self.stats[f"pull {status}"] += 1
            if response_lost:
                self.stats["pull_response_lost"] += 1
                return
            self.network.append(Message("pull_response", message.phone, message.incarnation,
                                        body, status, message.seq))
        elif message.incarnation != phone.incarnation:
            self.stats["response_to_dead_process"] += 1  # the process that asked crashed
        elif message.kind == "push_response":
            self._on_push_response(phone, message.status, message.body)
        else:
            self._on_pull_response(phone, message)

    def _drop_one(self) -> None:
        if self.network:
            message = self.network.pop(self.rng.randrange(len(self.network)))
            self.stats[f"dropped {message.kind}"] += 1
            self._note(f"network drops a {message.kind} of phone{message.phone}")

    def _crash(self, phone: Phone, when: str = "") -> None:
        phone.incarnation += 1
        self._reset_volatile(phone)
        self.stats["crash"] += 1
        self._note(f"phone{phone.index} crashed {when}".rstrip())

    def _reset_volatile(self, phone: Phone) -> None:
        phone.sent_upto, phone.pull_inflight = 0, False

    # ------------------------------------------------------------------ phone reactions

    def _acknowledge(self, phone: Phone, upto: int, how: str) -> None:
        for mutation in [m for m in phone.outbox if m["id"] <= upto]:
            self.acked.setdefault((phone.client_id, mutation["id"]), how)
        phone.outbox = [m for m in phone.outbox if m["id"] > upto]

    def _on_push_response(self, phone: Phone, status: int, body: dict[str, Any]) -> None:
        if status not in (200, 409):
            self._note(f"phone{phone.index} got {status} {body}")
            if status == 422:
                self.violations.append(f"a valid batch of phone{phone.index} was refused: "
                                       f"{body}")
            return
        for result in body.get("results", []):
            key = (phone.client_id, result["id"])
            self.acked[key] = result["status"] if result["status"] != "duplicate" \
                else self.acked.get(key, "duplicate")
            if result["status"] == "rejected":
                self.rejections_seen[phone.client_id].add(result["id"])
        self._acknowledge(phone, int(body.get("last_mutation_id") or 0), f"push {status}")
        if status == 409:
            self.stats["gap_resumed"] += 1
            phone.sent_upto = 0  # resume from the server's last_mutation_id
            self._send(phone)

    def _on_pull_response(self, phone: Phone, message: Message) -> None:
        if message.status != 200 or message.seq != phone.pull_seq:
            return  # an older pull's answer: the newer one is still coming
        body = message.body
        phone.pull_inflight = False
        lmid = int(body["last_mutation_id"])
        history = self.lmid_history[phone.client_id]
        if history and lmid < history[-1]:
            self.violations.append(f"(f) phone{phone.index}'s last_mutation_id went back from "
                                   f"{history[-1]} to {lmid}")
        history.append(lmid)
        if body.get("reset"):
            phone.snapshot = {}
            self.stats["pull_reset"] += 1
        for key in body.get("deletes", []):
            phone.snapshot.pop(key, None)
        phone.snapshot.update(body.get("puts", {}))
        phone.cursor, phone.pulled_lmid = body["cursor"], lmid
        self._acknowledge(phone, lmid, "pull")

    # ------------------------------------------------------------------ heal, quiesce

    def _heal_and_quiesce(self) -> None:
        """Jepsen's end: heal, deliver what is in flight, drain outboxes, pull until still."""
        self._note("heal: every fault stops")
        self.rng.shuffle(self.network)
        self._drain_network()
        for phone in self.phones:
            for _attempt in range(6):
                if not phone.outbox:
                    break
                self._send(phone, everything=True)
                self._drain_network()
            if phone.outbox:
                self.violations.append(f"stuck queue: phone{phone.index} still holds "
                                       f"{[m['id'] for m in phone.outbox]} after healing")
        self.now += timedelta(seconds=1)  # then the clock stands still while all pull
        for phone in self.phones:
            phone.pull_inflight = False
            for _attempt in range(8):
                body = self._pull_now(phone, phone.cursor)
                if body is None:
                    continue
                if not body.get("puts") and not body.get("deletes") and not body.get("reset"):
                    break
            else:
                self.violations.append(f"phone{phone.index} never stops receiving changes")

    def _drain_network(self, budget: int = 500) -> None:
        """Deliver everything in flight, faultlessly; a phone and server that keep answering
        each other (a 409 loop) are a stuck queue, reported instead of spinning forever."""
        for _ in range(budget):
            if not self.network:
                return
            self._deliver(self.network.pop(0))
        stuck = sorted({m.phone for m in self.network})
        self.network.clear()
        self._fail(f"stuck queue: phones {stuck} still exchanging after {budget} deliveries")

    def _pull_now(self, phone: Phone, cursor: str | None) -> dict[str, Any] | None:
        """One fault-free pull, applied by the phone; its body, or None on an error."""
        phone.pull_seq += 1
        status, body = self.server.pull(phone.user_id, phone.client_id, cursor, self.now)
        self._on_pull_response(phone, Message("pull_response", phone.index, phone.incarnation,
                                              body, status, phone.pull_seq))
        return body if status == 200 else None

    # ------------------------------------------------------------------ invariants

    def _check(self) -> None:
        with Session(self.engine, expire_on_commit=False) as session:
            facts = _Facts.load(session, self.world, [p.client_id for p in self.phones])
            self._check_acknowledged(facts)
            self._check_once(facts)
            self._check_minutes(facts)
            self._check_rejections(facts)
        self._check_convergence()

    def _fail(self, text: str) -> None:
        self.violations.append(text)

    def _check_acknowledged(self, facts: _Facts) -> None:
        """(a) every acknowledged (and every durably queued) mutation is there, once, as sent."""
        users = {p.client_id: p.user_id for p in self.phones}
        for key, mutation in self.durable.items():
            told = self.acked.get(key)
            row = facts.applied.get(key)
            where = f"client {str(key[0])[:8]} #{key[1]} {mutation['name']}"
            if told is None:
                self._fail(f"(a) {where} was never acknowledged after quiescence")
            if row is None:
                if told is not None:
                    self._fail(f"(a) {where} acknowledged ({told}) but not in applied_mutation")
                continue
            if row.name != mutation["name"] or row.args != mutation["args"]:
                self._fail(f"(a) {where}: applied_mutation holds {row.name} {row.args}, the "
                           f"phone queued {mutation['args']}")
                continue
            if told in ("applied", "rejected") and row.outcome != told:
                self._fail(f"(a) {where}: the phone was told {told}, the log says "
                           f"{row.outcome}")
            if row.outcome == MutationOutcome.APPLIED:
                missing = facts.effect_missing(mutation, users[key[0]])
                if missing:
                    self._fail(f"(a) {where} applied but {missing}")
            elif mutation["name"] in ("time_entry.record", "note.add"):
                arg = mutation["args"].get("entry_id") or mutation["args"].get("note_id")
                if uuid.UUID(arg) in facts.entries or uuid.UUID(arg) in facts.notes:
                    self._fail(f"(a) {where} rejected ({row.rejection_reason}) yet its row "
                               f"exists")
        voids = {r.args["entry_id"] for r in facts.applied.values()
                 if r.name == "time_entry.void" and r.outcome == MutationOutcome.APPLIED}
        for phantom in self.phantoms:
            args = phantom["args"]
            if phantom["name"] == "time_entry.record":
                left = uuid.UUID(args["entry_id"]) in facts.entries
            elif phantom["name"] == "note.add":
                left = uuid.UUID(args["note_id"]) in facts.notes
            elif phantom["name"] == "care_plan.set_element":
                left = args["value"] in [v for _e, v, _a in facts.revision_values] \
                    or args["value"] in facts.conflict_values
            elif phantom["name"] == "time_entry.void":
                left = uuid.UUID(args["entry_id"]) in facts.voided and args["entry_id"] not in voids
            else:
                left = False
            if left:
                self._fail(f"(a) a mutation lost in a crash before its local write left a "
                           f"trace: {phantom['name']} {args}")

    def _check_once(self, facts: _Facts) -> None:
        """(b) each mutation logged once, each effect made once, each audited once."""
        if len(facts.applied) != len(self.durable) or facts.duplicate_log_rows:
            self._fail(f"(b) applied_mutation has {len(facts.applied)} distinct and "
                       f"{facts.duplicate_log_rows} duplicate rows for {len(self.durable)} "
                       f"queued mutations")
        applied = [r for r in facts.applied.values() if r.outcome == MutationOutcome.APPLIED]
        by_name = Counter(r.name for r in applied)
        voided = {r.args["entry_id"] for r in applied if r.name == "time_entry.void"}
        expected = {
            "time entries": (len(facts.entries), by_name["time_entry.record"]),
            "voids": (facts.void_rows, len(voided)),
            "notes": (len(facts.notes), by_name["note.add"]),
            "care-plan revisions": (facts.revisions, by_name["care_plan.set_element"]),
            "care-plan conflicts": (facts.conflicts, sum(
                1 for r in facts.applied.values() if r.name == "care_plan.set_element"
                and "changed since" in r.rejection_reason)),
            "sync audit rows": (facts.sync_audits, len(facts.applied)),
        }
        for what, (found, wanted) in expected.items():
            if found != wanted:
                self._fail(f"(b) {found} {what} stored for {wanted} applied mutations")
        for entry in facts.entries.values():
            row = facts.applied.get((entry.client_id, entry.mutation_id))
            if row is None or row.args.get("entry_id") != str(entry.id):
                self._fail(f"(b) time entry {entry.id} names mutation "
                           f"{entry.client_id}#{entry.mutation_id}, which did not record it")
        for phone in self.phones:
            if facts.last_ids.get(phone.client_id, 0) != phone.next_id - 1:
                self._fail(f"(b) phone{phone.index} queued {phone.next_id - 1} mutations, the "
                           f"server's last_mutation_id is {facts.last_ids.get(phone.client_id)}")

    def _check_minutes(self, facts: _Facts) -> None:
        """(d) per patient-month: rollup minutes == accepted, non-voided seconds // 60."""
        zone = self.world.zone
        live = [e for e in facts.entries.values() if e.id not in facts.voided]
        by_performer: dict[uuid.UUID, list[TimeEntry]] = {}
        for entry in live:
            by_performer.setdefault(entry.performer_id, []).append(entry)
        for performer, entries in by_performer.items():
            entries.sort(key=lambda e: e.started_at)
            for a, b in pairwise(entries):
                if a.started_at + timedelta(seconds=a.duration_seconds) > b.started_at:
                    self._fail(f"(d) {performer}'s accepted entries {a.id} and {b.id} overlap")
        seconds: Counter[tuple[uuid.UUID, str]] = Counter()
        touched: set[tuple[uuid.UUID, str]] = set()
        for entry in facts.entries.values():
            end = entry.started_at + timedelta(seconds=entry.duration_seconds)
            for month, start, stop in split_by_month(entry.started_at, end, zone):
                touched.add((entry.patient_id, str(month)))
                if entry.id not in facts.voided:
                    seconds[(entry.patient_id, str(month))] += int((stop - start)
                                                                  .total_seconds())
        self.expected_minutes = {key: seconds[key] // 60 for key in touched}
        for key in touched | set(facts.rollups):
            want = seconds[key] // 60
            got = facts.rollups.get(key)
            if got != want:
                self._fail(f"(d) patient {str(key[0])[:8]} {key[1]}: rollup says {got} min, "
                           f"the accepted non-voided entries make {want}")

    def _check_rejections(self, facts: _Facts) -> None:
        """(e) every rejection reached the phone that sent it."""
        self.rejected_ids: dict[uuid.UUID, list[int]] = {}
        for (client_id, mutation_id), row in facts.applied.items():
            if row.outcome == MutationOutcome.REJECTED:
                self.rejected_ids.setdefault(client_id, []).append(mutation_id)
        for phone in self.phones:
            pulled = {int(item["mutation_id"]) for item in
                      (phone.snapshot.get("rejections") or {}).get("items", [])}
            for (client_id, mutation_id), row in facts.applied.items():
                if client_id != phone.client_id or row.outcome != MutationOutcome.REJECTED:
                    continue
                if mutation_id not in self.rejections_seen[client_id] | pulled:
                    self._fail(f"(e) phone{phone.index} never learned that #{mutation_id} "
                               f"{row.name} was rejected ({row.rejection_reason})")

    def _check_convergence(self) -> None:
        """(c) each phone's snapshot is what a fresh reset pull gives its user, and (d) the
        minutes it shows are the accepted entries' minutes."""
        month = str(local_month(self.now, self.world.zone))
        references: dict[uuid.UUID, dict[str, Any]] = {}
        for phone in self.phones:
            if phone.user_id not in references:
                # One fresh reset pull per user (the expensive part of the check); the only
                # per-installation document, "rejections", is compared to the log below.
                status, body = self.server.pull(phone.user_id, phone.client_id, None, self.now)
                if status != 200:
                    continue
                if not body.get("reset"):
                    self._fail(f"(c) a pull without a cursor did not reset for "
                               f"phone{phone.index}")
                references[phone.user_id] = body["puts"]
                self._check_shown_minutes(body["puts"], month)
            reference = {k: v for k, v in references[phone.user_id].items()
                         if k != "rejections"}
            mine = {k: v for k, v in phone.snapshot.items() if k != "rejections"}
            difference = _first_difference(_canonical(mine), _canonical(reference))
            if difference:
                self._fail(f"(c) phone{phone.index} diverged from a fresh pull at {difference}")
            shown = sorted(int(i["mutation_id"]) for i in
                           (phone.snapshot.get("rejections") or {}).get("items", []))
            if shown != sorted(self.rejected_ids.get(phone.client_id, [])):
                self._fail(f"(c) phone{phone.index} shows rejections {shown}, the server "
                           f"rejected {sorted(self.rejected_ids.get(phone.client_id, []))}")

    def _check_shown_minutes(self, reference: dict[str, Any], month: str) -> None:
        """(d) the worklist and each patient record show the accepted entries' minutes."""
        for row in (reference.get("worklist") or {}).get("patients", []):
            want = self.expected_minutes.get((uuid.UUID(row["id"]), month), 0)
            if row["minutes"] != want:
                self._fail(f"(d) worklist shows {row['minutes']} min for patient "
                           f"{row['id'][:8]}, the accepted entries make {want}")
        for key, doc in reference.items():
            if key.startswith("patient/") and doc:
                want = self.expected_minutes.get((uuid.UUID(key[8:]), month), 0)
                if doc["progress"]["minutes"] != want:
                    self._fail(f"(d) {key[:16]} shows {doc['progress']['minutes']} min, "
                               f"the accepted entries make {want}")


# Fields a document may carry that say when it was produced, not what it holds.
VOLATILE = frozenset({"server_time", "generated_at"})


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _first_difference(mine: Any, theirs: Any, path: str = "") -> str:
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for key in sorted(set(mine) | set(theirs)):
            if key not in mine or key not in theirs:
                side = "the phone lacks" if key not in mine else "the server lacks"
                return f"{path}/{key} ({side} it)"
            found = _first_difference(mine[key], theirs[key], f"{path}/{key}")
            if found:
                return found
        return ""
    if isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
        for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            found = _first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return ""
    return "" if mine == theirs else f"{path}: phone {str(mine)[:80]} != server {str(theirs)[:80]}"


@dataclass
class _Facts:
    """The run's rows, read once after quiescence (scoped to the run's practice)."""

    applied: dict[tuple[uuid.UUID, int], AppliedMutation]
    duplicate_log_rows: int
    entries: dict[uuid.UUID, TimeEntry]
    voided: set[uuid.UUID]
    void_rows: int
    notes: dict[uuid.UUID, Note]
    revision_values: list[tuple[str, Any, uuid.UUID]]
    revisions: int
    conflict_values: list[Any]
    conflicts: int
    tasks: dict[uuid.UUID, Task]
    sync_audits: int
    rollups: dict[tuple[uuid.UUID, str], int]
    last_ids: dict[uuid.UUID, int]

    @classmethod
    def load(cls, session: Session, world: World, clients: list[uuid.UUID]) -> _Facts:
        patients = sa.select(Patient.id).where(Patient.practice_id == world.practice_id)
        plans = sa.select(CarePlan.id).where(CarePlan.patient_id.in_(patients))
        log = list(session.exec(select(AppliedMutation)
                                .where(AppliedMutation.client_id.in_(clients))))
        entries = {e.id: e for e in session.exec(
            select(TimeEntry).where(TimeEntry.patient_id.in_(patients)))}
        voids = list(session.exec(select(TimeEntryVoid).where(
            TimeEntryVoid.time_entry_id.in_(list(entries) or [uuid.uuid4()]))))
        revisions = list(session.exec(select(CarePlanRevision)
                                      .where(CarePlanRevision.care_plan_id.in_(plans))))
        conflicts = list(session.exec(select(CarePlanConflict)
                                      .where(CarePlanConflict.care_plan_id.in_(plans))))
        audits = session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action.startswith("sync."), AuditEvent.action != "sync.pull",
            AuditEvent.action != "sync.push",
            AuditEvent.client.in_([f"sync {c}" for c in clients]))).scalar_one()
        return cls(
            applied={(r.client_id, r.mutation_id): r for r in log},
            duplicate_log_rows=len(log) - len({(r.client_id, r.mutation_id) for r in log}),
            entries=entries, voided={v.time_entry_id for v in voids}, void_rows=len(voids),
            notes={n.id: n for n in session.exec(select(Note).where(
                Note.patient_id.in_(patients)))},
            revision_values=[(r.element, r.value, r.author_id) for r in revisions],
            revisions=len(revisions), conflict_values=[c.client_value for c in conflicts],
            conflicts=len(conflicts),
            tasks={t.id: t for t in session.exec(select(Task).where(
                Task.patient_id.in_(patients)))},
            sync_audits=audits,
            rollups={(r.patient_id, r.month): r.countable_minutes for r in session.exec(
                select(PatientMonth).where(PatientMonth.patient_id.in_(patients)))},
            last_ids={c.id: c.last_mutation_id for c in session.exec(
                select(SyncClient).where(SyncClient.id.in_(clients)))},
        )

    def effect_missing(self, mutation: dict[str, Any], user_id: uuid.UUID) -> str:
        """What an applied mutation should have left behind and did not ("" when all is)."""
        args, name = mutation["args"], mutation["name"]
        if name == "time_entry.record":
            entry = self.entries.get(uuid.UUID(args["entry_id"]))
            if entry is None:
                return "its time entry does not exist"
            stored = (entry.performer_id, str(entry.patient_id), entry.duration_seconds,
                      entry.started_at)
            sent = (user_id, args["patient_id"], args["duration_seconds"],
                    datetime.fromisoformat(args["started_at"]))
            return "" if stored == sent else f"its entry holds {stored}, not {sent}"
        if name == "time_entry.void":
            return "" if uuid.UUID(args["entry_id"]) in self.voided else "the entry is not voided"
        if name == "note.add":
            note = self.notes.get(uuid.UUID(args["note_id"]))
            return "" if note and note.body == args["body"].strip() else "its note is missing"
        if name == "care_plan.set_element":
            found = (args["element"], args["value"], user_id) in self.revision_values
            return "" if found else "no care-plan revision holds its value"
        if name == "task.complete":
            task = self.tasks.get(uuid.UUID(args["task_id"]))
            return "" if task and task.status == TaskStatus.COMPLETED else "task not completed"
        return ""

