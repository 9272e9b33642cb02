"""The reminder job: compute what is due, claim each reminder once, send, record.

`run_due` is one pass (the lifespan loop calls it every minute, `ccm-pwa reminders run` once).
Exactly-once: a reminder's key (kind, user, local date) is inserted into
`reminder_delivery` in its own committed transaction *before* anything is sent; the unique
constraint lets exactly one scheduler win, even two on different hosts, and a restart finds
the key and sends nothing again. The price is at-most-once: if the process dies between
the claim and the send, that reminder is lost — acceptable for a hint (B20) whose content
the worklist shows anyway.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ccm_pwa.config import Settings, load_settings
from ccm_pwa.db import get_engine
from ccm_pwa.domain.reminders import Reminder, due_reminders
from ccm_pwa.models import Practice, ReminderDelivery
from ccm_pwa.push.delivery import record_results, targets_for
from ccm_pwa.push.leader import leader_lock
from ccm_pwa.push.sender import Outcome, PushMessage, PushSender, SendResult, Target
from ccm_pwa.push.vapid import load_vapid
from ccm_pwa.services.reminders import practice_settings, reminder_recipients

log = logging.getLogger(__name__)


@dataclass
class PlannedReminder:
    """A due reminder, who gets it, and (after a real run) what happened per device."""

    reminder: Reminder
    user_id: uuid.UUID
    email: str
    devices: int
    status: str = "due"  # due | claimed | skipped (no devices / already claimed) | sent | failed
    results: list[SendResult] = field(default_factory=list)

    @property
    def outcomes(self) -> list[str]:
        return [r.outcome for r in self.results]


def plan_due(*, session: Session, now: datetime) -> list[PlannedReminder]:
    """Every reminder due at `now`, for every practice, not already delivered (no writes)."""
    planned: list[PlannedReminder] = []
    for practice in session.exec(select(Practice).order_by(Practice.name)):
        zone, settings = ZoneInfo(practice.timezone), practice_settings(practice)
        recipients = reminder_recipients(session=session, practice=practice, now=now)
        due = [(user, r) for user, recipient in recipients
               for r in due_reminders(recipient, now=now, zone=zone, settings=settings)]
        devices = targets_for(session=session, user_ids=[u.id for u, _r in due])
        planned.extend(PlannedReminder(r, user.id, user.email, len(devices.get(user.id, [])))
                       for user, r in due)
    return planned


def run_due(*, now: datetime, dry_run: bool = False, db_url: str | None = None,
            settings: Settings | None = None, sender: PushSender | None = None,
            use_lock: bool = True) -> list[PlannedReminder]:
    """One pass of the job. Dry run: list what is due, write and send nothing.

    Returns the reminders considered; without the leader lock (another worker has it) an
    empty list.
    """
    settings = settings or load_settings()
    engine = get_engine(db_url or settings.database_url)
    if dry_run:
        with Session(engine) as session:
            return plan_due(session=session, now=now)
    if not use_lock:
        return _run(engine, now, settings, sender)
    with leader_lock(engine, redis_url=settings.redis_url) as held:
        if not held:
            log.debug("reminders: another worker holds the lock")
            return []
        return _run(engine, now, settings, sender)


def _run(engine: sa.Engine, now: datetime, settings: Settings, sender: PushSender | None
         ) -> list[PlannedReminder]:
    with Session(engine) as session:
        planned = plan_due(session=session, now=now)
        targets = targets_for(session=session, user_ids=[p.user_id for p in planned])
    jobs: list[tuple[Target, PushMessage]] = []
    keys: list[str] = []  # the reminder key of each job
    claimed: dict[str, PlannedReminder] = {}
    for item in planned:
        if not item.devices:
            item.status = "skipped"  # not claimed: a phone subscribed later today still gets it
            continue
        if not _claim(engine, item, now):
            item.status = "skipped"
            continue
        item.status = "claimed"
        claimed[item.reminder.key] = item
        message = as_message(item.reminder)
        for target in targets[item.user_id]:
            jobs.append((target, message))
            keys.append(item.reminder.key)
    if not jobs:
        return planned
    sender = sender or PushSender(load_vapid(settings), timeout=settings.push_timeout_seconds)
    results = sender.send_many(jobs)
    by_key: dict[str, list[SendResult]] = {}
    for key, result in zip(keys, results, strict=True):
        by_key.setdefault(key, []).append(result)
    with Session(engine) as session:
        for key, item_results in by_key.items():
            item = claimed[key]
            item.results = item_results
            item.status = "sent" if Outcome.SENT in item.outcomes else "failed"
            record_results(session=session, results=item_results, now=now, reminder_key=key)
            session.execute(sa.update(ReminderDelivery).where(
                ReminderDelivery.reminder_key == key).values(outcome=_summary(item)))
        session.commit()
    return planned


def _claim(engine: sa.Engine, item: PlannedReminder, now: datetime) -> bool:
    """Insert the delivery row in its own transaction; False if someone already has."""
    try:
        with Session(engine) as session:
            session.add(ReminderDelivery(reminder_key=item.reminder.key, user_id=item.user_id,
                                         sent_at=now, outcome="claimed"))
            session.commit()
        return True
    except IntegrityError:
        return False


def as_message(reminder: Reminder) -> PushMessage:
    return PushMessage(kind=str(reminder.kind), title=reminder.title, body=reminder.body,
                       url=reminder.url, tag=reminder.topic, ttl_seconds=reminder.ttl_seconds,
                       urgency=str(reminder.urgency), topic=reminder.topic)


def _summary(item: PlannedReminder) -> str:
    counts: dict[str, int] = {}
    for outcome in item.outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return ",".join(f"{k}:{v}" for k, v in sorted(counts.items()))[:200]


async def reminder_loop(interval_seconds: float = 60.0) -> None:
    """The lifespan task: one `run_due` per minute in a worker thread, forever.

    Every worker of the app runs this loop; the leader lock lets one of them send. Errors
    are logged and the loop goes on: a reminder problem must never take the app down.
    `CCM_REMINDERS=off` (test servers, a second site) disables it.
    """
    settings = load_settings()
    if not settings.reminders_enabled:
        log.info("reminders: disabled by CCM_REMINDERS=off")
        return
    log.info("reminders: job started (every %.0f s)", interval_seconds)
    while True:
        try:
            await asyncio.to_thread(run_due, now=datetime.now(UTC), settings=settings)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reminders: run failed; trying again next minute")
        loop_time = datetime.now(UTC).timestamp()
        await asyncio.sleep(interval_seconds - loop_time % interval_seconds)
