"""Reminders from the settings screen (issue 7): "Enable reminders" subscribes this phone and
the subscription reaches the server; "Send a test reminder" goes out through a push service;
"Turn off reminders" removes it.

Chromium can only subscribe through Google's push service, which a test machine cannot
reach (and Chromium refuses push in an incognito profile). So `PushManager.subscribe`
returns what a browser would — an endpoint at the local push service on loopback, with a
P-256 key pair and auth secret generated here — and everything else is real: the
notification permission, the service worker, the screen, the API, the stored subscription,
and the encrypted, VAPID-signed delivery the push service verifies and decrypts.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DemoApp, pass_the_lock, sign_in
from tests.support.push_service import PushService

pytestmark = pytest.mark.e2e
WAIT = 30_000
STUB = """(() => {
  const subscription = %s;
  let current = null;
  const make = () => ({ endpoint: subscription.endpoint, expirationTime: null,
    toJSON: () => subscription, unsubscribe: async () => { current = null; return true; } });
  PushManager.prototype.subscribe = async function () { current = make(); return current; };
  PushManager.prototype.getSubscription = async function () { return current; };
})();"""


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_enable_test_and_turn_off_reminders(demo_app: DemoApp, phone: Page) -> None:
    email = sign_in(phone, demo_app, "care_manager", index=2)
    key = phone.request.get(demo_app.url + "api/v1/push/key").json()["public_key"]

    with PushService(key) as service:
        browser_side = service.subscribe()
        phone.context.grant_permissions(["notifications"], origin=demo_app.url.rstrip("/"))
        phone.context.add_init_script(STUB % json.dumps(browser_side.to_json()))
        phone.goto(demo_app.url + "account")
        pass_the_lock(phone)
        status = phone.get_by_label("Reminder status")
        expect(status).to_contain_text("Reminders are off", timeout=WAIT)
        phone.get_by_role("button", name="Enable reminders").click()
        expect(phone.get_by_role("status").filter(has_text="Reminders are on for this phone")
               ).to_be_visible(timeout=WAIT)
        expect(status).to_contain_text("Devices with reminders: 1")
        stored = demo_app.rows(
            "select s.endpoint from push_subscription s join app_user u on u.id = "
            "s.user_id where u.email = :email", email=email)
        assert stored == [(browser_side.endpoint,)]

        phone.get_by_role("button", name="Send a test reminder").click()
        expect(phone.get_by_role("status").filter(has_text=re.compile(r"Test sent to 1 of 1"))
               ).to_be_visible(timeout=WAIT)
        (delivered,) = service.for_subscription(browser_side)
        assert delivered.vapid_ok, delivered.problems
        assert delivered.headers.get("TTL") or delivered.headers.get("ttl")
        payload = delivered.payload
        assert set(payload) <= {"title", "body", "url", "tag"} and payload["title"]

        phone.get_by_role("button", name="Turn off reminders").click()
        expect(status).to_contain_text("Reminders are off", timeout=WAIT)
        expect(status).to_contain_text("Devices with reminders: 0")
