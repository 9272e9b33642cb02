"""Replay property (checklist A19): a push applied twice, in a row or at once, equals once.

Hypothesis draws small valid batches of the real mutation kinds — some meant to be rejected
(another care manager's patient, an unknown id, overlapping time, a blank reason, a stale
care-plan version, a cancelled task) — and each batch is applied to a fresh database
(i) once, (ii) twice one after the other, (iii) twice at the same moment from two threads
with their own sessions. A canonical dump of the domain tables must be the same all three
ways. Derandomized, so CI sees the same examples every run.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, SQLModel

from ccm_pwa.db import get_engine
from ccm_pwa.models import (
    CarePlan,
    Condition,
    Consent,
    EnrollmentStatus,
    Patient,
    PerformerKind,
    Practice,
    Role,
    Task,
    TaskStatus,
    TimeEntry,
    User,
)
from ccm_pwa.services.sync_push import parse_batch, push
from tests.conftest import empty_database

NOW = datetime(2026, 3, 18, 21, 0, tzinfo=UTC)
BASE = datetime(2026, 3, 18, 14, 0, tzinfo=UTC)
CLIENT = uuid.UUID("00000000-0000-4000-8000-00000000c11e")


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"ccm-replay/{name}")


KIM, BEN, DOCTOR = _id("kim"), _id("ben"), _id("doctor")
ROSA, NED, LEE = _id("rosa"), _id("ned"), _id("lee")  # Rosa has a plan, Ned none, Lee is Ben's
OPEN_TASK, CANCELLED_TASK, OLD_ENTRY = _id("task-open"), _id("task-cancelled"), _id("entry-0")


def _build_world(db_url: str) -> None:
    """The same rows, with the same ids, before every application."""
    with Session(get_engine(db_url)) as session:
        session.add(Practice(id=_id("practice"), name="Replay", timezone="America/Chicago"))
        session.flush()
        for user_id, name, kind in ((KIM, "Kim", PerformerKind.CLINICAL_STAFF),
                                    (BEN, "Ben", PerformerKind.CLINICAL_STAFF),
                                    (DOCTOR, "Doc", PerformerKind.BILLING_PRACTITIONER)):
            session.add(User(id=user_id, practice_id=_id("practice"), name=name,
                             email=f"{name.lower()}@replay.example", role=Role.CARE_MANAGER,
                             performer_kind=kind))
        session.flush()
        for patient_id, manager in ((ROSA, KIM), (NED, KIM), (LEE, BEN)):
            session.add(Patient(id=patient_id, practice_id=_id("practice"),
                                mrn=str(patient_id)[:8], given_name="P", family_name="Q",
                                birth_date=date(1950, 1, 1), care_manager_id=manager,
                                billing_practitioner_id=DOCTOR,
                                enrollment_status=EnrollmentStatus.ENROLLED))
            session.flush()
            for code in ("E11.9", "I10"):
                session.add(Condition(id=_id(f"{patient_id}/{code}"), patient_id=patient_id,
                                      icd10_code=code, description=code))
            session.add(Consent(id=_id(f"consent/{patient_id}"), patient_id=patient_id,
                                consented_on=date(2025, 1, 6), obtained_by_id=manager,
                                billing_practitioner_id=DOCTOR))
        session.add(CarePlan(id=_id("plan-rosa"), patient_id=ROSA,
                             established_on=date(2025, 1, 6), established_by_id=DOCTOR))
        session.add(Task(id=OPEN_TASK, patient_id=ROSA, owner_id=KIM, title="Call",
                         created_at=BASE))
        session.add(Task(id=CANCELLED_TASK, patient_id=ROSA, owner_id=KIM, title="Old",
                         status=TaskStatus.CANCELLED, created_at=BASE))
        session.flush()
        session.add(TimeEntry(id=OLD_ENTRY, patient_id=ROSA, performer_id=KIM,
                              performer_kind=PerformerKind.CLINICAL_STAFF,
                              activity="phone_call_patient", started_at=BASE,
                              duration_seconds=900, occurred_at=BASE, received_at=BASE))
        session.commit()


# ---------------------------------------------------------------------- batches

PATIENTS = st.sampled_from([ROSA, ROSA, NED, LEE, _id("nobody")])


@st.composite
def _mutation(draw: st.DrawFn, index: int, entries: list[str]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["record", "record", "void", "note", "element", "task",
                                 "review"]))
    if kind == "record":
        reuse = entries and draw(st.booleans()) and draw(st.booleans())
        entry_id = draw(st.sampled_from(entries)) if reuse else str(_id(f"entry-{index}"))
        entries.append(entry_id)
        return {"name": "time_entry.record", "args": {
            "entry_id": entry_id, "patient_id": str(draw(PATIENTS)),
            "started_at": (BASE + timedelta(minutes=draw(st.integers(-20, 120)))).isoformat(),
            "duration_seconds": draw(st.sampled_from([60, 600, 1500, 2400])),
            "activity": "care_coordination", "note": "", "source": "timer"}}
    if kind == "void":
        target = draw(st.sampled_from([*entries, str(OLD_ENTRY), str(_id("no-entry"))]))
        return {"name": "time_entry.void", "args": {
            "entry_id": target, "reason": draw(st.sampled_from(["wrong patient", " "]))}}
    if kind == "note":
        return {"name": "note.add", "args": {
            "note_id": str(_id(f"note-{index}")), "patient_id": str(draw(PATIENTS)),
            "body": draw(st.sampled_from(["Daughter helps", "  "]))}}
    if kind == "element":
        return {"name": "care_plan.set_element", "args": {
            "patient_id": str(draw(PATIENTS)),
            "element": draw(st.sampled_from(["problems", "measurable_goals"])),
            "value": [f"value {index}"], "base_version": draw(st.integers(0, 2))}}
    if kind == "task":
        return {"name": "task.complete", "args": {"task_id": str(draw(st.sampled_from(
            [OPEN_TASK, CANCELLED_TASK, _id("no-task")])))}}
    return {"name": "care_plan.review", "args": {
        "patient_id": str(draw(PATIENTS)),
        "reviewed_on": draw(st.sampled_from(["2026-03-10", "2026-03-18", "2026-04-30"]))}}


@st.composite
def batches(draw: st.DrawFn) -> dict[str, Any]:
    entries: list[str] = []
    size = draw(st.integers(1, 6))
    mutations = [{"id": i + 1, "occurred_at": (NOW - timedelta(minutes=size - i)).isoformat(),
                  **draw(_mutation(i, entries))} for i in range(size)]
    return {"client_id": str(CLIENT), "schema_version": 1, "mutations": mutations}


# ---------------------------------------------------------------------- applying, dumping


def _apply(db_url: str, body: dict[str, Any]) -> dict[str, Any]:
    with Session(get_engine(db_url), expire_on_commit=False) as session:
        kim = session.get(User, KIM)
        assert kim is not None
        return push(session=session, user=kim, batch=parse_batch(body), now=NOW)


def _apply_concurrently(db_url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    start = threading.Barrier(2)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            results.append(_apply(db_url, body))
        except BaseException as exc:  # re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


# Columns that differ between equal histories: random ids of rows the server creates, and
# the server's wall clock. Client-chosen ids (entries, notes) and derived ones stay.
SKIPPED = {"received_at", "updated_at", "created_at", "last_seen_at"}
RANDOM_IDS = {"time_entry_void", "care_plan", "care_plan_revision", "care_plan_conflict",
              "applied_mutation", "audit_event"}
DUMPED = ("time_entry", "time_entry_void", "note", "care_plan", "care_plan_revision",
          "care_plan_conflict", "task", "applied_mutation", "sync_client", "patient_month")


def dump(db_url: str) -> dict[str, Any]:
    """Every domain row as a sorted list of plain values; a care plan is named by patient."""
    tables = SQLModel.metadata.tables
    out: dict[str, Any] = {}
    with get_engine(db_url).connect() as connection:
        plan_patient = dict(connection.execute(
            sa.select(tables["care_plan"].c.id, tables["care_plan"].c.patient_id)).all())
        for name in DUMPED:
            table = tables[name]
            rows = []
            for row in connection.execute(sa.select(table)).mappings():
                values = {k: v for k, v in row.items() if k not in SKIPPED
                          and not (k == "id" and name in RANDOM_IDS)}
                if "care_plan_id" in values:
                    values["care_plan_id"] = plan_patient.get(values["care_plan_id"])
                rows.append(repr(sorted(values.items())))
            out[name] = sorted(rows)
        audit = tables["audit_event"]
        out["audit_event"] = sorted(Counter(
            (r.action, r.outcome, str(r.user_id), str(r.patient_id)) for r in connection.execute(
                sa.select(audit.c.action, audit.c.outcome, audit.c.user_id,
                          audit.c.patient_id))).items())
    return out


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(body=batches())
def test_replayed_push_equals_one_application(db_url: str, body: dict[str, Any]) -> None:
    empty_database(db_url)
    _build_world(db_url)
    first = _apply(db_url, body)
    once = dump(db_url)

    again = _apply(db_url, body)
    assert again["last_mutation_id"] == first["last_mutation_id"]
    assert [r["status"] for r in again["results"]] == ["duplicate"] * len(body["mutations"])
    assert dump(db_url) == once, "applying the batch a second time changed the database"

    empty_database(db_url)
    _build_world(db_url)
    both = _apply_concurrently(db_url, body)
    assert sorted(r["last_mutation_id"] for r in both) == [first["last_mutation_id"]] * 2
    statuses = Counter(r["status"] for result in both for r in result["results"])
    assert statuses["duplicate"] == len(body["mutations"])
    concurrent = dump(db_url)
    assert concurrent == once, _where(concurrent, once)


def _where(got: dict[str, Any], want: dict[str, Any]) -> str:
    for name in want:
        if got[name] != want[name]:
            return (f"two concurrent applications differ from one in {name}:\n"
                    f"only concurrent: {sorted(set(got[name]) - set(want[name]))[:3]}\n"
                    f"only once: {sorted(set(want[name]) - set(got[name]))[:3]}")
    return "equal"
