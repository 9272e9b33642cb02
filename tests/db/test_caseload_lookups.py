"""Caseload lookups at scale (auth/access.py, services/billing_cases.py): who sees whom is
answered from the (practice, care manager) and (practice, billing practitioner) indexes,
never by walking every patient of the practice, and a list of ids is read by id with the
practice still checked. (Who sees whom, role by role: tests/db/test_auth_access.py.)"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from ccm_pwa.auth.access import visible_patients
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.models import EnrollmentStatus, Patient, Practice
from ccm_pwa.services.billing_cases import load_inputs
from tests.api.test_sync_push import World


def _plan(session: Session, query: sa.Select) -> list[str]:
    compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    return [row[3] for row in session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}"))]


def test_a_care_managers_caseload_is_two_index_lookups(session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the plan's wording is SQLite's; PostgreSQL plans from its statistics")
    world = World(session)
    plan = _plan(session, sa.select(Patient.id).where(
        Patient.id.in_(visible_patients(world.kim))))
    assert any("ix_patient_practice_care_manager" in step for step in plan), plan
    assert any("ix_patient_practice_billing_practitioner" in step for step in plan), plan
    assert not any("ix_patient_practice_id" in step or step.startswith("SCAN patient")
                   for step in plan), plan


def test_load_inputs_by_id_never_crosses_the_practice(session: Session) -> None:
    world = World(session)
    other = Practice(name="Elsewhere", timezone="America/Chicago")
    session.add(other)
    session.flush()
    stranger = Patient(practice_id=other.id, mrn="X1", given_name="Xa", family_name="Vier",
                       birth_date=date(1950, 1, 1), enrollment_status=EnrollmentStatus.ENROLLED)
    session.add(stranger)
    session.commit()
    month = YearMonth.parse(world.month)
    inputs = load_inputs(session=session, practice=world.practice, months=[month],
                         patient_ids=[stranger.id, world.lee.id, world.rosa.id])[month]
    assert [item.patient.mrn for item in inputs] == ["L1", "R1"]  # by MRN, the stranger out
