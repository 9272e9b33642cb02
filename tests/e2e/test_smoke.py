"""The served app opens on a phone and shows live data from its database."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_front_page_shows_the_installation_on_a_phone(app_url: str, phone: Page) -> None:
    phone.goto(app_url)
    expect(phone.get_by_role("heading", name="Chronic Care Management")).to_be_visible()
    expect(phone.get_by_label("Database status")).to_have_text("Connected", timeout=20_000)
    expect(phone.get_by_role("heading", name="Riverbend Family Medicine (demo)")).to_be_visible()
    expect(phone.get_by_text(re.compile(r"^\d{4}-\d{2}$"))).to_be_visible()
    assert phone.viewport_size is not None and phone.viewport_size["width"] <= 430
    # no horizontal scrolling on a phone
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_health_endpoint_reports_schema(app_url: str, phone: Page) -> None:
    response = phone.request.get(app_url + "api/v1/health")
    assert response.status == 200
    body = response.json()
    assert body["ok"] is True and body["database"] == "ok"
    assert response.headers["cache-control"] == "no-store"
