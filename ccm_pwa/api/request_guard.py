"""Only this app's own pages may use the API and the event channel with a care manager's
cookie.

The session cookie is SameSite=Strict, but "site" is the host without its port: a page on
another port of the same host — or any sibling subdomain — is same-site and the browser
sends the cookie along. So every `/api/*` request, and the Reflex websocket (`/_event`), is
checked here before any route or event handler runs:

- a browser request from a foreign origin (`Origin` naming another host or port, `Origin:
  null`, or `Sec-Fetch-Site: same-site|cross-site` with no Origin) is refused, 403;
- a body must be JSON (`application/json`); the sign-in and account forms, posted by the
  app's own pages without script, may be `application/x-www-form-urlencoded` — anything else
  (notably `text/plain`, the content type a cross-origin page can post without asking) is
  refused, 415;
- a body larger than `MAX_BODY_BYTES` is refused, 413, whether it declares its length or
  streams it.

Tools that are not browsers (the reports API token, scripts) send neither `Origin` nor
`Sec-Fetch-Site` and are not affected. CORS itself is left to Reflex, configured in
rxconfig.py to allow only `CCM_PUBLIC_URL`'s origin, so no other page can read an answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The phone pushes at most 100 queued changes per request (assets/field/sync.js, halving on
# 413); 100 notes of the longest allowed text (services/sync_args.py) fit with room to spare.
MAX_BODY_BYTES = 4 * 1024 * 1024

API_PREFIX = "/api/"
# The Reflex event channel carries the same screens' data: its websocket (and the HTTP
# polling fallback) take the same Origin check.
EVENTS_PREFIX = "/_event"
GUARDED_PREFIXES = (API_PREFIX, EVENTS_PREFIX)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# The pages that post without script (ui/pages/login.py, account_setup.py, account.py and
# the sign-out button in ui/components/layout.py).
FORM_PATHS = frozenset({
    "/api/v1/session/form",
    "/api/v1/session/setup",
    "/api/v1/session/password",
    "/api/v1/session/sign-out",
    "/api/v1/session/sign-out-everywhere",
})


def own_authority(public_url: str | None) -> str | None:
    """`https://ccm.example:8443/path` → `ccm.example:8443`; None when unset."""
    if not public_url:
        return None
    parts = urlsplit(public_url)
    return parts.netloc.lower() or None


def refusal(scope: Scope, public_authority: str | None) -> tuple[int, str, str] | None:
    """Why this request may not reach a route (status, code, detail), or None."""
    path: str = scope.get("path", "")
    if scope["type"] not in {"http", "websocket"} or not path.startswith(GUARDED_PREFIXES):
        return None
    headers = _headers(scope)
    if not _from_own_page(headers, public_authority):
        return 403, "forbidden", "cross-origin request refused"
    if scope["type"] != "http" or not path.startswith(API_PREFIX):
        return None
    method = scope.get("method", "GET").upper()
    if method not in BODY_METHODS or not _has_body(headers):
        return None
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    allowed = {JSON, FORM} if scope.get("path") in FORM_PATHS else {JSON}
    if media_type not in allowed:
        return 415, "unsupported_media_type", (
            f"content-type: must be {' or '.join(sorted(allowed))}, got {media_type or 'none'}")
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return _too_large()
    return None


def with_request_guard(app: ASGIApp, public_url: str | None = None) -> ASGIApp:
    if public_url is None:
        from ccm_pwa.config import load_settings

        public_url = load_settings().public_url
    public_authority = own_authority(public_url)

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        refused = refusal(scope, public_authority)
        if refused is not None and scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if refused is not None:
            await _respond(send, *refused)
            return
        if _streamed(scope):
            # Content-Length was checked above and the server holds the client to it; a
            # chunked body declares nothing, so it is read (up to the limit) before any route.
            messages = await _buffered(receive)
            if messages is None:
                await _respond(send, *_too_large())
                return
            receive = _replay(messages, receive)
        await app(scope, receive, send)

    return middleware


def _from_own_page(headers: dict[str, str], public_authority: str | None) -> bool:
    origin = headers.get("origin")
    if origin is None:
        # Browsers send Origin on every cross-origin fetch and every POST; what remains is a
        # navigation or a tool. A navigation from another site's page is still refused.
        return headers.get("sec-fetch-site", "none") in {"same-origin", "none"}
    scheme, _, authority = origin.strip().lower().partition("://")
    if scheme not in {"http", "https"} or not authority:
        return False  # "null" (sandboxed frames, file: pages, opaque redirects) and junk
    return authority in _own_authorities(headers, public_authority)


def _own_authorities(headers: dict[str, str], public_authority: str | None) -> Iterable[str]:
    own = {headers.get("host", "").lower()}
    if public_authority:
        own.add(public_authority)
    own.discard("")
    return own


def _streamed(scope: Scope) -> bool:
    if scope["type"] != "http" or not scope.get("path", "").startswith(API_PREFIX):
        return False
    headers = _headers(scope)
    return "content-length" not in headers and "transfer-encoding" in headers


def _has_body(headers: dict[str, str]) -> bool:
    length = headers.get("content-length")
    if length is not None:
        return length.strip() not in {"", "0"}
    return "transfer-encoding" in headers


async def _buffered(receive: Receive) -> list[Message] | None:
    """Read a body sent without Content-Length (chunked) up to the limit; None past it."""
    messages, received = [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages
        received += len(message.get("body", b""))
        if received > MAX_BODY_BYTES:
            return None
        if not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _too_large() -> tuple[int, str, str]:
    return 413, "too_large", f"body: larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB"


def _headers(scope: Scope) -> dict[str, str]:
    return {key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope.get("headers", [])}


async def _respond(send: Send, status: int, code: str, detail: str) -> None:
    body = json.dumps({"error": code, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]})
    await send({"type": "http.response.body", "body": body})
