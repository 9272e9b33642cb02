"""The month's claim lines and each billed patient's audit packet, straight from the engine."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from ccm_pwa.domain.billing import ClaimLine, MonthEvaluation, evaluate_month
from ccm_pwa.domain.calendar import YearMonth, month_bounds
from ccm_pwa.domain.spreadsheet_cells import csv_text
from ccm_pwa.models import CarePlanRevision, Patient, Practice, User
from ccm_pwa.services.billing_cases import PatientMonthInput, load_month_inputs


@dataclass(frozen=True)
class ClaimRow:
    """One claim line, in the columns a biller keys into the practice-management system."""

    month: str
    mrn: str
    patient_name: str
    birth_date: str
    billing_practitioner: str
    billing_practitioner_npi: str
    code: str
    units: int
    minutes: int
    diagnosis_codes: str
    date_of_service: str
    amount: str
    lane: str


CSV_COLUMNS = list(ClaimRow.__dataclass_fields__)


def claim_rows(*, session: Session, practice: Practice, month: YearMonth) -> list[ClaimRow]:
    """Every claim line of the month, patients in MRN order, base code before add-on."""
    practitioners = _practitioners(session, practice)
    rows = []
    for item in load_month_inputs(session=session, practice=practice, month=month):
        evaluation = evaluate_month(item.case)
        if not evaluation.billable or evaluation.chosen is None:
            continue
        practitioner = practitioners.get(item.patient.billing_practitioner_id)
        for line in evaluation.claim_lines:
            rows.append(ClaimRow(
                month=str(month), mrn=item.patient.mrn,
                patient_name=f"{item.patient.family_name}, {item.patient.given_name}",
                birth_date=item.patient.birth_date.isoformat(),
                billing_practitioner=practitioner.name if practitioner else "",
                billing_practitioner_npi=practitioner.npi if practitioner else "",
                code=line.code, units=line.units,
                minutes=evaluation.time.countable_seconds // 60,
                diagnosis_codes=" ".join(sorted(c.icd10_code for c in item.conditions)),
                date_of_service=line.date_of_service.isoformat(),
                amount=_amount(line), lane=evaluation.chosen.lane.key))
    return rows


def _amount(line: ClaimLine) -> str:
    """Blank when the fee table has no amount for the code: a biller must look it up."""
    return f"{line.amount:.2f}" if line.unit_fee is not None else ""


def rows_as_csv(rows: list[ClaimRow]) -> str:
    """Cells that a spreadsheet would run as formulas are made inert (spreadsheet_cells)."""
    return csv_text(CSV_COLUMNS, (asdict(row) for row in rows))


def report_summary(rows: list[ClaimRow]) -> dict[str, object]:
    total = sum((Decimal(r.amount) for r in rows if r.amount), Decimal("0.00"))
    return {"claim_lines": len(rows), "patients": len({r.mrn for r in rows}),
            "expected_amount": f"{total:.2f}",
            "lines_without_fee": sum(1 for r in rows if not r.amount)}


def audit_packet(
    *, session: Session, practice: Practice, month: YearMonth, patient: Patient
) -> dict[str, object]:
    """Everything an auditor asks for about one patient-month, in one document (rules §5)."""
    [item] = load_month_inputs(session=session, practice=practice, month=month,
                               patient_ids=[patient.id])
    evaluation = evaluate_month(item.case)
    people = {u.id: u for u in session.exec(select(User).where(User.practice_id == practice.id))}
    return {
        "practice": practice.name,
        "month": str(month),
        "time_zone": practice.timezone,
        "patient": {"mrn": patient.mrn, "name": f"{patient.given_name} {patient.family_name}",
                    "birth_date": patient.birth_date.isoformat(), "program": patient.program},
        "billing_practitioner": _person(people.get(patient.billing_practitioner_id)),
        "result": _result(evaluation),
        "chronic_conditions": [{"code": c.icd10_code, "description": c.description,
                                "onset": _iso(c.onset_date)} for c in item.conditions],
        "consent": _consent(item, people),
        "care_plan": _care_plan(session, item, month, people, practice.timezone),
        "time_log": _time_log(item, evaluation, people, ZoneInfo(practice.timezone)),
    }


def _result(evaluation: MonthEvaluation) -> dict[str, object]:
    return {
        "billable": evaluation.billable,
        "lane": evaluation.chosen.lane.name if evaluation.billable and evaluation.chosen else None,
        "countable_minutes": evaluation.time.countable_seconds // 60,
        "claim_lines": [{"code": line.code, "units": line.units,
                         "date_of_service": line.date_of_service.isoformat(),
                         "amount": _amount(line)} for line in evaluation.claim_lines],
        "reasons": list(evaluation.reasons),
        "notes": list(evaluation.notes),
    }


def _consent(item: PatientMonthInput, people: dict) -> dict[str, object] | None:
    consent = item.consent
    if consent is None:
        return None
    return {
        "date": consent.consented_on.isoformat(), "method": consent.method,
        "disclosures": {"service_explained": consent.disclosed_service,
                        "cost_sharing": consent.disclosed_cost_sharing,
                        "one_practitioner_per_month": consent.disclosed_one_practitioner,
                        "may_stop_any_time": consent.disclosed_stop_anytime},
        "obtained_by": _person(people.get(consent.obtained_by_id)),
        "billing_practitioner": _person(people.get(consent.billing_practitioner_id)),
        "revoked_on": _iso(consent.revoked_on),
    }


def _care_plan(session: Session, item: PatientMonthInput, month: YearMonth,
               people: dict, plan_zone: str) -> dict[str, object] | None:
    """The plan as it stood at month end: the newest version of each element by then."""
    plan = item.care_plan
    if plan is None:
        return None
    _start, month_end = month_bounds(month, ZoneInfo(plan_zone))
    revisions = session.exec(select(CarePlanRevision)
                             .where(CarePlanRevision.care_plan_id == plan.id)
                             .order_by(CarePlanRevision.element, CarePlanRevision.version))
    elements: dict[str, dict[str, object]] = {}
    for revision in revisions:
        if revision.occurred_at < month_end:
            elements[revision.element] = {
                "version": revision.version, "value": revision.value,
                "author": _person(people.get(revision.author_id)),
                "recorded": revision.occurred_at.isoformat()}
    return {"established_on": plan.established_on.isoformat(),
            "signed_by": _person(people.get(plan.signed_by_id)),
            "copy_given_on": _iso(plan.copy_given_on), "copy_method": plan.copy_given_method,
            "next_review_on": _iso(plan.next_review_on), "elements": elements}


def _time_log(item: PatientMonthInput, evaluation: MonthEvaluation, people: dict,
              zone: ZoneInfo) -> list[dict[str, object]]:
    excluded: dict[str, list[dict[str, object]]] = {}
    for exclusion in evaluation.excluded:
        excluded.setdefault(exclusion.entry_id, []).append(
            {"seconds": exclusion.seconds, "reason": exclusion.reason})
    log = []
    for entry in item.entries:
        performer = people.get(entry.performer_id)
        log.append({
            "id": str(entry.id),
            "started": entry.started_at.astimezone(zone).isoformat(),
            "minutes": round(entry.duration_seconds / 60, 2),
            "seconds": entry.duration_seconds,
            "performer": _person(performer), "performer_kind": entry.performer_kind,
            "activity": entry.activity, "note": entry.note, "source": entry.source,
            "voided": entry.id in item.voided,
            "counted_seconds": max(0, entry.duration_seconds - sum(
                int(x["seconds"]) for x in excluded.get(str(entry.id), []))),
            "excluded": excluded.get(str(entry.id), []),
        })
    return log


def _practitioners(session: Session, practice: Practice) -> dict:
    return {u.id: u for u in session.exec(select(User).where(User.practice_id == practice.id))}


def _person(user: User | None) -> str | None:
    if user is None:
        return None
    return f"{user.name} ({user.credential})" if user.credential else user.name


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
