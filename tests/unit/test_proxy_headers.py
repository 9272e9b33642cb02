"""X-Forwarded-* count only from the trusted proxy; then the scheme and client follow them."""

from __future__ import annotations

from typing import Any

import pytest

from ccm_pwa.api.proxy_headers import trusted_networks, with_proxy_headers
from tests.support.event_loop import run_in_own_loop


def _seen(trusted: str, client: str, headers: dict[str, str], kind: str = "http"
          ) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(scheme=scope["scheme"], client=scope["client"][0])

    scope = {"type": kind, "scheme": "http" if kind == "http" else "ws",
             "client": (client, 50000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    run_in_own_loop(lambda: with_proxy_headers(app, trusted)(scope, None, None))
    return seen


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9, 10.0.0.5"}


def test_the_trusted_proxy_sets_scheme_and_client() -> None:
    assert _seen("127.0.0.1,10.0.0.0/8", "127.0.0.1", FORWARDED) == {
        "scheme": "https", "client": "198.51.100.9"}


def test_a_websocket_behind_tls_is_wss() -> None:
    assert _seen("127.0.0.1", "127.0.0.1", {"X-Forwarded-Proto": "https"}, "websocket"
                 )["scheme"] == "wss"


def test_anyone_else_cannot_claim_https_or_another_address() -> None:
    assert _seen("127.0.0.1", "203.0.113.50", FORWARDED) == {
        "scheme": "http", "client": "203.0.113.50"}


def test_an_empty_list_trusts_nobody() -> None:
    assert _seen("", "127.0.0.1", FORWARDED) == {"scheme": "http", "client": "127.0.0.1"}


def test_a_forged_leftmost_hop_is_ignored() -> None:
    headers = {"X-Forwarded-For": "1.2.3.4, 198.51.100.9"}
    assert _seen("127.0.0.1", "127.0.0.1", headers)["client"] == "198.51.100.9"


def test_a_bad_entry_is_named() -> None:
    with pytest.raises(ValueError, match="CCM_TRUSTED_PROXIES: not an address or network: 'lb'"):
        trusted_networks("127.0.0.1, lb")


def test_by_default_nobody_is_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A local process must not forge the audit IP: loopback is not trusted unless named."""
    monkeypatch.delenv("CCM_TRUSTED_PROXIES", raising=False)
    from ccm_pwa.config import load_settings

    assert load_settings().trusted_proxies == ""
    assert _seen(load_settings().trusted_proxies, "127.0.0.1", FORWARDED) == {
        "scheme": "http", "client": "127.0.0.1"}
