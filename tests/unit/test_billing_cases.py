"""Hand-checked patient-months: every threshold ±1 s, caps, lanes, exclusions, zones, dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ccm_pwa.domain.billing import (
    BillingCase,
    InpatientStay,
    MonthEvaluation,
    Patient,
    Performer,
    Program,
    TimeEntry,
    evaluate_month,
)
from ccm_pwa.domain.calendar import YearMonth

STAFF = Performer.CLINICAL_STAFF
PRACTITIONER = Performer.BILLING_PRACTITIONER
NON_CLINICAL = Performer.NON_CLINICAL


def entry(
    seconds: int,
    at: str = "2026-11-03T14:00:00-06:00",
    performer: Performer = STAFF,
    id: str = "e1",
    voided: bool = False,
) -> TimeEntry:
    return TimeEntry(id, datetime.fromisoformat(at), seconds, performer, voided)


def case(
    *entries: TimeEntry,
    program: Program = Program.CCM,
    month: str = "2026-11",
    zone: str = "America/Chicago",
    fee_year: int = 2026,
    conditions: tuple[str, ...] = ("E11.9", "I10"),
    consent: str | None = "2026-10-02",
    complex_mdm: bool = False,
    stays: tuple[tuple[str, str | None], ...] = (),
    care_plan: bool | None = None,
) -> BillingCase:
    patient = Patient(
        chronic_conditions=conditions,
        program=program,
        consent_date=date.fromisoformat(consent) if consent else None,
        complex_mdm=complex_mdm,
        inpatient_stays=tuple(
            InpatientStay(
                datetime.fromisoformat(start), datetime.fromisoformat(end) if end else None
            )
            for start, end in stays
        ),
        care_plan_in_force=care_plan,
    )
    return BillingCase(YearMonth.parse(month), ZoneInfo(zone), fee_year, patient, entries)


def lines(evaluation: MonthEvaluation) -> list[tuple[str, int]]:
    return [(line.code, line.units) for line in evaluation.claim_lines]


def staff_many(*seconds: int) -> tuple[TimeEntry, ...]:
    """One entry per day from 2 Nov, so every total is a sum of separate calls."""
    return tuple(
        entry(s, at=f"2026-11-{2 + i:02d}T10:00:00-06:00", id=f"e{i}")
        for i, s in enumerate(seconds)
    )


@dataclass(frozen=True)
class Expected:
    lines: list[tuple[str, int]]
    next: tuple[str, int] | None = None
    lane: str | None = None
    total: str | None = None
    alternatives: dict[str, str] = field(default_factory=dict)


CASES: dict[str, tuple[BillingCase, Expected]] = {
    # Non-complex CCM: 20-minute steps, full minutes only, 99439 capped at 2.
    "1199 s is 19 min: nothing": (case(entry(1199)), Expected([], ("99490", 1))),
    "1200 s is 99490": (case(entry(1200)), Expected([("99490", 1)], ("99439", 20), "ccm_staff")),
    "19:30 is not rounded up": (case(*staff_many(600, 570)), Expected([], ("99490", 1))),
    "2399 s": (case(entry(2399)), Expected([("99490", 1)], ("99439", 1))),
    "2400 s": (case(entry(2400)), Expected([("99490", 1), ("99439", 1)], ("99439", 20))),
    "3599 s": (case(entry(3599)), Expected([("99490", 1), ("99439", 1)], ("99439", 1))),
    "3600 s": (case(entry(3600)), Expected([("99490", 1), ("99439", 2)], None)),
    "7200 s stays capped at 2 x 99439": (
        case(entry(7200)),
        Expected([("99490", 1), ("99439", 2)], None, "ccm_staff", "162.13"),
    ),
    # QHP-personal CCM: practitioner time only; 99491 pays more than 99490 in 2025.
    "practitioner 1799 s (2025): 99490 only": (
        case(entry(1799, performer=PRACTITIONER), fee_year=2025),
        Expected([("99490", 1)], ("99439", 11), "ccm_staff", "60.49"),
    ),
    "practitioner 1800 s (2025): 99491 beats 99490": (
        case(entry(1800, performer=PRACTITIONER), fee_year=2025),
        Expected(
            [("99491", 1)], ("99437", 30), "ccm_practitioner", "82.16", {"ccm_staff": "60.49"}
        ),
    ),
    "practitioner 1800 s (2026): 99491 fee unknown, 99490 wins": (
        case(entry(1800, performer=PRACTITIONER)),
        Expected([("99490", 1)], ("99439", 10), "ccm_staff", "66.13", {"ccm_practitioner": "0.00"}),
    ),
    "staff 1800 s never reaches 99491": (
        case(entry(1800), fee_year=2025),
        Expected([("99490", 1)], ("99439", 10), "ccm_staff", "60.49", {}),
    ),
    "practitioner 90 min (2025): QHP lane pays most": (
        case(entry(5400, performer=PRACTITIONER), fee_year=2025),
        Expected(
            [("99491", 1), ("99437", 2)],
            None,
            "ccm_practitioner",
            "197.32",
            {"ccm_staff": "152.35"},
        ),
    ),
    "practitioner 90 min (2026): staff lane pays most": (
        case(entry(5400, performer=PRACTITIONER)),
        Expected(
            [("99490", 1), ("99439", 2)],
            None,
            "ccm_staff",
            "162.13",
            {"ccm_practitioner": "126.26"},
        ),
    ),
    "practitioner 150 min (2025): 99437 capped at 2": (
        case(entry(9000, performer=PRACTITIONER), fee_year=2025),
        Expected(
            [("99491", 1), ("99437", 2)],
            None,
            "ccm_practitioner",
            "197.32",
            {"ccm_staff": "152.35"},
        ),
    ),
    # Complex CCM: 60 then full 30s; it only wins once 99489 is earned.
    "complex 3599 s": (
        case(entry(3599), program=Program.COMPLEX_CCM, complex_mdm=True),
        Expected([("99490", 1), ("99439", 1)], ("99439", 1), "ccm_staff", "114.13"),
    ),
    "complex 3600 s: 99487 is an alternative": (
        case(entry(3600), program=Program.COMPLEX_CCM, complex_mdm=True),
        Expected(
            [("99490", 1), ("99439", 2)], None, "ccm_staff", "162.13", {"ccm_complex": "144.29"}
        ),
    ),
    "complex 5399 s": (
        case(entry(5399), program=Program.COMPLEX_CCM, complex_mdm=True),
        Expected(
            [("99490", 1), ("99439", 2)], None, "ccm_staff", "162.13", {"ccm_complex": "144.29"}
        ),
    ),
    "complex 5400 s: 99487 + 99489": (
        case(entry(5400), program=Program.COMPLEX_CCM, complex_mdm=True),
        Expected(
            [("99487", 1), ("99489", 1)],
            ("99489", 30),
            "ccm_complex",
            "222.45",
            {"ccm_staff": "162.13"},
        ),
    ),
    "complex 5400 s (2025)": (
        case(entry(5400), program=Program.COMPLEX_CCM, complex_mdm=True, fee_year=2025),
        Expected(
            [("99487", 1), ("99489", 1)],
            ("99489", 30),
            "ccm_complex",
            "202.17",
            {"ccm_staff": "152.35"},
        ),
    ),
    "complex 420 min: 99489 capped at its MUE of 10": (
        case(*staff_many(*[3600] * 7), program=Program.COMPLEX_CCM, complex_mdm=True),
        Expected(
            [("99487", 1), ("99489", 10)],
            None,
            "ccm_complex",
            "925.89",
            {"ccm_staff": "162.13"},
        ),
    ),
    "complex without MDM falls back to 99490/99439": (
        case(entry(5400), program=Program.COMPLEX_CCM),
        Expected([("99490", 1), ("99439", 2)], None, "ccm_staff", "162.13", {}),
    ),
    # PCM: staff lane (staff + practitioner time) or practitioner-only lane, 30-min steps.
    "PCM staff 1799 s": (
        case(entry(1799), program=Program.PCM, conditions=("I50.9",)),
        Expected([], ("99426", 1)),
    ),
    "PCM staff 1800 s: 99426, fee unknown but billable": (
        case(entry(1800), program=Program.PCM, conditions=("I50.9",)),
        Expected([("99426", 1)], ("99427", 30), "pcm_staff", "0.00", {}),
    ),
    "PCM practitioner 1800 s (2026): 99424 beats unknown 99426": (
        case(entry(1800, performer=PRACTITIONER), program=Program.PCM, conditions=("I50.9",)),
        Expected([("99424", 1)], ("99425", 30), "pcm_practitioner", "87.84", {"pcm_staff": "0.00"}),
    ),
    "PCM practitioner 1800 s (2025): both $0, tie goes to staff": (
        case(
            entry(1800, performer=PRACTITIONER),
            program=Program.PCM,
            conditions=("I50.9",),
            fee_year=2025,
        ),
        Expected([("99426", 1)], ("99427", 30), "pcm_staff", "0.00", {"pcm_practitioner": "0.00"}),
    ),
    "PCM staff 180 min: 99427 capped at 2": (
        case(*staff_many(5400, 5400), program=Program.PCM, conditions=("I50.9",)),
        Expected([("99426", 1), ("99427", 2)], None, "pcm_staff", "90.84"),
    ),
    "PCM practitioner 180 min: 99425 capped at 2": (
        case(entry(10800, performer=PRACTITIONER), program=Program.PCM, conditions=("I50.9",)),
        Expected(
            [("99424", 1), ("99425", 2)],
            None,
            "pcm_practitioner",
            "210.76",
            {"pcm_staff": "90.84"},
        ),
    ),
}


@pytest.mark.parametrize(("the_case", "expected"), CASES.values(), ids=CASES.keys())
def test_hand_checked_month(the_case: BillingCase, expected: Expected) -> None:
    evaluation = evaluate_month(the_case)
    assert lines(evaluation) == expected.lines
    assert evaluation.billable == bool(expected.lines)
    upcoming = evaluation.next
    assert ((upcoming.code, upcoming.minutes_needed) if upcoming else None) == expected.next
    if expected.lane is not None:
        assert evaluation.chosen is not None
        assert evaluation.chosen.lane.key == expected.lane
    if expected.total is not None:
        assert evaluation.total_amount == Decimal(expected.total)
    if expected.alternatives or expected.total is not None:
        assert {
            r.lane.key: str(r.total_amount) for r in evaluation.alternatives
        } == expected.alternatives


def test_design_example_bills_99490_with_19_minutes_to_99439() -> None:
    evaluation = evaluate_month(
        case(entry(1260), stays=(("2026-11-10T08:00:00-06:00", "2026-11-12T12:00:00-06:00"),))
    )
    assert lines(evaluation) == [("99490", 1)]
    assert evaluation.time.clinical_staff_seconds == 1260
    assert evaluation.excluded == ()
    assert evaluation.reasons == ()


def test_complex_without_mdm_says_why_in_notes_when_billable_and_in_reasons_when_not() -> None:
    billable = evaluate_month(case(entry(5400), program=Program.COMPLEX_CCM))
    assert any("medical decision making" in note for note in billable.notes)
    assert billable.reasons == ()
    short = evaluate_month(case(entry(600), program=Program.COMPLEX_CCM))
    assert not short.billable
    assert any("medical decision making" in reason for reason in short.reasons)


def test_cap_is_reported_when_time_beyond_it_would_have_earned_units() -> None:
    evaluation = evaluate_month(case(entry(7200)))
    assert any("99439 is capped at 2 units" in note for note in evaluation.notes)
    assert not any("capped" in n for n in evaluate_month(case(entry(4700))).notes)


def test_approximate_and_unknown_fees_are_flagged() -> None:
    evaluation = evaluate_month(case(entry(2400)))
    assert any(n.startswith("99439: 2026 fee $48.00 is approximate") for n in evaluation.notes)
    pcm = evaluate_month(case(entry(1800), program=Program.PCM, conditions=("I50.9",)))
    assert pcm.claim_lines[0].unit_fee is None
    assert any("99426: fee not in table" in n for n in pcm.notes)


def test_fee_year_without_a_table_still_bills_at_zero() -> None:
    evaluation = evaluate_month(case(entry(1200), fee_year=2031))
    assert lines(evaluation) == [("99490", 1)]
    assert evaluation.total_amount == 0
    assert any("fee year 2031 is not in the fee table" in n for n in evaluation.notes)


def test_lane_switch_can_lower_units_but_never_the_amount() -> None:
    # Recorded as a deliberate consequence of "pay most": 3 units at 89 min, 2 at 90.
    at_89 = evaluate_month(case(entry(5399), program=Program.COMPLEX_CCM, complex_mdm=True))
    at_90 = evaluate_month(case(entry(5400), program=Program.COMPLEX_CCM, complex_mdm=True))
    assert sum(u for _, u in lines(at_89)) == 3
    assert sum(u for _, u in lines(at_90)) == 2
    assert at_90.total_amount > at_89.total_amount


# --- Whose time counts and what is excluded --------------------------------------------------


def excluded(evaluation: MonthEvaluation) -> list[tuple[str, int, str]]:
    return [(e.entry_id, e.seconds, e.reason) for e in evaluation.excluded]


def test_voided_entry_does_not_count() -> None:
    evaluation = evaluate_month(case(entry(1800, voided=True)))
    assert lines(evaluation) == []
    assert excluded(evaluation) == [("e1", 1800, "voided")]


def test_non_clinical_time_never_counts() -> None:
    evaluation = evaluate_month(case(entry(3600, performer=NON_CLINICAL)))
    assert lines(evaluation) == []
    assert evaluation.excluded[0].reason.startswith("non-clinical staff time never counts")
    assert evaluation.time.countable_seconds == 0


def test_replayed_entry_counts_once_and_is_not_reported() -> None:
    evaluation = evaluate_month(case(entry(1200), entry(1200)))
    assert lines(evaluation) == [("99490", 1)]
    assert evaluation.time.countable_seconds == 1200
    assert evaluation.excluded == ()


def test_conflicting_copies_keep_the_shorter_one_and_say_so() -> None:
    evaluation = evaluate_month(case(entry(2400), entry(1800)))
    assert lines(evaluation) == [("99490", 1)]
    assert evaluation.time.countable_seconds == 1800
    ((entry_id, seconds, reason),) = excluded(evaluation)
    assert (entry_id, seconds) == ("e1", 600)
    assert reason.startswith("recorded 2 times with different details")


def test_conflicting_copies_voided_wins() -> None:
    evaluation = evaluate_month(case(entry(2400), entry(2400, voided=True)))
    assert lines(evaluation) == []
    assert ("e1", 2400, "voided") in excluded(evaluation)
    assert any("one copy is voided" in reason for _, _, reason in excluded(evaluation))


def test_overlapping_entries_count_wall_clock_time_once() -> None:
    evaluation = evaluate_month(
        case(
            entry(1200, at="2026-11-03T10:00:00-06:00", id="a"),
            entry(1200, at="2026-11-03T10:10:00-06:00", id="b"),
        )
    )
    assert evaluation.time.countable_seconds == 1800
    assert excluded(evaluation) == [("b", 600, "600 s overlap entry a and are counted once")]


def test_overlap_with_practitioner_keeps_the_practitioner_seconds() -> None:
    evaluation = evaluate_month(
        case(
            entry(1800, at="2026-11-03T10:00:00-06:00", id="nurse"),
            entry(1800, at="2026-11-03T10:00:00-06:00", id="doctor", performer=PRACTITIONER),
            fee_year=2025,
        )
    )
    assert evaluation.time.billing_practitioner_seconds == 1800
    assert evaluation.time.clinical_staff_seconds == 0
    assert lines(evaluation) == [("99491", 1)]


@pytest.mark.parametrize(
    ("conditions", "program", "billable"),
    [
        (("E11.9", "I10"), Program.CCM, True),
        (("E11.9",), Program.CCM, False),
        (("I10", " i10 "), Program.CCM, False),
        ((), Program.PCM, False),
        (("I50.9",), Program.PCM, True),
    ],
)
def test_chronic_condition_minimum(
    conditions: tuple[str, ...], program: Program, billable: bool
) -> None:
    evaluation = evaluate_month(case(entry(1800), program=program, conditions=conditions))
    assert evaluation.billable is billable
    assert any("chronic condition" in r for r in evaluation.reasons) is not billable


def test_one_condition_says_what_ccm_needs() -> None:
    evaluation = evaluate_month(case(entry(1800), conditions=("E11.9",)))
    assert "CCM needs at least 2 chronic conditions on file; found 1" in evaluation.reasons
    assert evaluation.claim_lines == ()


def test_care_plan_not_in_force_blocks_billing() -> None:
    evaluation = evaluate_month(case(entry(1800), care_plan=False))
    assert not evaluation.billable
    assert "no care plan in force this month" in evaluation.reasons
    assert evaluate_month(case(entry(1800), care_plan=True)).billable


# --- Consent -----------------------------------------------------------------------------------


def test_consent_before_the_month_counts_everything() -> None:
    assert lines(evaluate_month(case(entry(1200), consent="2026-10-31"))) == [("99490", 1)]


def test_consent_on_the_first_counts_from_local_midnight() -> None:
    early = entry(1200, at="2026-11-01T00:00:00-05:00")
    assert lines(evaluate_month(case(early, consent="2026-11-01"))) == [("99490", 1)]


def test_time_before_a_mid_month_consent_is_excluded_and_split_at_local_midnight() -> None:
    evaluation = evaluate_month(
        case(
            entry(1200, at="2026-11-03T10:00:00-06:00", id="before"),
            entry(1200, at="2026-11-04T23:50:00-06:00", id="across"),
            entry(1200, at="2026-11-05T09:00:00-06:00", id="after"),
            consent="2026-11-05",
        )
    )
    assert excluded(evaluation) == [
        ("before", 1200, "1200 s before consent on 2026-11-05"),
        ("across", 600, "600 s before consent on 2026-11-05"),
    ]
    assert evaluation.time.countable_seconds == 1800
    assert lines(evaluation) == [("99490", 1)]


def test_consent_after_the_month_blocks_it() -> None:
    evaluation = evaluate_month(case(entry(3600), consent="2026-12-01"))
    assert not evaluation.billable
    assert "consent is dated 2026-12-01, after 2026-11: no time this month counts" in (
        evaluation.reasons
    )


def test_no_consent_blocks_and_excludes_all_time() -> None:
    evaluation = evaluate_month(case(entry(3600), consent=None))
    assert not evaluation.billable
    assert evaluation.reasons[0].startswith("no consent on file")
    assert excluded(evaluation) == [("e1", 3600, "no consent on file")]


# --- Inpatient stays -------------------------------------------------------------------------

STAY = ("2026-11-10T08:00:00-06:00", "2026-11-12T12:00:00-06:00")


def test_time_fully_inside_an_inpatient_stay_is_excluded() -> None:
    evaluation = evaluate_month(case(entry(1800, at="2026-11-11T10:00:00-06:00"), stays=(STAY,)))
    assert lines(evaluation) == []
    assert excluded(evaluation) == [("e1", 1800, "during inpatient stay 2026-11-10 to 2026-11-12")]


def test_only_the_overlapping_part_of_an_entry_is_excluded() -> None:
    evaluation = evaluate_month(case(entry(1800, at="2026-11-12T11:50:00-06:00"), stays=(STAY,)))
    assert excluded(evaluation) == [("e1", 600, "during inpatient stay 2026-11-10 to 2026-11-12")]
    assert evaluation.time.countable_seconds == 1200
    assert lines(evaluation) == [("99490", 1)]


def test_an_ongoing_stay_excludes_to_month_end() -> None:
    evaluation = evaluate_month(
        case(
            entry(1800, at="2026-11-25T10:00:00-06:00"),
            stays=(("2026-11-20T08:00:00-06:00", None),),
        )
    )
    assert excluded(evaluation) == [
        ("e1", 1800, "during inpatient stay from 2026-11-20 (still admitted)")
    ]


# --- Zones, DST, month boundaries, leap year, date of service ---------------------------------


def test_dst_spring_forward_counts_elapsed_seconds_not_wall_clock() -> None:
    # 01:50 EST + 20 min = 03:10 EDT: 80 minutes on the wall clock, 20 of real work.
    evaluation = evaluate_month(
        case(
            entry(1200, at="2026-03-08T01:50:00-05:00"),
            month="2026-03",
            zone="America/New_York",
            consent="2026-01-05",
        )
    )
    assert evaluation.time.countable_seconds == 1200
    assert evaluation.claim_lines[0].date_of_service == date(2026, 3, 8)


def test_dst_fall_back_hour_counts_once_and_stays_on_the_day() -> None:
    # 01:30 EDT for one hour ends at 01:30 EST: the repeated hour is real, counted once.
    evaluation = evaluate_month(
        case(entry(3600, at="2026-11-01T01:30:00-04:00"), zone="America/New_York")
    )
    assert lines(evaluation) == [("99490", 1), ("99439", 2)]
    assert [line.date_of_service for line in evaluation.claim_lines] == [date(2026, 11, 1)] * 2


def test_call_at_2350_on_30_november_in_los_angeles_splits_at_local_midnight() -> None:
    entries = (
        entry(900, at="2026-11-20T10:00:00-08:00", id="earlier"),
        entry(1200, at="2026-11-30T23:50:00-08:00", id="late"),
    )
    november = evaluate_month(case(*entries, zone="America/Los_Angeles"))
    assert november.time.countable_seconds == 1500
    assert lines(november) == [("99490", 1)]
    assert november.claim_lines[0].date_of_service == date(2026, 11, 30)
    assert excluded(november) == [("late", 600, "600 s fall in 2026-12 and count there")]
    december = evaluate_month(case(*entries, zone="America/Los_Angeles", month="2026-12"))
    assert december.time.countable_seconds == 600
    assert ("late", 600, "600 s fall in 2026-11 and count there") in excluded(december)


def test_kolkata_call_after_local_midnight_belongs_to_december() -> None:
    call = entry(1500, at="2026-12-01T00:05:00+05:30")  # 30 Nov 18:35 UTC
    november = evaluate_month(case(call, zone="Asia/Kolkata"))
    assert november.time.countable_seconds == 0
    december = evaluate_month(case(call, zone="Asia/Kolkata", month="2026-12"))
    assert lines(december) == [("99490", 1)]
    assert december.claim_lines[0].date_of_service == date(2026, 12, 1)


def test_auckland_call_across_local_midnight_splits() -> None:
    call = entry(1800, at="2026-11-30T23:55:00+13:00")
    november = evaluate_month(case(call, zone="Pacific/Auckland"))
    assert november.time.countable_seconds == 300
    assert excluded(november) == [("e1", 1500, "1500 s fall in 2026-12 and count there")]


def test_honolulu_evening_call_stays_in_november_although_utc_says_december() -> None:
    call = entry(1500, at="2026-11-30T20:00:00-10:00")  # 1 Dec 06:00 UTC
    evaluation = evaluate_month(case(call, zone="Pacific/Honolulu"))
    assert lines(evaluation) == [("99490", 1)]
    assert evaluation.claim_lines[0].date_of_service == date(2026, 11, 30)


def test_leap_day_call_splits_into_march() -> None:
    entries = (
        entry(900, at="2028-02-29T10:00:00-08:00", id="morning"),
        entry(1200, at="2028-02-29T23:50:00-08:00", id="late"),
    )
    evaluation = evaluate_month(
        case(*entries, month="2028-02", zone="America/Los_Angeles", consent="2027-06-01")
    )
    assert evaluation.time.countable_seconds == 1500
    assert evaluation.claim_lines[0].date_of_service == date(2028, 2, 29)
    assert excluded(evaluation) == [("late", 600, "600 s fall in 2028-03 and count there")]


def test_date_of_service_is_the_day_each_line_was_reached() -> None:
    evaluation = evaluate_month(
        case(
            entry(900, at="2026-11-03T10:00:00-06:00", id="a"),  # 15
            entry(600, at="2026-11-10T10:00:00-06:00", id="b"),  # 25: 99490
            entry(1200, at="2026-11-20T10:00:00-06:00", id="c"),  # 45: 1 x 99439
            entry(1200, at="2026-11-28T10:00:00-06:00", id="d"),  # 65: 2 x 99439
        )
    )
    assert [(line.code, line.units, line.date_of_service) for line in evaluation.claim_lines] == [
        ("99490", 1, date(2026, 11, 10)),
        ("99439", 2, date(2026, 11, 28)),
    ]


def test_threshold_reached_exactly_at_midnight_belongs_to_the_day_before() -> None:
    evaluation = evaluate_month(
        case(
            entry(900, at="2026-11-03T10:00:00-06:00", id="a"),
            entry(600, at="2026-11-04T23:55:00-06:00", id="b"),  # 1200 s at 00:00 on the 5th
        )
    )
    assert evaluation.claim_lines[0].date_of_service == date(2026, 11, 4)


def test_short_month_says_how_many_minutes_each_lane_has_and_needs() -> None:
    evaluation = evaluate_month(case(entry(1199)))
    assert evaluation.reasons == (
        "19 min of clinical staff and billing practitioner time counted this month; "
        "99490 needs 20 min",
        "0 min of the billing practitioner's own time counted this month; 99491 needs 30 min",
    )
