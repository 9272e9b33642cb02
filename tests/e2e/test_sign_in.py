"""Signing in on a phone: TOTP enrollment read off the page, demo sign-in, sign-out, and no
PHI behind the back button."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pyotp
import pytest
from playwright.sync_api import Page, expect

from ccm_pwa.services.demo_practice import DEMO_PRACTICE_NAME
from tests.e2e.conftest import ROOT, DemoApp, fresh_code, pass_the_lock

pytestmark = pytest.mark.e2e


def _sign_in(page: Page, app: DemoApp, email: str, password: str, code: str = "") -> None:
    page.goto(app.url + "login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    if code:
        page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Sign in").click()


def test_visitor_sees_only_the_sign_in_screen(demo_app: DemoApp, phone: Page) -> None:
    for path in ("", "admin/users", "audit", "status"):
        phone.goto(demo_app.url + path)
        expect(phone).to_have_url(re.compile(r"/login/?$"), timeout=20_000)
        expect(phone.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(phone.get_by_role("table")).to_have_count(0)


def test_new_user_enrolls_totp_from_the_page(demo_app: DemoApp, phone: Page) -> None:
    email = f"nurse.{uuid.uuid4().hex[:6]}@riverbend.example"
    added = subprocess.run(
        [sys.executable, "-m", "ccm_pwa.cli", "user", "add", "--email", email, "--name",
         "Nia Nurse", "--role", "care_manager", "--credential", "RN",
         "--practice", DEMO_PRACTICE_NAME],
        cwd=ROOT, env=demo_app.env, capture_output=True, text=True, check=True)
    one_time = re.search(r"one-time password:\s+(\S+)", added.stdout).group(1)

    _sign_in(phone, demo_app, email, one_time)
    expect(phone.get_by_role("heading", name="Set up your sign-in")).to_be_visible(
        timeout=20_000)
    expect(phone.get_by_label("Secret key")).not_to_have_text("", timeout=20_000)
    secret = phone.get_by_label("Secret key").inner_text().replace(" ", "")
    expect(phone.get_by_role("img", name="QR code for your authenticator")).to_be_visible()
    phone.get_by_label("New password", exact=True).fill("long enough passphrase 42")
    phone.get_by_label("Repeat the new password").fill("long enough passphrase 42")
    phone.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    phone.get_by_role("button", name="Finish setup").click()

    codes = phone.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(codes).to_have_count(10, timeout=20_000)
    phone.get_by_role("link", name="Continue to the app").click()
    expect(phone.get_by_role("heading", name="Today", exact=True)).to_be_visible(timeout=20_000)
    expect(phone.get_by_label("Signed in as")).to_have_text("Nia Nurse")


def test_demo_care_manager_signs_in_and_out(demo_app: DemoApp, phone: Page) -> None:
    login = demo_app.login("care_manager", index=2)  # kim: a care manager with patients
    _sign_in(phone, demo_app, login.email, login.password, fresh_code(login.secret))
    pass_the_lock(phone)
    expect(phone.get_by_role("heading", name="Today", exact=True)).to_be_visible(timeout=20_000)
    cards = phone.get_by_role("list", name="Worklist").get_by_role("heading")
    expect(cards.first).to_be_visible(timeout=20_000)
    first_patient = cards.first.inner_text()
    assert first_patient

    phone.get_by_role("button", name="Sign out").click()
    expect(phone).to_have_url(re.compile(r"/login/?\?signed_out=1$"), timeout=20_000)
    expect(phone.get_by_text("You are signed out.")).to_be_visible()
    # the field kit erased its database, and the server's answer removed the session cookie
    databases = phone.evaluate("async () => (await indexedDB.databases()).map(d => d.name)")
    assert "ccm-field" not in databases
    assert not any(c["name"].endswith("ccm_session") for c in phone.context.cookies())
    phone.go_back()
    expect(phone).to_have_url(re.compile(r"/login/?$"), timeout=20_000)
    phone.wait_for_timeout(1000)
    assert first_patient not in phone.content()


def test_wrong_code_gets_the_generic_message(demo_app: DemoApp, phone: Page) -> None:
    login = demo_app.login("supervisor")
    _sign_in(phone, demo_app, login.email, login.password, "000000")
    expect(phone.get_by_role("alert")).to_contain_text("Sign-in failed", timeout=20_000)
    expect(phone).to_have_url(re.compile(r"failed=1"))


def test_care_manager_cannot_open_admin_screens(demo_app: DemoApp, phone: Page) -> None:
    login = demo_app.login("care_manager", index=3)
    _sign_in(phone, demo_app, login.email, login.password, fresh_code(login.secret))
    expect(phone.get_by_role("heading", name="Today", exact=True)).to_be_visible(timeout=20_000)
    expect(phone.get_by_role("link", name="Users")).to_have_count(0)
    phone.goto(demo_app.url + "admin/users")
    expect(phone.get_by_role("heading", name="Users")).to_be_visible(timeout=20_000)
    phone.wait_for_timeout(1500)
    expect(phone.get_by_role("table", name="Users").get_by_role("row")).to_have_count(1)
