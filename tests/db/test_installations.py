"""Remote erase of a phone installation (services/installations.py), the screens' handlers
for it, and the practice's app-lock minutes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from ccm_pwa import db as ccm_db
from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.auth.sessions import create_session
from ccm_pwa.models import AuditEvent, Practice, SyncClient, User
from ccm_pwa.services.installations import (
    CONFIRMED,
    REQUESTED,
    confirm_wipe,
    installations_of_practice,
    installations_of_user,
    request_wipe,
    wipe_requested,
)
from ccm_pwa.services.practice_settings import SettingsError, update_practice_settings
from ccm_pwa.services.sync_push import SyncForbidden, claim_client
from ccm_pwa.ui.pages.account import AccountState
from ccm_pwa.ui.pages.admin_practice import PracticeState
from ccm_pwa.ui.pages.admin_users import UsersState
from tests.db.test_handler_access import World, _state_for

NOW = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
CHICAGO = ZoneInfo("America/Chicago")


class Phones(World):
    """The access test's world, with a phone each for Anna, Ben and the other practice's
    admin; Anna's has a label, Ben's last synced an hour after Anna's."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.session = session

        def phone(user: User, label: str, seen: datetime) -> SyncClient:
            row = SyncClient(id=uuid.uuid4(), user_id=user.id, device_label=label,
                             created_at=datetime(2026, 3, 2, 15, tzinfo=UTC), last_seen_at=seen)
            session.add(row)
            return row

        self.anna_phone = phone(self.manager_a, "Pixel 7", NOW - timedelta(hours=2))
        self.ben_phone = phone(self.manager_b, "", NOW - timedelta(hours=1))
        self.other_phone = phone(self.other_admin, "", NOW - timedelta(minutes=5))
        session.commit()

    def reread(self, phone: SyncClient) -> SyncClient:
        self.session.expire_all()
        row = self.session.get(SyncClient, phone.id)
        assert row is not None
        return row

    def audit(self, action: str) -> list[AuditEvent]:
        self.session.expire_all()
        return list(self.session.exec(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def phones(session: Session, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Phones:
    """The screens' handlers open their own sessions on the default engine, which
    `get_engine` caches for the whole process under the key None (ccm_pwa/db.py): point that
    default at this test's backend, or a PostgreSQL run would read the SQLite database."""
    configured = ccm_db.get_engine
    monkeypatch.setattr(ccm_db, "get_engine", lambda url=None: configured(url or db_url))
    return Phones(session)


def test_an_admin_erases_a_phone_of_her_practice(phones: Phones, session: Session) -> None:
    erased = request_wipe(session=session, actor=phones.admin, client_id=str(phones.ben_phone.id),
                          now=NOW, client="test")
    session.commit()
    assert erased.wipe_requested_by == "admin" and erased.user_name == "ben"
    row = phones.reread(phones.ben_phone)
    assert (row.wipe_requested_at, row.wipe_requested_by_id, row.revoked_at, row.wiped_at) == (
        NOW, phones.admin.id, NOW, None)
    (audit,) = phones.audit(REQUESTED)
    assert (audit.user_id, audit.client, audit.patient_id) == (phones.admin.id, "test", None)
    assert audit.detail == {"client_id": str(row.id), "target_user": str(phones.manager_b.id),
                            "device_label": ""}
    # Asking again: the first request's time and author stand, no second audit row.
    request_wipe(session=session, actor=phones.manager_b, client_id=row.id,
                 now=NOW + timedelta(hours=1))
    session.commit()
    again = phones.reread(phones.ben_phone)
    assert (again.wipe_requested_at, again.wipe_requested_by_id) == (NOW, phones.admin.id)
    assert len(phones.audit(REQUESTED)) == 1


def test_a_phone_already_signed_out_keeps_when(phones: Phones, session: Session) -> None:
    earlier = NOW - timedelta(days=1)
    phones.anna_phone.revoked_at = earlier
    session.add(phones.anna_phone)
    session.commit()
    request_wipe(session=session, actor=phones.manager_a, client_id=phones.anna_phone.id,
                 now=NOW)
    session.commit()
    row = phones.reread(phones.anna_phone)
    assert (row.revoked_at, row.wipe_requested_at) == (earlier, NOW)


@pytest.mark.parametrize(("who", "phone", "only_own"), [
    ("manager_a", "ben_phone", False),  # a colleague's phone
    ("supervisor", "anna_phone", False),  # her team member's: only admins and the owner
    ("other_admin", "anna_phone", False),  # another practice's admin
    ("admin", "ben_phone", True),  # the Account screen acts for oneself only
    ("admin", "unknown", False),
    ("admin", "malformed", False),
    ("admin", "patient_a", False),  # an id that exists, of something else
])
def test_nobody_else_erases_a_phone(phones: Phones, session: Session, who: str, phone: str,
                                    only_own: bool) -> None:
    target = {"unknown": str(uuid.uuid4()), "malformed": "not-a-uuid",
              "patient_a": str(phones.patient_a.id)}.get(phone)
    if target is None:
        target = str(getattr(phones, phone).id)
    with pytest.raises(AccessDenied):
        request_wipe(session=session, actor=getattr(phones, who), client_id=target, now=NOW,
                     only_own=only_own)
    session.rollback()
    assert all(phones.reread(p).wipe_requested_at is None and phones.reread(p).revoked_at is None
               for p in (phones.anna_phone, phones.ben_phone, phones.other_phone))
    assert phones.audit(REQUESTED) == []


def test_the_lists_stay_inside_the_practice_and_the_user(phones: Phones,
                                                         session: Session) -> None:
    listed = installations_of_practice(session=session, admin=phones.admin)
    assert [(p.user_name, p.id) for p in listed] == [("anna", phones.anna_phone.id),
                                                     ("ben", phones.ben_phone.id)]
    other = installations_of_practice(session=session, admin=phones.other_admin)
    assert [p.id for p in other] == [phones.other_phone.id]
    with pytest.raises(AccessDenied):
        installations_of_practice(session=session, admin=phones.supervisor)
    second = SyncClient(id=uuid.uuid4(), user_id=phones.manager_a.id, created_at=NOW,
                        last_seen_at=NOW)
    session.add(second)
    session.commit()
    mine = installations_of_user(session=session, user_id=phones.manager_a.id)
    assert [p.id for p in mine] == [second.id, phones.anna_phone.id]  # newest contact first


def test_the_screens_row_says_name_contact_and_erase(phones: Phones, session: Session) -> None:
    def row(phone: SyncClient) -> dict[str, str]:
        (found,) = [p for p in installations_of_practice(session=session, admin=phones.admin)
                    if p.id == phone.id]
        return found.describe(now=NOW, zone=CHICAGO)

    assert row(phones.anna_phone) == {
        "id": str(phones.anna_phone.id), "user_id": str(phones.manager_a.id),
        "user_name": "anna", "name": "Pixel 7", "last_contact": "last contact 2 h ago",
        "status": "", "requested_by": "", "can_erase": "yes"}
    assert row(phones.ben_phone)["name"] == "Phone (installed Mar 2, 2026)"
    request_wipe(session=session, actor=phones.admin, client_id=phones.ben_phone.id, now=NOW)
    session.commit()
    ben = row(phones.ben_phone)
    assert (ben["status"], ben["requested_by"], ben["can_erase"]) == (
        "Erase requested Dec 5, 2026, 12:00", "admin", "")
    confirm_wipe(session=session, client_id=phones.ben_phone.id, now=NOW + timedelta(minutes=3))
    session.commit()
    assert row(phones.ben_phone)["status"] == "Erased Dec 5, 2026, 12:03"


def test_an_erased_installation_is_refused_by_sync(phones: Phones, session: Session) -> None:
    """What the sync API relies on: push, pull and discard all pass through
    `require_usable`, which refuses a revoked installation."""
    claim_client(session=session, client_id=phones.anna_phone.id, user=phones.manager_a,
                 now=NOW)
    session.rollback()
    request_wipe(session=session, actor=phones.admin, client_id=phones.anna_phone.id, now=NOW)
    session.commit()
    with pytest.raises(SyncForbidden):
        claim_client(session=session, client_id=phones.anna_phone.id, user=phones.manager_a,
                     now=NOW)
    session.rollback()


def test_the_phone_learns_and_confirms_once(phones: Phones, session: Session) -> None:
    phone = phones.anna_phone.id
    assert not wipe_requested(session=session, client_id=phone)
    assert not wipe_requested(session=session, client_id=uuid.uuid4())
    # No erase asked: a confirmation stores nothing.
    assert confirm_wipe(session=session, client_id=phone, now=NOW) is None
    assert confirm_wipe(session=session, client_id=uuid.uuid4(), now=NOW) is None
    session.commit()
    assert phones.reread(phones.anna_phone).wiped_at is None and phones.audit(CONFIRMED) == []

    request_wipe(session=session, actor=phones.manager_a, client_id=phone, now=NOW)
    session.commit()
    assert wipe_requested(session=session, client_id=phone)
    assert not wipe_requested(session=session, client_id=phones.ben_phone.id)
    later = NOW + timedelta(minutes=1)
    assert confirm_wipe(session=session, client_id=phone, now=later,
                        client="sync x") == phones.manager_a.id
    assert confirm_wipe(session=session, client_id=phone, now=later + timedelta(minutes=1)) is None
    session.commit()
    assert phones.reread(phones.anna_phone).wiped_at == later
    (audit,) = phones.audit(CONFIRMED)
    assert (audit.user_id, audit.client, audit.detail) == (phones.manager_a.id, "sync x",
                                                           {"client_id": str(phone)})
    assert wipe_requested(session=session, client_id=phone)  # a stale copy erases too


# --- the screens ---------------------------------------------------------------------------


def _signed_in(phones: Phones, session: Session, user: User) -> str:
    token = create_session(session=session, user=user, now=datetime.now(UTC))
    session.commit()
    return token


def test_users_screen_lists_and_erases(phones: Phones, session: Session) -> None:
    state = _state_for(UsersState, _signed_in(phones, session, phones.admin))
    state.load()
    assert [(p["user_name"], p["can_erase"]) for p in state.phones] == [("anna", "yes"),
                                                                        ("ben", "yes")]
    state.erase_phone(str(phones.ben_phone.id))
    assert phones.reread(phones.ben_phone).wipe_requested_by_id == phones.admin.id
    assert "ben's phone" in state.message
    (ben,) = [p for p in state.phones if p["user_name"] == "ben"]
    assert ben["status"].startswith("Erase requested") and ben["can_erase"] == ""


@pytest.mark.parametrize("who", ["other_admin", "manager_b", "supervisor"])
def test_users_screen_refuses_others(phones: Phones, session: Session, who: str) -> None:
    intruder = getattr(phones, who)
    state = _state_for(UsersState, _signed_in(phones, session, intruder))
    with pytest.raises(AccessDenied):
        state.erase_phone(str(phones.ben_phone.id))
    assert phones.reread(phones.ben_phone).wipe_requested_at is None
    denied = [a for a in phones.audit("access.denied") if a.user_id == intruder.id]
    assert len(denied) == 1
    state.load()
    # No list for anyone but an admin, and only her own practice's.
    expected = [str(phones.other_phone.id)] if who == "other_admin" else []
    assert [p["id"] for p in state.phones] == expected


def test_account_screen_erases_only_ones_own(phones: Phones, session: Session) -> None:
    admin = _state_for(AccountState, _signed_in(phones, session, phones.admin))
    admin.load()
    assert admin.phones == []  # the admin has no phone of her own
    with pytest.raises(AccessDenied):
        admin.erase_phone(str(phones.ben_phone.id))
    assert phones.reread(phones.ben_phone).wipe_requested_at is None

    ben = _state_for(AccountState, _signed_in(phones, session, phones.manager_b))
    ben.load()
    assert [p["id"] for p in ben.phones] == [str(phones.ben_phone.id)]
    assert ben.phones[0]["name"] == "Phone (installed Mar 2, 2026)"
    with pytest.raises(AccessDenied):
        ben.erase_phone(str(phones.anna_phone.id))
    ben.erase_phone(str(phones.ben_phone.id))
    assert phones.reread(phones.ben_phone).wipe_requested_by_id == phones.manager_b.id
    assert ben.phones[0]["status"].startswith("Erase requested")
    assert phones.reread(phones.anna_phone).wipe_requested_at is None


# --- the practice's app-lock minutes -------------------------------------------------------


def test_app_lock_minutes_default_change_and_audit(phones: Phones, session: Session) -> None:
    practice = session.get(Practice, phones.admin.practice_id)
    assert practice is not None and practice.app_lock_minutes == 5
    for bad in (0, 31, -5):
        with pytest.raises(SettingsError, match="app_lock_minutes"):
            update_practice_settings(session=session, admin=phones.admin, now=NOW,
                                     app_lock_minutes=bad)
        session.rollback()
    update_practice_settings(session=session, admin=phones.admin, now=NOW, app_lock_minutes=1)
    update_practice_settings(session=session, admin=phones.admin, now=NOW, app_lock_minutes=30)
    session.commit()
    session.expire_all()
    assert session.get(Practice, phones.admin.practice_id).app_lock_minutes == 30
    changes = [a.detail for a in phones.audit("practice.settings")]
    assert changes == [{"app_lock_minutes": {"from": 5, "to": 1}},
                       {"app_lock_minutes": {"from": 1, "to": 30}}]
    with pytest.raises(AccessDenied):
        update_practice_settings(session=session, admin=phones.supervisor, now=NOW,
                                 app_lock_minutes=10)


def test_practice_screen_saves_app_lock_minutes(phones: Phones, session: Session) -> None:
    state = _state_for(PracticeState, _signed_in(phones, session, phones.admin))
    state.load()
    assert state.app_lock_minutes == "5"
    state.save_settings({"timezone": "America/Chicago", "reminder_time": "09:00",
                         "fee_year": "2026", "app_lock_minutes": "12"})
    assert (state.is_error, state.app_lock_minutes) == (False, "12")
    state.save_settings({"app_lock_minutes": "45"})
    assert state.is_error and "app_lock_minutes" in state.message
    session.expire_all()
    assert session.get(Practice, phones.admin.practice_id).app_lock_minutes == 12
    other = session.get(Practice, phones.other_admin.practice_id)
    assert other is not None and other.app_lock_minutes == 5
