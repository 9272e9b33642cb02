"""Several workers on PostgreSQL + Redis: a worker killed mid-push loses and doubles nothing.

The scaled deployment (two granian workers, Reflex's Redis state manager, PostgreSQL) serves
two browser sessions — a supervisor on a laptop working Reflex screens over the websocket,
a care manager on a phone whose field kit syncs over HTTP — and two more phones' sync
clients at once. Then:

1. phone A sends a large batch; the worker holding that very connection (found from the
   kernel's socket table) is killed with SIGKILL while the batch is in flight. The phone
   sees its connection die, and sends the same batch again, as the field kit does;
2. phone B keeps pushing small batches throughout, retrying whatever fails;
3. after granian has replaced the dead worker, the other original worker is killed too, so
   every connection the browsers opened before the faults has been cut at least once.

Afterwards every entry the phones sent is stored exactly once, progress reads the same
from every worker and equals a full rebuild of the rollups, and both browser sessions go
on working without signing in again (their screen state lives in Redis).
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psutil
import pytest
import redis
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.e2e.conftest import ROOT, DemoApp, DemoLogin, fresh_code, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.deployment("postgresql-redis")]
WAIT = 30_000
CHICAGO = ZoneInfo("America/Chicago")
RESPAWN_TIMEOUT_S = 60


# --- the server's worker processes, as the kernel sees them --------------------------------

def _workers(app: DemoApp) -> list[psutil.Process]:
    """Granian's worker processes: the app's children listening on its port."""
    assert app.process is not None
    found = []
    for child in psutil.Process(app.process.pid).children(recursive=True):
        try:
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == app.port
                   for c in child.net_connections(kind="tcp")):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _worker_serving(app: DemoApp, client_port: int) -> psutil.Process | None:
    """The worker holding the server side of the connection from `client_port`."""
    for worker in _workers(app):
        try:
            for c in worker.net_connections(kind="tcp"):
                if c.laddr.port == app.port and c.raddr and c.raddr.port == client_port:
                    return worker
        except psutil.NoSuchProcess:
            continue
    return None


def _wait_for_workers(app: DemoApp, count: int, without: set[int]) -> list[psutil.Process]:
    deadline = time.monotonic() + RESPAWN_TIMEOUT_S
    while time.monotonic() < deadline:
        workers = [w for w in _workers(app) if w.pid not in without]
        if len(workers) >= count:
            return workers
        time.sleep(0.25)
    raise AssertionError(f"granian did not replace the killed worker within "
                         f"{RESPAWN_TIMEOUT_S}s: {[w.pid for w in _workers(app)]}")


# --- a phone's sync client, speaking the field API over plain HTTP -------------------------

@dataclass
class SyncPhone:
    """One installation: its own client id, mutation counter and session cookie."""

    app: DemoApp
    email: str
    cookie: str = ""
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    next_id: int = 1
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)  # entry_id -> args
    results: dict[int, str] = field(default_factory=dict)  # mutation id -> final status
    reasons: dict[int, str] = field(default_factory=dict)  # mutation id -> why rejected
    errors: list[str] = field(default_factory=list)

    def sign_in(self, password: str, secret: str) -> None:
        body = json.dumps({"email": self.email, "password": password,
                           "otp": fresh_code(secret)})
        status, headers, _ = self._request("POST", "/api/v1/session", body)
        assert status == 200, f"sign-in for {self.email} answered {status}"
        self.cookie = headers["set-cookie"].split(";", 1)[0]

    def batch_of_calls(self, patients: list[str], first: datetime, count: int
                       ) -> dict[str, Any]:
        """`count` 40-second calls a minute apart from `first`: one person never overlaps
        herself, so every one of them is accepted. 300 of them end five hours later, before
        the demo's earliest booked call (06:00)."""
        mutations = []
        for n in range(count):
            entry_id = str(uuid.uuid4())
            args = {"entry_id": entry_id, "patient_id": patients[n % len(patients)],
                    "started_at": (first + timedelta(minutes=n)).isoformat(),
                    "duration_seconds": 40, "activity": "phone_call_patient",
                    "note": "Checked home glucose readings", "source": "timer"}
            self.sent[entry_id] = args
            mutations.append({"id": self.next_id, "name": "time_entry.record",
                              "occurred_at": args["started_at"], "args": args})
            self.next_id += 1
        return {"client_id": self.client_id, "schema_version": 1, "mutations": mutations}

    def push(self, batch: dict[str, Any], on_connected: Any = None) -> bool:
        """Send one batch; False when the connection died before an answer came."""
        try:
            status, _, body = self._request("POST", "/api/v1/sync/push", json.dumps(batch),
                                            on_connected)
        except (ConnectionError, http.client.HTTPException, TimeoutError) as exc:
            self.errors.append(type(exc).__name__)
            return False
        if status >= 500:
            self.errors.append(f"HTTP {status}")
            return False
        assert status == 200, f"push answered {status}: {body[:300]}"
        for result in json.loads(body)["results"]:
            self.results[result["id"]] = result["status"]
            if result.get("reason"):
                self.reasons[result["id"]] = result["reason"]
        return True

    def push_until_answered(self, batch: dict[str, Any], attempts: int = 20) -> None:
        for _ in range(attempts):
            if self.push(batch):
                return
            time.sleep(0.5)
        raise AssertionError(f"{self.email}: no answer after {attempts} attempts")

    def get(self, path: str) -> dict[str, Any]:
        status, _, body = self._request("GET", path)
        assert status == 200, f"GET {path} answered {status}"
        return json.loads(body)

    def _request(self, method: str, path: str, body: str | None = None,
                 on_connected: Any = None) -> tuple[int, dict[str, str], str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.app.port, timeout=60)
        try:
            connection.connect()
            if on_connected is not None:
                on_connected(connection.sock.getsockname()[1])
            headers = {"Content-Type": "application/json", "Origin": self.app.url.rstrip("/")}
            if self.cookie:
                headers["Cookie"] = self.cookie
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return (response.status, {k.lower(): v for k, v in response.getheaders()},
                    response.read().decode())
        finally:
            connection.close()


def _phones(app: DemoApp, count: int, besides: str) -> list[SyncPhone]:
    """Sync clients for care managers with a caseload (not the practitioners)."""
    with_caseload = {row[0] for row in app.rows(
        "select distinct u.email from app_user u join patient p on p.care_manager_id = u.id "
        "where p.enrollment_status = 'enrolled'")}
    logins = [login for login in app.logins
              if login.email in with_caseload and login.email != besides][:count]
    assert len(logins) == count, f"the demo has too few care managers: {logins}"
    return [_signed_in_phone(app, login) for login in logins]


def _signed_in_phone(app: DemoApp, login: DemoLogin) -> SyncPhone:
    phone = SyncPhone(app, login.email)
    phone.sign_in(login.password, login.secret)
    return phone


def _enrolled_patients(app: DemoApp, email: str) -> list[str]:
    rows = app.rows("select p.id from patient p join app_user u on u.id = p.care_manager_id "
                    "where u.email = :email and p.enrollment_status = 'enrolled' "
                    "order by p.mrn", email=email)
    assert rows, f"{email} has no enrolled patients in the demo"
    return [str(uuid.UUID(str(row[0]))) for row in rows]


def _last_month() -> tuple[int, int]:
    """Last month, practice-local: wholly past whatever today is, so every night call is
    real time (the server refuses a call that would end in the future) and still open."""
    first = datetime.now(CHICAGO).replace(day=1)
    end = first - timedelta(days=1)
    return end.year, end.month


def _night(day: int) -> datetime:
    """A time the demo never books calls at, so these entries overlap nothing."""
    year, month = _last_month()
    return datetime(year, month, day, 0, 30, tzinfo=CHICAGO)


# --- browsers ------------------------------------------------------------------------------

@pytest.fixture
def laptop(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def pixel(browser: Browser, playwright_instance: Playwright) -> Iterator[Page]:
    device = dict(playwright_instance.devices["Pixel 7"])
    device.pop("default_browser_type", None)
    context = browser.new_context(**device)
    yield context.new_page()
    context.close()


def _open(page: Page, link: str, heading: str) -> None:
    page.get_by_role("link", name=link, exact=True).first.click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=WAIT)


def _add_note(page: Page, app: DemoApp, text: str) -> None:
    """Add a note on the phone and wait for the server to have it (the field kit syncs it)."""
    page.get_by_label("New note").fill(text)
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text(text)).to_be_visible(timeout=WAIT)
    deadline = time.monotonic() + WAIT / 1000
    while app.rows("select count(*) from note where body = :body", body=text)[0][0] != 1:
        assert time.monotonic() < deadline, f"note never reached the server: {text}"
        time.sleep(0.25)
    expect(page.get_by_label("Changes waiting")).to_have_count(0, timeout=WAIT)


class _Background:
    """Phone B: small batches, one after another, until told to stop."""

    def __init__(self, phone: SyncPhone, patients: list[str]) -> None:
        self.phone, self.patients = phone, patients
        self.stop = threading.Event()
        self.batches = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        nights = iter(day for day in range(1, 29) if day not in (10, 12, 14))  # A's nights
        start = _night(next(nights))
        while not self.stop.is_set():
            batch = self.phone.batch_of_calls(self.patients, start, 5)
            start += timedelta(minutes=5)
            if start.hour >= 5:  # keep to the night: the demo books calls from 06:00
                start = _night(next(nights))
            self.phone.push_until_answered(batch)
            self.batches += 1
            time.sleep(0.1)


def test_a_worker_killed_mid_push_loses_and_doubles_nothing(
        demo_app: DemoApp, laptop: Page, pixel: Page) -> None:
    original = _workers(demo_app)
    assert len(original) == 2, f"expected 2 workers, found {[w.pid for w in original]}"

    # Two browser sessions: a supervisor on Reflex screens, a care manager on her phone.
    sign_in(laptop, demo_app, "supervisor")
    _open(laptop, "Team", "Team today")
    expect(laptop.get_by_role("list", name="Team").get_by_role("listitem").first
           ).to_contain_text("enrolled", timeout=WAIT)
    pixel_email = sign_in(pixel, demo_app, "care_manager", index=4)
    pixel_worklist = pixel.get_by_role("list", name="Worklist")
    pixel_worklist.get_by_role("listitem").first.get_by_role("heading").click()
    expect(pixel.get_by_role("heading", name="Notes")).to_be_visible(timeout=WAIT)
    _add_note(pixel, demo_app, "Before the fault: daughter will bring the pill organiser")

    # Two phones' sync clients.
    phone_a, phone_b = _phones(demo_app, 2, besides=pixel_email)
    patients_a = _enrolled_patients(demo_app, phone_a.email)
    patients_b = _enrolled_patients(demo_app, phone_b.email)
    readers = [(phone, patient) for phone, patients in ((phone_a, patients_a),
                                                        (phone_b, patients_b))
               for patient in patients[:4]]
    minutes_before = sum(_minutes(phone, patient) for phone, patient in readers)
    background = _Background(phone_b, patients_b)
    background.thread.start()

    # 1. Kill the worker serving phone A's batch while it is in flight.
    killed: list[int] = []
    answered_anyway = 0
    for attempt, day in enumerate((10, 12, 14)):
        batch = phone_a.batch_of_calls(patients_a, _night(day), 300)
        connected: list[int] = []
        outcome: list[bool] = []
        sender = threading.Thread(target=lambda b=batch, o=outcome, c=connected: o.append(
            phone_a.push(b, on_connected=c.append)))
        sender.start()
        victim = None
        deadline = time.monotonic() + 10
        while victim is None and sender.is_alive() and time.monotonic() < deadline:
            if connected:
                victim = _worker_serving(demo_app, connected[0])
            time.sleep(0.02)
        if victim is not None:
            time.sleep(0.05)  # inside the request: a 300-call push takes ~0.15 s in all
            try:
                victim.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:  # it went away on its own: try again
                victim = None
        sender.join(timeout=60)
        phone_a.push_until_answered(batch)  # the field kit sends the same batch again
        if victim is not None and outcome == [False]:
            killed.append(victim.pid)
            break
        answered_anyway += 1
        assert attempt < 2, "never caught a push in flight on its worker"
    assert killed, "no worker was killed mid-push"
    survivors = _wait_for_workers(demo_app, 2, without=set(killed))

    # 3. Kill the other original worker too (after granian's crash-loop window).
    time.sleep(6)
    others = [w for w in original if w.pid not in killed]
    for worker in others:
        worker.send_signal(signal.SIGKILL)
        killed.append(worker.pid)
    survivors = _wait_for_workers(demo_app, 2, without=set(killed))
    assert not {w.pid for w in survivors} & {w.pid for w in original}

    time.sleep(2)
    background.stop.set()
    background.thread.join(timeout=60)
    assert background.batches >= 3, "phone B hardly pushed during the faults"

    # Nothing lost, nothing doubled: every entry each phone sent is stored exactly once,
    # and each of its mutations was processed once (the idempotency log).
    for phone in (phone_a, phone_b):
        assert set(phone.results.values()) <= {"applied", "duplicate"}, phone.reasons
        assert len(phone.results) == len(phone.sent)
        client = uuid.UUID(phone.client_id)
        stored = demo_app.rows("select id from time_entry where client_id = :client",
                               client=client)
        assert sorted(str(uuid.UUID(str(row[0]))) for row in stored) == sorted(phone.sent)
        ((processed, distinct),) = demo_app.rows(
            "select count(*), count(distinct mutation_id) from applied_mutation "
            "where client_id = :client", client=client)
        assert processed == distinct == len(phone.sent), (phone.email, processed, distinct)

    # Consistent progress: the same figure from every worker (six reads each, new
    # connections, so both workers answer), and equal to a full rebuild of the rollups.
    seen = {patient: {_progress(phone, patient) for _ in range(6)} for phone, patient in readers}
    assert all(len(figures) == 1 for figures in seen.values()), seen
    subprocess.run([sys.executable, "-m", "ccm_pwa.cli", "rollups", "rebuild"], cwd=ROOT,
                   env=demo_app.env, check=True, capture_output=True)
    for phone, patient in readers:
        assert {_progress(phone, patient)} == seen[patient]
    # Not a vacuous check: the night calls moved these patients' figures (each patient's
    # own rules — consent date, hospital stays — decide which of their minutes count).
    assert sum(_minutes(phone, patient) for phone, patient in readers) > minutes_before

    # Both browser sessions carry on, still signed in, on the replacement workers: their
    # screen state is in Redis, not in the worker that died.
    assert redis.Redis.from_url(demo_app.env["CCM_REDIS_URL"]).dbsize() > 0
    _open(laptop, "Program", "Program month")
    expect(laptop.get_by_role("list", name="Funnel").get_by_role("listitem")).to_have_count(
        5, timeout=WAIT)
    _open(laptop, "Team", "Team today")
    expect(laptop.get_by_role("list", name="Team").get_by_role("listitem").first
           ).to_contain_text("enrolled", timeout=WAIT)
    _add_note(pixel, demo_app, "After the fault: pharmacy confirmed the refill")
    sys.stderr.write(f"killed workers {killed}; {answered_anyway} batch(es) answered before "
                     f"the kill; phone B sent {background.batches} batches; connection errors "
                     f"seen: A={phone_a.errors} B={phone_b.errors}; phone A's big batch on "
                     f"its retry: {sorted(Counter(phone_a.results.values()).items())}\n")


def _night_month_progress(phone: SyncPhone, patient_id: str) -> dict[str, Any]:
    year, month = _last_month()
    return phone.get(f"/api/v1/patients/{patient_id}?month={year}-{month:02d}")["progress"]


def _minutes(phone: SyncPhone, patient_id: str) -> int:
    return _night_month_progress(phone, patient_id)["minutes"]


def _progress(phone: SyncPhone, patient_id: str) -> str:
    return json.dumps(_night_month_progress(phone, patient_id), sort_keys=True)
