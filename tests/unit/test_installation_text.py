"""The words the Users and Account screens use for a phone: its name, last contact, erase."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ccm_pwa.domain.installation_text import device_name, erase_status, local_time, since

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)


def test_a_phone_without_a_label_is_named_by_its_install_date() -> None:
    assert device_name("Pixel 7", date(2026, 3, 2)) == "Pixel 7"
    assert device_name("  Pixel\n 7 ", date(2026, 3, 2)) == "Pixel 7"
    assert device_name("", date(2026, 3, 2)) == "Phone (installed Mar 2, 2026)"
    assert device_name("   ", date(2026, 12, 25)) == "Phone (installed Dec 25, 2026)"


@pytest.mark.parametrize(("ago", "text"), [
    (timedelta(seconds=-30), "just now"),  # a clock a little ahead of ours
    (timedelta(seconds=59), "just now"),
    (timedelta(minutes=1), "1 min ago"),
    (timedelta(minutes=59, seconds=59), "59 min ago"),
    (timedelta(hours=2, minutes=40), "2 h ago"),
    (timedelta(hours=47), "47 h ago"),
    (timedelta(days=2), "2 days ago"),
    (timedelta(days=90, hours=5), "90 days ago"),
])
def test_last_contact_is_coarse(ago: timedelta, text: str) -> None:
    assert since(NOW, NOW - ago) == text


def test_times_are_in_the_practice_zone() -> None:
    assert local_time(datetime(2026, 12, 6, 2, 5, tzinfo=UTC), CHICAGO) == "Dec 5, 2026, 20:05"


def test_erase_status_says_the_newest_step() -> None:
    asked, done = NOW - timedelta(hours=3), NOW - timedelta(hours=1)
    assert erase_status(wipe_requested_at=None, wiped_at=None, revoked_at=None,
                        zone=CHICAGO) == ""
    assert erase_status(wipe_requested_at=None, wiped_at=None, revoked_at=asked,
                        zone=CHICAGO) == "Signed out Dec 5, 2026, 09:00"
    assert erase_status(wipe_requested_at=asked, wiped_at=None, revoked_at=asked,
                        zone=CHICAGO) == "Erase requested Dec 5, 2026, 09:00"
    assert erase_status(wipe_requested_at=asked, wiped_at=done, revoked_at=asked,
                        zone=CHICAGO) == "Erased Dec 5, 2026, 11:00"
