"""`rollout dashboard remind-milestones`, for cron."""
import click
from flask.cli import with_appcontext

from rollout.extensions import db


@click.group("dashboard")
def dashboard_group():
    """The rollout plan: reminders of overdue milestones."""


@dashboard_group.command("remind-milestones")
@with_appcontext
def remind_milestones_command():
    """Tell the project leads about rollout milestones past their date and not done (run daily)."""
    from rollout.dashboard.services import remind_overdue_milestones
    count = remind_overdue_milestones()
    db.session.commit()
    click.echo(f"Sent {count} overdue milestone reminder(s).")


commands = [dashboard_group]
