"""A believable demo practice, identical for the same seed and the same day.

Every random choice comes from one seeded `random.Random`, ids included, and every
timestamp from the given `today`, so two runs with the same arguments produce the same rows.

With `partner_patients`, the demo is an organisation (managed and hybrid CCM, issue 17):
Riverbend (Chicago) and its partner Northside (New York). Riverbend's supervisor also
supervises the managed team at Northside, where Riverbend's care manager Zoe Martin works
patients beside Northside's own care manager, under Northside's own supervisor. The
partner is drawn after everything Riverbend's practice draws, so Riverbend's rows are the
same with or without it.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from ccm_pwa.domain.chronic_conditions import condition_key
from ccm_pwa.models import (
    Activity,
    CarePlan,
    CarePlanElement,
    CarePlanRevision,
    Condition,
    Consent,
    ConsentMethod,
    EnrollmentStatus,
    InpatientStay,
    MonthlyAssessment,
    Note,
    Organisation,
    Patient,
    PerformerKind,
    Practice,
    Program,
    Role,
    Task,
    TaskPriority,
    TimeEntry,
    TimeEntryVoid,
    TimeSource,
    User,
)
from ccm_pwa.services import demo_data as data
from ccm_pwa.services.practice_roles import grant_role
from ccm_pwa.services.practices import create_practice
from ccm_pwa.services.purge import delete_practice
from ccm_pwa.services.rollups import rebuild_rollups
from ccm_pwa.services.users import create_user

DEMO_PRACTICE_NAME = "Riverbend Family Medicine (demo)"
DEMO_TIMEZONE = "America/Chicago"
DEMO_DOMAIN = "riverbend.example"
PARTNER_PRACTICE_NAME = "Northside Internal Medicine (demo)"
PARTNER_TIMEZONE = "America/New_York"
PARTNER_DOMAIN = "northside.example"
MANAGED_HOME_PATIENTS = 4  # the managed care manager's own Riverbend patients


@dataclass
class DemoLogin:
    email: str
    name: str
    role: str
    password: str
    totp_secret: str
    practice: str = DEMO_PRACTICE_NAME
    also: str = ""  # her roles in the other practice, for the printed sign-ins


@dataclass
class DemoResult:
    practice_id: uuid.UUID
    partner_id: uuid.UUID | None = None
    logins: list[DemoLogin] = field(default_factory=list)
    patients: int = 0
    time_entries: int = 0


class _Ids:
    """Deterministic UUIDs drawn from the seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def next(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


def create_demo_practice(
    *, session: Session, patients: int, care_managers: int, seed: int, today: date,
    partner_patients: int = 0,
) -> DemoResult:
    """Replace any previous demo practice (and partner) with a fresh one built from `seed`;
    with `partner_patients`, the two-practice organisation of the module docstring."""
    for name in (PARTNER_PRACTICE_NAME, DEMO_PRACTICE_NAME):  # the partner's roles first
        for old in session.exec(select(Practice).where(Practice.name == name)):
            delete_practice(session=session, practice_id=old.id)
    session.expunge_all()  # the rows were deleted underneath the ORM
    rng = random.Random(seed)
    ids = _Ids(rng)
    zone = ZoneInfo(DEMO_TIMEZONE)
    practice_id = ids.next()
    practice = create_practice(session=session, name=DEMO_PRACTICE_NAME, timezone=DEMO_TIMEZONE,
                               practice_id=practice_id,
                               organisation_id=uuid.uuid5(practice_id, "organisation"))
    practice.created_at = datetime.combine(today, time(8), zone).astimezone(UTC)
    organisation = session.get(Organisation, practice.organisation_id)
    assert organisation is not None
    organisation.created_at = practice.created_at
    session.flush()
    result = DemoResult(practice_id=practice.id)
    staff = _create_staff(session, practice, rng, ids, care_managers, result)
    for index in range(patients):
        _create_patient(session, practice, rng, ids, index, staff, today, zone, result)
    result.patients = patients
    session.flush()
    _plant_double_logged_time(session, practice, staff, today, zone, seed, result)
    if partner_patients:
        partner = _create_partner(session, practice, rng, ids, staff, patients,
                                  partner_patients, today, result)
        rebuild_rollups(session=session, practice=partner)
    rebuild_rollups(session=session, practice=practice)
    return result


@dataclass
class _Staff:
    supervisor: User
    care_managers: list[User]
    practitioners: list[User]
    # Each person's logged intervals so far: nobody is invented working two patients at once.
    busy: dict[uuid.UUID, list[tuple[datetime, datetime]]] = field(default_factory=dict)


def _adder(session, practice, rng, ids, result, domain: str = DEMO_DOMAIN):
    """A function adding one ready-to-use demo account of `practice`."""
    def add(email: str, name: str, role: Role, kind: PerformerKind, credential: str,
            sup: uuid.UUID | None = None, npi: str = "") -> User:
        password = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(12))
        secret = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(32))
        new = create_user(
            session=session, practice_id=practice.id, email=f"{email}@{domain}", name=name,
            role=role, performer_kind=kind, credential=credential, supervisor_id=sup,
            password=password, totp_secret=secret, user_id=ids.next(),
        )
        new.user.created_at = practice.created_at
        new.user.npi = npi
        # Demo accounts are ready to use: sign in with the printed password and TOTP secret.
        new.user.must_change_password = False
        new.user.totp_enrolled_at = practice.created_at
        result.logins.append(DemoLogin(new.user.email, name, role.value, password, secret,
                                       practice.name))
        return new.user
    return add


def _create_staff(session, practice, rng, ids, count, result) -> _Staff:
    add = _adder(session, practice, rng, ids, result)

    add("admin", "Pat Admin", Role.ADMIN, PerformerKind.NON_CLINICAL, "")
    supervisor = add("supervisor", "Renee Walsh", Role.SUPERVISOR, PerformerKind.CLINICAL_STAFF,
                     "RN, CCM")
    practitioner = PerformerKind.BILLING_PRACTITIONER
    practitioners = [
        add("dr.osei", "Dr. Kwame Osei", Role.CARE_MANAGER, practitioner, "MD", npi="1245319599"),
        add("np.hart", "Jo Hart, NP", Role.CARE_MANAGER, practitioner, "NP", npi="1972681237"),
    ]
    managers = []
    for i in range(count):
        name, credential = data.CARE_MANAGER_NAMES[i % len(data.CARE_MANAGER_NAMES)]
        suffix = "" if i < len(data.CARE_MANAGER_NAMES) else str(i)
        email = name.split()[0].lower() + suffix
        managers.append(add(email, name, Role.CARE_MANAGER, PerformerKind.CLINICAL_STAFF,
                            credential, supervisor.id))
    return _Staff(supervisor, managers, practitioners)


def _pick_weighted(rng: random.Random, options: list[tuple[object, float]]) -> object:
    roll, total = rng.random(), 0.0
    for value, weight in options:
        total += weight
        if roll < total:
            return value
    return options[-1][0]


def _create_partner(session, home, rng, ids, home_staff, home_patients, count, today,
                    result) -> Practice:
    """Northside, its own staff, and the managed team working it (module docstring)."""
    zone = ZoneInfo(PARTNER_TIMEZONE)
    partner = create_practice(session=session, name=PARTNER_PRACTICE_NAME,
                              timezone=PARTNER_TIMEZONE, practice_id=ids.next(),
                              organisation=session.get(Organisation, home.organisation_id).name)
    partner.created_at = home.created_at
    session.flush()
    result.partner_id = partner.id
    renee = home_staff.supervisor
    zoe = _adder(session, home, rng, ids, result)(
        "zoe", "Zoe Martin", Role.CARE_MANAGER, PerformerKind.CLINICAL_STAFF, "RN", renee.id)
    add = _adder(session, partner, rng, ids, result, PARTNER_DOMAIN)
    add("admin", "Ines Admin", Role.ADMIN, PerformerKind.NON_CLINICAL, "")
    grace = add("supervisor", "Grace Lin", Role.SUPERVISOR, PerformerKind.CLINICAL_STAFF, "RN")
    doctor = add("dr.abara", "Dr. Ada Abara", Role.CARE_MANAGER,
                 PerformerKind.BILLING_PRACTITIONER, "MD", npi="1679576722")
    luis = add("luis", "Luis Ortega", Role.CARE_MANAGER, PerformerKind.CLINICAL_STAFF, "LPN",
              grace.id)
    session.flush()
    for user, role, supervisor in ((renee, Role.SUPERVISOR, None),
                                   (zoe, Role.CARE_MANAGER, renee)):
        grant_role(session=session, user=user, practice=partner, role=role,
                   supervisor=supervisor, now=home.created_at)
        login = next(x for x in result.logins if x.email == user.email)
        login.also = f"{role.value} at {partner.name}"
    managed = _Staff(renee, [zoe], home_staff.practitioners, home_staff.busy)
    for index in range(MANAGED_HOME_PATIENTS):
        _create_patient(session, home, rng, ids, home_patients + index, managed, today,
                        ZoneInfo(home.timezone), result)
    # hybrid: Northside's patients alternate between its own Luis and the managed team's Zoe
    own_and_managed = _Staff(grace, [luis, zoe], [doctor], home_staff.busy)
    for index in range(count):
        _create_patient(session, partner, rng, ids, index, own_and_managed, today, zone,
                        result, mrn_prefix="NS")
    result.patients += MANAGED_HOME_PATIENTS + count
    session.flush()
    return partner


def _create_patient(session, practice, rng, ids, index, staff, today, zone, result,
                    mrn_prefix: str = "RB") -> None:
    program = _pick_weighted(rng, [(Program.CCM, 0.75), (Program.COMPLEX_CCM, 0.12),
                                   (Program.PCM, 0.13)])
    status = _pick_weighted(rng, [
        (EnrollmentStatus.ENROLLED, 0.80), (EnrollmentStatus.CANDIDATE, 0.07),
        (EnrollmentStatus.CONSENT_PENDING, 0.05), (EnrollmentStatus.DECLINED, 0.04),
        (EnrollmentStatus.DISENROLLED, 0.02), (EnrollmentStatus.ENROLLED_ELSEWHERE, 0.02),
    ])
    manager = staff.care_managers[index % len(staff.care_managers)]
    practitioner = staff.practitioners[index % len(staff.practitioners)]
    birth = date(1934, 1, 1) + timedelta(days=rng.randrange(0, 365 * 27))
    patient = Patient(
        id=ids.next(), practice_id=practice.id,
        mrn=f"{mrn_prefix}{100000 + index * 7 + rng.randrange(7)}",
        given_name=rng.choice(data.GIVEN_NAMES), family_name=rng.choice(data.FAMILY_NAMES),
        birth_date=birth, phone=f"+1-312-555-01{rng.randrange(100):02d}",
        preferred_language=rng.choice(data.LANGUAGES), care_manager_id=manager.id,
        billing_practitioner_id=practitioner.id, program=program, enrollment_status=status,
        enrollment_reason=_reason(status),
        last_initiating_visit_on=today - timedelta(days=rng.randrange(20, 330)),
        created_at=practice.created_at, updated_at=practice.created_at,
        enrollment_changed_at=practice.created_at,
    )
    session.add(patient)
    session.flush()  # no ORM relationships: parents are written before their children
    # PCM needs one serious condition; CCM two or more. A few enrolled CCM patients are
    # planted with a single chronic condition so eligibility checks have something to catch.
    n_chronic = 1 if program == Program.PCM else rng.choice([2, 2, 3, 3, 4, 5])
    if program != Program.PCM and rng.random() < 0.03:
        n_chronic = 1
    for code, description in _distinct_conditions(rng.sample(data.CHRONIC_CONDITIONS,
                                                             n_chronic)):
        session.add(Condition(id=ids.next(), patient_id=patient.id, icd10_code=code,
                              description=description, chronic=True,
                              onset_date=today - timedelta(days=rng.randrange(400, 6000))))
    if rng.random() < 0.2:
        code, description = rng.choice(data.ACUTE_CONDITIONS)
        session.add(Condition(id=ids.next(), patient_id=patient.id, icd10_code=code,
                              description=description, chronic=False,
                              onset_date=today - timedelta(days=rng.randrange(5, 60))))
    if status != EnrollmentStatus.ENROLLED:
        return
    month_start = today.replace(day=1)
    consent_on = (month_start + timedelta(days=rng.randrange(0, max(1, today.day - 1)))
                  if rng.random() < 0.06 else today - timedelta(days=rng.randrange(40, 700)))
    session.add(Consent(
        id=ids.next(), patient_id=patient.id, consented_on=consent_on,
        method=rng.choice([ConsentMethod.VERBAL, ConsentMethod.WRITTEN]),
        disclosed_service=True, disclosed_cost_sharing=True, disclosed_one_practitioner=True,
        disclosed_stop_anytime=True, obtained_by_id=manager.id,
        billing_practitioner_id=practitioner.id, program=program,
        recorded_at=datetime.combine(consent_on, time(11), zone).astimezone(UTC),
    ))
    if rng.random() < 0.95:  # a few enrolled patients still lack a care plan
        _create_care_plan(session, rng, ids, patient, manager, practitioner, consent_on, zone)
    if program == Program.COMPLEX_CCM:
        for month in (_month_key(month_start), _month_key(month_start - timedelta(days=1))):
            session.add(MonthlyAssessment(
                id=ids.next(), patient_id=patient.id, month=month,
                complex_mdm=rng.random() < 0.85, assessed_by_id=practitioner.id,
                assessed_at=datetime.combine(month_start, time(9), zone).astimezone(UTC)))
    stay = None
    if rng.random() < 0.04 and today.day > 6:
        admitted = datetime.combine(month_start + timedelta(days=rng.randrange(0, today.day - 5)),
                                    time(rng.randrange(6, 20)), zone)
        stay = InpatientStay(id=ids.next(), patient_id=patient.id, facility="Mercy General",
                             admitted_at=admitted.astimezone(UTC),
                             discharged_at=(admitted + timedelta(days=rng.randrange(2, 5)))
                             .astimezone(UTC), recorded_at=admitted.astimezone(UTC))
        session.add(stay)
        session.add(Task(id=ids.next(), patient_id=patient.id, owner_id=manager.id,
                         title="Transition follow-up call within 2 business days of discharge",
                         kind="transition_follow_up", priority=TaskPriority.URGENT,
                         due_at=stay.discharged_at + timedelta(days=2),
                         created_at=stay.discharged_at))
    performers = [manager, manager, manager, practitioner]
    # Last month: a full month of work. This month: work up to today, so the worklist
    # shows every state from "not reached yet" to "past 60 minutes".
    previous_start = (month_start - timedelta(days=1)).replace(day=1)
    last_day_previous = month_start - timedelta(days=1)
    target_previous = rng.choice([0, 10, 18, 22, 25, 31, 38, 42, 45, 55, 63, 75])
    _create_time(session, rng, ids, patient, performers, previous_start, last_day_previous,
                 target_previous, zone, today, result, staff.busy)
    # This month's work stops yesterday: the demo never holds entries later than the moment
    # someone uses it (a timer started now must not collide with invented time).
    target_now = int(rng.choice([0, 0, 5, 8, 12, 15, 17, 19, 21, 24, 28, 35, 41, 48, 61, 66, 95])
                     * min(1.0, (today.day - 1) / 20))
    if today.day > 1:
        _create_time(session, rng, ids, patient, performers, month_start,
                     today - timedelta(days=1), target_now, zone, today, result, staff.busy)
    if rng.random() < 0.5:
        session.add(Task(
            id=ids.next(), patient_id=patient.id, owner_id=manager.id,
            title=rng.choice(["Check home BP log", "Review new lab results", "Confirm specialist "
                              "appointment", "Medication refill follow-up"]),
            priority=rng.choice([TaskPriority.ROUTINE, TaskPriority.ROUTINE, TaskPriority.URGENT]),
            due_at=datetime.combine(today + timedelta(days=rng.randrange(-5, 10)), time(10), zone)
            .astimezone(UTC),
            created_at=datetime.combine(month_start, time(9), zone).astimezone(UTC)))


def _create_time(session, rng, ids, patient, performers, first_day, last_day, target_minutes,
                 zone, today, result, busy) -> None:
    remaining = target_minutes * 60
    days = (last_day - first_day).days + 1
    while remaining > 0:
        seconds = min(remaining, rng.randrange(4 * 60, 26 * 60)) + rng.randrange(0, 50)
        remaining -= seconds
        day = first_day + timedelta(days=rng.randrange(days))
        start = datetime.combine(day, time(rng.randrange(8, 17), rng.randrange(60)), zone)
        performer = rng.choice(performers)
        start = _free_start(busy.setdefault(performer.id, []), start, seconds, zone)
        activity = rng.choice(list(Activity))
        manual = rng.random() < 0.08
        entry = TimeEntry(
            id=ids.next(), patient_id=patient.id, performer_id=performer.id,
            performer_kind=performer.performer_kind, activity=activity,
            note=_note(rng, activity), started_at=start.astimezone(UTC),
            duration_seconds=seconds, source=TimeSource.MANUAL if manual else TimeSource.TIMER,
            occurred_at=(start + timedelta(seconds=seconds)).astimezone(UTC),
            received_at=(start + timedelta(seconds=seconds + rng.randrange(5, 3600)))
            .astimezone(UTC),
            review_flags=["manual"] if manual else [],
        )
        session.add(entry)
        result.time_entries += 1
        if rng.random() < 0.03:
            session.flush()
            session.add(TimeEntryVoid(
                id=ids.next(), time_entry_id=entry.id, reason="Logged to the wrong patient",
                voided_by_id=performer.id, occurred_at=entry.received_at,
                received_at=entry.received_at))
            remaining += seconds
        if rng.random() < 0.25:
            session.add(Note(id=ids.next(), patient_id=patient.id, author_id=performer.id,
                             body=entry.note, occurred_at=entry.occurred_at,
                             received_at=entry.received_at))


def _free_start(busy: list[tuple[datetime, datetime]], start: datetime, seconds: int,
                zone: ZoneInfo) -> datetime:
    """The first start from `start` (same local day) at which the performer is free, and
    book it. Moves no random draw, so every other demo value stays as the seed makes it."""
    day, gap = start.date(), timedelta(minutes=1)
    candidate = start
    for _attempt in range(2):
        moved = True
        while moved:
            moved = False
            end = candidate + timedelta(seconds=seconds)
            for taken_start, taken_end in busy:
                if candidate < taken_end + gap and taken_start < end + gap:
                    candidate, moved = taken_end + gap, True
        if candidate.astimezone(zone).date() == day:
            break
        candidate = datetime.combine(day, time(6), zone)  # the day was full: start earlier
    busy.append((candidate, candidate + timedelta(seconds=seconds)))
    return candidate


def _plant_double_logged_time(session, practice, staff, today, zone, seed, result) -> None:
    """One planted defect for the month-close checks: the first care manager's same 24
    minutes last month logged on two patients (the second by hand, 9 days late). Each
    claim needs those minutes, so the close is refused until one entry is voided.

    Chosen by MRN among CCM patients with consent, a care plan, two conditions and under
    40 minutes last month; ids from uuid5, so no random draw of the seed moves.
    """
    manager = staff.care_managers[0]
    previous = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    month_start = datetime.combine(previous, time(0), zone)
    month_end = datetime.combine(today.replace(day=1), time(0), zone)
    chosen = []
    for patient in session.exec(select(Patient).where(
            Patient.practice_id == practice.id, Patient.care_manager_id == manager.id,
            Patient.enrollment_status == EnrollmentStatus.ENROLLED,
            Patient.program == Program.CCM).order_by(Patient.mrn)):
        consent = session.exec(select(Consent).where(Consent.patient_id == patient.id)).first()
        plan = session.exec(select(CarePlan).where(CarePlan.patient_id == patient.id)).first()
        conditions = session.exec(select(Condition).where(
            Condition.patient_id == patient.id, Condition.chronic)).all()
        seconds = sum(e.duration_seconds for e in session.exec(select(TimeEntry).where(
            TimeEntry.patient_id == patient.id, TimeEntry.started_at >= month_start,
            TimeEntry.started_at < month_end)))
        if (consent and consent.consented_on < previous and plan and len(conditions) >= 2
                and seconds < 40 * 60):
            chosen.append(patient)
        if len(chosen) == 2:
            break
    if len(chosen) < 2:
        return  # a demo too small to plant it
    seconds = 24 * 60
    start = _free_start(staff.busy.setdefault(manager.id, []),
                        datetime.combine(previous.replace(day=14), time(14), zone), seconds, zone)
    end = start + timedelta(seconds=seconds)
    namespace = uuid.uuid5(practice.id, f"planted-double-log/{seed}")
    for number, (patient, source) in enumerate(zip(chosen, (TimeSource.TIMER,
                                                            TimeSource.MANUAL), strict=True)):
        received = end + (timedelta(minutes=2) if source == TimeSource.TIMER
                          else timedelta(days=9))
        session.add(TimeEntry(
            id=uuid.uuid5(namespace, str(number)), patient_id=patient.id,
            performer_id=manager.id, performer_kind=manager.performer_kind,
            activity=Activity.PHONE_CALL_PATIENT,
            note="Reviewed home readings and medication changes with patient",
            started_at=start.astimezone(UTC), duration_seconds=seconds, source=source,
            occurred_at=(received if source == TimeSource.MANUAL else end).astimezone(UTC),
            received_at=received.astimezone(UTC),
            review_flags=["manual"] if source == TimeSource.MANUAL else []))
        result.time_entries += 1
    session.flush()


def _create_care_plan(session, rng, ids, patient, manager, practitioner, established, zone) -> None:
    plan = CarePlan(id=ids.next(), patient_id=patient.id, established_on=established,
                    established_by_id=practitioner.id, signed_by_id=practitioner.id,
                    copy_given_on=established, copy_given_method=rng.choice(["mail", "portal",
                                                                             "in person"]),
                    next_review_on=established + timedelta(days=180),
                    created_at=datetime.combine(established, time(12), zone).astimezone(UTC))
    session.add(plan)
    session.flush()
    values = {
        CarePlanElement.PROBLEMS: ["See problem list; priorities agreed with patient"],
        CarePlanElement.EXPECTED_OUTCOME: "Stable at home; avoid admissions over the next year",
        CarePlanElement.MEASURABLE_GOALS: ["A1c below 8% by next review",
                                           "Home BP below 140/90 on 3 of 4 readings"],
        CarePlanElement.SYMPTOM_MANAGEMENT: "Daily weight; call if up 3 lb in 2 days",
        CarePlanElement.INTERVENTIONS: [
            {"action": "Monthly phone check-in", "responsible": manager.name},
            {"action": "Medication review each quarter", "responsible": practitioner.name}],
        CarePlanElement.MEDICATION_MANAGEMENT: "Pill organizer; reconcile after every refill",
        CarePlanElement.COMMUNITY_SERVICES: rng.choice(["Meals on Wheels", "None needed",
                                                        "Senior center transport"]),
        CarePlanElement.COORDINATION: "Shares plan with cardiology and home health",
        CarePlanElement.REVIEW_SCHEDULE: "Every 6 months or after any hospital stay",
    }
    for element, value in values.items():
        session.add(CarePlanRevision(id=ids.next(), care_plan_id=plan.id, element=element,
                                     version=1, value=value, author_id=practitioner.id,
                                     occurred_at=plan.created_at, received_at=plan.created_at))


def _note(rng: random.Random, activity: Activity) -> str:
    template = rng.choice(data.NOTE_TEMPLATES[activity.value])
    return template.format(bp=f"{rng.randrange(118, 152)}/{rng.randrange(70, 92)}",
                           glucose=rng.randrange(95, 210), a1c=f"{rng.randrange(60, 95) / 10}")


def _distinct_conditions(picked: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Two diabetes codes are one condition (eligibility counts conditions): a pick whose
    condition is already chosen becomes the next code of a new condition, in list order,
    so the random stream — and the rest of the demo — stays as it was."""
    chosen: list[tuple[str, str]] = []
    for item in picked:
        used = {condition_key(code) for code, _ in chosen}
        if condition_key(item[0]) in used:
            item = next(other for other in data.CHRONIC_CONDITIONS
                        if condition_key(other[0]) not in used)
        chosen.append(item)
    return chosen


def _reason(status: EnrollmentStatus) -> str:
    return {
        EnrollmentStatus.DECLINED: "Patient declined: cost sharing",
        EnrollmentStatus.DISENROLLED: "Patient asked to stop at month end",
        EnrollmentStatus.ENROLLED_ELSEWHERE: "Enrolled in CCM with cardiology practice",
        EnrollmentStatus.CANDIDATE: "Two or more chronic conditions on problem list",
    }.get(status, "")


def _month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"
