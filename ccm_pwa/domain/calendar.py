"""The practice's local calendar: months, month bounds and days, correct across DST."""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

_YEAR_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


# Medicare has paid for CCM since 2015; a month typed into a request or a command is in here.
TYPED_YEARS = range(2000, 2101)


@dataclass(frozen=True, order=True)
class YearMonth:
    """A calendar month, because CMS counts care-management time per calendar month (T1)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.year <= 9999:
            raise ValueError(f"year {self.year} is out of range")
        if not 1 <= self.month <= 12:
            raise ValueError(f"month {self.month} is out of range")

    @classmethod
    def parse(cls, text: str) -> YearMonth:
        """Accept only "YYYY-MM", so "2026-1" or "2026-13" cannot slip into a claim month,
        and only years the program can have (`TYPED_YEARS`): 0001-01 or 9999-12 is a typo
        or a probe, and their month arithmetic would leave the calendar."""
        match = _YEAR_MONTH.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not a month like 2026-11")
        year = int(match[1])
        if year not in TYPED_YEARS:
            raise ValueError(f"{text!r} is outside {TYPED_YEARS.start}-01.."
                             f"{TYPED_YEARS.stop - 1}-12")
        return cls(year, int(match[2]))

    @classmethod
    def of(cls, day: date) -> YearMonth:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, self.days)

    @property
    def days(self) -> int:
        return monthrange(self.year, self.month)[1]

    def following(self) -> YearMonth:
        if self.month == 12:
            return YearMonth(self.year + 1, 1)
        return YearMonth(self.year, self.month + 1)

    def preceding(self) -> YearMonth:
        if self.month == 1:
            return YearMonth(self.year - 1, 12)
        return YearMonth(self.year, self.month - 1)


def start_of_local_day(day: date, zone: ZoneInfo) -> datetime:
    """The first instant (in UTC) whose local date is `day`.

    Local midnight may not exist (clocks jump at 00:00 in some zones) or may happen twice,
    so the answer is searched for rather than assumed to be 00:00.
    """
    candidates = [
        datetime.combine(day, time(0), tzinfo=zone).replace(fold=fold).astimezone(UTC)
        for fold in (0, 1)
    ]
    on_day = [c for c in candidates if c.astimezone(zone).date() == day]
    start = min(on_day) if on_day else max(candidates)
    if start.astimezone(zone).time() == time(0):
        return start
    # Midnight fell in a DST gap: the day starts at the transition. Search the seconds
    # before the first on-day candidate for the earliest one still on `day`.
    low, high = start - timedelta(hours=3), start
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).date() >= day:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


@lru_cache(maxsize=1024)
def month_bounds(month: YearMonth, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the local month in UTC, so comparisons never use wall-clock time.

    Cached: a month-end run asks for the same few bounds once per time entry.
    """
    return (
        start_of_local_day(month.first_day, zone),
        start_of_local_day(month.following().first_day, zone),
    )


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    """The practice-local date of an instant; naive datetimes are refused, never guessed."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(zone).date()


def local_month(instant: datetime, zone: ZoneInfo) -> YearMonth:
    return YearMonth.of(local_date(instant, zone))


def split_by_month(
    start: datetime, end: datetime, zone: ZoneInfo
) -> list[tuple[YearMonth, datetime, datetime]]:
    """Cut [start, end) at each local midnight on the 1st; pieces are UTC and in order.

    An evening call that runs past midnight at month end belongs partly to each month.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    pieces: list[tuple[YearMonth, datetime, datetime]] = []
    if end <= start:
        return pieces
    month = local_month(start, zone)
    cursor = start
    while cursor < end:
        month_end = month_bounds(month, zone)[1]
        piece_end = min(end, month_end)
        pieces.append((month, cursor, piece_end))
        cursor, month = piece_end, month.following()
    return pieces


def day_of_month(instant: datetime, zone: ZoneInfo) -> int:
    return local_date(instant, zone).day


def days_left_in_month(now: datetime, zone: ZoneInfo) -> int:
    """Local days left in `now`'s month, counting today, because today can still be worked."""
    today = local_date(now, zone)
    return YearMonth.of(today).days - today.day + 1
