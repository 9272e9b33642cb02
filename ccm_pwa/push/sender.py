"""Send Web Push messages: pywebpush with every header and limit set explicitly (B16–B18).

pywebpush's defaults are wrong for reminders: `ttl=0` drops a message for a phone that is
offline at 09:00, and `webpush()` has no timeout, so one hung push service would hold a
worker forever. Here every send has a TTL (the reminder's useful life), `Urgency`, `Topic`
(a newer digest replaces an undelivered older one), a connect/read timeout, runs in a small
thread pool, and 429/5xx/timeouts are retried with backoff that honours Retry-After, within
a bounded number of attempts and a bounded total wait. This module does no database work:
it returns one `SendResult` per device and `push.delivery` records them.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from pywebpush import WebPusher

from ccm_pwa.push.vapid import VapidKeys

log = logging.getLogger(__name__)

# RFC 8291: 4096-byte records minus header, padding delimiter and tag.
MAX_PAYLOAD_BYTES = 3993
CONNECT_TIMEOUT_SECONDS = 3.05


class Outcome:
    SENT = "sent"  # 201: the push service accepted it (not proof of display)
    GONE = "gone"  # 404/410: the subscription is dead; its row is deleted
    REJECTED = "rejected"  # 400/401/403/413 and other 4xx: our bug or our VAPID key; alert
    THROTTLED = "throttled"  # still 429 when the retry budget ran out
    FAILED = "failed"  # still 5xx or unreachable when the retry budget ran out
    TIMEOUT = "timeout"  # no answer within the timeout, on every attempt


@dataclass(frozen=True)
class PushMessage:
    """One notification: the four payload fields plus the delivery headers."""

    kind: str
    title: str
    body: str
    url: str
    tag: str
    ttl_seconds: int
    urgency: str
    topic: str

    def payload(self) -> bytes:
        """`{title, body, url, tag}` and nothing else: the push service is a third party."""
        data = json.dumps({"title": self.title, "body": self.body, "url": self.url,
                           "tag": self.tag}, ensure_ascii=False, separators=(",", ":")).encode()
        if len(data) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"push payload of {len(data)} bytes exceeds {MAX_PAYLOAD_BYTES}")
        return data

    def headers(self) -> dict[str, str]:
        return {"Urgency": self.urgency, "Topic": self.topic}


@dataclass(frozen=True)
class Target:
    """A device to send to (a PushSubscription row's send-relevant columns)."""

    subscription_id: uuid.UUID
    user_id: uuid.UUID
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class SendResult:
    target: Target
    message: PushMessage
    outcome: str
    status: int | None
    attempts: int
    detail: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded: at most `attempts` tries and `max_total_wait` seconds of waiting in all."""

    attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_total_wait: float = 60.0


class PushSender:
    """Sends messages to devices from a bounded pool; safe to share between threads."""

    def __init__(self, vapid: VapidKeys, *, timeout: float = 10.0, max_workers: int = 4,
                 retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.vapid = vapid
        self.timeout = (min(CONNECT_TIMEOUT_SECONDS, timeout), timeout)
        self.max_workers = max_workers
        self.retry = retry or RetryPolicy()
        self._sleep = sleep

    def send_many(self, jobs: Sequence[tuple[Target, PushMessage]]) -> list[SendResult]:
        """Every job's result, in the order given; never raises for a device's failure."""
        if not jobs:
            return []
        with ThreadPoolExecutor(max_workers=self.max_workers,
                                thread_name_prefix="push") as pool:
            return list(pool.map(lambda job: self.send(*job), jobs))

    def send(self, target: Target, message: PushMessage) -> SendResult:
        data = message.payload()
        waited = 0.0
        result: SendResult | None = None
        for attempt in range(1, self.retry.attempts + 1):
            result, delay = self._attempt(target, message, data, attempt)
            if delay is None or attempt == self.retry.attempts:
                break
            delay = min(delay, self.retry.max_delay)
            if waited + delay > min(self.retry.max_total_wait, message.ttl_seconds):
                result = SendResult(target, message, result.outcome, result.status, attempt,
                                    f"{result.detail}; retry budget exhausted")
                break
            waited += delay
            self._sleep(delay)
        assert result is not None
        _log(result)
        return result

    def _attempt(self, target: Target, message: PushMessage, data: bytes, attempt: int
                 ) -> tuple[SendResult, float | None]:
        """One POST; the result, and how long to wait before retrying (None: do not)."""
        backoff = self.retry.base_delay * 2 ** (attempt - 1)
        headers = {**message.headers(), **self.vapid.authorization(target.endpoint)}
        subscription = {"endpoint": target.endpoint,
                        "keys": {"p256dh": target.p256dh, "auth": target.auth}}
        try:
            response = WebPusher(subscription).send(
                data, headers, ttl=message.ttl_seconds, content_encoding="aes128gcm",
                timeout=self.timeout)
        except requests.Timeout:
            return SendResult(target, message, Outcome.TIMEOUT, None, attempt,
                              "push service did not answer in time"), backoff
        except requests.RequestException as exc:
            return SendResult(target, message, Outcome.FAILED, None, attempt,
                              f"unreachable: {type(exc).__name__}"), backoff
        status = response.status_code
        if status in (200, 201, 202):
            return SendResult(target, message, Outcome.SENT, status, attempt), None
        if status in (404, 410):
            return SendResult(target, message, Outcome.GONE, status, attempt,
                              "subscription expired or unsubscribed"), None
        if status == 429 or status >= 500:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            outcome = Outcome.THROTTLED if status == 429 else Outcome.FAILED
            return SendResult(target, message, outcome, status, attempt,
                              f"push service answered {status}"), (
                                  max(wait, 0.0) if wait is not None else backoff)
        return SendResult(target, message, Outcome.REJECTED, status, attempt,
                          _rejection(status)), None


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _rejection(status: int) -> str:
    if status == 413:
        return "payload too large: a bug, payloads are kept under 3993 bytes"
    if status in (400, 401, 403):
        return "push service refused the request: check the VAPID key, subject and exp"
    return f"push service answered {status}"


def _log(result: SendResult) -> None:
    where = result.target.endpoint.split("/")[2] if "//" in result.target.endpoint else "?"
    if result.outcome == Outcome.REJECTED:
        # An alert: 400/403 mean our VAPID identity is wrong for every device, 413 is a bug.
        log.error("ALERT push %s to %s rejected with %s: %s", result.message.kind, where,
                  result.status, result.detail)
    elif result.outcome in (Outcome.SENT, Outcome.GONE):
        log.info("push %s to %s: %s (%s)", result.message.kind, where, result.outcome,
                 result.status)
    else:
        log.warning("push %s to %s: %s after %d attempt(s) (%s)", result.message.kind, where,
                    result.outcome, result.attempts, result.detail)
