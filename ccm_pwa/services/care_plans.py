"""Care plans: per-element compare-and-set edits, plan details, the monthly review, history."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from ccm_pwa.domain.calendar import YearMonth, local_date
from ccm_pwa.models import (
    CarePlan,
    CarePlanConflict,
    CarePlanElement,
    CarePlanRevision,
    CarePlanStatus,
    Patient,
    Practice,
    User,
)
from ccm_pwa.services.enrollment import refresh_billed_months
from ccm_pwa.services.record_versions import bump_patients

ELEMENTS = tuple(CarePlanElement)
DETAIL_FIELDS = ("copy_given_on", "copy_given_method", "next_review_on")


class CarePlanError(ValueError):
    """The care-plan change cannot be made; the message says why."""


class CarePlanConflictError(CarePlanError):
    """The edit was based on an old version: kept as a conflict, nothing overwritten."""

    def __init__(self, message: str, conflict: CarePlanConflict) -> None:
        super().__init__(message)
        self.conflict = conflict


def current_plan(*, session: Session, patient_id: uuid.UUID) -> CarePlan | None:
    """The patient's plan in use: the newest established one that is not superseded."""
    return current_plans(session=session, patient_ids=[patient_id]).get(patient_id)


def current_plans(*, session: Session, patient_ids: list[uuid.UUID]
                  ) -> dict[uuid.UUID, CarePlan]:
    """`current_plan` of many patients at once (the sync pull reads a whole caseload)."""
    found: dict[uuid.UUID, CarePlan] = {}
    for chunk in _chunks(patient_ids):
        for plan in session.exec(
                select(CarePlan).where(CarePlan.patient_id.in_(chunk),
                                       CarePlan.status != CarePlanStatus.SUPERSEDED)
                .order_by(CarePlan.established_on.desc(), CarePlan.created_at.desc(),
                          CarePlan.id)):
            found.setdefault(plan.patient_id, plan)
    return found


def newest_revisions(*, session: Session,
                     plan: CarePlan) -> dict[CarePlanElement, CarePlanRevision]:
    """The version in force of each element that was ever written (the highest version)."""
    return newest_revisions_of(session=session, plan_ids=[plan.id]).get(plan.id, {})


def newest_revisions_of(*, session: Session, plan_ids: list[uuid.UUID]
                        ) -> dict[uuid.UUID, dict[CarePlanElement, CarePlanRevision]]:
    """`newest_revisions` of many plans at once, by plan id."""
    newest: dict[uuid.UUID, dict[CarePlanElement, CarePlanRevision]] = {}
    for chunk in _chunks(plan_ids):
        for revision in session.exec(select(CarePlanRevision)
                                     .where(CarePlanRevision.care_plan_id.in_(chunk))):
            element = CarePlanElement(revision.element)
            of_plan = newest.setdefault(revision.care_plan_id, {})
            if element not in of_plan or revision.version > of_plan[element].version:
                of_plan[element] = revision
    return newest


def set_element(*, session: Session, patient: Patient, user: User,
                element: CarePlanElement | str, value: Any, base_version: int,
                occurred_at: datetime, now: datetime) -> CarePlanRevision:
    """Write a new version of one element if `base_version` is still the newest.

    Otherwise neither side is overwritten: a `CarePlanConflict` keeps both values for the
    care manager to resolve, and CarePlanConflictError says what happened. The unique
    (plan, element, version) index refuses a concurrent writer of the same version.
    Creates the plan (established today) when the patient has none, which may make this
    month billable, so the rollups are refreshed.
    """
    element = CarePlanElement(element)
    bump_patients(session, [patient.id])  # a new version or a new conflict: both are shown
    plan = current_plan(session=session, patient_id=patient.id)
    if plan is None:
        plan = _new_plan(session, patient, user, min(occurred_at, now))
        refresh_billed_months(session=session, practice=_practice(session, patient),
                              patient_id=patient.id, since=YearMonth.of(plan.established_on))
    newest = _newest(session, plan.id, element)
    server_version = newest.version if newest else 0
    if base_version != server_version:
        conflict = CarePlanConflict(
            care_plan_id=plan.id, element=element, base_version=base_version,
            server_version=server_version, server_value=newest.value if newest else None,
            client_value=value, client_author_id=user.id, client_occurred_at=occurred_at)
        session.add(conflict)
        session.flush()
        raise CarePlanConflictError(
            f"care plan {element.value.replace('_', ' ')} changed since version "
            f"{base_version} (now version {server_version}): your edit is kept as a "
            "conflict to resolve", conflict)
    return _write(session, plan.id, element, server_version + 1, value, user, occurred_at, now)


def resolve_conflict(*, session: Session, conflict: CarePlanConflict, user: User,
                     keep_mine: bool, server_version: int, occurred_at: datetime,
                     now: datetime) -> CarePlanConflict:
    """Close a conflict, keeping the phone's value ("mine") or the server's ("theirs").

    Keeping mine is itself a compare-and-set against the version the care manager saw
    (`server_version`): if the element moved again, nothing is written, the conflict stays
    open and the pull shows the newer value to decide on. Resolving twice changes nothing.
    """
    if conflict.resolved_at is not None:
        return conflict
    element = CarePlanElement(conflict.element)
    plan = session.get(CarePlan, conflict.care_plan_id)
    assert plan is not None
    bump_patients(session, [plan.patient_id])
    if keep_mine:
        newest = _newest(session, conflict.care_plan_id, element)
        if (newest.version if newest else 0) != server_version:
            raise CarePlanError("the care plan changed again: review the new value")
        _write(session, conflict.care_plan_id, element, server_version + 1,
               conflict.client_value, user, occurred_at, now)
    conflict.resolved_at, conflict.resolved_by_id = now, user.id
    session.add(conflict)
    session.flush()
    return conflict


def _newest(session: Session, plan_id: uuid.UUID,
            element: CarePlanElement) -> CarePlanRevision | None:
    return session.exec(
        select(CarePlanRevision).where(CarePlanRevision.care_plan_id == plan_id,
                                       CarePlanRevision.element == element)
        .order_by(CarePlanRevision.version.desc())).first()


def _write(session: Session, plan_id: uuid.UUID, element: CarePlanElement, version: int,
           value: Any, user: User, occurred_at: datetime, now: datetime) -> CarePlanRevision:
    revision = CarePlanRevision(care_plan_id=plan_id, element=element, version=version,
                                value=value, author_id=user.id, occurred_at=occurred_at,
                                received_at=now)
    session.add(revision)
    session.flush()
    return revision


def set_details(*, session: Session, patient: Patient, changes: dict[str, Any]) -> CarePlan:
    """Set the copy-given date and method and the next review; keys left out stay as they are."""
    plan = _require_plan(session, patient)
    bump_patients(session, [patient.id])
    for name, value in changes.items():
        if name not in DETAIL_FIELDS:
            raise CarePlanError(f"{name} is not a care plan detail")
        setattr(plan, name, value if value is not None or name != "copy_given_method" else "")
    session.add(plan)
    session.flush()
    return plan


def review(*, session: Session, patient: Patient, reviewed_on: date,
           latest_allowed: date) -> CarePlan:
    """Record the monthly review; an earlier date than the one on file never moves it back."""
    plan = _require_plan(session, patient)
    if reviewed_on > latest_allowed:
        raise CarePlanError(f"review date {reviewed_on.isoformat()} is in the future")
    if plan.last_reviewed_on is None or reviewed_on > plan.last_reviewed_on:
        bump_patients(session, [patient.id])
        plan.last_reviewed_on = reviewed_on
        session.add(plan)
        session.flush()
    return plan


def history(*, session: Session, patient_id: uuid.UUID) -> list[CarePlanRevision]:
    """Every version of every element of the patient's plans, newest first."""
    return list(session.exec(
        select(CarePlanRevision).join(CarePlan, CarePlan.id == CarePlanRevision.care_plan_id)
        .where(CarePlan.patient_id == patient_id)
        .order_by(CarePlanRevision.received_at.desc(), CarePlanRevision.occurred_at.desc(),
                  CarePlanRevision.version.desc(), CarePlanRevision.element)))


def _new_plan(session: Session, patient: Patient, user: User, when: datetime) -> CarePlan:
    practice = _practice(session, patient)
    plan = CarePlan(patient_id=patient.id, status=CarePlanStatus.ACTIVE,
                    established_on=local_date(when, ZoneInfo(practice.timezone)),
                    established_by_id=user.id)
    session.add(plan)
    session.flush()
    return plan


def _require_plan(session: Session, patient: Patient) -> CarePlan:
    plan = current_plan(session=session, patient_id=patient.id)
    if plan is None:
        raise CarePlanError("the patient has no care plan yet: write an element first")
    return plan


def _practice(session: Session, patient: Patient) -> Practice:
    practice = session.get(Practice, patient.practice_id)
    assert practice is not None
    return practice


def _chunks(ids: list[uuid.UUID], size: int = 500) -> list[list[uuid.UUID]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
