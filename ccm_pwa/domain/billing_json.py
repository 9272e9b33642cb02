"""JSON wire format of `ccm-pwa billing evaluate` (design.md §7): strict in, additive out."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from ccm_pwa.domain.billing import ClaimLine, LaneResult, MonthEvaluation
from ccm_pwa.domain.billing_case import (
    BillingCase,
    InpatientStay,
    Patient,
    Performer,
    Program,
    TimeEntry,
)
from ccm_pwa.domain.calendar import YearMonth
from ccm_pwa.domain.fee_schedule import FEE_SCHEDULE, fee_years

# A single entry longer than a month is a data error, and the cap keeps date math in range.
MAX_DURATION_SECONDS = 31 * 24 * 3600
_EARLIEST_YEAR, _LATEST_YEAR = 1900, 2999
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_Choice = TypeVar("_Choice", Program, Performer)

_ROOT_FIELDS = {"month", "timezone", "fee_year", "patient", "time_entries", "care_plan_in_force"}
_PATIENT_FIELDS = {
    "chronic_conditions",
    "program",
    "consent_date",
    "complex_mdm",
    "inpatient_stays",
    "care_plan_in_force",
    "enrolled",
}
_STAY_FIELDS = {"start", "end"}
_ENTRY_FIELDS = {"id", "started_at", "duration_seconds", "performer", "voided"}


class CaseError(ValueError):
    """Bad input, naming the field by dotted path so the one stderr line says what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_case(text: str) -> BillingCase:
    """Unknown fields are refused: a misspelt `inpatient_stays` must not count stay time."""
    root = _object(_load(text), "$")
    _known_fields(root, "$", _ROOT_FIELDS)
    month = _month(root)
    zone = _zone(root)
    fee_year = _fee_year(root, month)
    patient = _patient(_object(_required(root, "patient", "$"), "patient"), root)
    entries = _list(_required(root, "time_entries", "$"), "time_entries")
    return BillingCase(
        month=month,
        zone=zone,
        fee_year=fee_year,
        patient=patient,
        time_entries=tuple(
            _entry(_object(item, f"time_entries[{i}]"), f"time_entries[{i}]")
            for i, item in enumerate(entries)
        ),
    )


def evaluation_to_dict(evaluation: MonthEvaluation) -> dict[str, Any]:
    """The contract fields first, then the additions (lane, amounts, dates, alternatives)."""
    time = evaluation.time
    chosen = evaluation.chosen if evaluation.billable else None
    upcoming = evaluation.next
    return {
        "month": str(evaluation.month),
        "billable": evaluation.billable,
        "minutes": {
            "clinical_staff": time.clinical_staff_seconds // 60,
            "billing_practitioner": time.billing_practitioner_seconds // 60,
            "countable": time.countable_seconds // 60,
        },
        "claim_lines": [_line(line) for line in evaluation.claim_lines],
        "next": (
            {"code": upcoming.code, "minutes_needed": upcoming.minutes_needed} if upcoming else None
        ),
        "excluded": [
            {"id": e.entry_id, "reason": e.reason, "seconds": e.seconds}
            for e in evaluation.excluded
        ],
        "reasons": list(evaluation.reasons),
        "lane": _lane(chosen) if chosen else None,
        "fee_year": evaluation.fee_year,
        "total_amount": _money(evaluation.total_amount),
        "seconds": {
            "clinical_staff": time.clinical_staff_seconds,
            "billing_practitioner": time.billing_practitioner_seconds,
            "countable": time.countable_seconds,
        },
        "alternatives": [
            {
                "lane": _lane(result),
                "claim_lines": [_line(line) for line in result.claim_lines],
                "total_amount": _money(result.total_amount),
            }
            for result in evaluation.alternatives
        ],
        "notes": list(evaluation.notes),
    }


def _lane(result: LaneResult) -> dict[str, Any]:
    return {"key": result.lane.key, "name": result.lane.name}


def _line(line: ClaimLine) -> dict[str, Any]:
    return {
        "code": line.code,
        "units": line.units,
        "date_of_service": line.date_of_service.isoformat(),
        "amount": _money(line.amount) if line.unit_fee else None,
        "fee_approximate": bool(line.unit_fee and line.unit_fee.approximate),
    }


def _money(amount: Decimal) -> float:
    return float(amount.quantize(Decimal("0.01")))


def _load(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"{constant} is not allowed")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as error:
        raise CaseError(
            "$", f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    except (ValueError, RecursionError) as error:
        raise CaseError("$", f"not valid JSON ({error})") from None


def _month(root: dict[str, object]) -> YearMonth:
    value = _required(root, "month", "$")
    if not isinstance(value, str):
        raise CaseError("month", "must be a string like 2026-11")
    try:
        month = YearMonth.parse(value)
    except ValueError:
        raise CaseError("month", f"{value!r} is not a month like 2026-11") from None
    if not _EARLIEST_YEAR <= month.year <= _LATEST_YEAR:
        raise CaseError("month", f"must be between {_EARLIEST_YEAR} and {_LATEST_YEAR}")
    return month


def _zone(root: dict[str, object]) -> ZoneInfo:
    value = _required(root, "timezone", "$")
    if not isinstance(value, str):
        raise CaseError("timezone", "must be an IANA time zone like America/Chicago")
    try:
        return ZoneInfo(value)
    except (ValueError, KeyError, OSError):
        raise CaseError("timezone", f"unknown time zone {value!r}") from None


def _fee_year(root: dict[str, object], month: YearMonth) -> int:
    """Defaults to the month's year; a year without a fee table is refused, not guessed."""
    value = root.get("fee_year", month.year)
    if type(value) is not int:
        raise CaseError("fee_year", "must be a whole year like 2026")
    if value not in FEE_SCHEDULE:
        known = ", ".join(str(year) for year in fee_years())
        raise CaseError("fee_year", f"{value} is not in the fee table (known: {known})")
    return value


def _patient(data: dict[str, object], root: dict[str, object]) -> Patient:
    _known_fields(data, "patient", _PATIENT_FIELDS)
    conditions = _list(
        _required(data, "chronic_conditions", "patient"), "patient.chronic_conditions"
    )
    codes: list[str] = []
    for i, code in enumerate(conditions):
        if not isinstance(code, str):
            raise CaseError(f"patient.chronic_conditions[{i}]", "must be a diagnosis code string")
        codes.append(code)
    program = _choice(_required(data, "program", "patient"), "patient.program", Program)
    stays = _list(data.get("inpatient_stays", []), "patient.inpatient_stays")
    care_plan = _optional_bool(data, "care_plan_in_force", "patient")
    top_level_care_plan = _optional_bool(root, "care_plan_in_force", "$")
    if care_plan is None:
        care_plan = top_level_care_plan
    elif top_level_care_plan is not None and top_level_care_plan != care_plan:
        raise CaseError("care_plan_in_force", "contradicts patient.care_plan_in_force")
    return Patient(
        chronic_conditions=tuple(codes),
        program=program,
        consent_date=_consent_date(data.get("consent_date")),
        complex_mdm=_optional_bool(data, "complex_mdm", "patient") or False,
        inpatient_stays=tuple(
            _stay(_object(item, f"patient.inpatient_stays[{i}]"), f"patient.inpatient_stays[{i}]")
            for i, item in enumerate(stays)
        ),
        care_plan_in_force=care_plan,
        enrolled=_optional_bool(data, "enrolled", "patient"),
    )


def _consent_date(value: object) -> date | None:
    """Absent or null both mean "no consent": the safe reading of a missing record."""
    if value is None:
        return None
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise CaseError("patient.consent_date", "must be a date like 2026-10-02, or null")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise CaseError("patient.consent_date", f"{value!r} is not a real date") from None
    if not _EARLIEST_YEAR <= day.year <= _LATEST_YEAR:
        raise CaseError(
            "patient.consent_date", f"must be between {_EARLIEST_YEAR} and {_LATEST_YEAR}"
        )
    return day


def _stay(data: dict[str, object], path: str) -> InpatientStay:
    _known_fields(data, path, _STAY_FIELDS)
    start = _instant(_required(data, "start", path), f"{path}.start")
    raw_end = data.get("end")
    end = None if raw_end is None else _instant(raw_end, f"{path}.end")
    if end is not None and end < start:
        raise CaseError(f"{path}.end", "is before start")
    return InpatientStay(start, end)


def _entry(data: dict[str, object], path: str) -> TimeEntry:
    _known_fields(data, path, _ENTRY_FIELDS)
    entry_id = _required(data, "id", path)
    if not isinstance(entry_id, str) or not entry_id:
        raise CaseError(f"{path}.id", "must be a non-empty string")
    duration = _required(data, "duration_seconds", path)
    if type(duration) is not int:
        raise CaseError(f"{path}.duration_seconds", "must be a whole number of seconds")
    if duration < 0:
        raise CaseError(f"{path}.duration_seconds", "must be >= 0")
    if duration > MAX_DURATION_SECONDS:
        raise CaseError(f"{path}.duration_seconds", f"must be <= {MAX_DURATION_SECONDS} (31 days)")
    return TimeEntry(
        id=entry_id,
        started_at=_instant(_required(data, "started_at", path), f"{path}.started_at"),
        duration_seconds=duration,
        performer=_choice(_required(data, "performer", path), f"{path}.performer", Performer),
        voided=_optional_bool(data, "voided", path) or False,
    )


def _instant(value: object, path: str) -> datetime:
    """Naive times are refused: guessing their zone is how calls land in the wrong month."""
    if not isinstance(value, str):
        raise CaseError(path, "must be an ISO 8601 date-time string")
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise CaseError(path, f"{value!r} is not an ISO 8601 date-time") from None
    if instant.tzinfo is None:
        raise CaseError(path, "must include a UTC offset, e.g. 2026-11-03T14:00:00-06:00")
    if not _EARLIEST_YEAR <= instant.year <= _LATEST_YEAR:
        raise CaseError(path, f"must be between {_EARLIEST_YEAR} and {_LATEST_YEAR}")
    return instant


def _choice(value: object, path: str, kind: type[_Choice]) -> _Choice:
    allowed = [member.value for member in kind]
    if not isinstance(value, str) or value not in allowed:
        raise CaseError(path, f"must be one of {', '.join(allowed)}")
    return kind(value)


def _optional_bool(data: dict[str, object], key: str, parent: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise CaseError(_join(parent, key), "must be true, false or null")
    return value


def _required(data: dict[str, object], key: str, parent: str) -> object:
    if key not in data:
        raise CaseError(_join(parent, key), "is required")
    return data[key]


def _object(value: object, path: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise CaseError(path, "must be a JSON object")
    return value


def _list(value: object, path: str) -> list[object]:
    if not isinstance(value, list):
        raise CaseError(path, "must be a JSON array")
    return value


def _known_fields(data: dict[str, object], path: str, known: set[str]) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise CaseError(_join(path, unknown[0]), "unknown field")


def _join(parent: str, key: str) -> str:
    """Odd keys are JSON-quoted so the field name can never break the one error line."""
    name = key if _PLAIN_KEY.fullmatch(key) else json.dumps(key)
    return name if parent == "$" else f"{parent}.{name}"
