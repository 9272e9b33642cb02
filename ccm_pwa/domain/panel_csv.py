"""Reading a patient panel from CSV: one line per patient and diagnosis.

Why this layout: EHR and spreadsheet exports of a problem list repeat the patient on each
diagnosis line, and a condition needs its own onset and resolution dates, which a
"codes in one cell" column could not carry. Lines that share an MRN are one patient; the
first of them must carry the patient's name and birth date, later ones may leave patient
columns blank (or repeat them exactly). docs/import.md lists the columns.

Rows are numbered as lines in the file (header = line 1), the number a spreadsheet shows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ccm_pwa.domain import panel_rows as rules
from ccm_pwa.domain.panel_rows import (
    ConditionRecord,
    FieldProblem,
    PanelFileError,
    ParsedPanel,
    PatientRecord,
    RejectedPatient,
    RowError,
)


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    meaning: str


COLUMNS: tuple[Column, ...] = (
    Column("mrn", True, "medical record number, unique in the practice; lines with the same "
                        "MRN are one patient"),
    Column("given_name", True, "given (first) name; middle names may follow"),
    Column("family_name", True, "family (last) name"),
    Column("birth_date", True, "YYYY-MM-DD"),
    Column("phone", False, "the number the care manager calls"),
    Column("preferred_language", False, "BCP 47 code: en, es, vi, zh-TW, ... (new patients: en)"),
    Column("program", False, "ccm, complex_ccm or pcm (new patients: ccm)"),
    Column("care_manager_email", False, "an active care manager of the practice"),
    Column("billing_practitioner_email", False, "an active billing practitioner of the practice"),
    Column("icd10_code", False, "one ICD-10-CM diagnosis, with or without the dot (E11.9, E119)"),
    Column("condition_description", False, "the diagnosis in words (default: the code's "
                                           "chronic category, or the code)"),
    Column("onset_date", False, "YYYY-MM-DD"),
    Column("resolved_date", False, "YYYY-MM-DD; the condition no longer counts after it"),
)
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
KNOWN = {c.name for c in COLUMNS}
PATIENT_COLUMNS = ("given_name", "family_name", "birth_date", "phone", "preferred_language",
                   "program", "care_manager_email", "billing_practitioner_email")
CONDITION_COLUMNS = ("condition_description", "onset_date", "resolved_date")


def header_name(text: str) -> str:
    """"Given Name", "given-name" and "given_name" are the same column."""
    return "_".join(text.strip().lower().replace("-", " ").split())


@dataclass
class _Line:
    """One data line, its fields checked one by one but not yet against its patient."""

    where: str
    mrn: str | None
    patient: dict[str, Any] = field(default_factory=dict)
    condition: ConditionRecord | None = None
    errors: list[RowError] = field(default_factory=list)


def parse_csv(text: str, *, today: date) -> ParsedPanel:
    """Every line checked; every problem reported, not just the first of each line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise PanelFileError("the file is empty (a CSV header line is needed)")
        columns = [header_name(h) for h in header]
        index = _column_index(columns)
        panel = ParsedPanel(format="csv", rows=0)
        ignored = [h.strip() or "(unnamed)" for h, c in zip(header, columns, strict=True)
                   if c not in KNOWN]
        if ignored:
            panel.notes.append("ignored column(s) this importer does not know: "
                               + ", ".join(ignored))
        lines: list[_Line] = []
        while True:
            start = reader.line_num + 1
            values = next(reader, None)
            if values is None:
                break
            if not any(v.strip() for v in values):
                continue  # blank lines, and the ",,,," a spreadsheet leaves behind
            panel.rows += 1
            lines.append(_read_line(f"row {start}", values, len(columns), index, today))
    except csv.Error as exc:
        raise PanelFileError(f"not a readable CSV file: line {reader.line_num}: {exc}") from None
    _group(lines, panel)
    return panel


def _column_index(columns: list[str]) -> dict[str, int]:
    seen: dict[str, int] = {}
    for position, name in enumerate(columns):
        if name in KNOWN and name in seen:
            raise PanelFileError(f"column {name!r} appears twice in the header")
        seen.setdefault(name, position)
    missing = [name for name in REQUIRED if name not in seen]
    if missing:
        raise PanelFileError("not a panel CSV: missing required column(s) "
                             + ", ".join(missing) + " in the header line")
    return {name: position for name, position in seen.items() if name in KNOWN}


_PATIENT_RULES: dict[str, Callable[..., Any]] = {
    "given_name": rules.person_name,
    "family_name": rules.person_name,
    "birth_date": rules.birth_date,
    "phone": rules.phone,
    "preferred_language": rules.language,
    "program": rules.program,
    "care_manager_email": rules.email,
    "billing_practitioner_email": rules.email,
}
_NEEDS_TODAY = {"birth_date"}


def _read_line(where: str, values: list[str], width: int, index: dict[str, int],
               today: date) -> _Line:
    def cell(name: str) -> str:
        position = index.get(name)
        return values[position].strip() if position is not None and position < len(values) \
            else ""

    try:
        line = _Line(where, rules.mrn(cell("mrn")))
    except FieldProblem as problem:
        line = _Line(where, None)
        line.errors.append(RowError(where, "mrn", str(problem)))
    if len(values) != width:
        # The cells may have shifted: none of them can be trusted, so the whole patient
        # (if the MRN still reads) is refused rather than imported without this line.
        line.errors.append(RowError(where, "columns", f"has {len(values)} values, the header "
                                                      f"has {width} columns", line.mrn))
        return line
    for name, rule in _PATIENT_RULES.items():
        text = cell(name)
        if not text:
            continue
        try:
            line.patient[name] = rule(text, today=today) if name in _NEEDS_TODAY else rule(text)
        except FieldProblem as problem:
            line.errors.append(RowError(where, name, str(problem), line.mrn))
    line.condition = _read_condition(line, cell, today)
    return line


def _read_condition(line: _Line, cell: Callable[[str], str],
                    today: date) -> ConditionRecord | None:
    code_text = cell("icd10_code")
    if not code_text:
        given = [name for name in CONDITION_COLUMNS if cell(name)]
        if given:
            line.errors.append(RowError(line.where, "icd10_code", "required when "
                                        + ", ".join(given) + " is given", line.mrn))
        return None
    errors_before = len(line.errors)
    parsed: dict[str, Any] = {}
    for name, rule in (("icd10_code", rules.icd10_code),
                       ("condition_description", rules.description),
                       ("onset_date", lambda t: rules.past_date(t, today=today)),
                       ("resolved_date", lambda t: rules.past_date(t, today=today))):
        text = cell(name)
        if not text:
            continue
        try:
            parsed[name] = rule(text)
        except FieldProblem as problem:
            line.errors.append(RowError(line.where, name, str(problem), line.mrn))
    if len(line.errors) > errors_before:
        return None
    try:
        rules.check_condition_dates(parsed.get("onset_date"), parsed.get("resolved_date"))
    except FieldProblem as problem:
        line.errors.append(RowError(line.where, "resolved_date", str(problem), line.mrn))
        return None
    return ConditionRecord(code=parsed["icd10_code"],
                           description=parsed.get("condition_description", ""),
                           onset_date=parsed.get("onset_date"),
                           resolved_date=parsed.get("resolved_date"), where=line.where)


def _group(lines: list[_Line], panel: ParsedPanel) -> None:
    """Lines with the same MRN become one patient, refused whole if any line is bad."""
    groups: dict[str, list[_Line]] = {}
    for line in lines:
        if line.mrn is None:
            panel.errors.extend(line.errors)
            panel.rejected.append(RejectedPatient(None, (line.where,)))
        else:
            groups.setdefault(line.mrn, []).append(line)
    for mrn, group in groups.items():
        errors = [e for line in group for e in line.errors]
        record = None if errors else _merge(mrn, group, errors)
        panel.errors.extend(errors)
        where = tuple(line.where for line in group)
        if record is None:
            panel.rejected.append(RejectedPatient(mrn, where))
        else:
            panel.patients.append(record)
    panel.errors.sort(key=_row_order)


def _merge(mrn: str, group: list[_Line], errors: list[RowError]) -> PatientRecord | None:
    first = group[0]
    for name in ("given_name", "family_name", "birth_date"):
        if name not in first.patient:
            errors.append(RowError(first.where, name, "required (the first row of a patient "
                                                      "carries the name and birth date)", mrn))
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for line in group:
        for name, value in line.patient.items():
            if name not in values:
                values[name], sources[name] = value, line.where
            elif values[name] != value:
                errors.append(RowError(line.where, name, f"{_shown(value)!r} differs from "
                                       f"{_shown(values[name])!r} on {sources[name]} for the "
                                       f"same MRN", mrn))
    conditions: dict[str, ConditionRecord] = {}
    for line in group:
        condition = line.condition
        if condition is None:
            continue
        earlier = conditions.get(condition.key)
        if earlier is None:
            conditions[condition.key] = condition
        elif (earlier.description, earlier.onset_date, earlier.resolved_date) != (
                condition.description, condition.onset_date, condition.resolved_date):
            errors.append(RowError(line.where, "icd10_code", f"{condition.code} is already "
                                   f"listed for this patient on {earlier.where} with other "
                                   "details", mrn))
    if errors:
        return None
    return PatientRecord(
        mrn=mrn, given_name=values["given_name"], family_name=values["family_name"],
        birth_date=values["birth_date"], phone=values.get("phone"),
        preferred_language=values.get("preferred_language"), program=values.get("program"),
        care_manager_email=values.get("care_manager_email"),
        billing_practitioner_email=values.get("billing_practitioner_email"),
        conditions=list(conditions.values()), rows=tuple(line.where for line in group),
        sources=sources)


def _shown(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _row_order(error: RowError) -> int:
    """File order; a line's own errors keep the order its columns were checked in."""
    number = error.where.removeprefix("row ")
    return int(number) if number.isdigit() else 0
