"""Every practice she oversees, side by side: the managed team's supervisor (or an
organisation admin) sees each practice's month and the total on one screen (issue 17).

Each practice is read by the one-practice services, with her as she acts there
(`access.acting_in`), so the figures are exactly those of that practice's Team and Program
screens: a supervisor's are her team's there, an admin's the practice's. Nothing is
recomputed here; this module only adds them up, with O(practices) calls of
`team_today` and `program_month` (one `program_month` per team member for a supervisor).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from ccm_pwa.auth.access import AccessDenied, acting_in, overseen_practices
from ccm_pwa.domain.calendar import YearMonth, days_left_in_month, local_month
from ccm_pwa.models import Practice, Role, User
from ccm_pwa.services.program_month import ProgramMonth, program_month
from ccm_pwa.services.team_scope import team_members
from ccm_pwa.services.team_today import TeamRow, team_today


@dataclass(frozen=True)
class PracticeFigures:
    """One practice's month, or the total (`practice_id` None, `timezone` "").

    `month` is the practice's own: with no month asked for, each practice is in its own
    current month, so at a month boundary they differ and the total lists them all
    ("2026-11 / 2026-12"). `days_left` only for a practice's current month. The first six
    counts are `team_today`'s rows summed; `projected_*` are `program_month`'s.
    """

    practice_id: str | None
    practice: str
    timezone: str
    month: str
    days_left: int | None
    enrolled_patients: int
    billable_patients: int
    at_risk_patients: int
    blocked_patients: int
    countable_minutes: int
    expected_amount_cents: int
    projected_billable_patients: int
    projected_claim_lines: int
    projected_revenue_cents: int


@dataclass(frozen=True)
class CareManagerFigures:
    """One person's countable minutes (her patients' this month) in each practice where
    she is on the viewer's team there, by practice id, and in all of them. An admin's
    "Unassigned" row is nobody's, so it is in the practice figures only."""

    care_manager_id: str
    name: str
    minutes_by_practice: dict[str, int]
    total_minutes: int
    billable_patients: int


@dataclass(frozen=True)
class OrganisationMonth:
    practices: list[PracticeFigures]  # in `overseen_practices` order: her own first
    total: PracticeFigures
    care_managers: list[CareManagerFigures] = field(default_factory=list)  # by name


_SUMMED = ("enrolled_patients", "billable_patients", "at_risk_patients", "blocked_patients",
           "countable_minutes", "expected_amount_cents", "projected_billable_patients",
           "projected_claim_lines", "projected_revenue_cents")


def organisation_month(*, session: Session, viewer: User, month: YearMonth | None,
                       now: datetime) -> OrganisationMonth:
    """`month` None: each practice's own current month (they may differ near midnight).
    AccessDenied for someone who oversees no practice. Counts and sums only: no patient
    is named, so nothing here is a PHI read to audit per patient (the caller audits the
    read itself)."""
    overseen = overseen_practices(session=session, user=viewer)
    if not overseen:
        raise AccessDenied
    rows: list[PracticeFigures] = []
    people: dict[uuid.UUID, tuple[str, dict[str, int], list[int]]] = {}
    for practice_id in overseen:
        practice = session.get(Practice, practice_id)
        assert practice is not None
        acting = acting_in(session=session, user=viewer, practice_id=practice_id)
        zone = ZoneInfo(practice.timezone)
        current = local_month(now, zone)
        wanted = month or current
        team = team_today(session=session, viewer=acting, month=wanted, now=now)
        projected = _projected(session, acting, practice, wanted, now)
        rows.append(_practice_row(practice, str(wanted), team, projected,
                                  days_left_in_month(now, zone) if wanted == current else None))
        for row in team:
            if row.care_manager_id is None:  # the admin's "Unassigned" row is nobody's
                continue
            _name, minutes, billable = people.setdefault(
                uuid.UUID(row.care_manager_id), (row.name, {}, []))
            minutes[str(practice.id)] = row.countable_minutes
            billable.append(row.billable_patients)
    total = PracticeFigures(
        practice_id=None, practice="Total", timezone="",
        month=" / ".join(dict.fromkeys(r.month for r in rows)), days_left=None,
        **{name: sum(getattr(r, name) for r in rows) for name in _SUMMED})
    care_managers = sorted(
        (CareManagerFigures(str(person_id), name, minutes, sum(minutes.values()),
                            sum(billable))
         for person_id, (name, minutes, billable) in people.items()),
        key=lambda c: (c.name.lower(), c.care_manager_id))
    return OrganisationMonth(rows, total, care_managers)


def _practice_row(practice: Practice, month: str, team: list[TeamRow],
                  projected: list[ProgramMonth], days_left: int | None) -> PracticeFigures:
    return PracticeFigures(
        practice_id=str(practice.id), practice=practice.name, timezone=practice.timezone,
        month=month, days_left=days_left,
        enrolled_patients=sum(r.enrolled_patients for r in team),
        billable_patients=sum(r.billable_patients for r in team),
        at_risk_patients=sum(r.at_risk_patients for r in team),
        blocked_patients=sum(r.blocked_patients for r in team),
        countable_minutes=sum(r.countable_minutes for r in team),
        expected_amount_cents=sum(r.expected_amount_cents for r in team),
        projected_billable_patients=sum(p.projected_billable_patients for p in projected),
        projected_claim_lines=sum(p.projected_claim_lines for p in projected),
        projected_revenue_cents=sum(p.projected_revenue_cents for p in projected))


def _projected(session: Session, acting: User, practice: Practice, month: YearMonth,
               now: datetime) -> list[ProgramMonth]:
    """An admin's projection is the practice's; a supervisor's is her team members'
    caseloads only (the patients `team_today` counts for her): she gets no figure about
    patients she cannot see."""
    if acting.role == Role.ADMIN:
        return [program_month(session=session, practice=practice, month=month,
                              care_manager_id=None, now=now)]
    return [program_month(session=session, practice=practice, month=month,
                          care_manager_id=member.id, now=now)
            for member in team_members(session=session, viewer=acting)]
