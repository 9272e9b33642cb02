"""Reading the audit log: the screen, and `ccm-pwa audit export`."""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from ccm_pwa.models import AuditEvent, Patient, User


@dataclass(frozen=True)
class AuditLine:
    occurred_at: str
    user: str
    action: str
    outcome: str
    patient_mrn: str
    client: str
    detail: str


def audit_lines(*, session: Session, practice_id: uuid.UUID | None, since: datetime | None = None,
                action_contains: str = "", limit: int | None = None) -> list[AuditLine]:
    """Newest first. Events without a user (failed sign-ins for unknown emails) are kept."""
    query = (sa.select(AuditEvent, User.email, Patient.mrn)
             .outerjoin(User, User.id == AuditEvent.user_id)
             .outerjoin(Patient, Patient.id == AuditEvent.patient_id)
             .order_by(AuditEvent.occurred_at.desc()))
    if practice_id is not None:
        query = query.where(sa.or_(User.practice_id == practice_id, AuditEvent.user_id.is_(None)))
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= since)
    if action_contains:
        query = query.where(AuditEvent.action.contains(action_contains))
    if limit is not None:
        query = query.limit(limit)
    return [AuditLine(event.occurred_at.isoformat(), email or "", event.action, event.outcome,
                      mrn or "", event.client, json.dumps(event.detail, sort_keys=True))
            for event, email, mrn in session.execute(query)]


def as_csv(lines: list[AuditLine]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(AuditLine.__dataclass_fields__),
                            lineterminator="\n")
    writer.writeheader()
    for line in lines:
        writer.writerow(asdict(line))
    return out.getvalue()


def as_jsonl(lines: list[AuditLine]) -> str:
    return "".join(json.dumps(asdict(line)) + "\n" for line in lines)
