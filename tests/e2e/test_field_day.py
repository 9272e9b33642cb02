"""A care manager's day on a phone: worklist → call timer (across a reload) → saved entry →
progress updated → care plan revised → a new patient enrolled with consent.

Screenshots of each screen go to tests/artifacts/ for a reviewer to look at.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DemoApp, pass_the_lock, shot, sign_in, step_away

pytestmark = pytest.mark.e2e


def _person(page: Page, pixel: int, iphone: int) -> int:
    """A different care manager per phone model: both runs share one demo database, and one
    person's calls must not overlap (the server refuses overlapping time of one person)."""
    assert page.viewport_size is not None
    return iphone if page.viewport_size["width"] < 400 else pixel


def _minutes(text: str) -> int:
    return int(re.search(r"(\d+)\s*min", text).group(1))


def test_timed_call_survives_a_reload_and_counts(demo_app: DemoApp, phone: Page) -> None:
    phone.clock.install()
    sign_in(phone, demo_app, "care_manager", index=_person(phone, pixel=2, iphone=3))
    worklist = phone.get_by_role("list", name="Worklist")
    expect(worklist.get_by_role("progressbar").first).to_be_visible(timeout=20_000)
    shot(phone, "today")
    first = worklist.get_by_role("listitem").first
    name = first.get_by_role("heading").inner_text()
    first.get_by_role("button", name=f"Start call timer for {name}").click()
    bar = phone.get_by_role("region", name="Running call timer")
    expect(bar).to_contain_text(name)

    step_away(phone, "10:00")  # locked after 5 idle minutes; unlocked with the PIN
    phone.reload()
    pass_the_lock(phone)
    expect(bar).to_be_visible(timeout=20_000)
    step_away(phone, "11:30")
    expect(phone.get_by_role("timer", name="Elapsed time")).to_have_text(
        re.compile(r"00:2[1-2]:\d\d"))
    shot(phone, "timer-running")

    phone.get_by_role("link", name=name).click()
    expect(phone.get_by_role("heading", name=name, level=1)).to_be_visible(timeout=20_000)
    before = _minutes(phone.get_by_label("Progress this month").inner_text())
    bar.get_by_role("button", name="Stop call timer").click()
    form = phone.get_by_role("dialog", name="Save call time")
    expect(form).to_be_visible()
    form.get_by_label("Activity").select_option("medication_reconciliation")
    form.get_by_label("Note").fill("Reviewed new furosemide dose; weights stable.")
    shot(phone, "stop-form")
    form.get_by_role("button", name="Save time").click()
    expect(phone.get_by_role("status").filter(has_text="Saved 21 min")).to_be_visible()
    expect(phone.get_by_text("Not saved")).to_have_count(0)
    expect(bar).to_have_count(0)
    expect(phone.get_by_label("Progress this month")).not_to_have_text(
        re.compile(rf"^{before} min"), timeout=20_000)
    after = _minutes(phone.get_by_label("Progress this month").inner_text())
    assert after >= before + 21
    expect(phone.get_by_role("list", name="Time entries")).to_contain_text(
        "Medication reconciliation")
    shot(phone, "patient")


def test_care_plan_edit_makes_a_new_version(demo_app: DemoApp, phone: Page) -> None:
    sign_in(phone, demo_app, "care_manager", index=_person(phone, pixel=4, iphone=1))
    worklist = phone.get_by_role("list", name="Worklist")
    expect(worklist.get_by_role("listitem").first).to_be_visible(timeout=20_000)
    worklist.get_by_role("listitem").first.get_by_role("heading").click()
    phone.get_by_role("link", name="Care plan").click()
    expect(phone.get_by_role("heading", name="Care plan")).to_be_visible(timeout=20_000)
    field = phone.get_by_role("textbox", name="Symptom management")
    expect(field).to_be_visible(timeout=20_000)
    new_text = "Daily weight before breakfast; call if up 3 lb in 2 days or 5 lb in a week."
    field.fill(new_text)
    phone.get_by_role("button", name="Save Symptom management").click()
    history = phone.get_by_role("list", name="Version history")
    expect(history).to_contain_text(new_text, timeout=20_000)
    expect(phone.get_by_text(re.compile(r"Version [2-9] ·")).first).to_be_visible()
    shot(phone, "care-plan")


def test_enroll_a_patient_with_consent(demo_app: DemoApp, phone: Page) -> None:
    sign_in(phone, demo_app, "care_manager", index=_person(phone, pixel=0, iphone=1))
    phone.get_by_text(re.compile(r"Not enrolled yet \(\d+\)")).click()
    waiting = phone.get_by_role("list", name="Not enrolled yet").get_by_role("listitem")
    eligible = waiting.filter(has_text="Eligible:").first
    expect(eligible).to_be_visible(timeout=20_000)
    name = eligible.get_by_role("link").inner_text()
    eligible.get_by_role("link").click()
    expect(phone.get_by_role("heading", name=name, level=1)).to_be_visible(timeout=20_000)
    expect(phone.get_by_role("heading", name="Enroll in care management")).to_be_visible()
    phone.get_by_label("Consent date").fill("2026-11-20")
    phone.get_by_label("Consent was").select_option("verbal")
    enroll = phone.get_by_role("button", name="Record consent and enroll")
    phone.get_by_label("What CCM is, and that it is available to them").check()
    phone.get_by_label("That cost sharing (coinsurance, deductible) applies").check()
    phone.get_by_label("That only one practitioner can furnish and bill CCM each month").check()
    enroll.click()  # one disclosure still missing: refused on the phone, nothing sent
    expect(phone.get_by_role("status").filter(has_text="All four disclosures")).to_be_visible()
    phone.get_by_label(
        "That they may stop at any time, effective at the end of the month").check()
    shot(phone, "enroll")
    enroll.click()
    expect(phone.get_by_role("status").filter(
        has_text="Consent recorded and patient enrolled")).to_be_visible(timeout=20_000)
    expect(phone.get_by_role("heading", name="This month", exact=True)).to_be_visible(
        timeout=20_000)
    expect(phone.get_by_text("Consent verbal on 2026-11-20")).to_be_visible()


def test_field_screens_fit_a_360_px_phone(demo_app: DemoApp, phone: Page) -> None:
    """No sideways scrolling on a small phone, and every control is big enough to hit."""
    sign_in(phone, demo_app, "care_manager", index=_person(phone, pixel=2, iphone=3))
    phone.set_viewport_size({"width": 360, "height": 740})
    worklist = phone.get_by_role("list", name="Worklist")
    expect(worklist.get_by_role("listitem").first).to_be_visible(timeout=20_000)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    small = phone.evaluate("""() => [...document.querySelectorAll('main button, button')]
        .filter(b => b.offsetParent !== null)
        .map(b => b.getBoundingClientRect())
        .filter(r => r.height < 44).length""")
    assert small == 0
    worklist.get_by_role("listitem").first.get_by_role("heading").click()
    expect(phone.get_by_role("heading", name="This month", exact=True)).to_be_visible(
        timeout=20_000)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.emulate_media(color_scheme="dark")
    shot(phone, "patient-dark-360")
