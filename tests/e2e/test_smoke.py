"""The served app opens on a phone and shows live data from its database."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DemoApp, fresh_code, pass_the_lock

pytestmark = pytest.mark.e2e


def test_admin_sees_the_installation_status_on_a_phone(demo_app: DemoApp, phone: Page) -> None:
    admin = demo_app.login("admin")
    phone.goto(demo_app.url + "login")
    phone.get_by_label("Email").fill(admin.email)
    phone.get_by_label("Password").fill(admin.password)
    phone.get_by_label("Code from your authenticator app").fill(fresh_code(admin.secret))
    phone.get_by_role("button", name="Sign in").click()
    pass_the_lock(phone)  # an admin's phone holds PHI too
    expect(phone.get_by_role("heading", name="Today", exact=True)).to_be_visible(timeout=20_000)
    phone.get_by_role("link", name="Status").click()
    expect(phone.get_by_role("heading", name="Chronic Care Management")).to_be_visible()
    expect(phone.get_by_label("Database status")).to_have_text("Connected", timeout=20_000)
    expect(phone.get_by_role("heading", name="Riverbend Family Medicine (demo)")).to_be_visible()
    expect(phone.get_by_text(re.compile(r"^\d{4}-\d{2}$")).first).to_be_visible()  # each practice
    assert phone.viewport_size is not None and phone.viewport_size["width"] <= 430
    # no horizontal scrolling on a phone
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_health_endpoint_reports_schema(demo_app: DemoApp, phone: Page) -> None:
    response = phone.request.get(demo_app.url + "api/v1/health")
    assert response.status == 200
    body = response.json()
    assert body["ok"] is True and body["database"] == "ok"
    assert response.headers["cache-control"] == "no-store"
    page = phone.request.get(demo_app.url + "login/")
    assert "unsafe-eval" not in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_pages_run_without_console_errors(demo_app: DemoApp, phone: Page) -> None:
    """The CSP and headers must not break the app: no violations, no failed scripts."""
    errors: list[str] = []
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    phone.goto(demo_app.url + "login")
    expect(phone.get_by_role("heading", name="Sign in")).to_be_visible()
    phone.wait_for_timeout(1500)
    assert errors == []
