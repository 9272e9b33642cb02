"""Pure month-close rules: overlaps across patients, one lane, add-on with base, cuts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ccm_pwa.domain.billing import BillingCase, Patient, Performer, Program, TimeEntry
from ccm_pwa.domain.billing_lanes import CCM_STAFF, PCM_PRACTITIONER
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.domain.month_checks import (
    Interval,
    add_on_problems,
    case_without,
    claim_signature,
    claim_survives_cuts,
    cross_patient_overlaps,
    lane_problems,
)
from ccm_pwa.domain.progress import days_elapsed_and_left, lane_pool_seconds, projected_lines

T0 = datetime(2026, 10, 14, 15, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_overlaps_are_one_persons_entries_on_two_patients() -> None:
    intervals = [
        Interval("a", "kim", "p1", at(0), at(20)),
        Interval("b", "kim", "p2", at(15), at(40)),  # 5 min with a
        Interval("c", "kim", "p1", at(30), at(35)),  # same patient as a: not ours
        Interval("d", "dana", "p3", at(0), at(60)),  # another person
        Interval("e", "kim", "p3", at(40), at(50)),  # touches b's end: no shared second
    ]
    found = cross_patient_overlaps(intervals)
    pairs = sorted((o.first.entry_id, o.second.entry_id, o.seconds) for o in found)
    assert pairs == [("a", "b", 300), ("b", "c", 300)]


def test_no_overlap_without_a_shared_second() -> None:
    assert cross_patient_overlaps([Interval("a", "kim", "p1", at(0), at(10)),
                                   Interval("b", "kim", "p2", at(10), at(20))]) == []


def test_one_lane_per_patient_month() -> None:
    assert lane_problems(["99490", "99439"]) == []
    assert lane_problems(["99487", "99489"]) == []
    assert lane_problems(["99490", "99491"]) == [
        "codes from 2 lanes in one month: ccm_practitioner, ccm_staff"]
    assert lane_problems(["99490", "99426"])  # CCM and PCM from one practice


def test_add_on_needs_its_base() -> None:
    assert add_on_problems(["99490", "99439"]) == []
    assert add_on_problems(["99439"]) == ["add-on 99439 without its base code 99490"]
    assert add_on_problems(["99490", "99489"]) == ["add-on 99489 without its base code 99487"]
    assert add_on_problems(["99426", "99427", "99425"]) == [
        "add-on 99425 without its base code 99424"]


def _case(*entries: tuple[str, int, int]) -> BillingCase:
    return BillingCase(
        month=YearMonth(2026, 10), zone=ZoneInfo("America/Chicago"), fee_year=2026,
        patient=Patient(chronic_conditions=("E11.9", "I10"), program=Program.CCM,
                        consent_date=date(2026, 1, 5), care_plan_in_force=True),
        time_entries=tuple(TimeEntry(entry_id, at(start), minutes * 60,
                                     Performer.CLINICAL_STAFF)
                           for entry_id, start, minutes in entries))


def test_cut_splits_an_entry_and_keeps_the_rest() -> None:
    case = _case(("a", 0, 30))
    cut = case_without(case, {"a": [(at(10), at(15))]})
    assert [(e.id, e.started_at, e.duration_seconds) for e in cut.time_entries] == [
        ("a#1", at(0), 600), ("a#2", at(15), 900)]


def test_a_claim_that_needs_the_overlapped_minutes_does_not_survive() -> None:
    case = _case(("a", 0, 24))
    assert claim_signature(case) == (("99490", 1),)
    assert not claim_survives_cuts(case, {"a": [(at(0), at(24))]})


def test_a_claim_with_minutes_to_spare_survives() -> None:
    case = _case(("a", 0, 30), ("b", 100, 5))
    assert claim_survives_cuts(case, {"b": [(at(100), at(105))]})
    assert claim_survives_cuts(case, {})


def test_projection_is_straight_line_over_elapsed_days() -> None:
    month = YearMonth(2026, 11)
    assert days_elapsed_and_left(month, date(2026, 11, 10)) == (10, 21)
    assert days_elapsed_and_left(month, date(2026, 10, 31)) == (0, 30)
    assert days_elapsed_and_left(month, date(2026, 12, 1)) == (30, 0)
    # 8 minutes in 10 days → 24 minutes in 30 days: 99490 by month end
    assert [s.code for s in projected_lines(CCM_STAFF, 8 * 60, month, date(2026, 11, 10))] == [
        "99490"]
    assert projected_lines(CCM_STAFF, 5 * 60, month, date(2026, 11, 10)) == ()
    assert lane_pool_seconds(CCM_STAFF, 100, 50) == 150
    assert lane_pool_seconds(PCM_PRACTITIONER, 100, 50) == 50
