"""A restore drill with a phone in the field (issue 9): the server goes back to last night's
backup while a care manager works. What the backup did not hold is gone from the server —
the phone says so — and what the phone still had queued reaches the server exactly once,
instead of waiting for ever behind the gap in the sync ids.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ROOT, DemoApp, sign_in
from tests.e2e.test_offline import _first_patient, _worklist_ready

pytestmark = pytest.mark.e2e
WAIT = 30_000
BEFORE = "Before the restore: she will bring the glucose log on Friday"
AFTER = "After the restore: glucose log reviewed, fasting values improving"


def _cli(app: DemoApp, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "ccm_pwa.cli", *args], cwd=ROOT, env=app.env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _notes(app: DemoApp, body: str) -> int:
    return app.rows("select count(*) from note where body = :body", body=body)[0][0]


def _wait_for_note(app: DemoApp, body: str) -> None:
    deadline = time.monotonic() + WAIT / 1000
    while _notes(app, body) != 1:
        assert time.monotonic() < deadline, f"the note never reached the server: {body}"
        time.sleep(0.25)


def _add_note(page: Page, body: str) -> None:
    page.get_by_label("New note").fill(body)
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text(body)).to_be_visible(timeout=WAIT)


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_after_a_restore_the_phone_sends_what_it_still_had(demo_app: DemoApp, phone: Page,
                                                           tmp_path: Path) -> None:
    sign_in(phone, demo_app, "care_manager", index=1)
    name, _, _ = _first_patient(_worklist_ready(phone))
    phone.get_by_role("link", name=name).first.click()
    expect(phone.get_by_label("New note")).to_be_visible(timeout=WAIT)

    written = _cli(demo_app, "backup", "--to", str(tmp_path))
    backup = re.search(r"backup written: (\S+)", written).group(1)  # last night's backup

    _add_note(phone, BEFORE)
    _wait_for_note(demo_app, BEFORE)  # sent and acknowledged: gone from the phone's outbox

    demo_app.stop()  # the server is restored from the backup while the phone keeps working
    phone.get_by_label("New note").fill(AFTER)
    phone.get_by_role("button", name="Add note").click()
    expect(phone.get_by_label("Changes waiting")).to_have_text(re.compile(r"^1 change"),
                                                               timeout=WAIT)
    restored = _cli(demo_app, "restore", backup, "--force")
    assert "restored:" in restored
    demo_app.start()
    phone.evaluate("window.dispatchEvent(new Event('online'))")  # as the network returning

    _wait_for_note(demo_app, AFTER)
    expect(phone.get_by_label("Changes waiting")).to_have_count(0, timeout=WAIT)
    assert _notes(demo_app, BEFORE) == 0  # the restore took it: the phone cannot bring it back
    expect(phone.get_by_text(re.compile("The server was restored from a backup"))
           ).to_be_visible(timeout=WAIT)
    audit = demo_app.rows("select count(*) from audit_event where action = 'backup.restore'")
    assert audit[0][0] == 1
