"""Between the sender and the database: whom to send to, and what each outcome changes.

Sending happens outside any transaction (a slow push service must not hold a database
lock); the results are written afterwards, each outcome as one `push.send` audit row with
the kind, outcome and status, never the payload text.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from ccm_pwa.auth.audit import record_audit
from ccm_pwa.models import PushSubscription
from ccm_pwa.push.sender import Outcome, PushMessage, PushSender, SendResult, Target

TEST_MESSAGE = PushMessage(kind="test", title="Reminders are on",
                           body="This phone will get your care-management reminders.",
                           url="/", tag="test", ttl_seconds=600, urgency="normal", topic="test")


def targets_for(*, session: Session, user_ids: Iterable[uuid.UUID]
                ) -> dict[uuid.UUID, list[Target]]:
    ids = list(set(user_ids))
    found: dict[uuid.UUID, list[Target]] = defaultdict(list)
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for row in session.exec(select(PushSubscription).where(
                PushSubscription.user_id.in_(chunk)).order_by(PushSubscription.created_at)):
            found[row.user_id].append(Target(row.id, row.user_id, row.endpoint, row.p256dh,
                                             row.auth))
    return found


def record_results(*, session: Session, results: Iterable[SendResult], now: datetime,
                   reminder_key: str | None = None, client: str = "reminder job") -> None:
    """Apply each device's outcome to its subscription row and audit it.

    A dead subscription (404/410) is deleted only if its row still has the endpoint that
    failed: a browser that renewed it meanwhile (same row, new endpoint) keeps its row.
    """
    for result in results:
        target = result.target
        same_row = sa.and_(PushSubscription.id == target.subscription_id,
                           PushSubscription.endpoint == target.endpoint)
        if result.outcome == Outcome.GONE:
            session.execute(sa.delete(PushSubscription).where(same_row))
        elif result.outcome == Outcome.SENT:
            session.execute(sa.update(PushSubscription).where(same_row).values(
                last_success_at=now, failure_count=0))
        else:
            session.execute(sa.update(PushSubscription).where(same_row).values(
                failure_count=PushSubscription.failure_count + 1))
        record_audit(
            session=session, action="push.send", user_id=target.user_id, client=client,
            occurred_at=now,
            outcome="success" if result.outcome == Outcome.SENT else result.outcome,
            detail={"kind": result.message.kind, "outcome": result.outcome,
                    "status": result.status, "attempts": result.attempts,
                    "subscription_id": str(target.subscription_id),
                    "reminder_key": reminder_key, "ttl": result.message.ttl_seconds,
                    "urgency": result.message.urgency, "topic": result.message.topic,
                    "why": result.detail})


def send_test(*, session: Session, user_id: uuid.UUID, sender: PushSender, now: datetime,
              client: str) -> list[dict[str, object]]:
    """Send the test notification to every device of the user, now; per-device outcomes.

    The session's transaction is committed before sending so no lock is held meanwhile.
    """
    targets = targets_for(session=session, user_ids=[user_id]).get(user_id, [])
    session.commit()
    results = sender.send_many([(t, TEST_MESSAGE) for t in targets])
    record_results(session=session, results=results, now=now, client=client)
    return [{"id": str(r.target.subscription_id), "outcome": r.outcome, "status": r.status,
             "attempts": r.attempts} for r in results]
