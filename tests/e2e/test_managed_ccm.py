"""Managed and hybrid CCM in the browser (issue 17), on the demo organisation: Riverbend
(Chicago) and Northside (New York). Zoe Martin is the managed team's care manager in
both; Renee Walsh supervises the managed team in both; Grace Lin is Northside's own
supervisor. The month close of one practice beside the other's is in test_supervisor.py,
after Riverbend's close.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from ccm_pwa.services.demo_practice import DEMO_PRACTICE_NAME, PARTNER_PRACTICE_NAME
from tests.e2e.conftest import DemoApp, pass_the_lock, sign_in
from tests.e2e.test_offline import _worklist_ready

pytestmark = pytest.mark.e2e
WAIT = 30_000
ZOE = "zoe@riverbend.example"
RENEE = "supervisor@riverbend.example"
GRACE = "supervisor@northside.example"


def sign_in_as(page: Page, app: DemoApp, email: str) -> str:
    """`sign_in` by email: the demo's sign-ins are listed role by role."""
    login = next(x for x in app.logins if x.email == email)
    same_role = [x for x in app.logins if x.role == login.role]
    return sign_in(page, app, login.role, index=same_role.index(login))


@pytest.fixture
def laptop(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def _card_of(worklist: Locator, practice: str) -> tuple[str, str, Locator]:
    card = worklist.get_by_role("listitem").filter(
        has=worklist.page.get_by_label(f"Practice {practice}", exact=True)).first
    expect(card).to_be_visible(timeout=WAIT)
    name = card.get_by_role("heading").inner_text()
    href = card.get_by_role("link", name=name).get_attribute("href") or ""
    return name, href.rsplit("/", 1)[-1], card


def _timed_call(page: Page, card: Locator, name: str, minutes: int) -> None:
    card.get_by_role("button", name=f"Start call timer for {name}").click()
    bar = page.get_by_role("region", name="Running call timer")
    expect(bar).to_contain_text(name, timeout=WAIT)
    page.clock.fast_forward(f"{minutes:02d}:00")  # under the app lock's 5 idle minutes
    bar.get_by_role("button", name="Stop call timer").click()
    page.get_by_role("dialog", name="Save call time").get_by_label("Note").fill(
        "Reviewed home readings")
    page.get_by_role("button", name="Save time").click()
    expect(bar).to_have_count(0)


def _entries(app: DemoApp, patient_id: str) -> list[tuple]:
    return app.rows(
        "select e.id, e.duration_seconds, p.name from time_entry e join patient t on "
        "t.id = e.patient_id join practice p on p.id = t.practice_id where e.patient_id = "
        ":patient and e.performer_id = (select id from app_user where email = :email)",
        patient=uuid.UUID(patient_id), email=ZOE)


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_a_managed_care_manager_works_two_practices_offline_and_syncs_once(
        demo_app: DemoApp, phone: Page) -> None:
    phone.clock.install()
    sign_in_as(phone, demo_app, ZOE)
    worklist = _worklist_ready(phone)
    # one list, each card naming its practice, each practice's own month and days left
    for practice in (DEMO_PRACTICE_NAME, PARTNER_PRACTICE_NAME):
        expect(phone.get_by_text(re.compile(
            re.escape(practice) + r": \d{4}-\d\d, \d+ days left"))).to_be_visible(timeout=WAIT)
    north_name, north_id, north = _card_of(worklist, PARTNER_PRACTICE_NAME)
    river_name, river_id, river = _card_of(worklist, DEMO_PRACTICE_NAME)
    before = {pid: _entries(demo_app, pid) for pid in (north_id, river_id)}
    pushes: list[dict] = []  # the pushes that reached the server (offline tries fail)
    phone.on("requestfinished", lambda r: pushes.append(r.post_data_json or {})
             if r.method == "POST" and r.url.endswith("/api/v1/sync/push") else None)

    phone.context.set_offline(True)
    # short calls: the phone's clock runs ahead of the server's by their sum, and the server
    # refuses a call ending too far in its future
    _timed_call(phone, north, north_name, 4)
    _timed_call(phone, river, river_name, 3)
    expect(phone.get_by_label("Changes waiting")).to_have_text(re.compile(r"^2 change"))
    assert {pid: _entries(demo_app, pid) for pid in before} == before  # all on the phone

    phone.context.set_offline(False)
    phone.reload()
    pass_the_lock(phone)
    deadline = time.monotonic() + WAIT / 1000
    while time.monotonic() < deadline and any(
            len(_entries(demo_app, pid)) == len(rows) for pid, rows in before.items()):
        time.sleep(0.25)
    expect(phone.get_by_label("Changes waiting")).to_have_count(0, timeout=WAIT)
    refused = phone.get_by_role("alert", name="Not accepted by the server")
    assert refused.count() == 0, refused.all_inner_texts()
    new = {pid: [e for e in _entries(demo_app, pid) if e not in rows]
           for pid, rows in before.items()}
    assert [(e[1] // 60, e[2]) for e in new[north_id]] == [(4, PARTNER_PRACTICE_NAME)]
    assert [(e[1] // 60, e[2]) for e in new[river_id]] == [(3, DEMO_PRACTICE_NAME)]
    # both practices' entries went in one push
    with_entries = [p for p in pushes if any(m.get("name") == "time_entry.record"
                                             for m in p.get("mutations", []))]
    assert len(with_entries) == 1, with_entries
    sent = {m["args"]["patient_id"] for m in with_entries[0]["mutations"]
            if m.get("name") == "time_entry.record"}
    assert sent == {north_id, river_id}


def test_a_practices_supervisor_sees_her_practice_only(demo_app: DemoApp,
                                                       laptop: Page) -> None:
    sign_in_as(laptop, demo_app, GRACE)
    laptop.get_by_role("link", name="Team", exact=True).click()
    expect(laptop.get_by_role("heading", name="Team today")).to_be_visible(timeout=WAIT)
    team = laptop.get_by_role("list", name="Team")
    expect(team.get_by_role("listitem").first).to_be_visible(timeout=WAIT)
    names = team.get_by_role("heading").all_inner_texts()
    assert names and all("Luis Ortega" in n for n in names), names
    expect(laptop.get_by_role("navigation", name="Practice")).to_have_count(0)
    expect(laptop.get_by_role("link", name="All practices")).to_have_count(0)
    ((riverbend,),) = demo_app.rows("select id from practice where name = :name",
                                    name=DEMO_PRACTICE_NAME)
    laptop.goto(f"{demo_app.url}team?practice={uuid.UUID(str(riverbend))}")
    expect(laptop.get_by_text(re.compile(re.escape(PARTNER_PRACTICE_NAME) + " · "))
           ).to_be_visible(timeout=WAIT)
    expect(laptop.get_by_text("Kim Alvarez")).to_have_count(0)
    refused = laptop.request.get(
        f"{demo_app.url}api/v1/team/progress?practice={uuid.UUID(str(riverbend))}")
    assert refused.status == 403


def test_the_managed_teams_supervisor_sees_both_practices(demo_app: DemoApp,
                                                          laptop: Page) -> None:
    sign_in_as(laptop, demo_app, RENEE)
    laptop.get_by_role("link", name="Team", exact=True).click()
    expect(laptop.get_by_role("heading", name="Team today")).to_be_visible(timeout=WAIT)
    picker = laptop.get_by_role("navigation", name="Practice")
    expect(picker.get_by_role("link")).to_have_count(2, timeout=WAIT)
    expect(laptop.get_by_text(re.compile(re.escape(DEMO_PRACTICE_NAME) + " · "))).to_be_visible()
    team = laptop.get_by_role("list", name="Team")
    expect(team.get_by_text("Kim Alvarez")).to_be_visible(timeout=WAIT)

    picker.get_by_role("link", name=PARTNER_PRACTICE_NAME).click()
    expect(laptop.get_by_text(re.compile(re.escape(PARTNER_PRACTICE_NAME) + " · "))
           ).to_be_visible(timeout=WAIT)
    expect(team.get_by_role("heading")).to_have_text(["Zoe Martin, RN"], timeout=WAIT)
    team.get_by_role("link", name="Open worklist").click()
    worklist = laptop.get_by_role("list", name="Worklist")
    expect(worklist.get_by_role("listitem").first).to_be_visible(timeout=WAIT)
    northside_names = {f"{given} {family}" for given, family in demo_app.rows(
        "select given_name, family_name from patient where practice_id = (select id from "
        "practice where name = :name)", name=PARTNER_PRACTICE_NAME)}
    shown = [t.split("\n")[0] for t in worklist.get_by_role("listitem").all_inner_texts()]
    assert shown and all(any(n in t for n in northside_names) for t in shown), shown

    # the choice holds on the other screens
    laptop.get_by_role("link", name="Month close", exact=True).click()
    expect(laptop.get_by_label("Practice shown")).to_have_text(PARTNER_PRACTICE_NAME,
                                                                     timeout=WAIT)
    laptop.get_by_role("link", name="All practices", exact=True).click()
    expect(laptop.get_by_role("heading", name="All practices")).to_be_visible(timeout=WAIT)
    table = laptop.get_by_role("table", name="Practices this month")
    for practice in (DEMO_PRACTICE_NAME, PARTNER_PRACTICE_NAME, "Total"):
        expect(table.get_by_role("row").filter(has_text=practice)).to_have_count(1)
