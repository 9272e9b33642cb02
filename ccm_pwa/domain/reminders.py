"""Which push reminders are due for one person right now: a pure policy, no I/O.

A reminder is a *hint* to open the app (checklist B20): it carries counts and days only,
never a name, MRN or condition, because the push service is a third party (B15). Details
load from the worklist after sign-in. The policy, per care manager, in practice time:

- **Daily digest** (weekdays, from `digest_time`, default 09:00): "4 patients need minutes —
  18 days left", only when someone is under threshold. In the last `escalation_days` days
  of the month it escalates: urgency high, "… — 6 days left this month".
- **Follow-up nudge** (weekdays, from `follow_up_time`, default 13:00): "2 follow-up calls are
  due today" while open follow-ups are due today; it comes after the morning, when the worklist
  has already been seen and a nudge means "still open".
- **Team digest** for a supervisor (Mondays, from `digest_time`): "Team: 12 patients under
  threshold, 3 at risk — 6 days left".
- Nothing is sent in quiet hours (default 20:00–08:00); a reminder whose time fell in them
  goes out when they end, the same day. Never more than `max_per_day` a day per person.
- Patients not enrolled or without consent never count.

Each reminder's `key` (kind, user, local date) is what makes it exactly-once: the scheduler
records it before sending. It is due on every run of the day after its time, so a server
that was down at 09:00 still sends at 09:05; the key stops the repeats. `ttl` lasts until
the reminder stops being useful: the start of quiet hours or the end of the local day,
whichever comes first, so an offline phone never lights up at night with a stale count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from ccm_pwa.domain.calendar import YearMonth, start_of_local_day
from ccm_pwa.domain.progress import ProgressStatus

WORKLIST_NEEDS_MINUTES = "/?filter=needs_minutes"
WORKLIST_TASKS_DUE = "/?filter=tasks_due"
MONDAY = 0
# Statuses where more minutes this month still change the claim (the worklist's
# "needs minutes" chip shows exactly these, so the count in the push matches the list).
NEEDS_MINUTES = frozenset({ProgressStatus.AT_RISK, ProgressStatus.ON_TRACK})


class ReminderKind(StrEnum):
    DAILY_DIGEST = "daily_digest"
    FOLLOW_UP_DUE = "follow_up_due"
    TEAM_DIGEST = "team_digest"


class Urgency(StrEnum):
    """RFC 8030 §5.3 values; a phone in battery saver may hold back all but high."""

    VERY_LOW = "very-low"
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


@dataclass(frozen=True)
class ReminderSettings:
    """The policy's knobs; the defaults are the ones docs/push.md describes."""

    digest_time: time = time(9, 0)
    follow_up_time: time = time(13, 0)
    weekdays_only: bool = True
    quiet_start: time = time(20, 0)  # equal start and end: no quiet hours
    quiet_end: time = time(8, 0)
    max_per_day: int = 3
    escalation_days: int = 7
    team_digest_weekday: int = MONDAY


@dataclass(frozen=True)
class PatientSnapshot:
    """One patient's month as the policy sees it; no identity, on purpose."""

    enrolled: bool
    consented: bool
    status: ProgressStatus
    minutes: int = 0
    next_threshold_minutes: int | None = None
    follow_ups_due_today: int = 0

    @property
    def counts(self) -> bool:
        return self.enrolled and self.consented

    @property
    def needs_minutes(self) -> bool:
        return self.counts and self.status in NEEDS_MINUTES


@dataclass(frozen=True)
class Recipient:
    """A person who may get reminders, with what the policy needs to decide."""

    user_id: str
    patients: tuple[PatientSnapshot, ...] = ()  # the caseload they care-manage
    supervises: bool = False
    team_patients: tuple[PatientSnapshot, ...] = ()  # every patient of their team
    sent_today: frozenset[str] = frozenset()  # reminder keys already delivered today
    # A managed-team member's reminders from a practice other than her own: that practice
    # (an id, in the key and topic; its name, at the start of the body), so one practice's
    # digest neither stands in for another's nor leaves her guessing which it is about.
    practice_id: str = ""
    practice_name: str = ""


@dataclass(frozen=True)
class Reminder:
    """What the sender needs; `title`, `body` and `url` are all the phone is ever sent."""

    key: str
    user_id: str
    kind: ReminderKind
    title: str
    body: str
    url: str
    ttl_seconds: int
    urgency: Urgency
    topic: str


def due_reminders(recipient: Recipient, *, now: datetime, zone: ZoneInfo,
                  settings: ReminderSettings | None = None) -> list[Reminder]:
    """The reminders due for `recipient` at `now` and not yet sent today, oldest time first."""
    settings = settings or ReminderSettings()
    local = now.astimezone(zone)
    today = local.date()
    if in_quiet_hours(local.time(), settings):
        return []
    weekday = today.weekday() < 5
    days_left = YearMonth.of(today).days - today.day + 1
    ttl = _ttl_seconds(now, today, zone, settings)
    candidates: list[tuple[time, Reminder]] = []
    if weekday or not settings.weekdays_only:
        candidates.append((settings.digest_time,
                           _digest(recipient, today, days_left, ttl, settings)))
        candidates.append((settings.follow_up_time, _follow_up(recipient, today, ttl)))
    if recipient.supervises and today.weekday() == settings.team_digest_weekday:
        candidates.append((settings.digest_time, _team(recipient, today, days_left, ttl)))
    due = [(at, r) for at, r in candidates if r is not None and local.time() >= at]
    budget = settings.max_per_day - len(recipient.sent_today)
    fresh = [r for _at, r in sorted(due, key=lambda pair: pair[0])
             if r.key not in recipient.sent_today]
    return fresh[: max(budget, 0)]


def in_quiet_hours(moment: time, settings: ReminderSettings) -> bool:
    """Quiet hours may wrap midnight (20:00–08:00) or not (12:00–13:00)."""
    start, end = settings.quiet_start, settings.quiet_end
    if start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def reminder_key(kind: ReminderKind, user_id: str, day: date, practice_id: str = "") -> str:
    """Exactly-once per kind, person, local day, and practice when it is not her own."""
    scope = f":{practice_id}" if practice_id else ""
    return f"{kind}:{user_id}{scope}:{day.isoformat()}"


def _ttl_seconds(now: datetime, today: date, zone: ZoneInfo, settings: ReminderSettings) -> int:
    """Seconds until the local day ends or quiet hours begin (DST-safe: real instants)."""
    end = start_of_local_day(today + timedelta(days=1), zone)
    if settings.quiet_start != settings.quiet_end and settings.quiet_start > time(0):
        quiet = datetime.combine(today, settings.quiet_start, tzinfo=zone)
        if now < quiet < end:
            end = quiet
    return max(60, int((end - now).total_seconds()))


def _digest(recipient: Recipient, today: date, days_left: int, ttl: int,
            settings: ReminderSettings) -> Reminder | None:
    needing = sum(p.needs_minutes for p in recipient.patients)
    if not needing:
        return None
    escalated = days_left <= settings.escalation_days
    left = _count(days_left, "day") + (" left this month" if escalated else " left")
    return _reminder(ReminderKind.DAILY_DIGEST, recipient, today, ttl,
                     title="Month end is near" if escalated else "Minutes this month",
                     body=f"{_patients(needing)} {'needs' if needing == 1 else 'need'} "
                          f"minutes — {left}",
                     url=WORKLIST_NEEDS_MINUTES,
                     urgency=Urgency.HIGH if escalated else Urgency.NORMAL)


def _follow_up(recipient: Recipient, today: date, ttl: int) -> Reminder | None:
    due = sum(p.follow_ups_due_today for p in recipient.patients if p.counts)
    if not due:
        return None
    verb = "is" if due == 1 else "are"
    return _reminder(ReminderKind.FOLLOW_UP_DUE, recipient, today, ttl,
                     title="Follow-ups today",
                     body=f"{_count(due, 'follow-up call')} {verb} due today",
                     url=WORKLIST_TASKS_DUE, urgency=Urgency.HIGH)


def _team(recipient: Recipient, today: date, days_left: int, ttl: int) -> Reminder | None:
    under = [p for p in recipient.team_patients if p.needs_minutes]
    if not under:
        return None
    at_risk = sum(p.status == ProgressStatus.AT_RISK for p in under)
    return _reminder(ReminderKind.TEAM_DIGEST, recipient, today, ttl,
                     title="Team this week",
                     body=f"Team: {_patients(len(under))} under threshold, {at_risk} at risk "
                          f"— {_count(days_left, 'day')} left",
                     url=WORKLIST_NEEDS_MINUTES, urgency=Urgency.NORMAL)


def _reminder(kind: ReminderKind, recipient: Recipient, today: date, ttl: int, *, title: str,
              body: str, url: str, urgency: Urgency) -> Reminder:
    if recipient.practice_id:
        body = f"{recipient.practice_name}: {body}"
    # Web Push topics replace a waiting message of the same topic: one per practice.
    topic = f"{kind}-{recipient.practice_id[:8]}" if recipient.practice_id else str(kind)
    return Reminder(key=reminder_key(kind, recipient.user_id, today, recipient.practice_id),
                    user_id=recipient.user_id, kind=kind, title=title, body=body, url=url,
                    ttl_seconds=ttl, urgency=urgency, topic=topic)


def _patients(n: int) -> str:
    return _count(n, "patient")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

