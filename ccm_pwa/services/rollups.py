"""PatientMonth rollups: a cache of each patient-month's billing result, never the truth.

Written in the same transaction as every time event (record, void), so a team dashboard
reads one row per patient; `rebuild_rollups` recomputes every row from the events, and the
tests prove both ways give the same rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.domain.billing import MonthEvaluation, evaluate_month
from ccm_pwa.domain.calendar import YearMonth, local_month, split_by_month
from ccm_pwa.models import Patient, PatientMonth, Practice, TimeEntry, utc_now
from ccm_pwa.services.billing_cases import PatientMonthInput, load_month_inputs

# Columns compared by the rebuild-equals-incremental test and written by both paths.
ROLLUP_FIELDS = (
    "staff_seconds", "practitioner_seconds", "countable_minutes", "entry_count", "billable",
    "lane", "claim_codes", "expected_amount_cents", "next_code", "minutes_to_next",
    "last_contact_at",
)


def months_of_entry(entry: TimeEntry, zone: ZoneInfo) -> list[YearMonth]:
    """The local months an entry's time falls in (two when it spans midnight on the 1st)."""
    end = entry.started_at + timedelta(seconds=max(entry.duration_seconds, 1))
    return [month for month, _start, _end in split_by_month(entry.started_at, end, zone)]


def refresh_patient_months(
    *, session: Session, practice: Practice, patient_id: uuid.UUID, months: Iterable[YearMonth]
) -> None:
    """Recompute the rollup rows of one patient for the given months (same transaction)."""
    for month in sorted(set(months)):
        inputs = load_month_inputs(session=session, practice=practice, month=month,
                                   patient_ids=[patient_id])
        for item in inputs:
            _upsert(session, item, evaluate_month(item.case))
    session.flush()


def rebuild_rollups(*, session: Session, practice: Practice) -> int:
    """Throw away and recompute every rollup row of the practice; returns rows written."""
    patient_ids = select(Patient.id).where(Patient.practice_id == practice.id)
    session.execute(sa.delete(PatientMonth).where(PatientMonth.patient_id.in_(patient_ids)))
    zone = ZoneInfo(practice.timezone)
    written = 0
    for month, ids in _months_with_entries(session, practice, zone).items():
        for item in load_month_inputs(session=session, practice=practice, month=month,
                                      patient_ids=sorted(ids)):
            session.add(_row(item, evaluate_month(item.case)))
            written += 1
        session.flush()
    return written


def _months_with_entries(
    session: Session, practice: Practice, zone: ZoneInfo
) -> dict[YearMonth, set[uuid.UUID]]:
    rows = session.execute(
        sa.select(TimeEntry.patient_id, TimeEntry.started_at, TimeEntry.duration_seconds)
        .join(Patient, Patient.id == TimeEntry.patient_id)
        .where(Patient.practice_id == practice.id))
    months: dict[YearMonth, set[uuid.UUID]] = {}
    for patient_id, started_at, seconds in rows:
        first = local_month(started_at, zone)
        months.setdefault(first, set()).add(patient_id)
        last = local_month(started_at + timedelta(seconds=max(seconds, 1)), zone)
        if last != first:
            for month, _s, _e in split_by_month(started_at,
                                                started_at + timedelta(seconds=seconds), zone):
                months.setdefault(month, set()).add(patient_id)
    return months


_ROLLUP_NAMESPACE = uuid.UUID("5b0c1f8e-3d7a-4c61-9a51-2f0b8f6c9e10")


def _row(item: PatientMonthInput, evaluation: MonthEvaluation) -> PatientMonth:
    # The id follows from (patient, month), so a rebuild recreates the very same rows.
    month = str(item.case.month)
    row = PatientMonth(id=uuid.uuid5(_ROLLUP_NAMESPACE, f"{item.patient.id}/{month}"),
                       patient_id=item.patient.id, month=month)
    _fill(row, item, evaluation)
    return row


def _upsert(session: Session, item: PatientMonthInput, evaluation: MonthEvaluation) -> None:
    row = session.exec(select(PatientMonth).where(
        PatientMonth.patient_id == item.patient.id,
        PatientMonth.month == str(item.case.month))).first()
    if row is None:
        session.add(_row(item, evaluation))
    else:
        _fill(row, item, evaluation)
        session.add(row)


def _fill(row: PatientMonth, item: PatientMonthInput, evaluation: MonthEvaluation) -> None:
    counted = [e for e in item.entries if e.id not in item.voided]
    shown = evaluation.shown
    row.staff_seconds = evaluation.time.clinical_staff_seconds
    row.practitioner_seconds = evaluation.time.billing_practitioner_seconds
    row.countable_minutes = evaluation.time.countable_seconds // 60
    row.entry_count = len(counted)
    row.billable = evaluation.billable
    row.lane = evaluation.chosen.lane.key if evaluation.billable and evaluation.chosen else ""
    row.claim_codes = claim_codes_text(evaluation)
    row.expected_amount_cents = int(evaluation.total_amount * 100)
    row.next_code = shown.next.code if shown.next else ""
    row.minutes_to_next = shown.next.minutes_needed if shown.next else None
    row.last_contact_at = _last_contact(counted)
    row.updated_at = utc_now()


def claim_codes_text(evaluation: MonthEvaluation) -> str:
    """"99490,99439x2": short enough for a dashboard cell and a CSV column."""
    return ",".join(line.code if line.units == 1 else f"{line.code}x{line.units}"
                    for line in evaluation.claim_lines)


def _last_contact(entries: list[sa.Row]) -> datetime | None:
    return max((e.started_at for e in entries), default=None)
