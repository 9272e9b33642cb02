"""Shared by the supervisor screens: who may see them, and the month they look at."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ccm_pwa.db import session_scope
from ccm_pwa.domain.calendar import YearMonth, local_date
from ccm_pwa.models import Practice, Role, User
from ccm_pwa.ui.states.auth import AuthState

OVERSEERS = (Role.SUPERVISOR, Role.ADMIN)


class SupervisorState(AuthState):
    """Base of every supervisor screen's state: every handler starts with `_overseer()`."""

    def _overseer(self) -> tuple[User, Practice]:
        user = self._require_user(*OVERSEERS)
        with session_scope() as session:
            practice = session.get(Practice, user.practice_id)
            assert practice is not None
            session.expunge(practice)
        return user, practice


def this_month(practice: Practice, now: datetime | None = None) -> YearMonth:
    return YearMonth.of(local_date(now or datetime.now(UTC), ZoneInfo(practice.timezone)))


def parse_month(text: str, fallback: YearMonth) -> YearMonth:
    try:
        return YearMonth.parse(text) if text else fallback
    except ValueError:
        return fallback


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"
