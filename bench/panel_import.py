"""Panel import speed: a generated CSV of N rows (default 5,000) into a fresh SQLite database.

Prints rows per second for each stage a practice goes through (each import stage includes
parsing the file, as the command does):
- parse: reading and checking the file (no database);
- dry run: planning against an empty practice (three batched reads, no writes);
- first import: every patient and condition created;
- re-import: the same file again, every patient unchanged (the idempotent path);
- update: a file in which every patient's phone changed.
Figures only; the tests never assert on time. PostgreSQL runs in a throwaway database
created next to the admin one and dropped afterwards.

    python bench/panel_import.py                      # SQLite, 5,000 rows
    python bench/panel_import.py --rows 20000 --backend postgresql
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ccm_pwa.db import get_engine
from ccm_pwa.domain.panel_csv import COLUMNS, parse_csv
from ccm_pwa.migrations import upgrade
from ccm_pwa.models import PerformerKind, Practice, Role, User
from ccm_pwa.operations.scratch_database import scratch_postgres_database
from ccm_pwa.services.demo_data import ACUTE_CONDITIONS, CHRONIC_CONDITIONS
from ccm_pwa.services.panel_import import import_panel

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 18, tzinfo=UTC)


def make_csv(rows: int, seed: int, phone_suffix: str = "") -> str:
    """About 2.5 diagnosis lines per patient, as an EHR problem-list export has."""
    rng = random.Random(seed)
    codes = CHRONIC_CONDITIONS + ACUTE_CONDITIONS
    lines = [",".join(c.name for c in COLUMNS)]
    patient = 0
    while len(lines) - 1 < rows:
        patient += 1
        birth = date(1935, 1, 1) + timedelta(days=rng.randrange(365 * 30))
        picks = rng.sample(codes, rng.choice([1, 2, 3, 3, 4]))
        for i, (code, description) in enumerate(picks):
            if len(lines) - 1 >= rows:
                break
            onset = TODAY - timedelta(days=rng.randrange(400, 6000))
            team = ("cm0@bench.example", "bp0@bench.example") if i == 0 else ("", "")
            phone = f"312-555-{patient % 10000:04d}{phone_suffix}" if i == 0 else ""
            lines.append(",".join([
                f"M{patient:07d}", "Given" if i == 0 else "", f"Family{patient}" if i == 0 else "",
                birth.isoformat() if i == 0 else "", phone, "en" if i == 0 else "",
                rng.choice(["ccm", "ccm", "pcm"]) if i == 0 else "", team[0], team[1], code,
                f'"{description}"', onset.isoformat(), ""]))
    return "\n".join(lines) + "\n"


def timed(label: str, rows: int, work) -> object:
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    print(f"{label:<14} {seconds:7.2f} s  {rows / seconds:9,.0f} rows/s")
    return result


@contextmanager
def throwaway_database(backend: str) -> Iterator[str]:
    """A new, empty database URL; never the admin database, which others use."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    with scratch_postgres_database(POSTGRES_ADMIN, prefix="ccm_bench_import") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with throwaway_database(args.backend) as url:
        upgrade(url)
        engine = get_engine(url)
        with Session(engine, expire_on_commit=False) as session:
            practice = Practice(name="Bench")
            session.add(practice)
            session.flush()
            session.add(User(practice_id=practice.id, name="CM", email="cm0@bench.example",
                             role=Role.CARE_MANAGER))
            session.add(User(practice_id=practice.id, name="BP", email="bp0@bench.example",
                             role=Role.CARE_MANAGER,
                             performer_kind=PerformerKind.BILLING_PRACTITIONER))
            session.commit()

        text = make_csv(args.rows, args.seed)
        changed = make_csv(args.rows, args.seed, phone_suffix="9")
        print(f"panel import: {args.rows:,} CSV rows on {engine.dialect.name}")
        panel = timed("parse", args.rows, lambda: parse_csv(text, today=TODAY))
        print(f"               {len(panel.patients):,} patients, {len(panel.errors)} errors")

        def run(source: str, dry_run: bool) -> object:
            with Session(engine, expire_on_commit=False) as session:
                report = import_panel(session=session, practice=practice,
                                      panel=parse_csv(source, today=TODAY), file="bench.csv",
                                      dry_run=dry_run, today=TODAY, now=NOW)
                session.commit()
            return report

        timed("dry run", args.rows, lambda: run(text, True))
        first = timed("first import", args.rows, lambda: run(text, False))
        again = timed("re-import", args.rows, lambda: run(text, False))
        update = timed("update", args.rows, lambda: run(changed, False))
        for label, report in (("first", first), ("again", again), ("update", update)):
            print(f"{label:<6} {report.totals}")  # type: ignore[attr-defined]
        engine.dispose()


if __name__ == "__main__":
    main()
