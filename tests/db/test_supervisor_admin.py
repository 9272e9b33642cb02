"""Admin services (caseload, settings, invite) and `ccm-pwa month` from the command line."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.models import AuditEvent, MonthClose, MonthStatus, Patient, Practice, Role, User
from ccm_pwa.services.caseload_admin import CaseloadError, assign_patients
from ccm_pwa.services.demo_practice import create_demo_practice
from ccm_pwa.services.practice_settings import SettingsError, update_practice_settings
from ccm_pwa.services.user_admin import invite_user
from tests.db.test_cli import run_cli

NOW = datetime(2026, 11, 23, 18, tzinfo=UTC)


@pytest.fixture
def practice(session: Session) -> Practice:
    create_demo_practice(session=session, patients=30, care_managers=2, seed=4,
                         today=date(2026, 11, 23))
    session.commit()
    return session.exec(select(Practice)).one()


def _user(session: Session, name: str) -> User:
    return session.exec(select(User).where(User.name == name)).one()


def test_assign_moves_patients_and_audits(session: Session, practice: Practice) -> None:
    admin, kim, dana = (_user(session, n) for n in ("Pat Admin", "Kim Alvarez", "Dana Brooks"))
    kims = list(session.exec(select(Patient).where(Patient.care_manager_id == kim.id)))[:3]
    moved = assign_patients(session=session, admin=admin, patient_ids=[p.id for p in kims],
                            care_manager_id=dana.id, now=NOW)
    session.commit()
    assert {p.care_manager_id for p in moved} == {dana.id}
    audits = session.exec(select(AuditEvent).where(AuditEvent.action == "caseload.assign")).all()
    assert {a.patient_id for a in audits} == {p.id for p in kims}
    with pytest.raises(AccessDenied):
        assign_patients(session=session, admin=kim, patient_ids=[kims[0].id],
                        care_manager_id=kim.id, now=NOW)
    with pytest.raises(CaseloadError):
        assign_patients(session=session, admin=admin, patient_ids=[kims[0].id],
                        care_manager_id=admin.id, now=NOW)


def test_settings_are_validated_audited_and_zone_locked_by_a_close(
        session: Session, practice: Practice) -> None:
    admin = _user(session, "Pat Admin")
    with pytest.raises(SettingsError, match="reminder_local_time"):
        update_practice_settings(session=session, admin=admin, now=NOW,
                                 reminder_local_time="25:00")
    with pytest.raises(SettingsError, match="fee_year"):
        update_practice_settings(session=session, admin=admin, now=NOW, fee_year=1999)
    changed = update_practice_settings(session=session, admin=admin, now=NOW,
                                       reminder_local_time="08:30", fee_year=2025)
    assert (changed.reminder_local_time, changed.fee_year) == ("08:30", 2025)
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "practice.settings")).one()
    assert audit.detail["fee_year"] == {"from": 2026, "to": 2025}
    session.add(MonthClose(practice_id=practice.id, month="2026-10", status=MonthStatus.CLOSED))
    session.flush()
    with pytest.raises(SettingsError, match="closed"):
        update_practice_settings(session=session, admin=admin, now=NOW,
                                 timezone="America/Denver")
    with pytest.raises(AccessDenied):
        update_practice_settings(session=session, admin=_user(session, "Renee Walsh"),
                                 now=NOW, fee_year=2026)


def test_invite_returns_a_one_time_password_once(session: Session, practice: Practice) -> None:
    admin = _user(session, "Pat Admin")
    new = invite_user(session=session, admin=admin, email="New.Nurse@X.example",
                      name="New Nurse", role=Role.CARE_MANAGER, now=NOW,
                      supervisor_id=_user(session, "Renee Walsh").id)
    assert new.password and new.user.must_change_password
    assert new.user.email == "new.nurse@x.example"
    assert new.password not in new.user.password_hash
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "user.invite")).one()
    with pytest.raises(AccessDenied):
        invite_user(session=session, admin=_user(session, "Kim Alvarez"), email="a@b.example",
                    name="A", role=Role.ADMIN, now=NOW)


def test_month_cli(db_url: str, practice: Practice, tmp_path) -> None:
    checks = run_cli("month", "checks", "--month", "2026-10", db_url=db_url)
    assert checks.returncode == 0, checks.stderr
    assert "counted_once" in checks.stdout and "review_items" in checks.stdout
    bad = run_cli("month", "close", "--month", "2026-1", "--by", "x@y.example", db_url=db_url)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    nobody = run_cli("month", "close", "--month", "2026-10", "--by", "nobody@x.example",
                     db_url=db_url)
    assert nobody.returncode == 2 and "no user" in nobody.stderr
    manager = run_cli("month", "close", "--month", "2026-10", "--by",
                      "kim@riverbend.example", db_url=db_url)
    assert manager.returncode == 2 and "not an active supervisor" in manager.stderr
    no_reason = run_cli("month", "reopen", "--month", "2026-10", "--by",
                        "supervisor@riverbend.example", db_url=db_url)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    not_closed = run_cli("month", "reopen", "--month", "2026-10", "--by",
                         "supervisor@riverbend.example", "--reason", "x", db_url=db_url)
    assert not_closed.returncode == 2 and "is not closed" in not_closed.stderr
    packets = run_cli("month", "packets", "--month", "2026-10", "--out",
                      str(tmp_path / "out"), db_url=db_url)
    assert packets.returncode == 0, packets.stderr
    assert (tmp_path / "out" / "claims.csv").exists()
