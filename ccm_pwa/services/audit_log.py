"""Reading the audit log: the screen, and `ccm-pwa audit export`."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ccm_pwa.domain.spreadsheet_cells import csv_text
from ccm_pwa.models import AuditEvent, Patient, User


@dataclass(frozen=True)
class AuditLine:
    occurred_at: str
    user: str
    action: str
    outcome: str
    patient_mrn: str
    client: str
    detail: Any  # the stored JSON value: an object for every row the app writes


def audit_lines(*, session: Session, practice_id: uuid.UUID | None, since: datetime | None = None,
                action_contains: str = "", limit: int | None = None) -> list[AuditLine]:
    """Newest first. A practice's log holds the events about its patients, whoever acted
    (the managed team's care manager included), and the events about no patient by its own
    staff; events without a user (failed sign-ins for unknown emails) are kept. So a
    shared care manager's work for one practice never shows in another's log."""
    query = (sa.select(AuditEvent, User.email, Patient.mrn)
             .outerjoin(User, User.id == AuditEvent.user_id)
             .outerjoin(Patient, Patient.id == AuditEvent.patient_id)
             .order_by(AuditEvent.occurred_at.desc()))
    if practice_id is not None:
        query = query.where(sa.or_(
            Patient.practice_id == practice_id,
            sa.and_(AuditEvent.patient_id.is_(None),
                    sa.or_(User.practice_id == practice_id, AuditEvent.user_id.is_(None)))))
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= since)
    if action_contains:
        query = query.where(AuditEvent.action.contains(action_contains))
    if limit is not None:
        query = query.limit(limit)
    return [AuditLine(event.occurred_at.isoformat(), email or "", event.action, event.outcome,
                      mrn or "", event.client, _detail_value(event.detail))
            for event, email, mrn in session.execute(query)]


def _detail_value(stored: Any) -> Any:
    """A detail that arrives as text (a row written as a JSON string, or by hand) is parsed,
    so an export carries an object either way; text that is not JSON stays text."""
    if stored is None:
        return {}
    if isinstance(stored, str):
        try:
            return json.loads(stored)
        except ValueError:
            return stored
    return stored


def as_csv(lines: list[AuditLine]) -> str:
    """A spreadsheet cell holds text, so `detail` is its JSON text here; every cell is made
    inert (spreadsheet_cells): an MRN from an imported panel may begin with `=`."""
    return csv_text(list(AuditLine.__dataclass_fields__), (
        {**asdict(line), "detail": _detail_text(line.detail)} for line in lines))


def as_jsonl(lines: list[AuditLine]) -> str:
    """`detail` is a JSON object, not JSON text inside JSON, so `jq '.detail.month'` or a
    log store can query its fields. JSON is not a spreadsheet: values are kept as stored."""
    return "".join(json.dumps({**asdict(line), "detail": _sorted(line.detail)}) + "\n"
                   for line in lines)


def _detail_text(detail: Any) -> str:
    return detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True)


def _sorted(detail: Any) -> Any:
    """Keys in a stable order, as the export had when `detail` was sorted JSON text."""
    return json.loads(json.dumps(detail, sort_keys=True))
