"""What the billing engine is told about one patient-month: patient facts and time entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.domain.chronic_conditions import distinct_conditions


class Program(StrEnum):
    CCM = "ccm"
    COMPLEX_CCM = "complex_ccm"
    PCM = "pcm"


class Performer(StrEnum):
    CLINICAL_STAFF = "clinical_staff"
    BILLING_PRACTITIONER = "billing_practitioner"
    NON_CLINICAL = "non_clinical"


@dataclass(frozen=True)
class InpatientStay:
    """A hospital or SNF inpatient stay; `end` None means the patient is still admitted."""

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.start, "start")
        if self.end is not None:
            _require_aware(self.end, "end")
            if self.end < self.start:
                raise ValueError("inpatient stay ends before it starts")


@dataclass(frozen=True)
class Patient:
    """Eligibility facts for the month; None on an optional check means "not checked"."""

    chronic_conditions: tuple[str, ...]
    program: Program
    consent_date: date | None
    complex_mdm: bool = False
    inpatient_stays: tuple[InpatientStay, ...] = ()
    care_plan_in_force: bool | None = None
    enrolled: bool | None = None

    @property
    def distinct_conditions(self) -> frozenset[str]:
        """Conditions, not codes: "E11.9", "e119" and "E11.65" are one (diabetes)."""
        return distinct_conditions(self.chronic_conditions)


@dataclass(frozen=True)
class TimeEntry:
    """One logged stretch of care-management work, as recorded by the timer or by hand."""

    id: str
    started_at: datetime
    duration_seconds: int
    performer: Performer
    voided: bool = False

    def __post_init__(self) -> None:
        _require_aware(self.started_at, "started_at")
        if self.duration_seconds < 0:
            raise ValueError("duration_seconds must be >= 0")


@dataclass(frozen=True)
class BillingCase:
    """One patient-month; `zone` is the practice's IANA zone that defines the month."""

    month: YearMonth
    zone: ZoneInfo
    fee_year: int
    patient: Patient
    time_entries: tuple[TimeEntry, ...] = ()


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must include a UTC offset")
