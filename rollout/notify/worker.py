"""The outbox worker: claim due messages, deliver them outside any transaction, record the outcome.

This is the one place in the package that commits, because a worker is its
own unit of work: a claim must be visible to other workers before sending
starts, and every outcome must be kept even if a later message fails.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy.exc import IntegrityError

from rollout.extensions import db
from rollout.notify import services
from rollout.notify.delivery import DeliveryError, deliver
from rollout.timeutil import to_local, utcnow

log = logging.getLogger(__name__)


def drain_once(now=None, batch: int = 50) -> dict[str, int]:
    """Deliver every message due at ``now``, batch by batch; return counts of sent, retry and dead."""
    counts = {"sent": 0, "retry": 0, "dead": 0}
    while True:
        moment = now or utcnow()
        token = services.claim_due(moment, batch)
        db.session.commit()
        messages = services.claimed_messages(token)
        db.session.commit()  # end the read transaction: nothing is held open while sending
        if not messages:
            return counts
        for message in messages:
            try:
                deliver(message)
            except DeliveryError as error:
                services.record_failure(message, str(error), now or utcnow())
                counts["dead" if message.status == "dead" else "retry"] += 1
                log.warning("outbox message %s (%s) failed: %s", message.id, message.kind, error)
            except Exception as error:  # a bug must not stop the other messages
                services.record_failure(message, f"{type(error).__name__}: {error}", now or utcnow())
                counts["dead" if message.status == "dead" else "retry"] += 1
                log.exception("outbox message %s crashed the sender", message.id)
            else:
                services.record_success(message, now or utcnow())
                counts["sent"] += 1
            db.session.commit()
        if len(messages) < batch:
            return counts


def queue_todays_digests(digest_hour: int) -> int:
    """Queue the daily digests once the local clock passes ``digest_hour`` (safe to call often)."""
    if to_local(utcnow()).hour < digest_hour:
        return 0
    try:
        count = services.queue_digests()
        db.session.commit()
    except IntegrityError:
        # Another worker queued the same day's digest first (same idempotency key).
        db.session.rollback()
        return 0
    return count


def run_forever(interval: float, batch: int = 50, digest_hour: int | None = None,
                should_stop=lambda: False) -> None:
    """Drain the outbox every ``interval`` seconds until ``should_stop()``; queue digests daily if asked."""
    while not should_stop():
        try:
            if digest_hour is not None:
                queue_todays_digests(digest_hour)
            counts = drain_once(batch=batch)
            if any(counts.values()):
                log.info("outbox: %s", counts)
        except Exception:  # the database may be briefly away; keep the worker alive
            db.session.rollback()
            log.exception("outbox run failed; trying again in %s s", interval)
        # Sleep in short steps so a stop request is honoured promptly.
        deadline = time.monotonic() + interval
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(min(0.2, interval))
