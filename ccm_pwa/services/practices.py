"""Create and find practices."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from ccm_pwa.models import Practice


class PracticeError(ValueError):
    """A practice cannot be created or chosen as asked."""


def create_practice(
    *,
    session: Session,
    name: str,
    timezone: str,
    fee_year: int = 2026,
    practice_id: uuid.UUID | None = None,
) -> Practice:
    name = name.strip()
    if not name:
        raise PracticeError("practice name must not be empty")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PracticeError(f"unknown time zone {timezone!r} (use an IANA name)") from exc
    practice = Practice(id=practice_id or uuid.uuid4(), name=name, timezone=timezone,
                        fee_year=fee_year)
    session.add(practice)
    session.flush()
    return practice


def choose_practice(*, session: Session, name: str | None = None) -> Practice:
    """The practice named, or the only one there is; never a guess between several."""
    practices = list(session.exec(select(Practice)))
    if name is not None:
        matches = [p for p in practices if p.name == name]
        if not matches:
            raise PracticeError(f"no practice named {name!r}")
        return matches[0]
    if not practices:
        raise PracticeError("no practice yet: run `ccm-pwa practice add` or `ccm-pwa demo`")
    if len(practices) > 1:
        raise PracticeError("several practices exist: say which with --practice")
    return practices[0]
