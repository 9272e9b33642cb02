"""Turn one patient-month of time entries into CMS claim lines (docs/billing-rules.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ccm_pwa.domain.billing_case import (
    BillingCase,
    InpatientStay,
    Patient,
    Performer,
    Program,
    TimeEntry,
)
from ccm_pwa.domain.billing_lanes import (
    MINIMUM_CONDITIONS,
    PRACTITIONER_ONLY,
    PROGRAM_LANES,
    Lane,
)
from ccm_pwa.domain.calendar import YearMonth, local_date
from ccm_pwa.domain.countable_time import CountableTime, Exclusion, Segment, countable_time
from ccm_pwa.domain.fee_schedule import FEE_SCHEDULE, Fee, fee_for

__all__ = [
    "BillingCase",
    "ClaimLine",
    "Exclusion",
    "InpatientStay",
    "Lane",
    "LaneResult",
    "MonthEvaluation",
    "NextCode",
    "Patient",
    "Performer",
    "Program",
    "TimeEntry",
    "TimeTotals",
    "evaluate_month",
    "patient_blockers",
]

_PROGRAM_WORDS = {Program.CCM: "CCM", Program.COMPLEX_CCM: "CCM", Program.PCM: "PCM"}
_MDM_WORDS = (
    "complex CCM (99487) needs moderate or high complexity medical decision making "
    "documented this month"
)


@dataclass(frozen=True)
class ClaimLine:
    """A code to bill; `date_of_service` is the local day its last unit's time was reached."""

    code: str
    units: int
    date_of_service: date
    threshold_minutes: int
    unit_fee: Fee | None

    @property
    def amount(self) -> Decimal:
        """$0 when the fee is unknown, so unknown fees rank last but never block a claim."""
        return self.unit_fee.amount * self.units if self.unit_fee else Decimal("0.00")


@dataclass(frozen=True)
class NextCode:
    code: str
    minutes_needed: int
    threshold_minutes: int


@dataclass(frozen=True)
class LaneResult:
    """How far one lane's own pool of countable time gets; no second is in two lanes' claim."""

    lane: Lane
    seconds: int
    claim_lines: tuple[ClaimLine, ...]
    next: NextCode | None
    unavailable_reason: str | None = None

    @property
    def minutes(self) -> int:
        """Floor of the summed seconds: 1199 s is 19 min, never 20."""
        return self.seconds // 60

    @property
    def total_amount(self) -> Decimal:
        return sum((line.amount for line in self.claim_lines), Decimal("0.00"))

    @property
    def compliant(self) -> bool:
        return bool(self.claim_lines) and self.unavailable_reason is None


@dataclass(frozen=True)
class TimeTotals:
    """Countable seconds by performer, and for the lane the evaluation reports on."""

    clinical_staff_seconds: int
    billing_practitioner_seconds: int
    countable_seconds: int


@dataclass(frozen=True)
class MonthEvaluation:
    """The month's verdict with its evidence, so a biller or auditor can retrace it.

    `chosen` is the best-paying lane the time reaches, kept even when a patient-level
    blocker makes the month unbillable (progress screens still show what the time earned);
    `claim_lines` is empty unless `billable`. `shown` is the lane `next` and the countable
    minutes refer to: `chosen`, or else the program's first available lane.
    """

    month: YearMonth
    fee_year: int
    billable: bool
    chosen: LaneResult | None
    shown: LaneResult
    lanes: tuple[LaneResult, ...]
    time: TimeTotals
    excluded: tuple[Exclusion, ...]
    reasons: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def claim_lines(self) -> tuple[ClaimLine, ...]:
        return self.chosen.claim_lines if self.billable and self.chosen else ()

    @property
    def total_amount(self) -> Decimal:
        return sum((line.amount for line in self.claim_lines), Decimal("0.00"))

    @property
    def next(self) -> NextCode | None:
        return self.shown.next

    @property
    def alternatives(self) -> tuple[LaneResult, ...]:
        """Other compliant lanes, so a biller can see what was passed over and for how much."""
        if not self.billable:
            return ()
        chosen = self.chosen.lane if self.chosen else None
        return tuple(r for r in self.lanes if r.compliant and r.lane != chosen)


def evaluate_month(case: BillingCase) -> MonthEvaluation:
    """Pick the compliant lane that pays most under the case's fee year; ties go to staff."""
    time = countable_time(case)
    mdm_missing = not case.patient.complex_mdm
    lanes = tuple(
        _evaluate_lane(
            lane,
            time,
            case,
            _MDM_WORDS if lane.needs_complex_mdm and mdm_missing else None,
        )
        for lane in PROGRAM_LANES[case.patient.program]
    )
    compliant = [r for r in lanes if r.compliant]
    chosen = max(compliant, key=lambda r: (r.total_amount, -r.lane.tie_rank), default=None)
    shown = chosen or next(r for r in lanes if r.unavailable_reason is None)
    blockers = patient_blockers(case.patient, case.month)
    billable = chosen is not None and not blockers
    reasons = list(blockers)
    if chosen is None:
        reasons.extend(_time_shortfalls(lanes))
    notes = _notes(case, chosen if billable else None)
    if any(r.unavailable_reason for r in lanes):
        # Said either way: why it bills a lesser lane, or part of why it is not billable.
        if billable:
            notes.insert(0, _MDM_WORDS)
        else:
            reasons.append(_MDM_WORDS)
    return MonthEvaluation(
        month=case.month,
        fee_year=case.fee_year,
        billable=billable,
        chosen=chosen,
        shown=shown,
        lanes=lanes,
        time=TimeTotals(
            clinical_staff_seconds=time.seconds_by([Performer.CLINICAL_STAFF]),
            billing_practitioner_seconds=time.seconds_by([Performer.BILLING_PRACTITIONER]),
            countable_seconds=shown.seconds,
        ),
        excluded=time.excluded,
        reasons=tuple(reasons),
        notes=tuple(notes),
    )


def patient_blockers(patient: Patient, month: YearMonth) -> tuple[str, ...]:
    """Why no time at all can be billed this month, whatever the minutes."""
    blockers: list[str] = []
    if patient.consent_date is None:
        blockers.append("no consent on file: time cannot be billed before consent is documented")
    elif patient.consent_date > month.last_day:
        blockers.append(
            f"consent is dated {patient.consent_date.isoformat()}, after {month}: "
            "no time this month counts"
        )
    needed = MINIMUM_CONDITIONS[patient.program]
    found = len(patient.distinct_conditions)
    if found < needed:
        noun = "condition" if needed == 1 else "conditions"
        blockers.append(
            f"{_PROGRAM_WORDS[patient.program]} needs at least {needed} chronic {noun} "
            f"on file; found {found}"
        )
    if patient.care_plan_in_force is False:
        blockers.append("no care plan in force this month")
    if patient.enrolled is False:
        blockers.append("patient is not enrolled in the program this month")
    return tuple(blockers)


def _evaluate_lane(
    lane: Lane, time: CountableTime, case: BillingCase, unavailable_reason: str | None
) -> LaneResult:
    pool = [s for s in time.segments if s.performer in lane.counted_performers]
    seconds = sum(s.seconds for s in pool)
    minutes = seconds // 60
    lines = tuple(
        ClaimLine(
            code=spec.code,
            units=spec.units,
            date_of_service=_date_reached(pool, spec.threshold_minutes * 60, case),
            threshold_minutes=spec.threshold_minutes,
            unit_fee=fee_for(case.fee_year, spec.code),
        )
        for spec in lane.lines_for(minutes)
    )
    upcoming = lane.next_after(minutes)
    next_code = NextCode(upcoming[0], upcoming[1] - minutes, upcoming[1]) if upcoming else None
    return LaneResult(lane, seconds, lines, next_code, unavailable_reason)


def _date_reached(pool: list[Segment], seconds_needed: int, case: BillingCase) -> date:
    """The local day on which the lane's running total first covers `seconds_needed` (T8)."""
    total = 0
    for segment in pool:
        if total + segment.seconds >= seconds_needed:
            reached = segment.start + timedelta(seconds=seconds_needed - total)
            # The last counted second ends at `reached`; it was worked just before it.
            return local_date(reached - timedelta(microseconds=1), case.zone)
        total += segment.seconds
    raise ValueError("threshold not reached")  # lines_for only yields reached thresholds


def _time_shortfalls(lanes: tuple[LaneResult, ...]) -> list[str]:
    shortfalls = []
    for result in lanes:
        if result.unavailable_reason is not None:
            continue
        lane = result.lane
        pool = (
            "the billing practitioner's own time"
            if lane.counted_performers == PRACTITIONER_ONLY
            else "clinical staff and billing practitioner time"
        )
        shortfalls.append(
            f"{result.minutes} min of {pool} counted this month; "
            f"{lane.base_code} needs {lane.base_minutes} min"
        )
    return shortfalls


def _notes(case: BillingCase, chosen: LaneResult | None) -> list[str]:
    """Facts a biller should see even on a billable month: what was assumed or capped."""
    notes: list[str] = []
    if case.patient.care_plan_in_force is None:
        notes.append("care plan in force was not checked")
    if case.fee_year not in FEE_SCHEDULE:
        notes.append(f"fee year {case.fee_year} is not in the fee table; amounts show as $0")
    if chosen is None:
        return notes
    for line in chosen.claim_lines:
        if line.unit_fee is None:
            notes.append(
                f"{line.code}: fee not in table for {case.fee_year}; counted as $0 when "
                "comparing lanes"
            )
        elif line.unit_fee.approximate:
            notes.append(
                f"{line.code}: {case.fee_year} fee ${line.unit_fee.amount} is approximate "
                f"({line.unit_fee.source})"
            )
    lane = chosen.lane
    cap_minutes = lane.thresholds()[-1]
    if chosen.minutes >= cap_minutes + lane.add_on_minutes:
        notes.append(
            f"{lane.add_on_code} is capped at {lane.max_add_on_units} units "
            f"({lane.cap_reason}): {chosen.minutes - cap_minutes} min beyond "
            f"{cap_minutes} min add no units"
        )
    return notes
