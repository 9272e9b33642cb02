"""The worklist's transitions of care across a month boundary: a discharge last month, and
the follow-up call (or its absence), still shape this month's worklist. Only patients with
a discharge in the window read last month (services/worklist.py), so these cases pin that
the shortcut misses none of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from ccm_pwa.models import Activity, EnrollmentStatus, InpatientStay, Patient
from ccm_pwa.services.time_entries import record_time_entry
from ccm_pwa.services.worklist import worklist_body
from tests.api.test_sync_push import CHICAGO, World

NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)  # noon in Chicago, 3 December


def chicago(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CHICAGO)


def stay(session: Session, patient: Patient, admitted: datetime, discharged: datetime) -> None:
    session.add(InpatientStay(patient_id=patient.id, facility="Mercy", admitted_at=admitted,
                              discharged_at=discharged))


def rows(world: World) -> dict[str, dict[str, Any]]:
    body = worklist_body(session=world.session, user=world.kim, month=None, now=NOW)
    return {row["id"]: row for row in body["patients"]}


def test_a_discharge_last_month_followed_by_a_call_last_month(session: Session) -> None:
    world = World(session)
    stay(session, world.rosa, chicago(25, 9), chicago(28, 15))
    record_time_entry(session=session, patient_id=world.rosa.id, performer=world.kim,
                      started_at=chicago(29, 10), duration_seconds=600,
                      activity=Activity.PHONE_CALL_PATIENT, now=NOW)
    session.commit()
    row = rows(world)[str(world.rosa.id)]
    assert row["recent_discharge"] == "2026-11-28"
    assert not any("no call since" in why for why in row["why"])


def test_a_discharge_last_month_with_no_call_since(session: Session) -> None:
    world = World(session)
    stay(session, world.rosa, chicago(25, 9), chicago(30, 15))
    record_time_entry(session=session, patient_id=world.rosa.id, performer=world.kim,
                      started_at=chicago(27, 10), duration_seconds=600,  # before it: no use
                      activity=Activity.PHONE_CALL_PATIENT, now=NOW)
    session.commit()
    row = rows(world)[str(world.rosa.id)]
    assert row["recent_discharge"] == "2026-11-30"
    assert "discharged 2026-11-30, no call since" in row["why"]


def test_a_discharge_before_the_window_or_still_ahead_is_not_a_transition(
        session: Session) -> None:
    world = World(session)
    second = world._patient("R2", world.kim, EnrollmentStatus.ENROLLED)
    stay(session, world.rosa, chicago(1, 9), chicago(5, 15))  # 28 days ago
    stay(session, second, chicago(2, 9, month=12), NOW + timedelta(hours=3))  # this evening
    session.commit()
    shown = rows(world)
    assert shown[str(world.rosa.id)]["recent_discharge"] is None
    assert shown[str(second.id)]["recent_discharge"] is None
