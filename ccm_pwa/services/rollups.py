"""PatientMonth rollups: a cache of each patient-month's billing result, never the truth.

Written in the same transaction as every time event (record, void), so a team dashboard
reads one row per patient; `rebuild_rollups` recomputes every row from the events, and the
tests prove both ways give the same rows.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from ccm_pwa.db import get_engine
from ccm_pwa.domain.billing import MonthEvaluation, evaluate_month
from ccm_pwa.domain.calendar import YearMonth, local_month
from ccm_pwa.domain.time_rules import MAX_ENTRY_SPAN, months_of
from ccm_pwa.models import Patient, PatientMonth, Practice, TimeEntry, utc_now
from ccm_pwa.services.billing_cases import PatientMonthInput, load_inputs
from ccm_pwa.services.record_versions import bump_practice

# Columns compared by the rebuild-equals-incremental test and written by both paths.
ROLLUP_FIELDS = (
    "staff_seconds", "practitioner_seconds", "countable_minutes", "entry_count", "billable",
    "lane", "claim_codes", "expected_amount_cents", "next_code", "minutes_to_next",
    "last_contact_at",
)


def months_of_entry(entry: TimeEntry, zone: ZoneInfo) -> list[YearMonth]:
    """The local months an entry's time falls in (two when it spans midnight on the 1st)."""
    return months_of(entry.started_at, entry.duration_seconds, zone)


def refresh_patient_months(
    *, session: Session, practice: Practice, patient_id: uuid.UUID, months: Iterable[YearMonth]
) -> None:
    """Recompute the rollup rows of one patient for the given months (same transaction)."""
    months = sorted(set(months))
    if not months:
        return
    refresh_many(session=session, practice=practice, touched={patient_id: set(months)})


def refresh_many(
    *, session: Session, practice: Practice, touched: dict[uuid.UUID, set[YearMonth]]
) -> None:
    """`refresh_patient_months` for many patients at once: one read of their months.

    A sync push of 100 entries touches a few patients many times; refreshing each patient
    once, together, at the end of the push is what keeps a push fast.
    """
    if not touched:
        return
    months = sorted(set().union(*touched.values()))
    session.flush()  # the billing input is read with Core: it must see pending ORM rows
    inputs = load_inputs(session=session, practice=practice, months=months,
                         patient_ids=list(touched), entry_details=False)
    _save(session, [_row_values(item, evaluate_month(item.case))
                    for month in months for item in inputs[month]
                    if month in touched.get(item.patient.id, ())])


def rebuild_rollups(*, session: Session, practice: Practice, workers: int = 1,
                    slice_size: int = 5000) -> int:
    """Throw away and recompute every rollup row of the practice; returns rows written.

    Every (patient, month) that any time entry touches gets a row, exactly the rows the
    incremental path creates. Patients are processed in slices (bounded memory); with
    `workers` > 1 the slices are computed in that many processes (the work is CPU-bound
    Python), and this session writes the rows.
    """
    patient_ids = list(session.execute(
        sa.select(Patient.id).where(Patient.practice_id == practice.id).order_by(Patient.id)
    ).scalars())
    session.execute(sa.delete(PatientMonth).where(PatientMonth.patient_id.in_(patient_ids))
                    if len(patient_ids) <= 500 else
                    sa.delete(PatientMonth).where(PatientMonth.patient_id.in_(
                        sa.select(Patient.id).where(Patient.practice_id == practice.id))))
    months = _months_spanned(session, practice)
    if not months:
        return 0
    slices = [patient_ids[i : i + slice_size] for i in range(0, len(patient_ids), slice_size)]
    written = 0
    if workers > 1 and len(slices) > 1:
        url = session.get_bind().url.render_as_string(hide_password=False)
        context = multiprocessing.get_context("spawn")  # never fork open connections
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            jobs = [pool.submit(_slice_rows, url, practice.id, months, ids) for ids in slices]
            for job in jobs:
                written += _insert_rows(session, job.result())
    else:
        for ids in slices:
            written += _insert_rows(session, _compute_rows(session, practice, months, ids))
    session.flush()
    bump_practice(session, practice.id)  # every phone's minutes may have moved
    return written


def _compute_rows(session: Session, practice: Practice, months: list[YearMonth],
                  patient_ids: list[uuid.UUID]) -> list[dict[str, object]]:
    inputs = load_inputs(session=session, practice=practice, months=months,
                         patient_ids=patient_ids, only_with_entries=True, entry_details=False)
    return [_row_values(item, evaluate_month(item.case))
            for month in months for item in inputs[month]]


def _slice_rows(url: str, practice_id: uuid.UUID, months: list[YearMonth],
                patient_ids: list[uuid.UUID]) -> list[dict[str, object]]:
    """One worker process's share of a rebuild (reads only; the parent writes)."""
    with Session(get_engine(url)) as session:
        practice = session.get(Practice, practice_id)
        assert practice is not None
        return _compute_rows(session, practice, months, patient_ids)


def _insert_rows(session: Session, rows: list[dict[str, object]]) -> int:
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return _copy_rows(session, rows)
    for i in range(0, len(rows), 5000):
        session.execute(sa.insert(PatientMonth), rows[i : i + 5000])
    return len(rows)


def _copy_rows(session: Session, rows: list[dict[str, object]]) -> int:
    """PostgreSQL's COPY: several times faster than INSERT for a full rebuild's rows."""
    columns = list(rows[0])
    cursor = session.connection().connection.dbapi_connection.cursor()
    names = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f"COPY patient_month ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])
    return len(rows)


def _months_spanned(session: Session, practice: Practice) -> list[YearMonth]:
    first, last = session.execute(
        sa.select(sa.func.min(TimeEntry.started_at), sa.func.max(TimeEntry.started_at))
        .join(Patient, Patient.id == TimeEntry.patient_id)
        .where(Patient.practice_id == practice.id)).one()
    if first is None:
        return []
    zone = ZoneInfo(practice.timezone)
    first, last = _aware(first), _aware(last) + MAX_ENTRY_SPAN
    months, month = [], local_month(first, zone)
    while month <= local_month(last, zone):
        months.append(month)
        month = month.following()
    return months


def _aware(value: datetime) -> datetime:
    """Aggregates bypass the column type, so SQLite's min/max come back naive (UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_ROLLUP_NAMESPACE = uuid.UUID("5b0c1f8e-3d7a-4c61-9a51-2f0b8f6c9e10")


def _row_values(item: PatientMonthInput, evaluation: MonthEvaluation) -> dict[str, object]:
    """The whole rollup row as plain values (bulk insert and upsert share it)."""
    month = str(item.case.month)
    # The id follows from (patient, month), so a rebuild recreates the very same rows.
    return {"id": uuid.uuid5(_ROLLUP_NAMESPACE, f"{item.patient.id}/{month}"),
            "patient_id": item.patient.id, "month": month, **_values(item, evaluation)}


def _save(session: Session, rows: list[dict[str, object]]) -> None:
    """Insert the new rows, update the existing ones: one read, two statements.

    The rows' ids follow from (patient, month), so which exist is one lookup by id; rows
    the session holds as objects are expired so a later read in it sees the new values.
    """
    if not rows:
        return
    table = PatientMonth.__table__
    existing = set(session.execute(sa.select(PatientMonth.id).where(
        PatientMonth.id.in_([row["id"] for row in rows]))).scalars())
    fresh = [row for row in rows if row["id"] not in existing]
    if fresh:
        session.execute(sa.insert(table), fresh)
    columns = [name for name in rows[0] if name not in ("id", "patient_id", "month")]
    changed = [{"row_id": row["id"], **{f"new_{name}": row[name] for name in columns}}
               for row in rows if row["id"] in existing]
    if changed:
        # Bound names differ from the columns': SQLAlchemy reserves those for SET.
        session.execute(sa.update(table).where(table.c.id == sa.bindparam("row_id"))
                        .values({name: sa.bindparam(f"new_{name}") for name in columns}),
                        changed)
    for held in [o for o in session.identity_map.values() if isinstance(o, PatientMonth)]:
        if held.id in existing:
            session.expire(held)


def _values(item: PatientMonthInput, evaluation: MonthEvaluation) -> dict[str, object]:
    counted = [e for e in item.entries if e.id not in item.voided]
    shown = evaluation.shown
    return {
        "staff_seconds": evaluation.time.clinical_staff_seconds,
        "practitioner_seconds": evaluation.time.billing_practitioner_seconds,
        "countable_minutes": evaluation.time.countable_seconds // 60,
        "entry_count": len(counted),
        "billable": evaluation.billable,
        "lane": evaluation.chosen.lane.key if evaluation.billable and evaluation.chosen else "",
        "claim_codes": claim_codes_text(evaluation),
        "expected_amount_cents": int(evaluation.total_amount * 100),
        "next_code": shown.next.code if shown.next else "",
        "minutes_to_next": shown.next.minutes_needed if shown.next else None,
        "last_contact_at": max((e.started_at for e in counted), default=None),
        "updated_at": utc_now(),
    }


def claim_codes_text(evaluation: MonthEvaluation) -> str:
    """"99490,99439x2": short enough for a dashboard cell and a CSV column."""
    return ",".join(line.code if line.units == 1 else f"{line.code}x{line.units}"
                    for line in evaluation.claim_lines)
