"""Reading a patient panel from a FHIR R4 Bundle of Patient and Condition resources.

Each resource is first checked against the FHIR R4 (R4B) structure definitions by the
`fhir.resources` models, so a Bundle an EHR would itself reject is never half-trusted;
then the few elements the app keeps are read into the same plain records as CSV
(`panel_rows`), by the same field rules. docs/import.md gives the mapping.

Rows are "entry[i] Type/id": the index of the entry in `Bundle.entry` (from 0, as a FHIR
path counts) and the resource it holds, which is what someone fixing the Bundle searches.
Entries of other resource types are skipped and counted, not refused: a full EHR export
carries Encounters and Observations the panel does not need.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pydantic
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.patient import Patient

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

ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACTIVE_STATUSES = frozenset({"active", "recurrence", "relapse"})
ENDED_STATUSES = frozenset({"inactive", "remission", "resolved"})
NOT_A_DIAGNOSIS = frozenset({"entered-in-error", "refuted"})  # verificationStatus
PHONE_USE_ORDER = ("mobile", "home", "work")


@dataclass
class _PatientEntry:
    where: str
    mrn: str | None
    record: PatientRecord | None
    errors: list[RowError] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)


def parse_bundle(text: str, *, today: date) -> ParsedPanel:
    data = _load(text)
    entries = data.get("entry")
    entries = [] if entries is None else entries
    if not isinstance(entries, list):
        raise PanelFileError("not a valid FHIR R4 Bundle: entry must be a list")
    panel = ParsedPanel(format="fhir", rows=len(entries))
    patients: list[_PatientEntry] = []
    by_reference: dict[str, _PatientEntry] = {}
    conditions: list[tuple[str, dict[str, Any]]] = []
    skipped: Counter[str] = Counter()
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            panel.errors.append(RowError(f"entry[{i}]", "resource", "missing (an entry must "
                                                                    "hold a resource)"))
            continue
        kind = resource.get("resourceType")
        where = _where(i, resource)
        if kind == "Patient":
            read = _read_patient(where, resource, today)
            patients.append(read)
            for key in _references(entry, resource):
                by_reference[key] = read
        elif kind == "Condition":
            conditions.append((where, resource))
        else:
            skipped[str(kind)] += 1
    _refuse_duplicate_mrns(patients)
    for where, resource in conditions:
        _attach_condition(where, resource, by_reference, panel, today)
    for read in patients:
        read.rows.insert(0, read.where)
        panel.errors.extend(read.errors)
        if read.errors or read.record is None:
            panel.rejected.append(RejectedPatient(read.mrn, tuple(read.rows)))
        else:
            read.record.rows = tuple(read.rows)
            panel.patients.append(read.record)
    panel.errors.sort(key=_entry_order)
    if skipped:
        panel.notes.append("skipped entries of other resource types: " + ", ".join(
            f"{kind} ×{n}" for kind, n in sorted(skipped.items())))
    return panel


def _load(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PanelFileError(f"not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") \
            from None
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        found = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise PanelFileError(f"not a FHIR Bundle (resourceType is {found!r})")
    shell = {key: value for key, value in data.items() if key != "entry"}
    try:
        Bundle.model_validate(shell)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        raise PanelFileError(f"not a valid FHIR R4 Bundle: {_path(first['loc'])}: "
                             f"{_message(first)}") from None
    return data


def _where(index: int, resource: dict[str, Any]) -> str:
    kind, rid = resource.get("resourceType"), resource.get("id")
    name = f"{kind}/{rid}" if isinstance(rid, str) and rid else str(kind or "resource")
    return f"entry[{index}] {name}"


def _references(entry: dict[str, Any], resource: dict[str, Any]) -> list[str]:
    """How a Condition may point at this Patient: "Patient/id" or the entry's fullUrl."""
    keys = []
    if isinstance(resource.get("id"), str):
        keys.append(f"Patient/{resource['id']}")
    if isinstance(entry.get("fullUrl"), str):
        keys.append(entry["fullUrl"])
    return keys


def _validate(model: type[pydantic.BaseModel], where: str, resource: dict[str, Any],
              mrn: str | None) -> list[RowError]:
    try:
        model.model_validate(resource)
    except pydantic.ValidationError as exc:
        return [RowError(where, _path(e["loc"]), _message(e), mrn) for e in exc.errors()]
    return []


def _path(loc: tuple[Any, ...]) -> str:
    """pydantic's ("code", "coding", 0, "system") as the FHIR path "code.coding[0].system"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "resource"


def _message(error: Any) -> str:
    """pydantic's words, minus its jargon ("Date value string does not match spec regex")."""
    message = " ".join(str(error["msg"]).removeprefix("Value error, ").split())
    primitive = re.match(r"^(\w+) value string does not match spec regex", message)
    if primitive:
        kind = primitive.group(1)
        message = f"not a valid FHIR {kind[:1].lower()}{kind[1:]}"
    message = message.rstrip(".")
    value = error.get("input")
    if error.get("type") != "missing" and isinstance(value, str | int | float | bool):
        message += f": {value!r}"
    return message


# --- Patient ------------------------------------------------------------------------------


def _read_patient(where: str, resource: dict[str, Any], today: date) -> _PatientEntry:
    mrn, mrn_problem = _mrn(resource)
    read = _PatientEntry(where, mrn, None)
    read.errors.extend(_validate(Patient, where, resource, mrn))
    if read.errors:
        return read  # the structure is wrong: the elements below cannot be trusted
    if mrn_problem:
        read.errors.append(RowError(where, "identifier", mrn_problem))
    values: dict[str, Any] = {}

    def take(name: str, path: str, text: str | None, rule: Any, **kwargs: Any) -> None:
        if text is None:
            return
        try:
            values[name] = rule(text, **kwargs)
        except FieldProblem as problem:
            read.errors.append(RowError(where, path, str(problem), mrn))

    name_path, name = _official_name(resource)
    if name is None:
        read.errors.append(RowError(where, "name", "required (a name with family and given "
                                                   "parts)", mrn))
    else:
        take("given_name", f"{name_path}.given", " ".join(name.get("given") or []),
             rules.person_name)
        take("family_name", f"{name_path}.family", name.get("family") or "", rules.person_name)
    take("birth_date", "birthDate", resource.get("birthDate") or "", rules.birth_date,
         today=today)
    phone_path, phone = _phone(resource)
    take("phone", phone_path, phone, rules.phone)
    language_path, language = _language(resource)
    take("preferred_language", language_path, language, rules.language)
    if read.errors or mrn is None:
        return read
    read.record = PatientRecord(
        mrn=mrn, given_name=values["given_name"], family_name=values["family_name"],
        birth_date=values["birth_date"], phone=values.get("phone"),
        preferred_language=values.get("preferred_language"),
        sources=dict.fromkeys(values, where))
    return read


def _mrn(resource: dict[str, Any]) -> tuple[str | None, str | None]:
    """The medical record number, or None and why not.

    The identifier typed MR (HL7 v2-0203) is the MRN. Failing that, a Patient with exactly
    one identifier that has no type at all is taken to carry the MRN (small EHR exports);
    an identifier of another type (SSN, Medicare number, ...) is never used as the MRN.
    """
    identifiers = [i for i in resource.get("identifier") or []
                   if isinstance(i, dict) and i.get("use") != "old"]
    typed = {str(i.get("value") or "").strip() for i in identifiers if _is_mr(i)}
    typed.discard("")
    if len(typed) > 1:
        return None, f"{len(typed)} different MR identifiers: {', '.join(sorted(typed))}"
    if not typed:
        untyped = [i for i in identifiers if not i.get("type")]
        if len(identifiers) == 1 and untyped and str(untyped[0].get("value") or "").strip():
            typed = {str(untyped[0]["value"]).strip()}
        else:
            return None, "no medical record number (an identifier with type code MR)"
    try:
        return rules.mrn(typed.pop()), None
    except FieldProblem as problem:
        return None, f"MRN {problem}"


def _is_mr(identifier: dict[str, Any]) -> bool:
    codings = (identifier.get("type") or {}).get("coding") or []
    return any(isinstance(c, dict) and c.get("code") == "MR"
               and c.get("system") in (None, IDENTIFIER_TYPE) for c in codings)


def _official_name(resource: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    names = [(i, n) for i, n in enumerate(resource.get("name") or [])
             if isinstance(n, dict) and n.get("use") not in ("old", "maiden")]
    for wanted in ("official", "usual", None):
        for i, name in names:
            if wanted is None or name.get("use") == wanted:
                return f"name[{i}]", name
    return "name", None


def _phone(resource: dict[str, Any]) -> tuple[str, str | None]:
    phones = [(i, t) for i, t in enumerate(resource.get("telecom") or [])
              if isinstance(t, dict) and t.get("system") == "phone" and t.get("value")
              and t.get("use") != "old"]
    phones.sort(key=lambda p: PHONE_USE_ORDER.index(p[1].get("use"))
                if p[1].get("use") in PHONE_USE_ORDER else len(PHONE_USE_ORDER))
    if not phones:
        return "telecom", None
    i, telecom = phones[0]
    return f"telecom[{i}].value", str(telecom["value"])


def _language(resource: dict[str, Any]) -> tuple[str, str | None]:
    items = [(i, c) for i, c in enumerate(resource.get("communication") or [])
             if isinstance(c, dict)]
    items.sort(key=lambda item: not item[1].get("preferred"))
    for i, item in items:
        for j, coding in enumerate((item.get("language") or {}).get("coding") or []):
            if isinstance(coding, dict) and coding.get("code"):
                return f"communication[{i}].language.coding[{j}].code", str(coding["code"])
    return "communication", None


def _refuse_duplicate_mrns(patients: list[_PatientEntry]) -> None:
    first: dict[str, _PatientEntry] = {}
    for read in patients:
        if read.mrn is None:
            continue
        if read.mrn in first:
            earlier = first[read.mrn]
            read.errors.append(RowError(read.where, "identifier", f"MRN {read.mrn!r} is also "
                                        f"used by {earlier.where}: one Patient per MRN",
                                        read.mrn))
            earlier.record = None  # which of the two is right cannot be told: neither
            if not earlier.errors:
                earlier.errors.append(RowError(earlier.where, "identifier", f"MRN {read.mrn!r} "
                                               f"is also used by {read.where}", read.mrn))
        else:
            first[read.mrn] = read


# --- Condition ----------------------------------------------------------------------------


def _attach_condition(where: str, resource: dict[str, Any],
                      by_reference: dict[str, _PatientEntry], panel: ParsedPanel,
                      today: date) -> None:
    reference = ((resource.get("subject") or {}).get("reference")
                 if isinstance(resource.get("subject"), dict) else None)
    owner = by_reference.get(reference) if isinstance(reference, str) else None
    mrn = owner.mrn if owner else None
    errors = _validate(Condition, where, resource, mrn)
    if owner is None and not errors:
        errors.append(RowError(where, "subject.reference", f"{reference!r} is not a Patient in "
                                                           "this Bundle"))
    if owner is None:
        panel.errors.extend(errors)
        return
    owner.rows.append(where)
    if errors:
        owner.errors.extend(errors)
        return
    condition = _read_condition(where, resource, mrn, owner, today)
    if condition is not None and owner.record is not None:
        earlier = next((c for c in owner.record.conditions if c.key == condition.key), None)
        if earlier is None:
            owner.record.conditions.append(condition)
        elif (earlier.onset_date, earlier.resolved_date) != (condition.onset_date,
                                                              condition.resolved_date):
            owner.errors.append(RowError(where, "code", f"{condition.code} is already listed "
                                         f"for this patient by {earlier.where} with other "
                                         "dates", mrn))


def _read_condition(where: str, resource: dict[str, Any], mrn: str | None,
                    owner: _PatientEntry, today: date) -> ConditionRecord | None:
    def error(path: str, reason: str) -> None:
        owner.errors.append(RowError(where, path, reason, mrn))

    verification = _status_code(resource.get("verificationStatus"))
    if verification in NOT_A_DIAGNOSIS:
        if owner.record is not None:
            owner.record.notes.append(f"{where} skipped: verificationStatus is {verification}")
        return None
    code = resource.get("code") or {}
    codings = [(i, c) for i, c in enumerate(code.get("coding") or [])
               if isinstance(c, dict) and c.get("system") == ICD10_CM]
    if not codings:
        error("code.coding", f"no ICD-10-CM coding (system {ICD10_CM})")
        return None
    i, coding = codings[0]
    try:
        icd = rules.icd10_code(str(coding.get("code") or ""))
        text = rules.description(str(coding.get("display") or code.get("text") or ""))
    except FieldProblem as problem:
        error(f"code.coding[{i}].code", str(problem))
        return None
    dates: dict[str, date | None] = {"onsetDateTime": None, "abatementDateTime": None}
    for path in dates:
        value = resource.get(path)
        if value is None:
            continue
        try:
            dates[path] = rules.past_date(str(value)[:10] if "T" in str(value) else str(value),
                                          today=today)
        except FieldProblem as problem:
            error(path, str(problem))
            return None
    onset, resolved = dates["onsetDateTime"], dates["abatementDateTime"]
    status = _status_code(resource.get("clinicalStatus"))
    if status in ENDED_STATUSES and resolved is None:
        error("abatementDateTime", f"required when clinicalStatus is {status} (the date "
                                   "the condition ended)")
        return None
    if status in ACTIVE_STATUSES and resolved is not None:
        error("clinicalStatus", f"is {status} but abatementDateTime says the condition ended "
                                f"{resolved.isoformat()}")
        return None
    try:
        rules.check_condition_dates(onset, resolved)
    except FieldProblem as problem:
        error("abatementDateTime", str(problem))
        return None
    return ConditionRecord(code=icd, description=text, onset_date=onset,
                           resolved_date=resolved, where=where)


def _status_code(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and coding.get("code"):
            return str(coding["code"])
    return None


def _entry_order(error: RowError) -> int:
    index = error.where.removeprefix("entry[").split("]", 1)[0]
    return int(index) if index.isdigit() else 0
