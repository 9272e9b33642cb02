"""Overseeing several practices (issue 17, third slice): a supervisor or admin works one
practice at a time on the team screens, as she acts there (`access.acting_in`), and sees
the managed team's members who work that practice, and only their work there.

The world is test_practice_roles.World, with the managed team's supervisor: Lou
supervises Sam at Lakeside (his own practice) and, by a role there, at Northside too.
Nora is Northside's own supervisor (Nick), Nadia its admin. Sam logs 25 minutes for L1
(Lakeside) and 25 for N1 (Northside) on Tuesday 17 November; Nick 21 for N2.
"""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from ccm_pwa.auth.access import AccessDenied, acting_in, overseen_practices
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.models import AuditEvent, Role, User
from ccm_pwa.services.month_packets import practices_zip
from ccm_pwa.services.organisation_month import organisation_month
from ccm_pwa.services.practice_roles import grant_role
from ccm_pwa.services.sync_pull import pull
from ccm_pwa.services.team_scope import team_members
from ccm_pwa.services.team_today import care_manager_worklist, team_today
from tests.db.test_practice_roles import NOW, World
from tests.db.test_sync_across_practices import _billable, _entry, _push

NOVEMBER = YearMonth(2026, 11)
TUESDAY = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)


class Oversight(World):
    def __init__(self, session: Session) -> None:
        super().__init__(session)
        grant_role(session=session, user=self.lou, practice=self.northside,
                   role=Role.SUPERVISOR, granted_by=self.nadia, now=NOW)
        grant_role(session=session, user=self.sam, practice=self.northside,
                   role=Role.CARE_MANAGER, supervisor=self.lou, granted_by=self.nadia, now=NOW)
        _billable(session, self.lakeside, (self.l1,))
        _billable(session, self.northside, (self.n1, self.n2))
        session.commit()
        for user, entries in ((self.sam, (_entry(self.l1, TUESDAY, 25),
                                          _entry(self.n1, TUESDAY.replace(hour=16), 25))),
                              (self.nick, (_entry(self.n2, TUESDAY, 21),))):
            client = uuid.uuid4()
            pull(session=session, user=user, client_id=client, cursor=None, now=NOW)
            results = _push(session, user, client, NOW, *entries)
            assert {r["status"] for r in results} == {"applied"}
            session.commit()
        self.lou_at_northside = acting_in(session=session, user=self.lou,
                                          practice_id=self.northside.id)


@pytest.fixture
def world(session: Session) -> Oversight:
    return Oversight(session)


def _names(people: list[User]) -> list[str]:
    return [p.name for p in people]


def test_who_oversees_which_practice(session: Session, world: Oversight) -> None:
    assert overseen_practices(session=session, user=world.lou) == [world.lakeside.id,
                                                                   world.northside.id]
    assert overseen_practices(session=session, user=world.nadia) == [world.northside.id]
    assert overseen_practices(session=session, user=world.sam) == []


def test_acting_in_a_practice_takes_her_role_there(session: Session,
                                                   world: Oversight) -> None:
    there = world.lou_at_northside
    assert (there.id, there.name, there.practice_id, there.role) == (
        world.lou.id, "Lou", world.northside.id, Role.SUPERVISOR)
    assert there.password_hash == "" and there.totp_secret is None
    assert acting_in(session=session, user=world.lou, practice_id=world.lakeside.id) \
        is world.lou
    sam_there = acting_in(session=session, user=world.sam, practice_id=world.northside.id)
    assert (sam_there.role, sam_there.supervisor_id) == (Role.CARE_MANAGER, world.lou.id)
    for stranger in (world.elsewhere.id, uuid.uuid4(), "not-an-id", ""):
        with pytest.raises(AccessDenied):
            acting_in(session=session, user=world.lou, practice_id=stranger)
    with pytest.raises(AccessDenied):  # Nora holds no role at Lakeside
        acting_in(session=session, user=world.nora, practice_id=world.lakeside.id)


def test_each_practices_team_holds_who_works_there(session: Session,
                                                  world: Oversight) -> None:
    assert _names(team_members(session=session, viewer=world.lou)) == ["Sam"]
    [sam] = team_members(session=session, viewer=world.lou_at_northside)
    assert (sam.id, sam.practice_id, sam.role, sam.supervisor_id) == (
        world.sam.id, world.northside.id, Role.CARE_MANAGER, world.lou.id)
    assert _names(team_members(session=session, viewer=world.nora)) == ["Nick"]
    # the admin sees the practice's own staff and the managed team
    assert _names(team_members(session=session, viewer=world.nadia)) == [
        "Dr. Northside", "Nick", "Sam"]


def test_hybrid_the_practices_supervisor_sees_both_teams(session: Session,
                                                         world: Oversight) -> None:
    """Sam works Northside under Nora: Nora's team is her own Nick and the managed Sam."""
    grant_role(session=session, user=world.sam, practice=world.northside,
               role=Role.CARE_MANAGER, supervisor=world.nora, granted_by=world.nadia, now=NOW)
    session.commit()
    assert _names(team_members(session=session, viewer=world.nora)) == ["Nick", "Sam"]
    assert team_members(session=session, viewer=world.lou_at_northside) == []
    rows = {r.name: r for r in team_today(session=session, viewer=world.nora,
                                          month=NOVEMBER, now=NOW)}
    assert (rows["Sam"].enrolled_patients, rows["Sam"].countable_minutes) == (1, 25)
    assert (rows["Nick"].enrolled_patients, rows["Nick"].countable_minutes) == (1, 21)


def test_team_today_counts_this_practices_work_only(session: Session,
                                                    world: Oversight) -> None:
    """Sam logged 50 minutes this week, 25 in each practice: each practice sees its 25."""
    for viewer in (world.lou, world.lou_at_northside, world.nadia):
        rows = {r.name: r for r in team_today(session=session, viewer=viewer,
                                              month=NOVEMBER, now=NOW)}
        sam = rows["Sam"]
        assert (sam.enrolled_patients, sam.billable_patients, sam.countable_minutes,
                sam.minutes_this_week) == (1, 1, 25, 25), viewer.name
        assert sam.last_activity_at is not None
    nadia = {r.name: r for r in team_today(session=session, viewer=world.nadia,
                                           month=NOVEMBER, now=NOW)}
    assert (nadia["Nick"].countable_minutes, nadia["Nick"].minutes_this_week) == (21, 21)
    # the billing practitioner has logged nothing
    assert nadia["Dr. Northside"].last_activity_at is None


def test_a_tap_through_shows_her_worklist_in_this_practice(session: Session,
                                                           world: Oversight) -> None:
    def mrns(viewer: User) -> set[str]:
        body = care_manager_worklist(session=session, viewer=viewer,
                                     care_manager_id=str(world.sam.id), month=None, now=NOW)
        return {row["mrn"] for row in body["patients"]}

    assert mrns(world.lou) == {"L1"}
    assert mrns(world.lou_at_northside) == {"N1"}
    assert mrns(world.nadia) == {"N1"}
    with pytest.raises(AccessDenied):  # not on Nora's team while Lou supervises her there
        mrns(world.nora)
    session.commit()
    read = {row.patient_id for row in session.exec(select(AuditEvent).where(
        AuditEvent.action == "team.worklist.read"))}
    assert read == {world.l1.id, world.n1.id}


def test_one_zip_holds_a_folder_per_practice(session: Session, world: Oversight) -> None:
    content, billed = practices_zip(session=session, month=NOVEMBER, viewers=[
        (world.lakeside, world.lou), (world.northside, world.lou_at_northside)])
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert sorted(archive.namelist()) == [
        "ccm-2026-11/Lakeside/claims.csv", "ccm-2026-11/Lakeside/index.html",
        "ccm-2026-11/Lakeside/packets/L1.html",
        "ccm-2026-11/Northside/claims.csv", "ccm-2026-11/Northside/index.html",
        "ccm-2026-11/Northside/packets/N1.html"]
    assert billed == {world.lakeside.id: {"L1"}, world.northside.id: {"N1"}}
    claims = list(csv.DictReader(io.StringIO(
        archive.read("ccm-2026-11/Northside/claims.csv").decode())))
    assert {row["mrn"] for row in claims} == {"N1"}  # Nick's N2 is Nora's team, not Lou's
    # the practice's admin gets the whole practice
    _content, billed = practices_zip(session=session, month=NOVEMBER,
                                     viewers=[(world.northside, world.nadia)])
    assert billed == {world.northside.id: {"N1", "N2"}}


def test_all_practices_side_by_side(session: Session, world: Oversight) -> None:
    figures = organisation_month(session=session, viewer=world.lou, month=NOVEMBER, now=NOW)
    rows = {r.practice: r for r in figures.practices}
    assert list(rows) == ["Lakeside", "Northside"]
    for row in rows.values():  # Sam's one patient in each; Nick's N2 is not Lou's team
        assert (row.month, row.days_left, row.enrolled_patients, row.billable_patients,
                row.countable_minutes, row.projected_billable_patients) == (
            "2026-11", 13, 1, 1, 25, 1), row
        assert row.expected_amount_cents > 0 and row.projected_claim_lines >= 1
    total = figures.total
    assert (total.practice, total.month, total.enrolled_patients, total.billable_patients,
            total.countable_minutes) == ("Total", "2026-11", 2, 2, 50)
    assert total.projected_claim_lines == sum(r.projected_claim_lines for r in rows.values())
    assert total.expected_amount_cents == sum(r.expected_amount_cents for r in rows.values())
    [sam] = figures.care_managers
    assert (sam.name, sam.minutes_by_practice, sam.total_minutes, sam.billable_patients) == (
        "Sam", {str(world.lakeside.id): 25, str(world.northside.id): 25}, 50, 2)
    # the practice's admin: the whole practice, both teams
    [north] = organisation_month(session=session, viewer=world.nadia, month=NOVEMBER,
                                 now=NOW).practices
    assert (north.enrolled_patients, north.billable_patients, north.countable_minutes,
            north.projected_billable_patients) == (2, 2, 46, 2)


def test_each_practice_in_its_own_month(session: Session, world: Oversight) -> None:
    boundary = datetime(2026, 12, 1, 5, 30, tzinfo=UTC)  # 23:30 in Chicago, 00:30 New York
    figures = organisation_month(session=session, viewer=world.lou, month=None, now=boundary)
    assert [(r.practice, r.month, r.days_left) for r in figures.practices] == [
        ("Lakeside", "2026-11", 1), ("Northside", "2026-12", 31)]
    assert figures.total.month == "2026-11 / 2026-12"
    assert figures.practices[0].countable_minutes == 25  # November, still, at Lakeside
    assert figures.practices[1].countable_minutes == 0


def test_all_practices_is_for_overseers(session: Session, world: Oversight) -> None:
    for user in (world.sam, world.nick, world.eve):
        with pytest.raises(AccessDenied):
            organisation_month(session=session, viewer=user, month=None, now=NOW)


def test_the_audit_log_of_the_practice_she_picks(session: Session, world: Oversight,
                                                 db_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Each practice's log is its own: Lou's Lakeside tap-through shows in Lakeside's log,
    his Northside one in Northside's; a practice where he oversees nothing is not offered."""
    from ccm_pwa import db
    from ccm_pwa.auth.sessions import create_session
    from ccm_pwa.ui.pages.audit_log import AuditLogState
    from tests.db.test_handler_access import _state_for

    engine_for = db.get_engine
    monkeypatch.setattr(db, "get_engine", lambda url=None: engine_for(url or db_url))
    for viewer in (world.lou, world.lou_at_northside):
        care_manager_worklist(session=session, viewer=viewer,
                              care_manager_id=str(world.sam.id), month=None, now=NOW)
    world.lou.totp_enrolled_at = NOW  # account setup done
    session.add(world.lou)
    token = create_session(session=session, user=world.lou, now=datetime.now(UTC))
    session.commit()

    def log(practice_id: uuid.UUID) -> tuple[str, set[str]]:
        state = _state_for(AuditLogState, token, practice_id)
        state._load()
        return state.practice_name, {line["patient"] for line in state.lines
                                     if line["action"] == "team.worklist.read"}

    assert log(world.lakeside.id) == ("Lakeside", {"L1"})
    assert log(world.northside.id) == ("Northside", {"N1"})
    assert log(world.elsewhere.id) == ("Lakeside", {"L1"})  # not hers: her own practice
