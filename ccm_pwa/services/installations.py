"""Phone installations (`SyncClient` rows) as people see them, and their remote erase.

A lost phone keeps its caseload sealed behind the app PIN (docs/security.md); the server's
part is the erase:
- an admin (any user of her own practice) or the user herself asks for it: `request_wipe`
  sets `wipe_requested_at` and `revoked_at` together, so from that instant the sync API
  refuses the installation (services/sync_push.py `require_usable`, used by push, pull and
  discard) even while the phone still holds a valid session;
- the phone asks `GET /api/v1/sync/wipe` before it shows anything and every minute while
  open — without a session, since an expired one must not keep it from learning — erases
  its store and confirms with `POST /api/v1/sync/wiped` (`confirm_wipe`).
Unknown and foreign installation ids get the same AccessDenied, so nobody can probe which
ids exist; the anonymous endpoints answer an unknown id exactly like an untouched one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from ccm_pwa.auth.access import AccessDenied, id_or_denied, require_role
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.domain.installation_text import device_name, erase_status, since
from ccm_pwa.models import Practice, Role, SyncClient, User

REQUESTED = "installation.wipe_requested"
CONFIRMED = "installation.wiped"


@dataclass(frozen=True)
class Installation:
    """One installation, with the names the screens show instead of ids."""

    id: uuid.UUID
    user_id: uuid.UUID
    user_name: str
    device_label: str
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None
    wipe_requested_at: datetime | None
    wipe_requested_by: str
    wiped_at: datetime | None

    @property
    def can_erase(self) -> bool:
        return self.wipe_requested_at is None

    def describe(self, *, now: datetime, zone: ZoneInfo) -> dict[str, str]:
        """The screens' row: plain strings, as Reflex state holds them."""
        return {
            "id": str(self.id), "user_id": str(self.user_id), "user_name": self.user_name,
            "name": device_name(self.device_label, self.created_at.astimezone(zone).date()),
            "last_contact": f"last contact {since(now, self.last_seen_at)}",
            "status": erase_status(wipe_requested_at=self.wipe_requested_at,
                                   wiped_at=self.wiped_at, revoked_at=self.revoked_at,
                                   zone=zone),
            "requested_by": self.wipe_requested_by,
            "can_erase": "yes" if self.can_erase else "",
        }


def installations_of_user(*, session: Session, user_id: uuid.UUID) -> list[Installation]:
    """The user's own phones, the most recently heard from first."""
    return _installations(session, User.id == user_id)


def installations_of_practice(*, session: Session, admin: User) -> list[Installation]:
    """Every phone of every user of the admin's practice (never another practice's), by
    user name and then most recently heard from."""
    require_role(admin, Role.ADMIN)
    return _installations(session, User.practice_id == admin.practice_id)


def practice_zone(*, session: Session, user: User) -> ZoneInfo:
    practice = session.get(Practice, user.practice_id)
    assert practice is not None
    return ZoneInfo(practice.timezone)


def request_wipe(*, session: Session, actor: User, client_id: uuid.UUID | str, now: datetime,
                 client: str = "", only_own: bool = False) -> Installation:
    """Mark the installation to be erased at its next contact, and revoke it now; audited.

    Allowed for the installation's own user and (unless `only_own`: the Account screen
    acts for oneself even when an admin uses it) for an admin of that user's practice;
    AccessDenied for anything else, malformed and unknown ids included. Asking again
    changes nothing and writes no second audit row (the first request's time and author
    stand).
    """
    target = _allowed(session, actor, client_id, only_own=only_own)
    # One conditional UPDATE: two admins pressing at once record one request, one audit row.
    changed = session.execute(
        sa.update(SyncClient)
        .where(SyncClient.id == target.id, SyncClient.wipe_requested_at.is_(None))
        .values(wipe_requested_at=now, wipe_requested_by_id=actor.id,
                revoked_at=sa.func.coalesce(SyncClient.revoked_at, now))).rowcount
    if changed:
        record_audit(session=session, action=REQUESTED, user_id=actor.id, client=client,
                     occurred_at=now,
                     detail={"client_id": str(target.id), "target_user": str(target.user_id),
                             "device_label": target.device_label[:100]})
    session.flush()
    found = _installations(session, SyncClient.id == target.id)
    return found[0]


def wipe_requested(*, session: Session, client_id: uuid.UUID) -> bool:
    """Whether the phone should erase itself. Reads only: the caller is anonymous, and an
    anonymous caller changes nothing (not even `last_seen_at`)."""
    return session.execute(
        sa.select(SyncClient.id).where(SyncClient.id == client_id,
                                       SyncClient.wipe_requested_at.is_not(None))
    ).first() is not None


def confirm_wipe(*, session: Session, client_id: uuid.UUID, now: datetime,
                 client: str = "") -> uuid.UUID | None:
    """Record the phone's "I erased myself" once, audited as the installation's user; the
    user id, or None when nothing was recorded (no erase asked, already confirmed, unknown
    id) — the caller answers the same either way."""
    # Conditional, so two confirmations at once record one (no RETURNING: older SQLite).
    changed = session.execute(
        sa.update(SyncClient)
        .where(SyncClient.id == client_id, SyncClient.wipe_requested_at.is_not(None),
               SyncClient.wiped_at.is_(None))
        .values(wiped_at=now)).rowcount
    if not changed:
        return None
    owner = session.execute(sa.select(SyncClient.user_id).where(SyncClient.id == client_id)
                            ).scalar_one()
    record_audit(session=session, action=CONFIRMED, user_id=owner, client=client,
                 occurred_at=now, detail={"client_id": str(client_id)})
    return owner


def _allowed(session: Session, actor: User, client_id: uuid.UUID | str, *,
             only_own: bool) -> SyncClient:
    row = session.get(SyncClient, id_or_denied(client_id))
    if row is None:
        raise AccessDenied
    if row.user_id == actor.id:
        return row
    if only_own:
        raise AccessDenied
    owner = session.get(User, row.user_id)
    if actor.role != Role.ADMIN or owner is None or owner.practice_id != actor.practice_id:
        raise AccessDenied
    return row


def _installations(session: Session, *where: sa.ColumnElement[bool]) -> list[Installation]:
    requester = aliased(User)
    rows = session.execute(
        select(SyncClient, User.name, requester.name)
        .join(User, User.id == SyncClient.user_id)
        .outerjoin(requester, requester.id == SyncClient.wipe_requested_by_id)
        .where(*where)
        .order_by(User.name, SyncClient.last_seen_at.desc(), SyncClient.id)
        .execution_options(populate_existing=True)).all()
    return [Installation(
        id=row.id, user_id=row.user_id, user_name=user_name, device_label=row.device_label,
        created_at=row.created_at, last_seen_at=row.last_seen_at, revoked_at=row.revoked_at,
        wipe_requested_at=row.wipe_requested_at, wipe_requested_by=requested_by or "",
        wiped_at=row.wiped_at) for row, user_name, requested_by in rows]
