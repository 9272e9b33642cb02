"""Rollups written with each time event equal a rebuild from the events, on every backend."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from ccm_pwa.models import (
    Activity,
    CarePlan,
    Condition,
    Consent,
    EnrollmentStatus,
    Patient,
    PatientMonth,
    PerformerKind,
    Practice,
    Role,
    TimeEntry,
    User,
)
from ccm_pwa.services.rollups import ROLLUP_FIELDS, rebuild_rollups
from ccm_pwa.services.time_entries import TimeEntryError, record_time_entry, void_time_entry
from ccm_pwa.services.users import create_user

CHICAGO = ZoneInfo("America/Chicago")


def _practice_with_patients(session: Session, count: int) -> tuple[Practice, list[User],
                                                                     list[Patient]]:
    practice = Practice(name=f"Lakeside {uuid.uuid4().hex[:6]}", timezone="America/Chicago")
    session.add(practice)
    session.flush()
    nurse = create_user(session=session, practice_id=practice.id,
                        email=f"n{uuid.uuid4().hex[:6]}@x.org", name="Nurse",
                        role=Role.CARE_MANAGER).user
    doctor = create_user(session=session, practice_id=practice.id,
                         email=f"d{uuid.uuid4().hex[:6]}@x.org", name="Doctor",
                         role=Role.CARE_MANAGER,
                         performer_kind=PerformerKind.BILLING_PRACTITIONER).user
    patients = []
    # patient i: i % 3 == 0 has one chronic condition only, i % 4 == 3 no consent,
    # i % 5 == 4 no care plan; patient 1 is fully eligible.
    for i in range(count):
        patient = Patient(practice_id=practice.id, mrn=f"M{i}", given_name="P", family_name=str(i),
                          birth_date=date(1950, 1, 1), care_manager_id=nurse.id,
                          billing_practitioner_id=doctor.id,
                          enrollment_status=EnrollmentStatus.ENROLLED)
        session.add(patient)
        session.flush()
        for code in ("E11.9", "I10")[: 1 + (i % 3 != 0)]:
            session.add(Condition(patient_id=patient.id, icd10_code=code, description=code))
        if i % 4 != 3:
            session.add(Consent(patient_id=patient.id, consented_on=date(2026, 10, 5 + i),
                                obtained_by_id=nurse.id, billing_practitioner_id=doctor.id))
        if i % 5 != 4:
            session.add(CarePlan(patient_id=patient.id, established_on=date(2026, 10, 1),
                                 established_by_id=doctor.id))
        patients.append(patient)
    session.flush()
    return practice, [nurse, doctor], patients


def _snapshot(session: Session) -> dict[tuple[str, str], tuple]:
    rows = session.exec(select(PatientMonth)).all()
    return {(str(r.patient_id), r.month): tuple(getattr(r, f) for f in ROLLUP_FIELDS)
            for r in rows}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rebuild_equals_incremental_after_random_event_streams(session: Session,
                                                                 seed: int) -> None:
    rng = random.Random(seed)
    practice, people, patients = _practice_with_patients(session, 6)
    recorded: list[uuid.UUID] = []
    base = datetime(2026, 10, 1, 4, 0, tzinfo=UTC)
    for _ in range(70):
        if recorded and rng.random() < 0.15:
            void_time_entry(session=session, entry_id=rng.choice(recorded), reason="wrong patient",
                            voided_by=people[0])
            continue
        entry_id = rng.choice(recorded) if recorded and rng.random() < 0.1 else uuid.uuid4()
        if entry_id in recorded:  # a replay of an entry already stored
            original = session.get(TimeEntry, entry_id)
            assert original is not None
            again = record_time_entry(
                session=session, patient_id=original.patient_id,
                performer=people[0] if original.performer_id == people[0].id else people[1],
                started_at=original.started_at, duration_seconds=original.duration_seconds,
                activity=original.activity, entry_id=entry_id)
            assert again.id == entry_id
            continue
        started = base + timedelta(minutes=rng.randrange(0, 61 * 24 * 60))
        try:
            record_time_entry(session=session, patient_id=rng.choice(patients).id,
                              performer=rng.choice(people), started_at=started,
                              duration_seconds=rng.randrange(30, 40 * 60),
                              activity=rng.choice(list(Activity)), entry_id=entry_id)
        except TimeEntryError as refused:  # one person cannot be on two calls at once
            assert "overlaps your entry" in str(refused)
            continue
        recorded.append(entry_id)
    session.commit()
    incremental = _snapshot(session)
    assert incremental, "the stream produced no rollups"
    assert any(row[4] for row in incremental.values()), "no month became billable"
    rebuild_rollups(session=session, practice=practice)
    session.commit()
    assert _snapshot(session) == incremental
    # the same in two worker processes, three patients per slice
    rebuild_rollups(session=session, practice=practice, workers=2, slice_size=3)
    session.commit()
    assert _snapshot(session) == incremental


def test_entry_across_month_end_updates_both_months(session: Session) -> None:
    _practice, people, patients = _practice_with_patients(session, 2)
    start = datetime(2026, 10, 31, 23, 50, tzinfo=CHICAGO)  # 10 min in Oct, 20 in Nov
    record_time_entry(session=session, patient_id=patients[1].id, performer=people[0],
                      started_at=start, duration_seconds=30 * 60,
                      activity=Activity.PHONE_CALL_PATIENT)
    rows = {r.month: r for r in session.exec(select(PatientMonth)).all()}
    assert set(rows) == {"2026-10", "2026-11"}
    assert rows["2026-10"].staff_seconds == 600
    assert rows["2026-11"].staff_seconds == 1200
    assert rows["2026-11"].claim_codes == "99490"
    assert rows["2026-10"].claim_codes == ""
    assert rows["2026-10"].minutes_to_next == 10


def test_void_lowers_the_rollup_in_the_same_transaction(session: Session) -> None:
    _practice, people, patients = _practice_with_patients(session, 2)
    entry = record_time_entry(session=session, patient_id=patients[1].id, performer=people[0],
                              started_at=datetime(2026, 11, 3, 9, tzinfo=CHICAGO),
                              duration_seconds=21 * 60, activity=Activity.CARE_COORDINATION)
    row = session.exec(select(PatientMonth)).one()
    assert (row.billable, row.claim_codes, row.expected_amount_cents) == (True, "99490", 6613)
    void_time_entry(session=session, entry_id=entry.id, reason="logged twice",
                    voided_by=people[0])
    session.refresh(row)
    assert (row.billable, row.claim_codes, row.countable_minutes, row.entry_count) == \
        (False, "", 0, 0)


@pytest.mark.parametrize(
    ("seconds", "started_at", "message"),
    [
        (0, datetime(2026, 11, 3, 9, tzinfo=CHICAGO), "duration_seconds: must be between"),
        (25 * 3600, datetime(2026, 11, 3, 9, tzinfo=CHICAGO), "duration_seconds: must be between"),
        (600, datetime(2026, 11, 3, 9), "time zone offset"),
    ],
)
def test_bad_entries_are_refused(session: Session, seconds: int, started_at: datetime,
                                 message: str) -> None:
    _practice, people, patients = _practice_with_patients(session, 2)
    with pytest.raises(TimeEntryError, match=message):
        record_time_entry(session=session, patient_id=patients[1].id, performer=people[0],
                          started_at=started_at, duration_seconds=seconds,
                          activity=Activity.RECORDS_REVIEW)


def test_void_needs_a_reason(session: Session) -> None:
    _practice, people, patients = _practice_with_patients(session, 2)
    entry = record_time_entry(session=session, patient_id=patients[1].id, performer=people[0],
                              started_at=datetime(2026, 11, 3, 9, tzinfo=CHICAGO),
                              duration_seconds=300, activity=Activity.RECORDS_REVIEW)
    with pytest.raises(TimeEntryError, match="needs a reason"):
        void_time_entry(session=session, entry_id=entry.id, reason="  ", voided_by=people[0])
