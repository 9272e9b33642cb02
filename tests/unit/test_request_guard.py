"""Which requests the guard refuses before any route or event handler sees them."""

from __future__ import annotations

from typing import Any

import pytest

from ccm_pwa.api.request_guard import MAX_BODY_BYTES, own_authority, refusal, with_request_guard
from tests.support.event_loop import run_in_own_loop

HOST = "127.0.0.1:3999"


def _scope(path: str = "/api/v1/sync/push", method: str = "POST", kind: str = "http",
           **headers: str) -> dict[str, Any]:
    headers = {"host": HOST, **headers}
    return {"type": kind, "path": path, "method": method,
            "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]}


def _status(scope: dict[str, Any], public: str | None = None) -> int | None:
    refused = refusal(scope, own_authority(public))
    return refused[0] if refused else None


JSON_BODY = {"content_type": "application/json", "content_length": "12"}


@pytest.mark.parametrize("origin", [
    "http://127.0.0.1:4000", "http://127.0.0.1", "https://evil.example", "null", "",
    "file://", "chrome-extension://abc", "http://127.0.0.1:3999.evil.example",
])
def test_a_foreign_origin_is_refused_for_every_method(origin: str) -> None:
    for method in ("GET", "POST", "DELETE", "OPTIONS"):
        assert _status(_scope(method=method, origin=origin, **JSON_BODY)) == 403


@pytest.mark.parametrize("site", ["same-site", "cross-site"])
def test_a_navigation_from_another_site_is_refused(site: str) -> None:
    assert _status(_scope("/api/v1/months/2026-11/billing.csv", "GET",
                          sec_fetch_site=site)) == 403


def test_own_origin_typed_address_and_tools_pass() -> None:
    assert _status(_scope(origin=f"http://{HOST}", **JSON_BODY)) is None
    assert _status(_scope(origin=f"HTTP://{HOST}", **JSON_BODY)) is None
    assert _status(_scope(method="GET", sec_fetch_site="none")) is None
    assert _status(_scope(sec_fetch_site="same-origin", **JSON_BODY)) is None
    assert _status(_scope(**JSON_BODY)) is None


def test_the_public_url_is_own_behind_a_proxy() -> None:
    public = "https://ccm.lakeside.example/"
    assert _status(_scope(origin="https://ccm.lakeside.example", **JSON_BODY), public) is None
    assert _status(_scope(origin="https://ccm.lakeside.example:8443", **JSON_BODY),
                   public) == 403
    assert own_authority(None) is None


def test_pages_and_assets_are_not_the_guards_business() -> None:
    assert _status(_scope("/patients", "GET", origin="https://evil.example")) is None
    assert _status(_scope("/sw.js", "GET", sec_fetch_site="cross-site")) is None


@pytest.mark.parametrize("content_type, path, expected", [
    ("application/json", "/api/v1/sync/push", None),
    ("application/json; charset=utf-8", "/api/v1/sync/push", None),
    ("text/plain", "/api/v1/sync/push", 415),
    ("text/plain;charset=UTF-8", "/api/v1/session", 415),
    ("application/x-www-form-urlencoded", "/api/v1/sync/push", 415),
    ("application/x-www-form-urlencoded", "/api/v1/session/form", None),
    ("multipart/form-data; boundary=x", "/api/v1/session/form", 415),
    ("", "/api/v1/months/2026-11/close", 415),
])
def test_bodies_are_json_or_the_pages_own_forms(content_type: str, path: str,
                                                expected: int | None) -> None:
    scope = _scope(path, content_type=content_type, content_length="12")
    assert _status(scope) == expected


def test_an_empty_post_needs_no_content_type() -> None:
    assert _status(_scope("/api/v1/months/2026-11/close", content_length="0")) is None
    assert _status(_scope("/api/v1/months/2026-11/close")) is None


def test_a_declared_length_over_the_limit_is_refused() -> None:
    at = _scope(content_type="application/json", content_length=str(MAX_BODY_BYTES))
    over = _scope(content_type="application/json", content_length=str(MAX_BODY_BYTES + 1))
    assert (_status(at), _status(over)) == (None, 413)


def _run(scope: dict[str, Any], chunks: list[bytes]) -> tuple[list[dict[str, Any]], bytes]:
    sent: list[dict[str, Any]] = []
    seen = bytearray()
    pending = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
               for i, chunk in enumerate(chunks)]

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.extend(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})

    run_in_own_loop(lambda: with_request_guard(app, "")(scope, receive, send))
    return sent, bytes(seen)


def test_a_streamed_body_is_counted_and_replayed() -> None:
    scope = _scope(content_type="application/json", transfer_encoding="chunked")
    sent, seen = _run(scope, [b'{"a":', b" 1}"])
    assert (sent[0]["status"], seen) == (200, b'{"a": 1}')
    piece = b" " * (MAX_BODY_BYTES // 4)
    sent, seen = _run(scope, [piece] * 5)
    assert (sent[0]["status"], seen) == (413, b"")


def test_a_foreign_websocket_is_closed_before_the_event_handlers() -> None:
    scope = _scope("/_event/", "GET", "websocket", origin="http://127.0.0.1:4000")
    sent, _ = _run(scope, [b""])
    assert sent == [{"type": "websocket.close", "code": 1008}]
    own = _scope("/_event/", "GET", "websocket", origin=f"http://{HOST}")
    assert refusal(own, None) is None
