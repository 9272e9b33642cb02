"""The month's claim lines and audit packets come out of the demo practice consistently."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.models import Patient, PatientMonth, Practice
from ccm_pwa.services.audit_packet_html import render_packet_html
from ccm_pwa.services.billing_report import (
    CSV_COLUMNS,
    audit_packet,
    claim_rows,
    report_summary,
    rows_as_csv,
)
from ccm_pwa.services.demo_practice import create_demo_practice
from ccm_pwa.services.team_progress import team_progress, team_progress_from_events

OCTOBER = YearMonth(2026, 10)
BASE_CODES = {"99490", "99487", "99491", "99424", "99426"}
ADD_ON_OF = {"99439": "99490", "99489": "99487", "99437": "99491", "99425": "99424",
             "99427": "99426"}


@pytest.fixture
def demo(session: Session) -> Practice:
    create_demo_practice(session=session, patients=120, care_managers=3, seed=11,
                         today=date(2026, 11, 23))
    session.commit()
    return session.exec(select(Practice)).one()


def test_claim_lines_obey_the_program_rules(session: Session, demo: Practice) -> None:
    rows = claim_rows(session=session, practice=demo, month=OCTOBER)
    assert len(rows) > 20
    by_patient = defaultdict(list)
    for row in rows:
        by_patient[row.mrn].append(row)
    for mrn, lines in by_patient.items():
        codes = [line.code for line in lines]
        assert sum(code in BASE_CODES for code in codes) == 1, (mrn, codes)  # one lane
        for code in codes:
            if code in ADD_ON_OF:
                assert ADD_ON_OF[code] in codes  # never an add-on without its base
        assert len({line.lane for line in lines}) == 1
        assert len(lines[0].diagnosis_codes.split()) >= 1
        minutes = lines[0].minutes
        assert minutes >= 20
        if "99439" in codes:
            units = next(line.units for line in lines if line.code == "99439")
            assert units <= 2 and minutes >= 20 + 20 * units
        for line in lines:
            assert line.date_of_service.startswith("2026-10")
            assert line.billing_practitioner_npi


def test_report_agrees_with_rollups(session: Session, demo: Practice) -> None:
    rows = claim_rows(session=session, practice=demo, month=OCTOBER)
    rollups = session.exec(select(PatientMonth).where(PatientMonth.month == "2026-10",
                                                      PatientMonth.billable)).all()
    assert len({r.mrn for r in rows}) == len(rollups)
    expected = sum(r.expected_amount_cents for r in rollups)
    assert report_summary(rows)["expected_amount"] == f"{Decimal(expected) / 100:.2f}"


def test_csv_has_one_line_per_claim_line(session: Session, demo: Practice) -> None:
    rows = claim_rows(session=session, practice=demo, month=OCTOBER)
    parsed = list(csv.DictReader(io.StringIO(rows_as_csv(rows))))
    assert len(parsed) == len(rows)
    assert list(parsed[0]) == CSV_COLUMNS


def test_audit_packet_explains_every_entry(session: Session, demo: Practice) -> None:
    rows = claim_rows(session=session, practice=demo, month=OCTOBER)
    patient = session.exec(select(Patient).where(Patient.mrn == rows[0].mrn)).one()
    packet = audit_packet(session=session, practice=demo, month=OCTOBER, patient=patient)
    assert packet["result"]["billable"] is True
    assert packet["consent"]["disclosures"]["cost_sharing"] is True
    assert packet["care_plan"]["elements"]["measurable_goals"]["version"] == 1
    log = packet["time_log"]
    counted = sum(entry["counted_seconds"] for entry in log)
    assert counted // 60 == packet["result"]["countable_minutes"]
    for entry in log:
        if entry["voided"]:
            assert entry["counted_seconds"] == 0 and entry["excluded"]
    html = render_packet_html(packet)
    assert patient.mrn in html and "Time log" in html and "<script" not in html


def test_unbillable_patient_packet_says_why(session: Session, demo: Practice) -> None:
    billed = {r.mrn for r in claim_rows(session=session, practice=demo, month=OCTOBER)}
    patient = next(p for p in session.exec(select(Patient).order_by(Patient.mrn))
                   if p.mrn not in billed)
    packet = audit_packet(session=session, practice=demo, month=OCTOBER, patient=patient)
    assert packet["result"]["billable"] is False
    assert packet["result"]["reasons"]


def test_team_progress_from_rollups_equals_recompute(session: Session, demo: Practice) -> None:
    for month in (OCTOBER, YearMonth(2026, 11)):
        from_rollups = team_progress(session=session, practice=demo, month=month)
        assert from_rollups == team_progress_from_events(session=session, practice=demo,
                                                         month=month)
        assert sum(r.billable_patients for r in from_rollups) > 0
        assert sum(r.enrolled_patients for r in from_rollups) > 80
