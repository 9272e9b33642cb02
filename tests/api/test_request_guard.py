"""Over HTTP: a page of another origin, carrying the care manager's cookie, changes nothing;
bodies are JSON and bounded; tools without a browser are unaffected."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import Session

from ccm_pwa.api.request_guard import MAX_BODY_BYTES
from ccm_pwa.models import Note
from tests.api.conftest import ApiServer
from tests.api.test_sync_push import World, batch


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


def _note_batch(world: World, body: str = "Called about the glucose log") -> dict[str, object]:
    return batch(str(uuid.uuid4()), (1, "note.add", {
        "note_id": str(uuid.uuid4()), "patient_id": str(world.rosa.id), "body": body}))


def _other_port(server: ApiServer) -> str:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return f"http://{host}:{int(port) + 1}"


@pytest.mark.parametrize("headers", [
    pytest.param({"Origin": "OTHER"}, id="another port of the same host"),
    pytest.param({"Origin": "https://evil.example"}, id="another site"),
    pytest.param({"Origin": "null"}, id="opaque origin"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, id="same site, no origin"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="cross site, no origin"),
])
def test_a_foreign_page_can_neither_write_nor_read(api_server: ApiServer, world: World,
                                                    headers: dict[str, str]) -> None:
    headers = {k: _other_port(api_server) if v == "OTHER" else v for k, v in headers.items()}
    push = httpx.post(f"{api_server.url}/api/v1/sync/push", json=_note_batch(world),
                      cookies=world.cookies, headers=headers)
    assert (push.status_code, push.json()) == (403, {
        "error": "forbidden", "detail": "cross-origin request refused"})
    assert world.count(Note) == 0
    read = httpx.get(f"{api_server.url}/api/v1/worklist", cookies=world.cookies,
                     headers=headers)
    assert read.status_code == 403
    assert "Family" not in read.text
    assert "access-control-allow-origin" not in read.headers


def test_the_apps_own_page_and_a_tool_without_a_browser_pass(api_server: ApiServer,
                                                             world: World) -> None:
    own = {"Origin": api_server.url, "Sec-Fetch-Site": "same-origin"}
    push = httpx.post(f"{api_server.url}/api/v1/sync/push", json=_note_batch(world),
                      cookies=world.cookies, headers=own)
    assert push.status_code == 200, push.text
    tool = httpx.post(f"{api_server.url}/api/v1/sync/push", json=_note_batch(world),
                      cookies=world.cookies)
    assert tool.status_code == 200, tool.text
    assert world.count(Note) == 2
    typed = httpx.get(f"{api_server.url}/api/v1/worklist", cookies=world.cookies,
                      headers={"Sec-Fetch-Site": "none"})  # the address typed in
    assert typed.status_code == 200


@pytest.mark.server_env(CCM_PUBLIC_URL="https://ccm.lakeside.example")
def test_the_public_origin_passes_behind_the_proxy(api_server: ApiServer, world: World) -> None:
    push = httpx.post(f"{api_server.url}/api/v1/sync/push", json=_note_batch(world),
                      cookies=world.cookies, headers={"Origin": "https://ccm.lakeside.example"})
    assert push.status_code == 200, push.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_a_body_that_is_not_json_is_refused(api_server: ApiServer, world: World,
                                            content_type: str | None) -> None:
    """`text/plain` is what a foreign page may post without a CORS preflight."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(f"{api_server.url}/api/v1/sync/push",
                          content=json.dumps(_note_batch(world)).encode(),
                          cookies=world.cookies, headers=headers)
    assert response.status_code == 415
    assert response.json()["detail"].startswith("content-type: must be application/json")
    assert world.count(Note) == 0


def test_the_sign_in_form_may_post_a_form(api_server: ApiServer) -> None:
    response = httpx.post(f"{api_server.url}/api/v1/session/form",
                          data={"email": "nobody@lakeside.example", "password": "x"})
    assert response.status_code == 303  # back to the sign-in page, not 415


def _chunks(total: int) -> Iterator[bytes]:
    piece = b" " * 65536
    for _ in range(total // len(piece)):
        yield piece


@pytest.mark.parametrize("streamed", [False, True], ids=["declared length", "chunked"])
def test_a_body_over_the_limit_is_refused(api_server: ApiServer, world: World,
                                          streamed: bool) -> None:
    note = _note_batch(world, "x" * 10)
    big = json.dumps(note).encode() + b" " * (MAX_BODY_BYTES + 1)
    content = _chunks(len(big) + 65536) if streamed else big
    response = httpx.post(f"{api_server.url}/api/v1/sync/push", content=content,
                          cookies=world.cookies, headers={"Content-Type": "application/json"},
                          timeout=60)
    assert response.status_code == 413
    assert response.json() == {"error": "too_large", "detail": "body: larger than 4 MiB"}
    assert world.count(Note) == 0


def test_a_chunked_body_under_the_limit_is_read_whole(api_server: ApiServer,
                                                      world: World) -> None:
    raw = json.dumps(_note_batch(world)).encode()
    response = httpx.post(f"{api_server.url}/api/v1/sync/push",
                          content=iter([raw[:10], raw[10:]]), cookies=world.cookies,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert world.count(Note) == 1
