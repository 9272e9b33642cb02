"""Only one worker runs the reminder job at a time: a leader lock per backend.

- Redis configured (`CCM_REDIS_URL`): `SET key holder NX PX ttl`, released only by its holder.
- PostgreSQL: `pg_try_advisory_lock` on a dedicated connection, held for the run; the
  server drops it if the process dies, so a crash never leaves it stuck.
- SQLite: a `scheduler_lease` row with an expiry, taken by a conditional UPDATE or INSERT.

The lock makes a run cheap for the losers; exactly-once itself rests on the unique
`reminder_delivery.reminder_key`, which holds even if two runs overlap anyway.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ccm_pwa.models import SchedulerLease, utc_now

log = logging.getLogger(__name__)

JOB_NAME = "reminders"
LEASE = timedelta(minutes=5)  # longer than a run; a crashed holder blocks at most this long
# A fixed 64-bit key for pg_try_advisory_lock ("ccm-rem" in ASCII).
ADVISORY_KEY = 0x63636D2D72656D


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@contextmanager
def leader_lock(engine: sa.Engine, *, redis_url: str | None = None,
                name: str = JOB_NAME) -> Iterator[bool]:
    """Yields True if this caller holds the job's lock for the block, False if another does."""
    if redis_url:
        with _redis_lock(redis_url, name) as held:
            yield held
    elif engine.dialect.name == "postgresql":
        with _advisory_lock(engine) as held:
            yield held
    else:
        with _lease(engine, name) as held:
            yield held


@contextmanager
def _advisory_lock(engine: sa.Engine) -> Iterator[bool]:
    with engine.connect() as connection:
        held = bool(connection.execute(sa.text("SELECT pg_try_advisory_lock(:k)"),
                                       {"k": ADVISORY_KEY}).scalar())
        connection.commit()
        try:
            yield held
        finally:
            if held:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                connection.commit()


@contextmanager
def _lease(engine: sa.Engine, name: str) -> Iterator[bool]:
    me = holder_id()
    held = take_lease(engine, name, me)
    try:
        yield held
    finally:
        if held:
            with engine.begin() as connection:
                connection.execute(sa.delete(SchedulerLease).where(
                    SchedulerLease.name == name, SchedulerLease.holder == me))


def take_lease(engine: sa.Engine, name: str, me: str) -> bool:
    """Take the lease if it is free or expired; one conditional statement decides."""
    now = utc_now()
    lease = SchedulerLease.__table__
    with engine.begin() as connection:
        taken = connection.execute(sa.update(lease).where(
            lease.c.name == name,
            sa.or_(lease.c.expires_at < now, lease.c.holder == me)).values(
            holder=me, expires_at=now + LEASE)).rowcount
        if taken:
            return True
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(lease).values(name=name, holder=me,
                                                       expires_at=now + LEASE))
        return True
    except IntegrityError:
        return False


@contextmanager
def _redis_lock(url: str, name: str) -> Iterator[bool]:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    key, me = f"ccm_pwa:lock:{name}", holder_id()
    try:
        held = bool(client.set(key, me, nx=True, px=int(LEASE.total_seconds() * 1000)))
        try:
            yield held
        finally:
            if held:
                # delete only our own lock (it may have expired and been taken by another)
                client.eval("if redis.call('get', KEYS[1]) == ARGV[1] then "
                            "return redis.call('del', KEYS[1]) else return 0 end", 1, key, me)
    finally:
        client.close()
