"""`rollout surveys ...`: XLSForm import/export and the daily survey jobs (recurring surveys, automatic
reminders, closing notices)."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from rollout.accounts.models import User
from rollout.audit.services import acting_as
from rollout.cli import counted
from rollout.errors import ServiceError
from rollout.extensions import db


def _actor(username: str | None):
    if not username:
        return None
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"No user named {username!r}.")
    return user


@click.group("surveys")
def surveys():
    """Surveys: XLSForm import and export, recurring surveys."""


@surveys.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--owner", default=None, help="Username recorded as the survey's owner.")
@with_appcontext
def import_command(file, owner):
    """Create a draft survey from an XLSForm workbook."""
    from surveys.xlsform import XLSFormErrors, import_xlsform
    user = _actor(owner)
    with acting_as(user):
        try:
            survey = import_xlsform(file.read_bytes(), user, fallback_title=file.stem)
        except XLSFormErrors as error:
            db.session.rollback()
            for problem in error.errors:
                click.echo(str(problem), err=True)
            raise click.ClickException(error.message) from error
        db.session.commit()
    click.echo(f"Imported survey {survey.id}: {survey.title} ({counted(len(survey.questions), 'question')}).")


@surveys.command("export")
@click.argument("survey_id", type=int)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def export_command(survey_id, file):
    """Write a survey's definition to an XLSForm workbook."""
    from surveys.models import Survey
    from surveys.xlsform import export_xlsform
    survey = db.session.get(Survey, survey_id)
    if survey is None:
        raise click.ClickException(f"No survey {survey_id}.")
    file.write_bytes(export_xlsform(survey))
    click.echo(f"Wrote {file}.")


@surveys.command("run-schedules")
@click.option("--as-user", "username", default=None, help="Username the changes are recorded under.")
@with_appcontext
def run_schedules_command(username):
    """The surveys' daily work (run daily; running it again tells nobody twice): open the next occurrence of
    every recurring survey that is due, tell the owners of surveys whose closing date has passed how many
    answered, and remind those who have not answered 3 days before a survey closes and on its last day."""
    from surveys.services import run_schedules, send_automatic_reminders, tell_closed_surveys
    with acting_as(_actor(username)):
        try:
            opened = run_schedules()
            closed = tell_closed_surveys()
            reminded = send_automatic_reminders()
        except ServiceError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from error
        db.session.commit()
    for survey in opened:
        click.echo(f"Opened survey {survey.id}: {survey.title} {survey.occurrence_on:%Y-%m}.")
    if not opened:
        click.echo("No recurring survey is due.")
    for survey, count in closed:
        click.echo(f"Survey {survey.id} ({survey.title}) has closed: told {counted(count, 'person', 'people')}.")
    for survey, count in reminded:
        click.echo(f"Survey {survey.id} ({survey.title}): reminded {counted(count, 'person', 'people')}.")
    if not reminded:
        click.echo("No automatic reminder is due.")


commands = [surveys]
