"""`rollout changes ...`: jobs a scheduler runs daily (coming windows, agendas to reviewers, overdue releases)."""
import click
from flask.cli import with_appcontext

from rollout.cli import counted
from rollout.extensions import db


@click.group("changes")
def changes_group():
    """Review windows and agendas of change requests; reminders of overdue releases."""


@changes_group.command("generate-windows")
@with_appcontext
def generate_windows_command():
    """Create the coming windows of every active cadence."""
    from changes.services import extend_all_cadences
    created = extend_all_cadences()
    db.session.commit()
    click.echo(f"{counted(len(created), 'window')} created.")


@changes_group.command("send-agendas")
@click.option("--within-hours", default=48, show_default=True, help="Windows starting within this many hours.")
@with_appcontext
def send_agendas_command(within_hours):
    """Send reviewers the agenda of each window starting soon (once per window)."""
    from changes.services import send_due_agendas
    count = send_due_agendas(within_hours)
    db.session.commit()
    click.echo(f"{counted(count, 'agenda')} sent.")


@changes_group.command("remind")
@with_appcontext
def remind_command():
    """Tell the owner of each release whose planned day passed without it going live: the day after,
    then weekly while it stays overdue (run daily; a second run the same day tells nobody again)."""
    from changes.services import remind_overdue_releases
    count = remind_overdue_releases()
    db.session.commit()
    click.echo(f"{counted(count, 'overdue release')} recalled.")


commands = [changes_group]
