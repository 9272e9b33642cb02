"""Program month: what the practice (or one care manager's caseload) bills, will bill, and
how patients flow from eligible to billable.

Everything here is read from the rollups (`PatientMonth`), never from the raw events, so
it is O(patients): billable patients and claim lines so far, the history of the 6
months before, and the last funnel step. The rollups price every month with the
practice's *current* fee year (`Practice.fee_year`); a closed month's own totals are in
its close audit row. The projection runs each enrolled, unblocked patient's pace to
month end (`domain.progress.projected_lines`) and prices it with the same fee table.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from ccm_pwa.domain.billing_lanes import PROGRAM_LANES
from ccm_pwa.domain.calendar import YearMonth, local_date
from ccm_pwa.domain.fee_schedule import fee_for
from ccm_pwa.domain.progress import lane_pool_seconds, projected_lines
from ccm_pwa.models import (
    EnrollmentStatus,
    MonthlyAssessment,
    Patient,
    PatientMonth,
    Practice,
    Program,
    User,
)
from ccm_pwa.services.patient_facts import patient_facts

HISTORY_MONTHS = 6


@dataclass(frozen=True)
class CodeCount:
    """Patients billing `code` and the units they bill."""

    code: str
    patients: int
    units: int


@dataclass(frozen=True)
class MonthFigures:
    month: str
    billable_patients: int
    claim_lines: int
    revenue_cents: int


@dataclass(frozen=True)
class Funnel:
    """Nested steps, each a subset of the one before, so the bars only narrow.

    eligible: enough active chronic conditions for the patient's program (CCM ≥ 2, PCM
    1); consented: and a consent in force this month; enrolled: and status enrolled;
    reached: and countable time this month; billable: and the month bills.
    """

    eligible: int
    consented: int
    enrolled: int
    reached: int
    billable: int


@dataclass(frozen=True)
class ProgramMonth:
    """`by_code`, `claim_lines`, `revenue_cents`: billed so far (rollups). `projected_*`:
    at month end if every patient keeps her pace (equal to so-far for a past month).
    `history`: the HISTORY_MONTHS months before `month`, oldest first, from rollups."""

    month: str
    care_manager_id: str | None
    scope: str  # the practice's name, or the care manager's
    fee_year: int
    patients: int  # in scope, any enrollment status
    enrolled_patients: int
    billable_patients: int
    by_code: tuple[CodeCount, ...]
    claim_lines: int
    revenue_cents: int
    projected_billable_patients: int
    projected_by_code: tuple[CodeCount, ...]
    projected_claim_lines: int
    projected_revenue_cents: int
    history: tuple[MonthFigures, ...]
    funnel: Funnel
    history_source: str = "rollups"


def program_month(*, session: Session, practice: Practice, month: YearMonth,
                  care_manager_id: uuid.UUID | None, now: datetime | None = None
                  ) -> ProgramMonth:
    """Figures for the practice (`care_manager_id` None) or one care manager's caseload.

    Role and team checks are the caller's (the route asks `team_scope`); the figures are
    counts and sums, with no patient named.
    """
    query = select(Patient).where(Patient.practice_id == practice.id)
    scope = practice.name
    if care_manager_id is not None:
        query = query.where(Patient.care_manager_id == care_manager_id)
        manager = session.get(User, care_manager_id)
        scope = manager.name if manager else "Unknown"
    patients = list(session.exec(query))
    ids = [p.id for p in patients]
    months = [month]
    for _ in range(HISTORY_MONTHS):
        months.insert(0, months[0].preceding())
    rollups = _rollups(session, ids, months)
    current = {r.patient_id: r for r in rollups if r.month == str(month)}
    facts = patient_facts(session=session, patients=patients, month=month)
    complex_ok = _complex_mdm(session, ids, month)
    today = local_date(now, ZoneInfo(practice.timezone)) if now else month.last_day
    enrolled = [p for p in patients if p.enrollment_status == EnrollmentStatus.ENROLLED]
    so_far: list[tuple[str, int]] = []
    projected: list[tuple[str, int]] = []
    projected_patients = 0
    for patient in enrolled:
        rollup = current.get(patient.id)
        lines = _parse_codes(rollup.claim_codes) if rollup and rollup.billable else []
        so_far.extend(lines)
        ahead = lines
        if not facts[patient.id].blocked and today <= month.last_day:
            best = _best_projection(practice, patient, rollup, month, today,
                                    patient.id in complex_ok)
            if _cents(practice, best) > _cents(practice, lines):
                ahead = best
        projected.extend(ahead)
        projected_patients += bool(ahead)
    history = tuple(_figures(practice, m, [r for r in rollups if r.month == str(m)])
                    for m in months[:-1])
    return ProgramMonth(
        month=str(month), care_manager_id=str(care_manager_id) if care_manager_id else None,
        scope=scope, fee_year=practice.fee_year, patients=len(patients),
        enrolled_patients=len(enrolled),
        billable_patients=sum(1 for p in enrolled if current.get(p.id) and current[p.id].billable),
        by_code=_by_code(so_far), claim_lines=len(so_far),
        revenue_cents=sum(current[p.id].expected_amount_cents for p in enrolled
                          if p.id in current and current[p.id].billable),
        projected_billable_patients=projected_patients, projected_by_code=_by_code(projected),
        projected_claim_lines=len(projected), projected_revenue_cents=_cents(practice, projected),
        history=history, funnel=_funnel(patients, facts, current))


def _rollups(session: Session, ids: list[uuid.UUID],
             months: list[YearMonth]) -> list[PatientMonth]:
    found: list[PatientMonth] = []
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        found.extend(session.exec(select(PatientMonth).where(
            PatientMonth.patient_id.in_(chunk),
            PatientMonth.month.in_([str(m) for m in months]))))
    return found


def _complex_mdm(session: Session, ids: list[uuid.UUID], month: YearMonth) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        found.update(session.exec(select(MonthlyAssessment.patient_id).where(
            MonthlyAssessment.patient_id.in_(chunk), MonthlyAssessment.month == str(month),
            MonthlyAssessment.complex_mdm.is_(True))))
    return found


def _best_projection(practice: Practice, patient: Patient, rollup: PatientMonth | None,
                     month: YearMonth, today: date, complex_mdm: bool) -> list[tuple[str, int]]:
    """The best-paying lane's projected lines (complex CCM only with its MDM on file)."""
    staff = rollup.staff_seconds if rollup else 0
    practitioner = rollup.practitioner_seconds if rollup else 0
    best: list[tuple[str, int]] = []
    for lane in PROGRAM_LANES[Program(patient.program)]:
        if lane.needs_complex_mdm and not complex_mdm:
            continue
        lines = [(spec.code, spec.units) for spec in projected_lines(
            lane, lane_pool_seconds(lane, staff, practitioner), month, today)]
        if _cents(practice, lines) > _cents(practice, best) or (lines and not best):
            best = lines
    return best


def _parse_codes(text: str) -> list[tuple[str, int]]:
    """"99490,99439x2" → [("99490", 1), ("99439", 2)] (rollups.claim_codes_text)."""
    lines = []
    for part in filter(None, text.split(",")):
        code, _x, units = part.partition("x")
        lines.append((code, int(units) if units else 1))
    return lines


def _cents(practice: Practice, lines: list[tuple[str, int]]) -> int:
    total = 0
    for code, units in lines:
        fee = fee_for(practice.fee_year, code)
        total += int(fee.amount * 100) * units if fee else 0
    return total


def _by_code(lines: list[tuple[str, int]]) -> tuple[CodeCount, ...]:
    patients: Counter[str] = Counter()
    units: Counter[str] = Counter()
    for code, count in lines:
        patients[code] += 1
        units[code] += count
    return tuple(CodeCount(code, patients[code], units[code]) for code in sorted(patients))


def _figures(practice: Practice, month: YearMonth, rows: list[PatientMonth]) -> MonthFigures:
    billed = [r for r in rows if r.billable]
    return MonthFigures(str(month), len(billed),
                        sum(len(_parse_codes(r.claim_codes)) for r in billed),
                        sum(r.expected_amount_cents for r in billed))


def _funnel(patients: list[Patient], facts: dict, current: dict) -> Funnel:
    eligible = [p for p in patients if facts[p.id].eligible]
    consented = [p for p in eligible if facts[p.id].consent_on_file]
    enrolled = [p for p in consented if p.enrollment_status == EnrollmentStatus.ENROLLED]
    reached = [p for p in enrolled if p.id in current and current[p.id].countable_minutes > 0]
    billable = [p for p in reached if current[p.id].billable]
    return Funnel(len(eligible), len(consented), len(enrolled), len(reached), len(billable))
