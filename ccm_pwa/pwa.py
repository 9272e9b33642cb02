"""Reflex plugin: after each production build, write the precache list into the service worker.

The list names every file of the built app shell with a content hash, and the worker's
version is a hash of that list, so any change to any file installs a new worker (an
atomic update: the new build is complete in its own cache before it is used) and an
unchanged file is reused from the previous build's cache instead of downloaded again.

Runs inside `reflex run --env prod` and `reflex export` (reflex/utils/build.py calls
`post_build` after the Vite build, before Reflex writes 404.html and the .gz sidecars).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from reflex_base.plugins.base import Plugin

WORKER = "sw.js"
PLACEHOLDER_MANIFEST = "self.__PRECACHE_MANIFEST = [];"
PLACEHOLDER_VERSION = 'self.__PRECACHE_VERSION = "unbuilt";'
# Not part of the shell: the worker itself, compressed twins, Reflex's later copies, and
# the raw field-kit sources (the app uses Vite's hashed bundle of them).
SKIPPED_NAMES = {WORKER, "404.html", "sitemap.xml", "precache-manifest.json"}
SKIPPED_DIRS = {"field"}


def precache_entries(static_dir: Path) -> list[dict[str, Any]]:
    """`[{url, revision, size}]` for every file a phone needs to open the app offline."""
    entries = []
    for path in sorted(p for p in static_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(static_dir)
        if (path.name in SKIPPED_NAMES or path.suffix in {".gz", ".br", ".zst"}
                or relative.parts[0] in SKIPPED_DIRS):
            continue
        if path.suffix == ".html" and path.name != "index.html" and \
                (path.with_suffix("") / "index.html").exists():
            continue  # Reflex writes about.html next to about/index.html; /about/ is the page
        entries.append({"url": _url(relative), "revision": _digest(path.read_bytes()),
                        "size": path.stat().st_size})
    return entries


def _url(relative: Path) -> str:
    """Pages are fetched as /x/ (Starlette answers /x with a redirect: offline notes P2)."""
    posix = relative.as_posix()
    if posix == "index.html":
        return "/"
    if posix.endswith("/index.html"):
        return "/" + posix.removesuffix("index.html")
    return "/" + posix


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def write_precache(static_dir: Path) -> tuple[int, int, str]:
    """Fill the worker's placeholders; returns (files, bytes, version)."""
    worker = static_dir / WORKER
    source = worker.read_text()
    if PLACEHOLDER_MANIFEST not in source or PLACEHOLDER_VERSION not in source:
        raise RuntimeError(f"{worker}: precache placeholders not found")
    entries = precache_entries(static_dir)
    # CCM_BUILD_ID (e.g. a release tag or commit) makes a redeploy of identical files still
    # a new version, so phones pick up server-side changes that the files do not show.
    build_id = os.environ.get("CCM_BUILD_ID", "")
    version = _digest(json.dumps([build_id, entries], sort_keys=True).encode())
    source = source.replace(PLACEHOLDER_MANIFEST,
                            f"self.__PRECACHE_MANIFEST = {json.dumps(entries)};")
    source = source.replace(PLACEHOLDER_VERSION, f'self.__PRECACHE_VERSION = "{version}";')
    worker.write_text(source)
    (static_dir / "precache-manifest.json").write_text(
        json.dumps({"version": version, "entries": entries}, indent=1))
    return len(entries), sum(e["size"] for e in entries), version


class PwaPrecachePlugin(Plugin):
    """Registered in rxconfig.py; see the module docstring."""

    def post_build(self, **context: Any) -> None:
        files, size, version = write_precache(Path(context["static_dir"]))
        logging.getLogger(__name__).warning(
            "[pwa] precache manifest: %d files, %d bytes, version %s", files, size, version)
