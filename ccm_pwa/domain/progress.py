"""Where a patient's month stands, for progress bars, worklists and reminders."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from ccm_pwa.domain.billing import (
    BillingCase,
    ClaimLine,
    LaneResult,
    MonthEvaluation,
    Performer,
    evaluate_month,
    patient_blockers,
)
from ccm_pwa.domain.billing_lanes import PROGRAM_LANES, Lane, LineSpec
from ccm_pwa.domain.calendar import YearMonth, local_date


class ProgressStatus(StrEnum):
    BILLABLE = "billable"  # a claim line is already supported
    ON_TRACK = "on_track"  # the current pace reaches a base code by month end
    AT_RISK = "at_risk"  # the current pace does not
    BLOCKED = "blocked"  # no amount of time helps: consent, conditions, care plan, enrolment
    MISSED = "missed"  # the month is over and nothing was reached


@dataclass(frozen=True)
class MonthProgress:
    """Everything a screen needs, derived from the same evaluation the claim uses."""

    status: ProgressStatus
    lane: Lane
    countable_minutes: int
    marks: tuple[int, ...]
    codes_reached: tuple[ClaimLine, ...]
    next_code: str | None
    next_threshold_minutes: int | None
    minutes_to_next: int | None
    daily_minutes_needed: int | None
    days_in_month: int
    days_elapsed: int
    days_left: int
    projected_minutes: int
    projected_codes: tuple[LineSpec, ...]
    blocking_reasons: tuple[str, ...]
    evaluation: MonthEvaluation


def month_progress(
    case: BillingCase, now: datetime, *, care_plan_in_force: bool | None = None
) -> MonthProgress:
    """Progress of `case.month` as seen at `now`; `care_plan_in_force` overrides the case's.

    The projection is straight-line: countable time so far ÷ local days elapsed (counting
    today) × days in the month. Early in the month one call dominates it; that is accepted
    because reminders only need "is the pace enough", not a forecast.
    """
    if care_plan_in_force is not None:
        patient = dataclasses.replace(case.patient, care_plan_in_force=care_plan_in_force)
        case = dataclasses.replace(case, patient=patient)
    evaluation = evaluate_month(case)
    lane = PROGRAM_LANES[case.patient.program][0]
    shown = next(r for r in evaluation.lanes if r.lane is lane)
    days = case.month.days
    elapsed, days_left = _elapsed_and_left(case, now)

    def at_pace(result: LaneResult) -> int:
        return result.seconds * days // elapsed if elapsed else result.seconds

    blockers = patient_blockers(case.patient, case.month)
    reachable = any(
        result.lane.lines_for(at_pace(result) // 60)
        for result in evaluation.lanes
        if result.unavailable_reason is None
    )
    if blockers:
        status = ProgressStatus.BLOCKED
    elif evaluation.billable:
        status = ProgressStatus.BILLABLE
    elif days_left == 0:
        status = ProgressStatus.MISSED
    else:
        status = ProgressStatus.ON_TRACK if reachable else ProgressStatus.AT_RISK
    upcoming = shown.next
    projected_minutes = at_pace(shown) // 60
    return MonthProgress(
        status=status,
        lane=lane,
        countable_minutes=shown.minutes,
        marks=_marks(lane, shown.minutes),
        codes_reached=evaluation.chosen.claim_lines if evaluation.chosen else (),
        next_code=upcoming.code if upcoming else None,
        next_threshold_minutes=upcoming.threshold_minutes if upcoming else None,
        minutes_to_next=upcoming.minutes_needed if upcoming else None,
        daily_minutes_needed=(
            -(-upcoming.minutes_needed // days_left) if upcoming and days_left else None
        ),
        days_in_month=days,
        days_elapsed=elapsed,
        days_left=days_left,
        projected_minutes=projected_minutes,
        projected_codes=lane.lines_for(projected_minutes),
        blocking_reasons=blockers,
        evaluation=evaluation,
    )


def _elapsed_and_left(case: BillingCase, now: datetime) -> tuple[int, int]:
    """Local days elapsed and left at `now`, both counting today, since today can be worked."""
    today = local_date(now, case.zone)
    if today < case.month.first_day:
        return 0, case.month.days
    if today > case.month.last_day:
        return case.month.days, 0
    return today.day, case.month.days - today.day + 1


def _marks(lane: Lane, minutes: int) -> tuple[int, ...]:
    """The lane's thresholds up to the next one, and at least three, so the bar stays short."""
    thresholds = lane.thresholds()
    reached = sum(1 for t in thresholds if t <= minutes)
    return thresholds[: max(3, reached + 1)]


def days_elapsed_and_left(month: YearMonth, today: date) -> tuple[int, int]:
    """Local days of `month` elapsed and left on `today`, both counting today."""
    if today < month.first_day:
        return 0, month.days
    if today > month.last_day:
        return month.days, 0
    return today.day, month.days - today.day + 1


def projected_lines(lane: Lane, pool_seconds: int, month: YearMonth,
                    today: date) -> tuple[LineSpec, ...]:
    """The lines `lane` reaches by month end at the pace so far (as `month_progress`):
    pool seconds ÷ days elapsed × days in month, floored to whole minutes."""
    elapsed, _left = days_elapsed_and_left(month, today)
    at_pace = pool_seconds * month.days // elapsed if elapsed else pool_seconds
    return lane.lines_for(at_pace // 60)


def lane_pool_seconds(lane: Lane, staff_seconds: int, practitioner_seconds: int) -> int:
    """A lane's pool from rollup totals: practitioner-only lanes count only her time."""
    if Performer.CLINICAL_STAFF in lane.counted_performers:
        return staff_seconds + practitioner_seconds
    return practitioner_seconds
