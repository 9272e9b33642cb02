"""The month-close checks: is every claim line of the month defensible in an audit?

Each check re-reads the stored records behind the billing CSV and judges them against
docs/cms-ccm-rules.md, conservatively (docs/supervisor.md lists what each catches):

| check          | blocking when a *billed* patient-month …                                |
|----------------|-------------------------------------------------------------------------|
| consent        | has no consent for its billing practitioner and program, lacks one of   |
|                | the four disclosures, counts a minute before consent, or is not enrolled |
| conditions     | carries fewer chronic diagnoses on the claim than the lane needs        |
| care_plan      | has no care plan in force, or the plan lacks a CMS element at month end |
| counted_once   | needs a minute its performer also logged on another patient, or bills   |
|                | lines its lane's minutes do not support                                 |
| one_lane       | bills codes of two lanes or from two practitioners, or is enrolled      |
|                | elsewhere                                                               |
| add_on_base    | bills an add-on without its base code                                   |
| review_items   | (warning only) still has undecided review items                         |

Patients whose time would have billed but whom the engine held back (no consent, one
condition, no plan) are listed too, as non-blocking findings: the claim is already safe,
but someone can fix the record and recover the revenue. The close is refused while any
blocking finding stands (services/month_close.py).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from ccm_pwa.auth.access import visible_patients
from ccm_pwa.domain.billing import MonthEvaluation, evaluate_month
from ccm_pwa.domain.billing_lanes import MINIMUM_CONDITIONS, PROGRAM_LANES
from ccm_pwa.domain.calendar import YearMonth, local_date, month_bounds
from ccm_pwa.domain.month_checks import (
    Interval,
    add_on_problems,
    claim_survives_cuts,
    cross_patient_overlaps,
    lane_problems,
)
from ccm_pwa.models import (
    CarePlanElement,
    CarePlanRevision,
    EnrollmentStatus,
    PerformerKind,
    Practice,
    Program,
    Role,
    User,
    utc_now,
)
from ccm_pwa.services.billing_cases import PatientMonthInput, load_month_inputs
from ccm_pwa.services.billing_report import ClaimRow, claim_rows
from ccm_pwa.services.review_queue import review_items

BLOCKING, WARNING = "blocking", "warning"
CHECK_TITLES = {
    "consent": "Consent before the first counted minute",
    "conditions": "At least two chronic conditions (one for PCM) on the claim",
    "care_plan": "A complete care plan in force during the month",
    "counted_once": "No minute counted twice",
    "one_lane": "One care-management lane and one practitioner per patient-month",
    "add_on_base": "No add-on code without its base code",
    "review_items": "No undecided review items",
}
_NOT_ENROLLED = {EnrollmentStatus.CANDIDATE, EnrollmentStatus.CONSENT_PENDING,
                 EnrollmentStatus.DECLINED, EnrollmentStatus.INELIGIBLE}
_DISCLOSURES = {"disclosed_service": "what the service is",
                "disclosed_cost_sharing": "cost sharing",
                "disclosed_one_practitioner": "one practitioner per month",
                "disclosed_stop_anytime": "may stop at any time"}


@dataclass(frozen=True)
class Finding:
    """One patient-month a check has something to say about.

    `blocking`: this finding alone refuses the close. `entry_ids`: time entries involved
    (a screen can offer to void them). A finding about a patient outside the viewer's
    team keeps its verdict but loses the name, MRN, ids and words.
    """

    patient_id: str | None
    mrn: str
    patient_name: str
    reason: str
    blocking: bool
    entry_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    """`passed`: no blocking finding (for the warning check: no finding at all)."""

    name: str
    title: str
    severity: str  # "blocking" | "warning": what a failure of this check does to a close
    passed: bool
    findings: tuple[Finding, ...]

    @property
    def blocks_close(self) -> bool:
        return self.severity == BLOCKING and not self.passed


def close_checks(*, session: Session, practice: Practice, month: YearMonth,
                 viewer: User | None = None, now: datetime | None = None) -> list[CheckResult]:
    """Every check of `month`, in CHECK_TITLES order, over the whole practice.

    With a supervisor `viewer`, findings about patients outside her team are redacted
    (their verdict still counts). Without a viewer (the CLI) nothing is redacted.
    """
    month_data = _MonthData.load(session, practice, month)
    findings: dict[str, list[Finding]] = {
        "consent": _consent(month_data), "conditions": _conditions(month_data),
        "care_plan": _care_plan(session, month_data),
        "counted_once": _counted_once(session, month_data),
        "one_lane": _one_lane(month_data), "add_on_base": _add_on_base(month_data),
        "review_items": _review(session, practice, month, now or utc_now()),
    }
    if viewer is not None and viewer.role != Role.ADMIN:
        allowed = {str(i) for i in session.execute(visible_patients(viewer)).scalars()}
        findings = {name: [_redacted(f, allowed) for f in found]
                    for name, found in findings.items()}
    results = []
    for name, title in CHECK_TITLES.items():
        found = tuple(findings[name])
        severity = WARNING if name == "review_items" else BLOCKING
        passed = not found if severity == WARNING else not any(f.blocking for f in found)
        results.append(CheckResult(name, title, severity, passed, found))
    return results


@dataclass
class _MonthData:
    """What every check reads: the engine's inputs and verdicts and the claim rows."""

    practice: Practice
    month: YearMonth
    zone: ZoneInfo
    items: list[PatientMonthInput]
    evaluations: dict[uuid.UUID, MonthEvaluation]
    rows: list[ClaimRow]
    rows_by_mrn: dict[str, list[ClaimRow]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, practice: Practice, month: YearMonth) -> _MonthData:
        items = load_month_inputs(session=session, practice=practice, month=month)
        evaluations = {item.patient.id: evaluate_month(item.case) for item in items}
        rows = claim_rows(session=session, practice=practice, month=month)
        by_mrn: dict[str, list[ClaimRow]] = defaultdict(list)
        for row in rows:
            by_mrn[row.mrn].append(row)
        return cls(practice, month, ZoneInfo(practice.timezone), items, evaluations, rows,
                   dict(by_mrn))

    def billed(self) -> list[PatientMonthInput]:
        return [i for i in self.items if i.patient.mrn in self.rows_by_mrn]

    def logged_minutes(self, item: PatientMonthInput) -> int:
        """Minutes logged in the month by clinical people, before any exclusion."""
        start, end = month_bounds(self.month, self.zone)
        seconds = sum(
            max(0, int((min(e.started_at + timedelta(seconds=e.duration_seconds), end)
                        - max(e.started_at, start)).total_seconds()))
            for e in item.entries
            if e.id not in item.voided and e.performer_kind != PerformerKind.NON_CLINICAL)
        return seconds // 60

    def held_back(self) -> list[tuple[PatientMonthInput, MonthEvaluation, int]]:
        """Unbilled patients with enough logged time for their program's base code: a
        patient-level blocker (or a consent after the time) kept them out of the claim."""
        found = []
        for item in self.items:
            if item.patient.mrn in self.rows_by_mrn:
                continue
            minutes = self.logged_minutes(item)
            base = PROGRAM_LANES[Program(item.patient.program)][0].base_minutes
            if minutes >= base:
                found.append((item, self.evaluations[item.patient.id], minutes))
        return found


def _finding(item: PatientMonthInput, reason: str, blocking: bool,
             entry_ids: tuple[str, ...] = ()) -> Finding:
    patient = item.patient
    return Finding(str(patient.id), patient.mrn, f"{patient.given_name} {patient.family_name}",
                   reason, blocking, entry_ids)


def _held_back(data: _MonthData, words: str) -> list[Finding]:
    found = []
    for item, evaluation, minutes in data.held_back():
        reasons = [r for r in evaluation.reasons if words in r]
        if reasons:
            found.append(_finding(item, f"not billed ({minutes} min logged): {reasons[0]}",
                                  blocking=False))
    return found


def _first_counted(item: PatientMonthInput, evaluation: MonthEvaluation,
                   start: datetime) -> tuple[datetime, uuid.UUID] | None:
    """When the month's first counted second was worked, and by which entry."""
    excluded: dict[str, int] = defaultdict(int)
    for exclusion in evaluation.excluded:
        excluded[exclusion.entry_id] += exclusion.seconds
    counted = [e for e in item.entries if e.id not in item.voided
               and e.duration_seconds - excluded[str(e.id)] > 0]
    if not counted:
        return None
    first = min(counted, key=lambda e: max(e.started_at, start))
    return max(first.started_at, start), first.id



def _consent(data: _MonthData) -> list[Finding]:
    start, _end = month_bounds(data.month, data.zone)
    found: list[Finding] = []
    for item in data.billed():
        evaluation, patient, consent = (data.evaluations[item.patient.id], item.patient,
                                        item.consent)
        if consent is None:
            found.append(_finding(item, "billed without a consent for its billing "
                                        "practitioner", True))
            continue
        missing = [words for name, words in _DISCLOSURES.items() if not getattr(consent, name)]
        if missing:
            found.append(_finding(item, "consent record lacks the disclosure(s): "
                                        + ", ".join(missing), True))
        lane = evaluation.chosen.lane.key if evaluation.chosen else ""
        pcm_lane, pcm_consent = lane.startswith("pcm"), consent.program == Program.PCM
        if pcm_lane != pcm_consent:
            found.append(_finding(item, f"billed {lane} under a consent for "
                                        f"{consent.program}", True))
        first = _first_counted(item, evaluation, start)
        if first is not None:
            at, entry_id = first
            day = local_date(at, data.zone)
            if consent.consented_on > day:
                found.append(_finding(item, f"consent dated {consent.consented_on} is after "
                                            f"the first counted minute on {day}", True,
                                      (str(entry_id),)))
            elif consent.consented_on == day and consent.recorded_at > at:
                found.append(_finding(
                    item, f"consent recorded at {_hm(consent.recorded_at, data.zone)}, after "
                    f"the first counted minute at {_hm(at, data.zone)} the same day: nothing "
                    "shows consent came first", True, (str(entry_id),)))
        if patient.enrollment_status in _NOT_ENROLLED:
            found.append(_finding(item, f"billed while {patient.enrollment_status}", True))
        elif (patient.enrollment_status == EnrollmentStatus.DISENROLLED
              and local_date(patient.enrollment_changed_at, data.zone) < data.month.first_day):
            found.append(_finding(item, "billed after the patient was disenrolled on "
                                  f"{local_date(patient.enrollment_changed_at, data.zone)}",
                                  True))
    return found + _held_back(data, "consent")


def _conditions(data: _MonthData) -> list[Finding]:
    found: list[Finding] = []
    for item in data.billed():
        rows = data.rows_by_mrn[item.patient.mrn]
        codes = {code for row in rows for code in row.diagnosis_codes.split()}
        lane = rows[0].lane
        needed = MINIMUM_CONDITIONS[Program.PCM if lane.startswith("pcm") else Program.CCM]
        if len(codes) < needed:
            found.append(_finding(item, f"{lane} claim carries {len(codes)} chronic "
                                        f"diagnosis code(s); it needs {needed}", True))
    return found + _held_back(data, "chronic")


def _care_plan(session: Session, data: _MonthData) -> list[Finding]:
    _start, month_end = month_bounds(data.month, data.zone)
    billed = data.billed()
    plan_ids = [i.care_plan.id for i in billed if i.care_plan is not None]
    elements: dict[uuid.UUID, set[str]] = defaultdict(set)
    for chunk in (plan_ids[i : i + 500] for i in range(0, len(plan_ids), 500)):
        for revision in session.exec(select(CarePlanRevision).where(
                CarePlanRevision.care_plan_id.in_(chunk),
                CarePlanRevision.occurred_at < month_end)):
            if revision.value not in (None, "", [], {}):
                elements[revision.care_plan_id].add(str(revision.element))
    found: list[Finding] = []
    for item in billed:
        plan = item.care_plan
        if plan is None or plan.established_on > data.month.last_day:
            found.append(_finding(item, "billed without a care plan in force this month", True))
            continue
        missing = [e.value.replace("_", " ") for e in CarePlanElement
                   if e.value not in elements[plan.id]]
        if missing:
            found.append(_finding(item, "care plan in force lacks: " + ", ".join(missing),
                                  True))
        if plan.copy_given_on is None:
            found.append(_finding(item, "no record that the patient was given a copy of the "
                                        "care plan", False))
    return found + _held_back(data, "care plan")


def _counted_once(session: Session, data: _MonthData) -> list[Finding]:
    start, end = month_bounds(data.month, data.zone)
    by_patient = {item.patient.id: item for item in data.items}
    intervals = []
    for item in data.items:
        for entry in item.entries:
            if entry.id in item.voided or entry.performer_kind == PerformerKind.NON_CLINICAL:
                continue
            e_start = max(entry.started_at, start)
            e_end = min(entry.started_at + timedelta(seconds=entry.duration_seconds), end)
            intervals.append(Interval(str(entry.id), str(entry.performer_id),
                                      str(item.patient.id), e_start, e_end))
    cuts: dict[uuid.UUID, dict[str, list[tuple[datetime, datetime]]]] = defaultdict(
        lambda: defaultdict(list))
    # Per patient: (own entry, other patient's entry, other patient's MRN, seconds shared).
    partners: dict[uuid.UUID, list[tuple[str, str, str, int]]] = defaultdict(list)
    for overlap in cross_patient_overlaps(intervals):
        for mine, other in ((overlap.first, overlap.second), (overlap.second, overlap.first)):
            patient_id = uuid.UUID(mine.patient)
            cuts[patient_id][mine.entry_id].append((overlap.start, overlap.end))
            other_mrn = by_patient[uuid.UUID(other.patient)].patient.mrn
            partners[patient_id].append((mine.entry_id, other.entry_id, other_mrn,
                                         overlap.seconds))
    names = {u.id: u.name for u in session.exec(select(User).where(
        User.practice_id == data.practice.id))}
    found: list[Finding] = []
    for patient_id, patient_cuts in cuts.items():
        item = by_patient[patient_id]
        if item.patient.mrn not in data.rows_by_mrn:
            continue  # nothing billed here; the other patient's finding covers the pair
        pairs = partners[patient_id]
        seconds = sum(p[3] for p in pairs)
        others = sorted({p[2] for p in pairs})
        entry_ids = tuple(sorted({p[0] for p in pairs} | {p[1] for p in pairs}))
        who = _performer_names(item, {p[0] for p in pairs}, names)
        words = (f"{seconds // 60} min {seconds % 60} s logged by {who} here overlap their "
                 f"entries for {', '.join(others)}")
        if claim_survives_cuts(item.case, dict(patient_cuts)):
            found.append(_finding(item, f"{words}; the claim stands without those minutes",
                                  False, entry_ids))
        else:
            found.append(_finding(item, f"{words}; the claim needs those minutes", True,
                                  entry_ids))
    for item in data.billed():
        evaluation = data.evaluations[item.patient.id]
        chosen = evaluation.chosen
        assert chosen is not None
        supported = [(s.code, s.units) for s in chosen.lane.lines_for(chosen.minutes)]
        billed_lines = [(r.code, r.units) for r in data.rows_by_mrn[item.patient.mrn]]
        if billed_lines != supported:
            found.append(_finding(item, f"claim lines {billed_lines} are not what "
                                        f"{chosen.minutes} lane minutes support", True))
    return found


def _performer_names(item: PatientMonthInput, entry_ids: set[str],
                     names: dict[uuid.UUID, str]) -> str:
    people = sorted({names.get(e.performer_id, "?") for e in item.entries
                     if str(e.id) in entry_ids})
    return ", ".join(people)


def _one_lane(data: _MonthData) -> list[Finding]:
    found: list[Finding] = []
    for item in data.billed():
        rows = data.rows_by_mrn[item.patient.mrn]
        for problem in lane_problems(r.code for r in rows):
            found.append(_finding(item, problem, True))
        practitioners = {r.billing_practitioner_npi or r.billing_practitioner for r in rows}
        if len(practitioners) > 1:
            found.append(_finding(item, "care management billed by "
                                        f"{len(practitioners)} practitioners", True))
        if item.patient.enrollment_status == EnrollmentStatus.ENROLLED_ELSEWHERE:
            found.append(_finding(item, "patient is enrolled in care management elsewhere: "
                                        "only one practitioner may bill a month", True))
    return found


def _add_on_base(data: _MonthData) -> list[Finding]:
    found: list[Finding] = []
    for item in data.billed():
        by_practitioner: dict[str, list[str]] = defaultdict(list)
        for row in data.rows_by_mrn[item.patient.mrn]:
            by_practitioner[row.billing_practitioner_npi or row.billing_practitioner].append(
                row.code)
        for codes in by_practitioner.values():
            found.extend(_finding(item, problem, True) for problem in add_on_problems(codes))
    return found


def _review(session: Session, practice: Practice, month: YearMonth,
            now: datetime) -> list[Finding]:
    items = review_items(session=session, viewer=practice_wide_viewer(practice), now=now,
                         months=[month])
    grouped: dict[str, list] = defaultdict(list)
    for item in items:
        if item.patient_id is not None:
            grouped[item.patient_id].append(item)
    found = []
    for patient_id, listed in grouped.items():
        reasons = sorted({r for i in listed for r in i.reasons})
        found.append(Finding(
            patient_id, listed[0].mrn, listed[0].patient_name,
            f"{len(listed)} undecided review item(s): {', '.join(reasons)}", False,
            tuple(i.id for i in listed if i.kind == "time_entry")))
    return sorted(found, key=lambda f: f.mrn)


def practice_wide_viewer(practice: Practice) -> User:
    """A transient admin of `practice` for reads that must see everything (the CLI, the
    close itself); never added to a session, never written anywhere."""
    return User(id=uuid.UUID(int=0), practice_id=practice.id, name="practice",
                email="practice@invalid", role=Role.ADMIN)


def _redacted(finding: Finding, allowed: set[str]) -> Finding:
    if finding.patient_id is None or finding.patient_id in allowed:
        return finding
    return Finding(None, "", "", "a patient outside your team", finding.blocking)


def _hm(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%H:%M")
