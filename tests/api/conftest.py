"""The API served over real HTTP (granian on a free loopback port) against a test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPORT_TOKEN = "test-report-token-0123456789abcdef"


@dataclass(frozen=True)
class ApiServer:
    url: str
    db_url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def api_server(db_url: str, tmp_path: Path, request: pytest.FixtureRequest
               ) -> Iterator[ApiServer]:
    port = _free_port()
    marker = request.node.get_closest_marker("server_env")
    env = {**os.environ, "CCM_DATABASE_URL": db_url, "CCM_REPORTS_API_TOKEN": REPORT_TOKEN,
           **(marker.kwargs if marker else {})}
    granian = str(Path(sys.executable).with_name("granian"))
    log = (tmp_path / "api.log").open("w")
    process = subprocess.Popen(
        [granian, "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "ccm_pwa.api.asgi:application"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError((tmp_path / "api.log").read_text())
            try:
                urllib.request.urlopen(url + "/api/v1/health", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield ApiServer(url, db_url)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()
