"""The phone with no signal (issue 6): Today, the call timer and care-plan edits work from
the service worker's cache and the phone's IndexedDB, and everything reaches the server
exactly once when the connection is back — after `set_offline`, after the backend process
died, and across a deploy of a new build while changes were queued.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect

from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DemoApp,
    pass_the_lock,
    shot,
    sign_in,
    step_away,
)

pytestmark = pytest.mark.e2e
WAIT = 20_000


def _worklist_ready(page: Page) -> Locator:
    """The worklist from the phone's store, with the service worker in control."""
    worklist = page.get_by_role("list", name="Worklist")
    expect(worklist.get_by_role("listitem").first).to_be_visible(timeout=WAIT)
    wait_for_service_worker(page)
    return worklist


def wait_for_service_worker(page: Page) -> None:
    """The worker installs the whole build (~1.9 MB) before it takes over: slow on a busy
    machine. On a timeout, say what state the registration is in."""
    try:
        page.wait_for_function("() => navigator.serviceWorker.controller !== null",
                               timeout=90_000)
    except Exception:
        state = page.evaluate("""async () => {
            const r = await navigator.serviceWorker.getRegistration();
            return r ? {installing: r.installing && r.installing.state,
                        waiting: r.waiting && r.waiting.state,
                        active: r.active && r.active.state} : null;
        }""")
        raise AssertionError(f"service worker never took control: {state}") from None


def _entries(demo_app: DemoApp, patient_id: str, email: str) -> list[tuple]:
    return demo_app.rows(
        "select id, duration_seconds, source from time_entry where patient_id = :patient and "
        "performer_id = (select id from app_user where email = :email) order by received_at",
        patient=uuid.UUID(patient_id), email=email)


def _plan_value(demo_app: DemoApp, patient_id: str, element: str) -> tuple[int, object]:
    rows = demo_app.rows(
        "select r.version, cast(r.value as text) from care_plan_revision r join care_plan p on "
        "p.id = r.care_plan_id where p.patient_id = :patient and r.element = :element "
        "order by r.version desc limit 1", patient=uuid.UUID(patient_id), element=element)
    return (rows[0][0], json.loads(rows[0][1])) if rows else (0, None)


def _first_patient(worklist: Locator) -> tuple[str, str, Locator]:
    card = worklist.get_by_role("listitem").first
    name = card.get_by_role("heading").inner_text()
    href = card.get_by_role("link", name=name).get_attribute("href") or ""
    return name, href.rsplit("/", 1)[-1], card


def _timed_call_and_plan_edit(page: Page, worklist: Locator, text: str) -> tuple[str, str]:
    """Offline: start a timer, reload, stop after 10 min, save; revise symptom management."""
    name, patient_id, card = _first_patient(worklist)
    card.get_by_role("button", name=f"Start call timer for {name}").click()
    expect(page.get_by_role("region", name="Running call timer")).to_contain_text(name)
    page.reload()
    pass_the_lock(page)
    bar = page.get_by_role("region", name="Running call timer")
    expect(bar).to_contain_text(name, timeout=WAIT)
    step_away(page, "10:00")
    expect(bar.get_by_role("timer")).to_have_text(re.compile(r"00:1[0-1]:\d\d"))
    bar.get_by_role("button", name="Stop call timer").click()
    page.get_by_role("dialog", name="Save call time").get_by_label("Note").fill(
        "Checked glucose log; no lows")
    page.get_by_role("button", name="Save time").click()
    expect(bar).to_have_count(0)
    expect(page.get_by_label("Changes waiting")).to_have_text(re.compile(r"^1 change"))
    expect(worklist.get_by_text(re.compile(r"incl\. 10 min waiting to sync"))).to_be_visible()

    page.get_by_role("link", name=name).first.click()
    expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=WAIT)
    expect(page.get_by_label("Waiting to sync")).to_contain_text("incl. 10 min")
    page.get_by_role("link", name="Care plan").click()
    expect(page.get_by_role("heading", name="Care plan")).to_be_visible(timeout=WAIT)
    page.get_by_role("textbox", name="Symptom management").fill(text)
    page.get_by_role("button", name="Save Symptom management").click()
    expect(page.get_by_text("Saved on this phone · waiting to sync")).to_be_visible()
    expect(page.get_by_label("Changes waiting")).to_have_text(re.compile(r"^2 change"))
    return name, patient_id


def _assert_synced_once(page: Page, demo_app: DemoApp, email: str, patient_id: str,
                        before: list[tuple[str, int, str]], version_before: int,
                        text: str) -> None:
    deadline = time.monotonic() + WAIT / 1000
    while True:  # the server's word, not the screen's: poll the database
        after = _entries(demo_app, patient_id, email)
        new = [entry for entry in after if entry not in before]
        version, value = _plan_value(demo_app, patient_id, "symptom_management")
        if (new and version > version_before) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    expect(page.get_by_label("Changes waiting")).to_have_count(0, timeout=WAIT)
    assert len(new) == 1, new
    assert 600 <= new[0][1] <= 660 and new[0][2] == "timer", new
    assert version == version_before + 1 and value == text


@pytest.mark.parametrize("phone", ["Pixel 7", "iPhone 14"], indirect=True)
def test_offline_day_reaches_the_server_exactly_once(demo_app: DemoApp, phone: Page) -> None:
    phone.clock.install()
    is_iphone = bool(phone.viewport_size and phone.viewport_size["width"] < 400)
    email = sign_in(phone, demo_app, "care_manager", index=5 if is_iphone else 4)
    worklist = _worklist_ready(phone)
    _, patient_id, _ = _first_patient(worklist)
    before = _entries(demo_app, patient_id, email)
    version_before, _ = _plan_value(demo_app, patient_id, "symptom_management")
    minutes_before = int(worklist.get_by_role("progressbar").first.get_attribute(
        "aria-valuenow") or 0)

    phone.context.set_offline(True)
    phone.reload()
    pass_the_lock(phone)
    expect(worklist.get_by_role("listitem").first).to_be_visible(timeout=WAIT)
    expect(phone.get_by_role("status").filter(has_text=re.compile(r"^Offline —"))).to_be_visible()
    shot(phone, "offline-today")
    text = f"Walk 20 min daily; call if glucose < 70 ({phone.viewport_size})"
    name, _ = _timed_call_and_plan_edit(phone, worklist, text)
    phone.reload()  # a deep link, cold, with no network: the SPA shell and the phone's store
    pass_the_lock(phone)
    expect(phone.get_by_text("Saved on this phone · waiting to sync")).to_be_visible(timeout=WAIT)
    shot(phone, "offline-care-plan")
    step_away(phone, "25:00:00")  # a day later, still no signal
    expect(phone.get_by_role("alert").filter(has_text="have not reached the server yet")
           ).to_be_visible(timeout=WAIT)
    expect(phone.get_by_role("status").filter(
        has_text=re.compile(r"^Offline — 2 changes waiting"))).to_be_visible()
    assert _entries(demo_app, patient_id, email) == before  # nothing left the phone

    phone.context.set_offline(False)
    _assert_synced_once(phone, demo_app, email, patient_id, before, version_before, text)
    phone.get_by_role("link", name="Today").click()
    bar = worklist.get_by_role("progressbar", name=f"{name} minutes this month")
    expect(bar).to_have_attribute("aria-valuenow", str(minutes_before + 10), timeout=WAIT)
    expect(worklist.get_by_text(re.compile("waiting to sync"))).to_have_count(0)


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_backend_down_then_a_new_build_loses_nothing(demo_app: DemoApp, phone: Page) -> None:
    """The backend process dies (not the network), work goes on, a new build is deployed
    while the changes wait; the phone sends them and offers the update instead of
    reloading by surprise."""
    phone.clock.install()
    email = sign_in(phone, demo_app, "care_manager", index=6)
    worklist = _worklist_ready(phone)
    _, patient_id, _ = _first_patient(worklist)
    before = _entries(demo_app, patient_id, email)
    version_before, _ = _plan_value(demo_app, patient_id, "symptom_management")

    demo_app.stop()
    try:
        phone.reload()
        pass_the_lock(phone)
        expect(worklist.get_by_role("listitem").first).to_be_visible(timeout=WAIT)
        text = "Daily weights; call if up 2 lb overnight"
        _timed_call_and_plan_edit(phone, worklist, text)
        phone.get_by_role("link", name="Today").click()
        expect(worklist.get_by_role("listitem").first).to_be_visible(timeout=WAIT)
    finally:
        demo_app.start(CCM_BUILD_ID="deploy-2")  # a rebuild: the next version of the app

    phone.reload()  # the old build still runs from the phone's cache and sends the queue
    pass_the_lock(phone)
    _assert_synced_once(phone, demo_app, email, patient_id, before, version_before, text)
    update = phone.get_by_role("button", name="Update now")
    expect(update).to_be_visible(timeout=WAIT)
    shot(phone, "update-available")
    with phone.expect_navigation(timeout=WAIT):  # the care manager's choice, not a surprise
        update.click()
    pass_the_lock(phone)  # a new page: the app starts locked
    expect(phone.get_by_role("heading", name="Today", exact=True)).to_be_visible(timeout=WAIT)
    expect(worklist.get_by_role("listitem").first).to_be_visible(timeout=WAIT)
    version = phone.evaluate("""() => new Promise((resolve) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = (event) => resolve(event.data.version);
        navigator.serviceWorker.controller.postMessage({type: "VERSION"}, [channel.port2]);
    })""")
    served = _precache_manifest()["version"]
    assert version == served
    assert len(_entries(demo_app, patient_id, email)) == len(before) + 1


def test_installable_with_no_manifest_errors(demo_app: DemoApp, playwright_instance: Playwright,
                                             tmp_path: Path) -> None:
    """Chromium's own installability check (needs a persistent profile: offline notes P11)."""
    context = playwright_instance.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        page = context.new_page()
        page.goto(demo_app.url + "login")
        wait_for_service_worker(page)
        cdp = context.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        assert manifest.get("errors") == [], manifest.get("errors")
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    finally:
        context.close()


def test_service_worker_never_caches_the_api(demo_app: DemoApp, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(demo_app.url + "login")
    wait_for_service_worker(page)
    page.evaluate("fetch('/api/v1/health')")
    cached = page.evaluate("""async () => {
        const urls = [];
        for (const name of await caches.keys()) {
            for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
        }
        return urls;
    }""")
    assert cached and any(url.endswith("/login/") for url in cached)
    assert not [url for url in cached if "/api/" in url or "/_event" in url]
    context.close()


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_sign_out_with_unsent_changes_asks_and_audits_the_discard(demo_app: DemoApp,
                                                                   phone: Page) -> None:
    email = sign_in(phone, demo_app, "care_manager", index=3)
    worklist = _worklist_ready(phone)
    name, patient_id, _ = _first_patient(worklist)
    phone.route("**/api/v1/sync/push", lambda route: route.abort())  # the server never gets it
    phone.get_by_role("link", name=name).first.click()
    phone.get_by_label("New note").fill("Left a voicemail about the refill")
    phone.get_by_role("button", name="Add note").click()
    expect(phone.get_by_label("Changes waiting")).to_have_text(re.compile(r"^1 change"))

    questions: list[str] = []

    def answer(dialog) -> None:  # first "keep my work", then "discard"
        questions.append(dialog.message)
        dialog.dismiss() if len(questions) == 1 else dialog.accept()

    phone.on("dialog", answer)
    phone.get_by_role("button", name="Sign out").click()
    for _ in range(100):  # the kit first tries to send, then asks
        if questions:
            break
        phone.wait_for_timeout(100)
    expect(phone.get_by_label("Changes waiting")).to_have_text(re.compile(r"^1 change"))
    assert "1 change(s) on this phone have not reached the server" in questions[0]
    phone.get_by_role("button", name="Sign out").click()
    expect(phone).to_have_url(re.compile(r"/login/?\?signed_out=1$"), timeout=WAIT)
    assert len(questions) == 2
    databases = phone.evaluate("async () => (await indexedDB.databases()).map(d => d.name)")
    assert "ccm-field" not in databases
    # Sign-out emptied Cache Storage; the sign-in page may already have registered the
    # worker again and be precaching the app shell: only the build's own files, no answer.
    shell = {entry["url"] for entry in _precache_manifest()["entries"]}
    cached = phone.evaluate("""async () => {
        const paths = [];
        for (const name of await caches.keys()) {
            for (const request of await (await caches.open(name)).keys()) {
                paths.push(new URL(request.url).pathname);
            }
        }
        return paths;
    }""")
    assert set(cached) <= shell, sorted(set(cached) - shell)
    audit = demo_app.rows(
        "select cast(detail as text) from audit_event where action = 'sync.discard' and user_id = "
        "(select id from app_user where email = :email)", email=email)
    ((notes,),) = demo_app.rows("select count(*) from note where body like 'Left a voicemail%'")
    assert len(audit) == 1 and notes == 0
    assert uuid.UUID(patient_id).hex in audit[0][0] or patient_id in audit[0][0]


def _precache_manifest() -> dict:
    """The build's precache list (ccm_pwa/pwa.py writes it next to the worker)."""
    return json.loads((Path(__file__).resolve().parents[2] / ".web" / "build" / "client" /
                       "precache-manifest.json").read_text())
