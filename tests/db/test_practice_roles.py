"""Roles in further practices of one organisation (issue 17, first slice): who sees whom
across the practice boundary, on each backend.

The world: organisation Riverbend runs Lakeside (Chicago) and Northside (New York);
Elsewhere is an organisation of its own. Sam is a Lakeside care manager (supervised there
by Lou) who also works Northside's patients, supervised there by Nora; Nick is Northside's
own care manager under Nora; Nadia is Northside's admin.
"""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.access import (
    AccessDenied,
    require_patient,
    role_in,
    visible_patients,
)
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.models import (
    AuditEvent,
    EnrollmentStatus,
    Organisation,
    Patient,
    Practice,
    PracticeRole,
    Role,
    User,
)
from ccm_pwa.services.audit_log import audit_lines
from ccm_pwa.services.caseload_admin import assign_patients
from ccm_pwa.services.practice_roles import (
    PracticeRoleError,
    grant_role,
    members,
    revoke_role,
    visiting_staff,
)
from ccm_pwa.services.practices import PracticeError, create_practice
from ccm_pwa.services.purge import delete_practice
from ccm_pwa.services.users import create_user
from tests.db.test_cli import run_cli

NOW = datetime(2026, 11, 18, 21, 0, tzinfo=UTC)


class World:
    def __init__(self, session: Session) -> None:
        self.lakeside = create_practice(session=session, name="Lakeside",
                                        timezone="America/Chicago", organisation="Riverbend")
        self.northside = create_practice(session=session, name="Northside",
                                         timezone="America/New_York", organisation="Riverbend")
        self.elsewhere = create_practice(session=session, name="Elsewhere",
                                         timezone="America/Denver")

        def user(name: str, role: Role, practice: Practice,
                 supervisor: User | None = None) -> User:
            made = create_user(session=session, practice_id=practice.id,
                               email=f"{name}@x.example", name=name.title(), role=role,
                               supervisor_id=supervisor.id if supervisor else None).user
            made.must_change_password = False
            return made

        self.lou = user("lou", Role.SUPERVISOR, self.lakeside)
        self.sam = user("sam", Role.CARE_MANAGER, self.lakeside, self.lou)
        self.lakeside_admin = user("lena", Role.ADMIN, self.lakeside)
        self.nora = user("nora", Role.SUPERVISOR, self.northside)
        self.nick = user("nick", Role.CARE_MANAGER, self.northside, self.nora)
        self.nadia = user("nadia", Role.ADMIN, self.northside)
        self.eve = user("eve", Role.CARE_MANAGER, self.elsewhere)
        session.flush()
        grant_role(session=session, user=self.sam, practice=self.northside,
                   role=Role.CARE_MANAGER, supervisor=self.nora, granted_by=self.nadia, now=NOW)

        self.l1 = self.patient(session, "L1", self.lakeside, self.sam)
        self.n1 = self.patient(session, "N1", self.northside, self.sam)
        self.n2 = self.patient(session, "N2", self.northside, self.nick)
        self.e1 = self.patient(session, "E1", self.elsewhere, self.eve)
        session.commit()

    @staticmethod
    def patient(session: Session, mrn: str, practice: Practice,
                manager: User | None) -> Patient:
        """An enrolled patient (subclassed worlds add more the same way)."""
        row = Patient(practice_id=practice.id, mrn=mrn, given_name="Given" + mrn,
                      family_name="Family" + mrn, birth_date=date(1950, 1, 1),
                      care_manager_id=manager.id if manager else None,
                      enrollment_status=EnrollmentStatus.ENROLLED)
        session.add(row)
        return row


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


def _sees(session: Session, user: User, world: World) -> set[str]:
    """The MRNs `user` may open, asked patient by patient as every screen asks."""
    seen = set()
    for patient in (world.l1, world.n1, world.n2, world.e1):
        try:
            require_patient(session=session, user=user, patient_id=patient.id)
            seen.add(patient.mrn)
        except AccessDenied:
            pass
    return seen


def test_each_role_applies_in_its_own_practice(session: Session, world: World) -> None:
    assert _sees(session, world.sam, world) == {"L1", "N1"}
    assert _sees(session, world.lou, world) == {"L1"}  # Sam's supervisor at Lakeside only
    assert _sees(session, world.nora, world) == {"N1", "N2"}  # Nick, and Sam while here
    assert _sees(session, world.nick, world) == {"N2"}
    assert _sees(session, world.nadia, world) == {"N1", "N2"}
    assert _sees(session, world.lakeside_admin, world) == {"L1"}
    assert _sees(session, world.eve, world) == {"E1"}


def test_one_practice_at_a_time(session: Session, world: World) -> None:
    def ids(query: sa.Select | sa.CompoundSelect) -> set[uuid.UUID]:
        return set(session.execute(query).scalars())

    assert ids(visible_patients(world.sam)) == {world.l1.id}  # her own practice
    assert ids(visible_patients(world.sam, world.northside.id, Role.CARE_MANAGER)) == {
        world.n1.id}
    assert [role_in(session=session, user=world.sam, practice_id=practice.id)
            for practice in (world.lakeside, world.northside)] == [Role.CARE_MANAGER] * 2
    assert role_in(session=session, user=world.sam, practice_id=world.elsewhere.id) is None
    with pytest.raises(ValueError, match="role_in"):
        visible_patients(world.sam, world.northside.id)


def test_a_revoked_role_sees_nothing_more(session: Session, world: World) -> None:
    revoked = revoke_role(session=session, user=world.sam, practice=world.northside,
                          revoked_by=world.nadia, now=NOW)
    session.commit()
    assert revoked.still_assigned == 1  # N1 keeps her until an admin moves the patient
    assert _sees(session, world.sam, world) == {"L1"}
    assert _sees(session, world.nora, world) == {"N2"}
    actions = [(e.action, e.detail["role"]) for e in session.exec(
        select(AuditEvent).where(AuditEvent.action.startswith("practice_role.")))]
    assert sorted(actions) == [("practice_role.grant", "care_manager"),
                               ("practice_role.revoke", "care_manager")]
    with pytest.raises(PracticeRoleError, match="holds no role"):
        revoke_role(session=session, user=world.sam, practice=world.northside, now=NOW)


@pytest.mark.parametrize(("who", "where", "role", "supervisor", "why"), [
    ("sam", "lakeside", Role.CARE_MANAGER, None, "own practice"),
    ("sam", "elsewhere", Role.CARE_MANAGER, None, "not in the organisation"),
    ("eve", "lakeside", Role.CARE_MANAGER, None, "not in the organisation"),
    ("nick", "lakeside", Role.CARE_MANAGER, "sam", "not a supervisor in Lakeside"),
    ("nick", "lakeside", Role.CARE_MANAGER, "nora", "not a supervisor in Lakeside"),
])
def test_roles_stay_inside_the_organisation(session: Session, world: World, who: str,
                                            where: str, role: Role, supervisor: str | None,
                                            why: str) -> None:
    with pytest.raises(PracticeRoleError, match=why):
        grant_role(session=session, user=getattr(world, who), practice=getattr(world, where),
                   role=role, supervisor=getattr(world, supervisor) if supervisor else None,
                   now=NOW)


def test_a_deactivated_user_gets_no_role(session: Session, world: World) -> None:
    world.nick.active = False
    with pytest.raises(PracticeRoleError, match="deactivated"):
        grant_role(session=session, user=world.nick, practice=world.lakeside,
                   role=Role.CARE_MANAGER, now=NOW)


def test_granting_again_changes_the_role_and_says_what_it_was(session: Session,
                                                             world: World) -> None:
    grant_role(session=session, user=world.sam, practice=world.northside,
               role=Role.SUPERVISOR, granted_by=world.nadia, now=NOW + timedelta(hours=1))
    session.commit()
    held = session.exec(select(PracticeRole).where(PracticeRole.user_id == world.sam.id)).all()
    assert [(h.role, h.supervisor_id) for h in held] == [(Role.SUPERVISOR, None)]
    last = session.exec(select(AuditEvent).where(AuditEvent.action == "practice_role.grant")
                        .order_by(AuditEvent.occurred_at.desc())).first()
    assert last is not None and last.detail["before"] == {
        "role": "care_manager", "supervisor": str(world.nora.id)}
    # A supervisor sees her team there (nobody yet) and her own patients: not Nick's N2.
    assert _sees(session, world.sam, world) == {"L1", "N1"}


def test_members_of_a_practice_include_the_managed_team(session: Session,
                                                        world: World) -> None:
    names = [(user.name, role) for user, role in members(session=session,
                                                         practice_id=world.northside.id)]
    assert names == [("Nadia", Role.ADMIN), ("Nick", Role.CARE_MANAGER),
                     ("Nora", Role.SUPERVISOR), ("Sam", Role.CARE_MANAGER)]
    # The Users screen lists the visitors apart, with the practice they come from.
    assert visiting_staff(session=session, practice_id=world.northside.id) == [
        {"name": "Sam", "email": "sam@x.example", "role": "care manager", "home": "Lakeside"}]
    assert visiting_staff(session=session, practice_id=world.lakeside.id) == []


def test_an_admin_gives_her_patients_to_the_managed_team(session: Session,
                                                         world: World) -> None:
    assign_patients(session=session, admin=world.nadia, patient_ids=[world.n2.id],
                    care_manager_id=world.sam.id, now=NOW)
    session.commit()
    assert _sees(session, world.sam, world) == {"L1", "N1", "N2"}
    with pytest.raises(AccessDenied):  # Lou holds no role at Northside
        assign_patients(session=session, admin=world.nadia, patient_ids=[world.n2.id],
                        care_manager_id=world.lou.id, now=NOW)
    with pytest.raises(AccessDenied):  # nor may Lakeside's admin move Northside's patients
        assign_patients(session=session, admin=world.lakeside_admin,
                        patient_ids=[world.n1.id], care_manager_id=world.sam.id, now=NOW)


def test_each_practice_reads_its_own_patients_audit(session: Session, world: World) -> None:
    record_audit(session=session, action="patient.read", user_id=world.sam.id,
                 patient_id=world.n1.id, occurred_at=NOW)
    record_audit(session=session, action="patient.read", user_id=world.sam.id,
                 patient_id=world.l1.id, occurred_at=NOW)
    record_audit(session=session, action="auth.sign_in", user_id=world.sam.id, occurred_at=NOW)
    record_audit(session=session, action="patient.read", user_id=world.nick.id,
                 patient_id=world.n2.id, occurred_at=NOW)
    session.commit()

    def seen(practice: Practice) -> set[tuple[str, str, str]]:
        return {(line.user, line.action, line.patient_mrn) for line in audit_lines(
            session=session, practice_id=practice.id) if line.action in (
                "patient.read", "auth.sign_in")}

    assert seen(world.lakeside) == {("sam@x.example", "patient.read", "L1"),
                                    ("sam@x.example", "auth.sign_in", "")}
    assert seen(world.northside) == {("sam@x.example", "patient.read", "N1"),
                                     ("nick@x.example", "patient.read", "N2")}


def test_practices_join_an_organisation_only_when_asked(session: Session,
                                                        world: World) -> None:
    assert world.lakeside.organisation_id == world.northside.organisation_id
    assert world.elsewhere.organisation_id not in (None, world.lakeside.organisation_id)
    alone = create_practice(session=session, name="Riverbend", timezone="America/Chicago")
    assert alone.organisation_id != world.lakeside.organisation_id  # a name is not a join
    with pytest.raises(PracticeError, match="already exists"):
        create_practice(session=session, name="Lakeside", timezone="America/Chicago")


def test_deleting_a_practice_keeps_its_organisation_while_others_remain(
        session: Session, world: World) -> None:
    organisation = world.lakeside.organisation_id
    delete_practice(session=session, practice_id=world.northside.id)
    session.commit()
    assert session.get(Organisation, organisation) is not None
    assert session.exec(select(PracticeRole)).all() == []
    delete_practice(session=session, practice_id=world.lakeside.id)
    session.commit()
    session.expire_all()
    assert session.get(Organisation, organisation) is None


def test_cli_grants_and_revokes(world: World, db_url: str, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, db_url=db_url, data_dir=tmp_path)

    granted = cli("user", "grant", "--email", "NICK@x.example", "--practice", "Lakeside",
                  "--role", "care_manager", "--supervisor", "lou@x.example")
    assert granted.returncode == 0, granted.stderr
    assert "nick@x.example is care_manager in Lakeside, supervised by lou@x.example" in (
        granted.stdout)
    other = cli("user", "grant", "--email", "eve@x.example", "--practice", "Lakeside",
                "--role", "care_manager")
    assert other.returncode == 2 and "not in the organisation" in other.stderr
    nobody = cli("user", "grant", "--email", "nobody@x.example", "--practice", "Lakeside",
                 "--role", "care_manager")
    assert nobody.returncode == 2 and "no user with email nobody@x.example" in nobody.stderr
    revoked = cli("user", "revoke", "--email", "sam@x.example", "--practice", "Northside")
    assert revoked.returncode == 0, revoked.stderr
    assert "no longer has a role in Northside" in revoked.stdout
    assert "1 of its patients" in revoked.stdout
    added = cli("practice", "add", "--name", "Southside", "--timezone", "America/Chicago",
                "--organisation", "Riverbend")
    assert added.returncode == 0 and "in organisation 'Riverbend'" in added.stdout
