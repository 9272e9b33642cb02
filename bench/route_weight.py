"""JS + CSS bytes (raw and gzip) each page loads, read from the production build.

Run after a build (`reflex export --frontend-only --no-zip`, or any `./scripts/run.sh`):
    python bench/route_weight.py
Counts every script, module preload and stylesheet the route's prerendered HTML names.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

BUILD = Path(__file__).resolve().parent.parent / ".web" / "build" / "client"
# Prerendered routes: their HTML names what they load. Dynamic routes are served by the SPA
# fallback plus their route module and its imports (from React Router's manifest).
ROUTES = {"/ (Today)": "index.html", "/login": "login/index.html",
          "/account": "account/index.html",
          "/team": "team/index.html", "/program": "program/index.html",
          "/review": "review/index.html", "/months": "months/index.html",
          "/admin/users": "admin/users/index.html", "/admin/practice": "admin/practice/index.html",
          "/audit": "audit/index.html"}
DYNAMIC = {"/team/[member]": "team/:care_manager_id",
           "/patients/[id]": "patients/:patient_id",
           "/patients/[id]/care-plan": "patients/:patient_id/care-plan"}
ASSET = re.compile(r'(?:href|src)="(/assets/[^"]+\.(?:js|css))"')


def weigh(html_file: Path, extra: list[str] | None = None) -> tuple[int, int, int]:
    assets = sorted(set(ASSET.findall(html_file.read_text())) | set(extra or []))
    raw = sum((BUILD / a.lstrip("/")).stat().st_size for a in assets)
    packed = sum(len(gzip.compress((BUILD / a.lstrip("/")).read_bytes(), 9)) for a in assets)
    return len(assets), raw, packed


def main() -> int:
    if not BUILD.exists():
        print(f"no build at {BUILD}: build the app first", file=sys.stderr)
        return 1
    print(f"{'route':28} {'files':>5} {'raw KB':>9} {'gzip KB':>9}")
    for route, html in ROUTES.items():
        files, raw, packed = weigh(BUILD / html)
        print(f"{route:28} {files:>5} {raw / 1024:>9.1f} {packed / 1024:>9.1f}")
    manifest_file = next((BUILD / "assets").glob("manifest-*.js"))
    manifest = json.loads(manifest_file.read_text().split("=", 1)[1].rstrip(";\n"))
    for route, path in DYNAMIC.items():
        entry = next(r for r in manifest["routes"].values() if r.get("path") == path)
        modules = [entry["module"], *entry.get("imports", []), *entry.get("css", [])]
        files, raw, packed = weigh(BUILD / "__spa-fallback.html", modules)
        print(f"{route:28} {files:>5} {raw / 1024:>9.1f} {packed / 1024:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
