"""The phone's figures (issue 6): bytes per field route, offline cold start, push and ingest.

    python bench/phone.py [--runs 7] [--skip-browser]

1. gzip bytes of JS + CSS each field route loads (from the production build);
2. offline cold start to an interactive Today: a served demo app, one online visit to
   install the service worker, set the app PIN and fill the phone's (encrypted) store with
   a 60-patient caseload, then for each run a fresh page with the network cut and
   Chromium's CPU slowed 4× (Pixel 7 emulation): the time from navigation start to the
   lock screen, and from the PIN's submission until the worklist, decrypted from IndexedDB
   and rendered by hydrated React, is on screen (its buttons work from then on: they are
   plain browser functions) — split into the PIN check (PBKDF2) and the time spent
   decrypting the documents Today reads;
3. push latency of a 100-mutation batch and ingest rate vs a raw SQLite insert
   (bench/sync_ingest.py).
Targets: field routes ≤ 365 KiB, offline cold start ≤ 1 s, decryption ≤ 100 ms,
100-mutation push ≤ 200 ms, ingest ≥ 50 % of raw. Loopback only; the server it starts is
stopped by its PID group.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pyotp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from route_weight import BUILD, weigh  # noqa: E402

CHROMIUM = os.environ.get("CCM_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
FIELD_ROUTES = {"/ (Today)": ("index.html", None),
                "/patients/[id]": ("__spa-fallback.html", "patients/:patient_id"),
                "/patients/[id]/care-plan": ("__spa-fallback.html",
                                             "patients/:patient_id/care-plan")}
BUDGET_KIB = 365


def route_bytes() -> dict[str, int]:
    import json
    manifest_file = next((BUILD / "assets").glob("manifest-*.js"))
    manifest = json.loads(manifest_file.read_text().split("=", 1)[1].rstrip(";\n"))
    sizes = {}
    for route, (html, path) in FIELD_ROUTES.items():
        modules = None
        if path:
            entry = next(r for r in manifest["routes"].values() if r.get("path") == path)
            modules = [entry["module"], *entry.get("imports", []), *entry.get("css", [])]
        sizes[route] = weigh(BUILD / html, modules)[2]
    return sizes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PIN = "482915"


def cold_starts(runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    data = Path(tempfile.mkdtemp(prefix="ccm-bench-phone-"))
    env = {**os.environ, "CCM_DATA_DIR": str(data)}
    env.pop("CCM_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    demo = subprocess.run([sys.executable, "-m", "ccm_pwa.cli", "demo", "--patients", "300",
                           "--care-managers", "5", "--seed", "5"], cwd=ROOT, env=env,
                          check=True, capture_output=True, text=True).stdout
    login = next(line.split() for line in demo.splitlines() if "kim@" in line)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    reflex = str(Path(sys.executable).with_name("reflex"))
    with (data / "server.log").open("w") as log:
        server = subprocess.Popen([reflex, "run", "--env", "prod", "--backend-port", str(port),
                                   "--frontend-port", str(port), "--backend-host", "127.0.0.1"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(url + "login/", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError((data / "server.log").read_text()[-2000:]) from None
                time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            device = dict(playwright.devices["Pixel 7"])
            device.pop("default_browser_type", None)
            context = browser.new_context(**device)
            page = context.new_page()
            page.goto(url + "login")
            page.get_by_label("Email").fill(login[1])
            page.get_by_label("Password").fill(login[2])
            page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(login[3]).now())
            page.get_by_role("button", name="Sign in").click()
            page.get_by_label("New app PIN").fill(PIN)
            page.get_by_label("Repeat the PIN").fill(PIN)
            page.get_by_role("button", name="Set PIN").click()
            items = "[aria-label=Worklist] [role=listitem]"
            page.wait_for_selector(items, timeout=60_000)
            page.wait_for_function("() => navigator.serviceWorker.controller !== null")
            page.close()
            context.set_offline(True)
            times: dict[str, list[float]] = {"lock": [], "unlock": [], "pin": [],
                                             "decrypt": []}
            phases: list[dict[str, float]] = []
            for _ in range(runs):
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
                page.goto(url, wait_until="commit")
                page.get_by_label("App PIN").fill(PIN, timeout=30_000)
                times["lock"].append(page.evaluate(
                    "performance.getEntriesByName('ccm-lock-screen')[0].startTime"))
                page.get_by_role("button", name="Unlock").click()
                page.wait_for_selector(items, timeout=30_000)
                marks = page.evaluate("""() => ({now: performance.now(),
                    start: performance.getEntriesByName('ccm-unlock-start')[0].startTime,
                    unlocked: performance.getEntriesByName('ccm-unlocked')[0].startTime,
                    decrypt: performance.getEntriesByName('ccm-decrypt-ms')[0].startTime})""")
                times["unlock"].append(marks["now"] - marks["start"])
                times["pin"].append(marks["unlocked"] - marks["start"])
                times["decrypt"].append(marks["decrypt"])
                marks = page.evaluate("""() => Object.fromEntries([
                    ...performance.getEntriesByType('paint').map(e => [e.name, e.startTime]),
                    ...performance.getEntriesByType('mark').map(e => [e.name, e.startTime]),
                    ['domContentLoaded', performance.timing.domContentLoadedEventEnd -
                                         performance.timing.navigationStart]])""")
                phases.append(marks)
                page.close()
            browser.close()
        for name in sorted({key for marks in phases for key in marks}):
            values = [marks[name] for marks in phases if name in marks]
            print(f"  {name:28} median {statistics.median(values):7.0f} ms")
        return times
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-browser", action="store_true")
    options = parser.parse_args()

    if BUILD.exists():
        print(f"{'field route':28} {'gzip KiB':>9}  (budget {BUDGET_KIB} KiB)")
        for route, size in route_bytes().items():
            verdict = "ok" if size <= BUDGET_KIB * 1024 else "OVER"
            print(f"{route:28} {size / 1024:>9.1f}  {verdict}")
    if not options.skip_browser:
        times = cold_starts(options.runs)
        lines = {"lock": "offline cold start to the lock screen (target ≤ 1000 ms)",
                 "unlock": "PIN submitted → Today interactive",
                 "pin": "  of which the PIN check (PBKDF2, 600 000 iterations)",
                 "decrypt": "  of which decrypting Today's documents (target ≤ 100 ms)"}
        print(f"Pixel 7, 4x CPU slowdown, offline, 60-patient caseload, {options.runs} runs:")
        for key, label in lines.items():
            values = times[key]
            print(f"  {label:60} median {statistics.median(values):6.0f} ms "
                  f"(min {min(values):.0f}, max {max(values):.0f})")
    try:
        import sync_ingest
    except ImportError:
        print("bench/sync_ingest.py not found: push and ingest figures skipped")
        return 0
    print(sync_ingest.measure_push_latency())
    print(sync_ingest.measure_ingest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
