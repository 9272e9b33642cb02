"""Pure pieces of the month-close checks: overlaps, lanes, add-ons, and "does the claim
survive without these seconds".

No database here: the service (`services/month_close.py`) gathers the month's rows, these
functions judge them, so each rule is unit-tested on small hand-made cases.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ccm_pwa.domain.billing import BillingCase, TimeEntry, evaluate_month
from ccm_pwa.domain.billing_lanes import PROGRAM_LANES, Lane

# Every lane once (COMPLEX_CCM repeats the CCM lanes), keyed by each code it bills.
_LANES: dict[str, Lane] = {}
for _lanes in PROGRAM_LANES.values():
    for _lane in _lanes:
        _LANES.setdefault(_lane.base_code, _lane)
        _LANES.setdefault(_lane.add_on_code, _lane)
ADD_ON_BASE: dict[str, str] = {lane.add_on_code: lane.base_code for lane in _LANES.values()}
# The CCM lanes are mutually exclusive (rules G2), and CCM and PCM from the same
# practitioner too (§2b): every lane of this engine is one "care-management lane".
CARE_MANAGEMENT_CODES = frozenset(_LANES)


@dataclass(frozen=True)
class Interval:
    """One entry's counted stretch: who worked, for which patient, from when to when."""

    entry_id: str
    person: str
    patient: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Overlap:
    """Two entries of one person, for two different patients, sharing `seconds`."""

    first: Interval
    second: Interval
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def cross_patient_overlaps(intervals: Iterable[Interval]) -> list[Overlap]:
    """Pairs of one person's intervals on *different* patients that share a second.

    One person cannot care for two patients in the same minute, so those seconds may
    support at most one claim (rules G3). Overlaps on the same patient are the billing
    engine's business: it counts such seconds once. Sweep per person: O(n log n + pairs).
    """
    by_person: dict[str, list[Interval]] = defaultdict(list)
    for interval in intervals:
        if interval.end > interval.start:
            by_person[interval.person].append(interval)
    found: list[Overlap] = []
    for person_intervals in by_person.values():
        person_intervals.sort(key=lambda i: (i.start, i.end, i.entry_id))
        active: list[Interval] = []
        for current in person_intervals:
            active = [a for a in active if a.end > current.start]
            for earlier in active:
                if earlier.patient != current.patient:
                    found.append(Overlap(earlier, current, current.start,
                                         min(earlier.end, current.end)))
            active.append(current)
    return found


def lane_problems(codes: Iterable[str]) -> list[str]:
    """One care-management lane per patient-month (G2): codes of two lanes are a problem."""
    lanes = sorted({_LANES[code].key for code in codes if code in _LANES})
    if len(lanes) > 1:
        return [f"codes from {len(lanes)} lanes in one month: {', '.join(lanes)}"]
    return []


def add_on_problems(codes: Iterable[str]) -> list[str]:
    """An add-on code needs its base code on the same patient-month and practitioner (G4)."""
    present = set(codes)
    return [f"add-on {code} without its base code {ADD_ON_BASE[code]}"
            for code in sorted(present) if code in ADD_ON_BASE
            and ADD_ON_BASE[code] not in present]


def case_without(case: BillingCase, cuts: dict[str, list[tuple[datetime, datetime]]]
                 ) -> BillingCase:
    """The same case with the `cuts` (per entry id, UTC spans) removed from its entries.

    An entry cut in the middle becomes two pieces (ids "id#1", "id#2"); everything else
    about the case is unchanged, so the engine's other exclusions apply as before.
    """
    entries: list[TimeEntry] = []
    for entry in case.time_entries:
        spans = sorted(cuts.get(entry.id, []))
        if not spans:
            entries.append(entry)
            continue
        cursor, end = entry.started_at, entry.started_at + timedelta(
            seconds=entry.duration_seconds)
        pieces: list[tuple[datetime, datetime]] = []
        for cut_start, cut_end in spans:
            if cut_start > cursor:
                pieces.append((cursor, min(cut_start, end)))
            cursor = max(cursor, cut_end)
        if cursor < end:
            pieces.append((cursor, end))
        for number, (start, stop) in enumerate(pieces, 1):
            seconds = int((stop - start).total_seconds())
            if seconds > 0:
                entries.append(dataclasses.replace(
                    entry, id=f"{entry.id}#{number}", started_at=start,
                    duration_seconds=seconds))
    return dataclasses.replace(case, time_entries=tuple(entries))


def claim_signature(case: BillingCase) -> tuple[tuple[str, int], ...]:
    """The claim lines a case bills, as (code, units): what "the claim stands" compares."""
    return tuple((line.code, line.units) for line in evaluate_month(case).claim_lines)


def claim_survives_cuts(case: BillingCase,
                        cuts: dict[str, list[tuple[datetime, datetime]]]) -> bool:
    """True when the month bills exactly the same lines without the cut seconds.

    Used conservatively: the overlapped seconds are taken away from *both* patients, and
    a claim that still stands never relied on a minute that someone else's claim used.
    """
    return claim_signature(case_without(case, cuts)) == claim_signature(case)
