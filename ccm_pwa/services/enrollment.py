"""Enrolling and unenrolling patients: eligibility in words, documented consent, true rollups."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from ccm_pwa.domain.billing_lanes import MINIMUM_CONDITIONS
from ccm_pwa.domain.calendar import YearMonth, local_date
from ccm_pwa.domain.chronic_conditions import distinct_conditions
from ccm_pwa.models import (
    Consent,
    ConsentMethod,
    EnrollmentStatus,
    Patient,
    PatientMonth,
    PerformerKind,
    Practice,
    Program,
    User,
    utc_now,
)
from ccm_pwa.services.billing_cases import load_month_inputs
from ccm_pwa.services.record_versions import bump_patients
from ccm_pwa.services.rollups import refresh_patient_months

PROGRAM_WORDS = {Program.CCM: "CCM", Program.COMPLEX_CCM: "Complex CCM", Program.PCM: "PCM"}
# The four things the patient must be told before consenting (rules §3), in plain words.
DISCLOSURES = {
    "disclosed_service": "what the service is",
    "disclosed_cost_sharing": "that cost sharing applies",
    "disclosed_one_practitioner": "that only one practitioner can bill it per month",
    "disclosed_stop_anytime": "that they may stop at any time",
}


class EnrollmentError(ValueError):
    """The enrollment change cannot be made; the message says why, for the care manager."""


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    program: Program
    reason: str


@dataclass(frozen=True)
class ConsentGiven:
    """What the care manager recorded when the patient consented."""

    date: date | None
    method: str
    disclosed_service: bool = False
    disclosed_cost_sharing: bool = False
    disclosed_one_practitioner: bool = False
    disclosed_stop_anytime: bool = False


def eligibility(program: Program | str, chronic_codes: Iterable[str]) -> Eligibility:
    """CCM and complex CCM need two distinct chronic conditions, PCM one (rules §1a).

    Codes are compared as the billing engine compares them, so the enrollment screen and
    the claim never disagree about what counts.
    """
    program = Program(program)
    found = len(distinct_conditions(chronic_codes))
    needed = MINIMUM_CONDITIONS[program]
    if found >= needed:
        return Eligibility(True, program, f"{found} {_conditions(found)}")
    return Eligibility(False, program, f"{PROGRAM_WORDS[program]} needs at least {needed} "
                                       f"{_conditions(needed)}; {found} on file")


def enroll(*, session: Session, user: User, patient: Patient, program: Program | str,
           billing_practitioner_id: uuid.UUID | None, consent: ConsentGiven,
           now: datetime) -> Consent:
    """Record the consent (obtained by `user`) and enroll the patient in `program`."""
    practice = _practice(session, patient)
    today = local_date(now, ZoneInfo(practice.timezone))
    program = Program(program)
    missing = [words for key, words in DISCLOSURES.items() if getattr(consent, key) is not True]
    if missing:
        raise EnrollmentError("consent is missing disclosures: " + ", ".join(missing))
    if consent.date is None:
        raise EnrollmentError("the consent date is required")
    if consent.date > today:
        raise EnrollmentError(f"consent date {consent.date.isoformat()} is in the future")
    if consent.method not in set(ConsentMethod):
        raise EnrollmentError("consent method must be verbal or written")
    practitioner = _billing_practitioner(session, practice, billing_practitioner_id)
    (item,) = load_month_inputs(session=session, practice=practice, month=YearMonth.of(today),
                                patient_ids=[patient.id])
    verdict = eligibility(program, item.case.patient.chronic_conditions)
    if not verdict.eligible:
        raise EnrollmentError(f"not eligible: {verdict.reason}")
    if (patient.enrollment_status == EnrollmentStatus.ENROLLED and patient.program == program
            and patient.billing_practitioner_id == practitioner.id):
        raise EnrollmentError("already enrolled in this program with this practitioner")
    row = Consent(patient_id=patient.id, consented_on=consent.date,
                  method=ConsentMethod(consent.method), disclosed_service=True,
                  disclosed_cost_sharing=True, disclosed_one_practitioner=True,
                  disclosed_stop_anytime=True, obtained_by_id=user.id,
                  billing_practitioner_id=practitioner.id, program=program, recorded_at=now)
    session.add(row)
    _set_status(patient, EnrollmentStatus.ENROLLED, "", now)
    patient.program = program
    patient.billing_practitioner_id = practitioner.id
    session.add(patient)
    session.flush()
    bump_patients(session, [patient.id])
    refresh_billed_months(session=session, practice=practice, patient_id=patient.id,
                          since=YearMonth.of(consent.date))
    return row


def unenroll(*, session: Session, user: User, patient: Patient, reason: str,
             now: datetime) -> None:
    """Disenroll at the end of the current month: its minutes still bill, later ones not.

    The consent is revoked today; billing reads a revocation as effective at the end of the
    month it was given in, so this month's rollup stays as it is.
    """
    reason = reason.strip()
    if not reason:
        raise EnrollmentError("say why the patient is leaving the program")
    if patient.enrollment_status != EnrollmentStatus.ENROLLED:
        raise EnrollmentError("the patient is not enrolled")
    practice = _practice(session, patient)
    today = local_date(now, ZoneInfo(practice.timezone))
    for consent in session.exec(select(Consent).where(Consent.patient_id == patient.id,
                                                      Consent.revoked_on.is_(None))):
        consent.revoked_on = today
        consent.revocation_reason = reason[:500]
        session.add(consent)
    _set_status(patient, EnrollmentStatus.DISENROLLED, reason[:500], now)
    session.add(patient)
    session.flush()
    bump_patients(session, [patient.id])
    refresh_billed_months(session=session, practice=practice, patient_id=patient.id,
                          since=YearMonth.of(today).following())


def refresh_billed_months(*, session: Session, practice: Practice, patient_id: uuid.UUID,
                          since: YearMonth) -> None:
    """Recompute the patient's rollups from `since` on, for the months that have one.

    Only existing rows: a rollup exists exactly when a time entry touches the month (the
    rebuild makes the same rows), so a consent or care plan never invents an empty one.
    """
    months = session.exec(select(PatientMonth.month).where(
        PatientMonth.patient_id == patient_id, PatientMonth.month >= str(since))).all()
    refresh_patient_months(session=session, practice=practice, patient_id=patient_id,
                           months=[YearMonth.parse(m) for m in months])


def _billing_practitioner(session: Session, practice: Practice,
                          user_id: uuid.UUID | None) -> User:
    if user_id is None:
        raise EnrollmentError("choose the billing practitioner the consent is for")
    practitioner = session.get(User, user_id)
    if (practitioner is None or practitioner.practice_id != practice.id
            or not practitioner.active
            or practitioner.performer_kind != PerformerKind.BILLING_PRACTITIONER):
        raise EnrollmentError("the billing practitioner must be an active billing "
                              "practitioner of this practice")
    return practitioner


def _set_status(patient: Patient, status: EnrollmentStatus, reason: str, now: datetime) -> None:
    patient.enrollment_status = status
    patient.enrollment_reason = reason
    patient.enrollment_changed_at = now
    patient.updated_at = utc_now()
    patient.version += 1


def _practice(session: Session, patient: Patient) -> Practice:
    practice = session.get(Practice, patient.practice_id)
    assert practice is not None
    return practice


def _conditions(n: int) -> str:
    return "chronic condition" if n == 1 else "chronic conditions"
