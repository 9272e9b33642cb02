"""Deterministic sync simulation (checklist A16): many seeds, real push/pull, real database.

Each seed builds its own small practice (3 care managers, 3–4 phones each) and runs the
simulator in tests/support/sync_simulator.py: dropped, duplicated and reordered messages,
lost acknowledgements, crashes before and after the local write, skewed clocks, garbled
cursors; then heal, drain, pull until still, and check invariants (a)–(f).

    CCM_SIM_SEED=123 pytest tests/db/test_sync_simulation.py     # replay one seed
    CCM_SIM_SEEDS=500 pytest tests/db/test_sync_simulation.py    # more seeds per backend

The planted-bug tests run the same simulation against deliberately broken servers and
require the checker to notice, so the invariants cannot pass vacuously.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from ccm_pwa.models import PatientMonth, SyncClient, TimeEntry
from ccm_pwa.services import sync_mutations, sync_push
from tests.support.sync_simulator import Simulation, default_pull

# Seeds per backend: each seed is a whole small practice with 10-12 phones and 80 steps,
# about 1.5 s of CPU on SQLite and 2.5 s on PostgreSQL (every pull rebuilds the phone's
# whole view: worklist, records, candidates). CI runs more with CCM_SIM_SEEDS, and
# bench/sync_simulation.py runs thousands.
DEFAULT_SEEDS = {"sqlite": 30, "postgresql": 15}


def _seeds(backend: str) -> list[int]:
    if "CCM_SIM_SEED" in os.environ:
        return [int(os.environ["CCM_SIM_SEED"])]
    count = int(os.environ.get("CCM_SIM_SEEDS", DEFAULT_SEEDS[backend]))
    start = int(os.environ.get("CCM_SIM_SEED_START", "0"))
    return list(range(start, start + count))


def _backend(db_url: str) -> str:
    return "postgresql" if db_url.startswith("postgresql") else "sqlite"


def test_simulated_phones_never_lose_or_double_apply_and_converge(db_url: str) -> None:
    failures = []
    seeds = _seeds(_backend(db_url))
    for seed in seeds:
        result = Simulation(db_url, seed).run()
        if not result.ok:
            failures.append(result)
    assert not failures, (
        f"{len(failures)} of {len(seeds)} seeds failed: "
        f"{[f.seed for f in failures]}\n\n" + "\n\n".join(f.report() for f in failures[:3]))


# --------------------------------------------------------------------- planted bugs


def _forgets_last_id(**kwargs: Any) -> dict[str, Any]:
    """The server acknowledges a push but loses the advance of last_mutation_id."""
    result = sync_push.push(**kwargs)
    session: Session = kwargs["session"]
    session.execute(sa.update(SyncClient)
                    .where(SyncClient.id == kwargs["batch"].client_id,
                           SyncClient.last_mutation_id > 0)
                    .values(last_mutation_id=SyncClient.last_mutation_id - 1))
    session.commit()
    return result


def _rollup_off_by_one_after_void(**kwargs: Any) -> dict[str, Any]:
    """A void's rollup refresh writes a wrong total (one minute too many)."""
    result = sync_push.push(**kwargs)
    voided = [m.args.entry_id for m in kwargs["batch"].mutations if m.name == "time_entry.void"]
    if voided:
        session: Session = kwargs["session"]
        entry = session.get(TimeEntry, voided[0])
        if entry is not None:
            session.execute(sa.update(PatientMonth).where(PatientMonth.patient_id ==
                                                          entry.patient_id)
                            .values(countable_minutes=PatientMonth.countable_minutes + 1))
            session.commit()
    return result


def _hides_rejections_push(**kwargs: Any) -> dict[str, Any]:
    result = sync_push.push(**kwargs)
    return {**result, "results": [r for r in result["results"] if r["status"] != "rejected"]}


def _pull_wrapper(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[..., Any]:
    real = default_pull()

    def pull(**kwargs: Any) -> dict[str, Any]:
        return change(real(**kwargs))

    return pull


def _hide_rejections(body: dict[str, Any]) -> dict[str, Any]:
    puts = dict(body["puts"])
    if "rejections" in puts:
        puts["rejections"] = {**puts["rejections"], "items": []}
    return {**body, "puts": puts}


def _lmid_ahead(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "last_mutation_id": body["last_mutation_id"] + 1}


def _misses_patient_updates(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("reset"):
        return body
    return {**body, "puts": {k: v for k, v in body["puts"].items()
                             if not k.startswith("patient/")}}


def _note_not_written(ctx: sync_mutations.Context, args: Any) -> uuid.UUID:
    return sync_mutations._patient(ctx, args.patient_id).id  # checked, "applied", not stored


PLANTED: dict[str, tuple[str, dict[str, Any]]] = {
    # name: (the invariant that must catch it, how the server is broken)
    "effect lost": ("(a)", {"handler": ("note.add", _note_not_written)}),
    "last_mutation_id not advanced": ("push raised", {"push": _forgets_last_id}),
    "void writes a wrong rollup": ("(d)", {"push": _rollup_off_by_one_after_void}),
    "pull tells a last_mutation_id ahead": ("(a)", {"pull": _pull_wrapper(_lmid_ahead)}),
    "rejections never reach the phone": ("(e)", {"push": _hides_rejections_push,
                                                  "pull": _pull_wrapper(_hide_rejections)}),
    "incremental pull misses patient changes": (
        "(c)", {"pull": _pull_wrapper(_misses_patient_updates)}),
    # notes and completed tasks stored, but their patient's change stamp left as it was
    "a write forgets its change stamp": (
        "(c)", {"patch": (sync_mutations, "bump_patients", lambda *_: None)}),
}


@pytest.mark.parametrize("bug", list(PLANTED))
def test_the_checker_catches_a_planted_bug(db_url: str, bug: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if _backend(db_url) != "sqlite":
        pytest.skip("the checker is under test here, not the backend")
    tag, plant = PLANTED[bug]
    if "handler" in plant:
        name, handler = plant["handler"]
        model = sync_mutations.MUTATIONS[name][0]
        monkeypatch.setitem(sync_mutations.MUTATIONS, name, (model, handler))
    if "patch" in plant:
        monkeypatch.setattr(*plant["patch"])
    caught = []
    for seed in range(8):
        result = Simulation(db_url, seed, push=plant.get("push"), pull=plant.get("pull")).run()
        caught = [v for v in result.violations if tag in v]
        assert not any(" raised " in v for v in result.violations if tag != "push raised"), \
            f"the planted bug broke the harness instead: {result.violations[:3]}"
        if caught:
            break
    assert caught, f"planted bug {bug!r} went unnoticed over 8 seeds"
