"""The sync pull (design §3): what changed for this phone since its cursor, from one snapshot.

Row versions, after Replicache's "client view record": every pull builds the phone's whole
view (`documents`), hashes each document, and sends only those whose hash differs from the
view named by the cursor (a `SyncClientView` row); keys that disappeared are `deletes`.
No usable cursor (none, unknown, another client's, garbled) → `reset`: everything is sent
and the phone replaces its copy. Nothing changed → the same cursor again and no new row.

One snapshot: the documents and the client's `last_mutation_id` must agree (a phone that
sees mutation 7 acknowledged must see its minutes in the worklist). So a pull has two
transactions:
- the read: every SELECT in one snapshot, nothing written. PostgreSQL: REPEATABLE READ.
  SQLite: pysqlite opens a transaction only before a data-changing statement, so an
  explicit `BEGIN` makes the SELECTs one WAL read transaction. A read never upgrades to a
  write, so it never fails because someone committed meanwhile (SQLITE_BUSY_SNAPSHOT) and
  never holds the write lock while it builds the documents;
- the record: a short write of what was sent (a new client row, the view, audit rows).
  SQLite starts it with `BEGIN IMMEDIATE`: it queues for the write lock and holds it for
  milliseconds. What it records is the read's snapshot, which is exactly what the phone
  gets; anything committed in between is simply in the next pull.
The client's `last_seen_at` is touched after both, in its own statement, at most once a
minute (`TOUCH_EVERY`, as a session's: a phone syncing every few seconds does not pay a
third transaction each time). A pull with nothing to send or keep (`_quiet`) has no record
transaction at all unless that touch is due: its `sync.pull` audit row is written once a
minute, not on every poll. Only a concurrent
first use of a new client id (unique key), or a lock wait that times out, makes the pull
start again.

Change stamps (services/record_versions.py) decide how much to build. Every write that
changes what a document shows bumps its patient's `record_version` (or the practice's) in
the same transaction; a view keeps the stamps it was built from:
- "" — the practice-wide part: the code that builds documents, the rows of every practice
  where she holds a role and each one's local date, who the user is, her roles and which
  patients she may see (in all her practices: the phone keeps them all);
- "rejections" — how many of this client's mutations were rejected, and the newest;
- "patient/<id>" — each visible patient's `record_version`;
- "until" — the first instant a document changes by time alone (a task falls overdue, a
  stay ends, the local day turns), computed when the view is built.
The pull reads the stamps first (a handful of statements, whatever the caseload). All equal
and before "until": nothing is built, the same cursor comes back. Only patient or rejection
stamps moved: only those patients are evaluated again — their records, and their rows of
the worklist, whose other rows come from the worklist the view keeps (the other records keep
the hash the view has); each moved patient's billing cases are read once for both; the
small lists are rebuilt (the candidates only when a moved patient may have joined or left
them) and the worklist re-ranked. Anything
else (no stamps, "" moved, "until" passed): everything is built and compared by hash, as a
reset is. The stamps are read in the same snapshot as the documents, so they can never be
newer than what was built from them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from ccm_pwa.auth.access import roles_held, visible_everywhere
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.auth.sessions import TOUCH_EVERY
from ccm_pwa.domain.calendar import YearMonth, local_date, start_of_local_day
from ccm_pwa.models import (
    AppliedMutation,
    CarePlan,
    CarePlanConflict,
    CarePlanElement,
    InpatientStay,
    MutationOutcome,
    Patient,
    Practice,
    Role,
    SyncClient,
    SyncClientView,
    Task,
    User,
)
from ccm_pwa.services import care_plans
from ccm_pwa.services.billing_cases import PatientMonthInput
from ccm_pwa.services.candidates import candidate_rows
from ccm_pwa.services.patient_record import names_of, patient_records
from ccm_pwa.services.sync_push import (
    SyncForbidden,
    audit_denied,
    claim_client,
    require_usable,
)
from ccm_pwa.services.worklist import ACTIVE_TASKS, worklist_body

ATTEMPTS = 4
VIEWS_KEPT = 3  # the newest few: a pull whose answer was lost can be repeated
REJECTIONS_SHOWN = 200
PATIENT_KEY = "patient/"
# PostgreSQL: serialization failure, deadlock. SQLite: the snapshot could not become a writer.
RETRY_SQLSTATES = {"40001", "40P01"}


@functools.cache
def documents_code() -> str:
    """The documents' builders, as a stamp: an upgrade that changes what a document shows
    (a billing rule, a field) must reach phones whose data did not change. Read once, on
    the first pull (not at import: the CLI and the screens never need it)."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted([*package.glob("domain/*.py"), *package.glob("services/*.py"),
                        package / "models.py"]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def pull(*, session: Session, user: User, client_id: uuid.UUID, cursor: str | None,
         now: datetime, client: str = "") -> dict[str, Any]:
    """The contract's pull response for `user`'s installation `client_id`; commits.

    Raises SyncForbidden (403) when the installation is someone else's or was revoked.
    """
    for attempt in range(ATTEMPTS):
        try:
            _begin_snapshot(session)
            seen = _read(session, user, client_id, cursor, now)
            session.rollback()  # the snapshot ends; nothing was written in it
            due = seen.seen_at is None or now - _aware(seen.seen_at) >= TOUCH_EVERY
            puts, deletes = _changes(seen)
            if _quiet(seen, puts, deletes) and not due:
                return _answer(seen, str(seen.previous_id), [], [], now)
            result = _record(session, user, client_id, seen, puts, deletes, now, client)
            session.commit()
            if due:
                _touch(session, client_id, now)
            return result
        except SyncForbidden:
            session.rollback()
            audit_denied(session=session, action="sync.pull", user=user, client_id=client_id,
                         now=now)
            raise
        except (IntegrityError, OperationalError) as exc:
            # A concurrent first use of the client (IntegrityError), or a lock wait timed out.
            session.rollback()
            if attempt == ATTEMPTS - 1 or not _retryable(exc):
                raise
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class _Snapshot:
    """What one read saw, as plain values (the ORM objects expire when it ends).

    `docs` holds only what was built; `versions` covers every document the phone keeps
    (a record not rebuilt keeps its hash from the previous view).
    """

    docs: dict[str, Any]
    versions: dict[str, str]
    stamps: dict[str, str]
    known_client: bool
    seen_at: datetime | None  # the client's last_seen_at as read
    last_mutation_id: int
    previous_id: uuid.UUID | None
    previous_versions: dict[str, str] | None
    previous_stamps: dict[str, str] | None


def documents(*, session: Session, user: User, client_id: uuid.UUID, now: datetime,
              records_of: set[str] | None = None,
              worklist_sent: dict[str, Any] | None = None,
              stamped: set[str] | None = None,
              held: list[tuple[uuid.UUID, Role]] | None = None) -> dict[str, Any]:
    """Everything the phone keeps, by key: who I am, my lists, each caseload patient's record,
    my rejections and the care-plan conflicts to resolve. Each document is exactly the body
    the matching GET route returns, so the phone renders both the same way.

    `records_of`: build only these patient records (keys); None builds every one. With it,
    `worklist_sent` (the worklist of the view compared with) keeps the other patients' rows,
    and `stamped` (the patient keys whose stamp moved) may keep the candidates.
    """
    me = session.get(User, user.id)
    assert me is not None
    practice = session.get(Practice, me.practice_id)
    assert practice is not None
    zone = ZoneInfo(practice.timezone)
    held = held or roles_held(session=session, user=me)
    moved = {uuid.UUID(k.removeprefix(PATIENT_KEY)) for k in records_of or ()
             if k.startswith(PATIENT_KEY)}
    # Each patient's cases are read once, for her row and her record.
    known: dict[YearMonth, dict[uuid.UUID, PatientMonthInput]] = {}
    worklist = worklist_body(session=session, user=me, month=None, now=now,
                             previous=worklist_sent if records_of is not None else None,
                             changed=moved, known=known, held=held)
    caseload = [uuid.UUID(row["id"]) for row in worklist["patients"]]
    wanted = [p for p in caseload if records_of is None or f"{PATIENT_KEY}{p}" in records_of]
    held_cases = {pid: item.patient for items in known.values() for pid, item in items.items()}
    unread = [p for p in wanted if p not in held_cases]
    patients = [held_cases[p] for p in wanted if p in held_cases] + (list(session.exec(
        select(Patient).where(Patient.id.in_(unread)))) if unread else [])
    records: dict[uuid.UUID, Any] = {}
    for practice_id in {p.practice_id for p in patients}:  # a record is of one practice
        records |= patient_records(
            session=session, patients=[p for p in patients if p.practice_id == practice_id],
            month=None, now=now, known=known)
    names = {p["id"]: p["name"] for p in worklist["practices"]}
    docs: dict[str, Any] = {
        "me": {"name": me.name, "role": str(me.role), "practice": practice.name,
               "timezone": practice.timezone, "app_lock_minutes": practice.app_lock_minutes,
               "practices": [{"id": str(pid), "name": names[str(pid)], "role": str(role)}
                             for pid, role in held]},
        "worklist": worklist,
        "rejections": {"items": _rejections(session, me, held, client_id, zone)},
        "conflicts": {"items": _conflicts(session, me, held, zone)},
    }
    if not _candidates_kept(stamped, worklist_sent, caseload):
        docs["candidates"] = {"patients": candidate_rows(session=session, user=me, held=held)}
    for patient_id in wanted:
        docs[f"{PATIENT_KEY}{patient_id}"] = records[patient_id]
    return docs


def _candidates_kept(stamped: set[str] | None, worklist_sent: dict[str, Any] | None,
                     caseload: list[uuid.UUID]) -> bool:
    """Whether the candidates the view holds are still right, so the list is not rebuilt.

    The list shows only visible patients not yet enrolled. `stamped`: the patients whose
    stamp moved (no other patient changed, and who is visible is in the practice-wide
    stamp). When each of them was on the worklist sent (enrolled then) and is on it now
    (enrolled still), none entered or left the list or changed on it.
    """
    if stamped is None or worklist_sent is None:
        return False
    before = {f"{PATIENT_KEY}{row['id']}" for row in worklist_sent.get("patients", [])}
    now_on = {f"{PATIENT_KEY}{p}" for p in caseload}
    return stamped <= before & now_on


def version(doc: Any) -> str:
    """A document's version: equal documents, equal versions, whoever built them."""
    text = json.dumps(doc, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read(session: Session, user: User, client_id: uuid.UUID, cursor: str | None,
          now: datetime) -> _Snapshot:
    existing = session.get(SyncClient, client_id)
    if existing is not None:
        require_usable(existing, user)  # before any work, and before reading anything else
    last_mutation_id = existing.last_mutation_id if existing is not None else 0
    # Held for the whole read: the session's identity map keeps only weak references, so
    # the stamps, the documents and "until" would each load the user and practice again.
    me, practice = session.get(User, user.id), session.get(Practice, user.practice_id)
    assert me is not None and practice is not None
    previous = _view(session, client_id, cursor)
    held = roles_held(session=session, user=me)  # her practices, read once for the pull
    practices = [session.get(Practice, practice_id) for practice_id, _ in held]  # held, too
    assert None not in practices
    stamps = _stamps(session, me, held, client_id, now)
    kept = dict(previous.versions) if previous is not None else None
    before = dict(previous.stamps or {}) if previous is not None else None
    moved = _moved(stamps, before, kept, now)
    if moved == set():  # nothing to build: the previous view is the answer
        docs, versions, stamps = {}, dict(kept or {}), dict(before or {})
    else:
        docs = documents(session=session, user=user, client_id=client_id, now=now,
                         records_of=moved, held=held,
                         worklist_sent=dict(previous.worklist or {}) if previous else None,
                         stamped=None if moved is None else {
                             k for k in moved if k.startswith(PATIENT_KEY)
                             and before is not None and before.get(k) != stamps.get(k)})
        versions = {key: version(doc) for key, doc in docs.items()}
        if moved is not None and kept is not None:  # records not rebuilt keep their hash
            caseload = {f"{PATIENT_KEY}{row['id']}" for row in docs["worklist"]["patients"]}
            versions |= {key: kept[key] for key in {*caseload, "candidates"} - set(versions)
                         if key in kept}
        stamps["until"] = _until(session, me, held, now)
    return _Snapshot(docs=docs, versions=versions, stamps=stamps,
                     known_client=existing is not None,
                     seen_at=existing.last_seen_at if existing is not None else None,
                     last_mutation_id=last_mutation_id,
                     previous_id=previous.id if previous is not None else None,
                     previous_versions=kept, previous_stamps=before)


def _moved(stamps: dict[str, str], before: dict[str, str] | None,
           kept: dict[str, str] | None, now: datetime) -> set[str] | None:
    """The patient records to rebuild: None for all of them (the practice-wide stamp moved,
    "until" passed, or there is no view to compare with), an empty set for none at all."""
    if before is None or kept is None or before.get("") != stamps[""]:
        return None
    if now >= _instant(before.get("until")):
        return None
    moved = {k for k, v in stamps.items() if before.get(k) != v}
    if moved:  # the lists are rebuilt (they show every patient), and any record not kept
        moved |= {k for k in stamps if k.startswith(PATIENT_KEY) and k not in kept}
    return moved


def _stamps(session: Session, me: User, held: list[tuple[uuid.UUID, Role]],
            client_id: uuid.UUID, now: datetime) -> dict[str, str]:
    """The change stamps as they are now: a few reads, whatever the caseload (module doc)."""
    practices = [session.get(Practice, practice_id) for practice_id, _ in held]
    assert None not in practices
    patients = session.execute(
        sa.select(Patient.id, Patient.record_version)
        .where(Patient.id.in_(visible_everywhere(me, held)))).all()
    shared = {
        "code": documents_code(),
        "practices": [{c.name: getattr(p, c.name) for c in Practice.__table__.columns}
                      for p in practices],
        "today": [local_date(now, ZoneInfo(p.timezone)) for p in practices],
        "me": [me.name, str(me.role), me.practice_id, me.supervisor_id, me.active],
        "roles": [[str(practice_id), str(role)] for practice_id, role in held],
        "visible": sorted(str(pid) for pid, _ in patients),
    }
    # Rejected mutations are never changed or deleted, and their ids only grow.
    rejected = session.execute(
        sa.select(sa.func.count(), sa.func.max(AppliedMutation.mutation_id))
        .where(AppliedMutation.client_id == client_id,
               AppliedMutation.outcome == MutationOutcome.REJECTED)).one()
    stamps = {"": version(shared), "rejections": f"{rejected[0]}/{rejected[1]}"}
    stamps |= {f"{PATIENT_KEY}{pid}": str(number) for pid, number in patients}
    return stamps


def _until(session: Session, user: User, held: list[tuple[uuid.UUID, Role]],
           now: datetime) -> str:
    """The first instant after `now` at which a document changes with no write: the next
    local midnight of any of her practices, an open task's due time (it falls overdue), a
    stay's admission or discharge (the worklist's transitions).
    """
    moments: list[datetime | None] = []
    for practice_id, _ in held:
        practice = session.get(Practice, practice_id)
        assert practice is not None
        zone = ZoneInfo(practice.timezone)
        moments.append(start_of_local_day(local_date(now, zone) + timedelta(days=1), zone))
    visible = visible_everywhere(user, held)
    soonest = [sa.select(sa.func.min(Task.due_at)).where(
        Task.patient_id.in_(visible), Task.status.in_(ACTIVE_TASKS),
        Task.due_at >= now).scalar_subquery()]
    soonest += [sa.select(sa.func.min(column)).where(
        InpatientStay.patient_id.in_(visible), column >= now).scalar_subquery()
        for column in (InpatientStay.admitted_at, InpatientStay.discharged_at)]
    # One statement for the three: each is a round trip on PostgreSQL.
    moments += list(session.execute(sa.select(*soonest)).one())
    return min(_aware(m) for m in moments if m is not None).astimezone(UTC).isoformat()


def _instant(text: str | None) -> datetime:
    """A stored "until"; a view without one (older releases) has always run out."""
    try:
        return _aware(datetime.fromisoformat(text)) if text else datetime.min.replace(tzinfo=UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive UTC times (the column type's storage)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _record(session: Session, user: User, client_id: uuid.UUID, seen: _Snapshot,
            puts: list[str], deletes: list[str], now: datetime, client: str
            ) -> dict[str, Any]:
    _begin_write(session)
    if not seen.known_client:
        claim_client(session=session, client_id=client_id, user=user, now=now)
    previous = seen.previous_versions
    reset = previous is None
    if previous is not None and not puts and not deletes:
        new_cursor = str(seen.previous_id)
        if seen.stamps != seen.previous_stamps:  # same documents, newer stamps: keep them
            session.execute(sa.update(SyncClientView).where(
                SyncClientView.id == seen.previous_id).values(stamps=seen.stamps))
    else:
        view = SyncClientView(client_id=client_id, created_at=now, versions=seen.versions,
                              stamps=seen.stamps, worklist=seen.docs["worklist"])
        session.add(view)
        session.flush()
        _prune(session, client_id)
        new_cursor = str(view.id)
    _audit(session, user, client_id, seen.docs, puts, deletes, reset, now, client)
    return _answer(seen, new_cursor, puts, deletes, now)


def _changes(seen: _Snapshot) -> tuple[list[str], list[str]]:
    """The keys to send (their version moved, or everything on a reset) and to delete."""
    previous = seen.previous_versions
    if previous is None:
        return sorted(seen.versions), []
    return (sorted(k for k, v in seen.versions.items() if previous.get(k) != v),
            sorted(set(previous) - set(seen.versions)))


def _quiet(seen: _Snapshot, puts: list[str], deletes: list[str]) -> bool:
    """Nothing to send and nothing to keep: the phone's view is current, its stamps too.

    Such a pull writes nothing, not even its `sync.pull` audit row, except when the
    installation's `last_seen_at` is due (once a `TOUCH_EVERY`): it discloses nothing, and
    a phone polling every few seconds would otherwise add thousands of rows a day, each a
    write transaction (docs/field-api.md).
    """
    return (seen.known_client and seen.previous_versions is not None
            and seen.stamps == seen.previous_stamps and not puts and not deletes)


def _answer(seen: _Snapshot, cursor: str, puts: list[str], deletes: list[str],
            now: datetime) -> dict[str, Any]:
    return {"cursor": cursor, "reset": seen.previous_versions is None,
            "last_mutation_id": seen.last_mutation_id, "server_time": now.isoformat(),
            "puts": {key: seen.docs[key] for key in puts}, "deletes": deletes}


def _begin_snapshot(session: Session) -> None:
    """Start the read so every SELECT sees one snapshot (see the module doc)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        session.connection().exec_driver_sql("BEGIN")


def _begin_write(session: Session) -> None:
    """SQLite: take the write lock first, so the short write never fails half-way."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def _touch(session: Session, client_id: uuid.UUID, now: datetime) -> None:
    """Record that the installation was seen, outside the snapshot (see the module doc).

    Best effort: the pull is committed already, and a busy database must not lose its answer.
    """
    try:
        session.execute(sa.update(SyncClient).where(SyncClient.id == client_id,
                                                    SyncClient.last_seen_at < now)
                        .values(last_seen_at=now))
        session.commit()
    except OperationalError:
        session.rollback()


def _retryable(exc: IntegrityError | OperationalError) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    if getattr(exc.orig, "sqlstate", None) in RETRY_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)  # SQLite's SQLITE_BUSY(_SNAPSHOT)


def _view(session: Session, client_id: uuid.UUID, cursor: str | None) -> SyncClientView | None:
    """The view the cursor names, if it is one of this client's (else: reset)."""
    try:
        wanted = uuid.UUID(cursor) if cursor else None
    except ValueError:
        return None
    view = session.get(SyncClientView, wanted) if wanted else None
    return view if view is not None and view.client_id == client_id else None


def _prune(session: Session, client_id: uuid.UUID) -> None:
    old = session.execute(sa.select(SyncClientView.id)
                          .where(SyncClientView.client_id == client_id)
                          .order_by(SyncClientView.created_at.desc(), SyncClientView.id)
                          .offset(VIEWS_KEPT)).scalars().all()
    if old:
        session.execute(sa.delete(SyncClientView).where(SyncClientView.id.in_(old)))


def _rejections(session: Session, user: User, held: list[tuple[uuid.UUID, Role]],
                client_id: uuid.UUID, zone: ZoneInfo) -> list[dict[str, Any]]:
    """This installation's rejected mutations, newest first, with the patient they were about.

    The patient's name only when the user may still see the patient: a rejection for
    someone else's patient must not tell who that is.
    """
    rows = list(session.exec(
        select(AppliedMutation).where(AppliedMutation.client_id == client_id,
                                      AppliedMutation.outcome == MutationOutcome.REJECTED)
        .order_by(AppliedMutation.received_at.desc(), AppliedMutation.mutation_id.desc())
        .limit(REJECTIONS_SHOWN)))
    about = {row.id: row.patient_id or _uuid((row.args or {}).get("patient_id")) for row in rows}
    wanted = {p for p in about.values() if p is not None}
    names = {} if not wanted else {
        pid: f"{given} {family}" for pid, given, family in session.execute(
            sa.select(Patient.id, Patient.given_name, Patient.family_name).where(
                Patient.id.in_(wanted), Patient.id.in_(visible_everywhere(user, held))))}
    return [{"mutation_id": row.mutation_id, "name": row.name,
             "reason": row.rejection_reason,
             "occurred_at": row.occurred_at.astimezone(zone).isoformat(),
             "received_at": row.received_at.astimezone(zone).isoformat(),
             "patient_id": str(about[row.id]) if about[row.id] else None,
             "patient_name": names.get(about[row.id]) if about[row.id] else None}
            for row in rows]


def _conflicts(session: Session, user: User, held: list[tuple[uuid.UUID, Role]],
               zone: ZoneInfo) -> list[dict[str, Any]]:
    """Open care-plan conflicts of patients the user may see, oldest first, each with the
    element's value in force now (it may have moved since the conflict was recorded)."""
    rows = session.execute(
        sa.select(CarePlanConflict, CarePlan.patient_id, Patient.given_name, Patient.family_name)
        .join(CarePlan, CarePlan.id == CarePlanConflict.care_plan_id)
        .join(Patient, Patient.id == CarePlan.patient_id)
        .where(CarePlanConflict.resolved_at.is_(None),
               CarePlan.patient_id.in_(visible_everywhere(user, held)))
        .order_by(CarePlanConflict.client_occurred_at, CarePlanConflict.id)).all()
    if not rows:
        return []
    current = care_plans.newest_revisions_of(
        session=session, plan_ids=list({c.care_plan_id for c, *_ in rows}))
    authors = names_of(session, (c.client_author_id for c, *_ in rows))
    items = []
    for conflict, patient_id, given, family in rows:
        now_in_force = current.get(conflict.care_plan_id, {}).get(
            CarePlanElement(conflict.element))
        items.append({
            "id": str(conflict.id), "patient_id": str(patient_id),
            "patient_name": f"{given} {family}", "element": str(conflict.element),
            "base_version": conflict.base_version,
            "server_version": now_in_force.version if now_in_force else 0,
            "server_value": now_in_force.value if now_in_force else None,
            "client_value": conflict.client_value,
            "client_author": authors.get(conflict.client_author_id),
            "client_occurred_at": conflict.client_occurred_at.astimezone(zone).isoformat()})
    return items


def _audit(session: Session, user: User, client_id: uuid.UUID, docs: dict[str, Any],
           puts: list[str], deletes: list[str], reset: bool, now: datetime,
           client: str) -> None:
    """One `sync.pull` row, and a `patient.read` per patient record sent (none if unchanged)."""
    where = f"sync {client_id}"
    record_audit(session=session, action="sync.pull", user_id=user.id, client=where,
                 occurred_at=now,
                 detail={"reset": reset, "puts": len(puts), "deletes": len(deletes),
                         "documents": [k for k in puts if not k.startswith(PATIENT_KEY)],
                         "request": client[:200]})
    for key in puts:
        if key.startswith(PATIENT_KEY):
            record_audit(session=session, action="patient.read", user_id=user.id,
                         patient_id=uuid.UUID(key.removeprefix(PATIENT_KEY)), client=where,
                         occurred_at=now,
                         detail={"month": docs[key]["progress"]["month"], "via": "sync.pull"})


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
