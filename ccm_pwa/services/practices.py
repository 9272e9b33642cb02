"""Create and find practices."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from ccm_pwa.models import Organisation, Practice


class PracticeError(ValueError):
    """A practice cannot be created or chosen as asked."""


def create_practice(
    *,
    session: Session,
    name: str,
    timezone: str,
    fee_year: int = 2026,
    practice_id: uuid.UUID | None = None,
    organisation: str | None = None,
    organisation_id: uuid.UUID | None = None,
) -> Practice:
    """A new practice in the organisation named (created if there is none of that name), or
    in an organisation of its own: a practice never joins another's organisation unasked,
    since staff of one organisation can be given roles in all of its practices.
    `organisation_id` is the id of that organisation of its own (the demo's is derived)."""
    name = name.strip()
    if not name:
        raise PracticeError("practice name must not be empty")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PracticeError(f"unknown time zone {timezone!r} (use an IANA name)") from exc
    if session.exec(select(Practice).where(Practice.name == name)).first() is not None:
        raise PracticeError(f"a practice named {name!r} already exists")
    owner = (_organisation(session, organisation.strip()) if organisation and organisation.strip()
             else Organisation(id=organisation_id or uuid.uuid4(), name=name))
    session.add(owner)
    session.flush()
    practice = Practice(id=practice_id or uuid.uuid4(), name=name, timezone=timezone,
                        fee_year=fee_year, organisation_id=owner.id)
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


def _organisation(session: Session, name: str) -> Organisation:
    found = session.exec(select(Organisation).where(Organisation.name == name)).first()
    return found or Organisation(name=name)
