"""What the outside security probe tried, replayed in a real browser against the served app.

- A page on another loopback port is same-site with the app, so the browser sends the care
  manager's SameSite=Strict cookie along: it must still read nothing and write nothing.
- An event naming a handler that does not exist makes Reflex log the event with its
  headers: the session cookie must not be in the server log.
"""

from __future__ import annotations

import http.server
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page, Playwright

from tests.e2e.conftest import DemoApp, _free_port, sign_in

pytestmark = pytest.mark.e2e

ATTACKER_PAGE = b"<!doctype html><title>Free recipes</title><h1>Free recipes</h1>"


@contextmanager
def another_origin() -> Iterator[str]:
    """A plain page on a second loopback port, served from a thread of this test."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(ATTACKER_PAGE)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", _free_port()), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _staff_member(page: Page, pixel: int, iphone: int) -> int:
    """A care manager with a caseload (demo indexes 2 and up), a different one per phone."""
    assert page.viewport_size is not None
    return iphone if page.viewport_size["width"] < 400 else pixel


def _caseload_patient(demo_app: DemoApp, email: str) -> uuid.UUID:
    rows = demo_app.rows(
        "select id from patient where care_manager_id = "
        "(select id from app_user where email = :email) order by mrn limit 1", email=email)
    value = rows[0][0]
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _notes_with(demo_app: DemoApp, body: str) -> int:
    return len(demo_app.rows("select id from note where body = :body", body=body))


def test_a_page_on_another_port_can_neither_read_nor_write(phone: Page,
                                                           demo_app: DemoApp) -> None:
    email = sign_in(phone, demo_app, "care_manager", index=_staff_member(phone, 5, 6))
    patient = _caseload_patient(demo_app, email)
    marker = f"planted by another origin {uuid.uuid4()}"
    batch = {"client_id": str(uuid.uuid4()), "schema_version": 1, "mutations": [
        {"id": 1, "name": "note.add", "occurred_at": "2026-12-01T15:00:00Z",
         "args": {"note_id": str(uuid.uuid4()), "patient_id": str(patient), "body": marker}}]}
    with another_origin() as attacker:
        phone.goto(attacker)
        outcome = phone.evaluate("""async ([app, batch]) => {
          const out = {};
          try {  // a credentialed read: refused by the server, unreadable by CORS
            const r = await fetch(app + 'api/v1/worklist', {credentials: 'include'});
            out.read = {status: r.status, body: await r.text()};
          } catch (e) { out.read = {blocked: String(e)}; }
          // a "simple" cross-origin post, sent without a preflight
          await fetch(app + 'api/v1/sync/push', {method: 'POST', mode: 'no-cors',
            credentials: 'include', headers: {'Content-Type': 'text/plain'},
            body: JSON.stringify(batch)}).catch(() => {});
          try {  // a JSON post needs a preflight, which names only the app's origin
            const r = await fetch(app + 'api/v1/sync/push', {method: 'POST',
              credentials: 'include', headers: {'Content-Type': 'application/json'},
              body: JSON.stringify(batch)});
            out.json = {status: r.status};
          } catch (e) { out.json = {blocked: String(e)}; }
          return out;
        }""", [demo_app.url, batch])
    assert "blocked" in outcome["read"], outcome["read"]
    assert "blocked" in outcome["json"], outcome["json"]
    time.sleep(1)  # the no-cors post's answer is opaque: give the server time to act
    assert _notes_with(demo_app, marker) == 0


def test_the_apps_own_page_still_writes(phone: Page, demo_app: DemoApp) -> None:
    """The same request from the app's own origin goes through: the guard is not a wall."""
    email = sign_in(phone, demo_app, "care_manager",
                    index=_staff_member(phone, 6, 5))
    marker = f"written by the app itself {uuid.uuid4()}"
    batch = {"client_id": str(uuid.uuid4()), "schema_version": 1, "mutations": [
        {"id": 1, "name": "note.add", "occurred_at": "2026-12-01T15:00:00Z",
         "args": {"note_id": str(uuid.uuid4()),
                  "patient_id": str(_caseload_patient(demo_app, email)), "body": marker}}]}
    status = phone.evaluate("""async (batch) => (await fetch('/api/v1/sync/push', {
        method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify(batch)})).status""", batch)
    assert status == 200
    assert _notes_with(demo_app, marker) == 1


# Engine.IO v4 / Socket.IO v5 by hand on the app's own event channel (namespace /_event).
SEND_UNREGISTERED_EVENT = """async (name) => new Promise((resolve, reject) => {
  const token = sessionStorage.getItem('token') || crypto.randomUUID();
  const ws = new WebSocket(location.origin.replace('http', 'ws') +
                           '/_event/?EIO=4&transport=websocket&token=' + token);
  const event = {name, payload: {}, router_data: {pathname: '/', query: {}, asPath: '/'}};
  ws.onmessage = (m) => {
    if (m.data.startsWith('0{')) ws.send('40/_event,');
    else if (m.data.startsWith('40/_event')) {
      ws.send('42/_event,' + JSON.stringify(['event', event]));
      setTimeout(() => { ws.close(); resolve(true); }, 1000);
    } else if (m.data === '2') ws.send('3');
  };
  ws.onerror = () => reject(new Error('websocket refused'));
})"""


def test_an_unregistered_handler_leaves_no_cookie_in_the_log(
        browser: Browser, playwright_instance: Playwright, demo_app: DemoApp) -> None:
    device = dict(playwright_instance.devices["Pixel 7"])
    device.pop("default_browser_type", None)
    context = browser.new_context(**device)
    try:
        page = context.new_page()
        sign_in(page, demo_app, "care_manager", index=4)
        cookie = next(c["value"] for c in context.cookies() if "ccm_session" in c["name"])
        handler = f"reflex___state____state.no_such_handler_{uuid.uuid4().hex[:8]}"
        page.evaluate(SEND_UNREGISTERED_EVENT, handler)
        log = demo_app.data_dir / "server.log"
        deadline = time.monotonic() + 20
        # The console wraps long lines: compare with all whitespace removed.
        flat = ""
        while handler not in flat and time.monotonic() < deadline:
            time.sleep(0.5)
            flat = "".join(log.read_text(errors="replace").split())
        assert handler in flat, "the server never logged the event (the probe did not run)"
        assert cookie not in flat
        assert "[redacted]" in flat
    finally:
        context.close()


def test_the_event_channel_refuses_another_origin(phone: Page, demo_app: DemoApp) -> None:
    with another_origin() as attacker:
        phone.goto(attacker)
        opened = phone.evaluate("""async (app) => new Promise((resolve) => {
          const ws = new WebSocket(app.replace('http', 'ws') +
                                   '_event/?EIO=4&transport=websocket&token=x');
          ws.onmessage = () => { ws.close(); resolve(true); };
          ws.onerror = () => resolve(false);
          ws.onclose = () => resolve(false);
        })""", demo_app.url)
    assert opened is False
