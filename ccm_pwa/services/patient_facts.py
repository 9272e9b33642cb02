"""Per-patient eligibility facts for a month, in three grouped queries (no time entries).

Team and program views need "is this patient blocked / eligible / consented" for hundreds
of patients without loading every time entry (`billing_cases.load_inputs` does that for
billing). The rules are the billing engine's: chronic conditions active in the month
(distinct codes), a consent for the current billing practitioner dated by month end and
not revoked before it began, a non-draft care plan established by month end.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.domain.billing_lanes import MINIMUM_CONDITIONS
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.models import CarePlan, CarePlanStatus, Condition, Consent, Patient, Program


@dataclass(frozen=True)
class PatientFacts:
    chronic_conditions: int
    eligible: bool  # enough chronic conditions for the patient's program
    consent_on_file: bool  # any consent in force this month, whoever the practitioner
    consent_in_force: bool  # a consent for the current billing practitioner
    care_plan_in_force: bool

    @property
    def blocked(self) -> bool:
        """No amount of time makes this month billable (engine's patient_blockers)."""
        return not (self.eligible and self.consent_in_force and self.care_plan_in_force)


def patient_facts(*, session: Session, patients: list[Patient],
                  month: YearMonth) -> dict[uuid.UUID, PatientFacts]:
    ids = [p.id for p in patients]
    codes: dict[uuid.UUID, set[str]] = defaultdict(set)
    consents: dict[uuid.UUID, list[Consent]] = defaultdict(list)
    planned: set[uuid.UUID] = set()
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for condition in session.exec(select(Condition).where(
                Condition.patient_id.in_(chunk), Condition.chronic.is_(True),
                sa.or_(Condition.onset_date.is_(None), Condition.onset_date <= month.last_day),
                sa.or_(Condition.resolved_date.is_(None),
                       Condition.resolved_date >= month.first_day))):
            if condition.icd10_code.strip():
                codes[condition.patient_id].add(condition.icd10_code.strip().upper())
        for consent in session.exec(select(Consent).where(
                Consent.patient_id.in_(chunk), Consent.consented_on <= month.last_day,
                sa.or_(Consent.revoked_on.is_(None), Consent.revoked_on >= month.first_day))):
            consents[consent.patient_id].append(consent)
        planned.update(session.exec(select(CarePlan.patient_id).where(
            CarePlan.patient_id.in_(chunk), CarePlan.status != CarePlanStatus.DRAFT,
            CarePlan.established_on <= month.last_day)))
    return {p.id: PatientFacts(
        chronic_conditions=len(codes[p.id]),
        eligible=len(codes[p.id]) >= MINIMUM_CONDITIONS[Program(p.program)],
        consent_on_file=bool(consents[p.id]),
        consent_in_force=any(c.billing_practitioner_id == p.billing_practitioner_id
                             for c in consents[p.id]),
        care_plan_in_force=p.id in planned) for p in patients}
