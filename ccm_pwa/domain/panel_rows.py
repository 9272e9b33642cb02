"""A patient panel read from a file, as plain records, and the rules every field must meet.

Both file formats (CSV: `panel_csv`, FHIR R4 Bundle: `panel_fhir`) end here, so a date,
a phone number or a diagnosis code is judged the same way whichever format brought it,
and the importer (`services.panel_import`) never sees a raw string it has to doubt.

A record is all or nothing: a patient with any bad field, or any bad condition, does not
become a `PatientRecord`; their rows become `RowError`s instead, so a patient is never
imported without a condition the file gave for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from ccm_pwa.domain import chronic_conditions
from ccm_pwa.domain.billing_case import Program

MRN_MAX = 64  # Patient.mrn is VARCHAR(64); PostgreSQL would refuse a longer one at write
NAME_MAX = 100
DESCRIPTION_MAX = 500
EARLIEST_BIRTH = date(1900, 1, 1)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # as services.users accepts them
_PHONE_CHARS = re.compile(r"^[0-9+()\-. /x]+$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


class PanelFileError(ValueError):
    """The file as a whole cannot be read as a panel (not CSV or JSON, no header, ...)."""


class FieldProblem(ValueError):
    """One value breaks its rule; the message is the reason, in the words the report shows."""


@dataclass(frozen=True)
class RowError:
    """One reason a row (CSV line, Bundle entry) was refused.

    `where` is "row 7" (the line in the file, header = line 1) or "entry[3] Condition/c7"
    (the Bundle entry index and the resource). `mrn` names the patient the row belongs to,
    when it could be read: that patient is refused as a whole.
    """

    where: str
    field: str
    reason: str
    mrn: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.reason}"


@dataclass(frozen=True)
class ConditionRecord:
    """One diagnosis for one patient. Blank dates stay None: the file did not say."""

    code: str  # code-book form, "E11.9"
    description: str  # "" when the file gave none
    onset_date: date | None
    resolved_date: date | None
    where: str

    @property
    def key(self) -> str:
        """What conditions merge on: "E119" whether written "E11.9", "e119" or "E119"."""
        return chronic_conditions.normalise(self.code)


@dataclass
class PatientRecord:
    """One patient as the file describes them; None means "the file did not say, keep".

    `sources` says where each field was read, so a problem found later (an unknown care
    manager's email) still points at the right row.
    """

    mrn: str
    given_name: str
    family_name: str
    birth_date: date
    phone: str | None = None
    preferred_language: str | None = None
    program: Program | None = None
    care_manager_email: str | None = None
    billing_practitioner_email: str | None = None
    conditions: list[ConditionRecord] = field(default_factory=list)
    rows: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RejectedPatient:
    """A patient the file describes but who cannot be imported; the errors say why."""

    mrn: str | None  # None: the row did not even carry a usable MRN
    rows: tuple[str, ...]


@dataclass
class ParsedPanel:
    """Everything read from one file: good patients, refused ones and why."""

    format: str  # "csv" or "fhir"
    rows: int  # CSV data lines or Bundle entries read
    patients: list[PatientRecord] = field(default_factory=list)
    rejected: list[RejectedPatient] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the file: ignored columns, entries


def describe_rows(rows: tuple[str, ...] | list[str]) -> str:
    """"rows 2, 3, 5" or "entry[0] Patient/p1 +2 entries": where a patient came from.

    Bundle entries are long; the Patient's own entry is what a reader looks up, and the
    errors already name any bad Condition entry exactly.
    """
    if not rows:
        return ""
    if all(r.startswith("row ") for r in rows):
        numbers = [r.removeprefix("row ") for r in rows]
        return ("row " if len(numbers) == 1 else "rows ") + ", ".join(numbers)
    more = len(rows) - 1
    return rows[0] + (f" +{more} {'entry' if more == 1 else 'entries'}" if more else "")


# --- field rules: each returns the clean value or raises FieldProblem ---------------------


def mrn(text: str) -> str:
    value = text.strip()
    if not value:
        raise FieldProblem("required")
    if len(value) > MRN_MAX:
        raise FieldProblem(f"longer than {MRN_MAX} characters")
    if any(ch.isspace() for ch in value):
        raise FieldProblem(f"must not contain spaces: {value!r}")
    return value


def person_name(text: str) -> str:
    value = " ".join(text.split())
    if not value:
        raise FieldProblem("required")
    if len(value) > NAME_MAX:
        raise FieldProblem(f"longer than {NAME_MAX} characters")
    if not any(ch.isalpha() for ch in value):
        raise FieldProblem(f"not a name: {value!r}")
    return value


def calendar_date(text: str) -> date:
    """A full date, YYYY-MM-DD: a partial one ("1950", "2019-04") would invent a day."""
    value = text.strip()
    if not value:
        raise FieldProblem("required")
    if re.fullmatch(r"\d{4}(-\d{2})?", value):
        raise FieldProblem(f"a full date is needed (YYYY-MM-DD): {value!r}")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise FieldProblem(f"not a date (YYYY-MM-DD): {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FieldProblem(f"not a date (YYYY-MM-DD): {value!r}") from None


def birth_date(text: str, *, today: date) -> date:
    value = calendar_date(text)
    if value > today:
        raise FieldProblem(f"in the future: {value.isoformat()}")
    if value < EARLIEST_BIRTH:
        raise FieldProblem(f"before {EARLIEST_BIRTH.year}: {value.isoformat()}")
    return value


def past_date(text: str, *, today: date) -> date:
    """Onset and resolution dates: a condition cannot start or end after today."""
    value = calendar_date(text)
    if value > today:
        raise FieldProblem(f"in the future: {value.isoformat()}")
    return value


def phone(text: str) -> str:
    """Kept as written (the care manager dials it); only checked to look like a number."""
    value = " ".join(text.split())
    digits = sum(ch.isdigit() for ch in value)
    if not _PHONE_CHARS.match(value) or not 7 <= digits <= 20:
        raise FieldProblem(f"not a phone number: {value!r}")
    return value


def language(text: str) -> str:
    """A BCP 47 tag ("en", "es", "zh-TW"), written the usual way: language lower-case."""
    value = text.strip().replace("_", "-")
    if not _LANGUAGE.match(value):
        raise FieldProblem(f"not a language code (e.g. en, es, zh-TW): {value!r}")
    first, *rest = value.split("-")
    parts = [first.lower()] + [p.upper() if len(p) == 2 else p.lower() for p in rest]
    return "-".join(parts)


def program(text: str) -> Program:
    value = re.sub(r"[\s-]+", "_", text.strip().lower())
    try:
        return Program(value)
    except ValueError:
        choices = ", ".join(p.value for p in Program)
        raise FieldProblem(f"must be one of {choices}: {text.strip()!r}") from None


def email(text: str) -> str:
    value = text.strip().lower()
    if not _EMAIL.match(value):
        raise FieldProblem(f"not an email address: {text.strip()!r}")
    return value


def icd10_code(text: str) -> str:
    value = text.strip()
    if not value:
        raise FieldProblem("required")
    if not chronic_conditions.looks_like_icd10_cm(value):
        raise FieldProblem(f"not an ICD-10-CM code: {value!r}")
    return chronic_conditions.display(value)


def description(text: str) -> str:
    value = " ".join(text.split())
    if len(value) > DESCRIPTION_MAX:
        raise FieldProblem(f"longer than {DESCRIPTION_MAX} characters")
    return value


def check_condition_dates(onset: date | None, resolved: date | None) -> None:
    """Raise when the condition would end before it began."""
    if onset is not None and resolved is not None and resolved < onset:
        raise FieldProblem(f"{resolved.isoformat()} is before the onset date "
                           f"{onset.isoformat()}")
