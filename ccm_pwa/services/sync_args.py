"""The phone's mutations' argument shapes (docs/field-api.md), checked before anything applies.

A shape error makes the whole push malformed (422), so only what no server could act on is
refused here; what the care manager can fix (an empty consent date, a missing disclosure)
passes and becomes a visible rejection when applied.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
)

from ccm_pwa.domain.calendar import TYPED_YEARS
from ccm_pwa.domain.time_rules import MAX_ENTRY_SECONDS
from ccm_pwa.models import Activity, CarePlanElement, Program, TimeSource

Text = Annotated[str, Field(strict=True, max_length=10_000)]
MAX_ELEMENT_CHARS = 20_000


class Args(BaseModel):
    # Unknown keys are ignored: a newer phone's extra field must not block its whole outbox.
    model_config = ConfigDict(extra="ignore", frozen=True)


def _blank_is_none(value: object) -> object:
    """An empty date input arrives as ""; it means "no date", not a malformed batch."""
    return None if value == "" else value


def _typed_year(value: dt.date) -> dt.date:
    """A phone's date or time in year 1 or 9999 is a broken clock or a probe, and its
    arithmetic (month ends, durations) would leave the calendar: malformed, named."""
    if value.year not in TYPED_YEARS:
        raise ValueError(f"year {value.year} is outside {TYPED_YEARS.start}.."
                         f"{TYPED_YEARS.stop - 1}")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_typed_year)]
Day = Annotated[dt.date, AfterValidator(_typed_year)]
OptionalDate = Annotated[Day | None, BeforeValidator(_blank_is_none)]


class RecordTime(Args):
    entry_id: uuid.UUID
    patient_id: uuid.UUID
    started_at: Moment
    duration_seconds: StrictInt = Field(ge=1, le=MAX_ENTRY_SECONDS)
    activity: Activity
    note: Text = ""
    source: TimeSource = TimeSource.TIMER


class VoidTime(Args):
    entry_id: uuid.UUID
    reason: Text


class AddNote(Args):
    note_id: uuid.UUID
    patient_id: uuid.UUID
    body: Text


def _bounded_value(value: Any) -> Any:
    """Any JSON the screen chose, but not a novel: it is stored once per version."""
    if len(json.dumps(value)) > MAX_ELEMENT_CHARS:
        raise ValueError(f"longer than {MAX_ELEMENT_CHARS} characters as JSON")
    return value


class SetElement(Args):
    patient_id: uuid.UUID
    element: CarePlanElement
    value: Any
    base_version: StrictInt = Field(ge=0)

    @field_validator("value")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        return _bounded_value(value)


class ElementChange(Args):
    element: CarePlanElement
    value: Any
    base_version: StrictInt = Field(ge=0)

    @field_validator("value")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        return _bounded_value(value)


class UpdatePlan(Args):
    """Several elements edited together on the care-plan screen, each compare-and-set."""

    patient_id: uuid.UUID
    changes: Annotated[list[ElementChange], Field(min_length=1, max_length=len(CarePlanElement))]

    @field_validator("changes")
    @classmethod
    def _distinct(cls, changes: list[ElementChange]) -> list[ElementChange]:
        elements = [c.element for c in changes]
        if len(set(elements)) != len(elements):
            raise ValueError("each element at most once")
        return changes


class ResolveConflict(Args):
    conflict_id: uuid.UUID
    keep: Literal["mine", "theirs"]
    server_version: StrictInt = Field(ge=0)  # the server version the care manager looked at


class SetDetails(Args):
    patient_id: uuid.UUID
    copy_given_on: OptionalDate = None
    copy_given_method: Annotated[str, Field(strict=True, max_length=64)] | None = None
    next_review_on: OptionalDate = None


class Review(Args):
    patient_id: uuid.UUID
    reviewed_on: Day


class CompleteTask(Args):
    task_id: uuid.UUID


class ConsentArgs(Args):
    # Lenient on purpose: an empty date or method is the care manager's to fix, so it is
    # a visible rejection, not a malformed batch that would hold up the whole outbox.
    date: OptionalDate = None
    method: Annotated[str, Field(strict=True, max_length=16)] = ""
    disclosed_service: StrictBool = False
    disclosed_cost_sharing: StrictBool = False
    disclosed_one_practitioner: StrictBool = False
    disclosed_stop_anytime: StrictBool = False


class Enroll(Args):
    patient_id: uuid.UUID
    program: Program
    billing_practitioner_id: uuid.UUID | None = None
    consent: ConsentArgs


class Unenroll(Args):
    patient_id: uuid.UUID
    reason: Text
