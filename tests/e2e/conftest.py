"""A served app (production build) on a free loopback port, and a phone-sized browser.

Every browser test runs against two deployments of the same app:
- `sqlite-disk`: the embedded default, SQLite and Reflex's on-disk state, one worker;
- `postgresql-redis`: the scaled one, PostgreSQL and Reflex's Redis state manager with two
  workers, so events from one page may land on either worker.
The server runs in its own process group with its own data directory; the fixture stops
exactly that group. Chromium is Debian's (/usr/bin/chromium); Playwright never downloads one.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.conftest import (
    REDIS_TEST_URL,
    note_backend,
    postgres_unavailable_reason,
    redis_unavailable_reason,
    throwaway_postgres_database,
    unavailable,
)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CCM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
START_TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "api/v1/health", timeout=2) as health, \
                    urllib.request.urlopen(url + "login/", timeout=2) as page:
                if health.status == 200 and page.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"app did not serve within {START_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str
    secret: str


@dataclass
class DemoApp:
    """The served app; `stop()` kills its process group (the backend "dies"), `start()`
    serves it again on the same port and data — a rebuild, so also a deploy."""

    url: str
    env: dict[str, str]
    logins: tuple[DemoLogin, ...]
    data_dir: Path
    port: int
    deployment: str = "sqlite-disk"
    process: subprocess.Popen | None = None

    def login(self, role: str, index: int = 0) -> DemoLogin:
        return [login for login in self.logins if login.role == role][index]

    @property
    def database_url(self) -> str:
        return self.env.get("CCM_DATABASE_URL") or f"sqlite:///{self.data_dir / 'ccm.db'}"

    def rows(self, sql: str, **params: object) -> list[tuple]:
        """What the server stored, read straight from its database (either backend).

        UUID parameters are bound as UUIDs (native on PostgreSQL, hex text on SQLite); values
        come back as the backend gives them, so compare them with values from the same app.
        Select JSON columns as `CAST(column AS TEXT)` to get the same text on both.
        """
        engine = sa.create_engine(self.database_url)
        statement = sa.text(sql).bindparams(*(
            sa.bindparam(name, type_=sa.Uuid) for name, value in params.items()
            if isinstance(value, uuid.UUID)))
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(statement, params)]
        finally:
            engine.dispose()

    def start(self, **extra_env: str) -> None:
        log = self.data_dir / "server.log"
        reflex = str(Path(sys.executable).with_name("reflex"))
        with log.open("a") as out:
            self.process = subprocess.Popen(
                [reflex, "run", "--env", "prod", "--backend-port", str(self.port),
                 "--frontend-port", str(self.port), "--backend-host", "127.0.0.1"],
                cwd=ROOT, env={**self.env, **extra_env}, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        _wait_until_serving(self.url, self.process, log)

    def stop(self) -> None:
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


_used_steps: dict[str, int] = {}
ARTIFACTS = ROOT / "tests" / "artifacts"


APP_PIN = "482915"


def sign_in(page: Page, app: DemoApp, role: str, index: int = 0) -> str:
    """Sign a demo user in through the sign-in screen and set the app PIN (or unlock with
    it); returns the email. Lands on Today."""
    login = app.login(role, index=index)
    page.goto(app.url + "login")
    page.get_by_label("Email").fill(login.email)
    page.get_by_label("Password").fill(login.password)
    page.get_by_label("Code from your authenticator app").fill(fresh_code(login.secret))
    page.get_by_role("button", name="Sign in").click()
    pass_the_lock(page)
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible(timeout=30_000)
    return login.email


def pass_the_lock(page: Page, pin: str = APP_PIN) -> None:
    """What a care manager does at every start of the app: set the PIN the first time on
    this phone, else unlock with it (assets/field/lock.js)."""
    lock = page.get_by_role("dialog", name=re.compile(r"^(Set an app PIN|ccm is locked)$"))
    expect(lock).to_be_visible(timeout=30_000)
    if lock.get_by_label("New app PIN").count():
        lock.get_by_label("New app PIN").fill(pin)
        lock.get_by_label("Repeat the PIN").fill(pin)
        lock.get_by_role("button", name="Set PIN").click()
    else:
        lock.get_by_label("App PIN").fill(pin)
        lock.get_by_role("button", name="Unlock").click()
    expect(lock).to_be_hidden(timeout=30_000)


def step_away(page: Page, duration: str) -> None:
    """Time passes with nobody touching the phone (Playwright's clock): longer than the
    practice's lock minutes, so the app locks and is unlocked again."""
    page.clock.fast_forward(duration)
    pass_the_lock(page)


def shot(page: Page, name: str) -> None:
    """A full-page screenshot for review in tests/artifacts/, named after the device."""
    ARTIFACTS.mkdir(exist_ok=True)
    device = "iphone" if page.viewport_size and page.viewport_size["width"] < 400 else "pixel"
    page.screenshot(path=str(ARTIFACTS / f"{name}-{device}.png"), full_page=True)


def fresh_code(secret: str) -> str:
    """A TOTP code for a step this test run has not used yet (the server accepts each once).

    Tests run once per phone model with the same demo users, so a second sign-in within
    the same 30 s waits for the next step instead of being refused as a replay.
    """
    totp = pyotp.TOTP(secret)
    while True:
        step = int(time.time()) // 30
        if _used_steps.get(secret) != step:
            _used_steps[secret] = step
            return totp.generate_otp(step)
        time.sleep(0.5)


DEPLOYMENTS = {
    "sqlite-disk": "SQLite + on-disk state, 1 worker",
    "postgresql-redis": "PostgreSQL + Redis state, 2 workers",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.deployment("postgresql-redis")` keeps a test to that deployment only
    (killing one of several workers means nothing on a single-worker app); the other
    deployment's copy is deselected, not skipped."""
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("deployment")
        callspec = getattr(item, "callspec", None)
        if marker and callspec and callspec.params.get("demo_app") not in marker.args:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session", params=list(DEPLOYMENTS))
def demo_app(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoApp]:
    """Migrate a throw-away database, load a small demo practice, serve the app."""
    deployment = request.param
    with ExitStack() as stack:
        env = {**os.environ, "REFLEX_TELEMETRY_ENABLED": "false",
               "CCM_REMINDERS": "off", "CCM_PUSH_ALLOW_LOOPBACK": "on"}
        for name in ("CCM_DATABASE_URL", "DATABASE_URL", "CCM_REDIS_URL", "REDIS_URL",
                     "CCM_BUILD_ID", "CCM_WORKERS", "CCM_PUBLIC_URL"):
            env.pop(name, None)
        if deployment == "postgresql-redis":
            stack.enter_context(_required_servers())
            env["CCM_DATABASE_URL"] = stack.enter_context(throwaway_postgres_database())
            env["CCM_REDIS_URL"] = _redis_database_for_this_run()
            env["CCM_WORKERS"] = "2"
        app = stack.enter_context(serve_demo(tmp_path_factory, env, deployment))
        note_backend(f"app ({DEPLOYMENTS[deployment]})", "ran")
        yield app


@contextmanager
def _required_servers() -> Iterator[None]:
    """PostgreSQL and Redis must answer; each missing one is named (and fails a CI run)."""
    for backend, reason in (("postgresql", postgres_unavailable_reason()),
                            ("redis", redis_unavailable_reason())):
        if reason:
            note_backend(f"app ({DEPLOYMENTS['postgresql-redis']})", f"skipped ({reason})")
            unavailable(backend, reason)
    note_backend("redis", "ran")
    yield


def _redis_database_for_this_run() -> str:
    """Reflex's state keys are random tokens; a database number of its own per run still
    keeps a concurrent run's keys (another checkout, a developer's app) out of the way."""
    server = urllib.parse.urlsplit(REDIS_TEST_URL)
    return server._replace(path=f"/{1 + os.getpid() % 15}").geturl()


@contextmanager
def serve_demo(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str],
               deployment: str) -> Iterator[DemoApp]:
    """Load the demo practice into the configured database and serve the app on it."""
    data_dir = tmp_path_factory.mktemp(f"app-data-{deployment}")
    env = {**env, "CCM_DATA_DIR": str(data_dir)}
    cli = [sys.executable, "-m", "ccm_pwa.cli"]
    subprocess.run([*cli, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    demo = subprocess.run(
        [*cli, "demo", "--patients", "60", "--care-managers", "5", "--seed", "5"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    # "  role  email  password  secret  (also ...)": the first four columns
    logins = tuple(DemoLogin(*line.split()[:4]) for line in demo.stdout.splitlines()
                   if line.startswith("  "))
    port = _free_port()
    app = DemoApp(f"http://127.0.0.1:{port}/", env, logins, data_dir, port, deployment)
    try:
        app.start()
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run ./scripts/test.sh, which installs it")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(params=["Pixel 7", "iPhone 14"])
def phone(request: pytest.FixtureRequest, browser: Browser,
          playwright_instance: Playwright) -> Iterator[Page]:
    """A fresh phone-sized page (own cookies, own Reflex state) per test and device."""
    device = dict(playwright_instance.devices[request.param])
    device.pop("default_browser_type", None)
    context: BrowserContext = browser.new_context(**device)
    page = context.new_page()
    yield page
    context.close()
