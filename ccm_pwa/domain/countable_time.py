"""Which seconds of a month's time entries may count, and why every other second may not."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ccm_pwa.domain.billing_case import BillingCase, InpatientStay, Performer, TimeEntry
from ccm_pwa.domain.calendar import local_date, month_bounds, split_by_month, start_of_local_day

Interval = tuple[datetime, datetime]
_FOREVER = datetime.max.replace(tzinfo=UTC)

# Lower rank = counts toward fewer codes = the safer copy when duplicates disagree.
_PERFORMER_RANK = {
    Performer.NON_CLINICAL: 0,
    Performer.CLINICAL_STAFF: 1,
    Performer.BILLING_PRACTITIONER: 2,
}


@dataclass(frozen=True)
class Segment:
    """A stretch of countable work, in UTC, owned by exactly one entry."""

    entry_id: str
    performer: Performer
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return _seconds(self.start, self.end)


@dataclass(frozen=True)
class Exclusion:
    """Seconds of one entry that do not count this month, in words a biller understands."""

    entry_id: str
    reason: str
    seconds: int


@dataclass(frozen=True)
class CountableTime:
    segments: tuple[Segment, ...]
    excluded: tuple[Exclusion, ...]

    def seconds_by(self, performers: Iterable[Performer]) -> int:
        wanted = frozenset(performers)
        return sum(s.seconds for s in self.segments if s.performer in wanted)


def countable_time(case: BillingCase) -> CountableTime:
    """Apply every exclusion once, in a fixed order, so all readers agree on the total.

    Order: duplicate ids, voided, non-clinical, other months, before consent, inpatient
    stays, then overlap with time already counted. Each second gets the first reason.
    """
    entries, excluded = _one_copy_per_id(case.time_entries)
    month_start, month_end = month_bounds(case.month, case.zone)
    consent = case.patient.consent_date
    stays = [
        (
            _utc(stay.start),
            _FOREVER if stay.end is None else _utc(stay.end),
            _stay_words(stay, case),
        )
        for stay in case.patient.inpatient_stays
    ]
    in_month: list[tuple[TimeEntry, list[Interval]]] = []
    for entry in entries:
        if entry.voided:
            excluded.append(Exclusion(entry.id, "voided", entry.duration_seconds))
            continue
        if entry.performer is Performer.NON_CLINICAL:
            reason = "non-clinical staff time never counts toward care-management codes"
            excluded.append(Exclusion(entry.id, reason, entry.duration_seconds))
            continue
        start = _utc(entry.started_at)
        end = start + timedelta(seconds=entry.duration_seconds)
        kept: list[Interval] = []
        # Nearly every entry lies inside the month: skip the month-splitting walk for those.
        pieces = (
            [(case.month, start, end)]
            if month_start <= start and end <= month_end
            else split_by_month(start, end, case.zone)
        )
        for month, piece_start, piece_end in pieces:
            if month == case.month:
                kept.append((piece_start, piece_end))
            else:
                seconds = _seconds(piece_start, piece_end)
                reason = f"{seconds} s fall in {month} and count there"
                excluded.append(Exclusion(entry.id, reason, seconds))
        if not kept:
            continue
        if consent is None:
            seconds = sum(_seconds(a, b) for a, b in kept)
            excluded.append(Exclusion(entry.id, "no consent on file", seconds))
            continue
        if consent > case.month.first_day:
            consent_start = (
                month_end
                if consent > case.month.last_day
                else start_of_local_day(consent, case.zone)
            )
            kept, removed = _cut(kept, month_start, consent_start)
            if removed:
                reason = f"{removed} s before consent on {consent.isoformat()}"
                excluded.append(Exclusion(entry.id, reason, removed))
        for stay_start, stay_end, words in stays:
            kept, removed = _cut(kept, stay_start, stay_end)
            if removed:
                excluded.append(Exclusion(entry.id, f"during inpatient stay {words}", removed))
        if kept:
            in_month.append((entry, kept))
    segments = _count_overlaps_once(in_month, excluded)
    return CountableTime(tuple(sorted(segments, key=lambda s: s.start)), tuple(excluded))


def _one_copy_per_id(entries: Iterable[TimeEntry]) -> tuple[list[TimeEntry], list[Exclusion]]:
    """A replayed entry counts once; if the copies disagree, the least billable one wins."""
    copies: dict[str, list[TimeEntry]] = defaultdict(list)
    for entry in entries:
        copies[entry.id].append(entry)
    kept: list[TimeEntry] = []
    notes: dict[str, Exclusion] = {}
    for entry_id, group in copies.items():
        chosen = min(group, key=_conservative_order)
        kept.append(chosen)
        if len({_meaning(copy) for copy in group}) > 1:
            longest = max(copy.duration_seconds for copy in group)
            why = "one copy is voided" if chosen.voided else "counted the copy that bills least"
            reason = f"recorded {len(group)} times with different details; {why}"
            notes[entry_id] = Exclusion(entry_id, reason, longest - chosen.duration_seconds)
    kept.sort(key=lambda e: (_utc(e.started_at), e.id))
    return kept, [notes[e.id] for e in kept if e.id in notes]


def _count_overlaps_once(
    in_month: list[tuple[TimeEntry, list[Interval]]], excluded: list[Exclusion]
) -> list[Segment]:
    """Wall-clock time logged twice counts once; practitioner entries claim it first.

    Practitioner time counts toward every lane, staff time only toward staff lanes, so
    giving shared seconds to the practitioner keeps each lane's total at the true union.
    """
    ordered = sorted(
        in_month,
        key=lambda item: (-_PERFORMER_RANK[item[0].performer], item[1][0][0], item[0].id),
    )
    counted: list[Segment] = []
    for entry, pieces in ordered:
        removed_by: dict[str, int] = {}
        for earlier in counted:
            pieces, removed = _cut(pieces, earlier.start, earlier.end)
            if removed:
                removed_by[earlier.entry_id] = removed_by.get(earlier.entry_id, 0) + removed
        for other_id, seconds in removed_by.items():
            reason = f"{seconds} s overlap entry {other_id} and are counted once"
            excluded.append(Exclusion(entry.id, reason, seconds))
        counted.extend(Segment(entry.id, entry.performer, a, b) for a, b in pieces)
    return counted


def _cut(
    pieces: list[Interval], cut_start: datetime, cut_end: datetime
) -> tuple[list[Interval], int]:
    """Remove [cut_start, cut_end) from the pieces; returns what is left and seconds removed."""
    left: list[Interval] = []
    removed = 0
    for start, end in pieces:
        overlap_start, overlap_end = max(start, cut_start), min(end, cut_end)
        if overlap_start >= overlap_end:
            left.append((start, end))
            continue
        removed += _seconds(overlap_start, overlap_end)
        if start < overlap_start:
            left.append((start, overlap_start))
        if overlap_end < end:
            left.append((overlap_end, end))
    return left, removed


def _conservative_order(entry: TimeEntry) -> tuple[bool, int, int, datetime]:
    return (
        not entry.voided,
        entry.duration_seconds,
        _PERFORMER_RANK[entry.performer],
        _utc(entry.started_at),
    )


def _meaning(entry: TimeEntry) -> tuple[datetime, int, Performer, bool]:
    return _utc(entry.started_at), entry.duration_seconds, entry.performer, entry.voided


def _stay_words(stay: InpatientStay, case: BillingCase) -> str:
    admitted = local_date(stay.start, case.zone).isoformat()
    if stay.end is None:
        return f"from {admitted} (still admitted)"
    return f"{admitted} to {local_date(stay.end, case.zone).isoformat()}"


def _utc(instant: datetime) -> datetime:
    """UTC, whole seconds: sub-second parts carry no billing meaning and break exact sums."""
    return instant.astimezone(UTC).replace(microsecond=0)


def _seconds(start: datetime, end: datetime) -> int:
    return (end - start) // timedelta(seconds=1)
