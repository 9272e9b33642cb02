"""A lost phone gives away nothing (issue 15): the store is ciphertext while locked, the lock
works offline, 10 wrong PINs erase, the screen is blank in the background."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect

from tests.e2e.conftest import APP_PIN, DemoApp, fresh_code, pass_the_lock, sign_in
from tests.e2e.test_offline import _worklist_ready

pytestmark = pytest.mark.e2e
WAIT = 20_000

# Every record of every object store, bytes and keys described rather than shown; plus
# localStorage and the URLs in Cache Storage: everything a dump of the profile's web data has.
DUMP_EVERYTHING = """async () => {
  const described = (key, value) =>
    value instanceof ArrayBuffer || ArrayBuffer.isView(value) ? `<${value.byteLength} bytes>`
    : value instanceof CryptoKey ? `<CryptoKey ${value.extractable}>` : value;
  const out = { indexedDB: {}, localStorage: {}, caches: [] };
  for (const { name } of await indexedDB.databases()) {
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open(name); request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error); });
    for (const store of db.objectStoreNames) {
      out.indexedDB[name + "/" + store] = await new Promise((resolve) => {
        const tx = db.transaction(store); const keys = tx.objectStore(store).getAllKeys();
        const values = tx.objectStore(store).getAll();
        tx.oncomplete = () => resolve(keys.result.map((key, i) => [key, values.result[i]])); });
    }
    db.close();
  }
  for (let i = 0; i < localStorage.length; i++) {
    out.localStorage[localStorage.key(i)] = localStorage.getItem(localStorage.key(i));
  }
  for (const name of await caches.keys()) {
    for (const request of await (await caches.open(name)).keys()) out.caches.push(request.url);
  }
  return JSON.stringify(out, described);
}"""


def _caseload(demo_app: DemoApp, email: str) -> list[tuple[str, str, str]]:
    return [tuple(map(str, row)) for row in demo_app.rows(
        "select given_name, family_name, mrn from patient where care_manager_id = "
        "(select id from app_user where email = :email)", email=email)]


def _assert_nothing_readable(page: Page, caseload: list[tuple[str, str, str]]) -> dict:
    dump = page.evaluate(DUMP_EVERYTHING)
    found = [part for person in caseload for part in person if part in dump]
    assert not found, f"PHI readable in the phone's storage: {found[:5]}"
    assert "/api/" not in json.dumps(json.loads(dump)["caches"])
    return json.loads(dump)


def _save_a_call(page: Page, worklist: Locator, note: str) -> str:
    card = worklist.get_by_role("listitem").first
    name = card.get_by_role("heading").inner_text()
    card.get_by_role("button", name=f"Start call timer for {name}").click()
    bar = page.get_by_role("region", name="Running call timer")
    expect(bar).to_contain_text(name)
    page.wait_for_timeout(1200)  # a call of at least a second
    bar.get_by_role("button", name="Stop call timer").click()
    form = page.get_by_role("dialog", name="Save call time")
    form.get_by_label("Note").fill(note)
    form.get_by_role("button", name="Save time").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible(timeout=WAIT)
    return name


def _calls_with(demo_app: DemoApp, note: str) -> int:
    return len(demo_app.rows("select id from time_entry where note = :note", note=note))


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_locked_offline_the_store_is_ciphertext_and_the_pin_unlocks(
        demo_app: DemoApp, phone: Page) -> None:
    # Lena (index 6): no earlier test moved her phone's clock forward, so no call of hers
    # ends in the real future and overlaps the call this test makes now (one person is on
    # one call at a time: the server refuses an overlap).
    email = sign_in(phone, demo_app, "care_manager", index=6)
    caseload = _caseload(demo_app, email)
    assert len(caseload) > 10
    worklist = _worklist_ready(phone)
    first_name = worklist.get_by_role("listitem").first.get_by_role("heading").inner_text()

    phone.context.set_offline(True)
    phone.get_by_role("button", name="Lock app").click()
    lock = phone.get_by_role("dialog", name="ccm is locked")
    expect(lock).to_be_visible(timeout=WAIT)
    phone.reload()  # a cold start with no network: locked, the store sealed
    expect(lock).to_be_visible(timeout=WAIT)
    expect(phone.get_by_text(first_name)).to_have_count(0)
    stored = _assert_nothing_readable(phone, caseload)
    snapshot = stored["indexedDB"]["ccm-field/snapshot"]
    assert len(snapshot) > len(caseload) / 2  # the caseload is there, as ciphertext
    vault = dict(stored["indexedDB"]["ccm-field/kv"])["vault"]
    assert vault["iterations"] >= 600_000 and vault["deviceKey"] == "<CryptoKey false>"

    pass_the_lock(phone)  # no network needed
    expect(worklist.get_by_role("listitem").first).to_be_visible(timeout=WAIT)
    note = f"Offline while locked test {uuid.uuid4()}"
    _save_a_call(phone, worklist, note)
    phone.get_by_role("button", name="Lock app").click()
    expect(lock).to_be_visible(timeout=WAIT)
    stored = _assert_nothing_readable(phone, caseload)
    assert note not in json.dumps(stored)  # the queued change is sealed too
    assert len(stored["indexedDB"]["ccm-field/outbox"]) == 1

    pass_the_lock(phone)
    phone.context.set_offline(False)  # the network returns: sent once, acknowledged
    expect(phone.get_by_text(re.compile("waiting to sync"))).to_have_count(0, timeout=WAIT)
    deadline = time.monotonic() + 45
    while _calls_with(demo_app, note) == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    if _calls_with(demo_app, note) == 0:  # a loaded machine: what the phone says, for the log
        waiting = phone.evaluate("async () => JSON.stringify(await window.ccmField.sync())")
        refused = demo_app.rows("select rejection_reason from applied_mutation where "
                                "rejection_reason <> '' order by received_at desc limit 3")
        pytest.fail(f"the call never reached the server; the phone's sync said {waiting}; "
                    f"latest refusals: {refused}")
    phone.evaluate("() => window.ccmField.sync()")  # one more push: nothing is sent twice
    phone.wait_for_timeout(1500)
    assert _calls_with(demo_app, note) == 1


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_the_lock_screen_shows_the_running_call_but_not_whose(demo_app: DemoApp,
                                                              phone: Page) -> None:
    sign_in(phone, demo_app, "care_manager", index=5)
    worklist = _worklist_ready(phone)
    card = worklist.get_by_role("listitem").first
    name = card.get_by_role("heading").inner_text()
    card.get_by_role("button", name=f"Start call timer for {name}").click()
    expect(phone.get_by_role("region", name="Running call timer")).to_contain_text(name)
    phone.get_by_role("button", name="Lock app").click()
    lock = phone.get_by_role("dialog", name="ccm is locked")
    expect(lock.get_by_role("timer", name="Call timer")).to_have_text(
        re.compile(r"^\d\d:\d\d$"), timeout=WAIT)
    assert name not in lock.inner_text()
    expect(phone.get_by_role("region", name="Running call timer")).to_have_count(0)
    pass_the_lock(phone)
    bar = phone.get_by_role("region", name="Running call timer")
    expect(bar).to_contain_text(name, timeout=WAIT)  # still running, still the same call
    bar.get_by_role("button", name="Stop call timer").click()
    form = phone.get_by_role("dialog", name="Save call time")
    form.get_by_label("Note").fill("Lock-screen timer check")
    form.get_by_role("button", name="Save time").click()
    expect(bar).to_have_count(0, timeout=WAIT)


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_ten_wrong_pins_erase_after_saying_what_is_lost(demo_app: DemoApp, phone: Page) -> None:
    sign_in(phone, demo_app, "care_manager", index=4)
    worklist = _worklist_ready(phone)
    phone.context.set_offline(True)
    _save_a_call(phone, worklist, f"Will be lost {uuid.uuid4()}")
    phone.get_by_role("button", name="Lock app").click()
    lock = phone.get_by_role("dialog", name="ccm is locked")
    wrong = "135802" if APP_PIN != "135802" else "246813"
    for attempt in range(1, 10):
        lock.get_by_label("App PIN").fill(wrong)
        lock.get_by_role("button", name="Unlock").click()
        left = 10 - attempt
        expect(lock.get_by_role("alert")).to_contain_text(
            f"{left} {'try' if left == 1 else 'tries'} left", timeout=WAIT)
    expect(lock.get_by_role("alert")).to_contain_text(
        "including 1 change not yet sent to the server, which will be lost")
    lock.get_by_label("App PIN").fill(wrong)
    lock.get_by_role("button", name="Unlock").click()
    expect(phone).to_have_url(re.compile(r"/login"), timeout=WAIT)
    databases = phone.evaluate("async () => (await indexedDB.databases()).map((d) => d.name)")
    assert "ccm-field" not in databases


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_in_the_background_the_screen_is_blank(demo_app: DemoApp, phone: Page) -> None:
    sign_in(phone, demo_app, "care_manager", index=6)
    worklist = _worklist_ready(phone)
    first = worklist.get_by_role("listitem").first
    switch = """(state) => {
      Object.defineProperty(document, "visibilityState", {value: state, configurable: true});
      document.dispatchEvent(new Event("visibilitychange"));
    }"""
    phone.evaluate(switch, "hidden")  # what the app switcher's snapshot would show
    expect(first).to_be_hidden()
    phone.evaluate(switch, "visible")  # back within the lock minutes: no PIN needed
    expect(first).to_be_visible()
    expect(phone.get_by_role("dialog", name="ccm is locked")).to_have_count(0)


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_an_admin_erases_a_lost_phone_at_its_next_contact(
        demo_app: DemoApp, phone: Page, browser: Browser) -> None:
    email = sign_in(phone, demo_app, "care_manager", index=1)
    _worklist_ready(phone)  # the phone has synced: it is an installation the server knows
    ((name, client_id),) = demo_app.rows(
        "select u.name, c.id from sync_client c join app_user u on u.id = c.user_id "
        "where u.email = :email order by c.last_seen_at desc limit 1", email=email)
    phone.context.set_offline(True)
    _save_a_call(phone, _worklist_ready(phone), f"Never sent {uuid.uuid4()}")

    # The care manager calls the office from another phone; the admin erases hers.
    office = browser.new_context(viewport={"width": 1280, "height": 900})
    desk = office.new_page()
    try:
        sign_in(desk, demo_app, "admin")
        desk.get_by_role("link", name="Users").click()
        phones = desk.get_by_role("table", name="Phones")
        row = phones.get_by_role("row").filter(has_text=name).first
        expect(row).to_contain_text("last contact", timeout=WAIT)
        row.get_by_role("button", name="Erase this phone").click()
        expect(desk.get_by_text(f"{name}'s phone is signed out of sync now")).to_be_visible(
            timeout=WAIT)
        expect(row).to_contain_text("Erase requested")
    finally:
        office.close()

    # The lost phone, closed, comes back into coverage and is opened: erased before anything
    # shows. (Left open, it would erase on the browser's "online" event, or within a minute.)
    context = phone.context
    phone.close()
    context.set_offline(False)
    phone = context.new_page()
    phone.goto(demo_app.url)
    expect(phone).to_have_url(re.compile(r"/login/?\?erased=1"), timeout=WAIT)
    expect(phone.get_by_role("alert")).to_contain_text("ccm data was erased")
    databases = phone.evaluate("async () => (await indexedDB.databases()).map((d) => d.name)")
    assert "ccm-field" not in databases
    ((wiped_at, revoked_at),) = demo_app.rows(
        "select wiped_at, revoked_at from sync_client where id = :id", id=client_id)
    assert wiped_at is not None and revoked_at is not None
    actions = {row[0] for row in demo_app.rows(
        "select action from audit_event where cast(detail as text) like :id",
        id=f"%{uuid.UUID(str(client_id))}%")}
    assert {"installation.wipe_requested", "installation.wiped"} <= actions
    phone.goto(demo_app.url)  # and it is signed out: the erase confirmation ended its session
    expect(phone).to_have_url(re.compile(r"/login"), timeout=WAIT)


def test_fingerprint_or_face_unlocks_where_the_phone_has_it(
        demo_app: DemoApp, browser: Browser, playwright_instance: Playwright) -> None:
    """A phone with a platform authenticator (Chromium's virtual one, with PRF: an Android
    fingerprint) offers it after the PIN, and then opens the store with it. WebAuthn needs a
    domain name, so this phone opens the demo as localhost."""
    device = dict(playwright_instance.devices["Pixel 7"])
    device.pop("default_browser_type", None)
    context = browser.new_context(**device)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "internal",
            "hasResidentKey": True, "hasUserVerification": True, "isUserVerified": True,
            "automaticPresenceSimulation": True, "hasPrf": True}})
        login = demo_app.login("care_manager", index=2)
        page.goto(demo_app.url.replace("127.0.0.1", "localhost") + "login")
        page.get_by_label("Email").fill(login.email)
        page.get_by_label("Password").fill(login.password)
        page.get_by_label("Code from your authenticator app").fill(fresh_code(login.secret))
        page.get_by_role("button", name="Sign in").click()
        setup = page.get_by_role("dialog", name="Set an app PIN")
        setup.get_by_label("New app PIN").fill(APP_PIN)
        setup.get_by_label("Repeat the PIN").fill(APP_PIN)
        setup.get_by_role("button", name="Set PIN").click()
        offer = page.get_by_role("dialog", name="Unlock with fingerprint or face?")
        offer.get_by_role("button", name="Use fingerprint or face").click()
        expect(offer).to_be_hidden(timeout=WAIT)
        worklist = _worklist_ready(page)
        first_name = worklist.get_by_role("listitem").first.get_by_role("heading").inner_text()

        page.get_by_role("button", name="Lock app").click()
        lock = page.get_by_role("dialog", name="ccm is locked")
        expect(lock).to_be_visible(timeout=WAIT)
        vault = dict(json.loads(page.evaluate(DUMP_EVERYTHING))["indexedDB"]["ccm-field/kv"])[
            "vault"]
        assert vault["biometric"]["sealedWrap"].startswith("<")  # bytes, sealed
        expect(page.get_by_text(first_name)).to_have_count(0)
        lock.get_by_role("button", name="Unlock with fingerprint or face").click()
        expect(lock).to_be_hidden(timeout=WAIT)
        expect(worklist.get_by_role("listitem").first).to_contain_text(first_name)
    finally:
        context.close()
