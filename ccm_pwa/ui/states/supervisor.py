"""Shared by the supervisor screens: who may see them, in which practice, and the month.

Someone who supervises (or administers) several practices of her organisation sees one
practice at a time on these screens; the practice picker (`?practice=<id>` on any of
them) chooses it, and the choice holds for the other screens until she picks another.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ccm_pwa.auth.access import AccessDenied, acting_in, overseen_practices
from ccm_pwa.db import session_scope
from ccm_pwa.domain.calendar import YearMonth, local_date
from ccm_pwa.models import Practice, User
from ccm_pwa.ui.states.auth import AuthState


class SupervisorState(AuthState):
    """Base of every supervisor screen's state: every handler starts with `_overseer()`."""

    # [[practice id, name], ...] where she oversees, for the picker (shown with two or more)
    practices: list[list[str]] = []
    practice_name: str = ""
    # "?practice=<id>" for the API links (CSV, packets) when she oversees several, else ""
    practice_query: str = ""
    _practice_id: str = ""

    def _overseer(self) -> tuple[User, Practice]:
        """She as she acts in the chosen practice (`access.acting_in`), and the practice;
        AccessDenied (audited) where she is nobody's supervisor or admin."""
        user = self._require_user()
        asked = self.router.url.query_parameters.get("practice")
        if isinstance(asked, str) and asked:
            self._practice_id = asked
        with session_scope() as session:
            overseen = overseen_practices(session=session, user=user)
            if not overseen:
                self._record_denial(user, None, "role")
                raise AccessDenied
            chosen = next((p for p in overseen if str(p) == self._practice_id), overseen[0])
            acting = acting_in(session=session, user=user, practice_id=chosen)
            names = dict(session.execute(sa.select(Practice.id, Practice.name).where(
                Practice.id.in_(overseen))).all())
            practice = session.get(Practice, chosen)
            assert practice is not None
            session.expunge(practice)
        self._practice_id = str(chosen)
        self.practices = [[str(p), names[p]] for p in overseen] if len(overseen) > 1 else []
        self.practice_name = practice.name
        self.practice_query = f"?practice={chosen}" if self.practices else ""
        return acting, practice


def this_month(practice: Practice, now: datetime | None = None) -> YearMonth:
    return YearMonth.of(local_date(now or datetime.now(UTC), ZoneInfo(practice.timezone)))


def parse_month(text: str, fallback: YearMonth) -> YearMonth:
    try:
        return YearMonth.parse(text) if text else fallback
    except ValueError:
        return fallback


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"
