"""Bringing a parsed patient panel into a practice: create, update or leave each patient.

Plan first, then write. Every patient's outcome (created, updated with which fields,
unchanged, refused and why) is decided from three batched reads, before anything is
written, so a dry run and a real run print the same report and a 5,000-patient panel
costs a handful of queries rather than thousands.

What an import may change, and what it never touches:
- a new patient is created as an enrollment candidate;
- an existing patient (same MRN in the practice) gets the names, birth date, phone,
  language, program and care team the file gives; a blank or absent value keeps what is on
  record. The program and billing practitioner of an enrolled patient are part of their
  consent, so they are kept (and the report says so);
- conditions merge by ICD-10-CM code: a new code is added, a known one gets the dates and
  description the file gives, and its `chronic` flag from the current chronic list.
  Conditions the file does not mention are left alone;
- enrollment status, consents, care plans, time, notes and tasks are never touched.

Writes go in batches, each inside a SAVEPOINT; a batch the database refuses is retried
one patient at a time, so one bad patient costs only itself, and a patient and their
conditions are always written together or not at all.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from ccm_pwa.auth.audit import record_audit
from ccm_pwa.domain import chronic_conditions
from ccm_pwa.domain.panel_rows import ParsedPanel, PatientRecord, RowError, describe_rows
from ccm_pwa.models import (
    AuditEvent,
    Condition,
    EnrollmentStatus,
    Patient,
    PerformerKind,
    Practice,
    Program,
    Role,
    User,
)
from ccm_pwa.services.enrollment import PROGRAM_WORDS, Eligibility, eligibility
from ccm_pwa.services.record_versions import bump_patients

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"
LOOKUP_CHUNK = 500  # MRNs or patient ids per IN (...) list: well under every backend's limit
WRITE_BATCH = 250  # patients per SAVEPOINT
PATIENT_FIELDS = ("given_name", "family_name", "birth_date", "phone", "preferred_language")

T = TypeVar("T")


@dataclass(frozen=True)
class PatientOutcome:
    """What happened (or, in a dry run, would happen) to one patient of the file."""

    mrn: str | None
    name: str
    rows: str  # "rows 2, 3" / "entry[0], entry[4]"
    action: str  # created | updated | unchanged | rejected
    changes: tuple[str, ...] = ()
    program: str = ""
    eligible: bool | None = None
    eligibility: str = ""  # why (not), in words
    notes: tuple[str, ...] = ()
    patient_id: uuid.UUID | None = None


@dataclass
class ImportReport:
    file: str
    format: str
    practice: str
    dry_run: bool
    rows: int
    outcomes: list[PatientOutcome] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    list_version: str = chronic_conditions.LIST_VERSION

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    @property
    def totals(self) -> dict[str, int]:
        kept = [o for o in self.outcomes if o.action != REJECTED]
        return {
            "rows": self.rows, "patients": len(self.outcomes),
            CREATED: self.count(CREATED), UPDATED: self.count(UPDATED),
            UNCHANGED: self.count(UNCHANGED), REJECTED: self.count(REJECTED),
            "errors": len(self.errors),
            "eligible": sum(1 for o in kept if o.eligible),
            "not_eligible": sum(1 for o in kept if not o.eligible),
        }

    @property
    def complete(self) -> bool:
        """Every row of the file was (or would be) imported."""
        return not self.errors


@dataclass
class _Plan:
    """One valid patient's changes, decided before anything is written."""

    record: PatientRecord
    existing: Patient | None
    patient_values: dict[str, Any]  # new patient: every column; existing: the changed ones
    new_conditions: list[dict[str, Any]]
    condition_updates: list[tuple[Condition, dict[str, Any]]]
    changes: list[str]
    notes: list[str]
    program: Program
    verdict: Eligibility
    why: str
    refused: list[RowError] = field(default_factory=list)

    @property
    def action(self) -> str:
        if self.refused:
            return REJECTED
        if self.existing is None:
            return CREATED
        return UPDATED if self.changes else UNCHANGED


def import_panel(*, session: Session, practice: Practice, panel: ParsedPanel, file: str,
                 dry_run: bool, today: date, now: datetime, client: str = "") -> ImportReport:
    """Plan every patient of `panel`; unless `dry_run`, write them into the caller's session.

    The caller commits. `today` is the practice's local date: conditions resolved before it
    no longer count towards eligibility.
    """
    report = ImportReport(file=file, format=panel.format, practice=practice.name,
                          dry_run=dry_run, rows=panel.rows, errors=list(panel.errors),
                          notes=list(panel.notes))
    staff = {u.email.lower(): u for u in session.exec(
        select(User).where(User.practice_id == practice.id))}
    mrns = [r.mrn for r in panel.patients]
    existing = {p.mrn: p for chunk in _chunks(mrns, LOOKUP_CHUNK) for p in session.exec(
        select(Patient).where(Patient.practice_id == practice.id, Patient.mrn.in_(chunk)))}
    on_file: dict[uuid.UUID, list[Condition]] = defaultdict(list)
    for chunk in _chunks([p.id for p in existing.values()], LOOKUP_CHUNK):
        for condition in session.exec(select(Condition).where(Condition.patient_id.in_(chunk))
                                      .order_by(Condition.icd10_code, Condition.id)):
            on_file[condition.patient_id].append(condition)
    plans: list[_Plan] = []
    for record in panel.patients:
        patient = existing.get(record.mrn)
        plan = _plan(record, patient, on_file[patient.id] if patient else [], staff, today)
        report.errors.extend(plan.refused)
        plans.append(plan)
    ids: dict[int, uuid.UUID] = {}
    run: AuditEvent | None = None
    if not dry_run:
        run = record_audit(session=session, action="patients.import", client=client,
                           occurred_at=now, detail={"file": file, "status": "started"})
        session.flush()  # the run's own row opens the transaction the SAVEPOINTs nest in
        ids = _write_all(session, practice, [p for p in plans if not p.refused], file,
                         now, client, report)
    report.outcomes = [_outcome(plan, ids.get(id(plan))) for plan in plans]
    report.outcomes += [PatientOutcome(mrn=r.mrn, name="", rows=describe_rows(r.rows),
                                       action=REJECTED) for r in panel.rejected]
    report.outcomes.sort(key=lambda o: _first_position(o.rows))
    report.errors.sort(key=lambda e: _first_position(e.where))
    if run is not None:
        run.detail = {"file": file, "format": panel.format, "practice_id": str(practice.id),
                      "list_version": report.list_version, **report.totals}
        session.add(run)
        session.flush()
    return report


# --- planning -----------------------------------------------------------------------------


def _plan(record: PatientRecord, patient: Patient | None, conditions: list[Condition],
          staff: dict[str, User], today: date) -> _Plan:
    notes = list(record.notes)
    refused: list[RowError] = []
    team: dict[str, uuid.UUID] = {}
    for column, key, care_manager in (
            ("care_manager_email", "care_manager_id", True),
            ("billing_practitioner_email", "billing_practitioner_id", False)):
        email = getattr(record, column)
        if email is None:
            continue
        user, problem = _staff_member(staff, email, care_manager=care_manager)
        if user is not None:
            team[key] = user.id
        else:
            refused.append(RowError(record.sources.get(column, record.rows[0]), column,
                                    problem or "unknown", record.mrn))

    values: dict[str, Any] = {name: getattr(record, name) for name in PATIENT_FIELDS
                              if getattr(record, name) is not None}
    if record.program is not None:
        values["program"] = record.program
    values.update(team)
    changes: list[str] = []
    if patient is None:
        program = record.program or Program.CCM
    else:
        values = _changed(patient, values, notes)
        changes = [_FIELD_WORDS.get(name, name) for name in values]
        program = Program(values.get("program", patient.program))

    new_conditions, updates, counted, not_chronic = _merge_conditions(
        record, conditions, changes, today)
    verdict = eligibility(program, counted)
    categories = sorted({c.name for code in counted
                         if (c := chronic_conditions.category(code)) is not None})
    why = verdict.reason + (f" ({', '.join(categories)})" if categories else "")
    if not_chronic:
        why += "; not on the chronic list: " + ", ".join(sorted(not_chronic))
    return _Plan(record=record, existing=patient, patient_values=values,
                 new_conditions=new_conditions, condition_updates=updates, changes=changes,
                 notes=notes, program=program, verdict=verdict, why=why, refused=refused)


_FIELD_WORDS = {"care_manager_id": "care_manager",
                "billing_practitioner_id": "billing_practitioner"}
_CONSENT_FIELDS = {"program": "program", "billing_practitioner_id": "billing practitioner"}


def _staff_member(staff: dict[str, User], email: str,
                  *, care_manager: bool) -> tuple[User | None, str | None]:
    user = staff.get(email)
    if user is None:
        return None, f"no user with email {email} in this practice"
    if not user.active:
        return None, f"{email} is not an active user"
    if care_manager and user.role != Role.CARE_MANAGER:
        return None, f"{email} is a {user.role.replace('_', ' ')}, not a care manager"
    if not care_manager and user.performer_kind != PerformerKind.BILLING_PRACTITIONER:
        return None, f"{email} is not a billing practitioner"
    return user, None


def _changed(patient: Patient, values: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The values that differ from the record; consent-bound ones of enrolled patients kept."""
    changed = {}
    for name, value in values.items():
        if getattr(patient, name) == value:
            continue
        if name in _CONSENT_FIELDS and patient.enrollment_status == EnrollmentStatus.ENROLLED:
            notes.append(f"{_CONSENT_FIELDS[name]} kept: the patient is enrolled and it is "
                         "part of their consent (change it by re-enrolling in the app)")
            continue
        changed[name] = value
    return changed


def _merge_conditions(record: PatientRecord, conditions: list[Condition], changes: list[str],
                      today: date) -> tuple[list[dict[str, Any]],
                                            list[tuple[Condition, dict[str, Any]]],
                                            list[str], set[str]]:
    """New condition rows, updates to known ones, and the chronic codes active today."""
    known: dict[str, Condition] = {}
    for condition in conditions:
        known.setdefault(chronic_conditions.normalise(condition.icd10_code), condition)
    new: list[dict[str, Any]] = []
    updates: list[tuple[Condition, dict[str, Any]]] = []
    # The codes as they will stand after the import: (code, chronic, onset, resolved).
    after: dict[str, tuple[str, bool, date | None, date | None]] = {
        key: (c.icd10_code, c.chronic, c.onset_date, c.resolved_date)
        for key, c in known.items()}
    not_chronic: set[str] = set()
    for item in record.conditions:
        chronic = chronic_conditions.is_chronic(item.code)
        if not chronic:
            not_chronic.add(item.code)
        condition = known.get(item.key)
        if condition is None:
            new.append({"icd10_code": item.code, "chronic": chronic,
                        "description": item.description or _default_description(item.code),
                        "onset_date": item.onset_date, "resolved_date": item.resolved_date})
            changes.append(f"+condition {item.code}")
            after[item.key] = (item.code, chronic, item.onset_date, item.resolved_date)
            continue
        wanted = {"description": item.description or None, "onset_date": item.onset_date,
                  "resolved_date": item.resolved_date, "chronic": chronic}
        diff = {name: value for name, value in wanted.items()
                if value is not None and getattr(condition, name) != value}
        if diff:
            updates.append((condition, diff))
            changes.extend(f"condition {condition.icd10_code} {name}" for name in diff)
        code, old_chronic, onset, resolved = after[item.key]
        after[item.key] = (code, diff.get("chronic", old_chronic),
                           diff.get("onset_date", onset), diff.get("resolved_date", resolved))
    counted = [code for code, chronic, onset, resolved in after.values()
               if chronic and (onset is None or onset <= today)
               and (resolved is None or resolved >= today)]
    return new, updates, counted, not_chronic


def _default_description(code: str) -> str:
    """Condition.description is required; the category ("Diabetes") beats a bare code."""
    found = chronic_conditions.category(code)
    if found is None:
        return code
    return found.name[:1].upper() + found.name[1:]


# --- writing ------------------------------------------------------------------------------


def _write_all(session: Session, practice: Practice, plans: list[_Plan], file: str,
               now: datetime, client: str, report: ImportReport) -> dict[int, uuid.UUID]:
    """Write every plan; return the patient id of each plan written (by id(plan))."""
    written: dict[int, uuid.UUID] = {}
    for batch in _chunks(plans, WRITE_BATCH):
        try:
            with session.begin_nested():
                written.update(_write_batch(session, practice, batch, file, now, client))
            continue
        except SQLAlchemyError:
            pass  # some patient in the batch was refused: find which, one at a time
        for plan in batch:
            try:
                with session.begin_nested():
                    written.update(_write_batch(session, practice, [plan], file, now, client))
            except SQLAlchemyError as exc:
                reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
                plan.refused = [RowError(plan.record.rows[0], "patient",
                                         f"the database refused it: {reason}", plan.record.mrn)]
                report.errors.extend(plan.refused)
    return written


def _write_batch(session: Session, practice: Practice, plans: Sequence[_Plan], file: str,
                 now: datetime, client: str) -> dict[int, uuid.UUID]:
    # No ORM relationships: patients are flushed before the rows that point at them.
    patients: dict[int, Patient] = {}
    for plan in plans:
        patient = plan.existing
        if patient is None:
            patient = Patient(
                practice_id=practice.id, mrn=plan.record.mrn,
                enrollment_status=EnrollmentStatus.CANDIDATE, enrollment_changed_at=now,
                created_at=now, updated_at=now, **{**plan.patient_values,
                                                   "program": plan.program})
        elif plan.changes:
            for name, value in plan.patient_values.items():
                setattr(patient, name, value)
            patient.updated_at = now
            patient.version += 1
        patients[id(plan)] = patient
        session.add(patient)
    session.flush()
    for plan in plans:
        patient = patients[id(plan)]
        for values in plan.new_conditions:
            session.add(Condition(patient_id=patient.id, **values))
        for condition, values in plan.condition_updates:
            for name, value in values.items():
                setattr(condition, name, value)
            session.add(condition)
        if plan.action in (CREATED, UPDATED):
            record_audit(session=session, action="patient.import", patient_id=patient.id,
                         client=client, occurred_at=now,
                         detail={"file": file, "result": plan.action, "mrn": plan.record.mrn,
                                 "changes": plan.changes})
    session.flush()
    bump_patients(session, [plan.existing.id for plan in plans
                            if plan.existing is not None and plan.action == UPDATED])
    return {key: patient.id for key, patient in patients.items()}


# --- the report ---------------------------------------------------------------------------


def _outcome(plan: _Plan, patient_id: uuid.UUID | None) -> PatientOutcome:
    record = plan.record
    rejected = bool(plan.refused)
    return PatientOutcome(
        mrn=record.mrn, name=f"{record.given_name} {record.family_name}",
        rows=describe_rows(record.rows), action=plan.action,
        changes=() if rejected else tuple(plan.changes), program=plan.program.value,
        eligible=None if rejected else plan.verdict.eligible,
        eligibility="" if rejected else _eligibility_words(plan),
        notes=tuple(plan.notes),
        patient_id=patient_id or (plan.existing.id if plan.existing else None))


def _eligibility_words(plan: _Plan) -> str:
    verdict = "eligible" if plan.verdict.eligible else "not eligible"
    return f"{PROGRAM_WORDS[plan.program]} {verdict}: {plan.why}"


def _first_position(rows: str) -> tuple[int, int]:
    """Sort key: the first row or entry number in "rows 7, 8" or "entry[3] Patient/p3"."""
    text = rows.removeprefix("rows ").removeprefix("row ").removeprefix("entry[")
    digits = ""
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return (0, int(digits)) if digits else (1, 0)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]

