"""Append-only audit log: every PHI read and write, every sign-in, every export."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session

from ccm_pwa.models import AuditEvent, utc_now


def record_audit(
    *,
    session: Session,
    action: str,
    user_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    client: str = "",
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> AuditEvent:
    """Add an audit row to the caller's transaction (it commits or rolls back with the work).

    Failed attempts are written by callers in their own transaction, so a refusal is logged
    even though the refused work is not.
    """
    event = AuditEvent(user_id=user_id, patient_id=patient_id, client=client[:500],
                       action=action, outcome=outcome, detail=detail or {},
                       occurred_at=occurred_at or utc_now())
    session.add(event)
    return event
