"""`rollout training remind` and `rollout training escalate`, for cron."""
import click
from flask.cli import with_appcontext

from rollout.extensions import db


@click.group("training")
def training_group():
    """Training reminders and support escalation."""


@training_group.command("remind")
@with_appcontext
def remind_command():
    """Remind people of sessions starting soon and of overdue required training; tell trainers of attendance
    not recorded and of sessions nobody signed up for, and waitlisted people when sign-up closed. Run it daily
    (twice a day is safe: nobody is told twice)."""
    from training.follow_up import follow_up_sessions
    from training.services import send_reminders
    sessions, overdue = send_reminders()
    counts = follow_up_sessions()
    db.session.commit()
    click.echo(f"Reminded participants of {sessions} session(s); {overdue} overdue reminder(s) sent.")
    click.echo(f"Attendance to record: {counts.attendance} prompt(s), {counts.attendance_again} second prompt(s); "
               f"{counts.waitlist_closed} waitlisted person(s) told sign-up closed; "
               f"{counts.no_sign_ups} told of a session nobody signed up for.")


@training_group.command("escalate")
@with_appcontext
def escalate_command():
    """Hand support requests that got no answer in time to the rollout team."""
    from training.support import escalate_overdue
    count = escalate_overdue()
    db.session.commit()
    click.echo(f"Escalated {count} support request(s).")


commands = [training_group]
