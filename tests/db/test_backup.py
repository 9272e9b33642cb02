"""Backups and the restore drill, on SQLite and on PostgreSQL (HIPAA: backups, restore drill).

The drill: load a demo practice, take its fingerprint (every table's rows and the billing
report of two months), back it up, damage the database, restore, and get the same
fingerprint back.  The PostgreSQL runs need pg_dump, pg_restore and psql on PATH and are
skipped, with the reason, when they are missing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import Session, SQLModel, select

from ccm_pwa.db import get_engine
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.migrations import current_revision, head_revision, upgrade
from ccm_pwa.models import AuditEvent, Patient, TimeEntry
from ccm_pwa.operations import postgres_tools
from ccm_pwa.operations.backup import create_backup
from ccm_pwa.operations.backup_files import BackupError
from ccm_pwa.operations.restore import restore_backup
from ccm_pwa.services.billing_report import claim_rows, rows_as_csv
from ccm_pwa.services.demo_practice import create_demo_practice
from ccm_pwa.services.practices import choose_practice
from tests.conftest import throwaway_postgres_database
from tests.db.test_cli import run_cli

TODAY = date(2026, 11, 23)
MONTHS = ("2026-10", "2026-11")
PG_PROGRAMS = ("pg_dump", "pg_restore", "psql")


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def backend_url(db_url: str) -> str:
    """The test database, once PostgreSQL's client programs are known to be there."""
    if db_url.startswith("postgresql"):
        missing = [name for name in PG_PROGRAMS if shutil.which(name) is None]
        if missing:
            pytest.skip(f"PostgreSQL client programs not on PATH: {', '.join(missing)}")
    return db_url


@pytest.fixture
def practice_url(backend_url: str, session: Session) -> str:
    """The test database holding a small demo practice: 20 patients, 2 care managers."""
    create_demo_practice(session=session, patients=20, care_managers=2, seed=1, today=TODAY)
    session.commit()
    session.close()
    return backend_url


@pytest.fixture
def fresh_url(backend_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database on the same backend (not even migrated)."""
    if backend_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh' / 'ccm.db'}"
        return
    with throwaway_postgres_database() as url:
        yield url


# --- helpers ------------------------------------------------------------------------------


def fingerprint(url: str) -> dict[str, object]:
    """Row count and content digest of every table, and the billing report of two months.

    Audit rows about backups are left out: taking a backup and restoring one add them.
    """
    tables: dict[str, tuple[int, str]] = {}
    with Session(get_engine(url)) as session:
        for table in SQLModel.metadata.sorted_tables:
            rows = session.execute(sa.select(table)).all()
            if table.name == "audit_event":
                rows = [row for row in rows if not row.action.startswith("backup.")]
            content = sorted(tuple(str(value) for value in row) for row in rows)
            tables[table.name] = (len(rows), hashlib.sha256(repr(content).encode()).hexdigest())
        practice = choose_practice(session=session)
        billing = {month: rows_as_csv(claim_rows(session=session, practice=practice,
                                                 month=YearMonth.parse(month)))
                   for month in MONTHS}
    return {"tables": tables, "billing": billing}


def audit_actions(url: str) -> list[AuditEvent]:
    with Session(get_engine(url)) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action.startswith("backup."))))


def damage(url: str) -> None:
    """What an accident or an attacker does: patients gone, time that never happened."""
    with Session(get_engine(url)) as session:
        patients = session.exec(select(Patient).order_by(Patient.mrn)).all()
        _delete_patients(session, [patient.id for patient in patients[:3]])
        model = session.exec(select(TimeEntry).where(TimeEntry.patient_id == patients[5].id)
                             ).first()
        assert model is not None
        session.add(TimeEntry(
            patient_id=model.patient_id, performer_id=model.performer_id,
            performer_kind=model.performer_kind, activity=model.activity, note="bogus",
            started_at=datetime(2026, 11, 20, 15, tzinfo=UTC), duration_seconds=45 * 60,
            occurred_at=datetime(2026, 11, 20, 16, tzinfo=UTC)))
        session.commit()


def _delete_patients(session: Session, ids: list[uuid.UUID]) -> None:
    """Each patient and every row hanging off them, found through the foreign keys."""
    tables = SQLModel.metadata.sorted_tables
    owned: dict[str, set] = {"patient": set(ids)}
    for table in tables:
        if table.name == "patient" or "id" not in table.c:
            continue
        conditions = [column.in_(owned[fk.column.table.name]) for column in table.c
                      for fk in column.foreign_keys if owned.get(fk.column.table.name)]
        if conditions:
            owned[table.name] = {row[0] for row in session.execute(
                sa.select(table.c.id).where(sa.or_(*conditions)))}
    for table in reversed(tables):
        if owned.get(table.name):
            session.execute(sa.delete(table).where(table.c.id.in_(owned[table.name])))


def written_path(stdout: str) -> Path:
    match = re.search(r"^backup written: (.+)$", stdout, re.MULTILINE)
    assert match, stdout
    return Path(match[1])


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result
    assert len(lines) == 1, result.stderr
    return lines[0]


def sqlite_file(url: str) -> Path:
    return Path(sa.engine.make_url(url).database or "")


# --- the restore drill --------------------------------------------------------------------


def test_restore_drill_through_the_cli(practice_url: str, tmp_path: Path) -> None:
    before = fingerprint(practice_url)
    assert before["tables"]["patient"][0] == 20
    assert all(report.count("\n") > 1 for report in before["billing"].values())

    taken = run_cli("backup", "--to", str(tmp_path / "backups") + "/", db_url=practice_url,
                    data_dir=tmp_path)
    assert taken.returncode == 0, taken.stderr
    assert "20 patients" in taken.stdout and f"schema revision: {head_revision()}" in taken.stdout
    backup = written_path(taken.stdout)
    assert backup.parent == tmp_path / "backups"

    damage(practice_url)
    assert fingerprint(practice_url) != before

    restored = run_cli("restore", str(backup), "--force", db_url=practice_url, data_dir=tmp_path)
    assert restored.returncode == 0, restored.stderr
    get_engine(practice_url).dispose()
    assert re.search(r"replaced: +a database holding 1 practice, \d+ users, 17 patients",
                     restored.stdout), restored.stdout
    assert f"{head_revision()} in the backup, {head_revision()} now" in restored.stdout
    assert fingerprint(practice_url) == before

    current = run_cli("db", "current", db_url=practice_url, data_dir=tmp_path)
    assert current.stdout.strip() == head_revision()
    events = audit_actions(practice_url)  # the backup's own row is newer than the backup
    assert [event.action for event in events] == ["backup.restore"]
    assert events[0].detail["file"] == str(backup.resolve())
    assert events[0].detail["counts"]["patient"] == 20
    assert events[0].detail["replaced"]["patient"] == 17
    assert events[0].client.startswith("cli user=")


def test_restore_into_a_fresh_database(practice_url: str, fresh_url: str, tmp_path: Path) -> None:
    report = create_backup(database_url=practice_url, default_dir=tmp_path / "backups")
    restored = restore_backup(backup=report.path, database_url=fresh_url)
    assert restored.replaced == {}
    assert current_revision(fresh_url) == head_revision()
    assert fingerprint(fresh_url) == fingerprint(practice_url)
    [event] = audit_actions(fresh_url)
    assert event.action == "backup.restore" and event.detail["replaced"] is None
    assert event.detail["revision_in_backup"] == head_revision()
    if fresh_url.startswith("sqlite"):  # created by the restore, so created private
        assert stat.S_IMODE(sqlite_file(fresh_url).stat().st_mode) == 0o600


def test_backup_is_private_named_checked_and_audited(practice_url: str, tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask would make new files world-readable
    try:
        report = create_backup(database_url=practice_url, default_dir=tmp_path / "backups",
                               client="test")
    finally:
        os.umask(previous)
    assert re.fullmatch(rf"ccm-\d{{8}}T\d{{6}}Z-{head_revision()}\.(sqlite3|dump)",
                        report.path.name)
    assert stat.S_IMODE(report.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "backups").stat().st_mode) == 0o700
    assert [p.name for p in (tmp_path / "backups").iterdir()] == [report.path.name]
    assert report.contents.counts["patient"] == 20
    assert report.contents.counts["time_entry"] == fingerprint(practice_url)["tables"][
        "time_entry"][0]
    assert report.sha256 == hashlib.sha256(report.path.read_bytes()).hexdigest()
    [event] = audit_actions(practice_url)
    assert event.action == "backup.create" and event.client == "test"
    assert event.detail["file"] == str(report.path.resolve())
    assert event.detail["revision"] == head_revision()
    assert event.detail["counts"]["patient"] == 20


def test_backup_while_another_connection_holds_a_write_transaction(
        practice_url: str, tmp_path: Path) -> None:
    """Online: the copy does not wait for the app's writer, and holds only committed rows."""
    committed = fingerprint(practice_url)["tables"]
    writer = Session(get_engine(practice_url))
    writer.add(AuditEvent(action="test.uncommitted", detail={}))
    writer.flush()  # the write lock is held from here until the rollback
    folder = tmp_path / "backups"
    outcome: dict[str, object] = {}

    def take() -> None:
        try:
            outcome["report"] = create_backup(database_url=practice_url, default_dir=folder)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=take)
    worker.start()
    deadline = time.monotonic() + 60
    while not list(folder.glob("ccm-*")) and time.monotonic() < deadline and worker.is_alive():
        time.sleep(0.05)
    published_while_writing = bool(list(folder.glob("ccm-*")))
    writer.rollback()  # only now may the audit row of the backup be written (SQLite)
    writer.close()
    worker.join(60)
    assert published_while_writing, outcome
    assert "error" not in outcome, outcome
    report = outcome["report"]
    assert report.contents.counts == {name: count for name, (count, _) in committed.items()}


# --- refusals -----------------------------------------------------------------------------


def test_refuses_a_database_that_holds_data_without_force(practice_url: str,
                                                           tmp_path: Path) -> None:
    report = create_backup(database_url=practice_url, default_dir=tmp_path)
    before = fingerprint(practice_url)
    refused = run_cli("restore", str(report.path), db_url=practice_url, data_dir=tmp_path)
    line = one_error_line(refused)
    assert "already holds data (20 patients" in line and "add --force" in line
    assert fingerprint(practice_url) == before
    assert [event.action for event in audit_actions(practice_url)] == ["backup.create"]


def test_refuses_a_backup_of_the_other_database_kind(backend_url: str, tmp_path: Path) -> None:
    other = tmp_path / "other-kind.backup"
    if backend_url.startswith("sqlite"):  # a pg_dump archive is known by its first bytes
        other.write_bytes(b"PGDMP\x01\x0e\x00" + bytes(200))
        expected = "is a PostgreSQL dump (pg_dump custom format), but the configured " \
                   "database is SQLite"
    else:
        with sqlite3.connect(other) as connection:
            connection.execute("CREATE TABLE alembic_version (version_num TEXT)")
        expected = "is a SQLite database, but the configured database is PostgreSQL"
    with pytest.raises(BackupError, match=re.escape(expected)):
        restore_backup(backup=other, database_url=backend_url, force=True)
    refused = run_cli("restore", str(other), "--force", db_url=backend_url, data_dir=tmp_path)
    assert expected in one_error_line(refused)


@pytest.mark.parametrize("content", [b"", b"hello, not a backup\n" * 50])
def test_refuses_a_file_that_is_not_a_backup(backend_url: str, tmp_path: Path,
                                             content: bytes) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(content)
    with pytest.raises(BackupError, match="is not a ccm-pwa backup"):
        restore_backup(backup=junk, database_url=backend_url, force=True)


def test_a_truncated_backup_is_refused_and_the_database_left_alone(
        practice_url: str, tmp_path: Path) -> None:
    report = create_backup(database_url=practice_url, default_dir=tmp_path / "backups")
    truncated = tmp_path / f"truncated{report.path.suffix}"
    truncated.write_bytes(report.path.read_bytes()[: report.path.stat().st_size // 2])
    damage(practice_url)  # what the operator wanted to undo stays until a good file is given
    before = fingerprint(practice_url)
    with pytest.raises(BackupError, match="damaged"):
        restore_backup(backup=truncated, database_url=practice_url, force=True)
    assert fingerprint(practice_url) == before
    assert [event.action for event in audit_actions(practice_url)] == ["backup.create"]
    checked = run_cli("backup", "verify", str(truncated), db_url=practice_url, data_dir=tmp_path)
    assert "damaged" in one_error_line(checked)
    good = run_cli("backup", "verify", str(report.path), db_url=practice_url, data_dir=tmp_path)
    assert good.returncode == 0, good.stderr
    assert "20 patients" in good.stdout and "restorable:      yes" in good.stdout


def test_a_backup_from_a_newer_release_is_refused(practice_url: str, tmp_path: Path) -> None:
    with get_engine(practice_url).begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        report = create_backup(database_url=practice_url, default_dir=tmp_path)
    finally:
        with get_engine(practice_url).begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = :head"),
                               {"head": head_revision()})
    assert "-9999." in report.path.name
    before = fingerprint(practice_url)
    with pytest.raises(BackupError, match="revision 9999, which this version of ccm-pwa does "
                                          "not know"):
        restore_backup(backup=report.path, database_url=practice_url, force=True)
    assert fingerprint(practice_url) == before
    assert current_revision(practice_url) == head_revision()
    checked = run_cli("backup", "verify", str(report.path), db_url=practice_url,
                      data_dir=tmp_path)
    assert "unknown to this release" in one_error_line(checked)


# --- schema upgrades and housekeeping -----------------------------------------------------


def test_a_previous_release_backup_comes_up_to_head(practice_url: str, fresh_url: str,
                                                    tmp_path: Path) -> None:
    """Restored over a newer database: the newer tables go, then the upgrade adds them again."""
    assert upgrade(fresh_url, "0002") == "0002"
    report = create_backup(database_url=fresh_url, default_dir=tmp_path)
    assert report.path.name.endswith(f"-0002{report.path.suffix}")
    restored = restore_backup(backup=report.path, database_url=practice_url, force=True)
    assert (restored.contents.revision, restored.revision_now) == ("0002", head_revision())
    assert restored.replaced is not None and restored.replaced["patient"] == 20
    assert restored.counts.get("patient", 0) == 0
    with get_engine(practice_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_keep_prunes_all_but_the_newest_backups(practice_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "notes.txt").write_text("the operator's own file")
    other_kind = ".dump" if practice_url.startswith("sqlite") else ".sqlite3"
    (folder / f"ccm-20200101T000000Z-0001{other_kind}").write_bytes(b"other kind")
    start = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    made = [create_backup(database_url=practice_url, default_dir=folder, keep=2,
                          now=start + timedelta(days=day)).path for day in range(3)]
    same_second = create_backup(database_url=practice_url, default_dir=folder, keep=3,
                                now=start + timedelta(days=2))
    assert same_second.path.name.endswith(f"-{head_revision()}-2{made[0].suffix}")
    left = sorted(path.name for path in folder.iterdir())
    assert left == sorted([made[1].name, made[2].name, same_second.path.name, "notes.txt",
                           f"ccm-20200101T000000Z-0001{other_kind}"])
    assert same_second.pruned == []


def test_to_names_a_new_file_and_never_overwrites(practice_url: str, tmp_path: Path) -> None:
    target = tmp_path / "exact-name.bak"
    report = create_backup(database_url=practice_url, default_dir=tmp_path / "unused",
                           to=str(target))
    assert report.path == target and not (tmp_path / "unused").exists()
    with pytest.raises(BackupError, match="already exists"):
        create_backup(database_url=practice_url, default_dir=tmp_path, to=str(target))


def test_nothing_to_back_up_in_a_database_without_schema(fresh_url: str, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match=r"no database at|has no ccm-pwa schema yet"):
        create_backup(database_url=fresh_url, default_dir=tmp_path)
    assert not list(tmp_path.glob("**/ccm-*"))
    if fresh_url.startswith("sqlite"):
        assert not sqlite_file(fresh_url).exists()  # not created by asking


# --- PostgreSQL programs ------------------------------------------------------------------


def test_pg_dump_missing_or_older_than_the_server(backend_url: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if not backend_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite backups need no external program")
    empty, old = tmp_path / "empty-path", tmp_path / "old-path"
    empty.mkdir()
    old.mkdir()
    fake = old / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(empty))
    missing = run_cli("backup", "--to", str(tmp_path) + "/", db_url=backend_url,
                      data_dir=tmp_path)
    monkeypatch.setenv("PATH", str(old))
    too_old = run_cli("backup", "--to", str(tmp_path) + "/", db_url=backend_url,
                      data_dir=tmp_path)
    assert "pg_dump not found on PATH" in one_error_line(missing)
    assert re.search(r"pg_dump 9 \(.*\) is older than the PostgreSQL \d+ server",
                     one_error_line(too_old))
    assert not list(tmp_path.glob("ccm-*")) and not list(tmp_path.glob(".ccm-*"))


def test_the_password_never_reaches_the_command_line(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(postgres_tools, "find_program", lambda name, beside=None: name)
    monkeypatch.setattr(postgres_tools, "program_major_version", lambda program: 16)
    monkeypatch.setattr(postgres_tools, "server_major_version", lambda url: 16)
    monkeypatch.setattr(postgres_tools, "_run",
                        lambda command, *, env, what: calls.append((command, env)))
    postgres_tools.dump("postgresql+psycopg://ccm:s3cr%40t@db.example:5433/ccm?sslmode=require",
                        tmp_path / "x.dump")
    [(command, env)] = calls
    assert not any("s3cr" in part for part in command)
    assert "--dbname=postgresql://ccm@db.example:5433/ccm?sslmode=require" in command
    assert env["PGPASSWORD"] == "s3cr@t"
    assert command[:4] == ["pg_dump", "--format=custom", "--no-owner", "--no-privileges"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["backup", "--keep", "0"], "--keep: must be at least 1"),
        (["restore"], "required: file"),
        (["backup", "verify"], "required: file"),
        (["backup", "check"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], fragment: str,
                                            tmp_path: Path) -> None:
    assert fragment in one_error_line(run_cli(*args, data_dir=tmp_path))


def test_restore_of_a_missing_file_says_so(tmp_path: Path) -> None:
    result = run_cli("restore", str(tmp_path / "nope.sqlite3"), data_dir=tmp_path)
    assert one_error_line(result) == f"ccm-pwa: error: no such file: {tmp_path / 'nope.sqlite3'}"
