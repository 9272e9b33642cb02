"""Every public Reflex event handler and every API route, called by someone who must not
get in, is denied (checklist B22).

Handlers and routes are enumerated from the app itself, so a handler or route added later
is covered without touching this file. A handler is "denied" when it raises AccessDenied,
or when it takes no identifiers and leaves no other caseload's patient in its state and
changes no clinical or account rows.
"""

from __future__ import annotations

import inspect
import io
import typing
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from reflex.istate.data import RouterData
from reflex.state import State
from sqlmodel import Session

import ccm_pwa.ccm_pwa  # noqa: F401  (imports every page, so every state is registered)
from ccm_pwa import db
from ccm_pwa.api.main import api
from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.auth.sessions import create_session
from ccm_pwa.models import (
    AppliedMutation,
    CarePlanRevision,
    EnrollmentStatus,
    Note,
    Organisation,
    Patient,
    Practice,
    PracticeRole,
    Role,
    TimeEntry,
    User,
)
from ccm_pwa.services.users import create_user
from ccm_pwa.ui.states.auth import AuthState

PUBLIC_ROUTES = {
    ("GET", "/api/v1/health"),  # monitoring: no PHI
    ("POST", "/api/v1/session"),  # signing in is how one gets a session
    ("POST", "/api/v1/session/form"),
    ("GET", "/api/v1/openapi.json"),
    ("DELETE", "/api/v1/session"),  # signing out without a session reveals nothing
    ("POST", "/api/v1/session/sign-out"),
    ("POST", "/api/v1/session/sign-out-everywhere"),  # without a session: only clears cookies
    # A lost phone asks whether to erase itself, and says it did, with or without a session:
    # one bit about an installation id only that phone knows (api/routes/installations.py).
    ("GET", "/api/v1/sync/wipe"),
    ("POST", "/api/v1/sync/wiped"),
}
# Handlers that act on the caller's own practice, not on ids they are given: another
# practice's admin may use them (for her practice), and must change nothing in ours.
OWN_PRACTICE_ACTIONS = {("UsersState", "add_user", "other_admin"),
                        ("PracticeState", "save_settings", "other_admin"),
                        ("UsersState", "add_user", "north_admin"),
                        ("PracticeState", "save_settings", "north_admin")}
# Supervisor screens' forms that take a month or a team member, never a patient: whoever
# may open the screen may use them on her own practice (a member outside her team falls
# back to the practice-wide figures, which name no patient).
MONTH_OR_TEAM_FORMS = {("MonthCloseState", "choose"), ("MonthCloseState", "reopen"),
                       ("ProgramState", "choose")}
# The audit log is practice-wide for its supervisors and admins (docs/security.md, B7): it
# shows the MRN of any patient of their own practice that an event was about, never one of
# another practice.
PRACTICE_WIDE_SCREENS = {"AuditLogState"}
# Tables a refused handler must leave untouched (audit rows and session touches are fine).
GUARDED_TABLES = [Patient, User, TimeEntry, Note, CarePlanRevision, AppliedMutation]


class World:
    """Two care managers with their own patients, their supervisor, a supervisor without a
    team, an admin, and a second practice with its own admin and patient.

    Across the practice boundary (issue 17): Lakeside's organisation also runs Northside,
    whose care manager Sal works Lakeside patients too (a role there, under Lakeside's
    supervisor), and whose admin Nadia must see none of Sal's Lakeside work."""

    def __init__(self, session: Session) -> None:
        organisation = Organisation(name="Riverbend")
        session.add(organisation)
        session.flush()
        practice = Practice(name="Lakeside", timezone="America/Chicago",
                            organisation_id=organisation.id)
        other = Practice(name="Elsewhere", timezone="America/Denver")
        north = Practice(name="Northside", timezone="America/New_York",
                         organisation_id=organisation.id)
        session.add_all([practice, other, north])
        session.flush()

        def user(name: str, role: Role, practice_id: uuid.UUID,
                 supervisor: User | None = None) -> User:
            new = create_user(session=session, practice_id=practice_id,
                              email=f"{name}@x.example", name=name, role=role,
                              supervisor_id=supervisor.id if supervisor else None)
            new.user.must_change_password = False
            new.user.totp_enrolled_at = datetime.now(UTC)
            return new.user

        self.supervisor = user("sup", Role.SUPERVISOR, practice.id)
        self.lonely_supervisor = user("lonely", Role.SUPERVISOR, practice.id)
        self.manager_a = user("anna", Role.CARE_MANAGER, practice.id, self.supervisor)
        self.manager_b = user("ben", Role.CARE_MANAGER, practice.id, self.supervisor)
        self.admin = user("admin", Role.ADMIN, practice.id)
        self.other_admin = user("otheradmin", Role.ADMIN, other.id)
        self.shared = user("sal", Role.CARE_MANAGER, north.id)
        self.north_admin = user("nadia", Role.ADMIN, north.id)
        session.flush()
        session.add(PracticeRole(user_id=self.shared.id, practice_id=practice.id,
                                 role=Role.CARE_MANAGER, supervisor_id=self.supervisor.id))
        self.users_in_practice = 5

        def patient(mrn: str, manager: User | None, practice_id: uuid.UUID) -> Patient:
            row = Patient(practice_id=practice_id, mrn=mrn, given_name=f"Given{mrn}",
                          family_name=f"Family{mrn}", birth_date=date(1950, 1, 1),
                          care_manager_id=manager.id if manager else None,
                          enrollment_status=EnrollmentStatus.ENROLLED)
            session.add(row)
            return row

        self.patient_a = patient("A001", self.manager_a, practice.id)
        self.patient_b = patient("B001", self.manager_b, practice.id)
        self.patient_other = patient("Z001", None, other.id)
        self.patient_north = patient("N001", self.shared, north.id)
        self.patient_shared = patient("S001", self.shared, practice.id)  # Sal's, at Lakeside
        session.flush()
        self.entry_shared = TimeEntry(
            patient_id=self.patient_shared.id, performer_id=self.shared.id,
            performer_kind="clinical_staff", activity="phone_call_patient", note="",
            started_at=datetime(2026, 11, 10, 15, tzinfo=UTC), duration_seconds=600,
            source="timer", occurred_at=datetime(2026, 11, 10, 15, tzinfo=UTC))
        session.add(self.entry_shared)
        # Sal opened her Lakeside patient: Lakeside's audit log, not Northside's.
        record_audit(session=session, action="patient.read", user_id=self.shared.id,
                     patient_id=self.patient_shared.id)
        session.commit()


def _state_classes(cls: type[State] = State) -> Iterator[type[State]]:
    for sub in sorted(cls.get_substates(), key=lambda c: c.get_full_name()):
        yield sub
        yield from _state_classes(sub)


def _app_handlers() -> list[tuple[type[State], str]]:
    found = []
    for state_cls in _state_classes():
        for name, handler in state_cls.event_handlers.items():
            if getattr(handler.fn, "__module__", "").startswith("ccm_pwa"):
                found.append((state_cls, name))
    return found


HANDLERS = _app_handlers()


def _state_for(state_cls: type[State], token: str,
               practice_id: uuid.UUID | None = None) -> State:
    """The page's URL asks for `practice_id` (the supervisor screens' practice picker, which
    must not open a practice where she oversees nothing)."""
    root = State(_reflex_internal_init=True)
    root.router_data = {"headers": {"cookie": f"ccm_session={token}", "user-agent": "pytest"},
                        "token": "test-client-token", "pathname": "/", "query": {},
                        "asPath": f"/?practice={practice_id}" if practice_id else "/"}
    root.router = RouterData.from_router_data(root.router_data)
    return root.get_substate(state_cls.get_full_name().split("."))


def _arguments(fn: typing.Callable, foreign_id: str) -> tuple[list[object], bool]:
    """Arguments for every parameter: ids are the foreign patient's id; forms carry it too."""
    args: list[object] = []
    takes_ids = False
    for parameter in list(inspect.signature(fn).parameters.values())[1:]:
        annotation = str(parameter.annotation)
        if "dict" in annotation:
            args.append({"patient_id": foreign_id, "user_id": foreign_id, "id": foreign_id,
                         "email": "intruder@x.example", "name": "Intruder",
                         "role": "admin", "performer": "clinical_staff", "action": "",
                         "note": "x", "minutes": "30"})
        else:
            args.append(foreign_id)
        takes_ids = True
    return args, takes_ids


def _guarded_counts(session: Session) -> dict[str, int]:
    return {model.__tablename__: session.execute(
        sa.select(sa.func.count()).select_from(model)).scalar_one() for model in GUARDED_TABLES}


@pytest.fixture
def world(session: Session, db_url: str, monkeypatch: pytest.MonkeyPatch) -> World:
    """The handlers' `session_scope()` must read this test's database. The engine of "the
    configured database" is made once per process (`db.get_engine(None)`), so after the
    first backend every handler read that backend's database, found no session there and
    was "denied" whatever it did; the engine for `db_url` is handed out instead."""
    monkeypatch.setenv("CCM_DATABASE_URL", db_url)
    engine_for = db.get_engine
    monkeypatch.setattr(db, "get_engine", lambda url=None: engine_for(url or db_url))
    return World(session)


def test_the_handlers_read_this_tests_database(world: World, session: Session) -> None:
    """The fuzz below means something only if a rightful call gets in: the handlers'
    `session_scope()` must read this test's database, on each backend in turn."""
    token = create_session(session=session, user=world.manager_a, now=datetime.now(UTC))
    session.commit()
    state = _state_for(AuthState, token, world.patient_a.practice_id)
    user, patient = state._require_patient(str(world.patient_a.id))
    assert (user.id, patient.id) == (world.manager_a.id, world.patient_a.id)


def test_the_app_has_handlers_to_check() -> None:
    names = {f"{cls.__name__}.{name}" for cls, name in HANDLERS}
    assert {"AuditLogState.load", "UsersState.add_user", "AuthState.guard"} <= names


# Whose id each intruder tries, and what none of her screens may show. Sal holds a role at
# Lakeside but Anna's patient is not hers; Nadia is Sal's admin at Northside, but Sal's
# Lakeside patient is Lakeside's.
FOREIGN = {"manager_a": "patient_b", "lonely_supervisor": "patient_a",
           "other_admin": "patient_a", "shared": "patient_a", "north_admin": "patient_shared"}
FORBIDDEN = {
    "manager_a": ["patient_b", "patient_other", "patient_north", "patient_shared"],
    "lonely_supervisor": ["patient_a", "patient_b", "patient_other", "patient_north",
                          "patient_shared"],
    "other_admin": ["patient_a", "patient_b", "patient_north", "patient_shared"],
    "shared": ["patient_a", "patient_b", "patient_other"],
    "north_admin": ["patient_a", "patient_b", "patient_other", "patient_shared"],
}


@pytest.mark.parametrize("who", list(FOREIGN))
@pytest.mark.parametrize(("state_cls", "handler_name"), HANDLERS,
                         ids=[f"{c.__name__}.{n}" for c, n in HANDLERS])
def test_handler_denies_other_caseloads(world: World, session: Session, who: str,
                                        state_cls: type[State], handler_name: str) -> None:
    intruder: User = getattr(world, who)
    foreign = getattr(world, FOREIGN[who])
    token = create_session(session=session, user=intruder, now=datetime.now(UTC))
    session.commit()
    before = _guarded_counts(session)
    state = _state_for(state_cls, token, foreign.practice_id)
    fn = state_cls.event_handlers[handler_name].fn
    args, takes_ids = _arguments(fn, str(foreign.id))
    try:
        result = fn(state, *args)
        if inspect.isgenerator(result):
            list(result)
        raised = False
    except AccessDenied:
        raised = True
    own_practice = ((state_cls.__name__, handler_name, who) in OWN_PRACTICE_ACTIONS
                    or (state_cls.__name__, handler_name) in MONTH_OR_TEAM_FORMS)
    if takes_ids and handler_name not in {"filter_by_action"} and not own_practice:
        assert raised, f"{state_cls.__name__}.{handler_name} accepted another caseload's id"
    visible = str(state.dict())
    for patient in (getattr(world, name) for name in FORBIDDEN[who]):
        if (state_cls.__name__ in PRACTICE_WIDE_SCREENS
                and patient.practice_id == intruder.practice_id):
            continue
        assert patient.mrn not in visible and patient.family_name not in visible
    session.expire_all()
    after = _guarded_counts(session)
    if own_practice:
        ours = session.execute(sa.select(sa.func.count()).select_from(User).where(
            User.practice_id == world.manager_a.practice_id)).scalar_one()
        assert ours == world.users_in_practice
    else:
        assert after == before


def _walk(routes: list, prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods):
                yield method, prefix + route.path
        elif hasattr(route, "original_router"):  # FastAPI >= 0.16x wraps included routers
            yield from _walk(route.original_router.routes, prefix + route.include_context.prefix)


def _route_calls() -> list[tuple[str, str]]:
    return sorted(set(_walk(api.routes)))


def test_every_route_is_enumerated() -> None:
    calls = set(_route_calls())
    assert {("GET", "/api/v1/reports/billing"), ("GET", "/api/v1/session"),
            ("POST", "/api/v1/session/setup")} <= calls


@pytest.mark.parametrize(("method", "path"), _route_calls())
def test_route_requires_authentication(world: World, method: str, path: str) -> None:
    """No route but the public few answers without a session, whatever ids it is given."""
    if (method, path) in PUBLIC_ROUTES:
        pytest.skip("public by design")
    client = TestClient(api)
    filled = path.replace("{patient_id}", str(world.patient_b.id))
    response = client.request(method, filled, params={"month": "2026-11"},
                              data={"new_password": "x" * 20, "confirm_password": "x" * 20,
                                    "current_password": "x" * 20, "otp": "123456"},
                              follow_redirects=False)
    sent_to_sign_in = response.status_code == 303 and response.headers["location"] == "/login"
    assert response.status_code in (401, 403) or sent_to_sign_in, (method, path,
                                                                    response.status_code)


# Rows the API may add for a refused or harmless call (an installation, a rejected mutation
# in the log, a closed month of her own practice) are not among these clinical ones.
ROUTE_GUARDED = [Patient, TimeEntry, Note, CarePlanRevision]
# Routes that change the caller's own account or her own practice's month: what they change
# is hers to change, and names no patient of anyone else.
OWN_ACCOUNT_OR_PRACTICE = {("POST", "/api/v1/session/password"),
                           ("POST", "/api/v1/session/setup"),
                           ("POST", "/api/v1/months/{month}/close"),
                           ("POST", "/api/v1/months/{month}/reopen")}


def _body(path: str, foreign: Patient) -> dict[str, object]:
    """A well-formed body naming the foreign patient wherever a body can name one."""
    record = {"name": "time_entry.record", "id": 1, "occurred_at": "2026-11-10T16:00:00+00:00",
              "patient_id": str(foreign.id), "args": {
                  "entry_id": str(uuid.uuid4()), "patient_id": str(foreign.id),
                  "started_at": "2026-11-10T15:30:00+00:00", "duration_seconds": 300,
                  "activity": "phone_call_patient", "note": "", "source": "timer"}}
    if path.endswith("/sync/push") or path.endswith("/sync/discard"):
        return {"client_id": str(uuid.uuid4()), "schema_version": 1, "mutations": [record]}
    if path.startswith("/api/v1/review/"):
        return {"decision": "accept", "note": "looks right"}
    return {"reason": "asked to"}


@pytest.mark.parametrize("naming_the_practice", [False, True], ids=["", "practice"])
@pytest.mark.parametrize("who", ["shared", "north_admin", "other_admin"])
@pytest.mark.parametrize(("method", "path"), _route_calls())
def test_route_reveals_nothing_across_the_practice_boundary(world: World, session: Session,
                                                            who: str, method: str, path: str,
                                                            naming_the_practice: bool) -> None:
    """Every route, signed in as someone with roles in other practices (or in two), given
    ids from the practice or caseload she has no claim on (and, once more, `?practice=`
    naming that patient's practice): refused or empty, never a foreign patient in the
    answer (zips opened), never a clinical row written."""
    if (method, path) in PUBLIC_ROUTES:
        pytest.skip("public by design")
    intruder: User = getattr(world, who)
    foreign = getattr(world, FOREIGN[who])
    token = create_session(session=session, user=intruder, now=datetime.now(UTC))
    session.commit()
    before = _guarded(session, ROUTE_GUARDED)
    client = TestClient(api, cookies={"ccm_session": token})
    manager = world.shared if who == "north_admin" else world.manager_a
    filled = (path.replace("{patient_id}", str(foreign.id)).replace("{month}", "2026-11")
              .replace("{care_manager_id}", str(manager.id))
              .replace("{entry_id}", str(world.entry_shared.id)))
    params = {"month": "2026-11", "client_id": str(uuid.uuid4())}
    if naming_the_practice:
        params["practice"] = str(foreign.practice_id)
    response = client.request(method, filled, params=params,
                              json=_body(path, foreign) if method == "POST" else None,
                              follow_redirects=False)
    assert response.status_code < 500, (method, path, response.status_code, response.text)
    text = _readable(response.content)
    for patient in (getattr(world, name) for name in FORBIDDEN[who]):
        assert patient.mrn not in text and patient.family_name not in text, (method, path)
    if (method, path) not in OWN_ACCOUNT_OR_PRACTICE:
        session.expire_all()
        assert _guarded(session, ROUTE_GUARDED) == before, (method, path)


def _readable(content: bytes) -> str:
    """The answer as text; a zip's members unpacked (deflated, an MRN would not show)."""
    if not content.startswith(b"PK"):
        return content.decode("utf-8", "replace")
    archive = zipfile.ZipFile(io.BytesIO(content))
    return "\n".join(archive.read(name).decode("utf-8", "replace")
                     for name in archive.namelist())


def _guarded(session: Session, models: list) -> dict[str, int]:
    return {model.__tablename__: session.execute(
        sa.select(sa.func.count()).select_from(model)).scalar_one() for model in models}
