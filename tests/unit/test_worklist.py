"""The worklist ranking and its filters, without a database: tiers, pace, tasks, ties, words."""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import date

import pytest

from ccm_pwa.domain.progress import ProgressStatus as S
from ccm_pwa.domain.worklist import (
    DUE_TODAY_WEIGHT,
    OVERDUE_TASK_WEIGHT,
    Tier,
    WorklistFilter,
    WorklistInput,
    filter_worklist,
    rank_worklist,
    tier_of,
    urgency_of,
    why_of,
)

NO_CONSENT = "no consent on file: time cannot be billed before consent is documented"


def patient(name: str, status: S = S.AT_RISK, minutes: int = 0, to_next: int | None = 20,
            days_left: int = 8, **extra: object) -> WorklistInput:
    next_code = extra.pop("next_code", "99490" if to_next is not None else None)
    return WorklistInput(patient_id=extra.pop("patient_id", f"id-{name}"), name=name,
                         status=status, minutes=minutes, next_code=next_code,
                         minutes_to_next=to_next, days_left=days_left, days_in_month=30,
                         **extra)


def order(items: list[WorklistInput]) -> list[str]:
    return [r.item.name for r in rank_worklist(items)]


# --- tiers ------------------------------------------------------------------------------


def test_rank_puts_uncontacted_discharge_first() -> None:
    items = [patient("Pace", to_next=20, days_left=1),
             patient("Discharged", S.BILLABLE, 45, 15, next_code="99439",
                     recent_discharge=date(2026, 11, 12), contacted_this_month=True)]
    ranked = rank_worklist(items)
    assert [r.item.name for r in ranked] == ["Discharged", "Pace"]
    assert ranked[0].tier == Tier.TRANSITION
    assert ranked[0].why[0] == "discharged 2026-11-12, no call since"


def test_rank_drops_discharge_once_called() -> None:
    called = patient("Called", S.BILLABLE, 25, 15, next_code="99439",
                     recent_discharge=date(2026, 11, 12), contacted_since_discharge=True)
    assert tier_of(called) == Tier.BILLABLE
    assert not any("discharged" in line for line in why_of(called))


def test_rank_orders_discharges_longest_waiting_first() -> None:
    items = [patient("Late", recent_discharge=date(2026, 11, 20)),
             patient("Early", recent_discharge=date(2026, 11, 10), to_next=1)]
    assert order(items) == ["Early", "Late"]


def test_rank_tiers_in_display_order() -> None:
    items = [patient("Done", S.BILLABLE, 25, 15, next_code="99439"),
             patient("Missed", S.MISSED, 5, 15, days_left=0),
             patient("Blocked", S.BLOCKED, 0, 20, blocking_reasons=(NO_CONSENT,)),
             patient("Needs", S.ON_TRACK, 10, 10),
             patient("Transition", S.BILLABLE, 30, 10, recent_discharge=date(2026, 11, 20))]
    ranked = rank_worklist(items)
    assert [r.item.name for r in ranked] == ["Transition", "Needs", "Blocked", "Missed", "Done"]
    assert [r.tier for r in ranked] == sorted(Tier)
    assert [r.rank for r in ranked] == [1, 2, 3, 4, 5]


def test_blocked_patient_outranks_billable_but_not_at_risk() -> None:
    items = [patient("Billable", S.BILLABLE, 62, None, contacted_this_month=True),
             patient("Blocked", S.BLOCKED, blocking_reasons=("no care plan in force this month",)),
             patient("AtRisk", S.AT_RISK, 2, 18, days_left=20)]
    assert order(items) == ["AtRisk", "Blocked", "Billable"]


def test_blocked_why_is_the_blocking_reason() -> None:
    blocked = patient("B", S.BLOCKED, 25, 15, blocking_reasons=(NO_CONSENT, "no care plan"))
    assert why_of(blocked)[:2] == (NO_CONSENT, "no care plan")
    assert not any("min to" in line for line in why_of(blocked))


def test_blocking_reasons_block_whatever_the_status_says() -> None:
    odd = patient("Odd", S.ON_TRACK, blocking_reasons=(NO_CONSENT,))
    assert tier_of(odd) == Tier.BLOCKED
    assert why_of(patient("Bare", S.BLOCKED))[0] == "cannot be billed this month"


def test_month_over_without_a_code_is_missed() -> None:
    missed = patient("M", S.MISSED, 13, 7, days_left=0)
    assert tier_of(missed) == Tier.MISSED
    assert why_of(missed)[0] == "month over, 7 min short of 99490"
    assert urgency_of(missed) == 0


# --- pace pressure and tasks --------------------------------------------------------------


def test_rank_by_minutes_needed_per_day_left() -> None:
    items = [patient("Relaxed", to_next=7, days_left=8),     # 0.875 / day
             patient("Tight", to_next=20, days_left=2),      # 10 / day
             patient("Middle", to_next=12, days_left=4)]     # 3 / day
    assert order(items) == ["Tight", "Middle", "Relaxed"]


def test_urgency_is_pace_plus_task_weights() -> None:
    item = patient("U", to_next=16, days_left=8, overdue_tasks=2, tasks_due_today=1)
    assert urgency_of(item) == pytest.approx(2 + 2 * OVERDUE_TASK_WEIGHT + DUE_TODAY_WEIGHT)


def test_overdue_task_raises_urgency() -> None:
    items = [patient("Plain", to_next=20, days_left=8),                    # 2.5
             patient("Overdue", to_next=7, days_left=8, overdue_tasks=1)]  # 0.875 + 2
    assert order(items) == ["Overdue", "Plain"]


def test_overdue_tasks_order_the_blocked_and_billable_groups() -> None:
    blocked = [patient("B1", S.BLOCKED, blocking_reasons=(NO_CONSENT,)),
               patient("B2", S.BLOCKED, blocking_reasons=(NO_CONSENT,), overdue_tasks=1)]
    assert order(blocked) == ["B2", "B1"]
    done = [patient("D1", S.BILLABLE, 60, None), patient("D2", S.BILLABLE, 60, None,
                                                         tasks_due_today=1)]
    assert order(done) == ["D2", "D1"]


def test_billable_patient_near_an_add_on_leads_the_done_group() -> None:
    items = [patient("Capped", S.BILLABLE, 65, None),
             patient("NearAddOn", S.BILLABLE, 36, 4, next_code="99439")]
    assert order(items) == ["NearAddOn", "Capped"]
    assert why_of(items[1]) == ("billable this month", "4 min to 99439 with 8 days left",
                                "no contact yet this month")


def test_billable_goes_after_everyone_even_with_overdue_tasks() -> None:
    items = [patient("Done", S.BILLABLE, 30, 10, overdue_tasks=5),
             patient("Needs", S.ON_TRACK, 19, 1, days_left=30)]
    assert order(items) == ["Needs", "Done"]


def test_zero_days_left_never_divides_by_zero() -> None:
    item = patient("Z", S.AT_RISK, 3, 17, days_left=0)
    assert urgency_of(item) == 0
    assert tier_of(item) == Tier.MISSED


# --- ties ---------------------------------------------------------------------------------


def test_ties_go_to_uncontacted_then_name_then_id() -> None:
    items = [patient("Bea", contacted_this_month=True, patient_id="1"),
             patient("Cal", patient_id="2"),
             patient("abe", patient_id="3"),
             patient("Abe", patient_id="4"),
             patient("Abe", patient_id="0")]
    ranked = rank_worklist(items)
    assert [(r.item.name, r.item.patient_id) for r in ranked] == [
        ("Abe", "0"), ("Abe", "4"), ("abe", "3"), ("Cal", "2"), ("Bea", "1")]


def test_rank_is_independent_of_input_order() -> None:
    rng = random.Random(7)
    statuses = list(S)
    items = [patient(f"P{i % 5}", rng.choice(statuses), rng.randrange(70),
                     rng.choice([None, *range(1, 21)]), rng.randrange(0, 31),
                     patient_id=f"{i:03d}", overdue_tasks=rng.randrange(3),
                     tasks_due_today=rng.randrange(2),
                     contacted_this_month=rng.random() < 0.5,
                     recent_discharge=rng.choice([None, date(2026, 11, 15)]),
                     contacted_since_discharge=rng.random() < 0.5)
             for i in range(40)]
    expected = [(r.item.patient_id, r.rank) for r in rank_worklist(items)]
    for _ in range(5):
        rng.shuffle(items)
        assert [(r.item.patient_id, r.rank) for r in rank_worklist(items)] == expected


def test_rank_of_an_empty_caseload() -> None:
    assert rank_worklist([]) == []


# --- words --------------------------------------------------------------------------------


def test_why_reads_like_the_contract() -> None:
    item = patient("Rosa", S.AT_RISK, 13, 7, days_left=8, overdue_tasks=1,
                   contacted_this_month=True)
    assert why_of(item) == ("7 min to 99490 with 8 days left", "1 overdue task")


def test_why_plurals_and_singulars() -> None:
    item = patient("P", S.AT_RISK, 0, 20, days_left=1, overdue_tasks=2, tasks_due_today=1)
    assert why_of(item) == ("20 min to 99490 with 1 day left", "2 overdue tasks",
                            "1 task due today", "no contact yet this month")
    two_due = patient("Q", tasks_due_today=2, contacted_this_month=True)
    assert why_of(two_due)[-1] == "2 tasks due today"


def test_why_of_a_capped_month() -> None:
    assert why_of(patient("C", S.BILLABLE, 64, None, contacted_this_month=True)) == (
        "billable this month",)
    assert why_of(patient("M", S.MISSED, 0, None, days_left=0, contacted_this_month=True)) == (
        "month over",)


def test_ranked_rows_carry_their_why() -> None:
    items = [patient("A", recent_discharge=date(2026, 11, 12), overdue_tasks=1)]
    (ranked,) = rank_worklist(items)
    assert ranked.why == why_of(items[0])
    assert ranked.why[:3] == ("discharged 2026-11-12, no call since",
                              "20 min to 99490 with 8 days left", "1 overdue task")


# --- filters ------------------------------------------------------------------------------

MIXED = [
    patient("Needs", S.AT_RISK, 5, 15, overdue_tasks=1),
    patient("OnTrack", S.ON_TRACK, 12, 8),
    patient("Blocked", S.BLOCKED, blocking_reasons=(NO_CONSENT,), tasks_due_today=1),
    patient("Missed", S.MISSED, 3, 17, days_left=0),
    patient("Done", S.BILLABLE, 22, 18, next_code="99439"),
    patient("Transition", S.BILLABLE, 40, 20, next_code="99439",
            recent_discharge=date(2026, 11, 20)),
]


@pytest.mark.parametrize(("which", "names"), [
    (WorklistFilter.ALL, {"Needs", "OnTrack", "Blocked", "Missed", "Done", "Transition"}),
    (WorklistFilter.NEEDS_MINUTES, {"Needs", "OnTrack", "Missed"}),
    (WorklistFilter.TASKS_DUE, {"Needs", "Blocked"}),
    (WorklistFilter.DONE, {"Done", "Transition"}),
])
def test_filter_worklist(which: WorklistFilter, names: set[str]) -> None:
    ranked = rank_worklist(MIXED)
    kept = filter_worklist(ranked, which)
    assert {r.item.name for r in kept} == names
    assert kept == [r for r in ranked if r in kept]  # order and ranks are the full list's


def test_filter_accepts_the_query_words() -> None:
    ranked = rank_worklist(MIXED)
    assert filter_worklist(ranked, "done") == filter_worklist(ranked, WorklistFilter.DONE)
    with pytest.raises(ValueError):
        filter_worklist(ranked, "everyone")


def test_filters_partition_by_status() -> None:
    """needs_minutes and done never overlap, and with blocked they cover everyone."""
    ranked = rank_worklist(MIXED)
    needs = {r.item.name for r in filter_worklist(ranked, "needs_minutes")}
    done = {r.item.name for r in filter_worklist(ranked, "done")}
    blocked = {r.item.name for r in ranked if r.item.blocked}
    assert not needs & done and not needs & blocked and not done & blocked
    assert needs | done | blocked == {r.item.name for r in ranked}


def test_every_pair_is_ordered_consistently() -> None:
    """The order is a total order: for every pair, the pair alone ranks the same way."""
    full = [r.item.patient_id for r in rank_worklist(MIXED)]
    for a, b in itertools.combinations(MIXED, 2):
        pair = [r.item.patient_id for r in rank_worklist([b, a])]
        assert pair == [pid for pid in full if pid in {a.patient_id, b.patient_id}]


def test_inputs_are_not_changed() -> None:
    before = [dataclasses.asdict(i) for i in MIXED]
    rank_worklist(MIXED)
    assert [dataclasses.asdict(i) for i in MIXED] == before
