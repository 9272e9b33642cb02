"""All practices side by side (issue 17 item 5, services/organisation_month.py): each
practice she oversees in its own month, the total, and minutes per care manager, on each
backend.

The world is test_practice_roles.World, with the managed team's supervisor: Lou supervises
Sam and Tess at Lakeside (Chicago) and, by a role there, Sam at Northside (New York) too.
Nora is Northside's own supervisor (Nick), Nadia its admin. All patients are ready to bill
but L4 (no conditions, no consent: blocked); L3 and N3 (unassigned) have no time. On
Tuesday 17 November Sam logs 25 minutes for L1 and 25 for N1, Tess 45 for L2, Nick 21 for
N2. Fees are 2026's: 99490 $66.13, 99439 $48.00 (domain/fee_schedule.py).
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.auth.sessions import create_session
from ccm_pwa.db import session_scope
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.models import AuditEvent, Role, User
from ccm_pwa.services.organisation_month import OrganisationMonth, organisation_month
from ccm_pwa.services.practice_roles import grant_role
from ccm_pwa.services.program_month import program_month
from ccm_pwa.services.sync_pull import pull
from ccm_pwa.services.users import create_user
from tests.db.test_practice_roles import NOW, World
from tests.db.test_sync_across_practices import _billable, _entry, _push

NOVEMBER = YearMonth(2026, 11)
TUESDAY = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
BOUNDARY = datetime(2026, 12, 1, 5, 30, tzinfo=UTC)  # Chicago 23:30 Nov 30, New York 00:30
AFTER = datetime(2026, 12, 10, 17, 0, tzinfo=UTC)  # November is over in both practices
CCM_20, CCM_ADD_ON = 6613, 4800  # cents, 2026: 99490, 99439


class Overseen(World):
    def __init__(self, session: Session) -> None:
        super().__init__(session)
        grant_role(session=session, user=self.lou, practice=self.northside,
                   role=Role.SUPERVISOR, granted_by=self.nadia, now=NOW)
        grant_role(session=session, user=self.sam, practice=self.northside,
                   role=Role.CARE_MANAGER, supervisor=self.lou, granted_by=self.nadia, now=NOW)
        self.tess = create_user(session=session, practice_id=self.lakeside.id,
                                email="tess@x.example", name="Tess", role=Role.CARE_MANAGER,
                                supervisor_id=self.lou.id).user
        session.flush()
        self.l2 = self.patient(session, "L2", self.lakeside, self.tess)
        self.l3 = self.patient(session, "L3", self.lakeside, self.tess)
        self.l4 = self.patient(session, "L4", self.lakeside, self.sam)
        self.n3 = self.patient(session, "N3", self.northside, None)
        session.flush()
        _billable(session, self.lakeside, (self.l1, self.l2, self.l3))
        _billable(session, self.northside, (self.n1, self.n2, self.n3))
        session.commit()
        for user, entries in ((self.sam, (_entry(self.l1, TUESDAY, 25),
                                          _entry(self.n1, TUESDAY.replace(hour=16), 25))),
                              (self.tess, (_entry(self.l2, TUESDAY, 45),)),
                              (self.nick, (_entry(self.n2, TUESDAY, 21),))):
            client = uuid.uuid4()
            pull(session=session, user=user, client_id=client, cursor=None, now=NOW)
            results = _push(session, user, client, NOW, *entries)
            assert {r["status"] for r in results} == {"applied"}
            session.commit()


@pytest.fixture
def world(session: Session) -> Overseen:
    return Overseen(session)


def _counts(figures: OrganisationMonth) -> dict[str, tuple[int, ...]]:
    """Per practice and the total: enrolled, billable, at risk, blocked, minutes, cents."""
    return {r.practice: (r.enrolled_patients, r.billable_patients, r.at_risk_patients,
                         r.blocked_patients, r.countable_minutes, r.expected_amount_cents)
            for r in (*figures.practices, figures.total)}


def _minutes(figures: OrganisationMonth, world: Overseen) -> dict[str, tuple]:
    names = {str(world.lakeside.id): "Lakeside", str(world.northside.id): "Northside"}
    return {c.name: ({names[p]: m for p, m in c.minutes_by_practice.items()},
                     c.total_minutes, c.billable_patients) for c in figures.care_managers}


def test_each_practice_and_the_total(session: Session, world: Overseen) -> None:
    figures = organisation_month(session=session, viewer=world.lou, month=NOVEMBER, now=NOW)
    assert [(r.practice_id, r.practice, r.timezone, r.month, r.days_left)
            for r in figures.practices] == [
        (str(world.lakeside.id), "Lakeside", "America/Chicago", "2026-11", 13),
        (str(world.northside.id), "Northside", "America/New_York", "2026-11", 13)]
    assert _counts(figures) == {
        # L1 25 min (99490), L2 45 min (99490 + 99439), L3 no time, L4 blocked
        "Lakeside": (4, 2, 1, 1, 70, 2 * CCM_20 + CCM_ADD_ON),
        # Sam's N1 only: Nick's N2 is Nora's team, N3 nobody's
        "Northside": (1, 1, 0, 0, 25, CCM_20),
        "Total": (5, 3, 1, 1, 95, 3 * CCM_20 + CCM_ADD_ON)}
    total = figures.total
    assert (total.practice_id, total.timezone, total.month, total.days_left) == (
        None, "", "2026-11", None)
    lakeside, northside = figures.practices
    assert (lakeside.projected_billable_patients, northside.projected_billable_patients) == (2, 1)
    for name in ("projected_billable_patients", "projected_claim_lines",
                 "projected_revenue_cents"):
        assert getattr(total, name) == getattr(lakeside, name) + getattr(northside, name)
    # mid-month, the pace runs on: at least what is billed already
    assert lakeside.projected_claim_lines >= 3 and northside.projected_claim_lines >= 1
    assert lakeside.projected_revenue_cents >= lakeside.expected_amount_cents


def test_a_finished_month_projects_what_it_billed(session: Session, world: Overseen) -> None:
    figures = organisation_month(session=session, viewer=world.lou, month=NOVEMBER, now=AFTER)
    assert [(r.practice, r.days_left, r.projected_billable_patients, r.projected_claim_lines,
             r.projected_revenue_cents) for r in (*figures.practices, figures.total)] == [
        ("Lakeside", None, 2, 3, 2 * CCM_20 + CCM_ADD_ON),
        ("Northside", None, 1, 1, CCM_20),
        ("Total", None, 3, 4, 3 * CCM_20 + CCM_ADD_ON)]
    assert _counts(figures)["Total"] == (5, 3, 1, 1, 95, 3 * CCM_20 + CCM_ADD_ON)


def test_minutes_per_care_manager_practice_by_practice(session: Session,
                                                       world: Overseen) -> None:
    figures = organisation_month(session=session, viewer=world.lou, month=NOVEMBER, now=NOW)
    assert [c.care_manager_id for c in figures.care_managers] == [str(world.sam.id),
                                                                  str(world.tess.id)]
    assert _minutes(figures, world) == {
        "Sam": ({"Lakeside": 25, "Northside": 25}, 50, 2),
        "Tess": ({"Lakeside": 45}, 45, 1)}  # not on Lou's team at Northside


def test_a_supervisor_gets_her_team_only(session: Session, world: Overseen) -> None:
    """Lou at Northside: Sam's N1, not Nick's N2 (Nora's team) nor N3 (nobody's); the
    practice's admin gets all three, with the unassigned N3 in no care manager's row."""
    [_, lou] = organisation_month(session=session, viewer=world.lou, month=NOVEMBER,
                                  now=NOW).practices
    nadia = organisation_month(session=session, viewer=world.nadia, month=NOVEMBER, now=NOW)
    [whole] = nadia.practices
    assert (whole.enrolled_patients, whole.billable_patients, whole.at_risk_patients,
            whole.countable_minutes, whole.expected_amount_cents) == (3, 2, 1, 46, 2 * CCM_20)
    assert (lou.enrolled_patients, lou.countable_minutes) == (1, 25)
    sams = program_month(session=session, practice=world.northside, month=NOVEMBER,
                         care_manager_id=world.sam.id, now=NOW)
    practice = program_month(session=session, practice=world.northside, month=NOVEMBER,
                             care_manager_id=None, now=NOW)
    assert (lou.projected_billable_patients, lou.projected_claim_lines,
            lou.projected_revenue_cents) == (sams.projected_billable_patients,
                                             sams.projected_claim_lines,
                                             sams.projected_revenue_cents)
    assert (whole.projected_billable_patients, whole.projected_claim_lines,
            whole.projected_revenue_cents) == (practice.projected_billable_patients,
                                               practice.projected_claim_lines,
                                               practice.projected_revenue_cents)
    assert whole.projected_billable_patients == 2 and lou.projected_billable_patients == 1
    assert lou.projected_revenue_cents < whole.projected_revenue_cents
    assert _minutes(nadia, world) == {
        "Dr. Northside": ({"Northside": 0}, 0, 0), "Nick": ({"Northside": 21}, 21, 1),
        "Sam": ({"Northside": 25}, 25, 1)}
    # Nora oversees Northside alone: Nick
    [nora] = organisation_month(session=session, viewer=world.nora, month=NOVEMBER,
                                now=NOW).practices
    assert (nora.practice, nora.enrolled_patients, nora.countable_minutes) == (
        "Northside", 1, 21)


def test_an_organisation_admin_gets_every_patient(session: Session, world: Overseen) -> None:
    grant_role(session=session, user=world.lakeside_admin, practice=world.northside,
               role=Role.ADMIN, granted_by=world.nadia, now=NOW)
    session.commit()
    figures = organisation_month(session=session, viewer=world.lakeside_admin,
                                 month=NOVEMBER, now=NOW)
    assert _counts(figures) == {
        "Lakeside": (4, 2, 1, 1, 70, 2 * CCM_20 + CCM_ADD_ON),
        "Northside": (3, 2, 1, 0, 46, 2 * CCM_20),
        "Total": (7, 4, 2, 1, 116, 4 * CCM_20 + CCM_ADD_ON)}
    assert _minutes(figures, world) == {
        "Dr. Lakeside": ({"Lakeside": 0}, 0, 0), "Dr. Northside": ({"Northside": 0}, 0, 0),
        "Nick": ({"Northside": 21}, 21, 1), "Sam": ({"Lakeside": 25, "Northside": 25}, 50, 2),
        "Tess": ({"Lakeside": 45}, 45, 1)}


def test_each_practice_in_its_own_month(session: Session, world: Overseen) -> None:
    figures = organisation_month(session=session, viewer=world.lou, month=None, now=BOUNDARY)
    assert [(r.practice, r.month, r.days_left) for r in figures.practices] == [
        ("Lakeside", "2026-11", 1), ("Northside", "2026-12", 31)]
    assert figures.total.month == "2026-11 / 2026-12"
    counts = _counts(figures)
    assert counts["Lakeside"] == (4, 2, 1, 1, 70, 2 * CCM_20 + CCM_ADD_ON)  # still November
    assert counts["Northside"] == (1, 0, 1, 0, 0, 0)  # December: N1 has no time yet
    assert _minutes(figures, world)["Sam"] == ({"Lakeside": 25, "Northside": 0}, 25, 1)
    # the month asked for holds in every practice
    asked = organisation_month(session=session, viewer=world.lou, month=NOVEMBER,
                               now=BOUNDARY)
    assert [(r.month, r.days_left, r.countable_minutes) for r in asked.practices] == [
        ("2026-11", 1, 70), ("2026-11", None, 25)]
    assert asked.total.month == "2026-11"


def test_all_practices_is_for_overseers(session: Session, world: Overseen) -> None:
    for user in (world.sam, world.tess, world.nick, world.eve):
        with pytest.raises(AccessDenied):
            organisation_month(session=session, viewer=user, month=None, now=NOW)


def test_another_organisation_sees_nothing_of_riverbend(session: Session,
                                                       world: Overseen) -> None:
    ezra = create_user(session=session, practice_id=world.elsewhere.id,
                       email="ezra@x.example", name="Ezra", role=Role.ADMIN).user
    session.commit()
    figures = organisation_month(session=session, viewer=ezra, month=NOVEMBER, now=NOW)
    assert [(r.practice, r.enrolled_patients) for r in figures.practices] == [("Elsewhere", 1)]
    assert [c.name for c in figures.care_managers] == ["Eve"]
    shown = repr(figures)
    for riverbend in ("Lakeside", "Northside", "Sam", "Tess", "Nick",
                      str(world.lakeside.id), str(world.northside.id)):
        assert riverbend not in shown


def test_the_screen_shows_every_practice_and_the_total(
        session: Session, world: Overseen, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """OrganisationState.load (ui/pages/organisation.py) in whatever month it is now: the
    enrolled counts and who is on which row do not depend on the month.

    The handler's sessions are pointed at this backend's database: `db.get_engine()`
    caches the engine of whichever database was configured first in the process."""
    from ccm_pwa.ui.pages import organisation
    from ccm_pwa.ui.pages.organisation import OrganisationState
    from ccm_pwa.ui.states import auth
    from tests.db.test_handler_access import _state_for

    for module in (organisation, auth):
        monkeypatch.setattr(module, "session_scope", functools.partial(session_scope, db_url))
    for user in session.exec(select(User)):
        user.totp_enrolled_at = NOW  # account setup done
        session.add(user)
    session.commit()

    def loaded(user: User) -> OrganisationState:
        token = create_session(session=session, user=user, now=datetime.now(UTC))
        session.commit()
        state = _state_for(OrganisationState, token, user.practice_id)
        OrganisationState.event_handlers["load"].fn(state)
        return state

    state = loaded(world.lou)
    assert [(r[0], r[1], r[3]) for r in state.rows] == [
        ("Lakeside", "America/Chicago", "4"), ("Northside", "America/New_York", "1"),
        ("Total", "", "5")]
    assert state.people_header == ["Care manager", "Lakeside", "Northside", "Total"]
    assert [row[0] for row in state.people] == ["Sam", "Tess"]
    refused = loaded(world.sam)
    assert (refused.rows, refused.people) == ([], [])
    session.expire_all()
    denied = session.exec(select(AuditEvent).where(AuditEvent.action == "access.denied",
                                                   AuditEvent.user_id == world.sam.id)).all()
    assert [event.detail["why"] for event in denied] == ["role"]
