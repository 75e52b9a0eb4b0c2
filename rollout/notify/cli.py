"""`rollout outbox run|digest|status`: drain the outbox and send daily digests."""
from __future__ import annotations

import signal
import threading

import click
from flask.cli import with_appcontext

from rollout.extensions import db


@click.group("outbox")
def outbox_group():
    """Deliver queued email and chat-robot messages."""


@outbox_group.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now, then stop.")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between runs as a long-running worker.")
@click.option("--batch", default=50, show_default=True, type=click.IntRange(min=1, max=1000),
              help="Messages claimed at a time.")
@click.option("--digest-hour", default=None, type=click.IntRange(min=0, max=23),
              help="Also queue the daily digests once a day after this local hour (instead of a cron job).")
@with_appcontext
def run_command(once, interval, batch, digest_hour):
    """Drain the outbox once, or keep draining it (several workers may run on PostgreSQL)."""
    from rollout.notify.worker import drain_once, run_forever
    if once:
        counts = drain_once(batch=batch)
        click.echo(f"sent {counts['sent']}, retry later {counts['retry']}, dead {counts['dead']}")
        return
    stop = threading.Event()
    # SIGTERM (systemd, docker stop) finishes the message in hand, then exits.
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    click.echo(f"Draining the outbox every {interval:g} s; Ctrl+C stops.")
    try:
        run_forever(interval, batch, digest_hour=digest_hour, should_stop=stop.is_set)
    except KeyboardInterrupt:
        pass
    click.echo("Stopped.")


@outbox_group.command("digest")
@with_appcontext
def digest_command():
    """Queue each digest user's one message with their unread notifications of the day."""
    from rollout.notify.services import queue_digests
    count = queue_digests()
    db.session.commit()
    click.echo(f"Queued {count} digest message(s); `rollout outbox run --once` sends them.")


@outbox_group.command("status")
@with_appcontext
def status_command():
    """Count outbox messages per status."""
    from rollout.notify.services import outbox_counts
    counts = outbox_counts()
    for status in ("pending", "sending", "sent", "dead"):
        click.echo(f"{status:<8} {counts.get(status, 0)}")


commands = [outbox_group]
