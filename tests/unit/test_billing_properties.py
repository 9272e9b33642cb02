"""Properties of the billing engine that must hold for any month of time entries."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

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
from ccm_pwa.domain.billing_json import evaluation_to_dict
from ccm_pwa.domain.calendar import YearMonth

MONTH = YearMonth(2026, 11)
ZONES = [
    "America/Chicago",
    "America/New_York",
    "Pacific/Honolulu",
    "Asia/Kolkata",
    "Pacific/Auckland",
]
# From two days before to two days after November, so boundary splits happen in every zone.
WINDOW_START = datetime(2026, 10, 30, tzinfo=UTC)
WINDOW_DAYS = 34
COUNTABLE = [Performer.CLINICAL_STAFF, Performer.BILLING_PRACTITIONER]
PERFORMERS = [*COUNTABLE, *COUNTABLE, Performer.NON_CLINICAL]
CONDITIONS = [("E11.9", "I10"), ("E11.9", "I10", "N18.3"), ("I10",)]
consent_dates = st.one_of(
    st.just(date(2026, 10, 2)), st.none(), st.dates(date(2026, 10, 25), date(2026, 12, 2))
)

# sampled_from spreads days evenly; plain integers would crowd the window's edges.
instants = st.builds(
    lambda day, second: WINDOW_START + timedelta(days=day, seconds=second),
    st.sampled_from(range(WINDOW_DAYS)),
    st.integers(0, 24 * 3600 - 1),
)
# The same instant written with different offsets: only the instant may matter.
offsets = st.sampled_from([timezone(timedelta(hours=h)) for h in (-10, -6, 0, 5.5, 13)])
started_ats = st.tuples(instants, offsets).map(lambda pair: pair[0].astimezone(pair[1]))


@st.composite
def time_entries(
    draw: st.DrawFn, *, countable: bool = False, max_size: int = 12
) -> list[TimeEntry]:
    count = draw(st.integers(0, max_size))
    entries = []
    for i in range(count):
        entries.append(
            TimeEntry(
                id=f"e{i}",
                started_at=draw(started_ats),
                duration_seconds=draw(
                    st.one_of(st.integers(0, 4000), st.sampled_from([1199, 1200, 1800, 3600]))
                ),
                performer=draw(st.sampled_from(COUNTABLE if countable else PERFORMERS)),
                voided=False if countable else draw(st.sampled_from([False] * 5 + [True])),
            )
        )
    return entries


@st.composite
def cases(draw: st.DrawFn) -> BillingCase:
    program = draw(st.sampled_from(list(Program)))
    stays = draw(
        st.lists(
            st.tuples(instants, st.integers(0, 5 * 24 * 3600)).map(
                lambda pair: InpatientStay(pair[0], pair[0] + timedelta(seconds=pair[1]))
            ),
            max_size=2,
        )
    )
    patient = Patient(
        chronic_conditions=draw(st.sampled_from(CONDITIONS)),
        program=program,
        consent_date=draw(consent_dates),
        complex_mdm=draw(st.booleans()),
        inpatient_stays=tuple(stays),
        care_plan_in_force=draw(st.sampled_from([None, True])),
    )
    return BillingCase(
        month=MONTH,
        zone=ZoneInfo(draw(st.sampled_from(ZONES))),
        fee_year=draw(st.sampled_from([2025, 2026])),
        patient=patient,
        time_entries=tuple(draw(time_entries())),
    )


def claim(evaluation: MonthEvaluation) -> dict[str, object]:
    """What a payer would see: lines, their dates and amounts, and the time they rest on."""
    out = evaluation_to_dict(evaluation)
    return {
        key: out[key]
        for key in (
            "billable",
            "minutes",
            "claim_lines",
            "next",
            "lane",
            "total_amount",
            "seconds",
            "alternatives",
            "reasons",
        )
    }


def units_by_lane(evaluation: MonthEvaluation) -> dict[str, int]:
    return {r.lane.key: sum(line.units for line in r.claim_lines) for r in evaluation.lanes}


@settings(max_examples=300, deadline=None)
@given(cases(), time_entries(countable=True, max_size=3))
def test_adding_countable_time_never_lowers_the_claim(
    case: BillingCase, extra: list[TimeEntry]
) -> None:
    before = evaluate_month(case)
    added = [dataclasses.replace(e, id=f"added-{e.id}") for e in extra]
    after = evaluate_month(dataclasses.replace(case, time_entries=case.time_entries + tuple(added)))
    assert after.total_amount >= before.total_amount
    assert after.billable or not before.billable
    # Units never drop within a lane; across a lane switch only the amount is promised
    # (see test_lane_switch_can_lower_units_but_never_the_amount).
    for key, units in units_by_lane(before).items():
        assert units_by_lane(after)[key] >= units
    if before.chosen and after.chosen and before.chosen.lane == after.chosen.lane:
        assert sum(line.units for line in after.claim_lines) >= sum(
            line.units for line in before.claim_lines
        )


@settings(max_examples=200, deadline=None)
@given(cases(), st.randoms(use_true_random=False))
def test_order_of_entries_never_matters(case: BillingCase, random: object) -> None:
    shuffled = list(case.time_entries)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    reordered = dataclasses.replace(case, time_entries=tuple(shuffled))
    assert evaluation_to_dict(evaluate_month(reordered)) == evaluation_to_dict(evaluate_month(case))


@settings(max_examples=200, deadline=None)
@given(cases(), st.data())
def test_replaying_entries_never_changes_the_result(case: BillingCase, data: st.DataObject) -> None:
    if case.time_entries:
        replayed = data.draw(st.lists(st.sampled_from(case.time_entries), max_size=6))
    else:
        replayed = []
    again = dataclasses.replace(case, time_entries=case.time_entries + tuple(replayed))
    assert evaluation_to_dict(evaluate_month(again)) == evaluation_to_dict(evaluate_month(case))


@settings(max_examples=300, deadline=None)
@given(cases(), st.data())
def test_splitting_an_entry_in_two_contiguous_pieces_never_changes_the_claim(
    case: BillingCase, data: st.DataObject
) -> None:
    splittable = [e for e in case.time_entries if e.duration_seconds >= 2]
    if not splittable:
        return
    whole = data.draw(st.sampled_from(splittable))
    cut = data.draw(st.integers(1, whole.duration_seconds - 1))
    first = dataclasses.replace(whole, id=f"{whole.id}a", duration_seconds=cut)
    second = dataclasses.replace(
        whole,
        id=f"{whole.id}b",
        started_at=whole.started_at + timedelta(seconds=cut),
        duration_seconds=whole.duration_seconds - cut,
    )
    rest = tuple(e for e in case.time_entries if e is not whole)
    split = dataclasses.replace(case, time_entries=(*rest, first, second))
    assert claim(evaluate_month(split)) == claim(evaluate_month(case))


@settings(max_examples=300, deadline=None)
@given(cases())
def test_every_claim_obeys_the_lane_rules(case: BillingCase) -> None:
    evaluation = evaluate_month(case)
    codes = [line.code for line in evaluation.claim_lines]
    if not evaluation.billable:
        assert codes == []
        assert evaluation.reasons
        return
    assert evaluation.reasons == ()
    lane = evaluation.chosen.lane
    assert codes[0] == lane.base_code  # an add-on never without its base
    assert set(codes) <= {lane.base_code, lane.add_on_code}
    assert all(line.units <= lane.max_add_on_units for line in evaluation.claim_lines)
    assert not ({"99491", "99437"} & set(codes) and {"99490", "99487", "99489"} & set(codes))
    if case.patient.program is Program.PCM:
        assert set(codes) <= {"99424", "99425", "99426", "99427"}
    else:
        assert not set(codes) & {"99424", "99425", "99426", "99427"}
    # Full thresholds on floored minutes of the lane's own pool.
    assert evaluation.chosen.claim_lines[-1].threshold_minutes <= evaluation.chosen.seconds // 60
    assert all(
        evaluation.chosen.total_amount >= other.total_amount for other in evaluation.alternatives
    )
    dates = [line.date_of_service for line in evaluation.claim_lines]
    assert dates == sorted(dates)
    assert all(MONTH.first_day <= d <= MONTH.last_day for d in dates)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_every_second_is_counted_or_explained(case: BillingCase) -> None:
    evaluation = evaluate_month(case)
    unique = {e.id: e for e in case.time_entries}
    logged = sum(e.duration_seconds for e in unique.values())
    counted = evaluation.time.clinical_staff_seconds + evaluation.time.billing_practitioner_seconds
    explained = sum(x.seconds for x in evaluation.excluded if not x.reason.startswith("recorded "))
    assert counted + explained == logged
    json.dumps(evaluation_to_dict(evaluation))  # always serialisable
