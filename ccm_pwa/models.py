"""Every table of ccm_pwa, in one file so the whole schema reads at once.

Conventions (docs/data-model.md explains them):
- UUID primary keys that a phone can assign while offline;
- timestamps are tz-aware and stored as UTC (`UtcDateTime`), calendar dates as `date`;
- coded fields are `StrEnum`s stored as short strings, so adding a value needs no
  database enum migration;
- time is recorded as append-only events (`TimeEntry`, `TimeEntryVoid`); monthly totals in
  `PatientMonth` are a rebuildable cache, never the truth.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# The billing engine's vocabulary is the schema's: one definition of programs and performers.
from ccm_pwa.domain.billing_case import Performer as PerformerKind
from ccm_pwa.domain.billing_case import Program


def utc_now() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that refuses naive datetimes and always comes back aware (UTC).

    SQLite has no time zone type; without this it would hand back naive values and a
    month boundary could silently shift by the server's offset.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a tz-aware column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _ts(*, nullable: bool = False, index: bool = False, default: bool = False) -> Any:
    kwargs: dict[str, Any] = {"sa_type": UtcDateTime, "nullable": nullable, "index": index}
    if default:
        return Field(default_factory=utc_now, **kwargs)
    return Field(default=None, **kwargs) if nullable else Field(**kwargs)


def _code(default: Any = ..., *, index: bool = False, length: int = 32) -> Any:
    return Field(default=default, sa_type=sa.String(length), index=index)


def _json(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_type=sa.JSON)


class Table(SQLModel):
    """Base of every table: snake_case table names (`time_entry`, not `timeentry`)."""

    @declared_attr  # type: ignore[arg-type]
    def __tablename__(cls) -> str:
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
        return "app_user" if name == "user" else name  # "user" is reserved in PostgreSQL


# --- coded values -------------------------------------------------------------------------


class Role(StrEnum):
    CARE_MANAGER = "care_manager"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class EnrollmentStatus(StrEnum):
    CANDIDATE = "candidate"
    CONSENT_PENDING = "consent_pending"
    ENROLLED = "enrolled"
    DECLINED = "declined"
    DISENROLLED = "disenrolled"
    ENROLLED_ELSEWHERE = "enrolled_elsewhere"
    INELIGIBLE = "ineligible"


class ConsentMethod(StrEnum):
    VERBAL = "verbal"
    WRITTEN = "written"


class Activity(StrEnum):
    """Countable CCM activities (rules T6); the time form offers exactly these."""

    PHONE_CALL_PATIENT = "phone_call_patient"
    PHONE_CALL_CAREGIVER = "phone_call_caregiver"
    CARE_COORDINATION = "care_coordination"
    MEDICATION_RECONCILIATION = "medication_reconciliation"
    RECORDS_REVIEW = "records_review"
    CARE_PLAN_REVISION = "care_plan_revision"
    TRANSITION_FOLLOW_UP = "transition_follow_up"
    COMMUNITY_SERVICES = "community_services"


class TimeSource(StrEnum):
    TIMER = "timer"
    MANUAL = "manual"


class CarePlanStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    SUPERSEDED = "superseded"


class CarePlanElement(StrEnum):
    """The CMS care-plan elements (rules §3), each versioned on its own for sync."""

    PROBLEMS = "problems"
    EXPECTED_OUTCOME = "expected_outcome"
    MEASURABLE_GOALS = "measurable_goals"
    SYMPTOM_MANAGEMENT = "symptom_management"
    INTERVENTIONS = "interventions"
    MEDICATION_MANAGEMENT = "medication_management"
    COMMUNITY_SERVICES = "community_services"
    COORDINATION = "coordination"
    REVIEW_SCHEDULE = "review_schedule"


class TaskStatus(StrEnum):
    READY = "ready"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TaskPriority(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    ASAP = "asap"
    STAT = "stat"


class MutationOutcome(StrEnum):
    APPLIED = "applied"
    REJECTED = "rejected"


class MonthStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


# --- practice and people ------------------------------------------------------------------


class Organisation(Table, table=True):
    """Several practices run by one care-management team: a managed-CCM company, or a
    practice group's central nurses (docs/data-model.md, "Organisations and roles")."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str
    created_at: datetime = _ts(default=True)


class Practice(Table, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # A practice with no organisation stands alone; its users hold roles only in it.
    organisation_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id",
                                              index=True)
    name: str
    timezone: str = "America/Chicago"
    fee_year: int = 2026
    reminder_local_time: str = "09:00"
    # Idle minutes before the phone locks behind its PIN (assets/field/lock.js), sent in the
    # sync pull's `me` document; 1..30 (services/practice_settings.py).
    app_lock_minutes: int = Field(default=5, sa_column_kwargs={"server_default": "5"})
    # Bumped by every write that changes all of the practice's sync documents
    # (services/record_versions.py); the pull compares it instead of rebuilding.
    record_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = _ts(default=True)


class User(Table, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    practice_id: uuid.UUID = Field(foreign_key="practice.id", index=True)
    name: str
    email: str = Field(sa_type=sa.String(254), unique=True, index=True)
    role: Role = _code(Role.CARE_MANAGER)
    performer_kind: PerformerKind = _code(PerformerKind.CLINICAL_STAFF)
    credential: str = ""  # "RN", "LPN", "MD", shown in the time log auditors ask for
    npi: str = Field(default="", sa_type=sa.String(10))  # billing practitioners: on the claim
    supervisor_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", index=True)
    active: bool = True
    password_hash: str = ""
    must_change_password: bool = True
    password_changed_at: datetime | None = _ts(nullable=True)
    totp_secret: str | None = None
    totp_enrolled_at: datetime | None = _ts(nullable=True)
    totp_last_used_step: int | None = None  # a code is accepted once: compare-and-set on this
    failed_attempts: int = 0
    backoff_until: datetime | None = _ts(nullable=True)
    locked_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts(default=True)


class PracticeRole(Table, table=True):
    """A role a user holds in a practice other than her own (`User.practice_id`, whose role
    is `User.role`): the managed team's care manager in each practice she serves.

    Only practices of her own practice's organisation; `supervisor_id` is her supervisor in
    that practice (services/practice_roles.py checks both).
    """

    __table_args__ = (sa.UniqueConstraint("user_id", "practice_id", name="uq_practice_role"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id")
    practice_id: uuid.UUID = Field(foreign_key="practice.id", index=True)
    role: Role = _code(Role.CARE_MANAGER)
    supervisor_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", index=True)
    granted_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    granted_at: datetime = _ts(default=True)


class RecoveryCode(Table, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    code_hash: str
    used_at: datetime | None = _ts(nullable=True)


class AuthSession(Table, table=True):
    """A signed-in browser or phone; only a hash of its cookie token is kept."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(sa_type=sa.String(128), unique=True, index=True)
    created_at: datetime = _ts(default=True)
    last_seen_at: datetime = _ts(default=True)
    absolute_expires_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)
    client_label: str = ""


# --- patients and their program -----------------------------------------------------------


class Patient(Table, table=True):
    __table_args__ = (
        sa.UniqueConstraint("practice_id", "mrn", name="uq_patient_practice_mrn"),
        # Who sees whom (auth/access.py) is a union of these two lookups: each index finds
        # a caseload without walking the practice's other patients.
        sa.Index("ix_patient_practice_care_manager", "practice_id", "care_manager_id"),
        sa.Index("ix_patient_practice_billing_practitioner", "practice_id",
                 "billing_practitioner_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    practice_id: uuid.UUID = Field(foreign_key="practice.id", index=True)
    mrn: str = Field(sa_type=sa.String(64), index=True)
    given_name: str
    family_name: str
    birth_date: date
    phone: str = ""
    preferred_language: str = "en"
    care_manager_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", index=True)
    billing_practitioner_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    program: Program = _code(Program.CCM)
    enrollment_status: EnrollmentStatus = _code(EnrollmentStatus.CANDIDATE, index=True)
    enrollment_reason: str = ""
    enrollment_changed_at: datetime = _ts(default=True)
    last_initiating_visit_on: date | None = None
    created_at: datetime = _ts(default=True)
    updated_at: datetime = _ts(default=True)
    version: int = 1
    # Bumped by every write that changes this patient's sync document
    # (services/record_versions.py); unlike `version`, it is not the demographics' edit version.
    record_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Condition(Table, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    icd10_code: str = Field(sa_type=sa.String(16))
    description: str
    chronic: bool = True
    onset_date: date | None = None
    resolved_date: date | None = None


class Consent(Table, table=True):
    """The dated, attributable consent record an auditor asks for (rules §3)."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    consented_on: date
    method: ConsentMethod = _code(ConsentMethod.VERBAL)
    disclosed_service: bool = False
    disclosed_cost_sharing: bool = False
    disclosed_one_practitioner: bool = False
    disclosed_stop_anytime: bool = False
    obtained_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    billing_practitioner_id: uuid.UUID = Field(foreign_key="app_user.id")
    program: Program = _code(Program.CCM)
    revoked_on: date | None = None
    revocation_reason: str = ""
    recorded_at: datetime = _ts(default=True)


class InpatientStay(Table, table=True):
    """A hospital or SNF inpatient stay: CCM time inside it never counts (rules G5)."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    facility: str = ""
    admitted_at: datetime = _ts()
    discharged_at: datetime | None = _ts(nullable=True)
    recorded_at: datetime = _ts(default=True)


class MonthlyAssessment(Table, table=True):
    """Per patient-month facts the practitioner attests (complex MDM for 99487)."""

    __table_args__ = (sa.UniqueConstraint("patient_id", "month", name="uq_assessment_month"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    month: str = Field(sa_type=sa.String(7))
    complex_mdm: bool = False
    assessed_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    assessed_at: datetime = _ts(default=True)


# --- care plan ----------------------------------------------------------------------------


class CarePlan(Table, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    status: CarePlanStatus = _code(CarePlanStatus.ACTIVE)
    established_on: date
    established_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    signed_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    copy_given_on: date | None = None
    copy_given_method: str = ""
    next_review_on: date | None = None
    last_reviewed_on: date | None = None  # the monthly review (care_plan.review)
    created_at: datetime = _ts(default=True)


class CarePlanRevision(Table, table=True):
    """One version of one care-plan element; the newest version per element is in force.

    Versions are per element so two people editing different elements offline never
    conflict, and a change based on an old version becomes a `CarePlanConflict`.
    """

    __table_args__ = (
        sa.UniqueConstraint("care_plan_id", "element", "version", name="uq_care_plan_element_ver"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    care_plan_id: uuid.UUID = Field(foreign_key="care_plan.id", index=True)
    element: CarePlanElement = _code()
    version: int
    value: Any = _json()
    author_id: uuid.UUID = Field(foreign_key="app_user.id")
    occurred_at: datetime = _ts()
    received_at: datetime = _ts(default=True)


class CarePlanConflict(Table, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    care_plan_id: uuid.UUID = Field(foreign_key="care_plan.id", index=True)
    element: CarePlanElement = _code()
    base_version: int
    server_version: int
    server_value: Any = _json()
    client_value: Any = _json()
    client_author_id: uuid.UUID = Field(foreign_key="app_user.id")
    client_occurred_at: datetime = _ts()
    resolved_at: datetime | None = _ts(nullable=True)
    resolved_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")


# --- work: time, notes, tasks -------------------------------------------------------------


class TimeEntry(Table, table=True):
    """A recorded stretch of care-management time. Never edited: void and re-record."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    performer_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    performer_kind: PerformerKind = _code()
    activity: Activity = _code()
    note: str = ""
    started_at: datetime = _ts(index=True)
    duration_seconds: int
    source: TimeSource = _code(TimeSource.TIMER)
    occurred_at: datetime = _ts()  # device clock when recorded on the phone
    received_at: datetime = _ts(default=True)  # server clock when it arrived
    client_id: uuid.UUID | None = Field(default=None, foreign_key="sync_client.id")
    mutation_id: int | None = None
    review_flags: list[str] = _json(list)  # e.g. ["manual", "over_90_min", "clock_skew"]


class TimeEntryVoid(Table, table=True):
    """Voiding is its own event: the entry stays, with who voided it and why."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    time_entry_id: uuid.UUID = Field(foreign_key="time_entry.id", unique=True, index=True)
    reason: str
    voided_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    occurred_at: datetime = _ts()
    received_at: datetime = _ts(default=True)


class TimeEntryReview(Table, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    time_entry_id: uuid.UUID = Field(foreign_key="time_entry.id", index=True)
    decision: str = Field(sa_type=sa.String(16))  # accepted | voided
    reason: str = ""
    decided_by_id: uuid.UUID = Field(foreign_key="app_user.id")
    decided_at: datetime = _ts(default=True)


class Note(Table, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    author_id: uuid.UUID = Field(foreign_key="app_user.id")
    time_entry_id: uuid.UUID | None = Field(default=None, foreign_key="time_entry.id")
    body: str
    occurred_at: datetime = _ts()
    received_at: datetime = _ts(default=True)


class Task(Table, table=True):
    """A follow-up owed to a patient (FHIR Task vocabulary: owner does it, patient benefits)."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    owner_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", index=True)
    care_plan_id: uuid.UUID | None = Field(default=None, foreign_key="care_plan.id")
    title: str
    kind: str = Field(default="follow_up", sa_type=sa.String(32))  # or transition_follow_up
    status: TaskStatus = _code(TaskStatus.READY)
    status_reason: str = ""
    priority: TaskPriority = _code(TaskPriority.ROUTINE)
    due_at: datetime | None = _ts(nullable=True, index=True)
    completed_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts(default=True)
    version: int = 1


# --- sync ---------------------------------------------------------------------------------


class SyncClient(Table, table=True):
    """One installation of the app on one device, bound to the user who signed in.

    Remote erase (services/installations.py): `wipe_requested_at` also sets `revoked_at`, so
    the sync API refuses the installation at once; the phone erases its store at its next
    contact and confirms (`wiped_at`).
    """

    id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    device_label: str = ""
    last_mutation_id: int = 0
    schema_version: int = 1
    clock_skew_seconds: float | None = None
    created_at: datetime = _ts(default=True)
    last_seen_at: datetime = _ts(default=True)
    revoked_at: datetime | None = _ts(nullable=True)
    wipe_requested_at: datetime | None = _ts(nullable=True)
    wipe_requested_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    wiped_at: datetime | None = _ts(nullable=True)


class AppliedMutation(Table, table=True):
    """The log that makes a push idempotent: (client, mutation id) is applied once."""

    __table_args__ = (
        sa.UniqueConstraint("client_id", "mutation_id", name="uq_applied_mutation_client_seq"),
        # A pull's rejections stamp counts one phone's rejected mutations, never its history.
        sa.Index("ix_applied_mutation_client_outcome", "client_id", "outcome"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    client_id: uuid.UUID = Field(foreign_key="sync_client.id", index=True)
    mutation_id: int
    name: str = Field(sa_type=sa.String(64))
    args: Any = _json()
    occurred_at: datetime = _ts()
    received_at: datetime = _ts(default=True)
    outcome: MutationOutcome = _code(MutationOutcome.APPLIED)
    rejection_reason: str = ""
    # The patient the mutation was about, when the server could tell (and the caller could
    # see them): a rejection synced back names its patient even for a void or a task.
    patient_id: uuid.UUID | None = Field(default=None, foreign_key="patient.id")


class SyncClientView(Table, table=True):
    """What a client was last sent (design §3 pull): each document's version, by key.

    Its id is the opaque pull cursor; the next pull sends only the documents whose version
    differs (Replicache's "client view record"). A client keeps its few newest views, so a
    pull whose answer was lost can be repeated from the previous cursor.
    """

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    client_id: uuid.UUID = Field(foreign_key="sync_client.id", index=True)
    created_at: datetime = _ts(default=True)
    versions: dict[str, str] = _json()
    # The change stamps the view was built from (services/sync_pull.py): "" for the
    # practice-wide part, "rejections", one per visible patient, and "until" (when time
    # alone changes a document); empty for views of older releases.
    stamps: dict[str, str] = _json()
    # The worklist document as sent: a pull after a change re-evaluates only the moved
    # patients' rows and reuses the others (services/worklist.py).
    worklist: dict[str, Any] = _json()


# --- push reminders -----------------------------------------------------------------------


class PushSubscription(Table, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    endpoint: str = Field(sa_type=sa.String(2048), unique=True)
    p256dh: str
    auth: str
    user_agent: str = ""
    created_at: datetime = _ts(default=True)
    last_success_at: datetime | None = _ts(nullable=True)
    failure_count: int = 0


class ReminderDelivery(Table, table=True):
    """A reminder key (user, kind, local day) is sent at most once, across restarts."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    reminder_key: str = Field(sa_type=sa.String(200), unique=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    sent_at: datetime = _ts(default=True)
    outcome: str = ""


class SchedulerLease(Table, table=True):
    """Which worker may run the reminder job now (used where no advisory lock exists)."""

    name: str = Field(sa_type=sa.String(64), primary_key=True)
    holder: str
    expires_at: datetime = _ts()


# --- audit and rollups --------------------------------------------------------------------


class AuditEvent(Table, table=True):
    """Append-only record of every PHI read and write, sign-in and billing decision."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    occurred_at: datetime = _ts(default=True, index=True)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", index=True)
    client: str = ""  # device / sync client / IP + user agent
    patient_id: uuid.UUID | None = Field(default=None, foreign_key="patient.id", index=True)
    action: str = Field(sa_type=sa.String(64))
    outcome: str = Field(default="success", sa_type=sa.String(32))
    detail: Any = _json()


class PatientMonth(Table, table=True):
    """Rollup of one patient's month, rewritten with every time event; rebuildable."""

    __table_args__ = (sa.UniqueConstraint("patient_id", "month", name="uq_patient_month"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patient.id", index=True)
    month: str = Field(sa_type=sa.String(7), index=True)  # practice-local "YYYY-MM"
    staff_seconds: int = 0
    practitioner_seconds: int = 0
    countable_minutes: int = 0
    entry_count: int = 0
    billable: bool = False
    lane: str = ""
    claim_codes: str = ""  # e.g. "99490,99439x2"
    expected_amount_cents: int = 0
    next_code: str = ""
    minutes_to_next: int | None = None
    last_contact_at: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts(default=True)


class MonthClose(Table, table=True):
    __table_args__ = (sa.UniqueConstraint("practice_id", "month", name="uq_month_close"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    practice_id: uuid.UUID = Field(foreign_key="practice.id", index=True)
    month: str = Field(sa_type=sa.String(7))
    status: MonthStatus = _code(MonthStatus.OPEN)
    closed_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    closed_at: datetime | None = _ts(nullable=True)
    reopened_reason: str = ""
