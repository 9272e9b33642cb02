"""The ccm-pwa command: real subprocesses, clear one-line errors with exit status 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, db_url: str | None = None, data_dir: Path | None = None,
            stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CCM_DATABASE_URL")}
    if db_url:
        env["CCM_DATABASE_URL"] = db_url
    if data_dir:
        env["CCM_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "ccm_pwa.cli", *args], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["demo", "--patients", "0"], "--patients: must be at least 1"),
        (["demo", "--patients", "many"], "not a whole number"),
        (["demo", "--seed", "-1"], "must not be negative"),
        (["demo", "--today", "2026-02-30"], "not a date"),
        (["user", "add", "--email", "x@y.org", "--name", "X", "--role", "boss"], "invalid choice"),
        (["user", "add", "--name", "X", "--role", "admin"], "--email"),
        (["nonsense"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], fragment: str, tmp_path: Path) -> None:
    result = run_cli(*args, data_dir=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]


def test_user_add_before_migration_says_what_to_do(tmp_path: Path) -> None:
    result = run_cli("user", "add", "--email", "a@b.org", "--name", "A", "--role", "admin",
                     data_dir=tmp_path)
    assert result.returncode == 2
    assert "run `ccm-pwa db upgrade` first" in result.stderr


def test_upgrade_demo_and_user_add(db_url: str, tmp_path: Path) -> None:
    upgraded = run_cli("db", "upgrade", db_url=db_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "is at revision" in upgraded.stdout
    demo = run_cli("demo", "--patients", "12", "--care-managers", "2", "--seed", "4",
                   "--today", "2026-11-23", db_url=db_url)
    assert demo.returncode == 0, demo.stderr
    # 12 at Riverbend, 4 of the managed care manager's there, 3 (a quarter) at Northside
    assert "demo loaded: 2 practices, 19 patients" in demo.stdout
    assert "supervisor@riverbend.example" in demo.stdout
    assert "Northside Internal Medicine (demo) sign-ins" in demo.stdout
    assert re.search(r"zoe@riverbend\.example .*\(also care_manager at Northside", demo.stdout)
    rebuilt = run_cli("rollups", "rebuild", "--workers", "1", db_url=db_url)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert re.findall(r"rollups for (.+)", rebuilt.stdout) == [
        "Northside Internal Medicine (demo)", "Riverbend Family Medicine (demo)"]
    unsaid = run_cli("user", "add", "--email", "Nurse.Kim@Example.org", "--name", "Kim Nurse",
                     "--role", "care_manager", db_url=db_url)
    assert unsaid.returncode == 2
    assert "several practices exist: say which with --practice" in unsaid.stderr
    added = run_cli("user", "add", "--email", "Nurse.Kim@Example.org", "--name", "Kim Nurse",
                    "--role", "care_manager", "--credential", "RN",
                    "--practice", "Riverbend Family Medicine (demo)", db_url=db_url)
    assert added.returncode == 0, added.stderr
    assert "otpauth://totp/ccm_pwa:nurse.kim%40example.org?secret=" in added.stdout
    again = run_cli("user", "add", "--email", "nurse.kim@example.org", "--name", "Kim",
                    "--role", "care_manager", "--practice", "Riverbend Family Medicine (demo)",
                    db_url=db_url)
    assert again.returncode == 2
    assert again.stderr.strip() == "ccm-pwa: error: a user with email nurse.kim@example.org " \
                                   "already exists"
    alone = run_cli("demo", "--patients", "12", "--care-managers", "2", "--seed", "4",
                    "--today", "2026-11-23", "--partner-patients", "0", db_url=db_url)
    assert "demo loaded: 1 practice, 12 patients" in alone.stdout, alone.stderr
    assert "northside" not in alone.stdout.lower()


def test_a_closed_pipe_is_not_an_error(db_url: str, tmp_path) -> None:
    """`ccm-pwa billing report … | head -1`: the reader stopped early; no traceback, exit 0."""
    import os
    import subprocess
    import sys

    script = ("import sys, ccm_pwa.cli as cli\n"
              "def closed(args):\n    raise BrokenPipeError(32, 'Broken pipe')\n"
              "cli._HANDLERS[('db', 'current')] = closed\n"
              "sys.exit(cli.main(['db', 'current']))\n")
    env = {**os.environ, "CCM_DATABASE_URL": db_url, "CCM_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
