"""How a phone installation reads on the Users and Account screens: its name, its last
contact, where its remote erase stands.

Plain text from plain values, so the screens (ui/pages/admin_users.py, ui/pages/account.py)
and their tests agree on every word without a database.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo


def device_name(label: str, installed_on: date) -> str:
    """The phone's own label, or when it was installed: the phone sends no label today, and
    the install date is what a care manager can match to "the phone I set up in March"."""
    label = " ".join(label.split())
    return label or f"Phone (installed {short_date(installed_on)})"


def short_date(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def local_time(instant: datetime, zone: tzinfo) -> str:
    """In the practice's zone, the one every other screen speaks."""
    local = instant.astimezone(zone)
    return f"{short_date(local.date())}, {local:%H:%M}"


def since(now: datetime, then: datetime) -> str:
    """Rounded down, coarse on purpose: "last contact 2 h ago" is what decides whether a
    phone is in use, not the minute."""
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def erase_status(*, wipe_requested_at: datetime | None, wiped_at: datetime | None,
                 revoked_at: datetime | None, zone: tzinfo) -> str:
    """Empty while the phone is in use; otherwise the newest thing that happened to it."""
    if wiped_at is not None:
        return f"Erased {local_time(wiped_at, zone)}"
    if wipe_requested_at is not None:
        return f"Erase requested {local_time(wipe_requested_at, zone)}"
    if revoked_at is not None:
        return f"Signed out {local_time(revoked_at, zone)}"
    return ""
