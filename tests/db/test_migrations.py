"""Migrations build the schema from empty, and the schema matches the models exactly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session, SQLModel, select

from ccm_pwa.db import get_engine
from ccm_pwa.migrations import alembic_config, current_revision, head_revision, upgrade
from ccm_pwa.models import CarePlan, Organisation, Practice, PracticeRole, SyncClient, TimeEntry
from tests.conftest import BACKENDS, throwaway_postgres_database


def test_upgrade_reaches_head(db_url: str) -> None:
    assert current_revision(db_url) == head_revision()
    assert upgrade(db_url) == head_revision()  # a second upgrade is a no-op


def test_schema_matches_models(db_url: str) -> None:
    with get_engine(db_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_every_table_is_created(db_url: str) -> None:
    names = set(sa.inspect(get_engine(db_url)).get_table_names())
    assert set(SQLModel.metadata.tables) <= names


def test_upgrade_from_empty_sqlite_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert current_revision(url) is None
    assert upgrade(url) == head_revision()


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database that no migration has touched, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'at_0001.db'}"
        return
    request.getfixturevalue("postgresql_url")  # skips (or fails, in CI) without a server
    with throwaway_postgres_database() as url:
        yield url


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


@pytest.mark.parametrize("previous", _revisions()[:-1])
def test_every_previous_release_upgrades_to_head(fresh_url: str, previous: str) -> None:
    """A database left at any earlier revision (an older release) reaches head, and then
    matches the models exactly, on each backend."""
    assert upgrade(fresh_url, previous) == previous
    assert upgrade(fresh_url) == head_revision()
    with get_engine(fresh_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_upgrade_from_0001_keeps_care_plans(fresh_url: str) -> None:
    """A database at 0001 with a care plan in it upgrades to head on each backend."""
    assert upgrade(fresh_url, "0001") == "0001"
    engine = get_engine(fresh_url)
    with engine.begin() as connection:
        assert "last_reviewed_on" not in {
            c["name"] for c in sa.inspect(connection).get_columns("care_plan")}
        ids = _insert_care_plan(connection)
    assert upgrade(fresh_url) == head_revision()
    with engine.connect() as connection:
        row = connection.execute(sa.text(
            "SELECT patient_id, established_on, copy_given_method, last_reviewed_on "
            "FROM care_plan WHERE id = :id"), {"id": _key(connection, ids["plan"])}).one()
    assert str(row.established_on) == "2026-10-02"
    assert row.copy_given_method == "mail" and row.last_reviewed_on is None
    with Session(engine) as session:  # the models read the upgraded row
        plan = session.get(CarePlan, ids["plan"])
        assert plan is not None and plan.patient_id == ids["patient"]
        assert plan.last_reviewed_on is None


def _key(connection: sa.Connection, value: uuid.UUID) -> object:
    """UUID columns are native on PostgreSQL and 32 hex characters on SQLite."""
    return value if connection.dialect.name == "postgresql" else value.hex


def _insert_care_plan(connection: sa.Connection) -> dict[str, uuid.UUID]:
    ids = {name: uuid.uuid4() for name in ("practice", "user", "patient", "plan")}
    now = datetime.now(UTC)
    key = {name: _key(connection, value) for name, value in ids.items()}
    connection.execute(sa.text(
        "INSERT INTO practice (id, name, timezone, fee_year, reminder_local_time, created_at) "
        "VALUES (:id, 'Lakeside', 'America/Chicago', 2026, '09:00', :now)"),
        {"id": key["practice"], "now": now})
    connection.execute(sa.text(
        "INSERT INTO app_user (id, practice_id, name, email, role, performer_kind, credential, "
        "npi, active, password_hash, must_change_password, failed_attempts, created_at) "
        "VALUES (:id, :practice, 'Dr. Osei', 'osei@x.example', 'care_manager', "
        "'billing_practitioner', 'MD', '', :yes, '', :no, 0, :now)"),
        {"id": key["user"], "practice": key["practice"], "now": now, "yes": True, "no": False})
    connection.execute(sa.text(
        "INSERT INTO patient (id, practice_id, mrn, given_name, family_name, birth_date, phone, "
        "preferred_language, program, enrollment_status, enrollment_reason, "
        "enrollment_changed_at, created_at, updated_at, version) VALUES (:id, :practice, 'M1', "
        "'Rosa', 'Garcia', :birth, '', 'es', 'ccm', 'enrolled', '', :now, :now, :now, 1)"),
        {"id": key["patient"], "practice": key["practice"], "birth": date(1948, 2, 1),
         "now": now})
    connection.execute(sa.text(
        "INSERT INTO care_plan (id, patient_id, status, established_on, established_by_id, "
        "copy_given_method, created_at) VALUES (:id, :patient, 'active', :on, :user, 'mail', "
        ":now)"), {"id": key["plan"], "patient": key["patient"], "on": date(2026, 10, 2),
                   "user": key["user"], "now": now})
    return ids


def test_upgrade_from_0003_keeps_installations(fresh_url: str) -> None:
    """A database at 0003 with a phone's installation (and time recorded through it) gains
    the remote-erase columns and the practice's lock minutes (5) without losing a row."""
    assert upgrade(fresh_url, "0003") == "0003"
    engine = get_engine(fresh_url)
    client_id = uuid.uuid4()
    now = datetime.now(UTC)
    with engine.begin() as connection:
        ids = _insert_care_plan(connection)
        key = _key(connection, client_id)
        connection.execute(sa.text(
            "INSERT INTO sync_client (id, user_id, device_label, last_mutation_id, "
            "schema_version, created_at, last_seen_at) VALUES (:id, :user, 'Pixel 7', 3, 1, "
            ":now, :now)"), {"id": key, "user": _key(connection, ids["user"]), "now": now})
        connection.execute(sa.text(
            "INSERT INTO time_entry (id, patient_id, performer_id, performer_kind, activity, "
            "note, started_at, duration_seconds, source, occurred_at, received_at, client_id, "
            "mutation_id, review_flags) VALUES (:id, :patient, :user, 'clinical_staff', "
            "'phone_call_patient', '', :now, 600, 'timer', :now, :now, :client, 1, '[]')"),
            {"id": _key(connection, uuid.uuid4()), "patient": _key(connection, ids["patient"]),
             "user": _key(connection, ids["user"]), "now": now, "client": key})
    assert upgrade(fresh_url) == head_revision()
    with Session(engine) as session:
        client = session.get(SyncClient, client_id)
        assert client is not None and client.device_label == "Pixel 7"
        assert client.last_mutation_id == 3
        assert (client.wipe_requested_at, client.wipe_requested_by_id, client.wiped_at) == (
            None, None, None)
        practice = session.get(Practice, ids["practice"])
        assert practice is not None and practice.app_lock_minutes == 5
        assert session.exec(select(TimeEntry).where(TimeEntry.client_id == client_id)).one()


def test_upgrade_from_0006_puts_each_practice_in_an_organisation_of_its_own(
        fresh_url: str) -> None:
    """The previous release's practices, each with its users and patients, come out of 0007
    as one-practice organisations named after them, with nobody's access changed."""
    assert upgrade(fresh_url, "0006") == "0006"
    engine = get_engine(fresh_url)
    with engine.begin() as connection:
        first = _insert_care_plan(connection)
        second = uuid.uuid4()
        connection.execute(sa.text(
            "INSERT INTO practice (id, name, timezone, fee_year, reminder_local_time, "
            "created_at) VALUES (:id, 'Hillcrest', 'America/New_York', 2026, '09:00', :now)"),
            {"id": _key(connection, second), "now": datetime.now(UTC)})
    assert upgrade(fresh_url) == head_revision()
    with Session(engine) as session:
        practices = {p.name: p for p in session.exec(select(Practice))}
        organisations = {o.id: o.name for o in session.exec(select(Organisation))}
        assert set(practices) == {"Lakeside", "Hillcrest"}
        assert {organisations[p.organisation_id] for p in practices.values()} == {
            "Lakeside", "Hillcrest"}
        assert practices["Lakeside"].id == first["practice"]
        assert session.exec(select(PracticeRole)).all() == []
        plan = session.get(CarePlan, first["plan"])
        assert plan is not None and plan.patient_id == first["patient"]
