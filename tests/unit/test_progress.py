"""Monthly progress for screens and reminders: marks, next threshold, pace, status."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from ccm_pwa.domain.billing import BillingCase, Patient, Performer, Program, TimeEntry
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.domain.progress import ProgressStatus, month_progress

MID_NOVEMBER = datetime.fromisoformat("2026-11-15T12:00:00-06:00")


def case(
    *minutes: int,
    program: Program = Program.CCM,
    conditions: tuple[str, ...] = ("E11.9", "I10"),
    consent: date | None = date(2026, 10, 2),
    complex_mdm: bool = False,
    care_plan: bool | None = None,
    enrolled: bool | None = None,
) -> BillingCase:
    """One staff call per value, on 2, 3, 4 … November."""
    entries = tuple(
        TimeEntry(
            f"e{i}",
            datetime.fromisoformat(f"2026-11-{2 + i:02d}T10:00:00-06:00"),
            m * 60,
            Performer.CLINICAL_STAFF,
        )
        for i, m in enumerate(minutes)
    )
    patient = Patient(
        chronic_conditions=conditions,
        program=program,
        consent_date=consent,
        complex_mdm=complex_mdm,
        care_plan_in_force=care_plan,
        enrolled=enrolled,
    )
    return BillingCase(YearMonth(2026, 11), ZoneInfo("America/Chicago"), 2026, patient, entries)


def test_halfway_with_half_the_minutes_is_on_track() -> None:
    progress = month_progress(case(10), MID_NOVEMBER)
    assert progress.status is ProgressStatus.ON_TRACK
    assert progress.countable_minutes == 10
    assert progress.marks == (20, 40, 60)
    assert (progress.next_code, progress.next_threshold_minutes) == ("99490", 20)
    assert progress.minutes_to_next == 10
    assert (progress.days_elapsed, progress.days_left, progress.days_in_month) == (15, 16, 30)
    assert progress.daily_minutes_needed == 1  # 10 min over 16 days, rounded up
    assert progress.projected_minutes == 20  # 10 / 15 days x 30 days
    assert [(c.code, c.units) for c in progress.projected_codes] == [("99490", 1)]
    assert progress.codes_reached == ()


def test_slow_pace_is_at_risk() -> None:
    progress = month_progress(case(5), MID_NOVEMBER)
    assert progress.status is ProgressStatus.AT_RISK
    assert progress.projected_minutes == 10
    assert progress.projected_codes == ()


def test_reached_threshold_is_billable_and_points_at_the_add_on() -> None:
    progress = month_progress(case(25), MID_NOVEMBER)
    assert progress.status is ProgressStatus.BILLABLE
    assert [(c.code, c.units) for c in progress.codes_reached] == [("99490", 1)]
    assert (progress.next_code, progress.next_threshold_minutes, progress.minutes_to_next) == (
        "99439",
        40,
        15,
    )
    assert [(c.code, c.units) for c in progress.projected_codes] == [
        ("99490", 1),
        ("99439", 1),
    ]


def test_capped_month_has_no_next_code() -> None:
    progress = month_progress(case(30, 30, 10), MID_NOVEMBER)
    assert progress.next_code is None
    assert progress.minutes_to_next is None
    assert progress.daily_minutes_needed is None


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"consent": None}, "no consent on file"),
        ({"conditions": ("E11.9",)}, "CCM needs at least 2 chronic conditions"),
        ({"care_plan": False}, "no care plan in force this month"),
        ({"enrolled": False}, "patient is not enrolled in the program this month"),
    ],
)
def test_blocking_reasons_make_the_month_blocked(kwargs: dict[str, object], reason: str) -> None:
    progress = month_progress(case(45, **kwargs), MID_NOVEMBER)  # type: ignore[arg-type]
    assert progress.status is ProgressStatus.BLOCKED
    assert any(r.startswith(reason) for r in progress.blocking_reasons)
    assert not progress.evaluation.billable


def test_care_plan_argument_overrides_the_case() -> None:
    assert month_progress(
        case(45, care_plan=True), MID_NOVEMBER, care_plan_in_force=False
    ).status is (ProgressStatus.BLOCKED)
    assert month_progress(
        case(45, care_plan=False), MID_NOVEMBER, care_plan_in_force=True
    ).status is (ProgressStatus.BILLABLE)


def test_pcm_needs_one_condition_and_uses_30_minute_marks() -> None:
    progress = month_progress(case(20, program=Program.PCM, conditions=("I50.9",)), MID_NOVEMBER)
    assert progress.blocking_reasons == ()
    assert progress.lane.key == "pcm_staff"
    assert progress.marks == (30, 60, 90)
    assert (progress.next_code, progress.minutes_to_next) == ("99426", 10)
    assert progress.status is ProgressStatus.ON_TRACK  # 20 / 15 x 30 = 40 >= 30


def test_complex_marks_grow_past_three_as_time_is_reached() -> None:
    progress = month_progress(
        case(60, 60, 10, program=Program.COMPLEX_CCM, complex_mdm=True), MID_NOVEMBER
    )
    assert progress.lane.key == "ccm_complex"
    assert progress.marks == (60, 90, 120, 150)
    assert (progress.next_code, progress.next_threshold_minutes) == ("99489", 150)
    assert [(c.code, c.units) for c in progress.codes_reached] == [("99487", 1), ("99489", 2)]


def test_complex_progress_starts_with_60_90_120() -> None:
    progress = month_progress(case(10, program=Program.COMPLEX_CCM, complex_mdm=True), MID_NOVEMBER)
    assert progress.marks == (60, 90, 120)
    assert (progress.next_code, progress.minutes_to_next) == ("99487", 50)


def test_last_local_day_still_counts_as_a_day_left() -> None:
    # 03:00 UTC on 1 December is still 30 November in Chicago.
    progress = month_progress(case(5), datetime.fromisoformat("2026-12-01T03:00:00+00:00"))
    assert (progress.days_elapsed, progress.days_left) == (30, 1)
    assert progress.status is ProgressStatus.AT_RISK
    assert progress.daily_minutes_needed == 15


def test_month_over_without_a_code_is_missed() -> None:
    progress = month_progress(case(5), datetime.fromisoformat("2026-12-02T09:00:00-06:00"))
    assert progress.days_left == 0
    assert progress.projected_minutes == 5
    assert progress.status is ProgressStatus.MISSED


def test_before_the_month_starts_the_projection_is_what_is_logged() -> None:
    progress = month_progress(case(), datetime.fromisoformat("2026-10-20T09:00:00-05:00"))
    assert (progress.days_elapsed, progress.days_left) == (0, 30)
    assert progress.projected_minutes == 0
    assert progress.status is ProgressStatus.AT_RISK


def test_progress_reuses_the_billing_evaluation() -> None:
    progress = month_progress(case(25), MID_NOVEMBER)
    assert progress.evaluation.claim_lines == progress.codes_reached
    assert progress.countable_minutes == progress.evaluation.time.countable_seconds // 60
