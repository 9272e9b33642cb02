"""Importing a patient panel into the database, on SQLite and PostgreSQL, and from the CLI."""

from __future__ import annotations

import argparse
import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from ccm_pwa.cli import build_parser
from ccm_pwa.cli import panel_import as cli
from ccm_pwa.db import session_scope
from ccm_pwa.domain.panel_csv import parse_csv
from ccm_pwa.domain.panel_fhir import parse_bundle
from ccm_pwa.models import (
    AuditEvent,
    Condition,
    Consent,
    EnrollmentStatus,
    Patient,
    PerformerKind,
    Practice,
    Program,
    Role,
    User,
)
from ccm_pwa.services import panel_import
from ccm_pwa.services.panel_import import ImportReport, import_panel
from tests.db.test_cli import run_cli

DATA = Path(__file__).resolve().parents[1] / "data"
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 18, tzinfo=UTC)
DOMAIN = "riverbend.example"


@pytest.fixture
def practice(session: Session) -> Practice:
    """The staff the sample files name (the demo practice's emails), and a few who are not."""
    practice = Practice(name="Riverbend", timezone="America/Chicago")
    session.add(practice)
    session.flush()
    for local, role, kind, active in [
        ("kim", Role.CARE_MANAGER, PerformerKind.CLINICAL_STAFF, True),
        ("dana", Role.CARE_MANAGER, PerformerKind.CLINICAL_STAFF, True),
        ("dr.osei", Role.CARE_MANAGER, PerformerKind.BILLING_PRACTITIONER, True),
        ("np.hart", Role.CARE_MANAGER, PerformerKind.BILLING_PRACTITIONER, True),
        ("supervisor", Role.SUPERVISOR, PerformerKind.CLINICAL_STAFF, True),
        ("gone", Role.CARE_MANAGER, PerformerKind.CLINICAL_STAFF, False),
    ]:
        session.add(User(practice_id=practice.id, name=local.title(), email=f"{local}@{DOMAIN}",
                         role=role, performer_kind=kind, active=active))
    session.commit()
    return practice


def run(session: Session, practice: Practice, name_or_text: str, *, dry_run: bool = False,
        kind: str | None = None) -> ImportReport:
    path = DATA / name_or_text
    text = path.read_text() if path.suffix in (".csv", ".json") else name_or_text
    kind = kind or ("fhir" if path.suffix == ".json" else "csv")
    panel = (parse_csv(text, today=TODAY) if kind == "csv"
             else parse_bundle(text, today=TODAY))
    report = import_panel(session=session, practice=practice, panel=panel, file=name_or_text,
                          dry_run=dry_run, today=TODAY, now=NOW, client="test")
    session.commit()
    return report


def patients(session: Session) -> dict[str, Patient]:
    return {p.mrn: p for p in session.exec(select(Patient))}


def conditions_of(session: Session, mrn: str) -> dict[str, Condition]:
    patient = patients(session)[mrn]
    return {c.icd10_code: c for c in session.exec(
        select(Condition).where(Condition.patient_id == patient.id))}


def user_id(session: Session, local: str) -> uuid.UUID:
    return session.exec(select(User).where(User.email == f"{local}@{DOMAIN}")).one().id


def count(session: Session, table: type) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def snapshot(session: Session) -> list[tuple]:
    session.expire_all()
    rows = [(p.mrn, p.given_name, p.family_name, p.birth_date, p.phone, p.preferred_language,
             p.program, p.care_manager_id, p.billing_practitioner_id, p.enrollment_status,
             p.version, p.updated_at) for p in session.exec(select(Patient))]
    rows += [(str(c.patient_id), c.icd10_code, c.description, c.chronic, c.onset_date,
              c.resolved_date) for c in session.exec(select(Condition))]
    return sorted(rows, key=repr)


HEADER = (DATA / "panel_good.csv").read_text().splitlines()[0]


# --- create, update, unchanged ------------------------------------------------------------


def test_good_csv_creates_patients_with_conditions_team_and_audit(
        session: Session, practice: Practice) -> None:
    report = run(session, practice, "panel_good.csv")
    assert report.complete and report.errors == []
    assert report.totals == {"rows": 9, "patients": 5, "created": 5, "updated": 0,
                             "unchanged": 0, "rejected": 0, "errors": 0, "eligible": 3,
                             "not_eligible": 2}
    found = patients(session)
    rosa = found["P1001"]
    assert (rosa.given_name, rosa.family_name, rosa.birth_date) == ("Rosa", "Garcia",
                                                                   date(1948, 3, 14))
    assert (rosa.phone, rosa.preferred_language, rosa.program) == ("+1-312-555-0101", "es",
                                                                   Program.CCM)
    assert rosa.care_manager_id == user_id(session, "kim")
    assert rosa.billing_practitioner_id == user_id(session, "dr.osei")
    assert {p.enrollment_status for p in found.values()} == {EnrollmentStatus.CANDIDATE}
    assert found["P1005"].preferred_language == "en" and found["P1005"].phone == "312 555 0105"
    assert found["P1003"].program == Program.CCM  # blank program: the default
    codes = conditions_of(session, "P1001")
    assert {code: c.chronic for code, c in codes.items()} == {"E11.9": True, "I10": True,
                                                              "J06.9": False}
    assert codes["J06.9"].resolved_date == date(2025, 10, 20)
    assert conditions_of(session, "P1003")["N18.30"].description == "Chronic kidney disease"
    assert set(conditions_of(session, "P1004")) == {"J44.9", "F33.1", "E78.5"}
    runs = session.exec(select(AuditEvent).where(AuditEvent.action == "patients.import")).all()
    assert len(runs) == 1
    assert runs[0].detail["created"] == 5 and runs[0].detail["list_version"]
    per_patient = session.exec(select(AuditEvent).where(AuditEvent.action == "patient.import"))
    assert {a.patient_id for a in per_patient} == {p.id for p in found.values()}
    assert {o.patient_id for o in report.outcomes} == {p.id for p in found.values()}


def test_importing_the_same_file_twice_changes_nothing_and_says_so(
        session: Session, practice: Practice) -> None:
    run(session, practice, "panel_good.csv")
    before = snapshot(session)
    again = run(session, practice, "panel_good.csv")
    assert snapshot(session) == before
    assert again.totals["unchanged"] == 5 and again.totals["created"] == 0
    assert again.totals["updated"] == 0
    assert cli.summary_line(again).endswith("; nothing changed")
    assert count(session, AuditEvent) == 1 + 5 + 1  # two runs, five patients created once


def test_fhir_bundle_imports_and_reimports_unchanged(session: Session,
                                                     practice: Practice) -> None:
    first = run(session, practice, "bundle_good.json")
    assert [(o.mrn, o.action, o.eligible) for o in first.outcomes] == [
        ("F3001", "created", True), ("F3002", "created", False), ("F3003", "created", True)]
    carmen = conditions_of(session, "F3001")
    assert carmen["S93.401A"].chronic is False
    assert carmen["S93.401A"].resolved_date == date(2025, 2, 14)
    assert "I10" not in conditions_of(session, "F3003")  # entered in error: skipped
    before = snapshot(session)
    second = run(session, practice, "bundle_good.json")
    assert [o.action for o in second.outcomes] == ["unchanged"] * 3
    assert snapshot(session) == before


def test_update_names_the_fields_and_merges_conditions_by_code(
        session: Session, practice: Practice) -> None:
    run(session, practice, "panel_good.csv")
    rosa_before = patients(session)["P1001"]
    version = rosa_before.version
    changed = "\n".join([
        HEADER,
        "P1001,Rosa,Garcia,1948-03-14,312-555-9999,,,dana@riverbend.example,,E119,,,2026-01-31",
        "P1001,,,,,,,,,N18.4,,2024-04-04,",
        "P1001,,,,,,,,,i10,,,",
    ]) + "\n"
    report = run(session, practice, changed)
    (rosa,) = report.outcomes
    assert rosa.action == "updated"
    assert rosa.changes == ("phone", "care_manager", "condition E11.9 resolved_date",
                            "+condition N18.4")
    session.expire_all()
    after = patients(session)["P1001"]
    assert after.phone == "312-555-9999" and after.preferred_language == "es"  # blank: kept
    assert after.care_manager_id == user_id(session, "dana")
    assert after.billing_practitioner_id == user_id(session, "dr.osei")
    assert after.version == version + 1 and after.enrollment_status == EnrollmentStatus.CANDIDATE
    codes = conditions_of(session, "P1001")
    assert sorted(codes) == ["E11.9", "I10", "J06.9", "N18.4"]  # E119 merged, no duplicate
    assert codes["E11.9"].resolved_date == date(2026, 1, 31)
    assert codes["E11.9"].description == "Type 2 diabetes mellitus without complications"
    # E11.9 ended before today: only I10 and N18.4 still count.
    assert rosa.eligibility == "CCM eligible: 2 chronic conditions (chronic kidney disease, " \
                               "hypertension)"


def test_enrolled_patients_keep_status_program_and_consent(session: Session,
                                                           practice: Practice) -> None:
    run(session, practice, "panel_good.csv")
    rosa = patients(session)["P1001"]
    rosa.enrollment_status = EnrollmentStatus.ENROLLED
    session.add(rosa)
    session.add(Consent(patient_id=rosa.id, consented_on=date(2026, 1, 5),
                        obtained_by_id=user_id(session, "kim"),
                        billing_practitioner_id=user_id(session, "dr.osei"),
                        program=Program.CCM))
    session.commit()
    text = HEADER + "\nP1001,Rosa,Garcia,1948-03-14,,,pcm,,np.hart@riverbend.example,,,,\n"
    report = run(session, practice, text)
    (outcome,) = report.outcomes
    assert outcome.action == "unchanged"
    assert outcome.notes == (
        "program kept: the patient is enrolled and it is part of their consent (change it by "
        "re-enrolling in the app)",
        "billing practitioner kept: the patient is enrolled and it is part of their consent "
        "(change it by re-enrolling in the app)")
    session.expire_all()
    rosa = patients(session)["P1001"]
    assert (rosa.program, rosa.enrollment_status) == (Program.CCM, EnrollmentStatus.ENROLLED)
    assert rosa.billing_practitioner_id == user_id(session, "dr.osei")
    consent = session.exec(select(Consent)).one()
    assert consent.revoked_on is None and consent.program == Program.CCM


def test_a_candidate_may_change_program(session: Session, practice: Practice) -> None:
    run(session, practice, "panel_good.csv")
    report = run(session, practice, HEADER + "\nP1003,Mary,Smith,1955-07-30,,,pcm,,,,,,\n")
    (outcome,) = report.outcomes
    assert outcome.changes == ("program",)
    assert outcome.eligibility == "PCM eligible: 1 chronic condition (chronic kidney disease)"
    session.expire_all()
    assert patients(session)["P1003"].program == Program.PCM


# --- dry run ------------------------------------------------------------------------------


def test_dry_run_writes_nothing(session: Session, practice: Practice) -> None:
    report = run(session, practice, "panel_good.csv", dry_run=True)
    assert report.dry_run and report.totals["created"] == 5
    assert [o.patient_id for o in report.outcomes] == [None] * 5
    assert (count(session, Patient), count(session, Condition), count(session, AuditEvent)) \
        == (0, 0, 0)
    assert cli.summary_line(report).startswith("dry run (nothing written): panel_good.csv "
                                               "(csv, 9 rows, 5 patients) into Riverbend: "
                                               "would create 5, update 0")


def test_dry_run_of_an_update_reports_it_without_making_it(session: Session,
                                                           practice: Practice) -> None:
    run(session, practice, "panel_good.csv")
    before = snapshot(session)
    audits = count(session, AuditEvent)
    text = HEADER + "\nP1002,James,Johnson,1941-11-02,312-555-7777,,,,,I48.0,,,\n"
    report = run(session, practice, text, dry_run=True)
    assert [(o.action, o.changes) for o in report.outcomes] == [
        ("updated", ("phone", "+condition I48.0"))]
    assert report.outcomes[0].eligibility == ("PCM eligible: 2 chronic conditions (atrial "
                                              "fibrillation, heart failure)")
    assert snapshot(session) == before and count(session, AuditEvent) == audits


# --- bad rows -----------------------------------------------------------------------------


def test_bad_rows_do_not_stop_good_ones(session: Session, practice: Practice) -> None:
    report = run(session, practice, "panel_broken.csv")
    assert not report.complete
    assert sorted(patients(session)) == ["B2001", "B2010"]
    assert [str(e) for e in report.errors if e.where == "row 9"] == [
        "row 9: care_manager_email: no user with email nobody@riverbend.example in this "
        "practice"]
    assert report.totals == {"rows": 13, "patients": 10, "created": 2, "updated": 0,
                             "unchanged": 0, "rejected": 8, "errors": 9, "eligible": 2,
                             "not_eligible": 0}
    run_audit = session.exec(select(AuditEvent).where(AuditEvent.action == "patients.import"))
    assert run_audit.one().detail["rejected"] == 8


def test_a_patient_with_a_bad_condition_is_not_half_imported(session: Session,
                                                             practice: Practice) -> None:
    run(session, practice, "panel_broken.csv")  # B2002: I10 fine, E1.19 not a code
    run(session, practice, "bundle_broken.json")  # F4004: a SNOMED-only Condition
    found = patients(session)
    assert "B2002" not in found and "F4004" not in found and "F4002" not in found
    assert sorted(found) == ["B2001", "B2010", "F4001", "F4006"]
    assert count(session, Condition) == 2 + 1 + 2 + 1


@pytest.mark.parametrize(("email", "reason"), [
    ("supervisor", "supervisor@riverbend.example is a supervisor, not a care manager"),
    ("gone", "gone@riverbend.example is not an active user"),
    ("stranger", "no user with email stranger@riverbend.example in this practice"),
])
def test_care_manager_must_be_an_active_care_manager_of_the_practice(
        session: Session, practice: Practice, email: str, reason: str) -> None:
    other = Practice(name="Elsewhere")
    session.add(other)
    session.flush()
    session.add(User(practice_id=other.id, name="Stranger", email=f"stranger@{DOMAIN}"))
    session.commit()
    text = HEADER + f"\nX1,Ann,Lee,1950-01-01,,,,{email}@{DOMAIN},,I10,,,\n" \
                    "X2,Bo,Lee,1951-01-01,,,,KIM@riverbend.example,,I10,,,\n"
    report = run(session, practice, text)
    assert [str(e) for e in report.errors] == [f"row 2: care_manager_email: {reason}"]
    assert sorted(patients(session)) == ["X2"]
    assert patients(session)["X2"].care_manager_id == user_id(session, "kim")


def test_billing_practitioner_must_be_one_and_both_problems_are_told(
        session: Session, practice: Practice) -> None:
    text = HEADER + "\nX1,Ann,Lee,1950-01-01,,,,gone@riverbend.example,kim@riverbend.example," \
                    "I10,,,\n"
    report = run(session, practice, text)
    assert [str(e) for e in report.errors] == [
        "row 2: care_manager_email: gone@riverbend.example is not an active user",
        "row 2: billing_practitioner_email: kim@riverbend.example is not a billing "
        "practitioner"]
    assert [o.action for o in report.outcomes] == ["rejected"]
    assert patients(session) == {}


def test_a_patient_the_database_refuses_costs_only_itself(
        session: Session, practice: Practice, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal inside a batch (say, the same MRN added meanwhile by someone else) rolls
    back that batch's SAVEPOINT; the batch is retried patient by patient."""
    real_write = panel_import._write_batch

    def refusing(session: Session, practice: Practice, plans: list, *args: object) -> dict:
        written = real_write(session, practice, plans, *args)  # rows really are written...
        if any(p.record.mrn == "P1003" for p in plans):
            raise IntegrityError("INSERT", {}, Exception("duplicate key value (simulated)"))
        return written

    monkeypatch.setattr(panel_import, "_write_batch", refusing)
    report = run(session, practice, "panel_good.csv")
    assert [str(e) for e in report.errors] == [
        "row 6: patient: the database refused it: duplicate key value (simulated)"]
    assert [(o.mrn, o.action) for o in report.outcomes] == [
        ("P1001", "created"), ("P1002", "created"), ("P1003", "rejected"),
        ("P1004", "created"), ("P1005", "created")]
    session.expire_all()
    assert sorted(patients(session)) == ["P1001", "P1002", "P1004", "P1005"]  # ...and undone
    assert count(session, Condition) == 3 + 1 + 3
    assert count(session, AuditEvent) == 1 + 4


# --- eligibility --------------------------------------------------------------------------


def test_eligibility_is_reported_per_patient_with_totals(session: Session,
                                                         practice: Practice) -> None:
    report = run(session, practice, "panel_good.csv")
    assert {o.mrn: o.eligibility for o in report.outcomes} == {
        "P1001": "CCM eligible: 2 chronic conditions (diabetes, hypertension); not on the "
                 "chronic list: J06.9",
        "P1002": "PCM eligible: 1 chronic condition (heart failure)",
        "P1003": "CCM not eligible: CCM needs at least 2 chronic conditions; 1 on file "
                 "(chronic kidney disease)",
        "P1004": "Complex CCM eligible: 3 chronic conditions (COPD or bronchiectasis, "
                 "depression, hyperlipidemia)",
        "P1005": "CCM not eligible: CCM needs at least 2 chronic conditions; 0 on file",
    }
    assert (report.totals["eligible"], report.totals["not_eligible"]) == (3, 2)


def test_conditions_already_on_file_count_and_resolved_ones_do_not(
        session: Session, practice: Practice) -> None:
    run(session, practice, "panel_good.csv")
    mary = patients(session)["P1003"]
    session.add(Condition(patient_id=mary.id, icd10_code="E78.5", description="Lipids",
                          chronic=True))
    session.add(Condition(patient_id=mary.id, icd10_code="I10", description="BP", chronic=True,
                          resolved_date=date(2025, 1, 1)))
    session.commit()
    report = run(session, practice, HEADER + "\nP1003,Mary,Smith,1955-07-30,,,,,,,,,\n")
    assert report.outcomes[0].action == "unchanged"
    assert report.outcomes[0].eligibility == ("CCM eligible: 2 chronic conditions (chronic "
                                              "kidney disease, hyperlipidemia)")


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def cli_db(db_url: str, practice: Practice,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`run_import` in this process, on the test database (engines are cached per URL)."""

    def scope() -> AbstractContextManager[Session]:
        return session_scope(db_url)

    monkeypatch.setattr(cli, "session_scope", scope)
    yield db_url


def cli_run(*argv: str) -> int:
    args = build_parser().parse_args(["import", "patients", *argv])
    return cli.run_import(args)


def test_cli_exit_1_lists_bad_rows_and_still_imports_good_ones(
        cli_db: str, session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_run(str(DATA / "panel_broken.csv"), "--dry-run") == 1
    dry = capsys.readouterr()
    assert dry.err == "" and count(session, Patient) == 0
    assert dry.out.startswith("dry run (nothing written): ")
    assert "row 7: birth_date: not a date (YYYY-MM-DD): '1950-13-01'\n" in dry.out
    assert cli_run(str(DATA / "panel_broken.csv")) == 1
    real = capsys.readouterr().out
    assert real.splitlines()[0].endswith(
        "into Riverbend: 2 created, 0 updated, 0 unchanged, 8 rejected (9 errors); "
        "eligible 2, not eligible 0")
    assert real.splitlines()[1:10] == dry.out.splitlines()[1:10]
    assert "  rejected  B2002     rows 4, 5: not imported, see the errors above" in real
    session.rollback()  # a fresh read: the command committed in its own session
    assert sorted(patients(session)) == ["B2001", "B2010"]


def test_cli_exit_0_and_json_report(cli_db: str, session: Session,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_run(str(DATA / "bundle_good.json"), "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["complete"] is True and document["dry_run"] is False
    assert document["totals"]["created"] == 3
    assert [p["mrn"] for p in document["patients"]] == ["F3001", "F3002", "F3003"]
    assert document["patients"][0]["patient_id"] == str(patients(session)["F3001"].id)
    assert cli_run(str(DATA / "bundle_good.json")) == 0
    assert "3 unchanged, 0 rejected; eligible 2, not eligible 1; nothing changed" in \
        capsys.readouterr().out


def test_cli_detects_the_format_from_the_content(cli_db: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "panel-export"
    shutil.copy(DATA / "bundle_good.json", export)
    assert cli_run(str(export), "--dry-run") == 0
    assert "(fhir, 11 entries, 3 patients)" in capsys.readouterr().out


@pytest.mark.parametrize(("make", "argv", "message"), [
    (None, ["missing.csv"], "cannot read {dir}/missing.csv: No such file or directory"),
    (b"\xff\xfe\x00m\x00r\x00n", ["latin.csv"], "{dir}/latin.csv is not UTF-8 text (byte 0); "
                                                "save it as CSV UTF-8 or JSON"),
    (b"mrn,name\nA1,Rosa\n", ["short.csv"], "{dir}/short.csv: not a panel CSV: missing "
                                            "required column(s) given_name, family_name, "
                                            "birth_date in the header line"),
    (b'{"resourceType": "Patient"}', ["one.json"], "{dir}/one.json: not a FHIR Bundle "
                                                   "(resourceType is 'Patient')"),
    (b"mrn,given_name\n", ["panel.csv", "--format", "fhir"],
     "{dir}/panel.csv: not JSON: line 1 column 1: Expecting value"),
    (b"", ["empty.csv", "--practice", "Nowhere"], "no practice named 'Nowhere'"),
])
def test_cli_exit_2_when_the_file_or_practice_is_unusable(
        cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        make: bytes | None, argv: list[str], message: str) -> None:
    if make is not None:
        (tmp_path / argv[0]).write_bytes(make)
    assert cli_run(str(tmp_path / argv[0]), *argv[1:]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"ccm-pwa: error: {message.format(dir=tmp_path)}\n"


def test_cli_exit_2_when_several_practices_and_none_named(
        cli_db: str, session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    session.add(Practice(name="Lakeside"))
    session.commit()
    assert cli_run(str(DATA / "panel_good.csv")) == 2
    assert capsys.readouterr().err == ("ccm-pwa: error: several practices exist: say which "
                                       "with --practice\n")
    assert cli_run(str(DATA / "panel_good.csv"), "--practice", "Riverbend") == 0


def test_cli_through_the_real_command(db_url: str, practice: Practice) -> None:
    result = run_cli("import", "patients", str(DATA / "panel_broken.csv"), db_url=db_url)
    assert result.returncode == 1, result.stderr
    assert "row 9: care_manager_email: no user with email nobody@riverbend.example in this " \
           "practice" in result.stdout
    bad = run_cli("import", "patients", str(DATA / "panel_good.csv"), "--format", "xml",
                  db_url=db_url)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "invalid choice" in bad.stderr


def test_parser_accepts_the_documented_options() -> None:
    args = build_parser().parse_args(["import", "patients", "f.csv", "--format", "csv",
                                      "--dry-run", "--practice", "P", "--json"])
    assert isinstance(args, argparse.Namespace)
    assert (args.file, args.format, args.dry_run, args.practice, args.json) == (
        "f.csv", "csv", True, "P", True)
    assert cli.detect_format("x.CSV", "{") == "csv"
    assert cli.detect_format("x.json", "mrn") == "fhir"
    assert cli.detect_format("export", "  {\"resourceType\"") == "fhir"
    assert cli.detect_format("export", "mrn,given_name") == "csv"
