"""The reminder policy (domain/reminders.py): when, what wording, how many, for whom."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from ccm_pwa.domain.progress import ProgressStatus
from ccm_pwa.domain.reminders import (
    PatientSnapshot,
    Recipient,
    ReminderKind,
    ReminderSettings,
    Urgency,
    due_reminders,
    in_quiet_hours,
    reminder_key,
)

CHICAGO = ZoneInfo("America/Chicago")
S = ProgressStatus


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 5, zone: ZoneInfo = CHICAGO) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=zone).astimezone(UTC)


def patient(status: ProgressStatus = S.AT_RISK, *, enrolled: bool = True, consented: bool = True,
            due: int = 0) -> PatientSnapshot:
    return PatientSnapshot(enrolled=enrolled, consented=consented, status=status, minutes=5,
                           next_threshold_minutes=20, follow_ups_due_today=due)


def cm(*patients: PatientSnapshot, sent: frozenset[str] = frozenset()) -> Recipient:
    return Recipient(user_id="u1", patients=patients, sent_today=sent)


def kinds(reminders: list) -> list[ReminderKind]:
    return [r.kind for r in reminders]


# Tuesday 2026-11-10: 21 days left in November, counting today.
TUESDAY = (2026, 11, 10)


def test_daily_digest_counts_patients_and_days_only() -> None:
    [digest] = due_reminders(cm(patient(), patient(S.ON_TRACK), patient(S.BILLABLE),
                                patient(S.AT_RISK), patient(S.AT_RISK)),
                             now=at(*TUESDAY), zone=CHICAGO)
    assert digest.kind == ReminderKind.DAILY_DIGEST
    assert digest.body == "4 patients need minutes — 21 days left"
    assert digest.title == "Minutes this month"
    assert digest.urgency == Urgency.NORMAL
    assert digest.url == "/?filter=needs_minutes"
    assert digest.key == "daily_digest:u1:2026-11-10"
    assert digest.topic == "daily_digest"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", digest.topic)


def test_one_patient_is_singular() -> None:
    [digest] = due_reminders(cm(patient()), now=at(*TUESDAY), zone=CHICAGO)
    assert digest.body == "1 patient needs minutes — 21 days left"


def test_no_digest_when_nobody_is_under_threshold() -> None:
    assert due_reminders(cm(patient(S.BILLABLE), patient(S.BLOCKED)), now=at(*TUESDAY),
                         zone=CHICAGO) == []
    assert due_reminders(cm(), now=at(*TUESDAY), zone=CHICAGO) == []


def test_unenrolled_and_unconsented_patients_never_count() -> None:
    recipient = cm(patient(enrolled=False, due=2), patient(consented=False, due=1),
                   patient(S.BLOCKED, consented=False))
    assert due_reminders(recipient, now=at(*TUESDAY, 14, 0), zone=CHICAGO) == []
    [digest] = due_reminders(cm(patient(), patient(enrolled=False)), now=at(*TUESDAY),
                             zone=CHICAGO)
    assert digest.body.startswith("1 patient needs")


def test_nothing_before_digest_time_and_due_all_day_after() -> None:
    recipient = cm(patient())
    assert due_reminders(recipient, now=at(*TUESDAY, 8, 59), zone=CHICAGO) == []
    assert kinds(due_reminders(recipient, now=at(*TUESDAY, 9, 0), zone=CHICAGO)) == [
        ReminderKind.DAILY_DIGEST]
    # the server was down at 09:00: the digest still goes out later that day
    assert kinds(due_reminders(recipient, now=at(*TUESDAY, 16, 30), zone=CHICAGO)) == [
        ReminderKind.DAILY_DIGEST]


def test_weekdays_only() -> None:
    recipient = cm(patient(due=1))
    for day in (14, 15):  # Saturday, Sunday
        assert due_reminders(recipient, now=at(2026, 11, day, 14, 0), zone=CHICAGO) == []
    weekend = ReminderSettings(weekdays_only=False)
    assert kinds(due_reminders(recipient, now=at(2026, 11, 14, 14, 0), zone=CHICAGO,
                               settings=weekend)) == [ReminderKind.DAILY_DIGEST,
                                                      ReminderKind.FOLLOW_UP_DUE]


@pytest.mark.parametrize(("hh", "mm", "quiet"), [(19, 59, False), (20, 0, True), (23, 30, True),
                                                 (0, 0, True), (7, 59, True), (8, 0, False)])
def test_quiet_hours_wrap_midnight(hh: int, mm: int, quiet: bool) -> None:
    assert in_quiet_hours(time(hh, mm), ReminderSettings()) is quiet


def test_quiet_hours_hold_back_everything() -> None:
    recipient = cm(patient(due=3))
    assert due_reminders(recipient, now=at(*TUESDAY, 20, 15), zone=CHICAGO) == []
    early = ReminderSettings(digest_time=time(6, 30))
    assert due_reminders(recipient, now=at(*TUESDAY, 7, 0), zone=CHICAGO, settings=early) == []
    # the early digest goes out when quiet hours end
    assert kinds(due_reminders(recipient, now=at(*TUESDAY, 8, 0), zone=CHICAGO,
                               settings=early)) == [ReminderKind.DAILY_DIGEST]


def test_quiet_hours_within_a_day_and_none() -> None:
    lunch = ReminderSettings(quiet_start=time(12, 0), quiet_end=time(13, 0))
    assert in_quiet_hours(time(12, 30), lunch) and not in_quiet_hours(time(13, 0), lunch)
    never = ReminderSettings(quiet_start=time(0), quiet_end=time(0))
    assert not any(in_quiet_hours(time(h), never) for h in range(24))


def test_follow_up_nudge_after_its_time_counts_only() -> None:
    recipient = cm(patient(S.BILLABLE, due=1))
    assert due_reminders(recipient, now=at(*TUESDAY, 12, 59), zone=CHICAGO) == []
    [nudge] = due_reminders(recipient, now=at(*TUESDAY, 13, 0), zone=CHICAGO)
    assert nudge.body == "1 follow-up call is due today"
    assert nudge.urgency == Urgency.HIGH
    assert nudge.url == "/?filter=tasks_due"
    assert nudge.topic == "follow_up_due"
    [nudge] = due_reminders(cm(patient(due=2), patient(due=1)), now=at(*TUESDAY, 13, 0),
                            zone=CHICAGO, settings=ReminderSettings(max_per_day=1,
                                                                    digest_time=time(14)))
    assert nudge.body == "3 follow-up calls are due today"


def test_already_sent_keys_are_not_repeated() -> None:
    sent = frozenset({reminder_key(ReminderKind.DAILY_DIGEST, "u1", date(2026, 11, 10))})
    assert kinds(due_reminders(cm(patient(due=1), sent=sent), now=at(*TUESDAY, 14, 0),
                               zone=CHICAGO)) == [ReminderKind.FOLLOW_UP_DUE]


def test_never_more_than_max_per_day() -> None:
    recipient = Recipient(user_id="u1", patients=(patient(due=1),), supervises=True,
                          team_patients=(patient(),))
    monday = at(2026, 11, 9, 14, 0)
    assert len(due_reminders(recipient, now=monday, zone=CHICAGO)) == 3
    two = ReminderSettings(max_per_day=2)
    first = due_reminders(recipient, now=monday, zone=CHICAGO, settings=two)
    assert kinds(first) == [ReminderKind.DAILY_DIGEST, ReminderKind.TEAM_DIGEST]
    spent = Recipient(**{**recipient.__dict__, "sent_today": frozenset(r.key for r in first)})
    assert due_reminders(spent, now=monday, zone=CHICAGO, settings=two) == []
    # keys sent today for other reasons (a test push is not a key) still spend the budget
    other = Recipient(**{**recipient.__dict__, "sent_today": frozenset({"a", "b", "c"})})
    assert due_reminders(other, now=monday, zone=CHICAGO) == []


@pytest.mark.parametrize(("day", "left", "escalated"), [
    (2, 29, False), (23, 8, False),  # November has 30 days; today counts as a day left
    (24, 7, True), (25, 6, True), (27, 4, True), (30, 1, True)])
def test_escalation_in_the_last_seven_days(day: int, left: int, escalated: bool) -> None:
    when = at(2026, 11, day, 9, 30)
    if when.astimezone(CHICAGO).weekday() >= 5:
        pytest.skip("weekend")
    [digest] = due_reminders(cm(patient()), now=when, zone=CHICAGO)
    assert escalated is (digest.urgency == Urgency.HIGH)
    if escalated:
        noun = "day" if left == 1 else "days"
        assert digest.body == f"1 patient needs minutes — {left} {noun} left this month"
        assert digest.title == "Month end is near"
    else:
        assert digest.body == f"1 patient needs minutes — {left} days left"


def test_escalation_window_boundary_exactly_seven() -> None:
    # November has 30 days: the 24th leaves 7 days counting today -> escalated
    [digest] = due_reminders(cm(patient()), now=at(2026, 11, 24), zone=CHICAGO)
    assert digest.body == "1 patient needs minutes — 7 days left this month"
    [digest] = due_reminders(cm(patient()), now=at(2026, 11, 23), zone=CHICAGO)
    assert digest.body == "1 patient needs minutes — 8 days left"
    assert digest.urgency == Urgency.NORMAL


def test_month_end_and_the_next_month_start_over() -> None:
    [last] = due_reminders(cm(patient()), now=at(2026, 12, 31), zone=CHICAGO)
    assert last.body == "1 patient needs minutes — 1 day left this month"
    assert last.key.endswith("2026-12-31")
    [first] = due_reminders(cm(patient()), now=at(2027, 1, 1), zone=CHICAGO)
    assert first.body == "1 patient needs minutes — 31 days left"
    assert first.urgency == Urgency.NORMAL and first.key.endswith("2027-01-01")
    # February of a leap year
    [feb] = due_reminders(cm(patient()), now=at(2028, 2, 28), zone=CHICAGO)
    assert feb.body == "1 patient needs minutes — 2 days left this month"


def test_local_date_not_utc_decides_the_day_and_month() -> None:
    # 2026-11-30 21:30 Chicago is already Dec 1 in UTC; quiet hours aside, the key is local
    late = ReminderSettings(quiet_start=time(0), quiet_end=time(0))
    [digest] = due_reminders(cm(patient()), now=at(2026, 11, 30, 21, 30), zone=CHICAGO,
                             settings=late)
    assert digest.key.endswith("2026-11-30") and "1 day left this month" in digest.body


def test_ttl_lasts_until_quiet_hours_or_end_of_day() -> None:
    [digest] = due_reminders(cm(patient()), now=at(*TUESDAY, 9, 0), zone=CHICAGO)
    assert digest.ttl_seconds == 11 * 3600  # until 20:00
    no_quiet = ReminderSettings(quiet_start=time(0), quiet_end=time(0))
    [digest] = due_reminders(cm(patient()), now=at(*TUESDAY, 9, 0), zone=CHICAGO,
                             settings=no_quiet)
    assert digest.ttl_seconds == 15 * 3600  # until midnight


def test_dst_days_use_real_instants() -> None:
    anytime = ReminderSettings(weekdays_only=False, quiet_start=time(0), quiet_end=time(0),
                               digest_time=time(0, 30))
    # 2026-11-01 (fall back): the day has 25 hours; 00:30 local leaves 24.5 h
    [digest] = due_reminders(cm(patient()), now=at(2026, 11, 1, 0, 30), zone=CHICAGO,
                             settings=anytime)
    assert digest.ttl_seconds == 24 * 3600 + 1800
    assert digest.key.endswith("2026-11-01")
    # 2026-03-08 (spring forward): 23 hours; 00:30 leaves 22.5 h
    [digest] = due_reminders(cm(patient()), now=at(2026, 3, 8, 0, 30), zone=CHICAGO,
                             settings=anytime)
    assert digest.ttl_seconds == 22 * 3600 + 1800
    # 09:00 local on the DST day is 14:00 UTC (CDT), not 15:00
    monday_after = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    assert kinds(due_reminders(cm(patient()), now=monday_after, zone=CHICAGO)) == [
        ReminderKind.DAILY_DIGEST]
    assert due_reminders(cm(patient()), now=datetime(2026, 3, 9, 13, 59, tzinfo=UTC),
                         zone=CHICAGO) == []


def test_supervisor_team_digest_on_monday_only() -> None:
    team = (patient(), patient(S.AT_RISK), patient(S.ON_TRACK), patient(S.BILLABLE),
            patient(consented=False))
    supervisor = Recipient(user_id="s1", supervises=True, team_patients=team)
    monday = at(2026, 11, 23, 9, 0)
    [digest] = due_reminders(supervisor, now=monday, zone=CHICAGO)
    assert digest.kind == ReminderKind.TEAM_DIGEST
    assert digest.body == "Team: 3 patients under threshold, 2 at risk — 8 days left"
    assert digest.key == "team_digest:s1:2026-11-23" and digest.topic == "team_digest"
    for day in (24, 25, 26, 27):
        assert due_reminders(supervisor, now=at(2026, 11, day, 9, 0), zone=CHICAGO) == []
    assert due_reminders(Recipient(user_id="s1", supervises=True,
                                   team_patients=(patient(S.BILLABLE),)),
                         now=monday, zone=CHICAGO) == []


def test_other_time_zones() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    # 09:00 in Tokyo on Tuesday 2026-11-10 is Monday 2026-11-09 in UTC
    [digest] = due_reminders(cm(patient()), now=datetime(2026, 11, 10, 0, 0, tzinfo=UTC),
                             zone=tokyo)
    assert digest.key.endswith("2026-11-10")


@pytest.mark.parametrize("hour", range(24))
def test_no_phi_shaped_text_at_any_hour(hour: int) -> None:
    recipient = Recipient(user_id="u1", patients=(patient(due=2),) * 3, supervises=True,
                          team_patients=(patient(),) * 5)
    anytime = ReminderSettings(weekdays_only=False, quiet_start=time(0), quiet_end=time(0),
                               digest_time=time(0), follow_up_time=time(0), max_per_day=9)
    for reminder in due_reminders(recipient, now=at(2026, 11, 9, hour, 0), zone=CHICAGO,
                                  settings=anytime):
        text = reminder.title + reminder.body + reminder.url
        assert re.fullmatch(r"[A-Za-z0-9 :—,./?=_-]+", text), text
        assert 60 <= reminder.ttl_seconds <= 25 * 3600
