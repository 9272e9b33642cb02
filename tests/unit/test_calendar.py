"""Practice-local months: parsing, DST-correct bounds, splits at local midnight on the 1st."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from ccm_pwa.domain.calendar import (
    YearMonth,
    days_left_in_month,
    local_date,
    local_month,
    month_bounds,
    split_by_month,
    start_of_local_day,
)

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
HONOLULU = ZoneInfo("Pacific/Honolulu")
KOLKATA = ZoneInfo("Asia/Kolkata")
AUCKLAND = ZoneInfo("Pacific/Auckland")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize("text", ["2026-11", "2028-02", "2000-01", "2100-12"])
def test_parse_year_month_round_trips(text: str) -> None:
    assert str(YearMonth.parse(text)) == text


@pytest.mark.parametrize("text", ["1999-12", "0001-01", "9999-12", "2101-01"])
def test_a_month_outside_the_programs_years_is_refused(text: str) -> None:
    """Year 1 or 9999 is a typo or a probe; its month arithmetic would leave the calendar
    (the security probe got a 500 from ?month=9999-12)."""
    with pytest.raises(ValueError, match=r"outside 2000-01\.\.2100-12"):
        YearMonth.parse(text)


@pytest.mark.parametrize(
    "text",
    ["2026-13", "2026-00", "2026-1", "26-11", "2026-11-01", " 2026-11", "2026/11", "", "٢٠٢٦-١١"],
)
def test_parse_year_month_refuses_impossible_or_loose_months(text: str) -> None:
    with pytest.raises(ValueError):
        YearMonth.parse(text)


def test_year_month_steps_across_years() -> None:
    assert YearMonth(2026, 12).following() == YearMonth(2027, 1)
    assert YearMonth(2027, 1).preceding() == YearMonth(2026, 12)
    assert YearMonth(2026, 11) < YearMonth(2026, 12) < YearMonth(2027, 1)


@pytest.mark.parametrize(
    ("month", "days"),
    [("2026-02", 28), ("2028-02", 29), ("2100-02", 28), ("2000-02", 29), ("2026-11", 30)],
)
def test_days_in_month_follow_leap_years(month: str, days: int) -> None:
    ym = YearMonth.parse(month)
    assert ym.days == days
    assert ym.last_day == date(ym.year, ym.month, days)


def test_month_bounds_are_local_midnights_in_utc() -> None:
    start, end = month_bounds(YearMonth(2026, 11), CHICAGO)
    # 1 Nov 00:00 is still daylight time (-05:00); 1 Dec 00:00 is standard time (-06:00).
    assert start == utc("2026-11-01T05:00:00+00:00")
    assert end == utc("2026-12-01T06:00:00+00:00")
    assert start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("month", "hours"), [("2026-03", 31 * 24 - 1), ("2026-11", 30 * 24 + 1)])
def test_month_bounds_lose_or_gain_the_dst_hour_in_new_york(month: str, hours: int) -> None:
    start, end = month_bounds(YearMonth.parse(month), NEW_YORK)
    assert end - start == timedelta(hours=hours)


def test_month_starts_at_the_transition_when_local_midnight_does_not_exist() -> None:
    # Paraguay moved clocks from 00:00 to 01:00 on 1 October 2017.
    asuncion = ZoneInfo("America/Asuncion")
    start, _ = month_bounds(YearMonth(2017, 10), asuncion)
    assert start == utc("2017-10-01T04:00:00+00:00")
    assert start.astimezone(asuncion).isoformat() == "2017-10-01T01:00:00-03:00"
    assert local_date(start - timedelta(seconds=1), asuncion) == date(2017, 9, 30)


def test_start_of_local_day_on_a_dst_day_is_plain_midnight() -> None:
    assert start_of_local_day(date(2026, 3, 8), NEW_YORK) == utc("2026-03-08T05:00:00+00:00")
    assert start_of_local_day(date(2026, 11, 1), NEW_YORK) == utc("2026-11-01T04:00:00+00:00")


def test_split_cuts_an_evening_call_at_local_month_end() -> None:
    start = datetime.fromisoformat("2026-11-30T23:50:00-08:00")
    pieces = split_by_month(start, start + timedelta(minutes=20), LOS_ANGELES)
    assert [(str(m), (b - a).seconds) for m, a, b in pieces] == [
        ("2026-11", 600),
        ("2026-12", 600),
    ]


def test_split_covers_every_month_of_a_long_interval_without_gaps() -> None:
    start = datetime.fromisoformat("2026-10-31T12:00:00-05:00")
    end = datetime.fromisoformat("2027-01-01T01:00:00-06:00")
    pieces = split_by_month(start, end, CHICAGO)
    assert [str(m) for m, _, _ in pieces] == ["2026-10", "2026-11", "2026-12", "2027-01"]
    assert pieces[0][1] == start.astimezone(UTC)
    assert pieces[-1][2] == end.astimezone(UTC)
    assert all(a[2] == b[1] for a, b in pairwise(pieces))


def test_split_of_an_empty_interval_is_empty() -> None:
    start = datetime.fromisoformat("2026-11-03T14:00:00-06:00")
    assert split_by_month(start, start, CHICAGO) == []


@pytest.mark.parametrize(
    ("instant", "zone", "month"),
    [
        # A UTC month key would put each of these in the other month.
        ("2026-12-01T00:05:00+05:30", KOLKATA, "2026-12"),
        ("2026-11-30T23:55:00+13:00", AUCKLAND, "2026-11"),
        ("2026-12-01T06:00:00+00:00", HONOLULU, "2026-11"),
        ("2026-12-01T07:50:00+00:00", LOS_ANGELES, "2026-11"),
    ],
)
def test_local_month_uses_the_practice_zone_not_utc(
    instant: str, zone: ZoneInfo, month: str
) -> None:
    assert str(local_month(datetime.fromisoformat(instant), zone)) == month


def test_local_date_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        local_date(datetime(2026, 11, 3, 14, 0), CHICAGO)
    with pytest.raises(ValueError):
        split_by_month(datetime(2026, 11, 3), datetime(2026, 11, 4), CHICAGO)


@pytest.mark.parametrize(
    ("now", "zone", "left"),
    [
        ("2026-11-01T00:00:00-05:00", CHICAGO, 30),
        ("2026-11-30T23:59:00-06:00", CHICAGO, 1),
        ("2026-12-01T05:00:00+00:00", CHICAGO, 1),  # still 30 Nov, 23:00 in Chicago
        ("2028-02-29T12:00:00-08:00", LOS_ANGELES, 1),
        ("2028-02-01T12:00:00-08:00", LOS_ANGELES, 29),
    ],
)
def test_days_left_count_today(now: str, zone: ZoneInfo, left: int) -> None:
    assert days_left_in_month(datetime.fromisoformat(now), zone) == left
