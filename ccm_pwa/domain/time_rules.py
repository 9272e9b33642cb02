"""Whether a stretch of care-management time may be stored, and what to flag in it.

One set of rules for every way time arrives (the phone's timer and manual entry through
sync, a server-side recording, an import): the caller loads what the rules look at once
per batch (`Stored`), and `judge` decides every entry of the batch in order, each seeing
the ones accepted before it. Nothing here reads a database or a clock.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ccm_pwa.domain.calendar import (
    YearMonth,
    local_date,
    local_month,
    month_bounds,
    split_by_month,
)

UTC_ZONE = ZoneInfo("UTC")

# A stretch longer than a day is a stuck timer, not care-management work; so no entry
# starts more than this before any moment it covers (readers look back this far).
MAX_ENTRY_SECONDS = 24 * 3600
MAX_ENTRY_SPAN = timedelta(seconds=MAX_ENTRY_SECONDS)
LONG_ENTRY_SECONDS = 90 * 60
# Clocks drift and a timer stops a moment after the server's "now": only beyond this is an
# entry that ends in the future flagged for review.
FUTURE_TOLERANCE = timedelta(minutes=5)
# Medicare's timely-filing limit is 12 months after the date of service: older time can
# never be billed, so it is refused rather than stored (a wrong date, a reset clock).
OLDEST_MONTHS = 12
# A phone whose clock is further off than this when it syncs: its times are flagged.
MAX_SKEW_SECONDS = 300

ID_TAKEN = "this entry id is already used by another entry"


@dataclass(frozen=True)
class NewTime:
    """One entry as it asks to be stored."""

    entry_id: uuid.UUID
    patient_id: uuid.UUID
    started_at: datetime
    duration_seconds: int
    manual: bool = False

    @property
    def ended_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.duration_seconds)


@dataclass(frozen=True)
class Stored:
    """What is already stored that the rules compare a batch with.

    `owners`: (patient, performer) of each stored entry whose id the batch uses;
    `busy`: (start, end) of the performer's live (not voided) entries near the batch;
    `closed`: the months of the batch that are closed for billing.
    """

    owners: Mapping[uuid.UUID, tuple[uuid.UUID, uuid.UUID]] = field(default_factory=dict)
    busy: Iterable[tuple[datetime, datetime]] = ()
    closed: frozenset[YearMonth] = frozenset()


@dataclass(frozen=True)
class Circumstances:
    """Who records, when (server clock), in which practice calendar, from where."""

    performer_id: uuid.UUID
    now: datetime
    zone: ZoneInfo
    clock_skew_seconds: float | None = None  # device − server, when the push said
    from_phone: bool = False


@dataclass(frozen=True)
class Accepted:
    flags: tuple[str, ...]
    months: tuple[YearMonth, ...]


@dataclass(frozen=True)
class Replayed:
    """The same entry seen before (another device, a reinstall, a resend): counted once."""


@dataclass(frozen=True)
class Refused:
    reason: str


Verdict = Accepted | Replayed | Refused


def judge(batch: Sequence[NewTime], stored: Stored, when: Circumstances) -> list[Verdict]:
    """The verdict on each entry of `batch`, in order, as if they were stored one by one."""
    busy = _Busy(stored.busy)
    owners = dict(stored.owners)
    verdicts: list[Verdict] = []
    for entry in batch:
        verdict = _judge_one(entry, owners, busy, stored.closed, when)
        if isinstance(verdict, Accepted):
            owners[entry.entry_id] = (entry.patient_id, when.performer_id)
            busy.add(entry.started_at, entry.ended_at)
        verdicts.append(verdict)
    return verdicts


def _judge_one(entry: NewTime, owners: Mapping[uuid.UUID, tuple[uuid.UUID, uuid.UUID]],
               busy: _Busy, closed: frozenset[YearMonth], when: Circumstances) -> Verdict:
    if (owner := owners.get(entry.entry_id)) is not None:
        return Replayed() if owner == (entry.patient_id, when.performer_id) else Refused(ID_TAKEN)
    if not 0 < entry.duration_seconds <= MAX_ENTRY_SECONDS:
        return Refused(f"duration_seconds: must be between 1 and {MAX_ENTRY_SECONDS}, "
                       f"got {entry.duration_seconds}")
    if (error := entry_window_error(entry.started_at, entry.duration_seconds, when.now,
                                    when.clock_skew_seconds, zone=when.zone)) is not None:
        return Refused(error)
    months = months_of(entry.started_at, entry.duration_seconds, when.zone)
    if shut := [m for m in months if m in closed]:
        return Refused(f"{shut[0]} is closed for billing: ask a supervisor to reopen it")
    if (clash := busy.clash(entry.started_at, entry.ended_at)) is not None:
        return Refused(overlap_reason(clash, entry.started_at, when.zone))
    return Accepted(_flags(entry, months, when), tuple(months))


def overlap_reason(clash: datetime, started_at: datetime, zone: ZoneInfo) -> str:
    """The stored entry's start, practice time; with its date when that is another day
    (a call of 00:10 clashing with last night's 23:50 must not read like this morning's)."""
    local = clash.astimezone(zone)
    if local.date() == started_at.astimezone(zone).date():
        return f"overlaps your entry at {local:%H:%M}"
    return f"overlaps your entry at {local:%H:%M} on {local:%Y-%m-%d}"


def _flags(entry: NewTime, months: list[YearMonth], when: Circumstances) -> tuple[str, ...]:
    """What a supervisor should look at (the review queue shows these).

    `clock_skew`: the phone's clock was off by more than MAX_SKEW_SECONDS when it sent this,
    so its times may be too; `late_month`: phone time for a month that had already ended
    (practice-local) when it arrived.
    """
    flags = []
    if entry.manual:
        flags.append("manual")
    if entry.duration_seconds > LONG_ENTRY_SECONDS:
        flags.append("over_90_min")
    if entry.ended_at > when.now + FUTURE_TOLERANCE:
        flags.append("future_dated")  # it cannot have ended yet: a wrong clock or a typo
    if when.from_phone:
        skew = when.clock_skew_seconds
        if skew is not None and abs(skew) > MAX_SKEW_SECONDS:
            flags.append("clock_skew")
        if months[0] < YearMonth.of(local_date(when.now, when.zone)):
            flags.append("late_month")
    return tuple(flags)


def entry_window_error(started_at: datetime, duration_seconds: int, now: datetime,
                       clock_skew_seconds: float | None = None, *,
                       zone: ZoneInfo = UTC_ZONE) -> str | None:
    """Why time cannot be real, or None: starting before the timely-filing window, or
    ending after now — beyond FUTURE_TOLERANCE, plus the device's own clock lead when its
    push said what its clock read (that entry is kept, flagged for review).

    The window is OLDEST_MONTHS of the practice's calendar (`zone`): on the evening of
    31 October in Chicago it is still October there, so October a year ago is inside.
    """
    if started_at.tzinfo is None or started_at.utcoffset() is None:
        return "started_at: must carry a time zone offset"
    current = local_month(now, zone)
    first = current.year * 12 + current.month - 1 - OLDEST_MONTHS
    earliest = month_bounds(YearMonth(first // 12, first % 12 + 1), zone)[0]
    latest_end = now + FUTURE_TOLERANCE + timedelta(seconds=max(0.0, clock_skew_seconds or 0.0))
    try:
        too_old = started_at < earliest
        too_late = started_at + timedelta(seconds=duration_seconds) > latest_end
    except OverflowError:  # beyond the calendar's end: not a real call either
        too_old, too_late = False, True
    if too_old:
        return (f"started_at: before {earliest:%Y-%m-%d}, more than {OLDEST_MONTHS} months "
                "ago (Medicare's timely-filing limit)")
    if too_late:
        return ("started_at: this call would end in the future "
                f"(after {latest_end:%Y-%m-%d %H:%M} UTC): check the phone's clock")
    return None


def months_of(started_at: datetime, duration_seconds: int, zone: ZoneInfo) -> list[YearMonth]:
    """The local months an entry's time falls in (two when it spans midnight on the 1st)."""
    end = started_at + timedelta(seconds=max(duration_seconds, 1))
    return [month for month, _start, _end in split_by_month(started_at, end, zone)]


class _Busy:
    """The performer's stretches, sorted by start: an overlap is a bisect, not a scan.

    No stretch is longer than MAX_ENTRY_SPAN, so only those starting within that much
    before a new entry can reach into it.
    """

    def __init__(self, stretches: Iterable[tuple[datetime, datetime]]) -> None:
        self._stretches = sorted(stretches)

    def add(self, start: datetime, end: datetime) -> None:
        bisect.insort(self._stretches, (start, end))

    def clash(self, start: datetime, end: datetime) -> datetime | None:
        """The start of the earliest stretch sharing a second with [start, end), if any."""
        first = bisect.bisect_right(self._stretches, (start - MAX_ENTRY_SPAN, start))
        for began, ended in self._stretches[first:]:
            if began >= end:
                return None
            if ended > start:
                return began
        return None
