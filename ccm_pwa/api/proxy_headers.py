"""Trust the TLS-terminating proxy in front of the app — and only that proxy.

Behind nginx or Caddy the app itself speaks plain HTTP on loopback. Without the proxy's
`X-Forwarded-Proto` it would believe every request is `http`: no HSTS header, no `Secure`
`__Host-` session cookie. Without `X-Forwarded-For` the audit log would record the proxy's
address for every sign-in. Anyone can send those headers, so they count only when the
connection comes from an address in `CCM_TRUSTED_PROXIES` (default: none — nobody).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(spec: str) -> tuple[Network, ...]:
    """`127.0.0.1,::1,10.0.0.0/8` → networks; a bad entry is refused at start, named."""
    networks = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"CCM_TRUSTED_PROXIES: not an address or network: {item!r}"
                             ) from None
    return tuple(networks)


def _trusted(host: str | None, networks: Iterable[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return any(address in network for network in networks)


def with_proxy_headers(app: ASGIApp, trusted: str | None = None) -> ASGIApp:
    if trusted is None:
        from ccm_pwa.config import load_settings

        trusted = load_settings().trusted_proxies
    networks = trusted_networks(trusted)

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and networks:
            client = scope.get("client")
            if client and _trusted(client[0], networks):
                scope = _forwarded(scope, networks)
        await app(scope, receive, send)

    return middleware


def _forwarded(scope: Scope, networks: tuple[Network, ...]) -> Scope:
    headers = {key.lower(): value.decode("latin-1") for key, value in scope["headers"]}
    scope = dict(scope)
    proto = headers.get(b"x-forwarded-proto", "").split(",")[0].strip().lower()
    if proto in ("http", "https"):
        scope["scheme"] = proto if scope["type"] == "http" else proto.replace("http", "ws")
    hops = [hop.strip() for hop in headers.get(b"x-forwarded-for", "").split(",") if hop.strip()]
    # The nearest hop not ours is the client: anything further left the client could forge.
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            scope["client"] = (hop, 0)
            break
    return scope
