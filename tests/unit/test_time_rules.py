"""The rules for a new stretch of time (domain/time_rules.py), without a database or a clock.

`judge` decides a batch in order: ids already used, duration bounds, the timely-filing and
future windows, closed months, one person's overlaps (stored ones and earlier entries of
the same batch), then the review flags of what it accepts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.domain.time_rules import (
    FUTURE_TOLERANCE,
    ID_TAKEN,
    LONG_ENTRY_SECONDS,
    MAX_ENTRY_SECONDS,
    MAX_SKEW_SECONDS,
    OLDEST_MONTHS,
    Accepted,
    Circumstances,
    NewTime,
    Refused,
    Replayed,
    Stored,
    entry_window_error,
    judge,
    months_of,
)

CHICAGO = ZoneInfo("America/Chicago")
# Wednesday 18 November 2026, noon in Chicago (CST, UTC-6).
NOW = datetime(2026, 11, 18, 18, 0, tzinfo=UTC)
KIM, BEN = uuid.UUID(int=1), uuid.UUID(int=2)
ROSA, NED = uuid.UUID(int=11), uuid.UUID(int=12)
NOVEMBER, OCTOBER = YearMonth(2026, 11), YearMonth(2026, 10)


def at(hour: int, minute: int = 0, day: int = 18) -> datetime:
    """An instant on a November 2026 day, Chicago wall clock."""
    return datetime(2026, 11, day, hour, minute, tzinfo=CHICAGO)


def entry(started_at: datetime, seconds: int = 600, *, patient: uuid.UUID = ROSA,
          entry_id: uuid.UUID | None = None, manual: bool = False) -> NewTime:
    return NewTime(entry_id or uuid.uuid4(), patient, started_at, seconds, manual=manual)


def when(now: datetime = NOW, *, skew: float | None = None, from_phone: bool = False,
         zone: ZoneInfo = CHICAGO) -> Circumstances:
    return Circumstances(performer_id=KIM, now=now, zone=zone, clock_skew_seconds=skew,
                         from_phone=from_phone)


def one(new: NewTime, stored: Stored | None = None,
        circumstances: Circumstances | None = None) -> Accepted | Replayed | Refused:
    [verdict] = judge([new], stored or Stored(), circumstances or when())
    return verdict


def reason(verdict: object) -> str:
    assert isinstance(verdict, Refused), verdict
    return verdict.reason


def flags(verdict: object) -> tuple[str, ...]:
    assert isinstance(verdict, Accepted), verdict
    return verdict.flags


# ---------------------------------------------------------------------- accepted, replayed


def test_an_ordinary_past_entry_is_accepted_unflagged_in_its_local_month() -> None:
    assert one(entry(at(9))) == Accepted(flags=(), months=(NOVEMBER,))


def test_an_empty_batch_has_no_verdicts() -> None:
    assert judge([], Stored(), when()) == []


def test_the_same_entry_id_from_the_same_owner_is_replayed() -> None:
    known = uuid.uuid4()
    stored = Stored(owners={known: (ROSA, KIM)}, busy=[(at(9), at(9, 10))])
    assert one(entry(at(9), entry_id=known), stored) == Replayed()


def test_a_replay_is_acknowledged_whatever_its_times_now_say() -> None:
    """A resend must be counted once, not refused: its month may have closed since, its
    times may have been edited on the phone; the stored entry stands."""
    known = uuid.uuid4()
    stored = Stored(owners={known: (ROSA, KIM)}, closed=frozenset({NOVEMBER}))
    assert one(entry(at(9), 0, entry_id=known), stored) == Replayed()
    assert one(entry(at(9), entry_id=known), stored) == Replayed()


@pytest.mark.parametrize("owner", [(NED, KIM), (ROSA, BEN), (NED, BEN)],
                         ids=["another patient", "another performer", "both"])
def test_an_id_taken_by_another_owner_or_patient_is_refused(owner: tuple[uuid.UUID,
                                                                          uuid.UUID]) -> None:
    known = uuid.uuid4()
    assert one(entry(at(9), entry_id=known), Stored(owners={known: owner})) == Refused(ID_TAKEN)


def test_the_same_entry_twice_in_one_batch_is_accepted_once_then_replayed() -> None:
    first = entry(at(9))
    assert judge([first, first], Stored(), when()) == [Accepted((), (NOVEMBER,)), Replayed()]


def test_an_id_reused_for_another_patient_later_in_the_batch_is_refused_as_taken() -> None:
    first = entry(at(9))
    other = entry(at(10), patient=NED, entry_id=first.entry_id)
    assert judge([first, other], Stored(), when())[1] == Refused(ID_TAKEN)


# ---------------------------------------------------------------------- bounds and windows


@pytest.mark.parametrize("seconds", [0, -1, -600, MAX_ENTRY_SECONDS + 1])
def test_a_duration_outside_one_second_to_a_day_is_refused_naming_the_field(
        seconds: int) -> None:
    assert reason(one(entry(at(9, day=16), seconds))) == (
        f"duration_seconds: must be between 1 and {MAX_ENTRY_SECONDS}, got {seconds}")


@pytest.mark.parametrize("seconds", [1, MAX_ENTRY_SECONDS])
def test_one_second_and_a_full_day_are_within_bounds(seconds: int) -> None:
    assert isinstance(one(entry(at(9, day=16), seconds)), Accepted)


def test_a_start_without_a_time_zone_is_refused() -> None:
    naive = datetime(2026, 11, 18, 9, 0)
    assert reason(one(entry(naive))) == "started_at: must carry a time zone offset"


def test_time_before_the_timely_filing_window_is_refused_naming_its_first_day() -> None:
    """Twelve months back from November 2026: November 2025 is the oldest month kept.
    (A practice on UTC, so the edge is the same whichever calendar the window uses.)"""
    assert OLDEST_MONTHS == 12
    on_utc = when(zone=ZoneInfo("UTC"))
    first = datetime(2025, 11, 1, tzinfo=UTC)
    assert reason(one(entry(first - timedelta(seconds=1)), circumstances=on_utc)) == (
        "started_at: before 2025-11-01, more than 12 months ago (Medicare's timely-filing "
        "limit)")
    assert one(entry(first), circumstances=on_utc) == Accepted((), (YearMonth(2025, 11),))


def test_an_entry_ending_within_the_future_tolerance_is_accepted_unflagged() -> None:
    end = NOW + FUTURE_TOLERANCE
    assert flags(one(entry(end - timedelta(minutes=10), 600))) == ()


def test_an_entry_ending_beyond_the_future_tolerance_is_refused() -> None:
    end = NOW + FUTURE_TOLERANCE + timedelta(seconds=1)
    assert reason(one(entry(end - timedelta(minutes=10), 600))) == (
        "started_at: this call would end in the future (after 2026-11-18 18:05 UTC): "
        "check the phone's clock")


def test_a_phone_clock_ahead_widens_the_window_by_its_lead_and_flags_the_entry() -> None:
    """Its timer's times are an hour ahead: kept for review rather than lost."""
    ends_in_45_min = entry(NOW + timedelta(minutes=35), 600)
    assert flags(one(ends_in_45_min, circumstances=when(skew=3600, from_phone=True))) == (
        "future_dated", "clock_skew")
    ends_past_the_lead = entry(NOW + timedelta(minutes=56), 600)
    assert "(after 2026-11-18 19:05 UTC)" in reason(
        one(ends_past_the_lead, circumstances=when(skew=3600, from_phone=True)))


def test_a_phone_clock_behind_does_not_move_the_window() -> None:
    beyond = entry(NOW + FUTURE_TOLERANCE - timedelta(seconds=599), 600)
    assert "would end in the future" in reason(
        one(beyond, circumstances=when(skew=-3600, from_phone=True)))
    inside = entry(NOW - timedelta(minutes=30), 600)
    assert flags(one(inside, circumstances=when(skew=-3600, from_phone=True))) == (
        "clock_skew",)


def test_entry_window_error_is_none_for_a_real_call() -> None:
    assert entry_window_error(at(9), 600, NOW) is None
    assert entry_window_error(NOW - timedelta(minutes=5), 600, NOW) is None  # ends at +5 min


def test_a_start_at_the_calendars_end_is_refused_not_an_overflow() -> None:
    last = datetime.max.replace(tzinfo=UTC) - timedelta(seconds=10)
    assert "would end in the future" in entry_window_error(last, 3600, NOW)


def test_the_timely_filing_window_follows_the_practice_calendar() -> None:
    evening_of_october_31 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)  # 22:00 CDT, 31 Oct
    a_year_ago = datetime(2025, 10, 15, 9, 0, tzinfo=CHICAGO)
    assert one(entry(a_year_ago), circumstances=when(evening_of_october_31)) == Accepted(
        (), (YearMonth(2025, 10),))


# ---------------------------------------------------------------------- closed months


def test_an_entry_in_a_closed_month_is_refused_naming_the_month() -> None:
    stored = Stored(closed=frozenset({OCTOBER}))
    assert reason(one(entry(datetime(2026, 10, 20, 9, tzinfo=CHICAGO)), stored)) == (
        "2026-10 is closed for billing: ask a supervisor to reopen it")
    assert isinstance(one(entry(at(9)), stored), Accepted)  # November is open


def test_an_entry_running_into_a_closed_month_is_refused_naming_that_month() -> None:
    over_midnight = entry(datetime(2026, 10, 31, 23, 50, tzinfo=CHICAGO), 1800)
    stored = Stored(closed=frozenset({NOVEMBER}))
    assert reason(one(over_midnight, stored)).startswith("2026-11 is closed for billing")


# ---------------------------------------------------------------------- overlaps


def test_an_entry_overlapping_a_stored_one_is_refused_with_its_time() -> None:
    stored = Stored(busy=[(at(9), at(9, 30))])
    assert reason(one(entry(at(9, 20), 1200), stored)) == "overlaps your entry at 09:00"


def test_an_entry_inside_a_long_stored_one_is_refused() -> None:
    stored = Stored(busy=[(at(1), at(11))])
    assert reason(one(entry(at(9)), stored)) == "overlaps your entry at 01:00"


def test_an_overlap_with_another_days_entry_names_its_date() -> None:
    last_night = datetime(2026, 11, 2, 23, 50, tzinfo=CHICAGO)
    stored = Stored(busy=[(last_night, last_night + timedelta(minutes=30))])
    after_midnight = entry(datetime(2026, 11, 3, 0, 10, tzinfo=CHICAGO), 600)
    assert reason(one(after_midnight, stored)) == "overlaps your entry at 23:50 on 2026-11-02"


def test_the_overlap_named_is_the_earliest_clashing_stored_entry() -> None:
    stored = Stored(busy=[(at(9, 40), at(9, 50)), (at(9), at(9, 15)), (at(8), at(8, 30))])
    assert reason(one(entry(at(9, 10), 3600), stored)) == "overlaps your entry at 09:00"


def test_adjacent_entries_end_to_start_do_not_overlap() -> None:
    stored = Stored(busy=[(at(9), at(9, 10)), (at(9, 20), at(9, 30))])
    assert flags(one(entry(at(9, 10), 600), stored)) == ()


def test_a_day_long_stored_entry_ending_at_the_start_does_not_overlap() -> None:
    stored = Stored(busy=[(at(9) - timedelta(seconds=MAX_ENTRY_SECONDS), at(9))])
    assert isinstance(one(entry(at(9)), stored), Accepted)
    yesterday = f"{at(9) - timedelta(days=1):%Y-%m-%d}"  # it started the day before
    assert reason(one(entry(at(8, 59)), stored)) == f"overlaps your entry at 09:00 on {yesterday}"


def test_a_later_entry_overlapping_an_earlier_one_of_the_batch_is_refused() -> None:
    verdicts = judge([entry(at(9), 1800), entry(at(9, 15), 600, patient=NED)], Stored(), when())
    assert isinstance(verdicts[0], Accepted)
    assert verdicts[1] == Refused("overlaps your entry at 09:00")


def test_a_refused_entry_does_not_block_a_later_one_of_the_batch() -> None:
    stored = Stored(busy=[(at(8), at(9))])
    verdicts = judge([entry(at(8, 30), 3600), entry(at(9), 600)], stored, when())
    assert reason(verdicts[0]) == "overlaps your entry at 08:00"
    assert isinstance(verdicts[1], Accepted)


def test_a_batch_out_of_time_order_is_still_checked_against_every_earlier_entry() -> None:
    verdicts = judge([entry(at(10), 600), entry(at(8), 600), entry(at(9, 55), 600)],
                     Stored(), when())
    assert [type(v) for v in verdicts] == [Accepted, Accepted, Refused]
    assert reason(verdicts[2]) == "overlaps your entry at 10:00"


# ---------------------------------------------------------------------- flags


def test_manual_entry_is_flagged_manual_and_timer_time_is_not() -> None:
    assert flags(one(entry(at(9), manual=True))) == ("manual",)
    assert flags(one(entry(at(9), manual=False))) == ()


def test_over_90_minutes_is_flagged_and_exactly_90_is_not() -> None:
    assert flags(one(entry(at(6), LONG_ENTRY_SECONDS + 1))) == ("over_90_min",)
    assert flags(one(entry(at(6), LONG_ENTRY_SECONDS))) == ()


def test_future_dated_is_never_set_without_a_clock_lead() -> None:
    """Without a lead the window ends at the tolerance, which is where the flag starts."""
    edge = entry(NOW + FUTURE_TOLERANCE - timedelta(seconds=600), 600)
    assert flags(one(edge, circumstances=when(from_phone=True))) == ()
    assert flags(one(edge, circumstances=when(skew=1, from_phone=True))) == ()
    past_edge = entry(NOW + FUTURE_TOLERANCE - timedelta(seconds=599), 600)
    assert flags(one(past_edge, circumstances=when(skew=1, from_phone=True))) == (
        "future_dated",)


@pytest.mark.parametrize(("skew", "from_phone", "expected"), [
    (MAX_SKEW_SECONDS + 1, True, ("clock_skew",)),
    (-MAX_SKEW_SECONDS - 1, True, ("clock_skew",)),
    (MAX_SKEW_SECONDS, True, ()),
    (-MAX_SKEW_SECONDS, True, ()),
    (None, True, ()),
    (MAX_SKEW_SECONDS + 1, False, ()),
    (-86_400, False, ()),
])
def test_clock_skew_is_flagged_only_beyond_its_limit_and_only_from_a_phone(
        skew: float | None, from_phone: bool, expected: tuple[str, ...]) -> None:
    verdict = one(entry(at(9)), circumstances=when(skew=skew, from_phone=from_phone))
    assert flags(verdict) == expected


def test_late_month_is_phone_time_for_a_month_already_ended_locally() -> None:
    october = entry(datetime(2026, 10, 30, 9, tzinfo=CHICAGO))
    assert flags(one(october, circumstances=when(from_phone=True))) == ("late_month",)
    assert flags(one(october, circumstances=when(from_phone=False))) == ()
    assert flags(one(entry(at(9, day=1)), circumstances=when(from_phone=True))) == ()


def test_late_month_follows_the_practice_calendar_not_utc() -> None:
    """21:00 on 30 November in Chicago is already December in UTC: November has not ended."""
    evening = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    call = entry(datetime(2026, 11, 30, 14, tzinfo=CHICAGO))
    assert flags(one(call, circumstances=when(evening, from_phone=True))) == ()
    assert flags(one(call, circumstances=when(evening, from_phone=True, zone=ZoneInfo("UTC")))
                 ) == ("late_month",)


def test_a_call_over_midnight_on_the_first_is_late_for_its_first_month() -> None:
    over_midnight = entry(datetime(2026, 10, 31, 23, 50, tzinfo=CHICAGO), 1800)
    verdict = one(over_midnight, circumstances=when(from_phone=True))
    assert verdict == Accepted(("late_month",), (OCTOBER, NOVEMBER))


def test_every_flag_at_once_in_a_fixed_order() -> None:
    long_manual = entry(datetime(2026, 10, 31, 23, 0, tzinfo=CHICAGO), LONG_ENTRY_SECONDS + 60,
                        manual=True)
    just_after = datetime(2026, 11, 1, 5, 10, tzinfo=UTC)  # 00:10 CDT, 1 November
    verdict = one(long_manual, circumstances=when(just_after, skew=7200, from_phone=True))
    assert flags(verdict) == ("manual", "over_90_min", "future_dated", "clock_skew",
                              "late_month")


# ---------------------------------------------------------------------- months_of


def test_months_of_splits_at_local_midnight_on_the_first() -> None:
    late_evening = datetime(2026, 11, 1, 4, 50, tzinfo=UTC)  # 23:50 CDT, 31 October
    assert months_of(late_evening, 1800, CHICAGO) == [OCTOBER, NOVEMBER]
    assert months_of(late_evening, 1800, ZoneInfo("UTC")) == [NOVEMBER]


def test_months_of_an_utc_month_end_crossing_is_one_chicago_month() -> None:
    utc_midnight = datetime(2026, 10, 31, 23, 50, tzinfo=UTC)  # 18:50 CDT, 31 October
    assert months_of(utc_midnight, 1800, ZoneInfo("UTC")) == [OCTOBER, NOVEMBER]
    assert months_of(utc_midnight, 1800, CHICAGO) == [OCTOBER]


def test_months_of_a_zero_or_negative_duration_still_names_its_month() -> None:
    assert months_of(at(9), 0, CHICAGO) == [NOVEMBER]
    assert months_of(at(9), -60, CHICAGO) == [NOVEMBER]


def test_months_of_a_day_long_entry_ending_at_local_midnight_is_one_month() -> None:
    day = datetime(2026, 10, 31, 0, 0, tzinfo=CHICAGO)
    assert months_of(day, MAX_ENTRY_SECONDS, CHICAGO) == [OCTOBER]
    assert months_of(day, MAX_ENTRY_SECONDS + 1, CHICAGO) == [OCTOBER, NOVEMBER]
