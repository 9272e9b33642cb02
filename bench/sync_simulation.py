"""Run the sync simulation (tests/support/sync_simulator.py) for many seeds outside pytest.

Prints seeds per second and every failing seed with its report; replay one in pytest with
`CCM_SIM_SEED=<seed> pytest tests/db/test_sync_simulation.py`.

    python bench/sync_simulation.py --seeds 2000               # SQLite in a temp dir
    python bench/sync_simulation.py --seeds 200 --backend postgresql
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ccm_pwa.db import get_engine
from ccm_pwa.migrations import upgrade
from tests.support.sync_simulator import Simulation

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def run(url: str, seeds: range) -> dict[str, object]:
    upgrade(url)
    failures = []
    started = time.perf_counter()
    for seed in seeds:
        result = Simulation(url, seed).run()
        if not result.ok:
            failures.append(result)
            print(result.report(20), flush=True)
    elapsed = time.perf_counter() - started
    return {"seeds": len(seeds), "seconds": elapsed, "seeds_per_s": len(seeds) / elapsed,
            "failing": [f.seed for f in failures]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2000)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    seeds = range(args.start, args.start + args.seeds)
    if args.backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            summary = run(f"sqlite:///{directory}/sim.db", seeds)
    else:
        name = f"ccm_sim_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.engine.make_url(POSTGRES_ADMIN).set(database=name).render_as_string(False)
        try:
            summary = run(url, seeds)
        finally:
            get_engine(url).dispose()
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"{args.backend}: {summary['seeds']} seeds in {summary['seconds']:.1f} s "
          f"({summary['seeds_per_s']:.2f} seeds/s); failing seeds: {summary['failing'] or 'none'}")


if __name__ == "__main__":
    main()
