"""Who to call first today: the worklist ranking and its filters, as pure functions.

The rule (field notes §3.6, "pacing worklist"), tier by tier:

1. **Transition follow-up.** A patient discharged in the last 14 days who has had no call
   since (phone call with the patient or caregiver, or a transition follow-up) comes first,
   longest-waiting discharge first: a missed post-discharge call is a clinical risk and a
   CMS care-transition requirement, whatever the minutes.
2. **Needs minutes** (status `at_risk` or `on_track`): ordered by *urgency*, the pace
   pressure (minutes still needed for the next code ÷ days left, today included) plus
   `OVERDUE_TASK_WEIGHT` per overdue task and `DUE_TODAY_WEIGHT` per task due today. So
   "20 min with 2 days left" outranks "7 min with 8 days left", and an overdue task lifts
   a patient about as much as needing 2 more minutes a day.
3. **Blocked** (no consent, too few chronic conditions, no care plan, …): no minutes help,
   but someone can fix it; the blocking reasons are the `why`. Ordered by task urgency.
4. **Missed**: the month is over and no code was reached; nothing left to do this month.
5. **Billable** (done for the month; only add-ons left, or nothing): last, ordered by the
   same urgency so a patient a few minutes from an add-on leads the group.

Within a tier, ties go to the patient not yet contacted this month, then to the name
(case-insensitive), then to the id, so the order never depends on database order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import IntEnum, StrEnum

from ccm_pwa.domain.progress import ProgressStatus

# Urgency added per task, in "minutes needed per remaining day".
OVERDUE_TASK_WEIGHT = 2.0
DUE_TODAY_WEIGHT = 1.0
# A discharge older than this no longer puts a patient at the top.
TRANSITION_WINDOW_DAYS = 14


class Tier(IntEnum):
    """The worklist's groups, in display order."""

    TRANSITION = 0
    NEEDS_MINUTES = 1
    BLOCKED = 2
    MISSED = 3
    BILLABLE = 4


class WorklistFilter(StrEnum):
    ALL = "all"
    NEEDS_MINUTES = "needs_minutes"
    TASKS_DUE = "tasks_due"
    DONE = "done"


@dataclass(frozen=True)
class WorklistInput:
    """One patient's month as the ranking sees it (built from the billing evaluation)."""

    patient_id: str
    name: str
    status: ProgressStatus
    minutes: int
    next_code: str | None
    minutes_to_next: int | None
    days_left: int
    days_in_month: int
    overdue_tasks: int = 0
    tasks_due_today: int = 0
    recent_discharge: date | None = None  # within TRANSITION_WINDOW_DAYS of today
    contacted_since_discharge: bool = False
    contacted_this_month: bool = False
    blocking_reasons: tuple[str, ...] = ()

    @property
    def blocked(self) -> bool:
        return self.status == ProgressStatus.BLOCKED or bool(self.blocking_reasons)

    @property
    def awaits_transition_call(self) -> bool:
        return self.recent_discharge is not None and not self.contacted_since_discharge


@dataclass(frozen=True)
class RankedPatient:
    item: WorklistInput
    rank: int  # 1 = call first
    tier: Tier
    urgency: float
    why: tuple[str, ...]


def rank_worklist(items: Iterable[WorklistInput]) -> list[RankedPatient]:
    """The patients in the order to work them, each with its rank and reasons in words."""
    scored = [(tier_of(item), urgency_of(item), item) for item in items]
    scored.sort(key=lambda s: _sort_key(*s))
    return [RankedPatient(item, rank, tier, urgency, why_of(item))
            for rank, (tier, urgency, item) in enumerate(scored, start=1)]


def filter_worklist(ranked: Iterable[RankedPatient],
                    which: WorklistFilter | str) -> list[RankedPatient]:
    """The worklist's chips; ranks stay those of the full list, so "3rd" means the same."""
    which = WorklistFilter(which)
    if which == WorklistFilter.ALL:
        return list(ranked)
    if which == WorklistFilter.NEEDS_MINUTES:
        return [r for r in ranked if r.item.status not in
                (ProgressStatus.BILLABLE, ProgressStatus.BLOCKED) and not r.item.blocked]
    if which == WorklistFilter.TASKS_DUE:
        return [r for r in ranked if r.item.overdue_tasks or r.item.tasks_due_today]
    return [r for r in ranked if r.item.status == ProgressStatus.BILLABLE]


def tier_of(item: WorklistInput) -> Tier:
    if item.awaits_transition_call:
        return Tier.TRANSITION
    if item.blocked:
        return Tier.BLOCKED
    if item.status == ProgressStatus.BILLABLE:
        return Tier.BILLABLE
    if item.status == ProgressStatus.MISSED or item.days_left <= 0:
        return Tier.MISSED
    return Tier.NEEDS_MINUTES


def urgency_of(item: WorklistInput) -> float:
    """Minutes still needed per remaining day, plus the weight of overdue and due tasks."""
    tasks = OVERDUE_TASK_WEIGHT * item.overdue_tasks + DUE_TODAY_WEIGHT * item.tasks_due_today
    if item.blocked or item.days_left <= 0 or item.minutes_to_next is None:
        return tasks
    return item.minutes_to_next / item.days_left + tasks


def why_of(item: WorklistInput) -> tuple[str, ...]:
    """Short reasons, most important first, as the care manager would say them."""
    why: list[str] = []
    if item.awaits_transition_call:
        assert item.recent_discharge is not None
        why.append(f"discharged {item.recent_discharge.isoformat()}, no call since")
    if item.blocked:
        why.extend(item.blocking_reasons or ("cannot be billed this month",))
    elif item.status == ProgressStatus.BILLABLE:
        why.append("billable this month")
        why.extend(_minutes_line(item))
    elif item.status == ProgressStatus.MISSED or item.days_left <= 0:
        why.append(f"month over, {item.minutes_to_next} min short of {item.next_code}"
                   if item.next_code and item.minutes_to_next else "month over")
    else:
        why.extend(_minutes_line(item))
    if item.overdue_tasks:
        why.append(_count(item.overdue_tasks, "overdue task"))
    if item.tasks_due_today:
        why.append(_count(item.tasks_due_today, "task") + " due today")
    if not item.contacted_this_month:
        why.append("no contact yet this month")
    return tuple(why)


def _minutes_line(item: WorklistInput) -> list[str]:
    if not item.next_code or item.minutes_to_next is None or item.days_left <= 0:
        return []
    return [f"{item.minutes_to_next} min to {item.next_code} with "
            f"{_count(item.days_left, 'day')} left"]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _sort_key(tier: Tier, urgency: float, item: WorklistInput) -> tuple[object, ...]:
    waiting_since = (item.recent_discharge.toordinal()
                     if tier == Tier.TRANSITION and item.recent_discharge else 0)
    return (tier, waiting_since, -urgency, item.contacted_this_month, item.name.casefold(),
            item.name, item.patient_id)
