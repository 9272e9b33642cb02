"""The sync push (design §3): a client's mutations applied once each, in order, or not at all.

- A `SyncClient` row is bound to the user who first pushed (or pulled) with its id; anyone
  else, or anyone once the installation is revoked (sync/discard), → 403.
- The whole batch is validated before anything is applied (422 naming the field).
- Mutations at or below the client's `last_mutation_id` are acknowledged as duplicates;
  the next one must be `last_mutation_id + 1`, else the batch is refused (409) and the
  client is told where to resume.
- Each applied or rejected mutation is logged in `AppliedMutation` (unique per client and
  mutation id) and audited as the session's user, in the same transaction as its effects
  and the client's new `last_mutation_id`.

Two identical pushes at once: the first statement of a push updates the client's row,
which serialises pushes of one client (a row lock on PostgreSQL, the write lock on SQLite);
when two pushes both create the client, or race anyway, a unique index refuses the second
and it is re-run from a fresh read, finding everything already applied.

The device clock: an optional `client_time` gives the skew (device − server) of this
exchange, kept on the client and flagged on the time it records (sync_mutations).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, StrictInt, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ccm_pwa.auth.audit import record_audit
from ccm_pwa.models import AppliedMutation, MutationOutcome, Practice, SyncClient, User
from ccm_pwa.services.rollups import refresh_many
from ccm_pwa.services.sync_args import Args, Moment
from ccm_pwa.services.sync_mutations import MUTATIONS, Applied, Context, PushState, Rejected

SCHEMA_VERSION = 1
MAX_BATCH = 500
ATTEMPTS = 4


class SyncError(Exception):
    """The push as a whole is refused; nothing was applied."""

    status = 400
    code = "sync_error"

    def __init__(self, detail: str, last_mutation_id: int | None = None) -> None:
        super().__init__(detail)
        self.detail, self.last_mutation_id = detail, last_mutation_id


class SyncMalformed(SyncError):
    status, code = 422, "malformed"


class SyncGap(SyncError):
    status, code = 409, "sync_gap"


class SyncForbidden(SyncError):
    status, code = 403, "forbidden"


@dataclass(frozen=True)
class Mutation:
    id: int
    name: str
    occurred_at: datetime
    args: Args
    raw_args: dict[str, Any]


@dataclass(frozen=True)
class Batch:
    client_id: uuid.UUID
    schema_version: int
    mutations: tuple[Mutation, ...]
    client_time: datetime | None = None  # the device clock when it sent the batch


class _Envelope(BaseModel):
    client_id: uuid.UUID
    schema_version: StrictInt
    mutations: Annotated[list[_RawMutation], Field(max_length=MAX_BATCH)]
    client_time: Moment | None = None


class _RawMutation(BaseModel):
    id: StrictInt = Field(ge=1)
    name: Annotated[str, Field(strict=True, max_length=64)]
    occurred_at: Moment
    args: dict[str, Any]


_Envelope.model_rebuild()


def parse_batch(body: Any) -> Batch:
    """Validate the whole push before anything is applied; SyncMalformed names the field."""
    if not isinstance(body, dict):
        raise SyncMalformed("body: expected a JSON object with client_id, schema_version "
                            "and mutations")
    try:
        envelope = _Envelope.model_validate(body)
    except ValidationError as exc:
        raise SyncMalformed(field_error(exc)) from None
    if envelope.schema_version != SCHEMA_VERSION:
        raise SyncMalformed(f"schema_version: this server speaks version {SCHEMA_VERSION}, "
                            f"not {envelope.schema_version}")
    mutations = []
    for index, raw in enumerate(envelope.mutations):
        where = f"mutations[{index}]"
        if index and raw.id != envelope.mutations[index - 1].id + 1:
            raise SyncMalformed(f"{where}.id: ids must increase by one, "
                                f"{envelope.mutations[index - 1].id} then {raw.id}")
        if raw.name not in MUTATIONS:
            raise SyncMalformed(f"{where}.name: unknown mutation {raw.name!r}")
        model = MUTATIONS[raw.name][0]
        try:
            args = model.model_validate(raw.args)
        except ValidationError as exc:
            raise SyncMalformed(field_error(exc, f"{where}.args")) from None
        mutations.append(Mutation(raw.id, raw.name, raw.occurred_at, args, raw.args))
    return Batch(envelope.client_id, envelope.schema_version, tuple(mutations),
                 envelope.client_time)


def push(*, session: Session, user: User, batch: Batch, now: datetime) -> dict[str, Any]:
    """Apply `batch` for `user` and commit; the push owns its transaction so it can retry.

    Raises SyncGap (409), SyncForbidden (403); returns the contract's response body.
    """
    for attempt in range(ATTEMPTS):
        try:
            result = _push_once(session, user, batch, now)
            session.commit()
            return result
        except IntegrityError:
            # A concurrent push of the same mutations won: read again and acknowledge them.
            session.rollback()
            if attempt == ATTEMPTS - 1:
                raise
        except SyncForbidden:
            session.rollback()
            audit_denied(session=session, action="sync.push", user=user,
                         client_id=batch.client_id, now=now)
            raise
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")


def _push_once(session: Session, user: User, batch: Batch, now: datetime) -> dict[str, Any]:
    client = claim_client(session=session, client_id=batch.client_id, user=user, now=now,
                          schema_version=batch.schema_version)
    # One person's pushes from several phones are serialised: the overlap check below reads
    # her entries and then inserts, which under READ COMMITTED would let two phones each
    # accept one of two overlapping calls. (SQLite serialises writers anyway.)
    session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
    skew = None
    if batch.client_time is not None:
        skew = (batch.client_time - now).total_seconds()
        client.clock_skew_seconds = skew
    last = client.last_mutation_id
    pending = [m for m in batch.mutations if m.id > last]
    if pending and pending[0].id != last + 1:
        raise SyncGap(f"mutation {pending[0].id} follows {last}: resend from {last + 1}",
                      last_mutation_id=last)
    me = session.get(User, user.id)
    practice = session.get(Practice, user.practice_id)
    assert me is not None and practice is not None
    results: list[dict[str, Any]] = []
    state = PushState()
    for mutation in batch.mutations:
        if mutation.id <= last:
            results.append({"id": mutation.id, "status": "duplicate"})
            continue
        results.append(_apply(session, me, practice, client, mutation, now, skew, state))
        client.last_mutation_id = mutation.id
    # Every patient-month the push touched, recomputed once, in the push's transaction.
    refresh_many(session=session, practice=practice, touched=state.touched)
    client.schema_version = batch.schema_version
    session.add(client)
    session.flush()
    return {"last_mutation_id": client.last_mutation_id, "results": results,
            "server_time": now.isoformat()}


def claim_client(*, session: Session, client_id: uuid.UUID, user: User, now: datetime,
                 schema_version: int = SCHEMA_VERSION) -> SyncClient:
    """The client's row, locked for this transaction; created and bound to `user` the first
    time (by a push, a pull or a discard). SyncForbidden if it is someone else's or revoked.
    """
    touched = session.execute(sa.update(SyncClient).where(SyncClient.id == client_id)
                              .values(last_seen_at=now)).rowcount
    if not touched:
        session.add(SyncClient(id=client_id, user_id=user.id, schema_version=schema_version,
                               created_at=now, last_seen_at=now))
        session.flush()  # a concurrent first use of this client fails here (IntegrityError)
    client = session.exec(select(SyncClient).where(SyncClient.id == client_id)
                          .execution_options(populate_existing=True)).one()
    require_usable(client, user)
    return client


def require_usable(client: SyncClient, user: User) -> None:
    """Only the user the installation is bound to may use it, and not after a discard."""
    if client.user_id != user.id or client.revoked_at is not None:
        raise SyncForbidden("this installation belongs to another user or was signed out: "
                            "sign in again")


def audit_denied(*, session: Session, action: str, user: User, client_id: uuid.UUID,
                 now: datetime) -> None:
    """The refusal, audited and committed on its own (the refused work was rolled back)."""
    record_audit(session=session, action=action, user_id=user.id, client=f"sync {client_id}",
                 outcome="denied",
                 detail={"why": "client bound to another user or revoked"}, occurred_at=now)
    session.commit()


def _apply(session: Session, user: User, practice: Practice, client: SyncClient,
           mutation: Mutation, now: datetime, skew: float | None,
           state: PushState) -> dict[str, Any]:
    handler = MUTATIONS[mutation.name][1]
    context = Context(session=session, user=user, practice=practice, client_id=client.id,
                      mutation_id=mutation.id, occurred_at=mutation.occurred_at, now=now,
                      clock_skew_seconds=skew, state=state)
    extra: dict[str, Any] = {}
    try:
        done = handler(context, mutation.args)
        patient_id, extra = (done.patient_id, done.extra) if isinstance(done, Applied) else (
            done, {})
        outcome, reason = MutationOutcome.APPLIED, ""
    except Rejected as rejected:
        patient_id, outcome, reason = rejected.patient_id, MutationOutcome.REJECTED, rejected.reason
        extra = rejected.extra
    session.add(AppliedMutation(client_id=client.id, mutation_id=mutation.id, name=mutation.name,
                                args=mutation.raw_args, occurred_at=mutation.occurred_at,
                                received_at=now, outcome=outcome, rejection_reason=reason,
                                patient_id=patient_id))
    detail: dict[str, Any] = {"mutation_id": mutation.id}
    if reason:
        detail["reason"] = reason
    record_audit(session=session, action=f"sync.{mutation.name}", user_id=user.id,
                 patient_id=patient_id, client=f"sync {client.id}", outcome=outcome.value,
                 detail=detail, occurred_at=now)
    # No flush per mutation: the push flushes once; a concurrent twin is refused there by
    # the (client, mutation id) index, and the whole push is re-run from a fresh read.
    result: dict[str, Any] = {"id": mutation.id, "status": outcome.value}
    if reason:
        result["reason"] = reason
    return {**result, **extra}


def field_error(exc: ValidationError, prefix: str = "") -> str:
    """The first error as `mutations[2].args.x: message`, the way the contract names fields."""
    error = exc.errors()[0]
    where = prefix
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return f"{where or 'body'}: {error['msg']}"
