"""Month close on the demo practice: each check catches its planted defect, the close
locks the month against every writer of time, and the outputs match the billing engine."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.domain.billing import evaluate_month
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.models import (
    Activity,
    AuditEvent,
    CarePlan,
    Condition,
    Consent,
    EnrollmentStatus,
    MonthClose,
    MonthStatus,
    Patient,
    PatientMonth,
    Practice,
    Program,
    Role,
    TimeEntry,
    TimeEntryReview,
    TimeSource,
    User,
)
from ccm_pwa.services.billing_cases import load_month_inputs
from ccm_pwa.services.demo_practice import create_demo_practice
from ccm_pwa.services.month_close import MonthCloseError, close_checks, close_month, reopen_month
from ccm_pwa.services.month_packets import billing_csv, packets_zip
from ccm_pwa.services.review_queue import ReviewError, accept_entry, review_items, void_entry
from ccm_pwa.services.time_entries import TimeEntryError, record_time_entry, void_time_entry

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 18, tzinfo=UTC)
OCTOBER = YearMonth(2026, 10)


class Demo:
    def __init__(self, session: Session) -> None:
        self.session = session
        create_demo_practice(session=session, patients=120, care_managers=3, seed=11,
                             today=TODAY)
        session.commit()
        self.practice = session.exec(select(Practice)).one()
        users = {u.name: u for u in session.exec(select(User))}
        self.supervisor, self.kim = users["Renee Walsh"], users["Kim Alvarez"]
        self.admin = session.exec(select(User).where(User.role == Role.ADMIN)).one()

    def checks(self, month: YearMonth = OCTOBER) -> dict:
        return {c.name: c for c in close_checks(session=self.session, practice=self.practice,
                                                month=month, now=NOW)}

    def logged_october_minutes(self, patient: Patient) -> int:
        [item] = load_month_inputs(session=self.session, practice=self.practice,
                                   month=OCTOBER, patient_ids=[patient.id])
        return sum(e.duration_seconds for e in item.entries if e.id not in item.voided) // 60

    def enrolled(self) -> list[Patient]:
        return list(self.session.exec(select(Patient).where(
            Patient.enrollment_status == EnrollmentStatus.ENROLLED)))

    def planted_entries(self) -> list[TimeEntry]:
        manager = self.session.exec(select(User).where(User.name == "Kim Alvarez")).one()
        return [e for e in self.session.exec(select(TimeEntry).where(
            TimeEntry.performer_id == manager.id, TimeEntry.duration_seconds == 24 * 60))
                if e.note.startswith("Reviewed home readings")]


@pytest.fixture
def demo(session: Session) -> Demo:
    return Demo(session)


def _mrns(check) -> set[str]:
    return {f.mrn for f in check.findings}


def test_each_check_catches_its_planted_defect(demo: Demo) -> None:
    checks = demo.checks()
    assert list(checks) == ["consent", "conditions", "care_plan", "counted_once", "one_lane",
                            "add_on_base", "review_items"]
    enrolled = demo.enrolled()
    # one chronic condition (CCM needs two): held back from the claim, and said so
    single = [p for p in enrolled if p.program != Program.PCM
              and len(demo.session.exec(select(Condition).where(
                  Condition.patient_id == p.id, Condition.chronic)).all()) == 1
              and demo.logged_october_minutes(p) >= 20]
    assert single and {p.mrn for p in single} <= _mrns(checks["conditions"])
    # no care plan
    no_plan = [p for p in enrolled if demo.session.exec(select(CarePlan).where(
        CarePlan.patient_id == p.id)).first() is None
        and demo.logged_october_minutes(p) >= (30 if p.program == Program.PCM else 20)]
    assert no_plan and {p.mrn for p in no_plan} <= _mrns(checks["care_plan"])
    # consent given in November for time logged in October
    late_consent = [p for p in enrolled if demo.session.exec(select(Consent).where(
        Consent.patient_id == p.id)).one().consented_on >= date(2026, 11, 1)
        and demo.logged_october_minutes(p) >= (30 if p.program == Program.PCM else 20)]
    assert late_consent and {p.mrn for p in late_consent} <= _mrns(checks["consent"])
    for name in ("consent", "conditions", "care_plan"):
        assert checks[name].passed and not any(f.blocking for f in checks[name].findings)
    # the same 24 minutes logged on two patients: both claims need them
    planted = demo.planted_entries()
    assert len(planted) == 2
    counted = checks["counted_once"]
    assert not counted.passed and counted.blocks_close
    blocking = [f for f in counted.findings if f.blocking]
    assert {f.patient_id for f in blocking} == {str(e.patient_id) for e in planted}
    assert all({str(e.id) for e in planted} <= set(f.entry_ids) for f in blocking)
    # manual entries wait for review: a warning, not a block
    review = checks["review_items"]
    assert review.severity == "warning" and not review.blocks_close
    manual = demo.session.exec(select(TimeEntry).where(TimeEntry.source == TimeSource.MANUAL,
                                                       TimeEntry.started_at < NOW)).all()
    assert any("manual" in f.reason for f in review.findings) and manual
    assert checks["one_lane"].passed and checks["add_on_base"].passed
    # voided entries never reach the claim
    csv_minutes = {r["mrn"]: int(r["minutes"]) for r in csv.DictReader(io.StringIO(
        billing_csv(session=demo.session, practice=demo.practice, month=OCTOBER)))}
    for item in load_month_inputs(session=demo.session, practice=demo.practice, month=OCTOBER):
        if item.voided & {e.id for e in item.entries} and item.patient.mrn in csv_minutes:
            counted_seconds = evaluate_month(item.case).time.countable_seconds
            assert csv_minutes[item.patient.mrn] == counted_seconds // 60


def test_close_refused_then_fixed_locks_the_month_and_reopens(demo: Demo) -> None:
    session = demo.session
    with pytest.raises(MonthCloseError, match="counted_once") as refused:
        close_month(session=session, practice=demo.practice, month=OCTOBER, by=demo.supervisor,
                    now=NOW)
    assert any(c.blocks_close for c in refused.value.checks)
    with pytest.raises(MonthCloseError, match="has not ended"):
        close_month(session=session, practice=demo.practice, month=YearMonth(2026, 11),
                    by=demo.supervisor, now=NOW)
    # the supervisor voids the late manual copy from the review queue
    manual = next(e for e in demo.planted_entries() if e.source == TimeSource.MANUAL)
    items = {i.id: i for i in review_items(session=session, viewer=demo.supervisor, now=NOW)}
    assert {"manual", "backdated_manual", "overlap"} <= set(items[str(manual.id)].reasons)
    void_entry(session=session, viewer=demo.supervisor, entry_id=manual.id,
               reason="Same call logged on the wrong patient", now=NOW)
    state = close_month(session=session, practice=demo.practice, month=OCTOBER,
                        by=demo.supervisor, now=NOW)
    session.commit()
    assert (state.status, state.closed_by) == ("closed", "Renee Walsh")
    row = session.exec(select(MonthClose)).one()
    assert row.status == MonthStatus.CLOSED and row.closed_by_id == demo.supervisor.id
    close_audit = session.exec(select(AuditEvent).where(
        AuditEvent.action == "month.close", AuditEvent.outcome == "success")).one()
    text = billing_csv(session=session, practice=demo.practice, month=OCTOBER)
    assert close_audit.detail["claim_lines"] == text.count("\n") - 1
    # locked: manual entry, void and review decisions for October are refused
    patient = session.get(Patient, manual.patient_id)
    with pytest.raises(TimeEntryError, match="2026-10 is closed"):
        record_time_entry(session=session, patient_id=patient.id, performer=demo.kim,
                          started_at=datetime(2026, 10, 20, 15, tzinfo=UTC),
                          duration_seconds=600, activity=Activity.CARE_COORDINATION,
                          source=TimeSource.MANUAL)
    other = next(e for e in demo.planted_entries() if e.source == TimeSource.TIMER)
    with pytest.raises(TimeEntryError, match="closed"):
        void_time_entry(session=session, entry_id=other.id, reason="x", voided_by=demo.kim)
    october_item = next(i for i in review_items(session=session, viewer=demo.supervisor,
                                                now=NOW, months=[OCTOBER])
                        if i.kind == "time_entry")
    assert october_item.month_closed and not october_item.decidable
    with pytest.raises(ReviewError, match="closed"):
        accept_entry(session=session, viewer=demo.supervisor, entry_id=october_item.id,
                     reason="ok", now=NOW)
    # November is open
    record_time_entry(session=session, patient_id=patient.id, performer=demo.kim,
                      started_at=datetime(2026, 11, 20, 15, tzinfo=UTC), duration_seconds=600,
                      activity=Activity.CARE_COORDINATION)
    with pytest.raises(MonthCloseError, match="already closed"):
        close_month(session=session, practice=demo.practice, month=OCTOBER, by=demo.supervisor,
                    now=NOW)
    with pytest.raises(MonthCloseError, match="needs a reason"):
        reopen_month(session=session, practice=demo.practice, month=OCTOBER, by=demo.supervisor,
                     reason=" ", now=NOW)
    reopened = reopen_month(session=session, practice=demo.practice, month=OCTOBER,
                            by=demo.supervisor, reason="Late consent found on paper", now=NOW)
    session.commit()
    assert (reopened.status, reopened.reopened_reason) == ("open", "Late consent found on paper")
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "month.reopen")).one()
    assert audit.user_id == demo.supervisor.id
    assert audit.detail["reason"] == "Late consent found on paper"
    record_time_entry(session=session, patient_id=patient.id, performer=demo.kim,
                      started_at=datetime(2026, 10, 20, 15, tzinfo=UTC), duration_seconds=600,
                      activity=Activity.CARE_COORDINATION, source=TimeSource.MANUAL)


def test_csv_totals_equal_the_billing_engine(demo: Demo) -> None:
    text = billing_csv(session=demo.session, practice=demo.practice, month=OCTOBER)
    rows = list(csv.DictReader(io.StringIO(text)))
    lines, total = 0, Decimal("0.00")
    for item in load_month_inputs(session=demo.session, practice=demo.practice, month=OCTOBER):
        evaluation = evaluate_month(item.case)
        lines += len(evaluation.claim_lines)
        total += evaluation.total_amount
    assert len(rows) == lines > 0
    assert sum((Decimal(r["amount"]) for r in rows if r["amount"]), Decimal("0.00")) == total
    archive = zipfile.ZipFile(io.BytesIO(packets_zip(session=demo.session,
                                                     practice=demo.practice, month=OCTOBER)))
    names = archive.namelist()
    assert "ccm-2026-10/claims.csv" in names and "ccm-2026-10/index.html" in names
    assert archive.read("ccm-2026-10/claims.csv").decode() == text
    packets = [n for n in names if n.startswith("ccm-2026-10/packets/")]
    assert len(packets) == len({r["mrn"] for r in rows})
    first = archive.read(packets[0]).decode()
    assert "Consent" in first and "Care plan in force" in first and "Time log" in first


def test_review_decisions_are_audited_and_a_void_moves_the_rollup(demo: Demo) -> None:
    session = demo.session
    items = [i for i in review_items(session=session, viewer=demo.supervisor, now=NOW)
             if i.kind == "time_entry" and i.month == "2026-11"]
    first, second = items[0], items[1]
    entry = session.get(TimeEntry, uuid.UUID(first.id))
    rollup = session.exec(select(PatientMonth).where(PatientMonth.patient_id == entry.patient_id,
                                                     PatientMonth.month == "2026-11")).one()
    seconds_before = rollup.staff_seconds + rollup.practitioner_seconds
    void_entry(session=session, viewer=demo.supervisor, entry_id=first.id,
               reason="Duplicate of the timed call", now=NOW)
    accept_entry(session=session, viewer=demo.supervisor, entry_id=second.id,
                 reason="Confirmed with Kim", now=NOW)
    session.commit()
    session.refresh(rollup)
    assert rollup.staff_seconds + rollup.practitioner_seconds < seconds_before
    decisions = {str(r.time_entry_id): r.decision
                 for r in session.exec(select(TimeEntryReview))}
    assert decisions == {first.id: "voided", second.id: "accepted"}
    audits = session.exec(select(AuditEvent).where(AuditEvent.action.in_(
        ["review.void", "review.accept"]))).all()
    assert {(a.action, a.user_id) for a in audits} == {
        ("review.void", demo.supervisor.id), ("review.accept", demo.supervisor.id)}
    left = {i.id for i in review_items(session=session, viewer=demo.supervisor, now=NOW)}
    assert first.id not in left and second.id not in left
    with pytest.raises(ReviewError, match="already accepted"):
        void_entry(session=session, viewer=demo.supervisor, entry_id=second.id, reason="no",
                   now=NOW)
    with pytest.raises(ReviewError, match="needs a reason"):
        void_entry(session=session, viewer=demo.supervisor, entry_id=items[2].id, reason="",
                   now=NOW)


def test_care_managers_have_no_supervisor_services(demo: Demo) -> None:
    from ccm_pwa.services.program_month import program_month  # noqa: F401 (no role: route's)
    from ccm_pwa.services.team_today import team_today

    kim, session = demo.kim, demo.session
    entry = session.exec(select(TimeEntry).where(TimeEntry.performer_id == kim.id)).first()
    calls = [
        lambda: team_today(session=session, viewer=kim, month=OCTOBER, now=NOW),
        lambda: review_items(session=session, viewer=kim, now=NOW),
        lambda: accept_entry(session=session, viewer=kim, entry_id=entry.id, reason="", now=NOW),
        lambda: close_month(session=session, practice=demo.practice, month=OCTOBER, by=kim,
                            now=NOW),
        lambda: reopen_month(session=session, practice=demo.practice, month=OCTOBER, by=kim,
                             reason="x", now=NOW),
    ]
    for call in calls:
        with pytest.raises(AccessDenied):
            call()
    count = session.execute(sa.select(sa.func.count()).select_from(TimeEntryReview)).scalar()
    assert count == 0


def test_a_supervisor_outside_the_team_sees_redacted_findings(demo: Demo) -> None:
    from ccm_pwa.services.users import create_user

    lonely = create_user(session=demo.session, practice_id=demo.practice.id,
                         email="lonely@x.example", name="Lonely", role=Role.SUPERVISOR).user
    checks = close_checks(session=demo.session, practice=demo.practice, month=OCTOBER,
                          viewer=lonely, now=NOW)
    findings = [f for c in checks for f in c.findings]
    assert findings and all(f.mrn == "" and f.patient_id is None for f in findings)
    assert any(c.blocks_close for c in checks)  # the verdict still stands
    assert review_items(session=demo.session, viewer=lonely, now=NOW) == []


def test_team_rows_agree_with_the_rollups(demo: Demo) -> None:
    from ccm_pwa.services.team_progress import team_progress
    from ccm_pwa.services.team_today import team_today

    november = YearMonth(2026, 11)
    rows = {r.care_manager_id: r for r in team_today(session=demo.session,
                                                     viewer=demo.supervisor, month=november,
                                                     now=NOW)}
    expected = {str(r.care_manager_id): r for r in team_progress(
        session=demo.session, practice=demo.practice, month=november)}
    assert set(rows) == set(expected)
    for key, row in rows.items():
        assert row.enrolled_patients == expected[key].enrolled_patients
        assert row.billable_patients == expected[key].billable_patients
        assert row.countable_minutes == expected[key].countable_minutes
        assert row.expected_amount_cents == expected[key].expected_amount_cents
        assert row.at_base_code >= row.at_first_add_on >= row.at_second_add_on
        assert (row.billable_patients + row.at_risk_patients + row.blocked_patients
                <= row.enrolled_patients)
        assert row.last_activity_at is not None
    assert sum(r.review_items for r in rows.values()) == len(
        review_items(session=demo.session, viewer=demo.supervisor, now=NOW))
    # minutes this week: the entries of Monday to Sunday around "now"
    kim = rows[str(demo.kim.id)]
    monday = datetime(2026, 11, 23, 6, tzinfo=UTC)  # local midnight, Chicago (CST)
    week = demo.session.exec(select(TimeEntry).where(
        TimeEntry.performer_id == demo.kim.id, TimeEntry.started_at >= monday,
        TimeEntry.started_at < monday + timedelta(days=7))).all()
    assert kim.minutes_this_week == sum(e.duration_seconds for e in week) // 60


def test_program_month_figures_and_funnel(demo: Demo) -> None:
    from ccm_pwa.services.program_month import program_month

    november = program_month(session=demo.session, practice=demo.practice,
                             month=YearMonth(2026, 11), care_manager_id=None, now=NOW)
    funnel = november.funnel
    assert (funnel.eligible >= funnel.consented >= funnel.enrolled >= funnel.reached
            >= funnel.billable > 0)
    assert funnel.billable == november.billable_patients
    assert november.projected_revenue_cents >= november.revenue_cents
    assert november.projected_claim_lines >= november.claim_lines
    assert [h.month for h in november.history] == [
        "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
    october = november.history[-1]
    rows = list(csv.DictReader(io.StringIO(billing_csv(session=demo.session,
                                                        practice=demo.practice,
                                                        month=OCTOBER))))
    assert october.claim_lines == len(rows)
    assert october.revenue_cents == int(sum(Decimal(r["amount"]) for r in rows if r["amount"])
                                        * 100)
    per_manager = [program_month(session=demo.session, practice=demo.practice,
                                 month=YearMonth(2026, 11), care_manager_id=u.id, now=NOW)
                   for u in demo.session.exec(select(User).where(
                       User.supervisor_id == demo.supervisor.id))]
    assert sum(p.billable_patients for p in per_manager) == november.billable_patients
    assert sum(p.funnel.enrolled for p in per_manager) == funnel.enrolled
    past = program_month(session=demo.session, practice=demo.practice, month=OCTOBER,
                         care_manager_id=None, now=NOW)
    assert past.projected_revenue_cents == past.revenue_cents
    assert past.projected_claim_lines == past.claim_lines == len(rows)
