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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ccm_pwa.migrations import upgrade
from ccm_pwa.operations.scratch_database import scratch_postgres_database
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
        with scratch_postgres_database(POSTGRES_ADMIN, prefix="ccm_sim") as url:
            summary = run(url, seeds)
    print(f"{args.backend}: {summary['seeds']} seeds in {summary['seconds']:.1f} s "
          f"({summary['seeds_per_s']:.2f} seeds/s); failing seeds: {summary['failing'] or 'none'}")


if __name__ == "__main__":
    main()
