"""`rollout retros remind`, for cron."""
import click
from flask.cli import with_appcontext

from rollout.extensions import db


@click.group("retros")
def retros_group():
    """Weekly retrospectives: reminders of action items."""


@retros_group.command("remind")
@with_appcontext
def remind_command():
    """Remind owners of retro action items due soon or overdue (run daily)."""
    from rollout.retros.services import remind_action_items
    count = remind_action_items()
    db.session.commit()
    click.echo(f"Sent {count} action item reminder(s).")


commands = [retros_group]
