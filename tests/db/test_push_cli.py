"""`ccm-pwa reminders run|keys` as real subprocesses."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlmodel import Session, select

from ccm_pwa.models import ReminderDelivery
from ccm_pwa.services.demo_practice import create_demo_practice
from tests.db.test_cli import run_cli


def test_dry_run_lists_due_reminders_and_writes_nothing(session: Session, db_url: str,
                                                        tmp_path: Path) -> None:
    create_demo_practice(session=session, patients=20, care_managers=2, seed=4,
                         today=date(2026, 11, 24))
    session.commit()
    result = run_cli("reminders", "run", "--dry-run", "--now", "2026-11-24T09:05:00-06:00",
                     db_url=db_url, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("reminders due (dry run, nothing sent) at 2026-11-24T09:05")
    digests = [line for line in lines[1:] if "daily_digest" in line]
    assert digests and all("days left this month" in line and "0 device(s)" in line
                           for line in digests)
    assert "kim@riverbend.example" in result.stdout
    assert session.exec(select(ReminderDelivery)).first() is None
    # before 09:00 nothing is due yet
    early = run_cli("reminders", "run", "--dry-run", "--now", "2026-11-24T08:30:00-06:00",
                    db_url=db_url, data_dir=tmp_path)
    assert early.stdout.splitlines() == [
        "reminders due (dry run, nothing sent) at 2026-11-24T08:30:00-06:00: 0"]


def test_bad_now_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_cli("reminders", "run", "--now", "tomorrow morning", data_dir=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "--now" in line and "ISO-8601" in line


def test_keys_prints_the_public_key(tmp_path: Path) -> None:
    result = run_cli("reminders", "keys", data_dir=tmp_path)
    assert result.returncode == 0
    assert "public key (applicationServerKey): B" in result.stdout
    assert (tmp_path / "vapid_private_key.pem").exists()
