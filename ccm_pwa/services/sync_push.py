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

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, StrictInt, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ccm_pwa.auth.access import roles_held, visible_everywhere
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.models import (
    AppliedMutation,
    AuditEvent,
    MutationOutcome,
    Patient,
    Practice,
    SyncClient,
    User,
)
from ccm_pwa.services.rollups import refresh_many
from ccm_pwa.services.sync_args import Args, Moment
from ccm_pwa.services.sync_mutations import (
    MUTATIONS,
    RUNS,
    Applied,
    Context,
    PushState,
    Rejected,
)
from ccm_pwa.services.time_entries import audit_row

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
    """One attempt: a fixed number of statements plus the rows, whatever the batch size.

    What the mutations check is read up front (the caseload, and per run of time entries
    their ids, overlaps and closed months); the mutation log and its audit rows are
    written at the end with one multi-row insert each, and the client's row once.
    """
    client = claim_client(session=session, client_id=batch.client_id, user=user, now=now,
                          schema_version=batch.schema_version)
    # One person's pushes from several phones are serialised: the overlap check reads her
    # entries and then inserts, which under READ COMMITTED would let two phones each accept
    # one of two overlapping calls. (SQLite serialises writers anyway.)
    me = session.execute(select(User).where(User.id == user.id)
                         .with_for_update(of=User)).scalar_one()
    skew = None if batch.client_time is None else (batch.client_time - now).total_seconds()
    last = client.last_mutation_id
    pending = [m for m in batch.mutations if m.id > last]
    if pending and pending[0].id != last + 1:
        raise SyncGap(f"mutation {pending[0].id} follows {last}: resend from {last + 1}",
                      last_mutation_id=last)
    state = PushState()
    preload_caseload(session, me, pending, state)
    base = Context(session=session, user=me, client_id=client.id,
                   mutation_id=0, occurred_at=now, now=now, clock_skew_seconds=skew,
                   state=state)
    log = _Log(client.id, me.id, now)
    results: dict[int, dict[str, Any]] = {m.id: {"id": m.id, "status": "duplicate"}
                                          for m in batch.mutations if m.id <= last}
    for run in _runs(pending):
        if run[0].name in RUNS:
            outcomes = RUNS[run[0].name](base, [(m.id, m.occurred_at, m.args) for m in run])
            for mutation, outcome in zip(run, outcomes, strict=True):
                results[mutation.id] = log.add(mutation, outcome)
        else:
            results[run[0].id] = _apply(base, run[0], log)
    # Every patient-month the push touched, recomputed once, in the push's transaction;
    # each patient's months are her practice's (its time zone, its billing settings).
    for practice_id, practice in state.practices.items():
        refresh_many(session=session, practice=practice, touched={
            pid: months for pid, months in state.touched.items()
            if state.patients[pid].practice_id == practice_id})
    if pending:
        client.last_mutation_id = pending[-1].id
    if skew is not None:
        client.clock_skew_seconds = skew
    client.schema_version = batch.schema_version
    session.add(client)
    session.flush()
    log.write(session)  # a concurrent twin is refused here by the (client, mutation) index
    return {"last_mutation_id": client.last_mutation_id,
            "results": [results[m.id] for m in batch.mutations],
            "server_time": now.isoformat()}


def preload_caseload(session: Session, user: User, mutations: list[Mutation],
                     state: PushState) -> None:
    """The patients the batch names that `user` may see, in any practice where she holds a
    role, in two reads (her roles, then the patients, and which not), and their practices.

    Mutations that name a patient only through another record (a void, a task) still
    look theirs up as they go.
    """
    named = {m.args.patient_id for m in mutations
             if isinstance(getattr(m.args, "patient_id", None), uuid.UUID)}
    if not named:
        return
    held = roles_held(session=session, user=user)
    found = session.exec(select(Patient).where(
        Patient.id.in_(named), Patient.id.in_(visible_everywhere(user, held))))
    state.patients.update({patient.id: patient for patient in found})
    state.not_visible.update(named - set(state.patients))
    wanted = {p.practice_id for p in state.patients.values()} - set(state.practices)
    if wanted:
        state.practices.update({practice.id: practice for practice in session.exec(
            select(Practice).where(Practice.id.in_(wanted)))})


def _runs(mutations: list[Mutation]) -> list[list[Mutation]]:
    """Consecutive mutations of one batched kind together; every other one on its own."""
    runs: list[list[Mutation]] = []
    for mutation in mutations:
        if runs and mutation.name in RUNS and runs[-1][0].name == mutation.name:
            runs[-1].append(mutation)
        else:
            runs.append([mutation])
    return runs


class _Log:
    """The push's AppliedMutation rows and their `sync.*` audit rows, written together."""

    def __init__(self, client_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> None:
        self.client_id, self.user_id, self.now = client_id, user_id, now
        self.applied: list[dict[str, Any]] = []
        self.audits: list[dict[str, Any]] = []

    def add(self, mutation: Mutation, outcome: uuid.UUID | Applied | Rejected
            ) -> dict[str, Any]:
        """Log one mutation's outcome; its entry in the push's response."""
        extra: dict[str, Any] = {}
        reason = ""
        if isinstance(outcome, Rejected):
            patient_id, status = outcome.patient_id, MutationOutcome.REJECTED
            reason, extra = outcome.reason, outcome.extra
        elif isinstance(outcome, Applied):
            patient_id, status, extra = outcome.patient_id, MutationOutcome.APPLIED, outcome.extra
        else:
            patient_id, status = outcome, MutationOutcome.APPLIED
        self.applied.append({
            "id": uuid.uuid4(), "client_id": self.client_id, "mutation_id": mutation.id,
            "name": mutation.name, "args": mutation.raw_args,
            "occurred_at": mutation.occurred_at, "received_at": self.now,
            "outcome": str(status), "rejection_reason": reason, "patient_id": patient_id})
        detail: dict[str, Any] = {"mutation_id": mutation.id}
        if reason:
            detail["reason"] = reason
        self.audits.append(audit_row(action=f"sync.{mutation.name}", user_id=self.user_id,
                                     patient_id=patient_id, client=f"sync {self.client_id}",
                                     outcome=str(status), detail=detail,
                                     occurred_at=self.now))
        result: dict[str, Any] = {"id": mutation.id, "status": str(status)}
        if reason:
            result["reason"] = reason
        return {**result, **extra}

    def write(self, session: Session) -> None:
        if self.applied:
            session.execute(sa.insert(AppliedMutation.__table__), self.applied)
            session.execute(sa.insert(AuditEvent.__table__), self.audits)


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


def _apply(base: Context, mutation: Mutation, log: _Log) -> dict[str, Any]:
    handler = MUTATIONS[mutation.name][1]
    context = dataclasses.replace(base, mutation_id=mutation.id,
                                  occurred_at=mutation.occurred_at)
    try:
        outcome: uuid.UUID | Applied | Rejected = handler(context, mutation.args)
    except Rejected as rejected:
        outcome = rejected
    return log.add(mutation, outcome)


def field_error(exc: ValidationError, prefix: str = "") -> str:
    """The first error as `mutations[2].args.x: message`, the way the contract names fields."""
    error = exc.errors()[0]
    where = prefix
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return f"{where or 'body'}: {error['msg']}"
