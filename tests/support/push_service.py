"""A push service on loopback that checks what a real one checks (RFC 8030/8291/8292).

It receives `POST /push/<token>`, verifies the `Authorization: vapid t=<jwt>, k=<key>` header
(ES256 signature by the key in `k`, which must be the app's public key; `aud` = this
service's origin; `exp` in the future and at most 24 h ahead; `sub` a mailto: or https:
contact), requires a `TTL` header and `Content-Encoding: aes128gcm`, and decrypts the body
with the subscription's private key and auth secret, which the test generated as a browser
would (`BrowserSubscription`). Every request is recorded with its headers, verdict and
plaintext. What it answers is scripted per token: 201 by default, or a queue of statuses
(404, 410, 429 with Retry-After, 413, 5xx) and `hang` (no answer until released).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class BrowserSubscription:
    """What `PushManager.subscribe` creates in a browser: a P-256 key pair and auth secret."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    def to_json(self) -> dict[str, Any]:
        """`PushSubscription.toJSON()`."""
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth_secret)}}


@dataclass
class Received:
    token: str
    headers: dict[str, str]
    status: int
    vapid_ok: bool
    problems: list[str]
    claims: dict[str, Any] | None
    plaintext: bytes | None

    @property
    def payload(self) -> dict[str, Any]:
        assert self.plaintext is not None, self.problems
        return json.loads(self.plaintext)


class PushService:
    """Start with `with PushService(app_public_key) as service:`; `service.subscribe()`."""

    def __init__(self, app_public_key: str) -> None:
        self.app_public_key = app_public_key
        self.received: list[Received] = []
        self._subscriptions: dict[str, BrowserSubscription] = {}
        self._script: dict[str, deque[tuple[int | str, dict[str, str]]]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> PushService:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def subscribe(self) -> BrowserSubscription:
        token = b64url(os.urandom(12))
        subscription = BrowserSubscription(f"{self.origin}/push/{token}")
        with self._lock:
            self._subscriptions[token] = subscription
        return subscription

    def answer(self, subscription: BrowserSubscription, *responses: int | str,
               retry_after: str | None = None) -> None:
        """Queue answers for the next requests to this subscription (then 201 again)."""
        token = subscription.endpoint.rsplit("/", 1)[1]
        headers = {"Retry-After": retry_after} if retry_after else {}
        with self._lock:
            self._script[token].extend((r, headers) for r in responses)

    def for_subscription(self, subscription: BrowserSubscription) -> list[Received]:
        token = subscription.endpoint.rsplit("/", 1)[1]
        return [r for r in self.received if r.token == token]

    # -- the server side ----------------------------------------------------------------

    def _handle(self, token: str, headers: dict[str, str], body: bytes
                ) -> tuple[int | str, dict[str, str], Received]:
        problems: list[str] = []
        claims = self._check_vapid(headers.get("authorization", ""), problems)
        if "ttl" not in headers or not headers["ttl"].isdigit():
            problems.append("TTL header missing")
        if headers.get("content-encoding") != "aes128gcm":
            problems.append("content-encoding is not aes128gcm")
        topic = headers.get("topic")
        if topic is not None and (len(topic) > 32 or not all(
                c.isalnum() or c in "-_" for c in topic)):
            problems.append("Topic is not ≤32 URL-safe base64 characters")
        with self._lock:
            subscription = self._subscriptions.get(token)
            scripted = self._script[token].popleft() if self._script[token] else None
        plaintext = None
        if subscription is None:
            problems.append("unknown subscription")
        else:
            try:
                plaintext = http_ece.decrypt(body, private_key=subscription.private_key,
                                             auth_secret=subscription.auth_secret,
                                             version="aes128gcm")
            except Exception as exc:  # any failure to decrypt is the sender's bug
                problems.append(f"cannot decrypt: {type(exc).__name__}")
        answer, extra = scripted or (201, {})
        if problems and answer == 201:
            answer = 403 if claims is None else 400
        record = Received(token, headers, answer if isinstance(answer, int) else 0,
                          claims is not None, problems, claims, plaintext)
        with self._lock:
            self.received.append(record)
        return answer, extra, record

    def _check_vapid(self, authorization: str, problems: list[str]) -> dict[str, Any] | None:
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() != "vapid":
            problems.append("Authorization is not a vapid token")
            return None
        parts = dict(p.strip().split("=", 1) for p in rest.split(",") if "=" in p)
        if parts.get("k") != self.app_public_key:
            problems.append("VAPID key is not the app's public key")
            return None
        try:
            claims = vapid_jwt.decode(parts.get("t", ""), parts["k"])
        except Exception:
            problems.append("VAPID signature does not verify")
            return None
        now = time.time()
        if claims.get("aud") != self.origin:
            problems.append(f"aud {claims.get('aud')!r} is not {self.origin}")
        if not now < claims.get("exp", 0) <= now + 24 * 3600:
            problems.append("exp is not within the next 24 h")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            problems.append("sub is not a mailto: or https: contact")
        return claims if not problems else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                token = self.path.rsplit("/", 1)[-1]
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer, extra, _record = service._handle(token, headers, body)
                if answer == "hang":
                    service._release.wait(30)
                    return
                self.send_response(int(answer))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler
