"""Discarding unsent changes at sign-out (POST /sync/discard): audited, and the end of the
installation.

A care manager who signs out with changes still in the phone's outbox may choose to throw
them away. The server never saw them, so the audit row is the only trace that they
existed; and the installation is revoked, so a stale copy of the outbox (another tab, a
backup) can never push them later.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StrictInt, ValidationError
from sqlmodel import Session

from ccm_pwa.auth.audit import record_audit
from ccm_pwa.models import User
from ccm_pwa.services.sync_push import (
    MAX_BATCH,
    SyncForbidden,
    SyncMalformed,
    audit_denied,
    claim_client,
    field_error,
)


class _Discarded(BaseModel):
    id: StrictInt = Field(ge=1)
    name: Annotated[str, Field(strict=True, max_length=64)]
    occurred_at: AwareDatetime
    patient_id: uuid.UUID | None = None


class _DiscardBody(BaseModel):
    client_id: uuid.UUID
    mutations: Annotated[list[_Discarded], Field(max_length=MAX_BATCH)]


@dataclass(frozen=True)
class Discard:
    client_id: uuid.UUID
    mutations: tuple[_Discarded, ...]


def parse_discard(body: Any) -> Discard:
    """SyncMalformed (422) naming the field, as for a push."""
    if not isinstance(body, dict):
        raise SyncMalformed("body: expected a JSON object with client_id and mutations")
    try:
        parsed = _DiscardBody.model_validate(body)
    except ValidationError as exc:
        raise SyncMalformed(field_error(exc)) from None
    return Discard(parsed.client_id, tuple(parsed.mutations))


def discard(*, session: Session, user: User, request: Discard, now: datetime) -> dict[str, int]:
    """Audit the discarded mutations and revoke the installation; commits.

    SyncForbidden (403, audited) when the installation is someone else's or already revoked.
    """
    try:
        client = claim_client(session=session, client_id=request.client_id, user=user, now=now)
    except SyncForbidden:
        session.rollback()
        audit_denied(session=session, action="sync.discard", user=user,
                     client_id=request.client_id, now=now)
        raise
    client.revoked_at = now
    session.add(client)
    mutations = request.mutations
    record_audit(session=session, action="sync.discard", user_id=user.id,
                 client=f"sync {client.id}", occurred_at=now,
                 detail={"count": len(mutations), "mutation_ids": [m.id for m in mutations],
                         "names": [m.name for m in mutations],
                         "occurred_at": [m.occurred_at.isoformat() for m in mutations],
                         "patient_ids": sorted({str(m.patient_id) for m in mutations
                                                if m.patient_id})})
    session.commit()
    return {"discarded": len(mutations)}
