"""Who sees which patients, on both backends: care managers their caseload (and patients they
bill for), supervisors their team's, admins their own practice, nobody another practice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from sqlmodel import Session, select

from ccm_pwa.auth.access import AccessDenied, require_patient, require_role, visible_patients
from ccm_pwa.models import Patient, PerformerKind, Practice, Role, User
from ccm_pwa.services import users as users_module
from ccm_pwa.services.users import create_user


@dataclass
class World:
    supervisor: User
    cm_a: User
    cm_b: User
    admin: User
    idle_supervisor: User
    doctor: User
    other_admin: User
    other_cm: User
    a_patients: list[Patient]
    b_patients: list[Patient]
    billed_by_a: Patient  # cared for by B, billed by A
    unassigned: Patient
    supervisor_own: Patient  # the supervisor is its care manager
    doctors_patient: Patient  # no care manager, billed by the doctor
    other_practice: Patient
    misfiled: Patient  # another practice's patient that names A as care manager

    def ours(self) -> set[uuid.UUID]:
        return {p.id for p in [*self.a_patients, *self.b_patients, self.billed_by_a,
                               self.unassigned, self.supervisor_own, self.doctors_patient]}


@pytest.fixture
def world(session: Session, monkeypatch: pytest.MonkeyPatch) -> World:
    # Nobody signs in here: skip Argon2 (eight hashes per test) to keep the suite quick.
    monkeypatch.setattr(users_module, "hash_password", lambda password: "not-a-hash")
    home, other = Practice(name="Lakeside"), Practice(name="Riverside")
    session.add_all([home, other])
    session.flush()

    def person(practice: Practice, email: str, role: Role, *, supervisor: User | None = None,
               kind: PerformerKind | None = None) -> User:
        return create_user(session=session, practice_id=practice.id, email=email,
                           name=email.split("@")[0], role=role, performer_kind=kind,
                           supervisor_id=supervisor.id if supervisor else None).user

    supervisor = person(home, "sup@lakeside.org", Role.SUPERVISOR)
    cm_a = person(home, "cm.a@lakeside.org", Role.CARE_MANAGER, supervisor=supervisor)
    cm_b = person(home, "cm.b@lakeside.org", Role.CARE_MANAGER, supervisor=supervisor)
    admin = person(home, "admin@lakeside.org", Role.ADMIN)
    idle_supervisor = person(home, "sup2@lakeside.org", Role.SUPERVISOR)
    doctor = person(home, "dr@lakeside.org", Role.CARE_MANAGER,
                    kind=PerformerKind.BILLING_PRACTITIONER)
    other_admin = person(other, "admin@riverside.org", Role.ADMIN)
    other_cm = person(other, "cm@riverside.org", Role.CARE_MANAGER, supervisor=supervisor)

    counter = iter(range(1000))

    def patient(practice: Practice, care_manager: User | None,
                billing: User | None = None) -> Patient:
        n = next(counter)
        row = Patient(practice_id=practice.id, mrn=f"MRN{n:04d}", given_name=f"Pat{n}",
                      family_name="Doe", birth_date=date(1950, 1, 1),
                      care_manager_id=care_manager.id if care_manager else None,
                      billing_practitioner_id=billing.id if billing else None)
        session.add(row)
        return row

    built = World(
        supervisor=supervisor, cm_a=cm_a, cm_b=cm_b, admin=admin,
        idle_supervisor=idle_supervisor, doctor=doctor, other_admin=other_admin,
        other_cm=other_cm,
        a_patients=[patient(home, cm_a, doctor) for _ in range(3)],
        b_patients=[patient(home, cm_b, doctor) for _ in range(2)],
        billed_by_a=patient(home, cm_b, cm_a),
        unassigned=patient(home, None),
        supervisor_own=patient(home, supervisor),
        doctors_patient=patient(home, None, doctor),
        other_practice=patient(other, other_cm, other_admin),
        misfiled=patient(other, cm_a, cm_a),
    )
    session.commit()
    return built


def visible(session: Session, user: User) -> set[uuid.UUID]:
    return set(session.execute(visible_patients(user)).scalars())


def test_care_manager_sees_her_caseload_and_patients_she_bills_for(
        session: Session, world: World) -> None:
    a_ids = {p.id for p in world.a_patients}

    assert visible(session, world.cm_a) == a_ids | {world.billed_by_a.id}
    assert visible(session, world.cm_b) == {p.id for p in world.b_patients} | {
        world.billed_by_a.id}
    assert world.misfiled.id not in visible(session, world.cm_a)


def test_billing_practitioner_sees_the_patients_she_bills_for(
        session: Session, world: World) -> None:
    assert visible(session, world.doctor) == {p.id for p in world.a_patients} | {
        p.id for p in world.b_patients} | {world.doctors_patient.id}


def test_supervisor_sees_her_team_and_her_own_caseload(session: Session, world: World) -> None:
    team = {p.id for p in [*world.a_patients, *world.b_patients, world.billed_by_a]}

    assert visible(session, world.supervisor) == team | {world.supervisor_own.id}
    # other_cm names this supervisor but works in another practice: still not visible.
    assert world.other_practice.id not in visible(session, world.supervisor)


def test_supervisor_without_a_team_sees_nobody(session: Session, world: World) -> None:
    assert visible(session, world.idle_supervisor) == set()


def test_admin_sees_her_whole_practice_and_nothing_else(session: Session,
                                                        world: World) -> None:
    assert visible(session, world.admin) == world.ours()
    assert visible(session, world.other_admin) == {world.other_practice.id, world.misfiled.id}
    everyone = set(session.exec(select(Patient.id)))
    assert everyone == world.ours() | {world.other_practice.id, world.misfiled.id}


def test_visible_patients_composes_into_a_patient_query(session: Session,
                                                         world: World) -> None:
    query = select(Patient).where(Patient.id.in_(visible_patients(world.cm_b)))  # type: ignore[attr-defined]
    names = sorted(p.mrn for p in session.exec(query))
    assert names == sorted(p.mrn for p in [*world.b_patients, world.billed_by_a])


def test_role_read_back_from_the_database_still_decides(session: Session,
                                                        world: World) -> None:
    """Roles come back from the database as plain strings; the checks must still match."""
    session.expire_all()
    admin = session.get(User, world.admin.id)
    assert admin is not None
    assert visible(session, admin) == world.ours()


def test_require_patient_returns_allowed_patients(session: Session, world: World) -> None:
    patient = world.a_patients[0]

    for given in (patient.id, str(patient.id), str(patient.id).upper(), patient.id.hex):
        found = require_patient(session=session, user=world.cm_a, patient_id=given)
        assert found.id == patient.id
    assert require_patient(session=session, user=world.supervisor,
                           patient_id=patient.id).id == patient.id
    assert require_patient(session=session, user=world.admin,
                           patient_id=world.unassigned.id).id == world.unassigned.id


@pytest.mark.parametrize("who", ["cm_a", "cm_b", "supervisor", "idle_supervisor", "admin",
                                 "doctor", "other_admin", "other_cm"])
def test_require_patient_denies_everything_outside_the_callers_view(
        session: Session, world: World, who: str) -> None:
    user: User = getattr(world, who)
    allowed = visible(session, user)
    every_patient = set(session.exec(select(Patient.id)))

    for patient_id in every_patient - allowed:
        with pytest.raises(AccessDenied):
            require_patient(session=session, user=user, patient_id=patient_id)
    for patient_id in allowed:
        assert require_patient(session=session, user=user, patient_id=patient_id).id == \
            patient_id


@pytest.mark.parametrize("patient_id", [
    uuid.uuid4(), str(uuid.uuid4()), "not-a-uuid", "", "1 OR 1=1", "' OR ''='",
    "00000000-0000-0000-0000-00000000000G", "123", str(uuid.UUID(int=0)),
])
def test_require_patient_denies_unknown_and_malformed_ids(
        session: Session, world: World, patient_id: uuid.UUID | str) -> None:
    for user in (world.cm_a, world.admin):
        with pytest.raises(AccessDenied):
            require_patient(session=session, user=user, patient_id=patient_id)


def test_foreign_patient_is_denied_like_an_unknown_one(session: Session, world: World) -> None:
    with pytest.raises(AccessDenied) as foreign:
        require_patient(session=session, user=world.admin, patient_id=world.other_practice.id)
    with pytest.raises(AccessDenied) as unknown:
        require_patient(session=session, user=world.admin, patient_id=uuid.uuid4())
    assert str(foreign.value) == str(unknown.value) == ""


def test_require_role(world: World) -> None:
    require_role(world.admin, Role.ADMIN)
    require_role(world.supervisor, Role.SUPERVISOR, Role.ADMIN)
    with pytest.raises(AccessDenied):
        require_role(world.cm_a, Role.SUPERVISOR, Role.ADMIN)
    with pytest.raises(AccessDenied):
        require_role(world.supervisor, Role.ADMIN)
    with pytest.raises(AccessDenied):
        require_role(world.admin)
