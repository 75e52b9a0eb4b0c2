"""`rollout plans release-pool|remind-leads|notify-behind`: the public-pool sweep with its warning,
the hourly lead-deadline reminders and the weekly behind-plan notice."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from rollout.cli import counted
from rollout.extensions import db


def _system_actor():
    """The first active admin, to whom scheduled changes are attributed in the audit trail."""
    from rollout.accounts.models import User, UserRole
    return db.session.scalars(select(User).join(UserRole).where(
        UserRole.role == "admin", User.is_active_account.is_(True)).order_by(User.id).limit(1)).first()


@click.group("plans")
def plans_group():
    """Sales-plan tracking jobs (run them from cron)."""


@plans_group.command("release-pool")
@with_appcontext
def release_pool_command():
    """Return customers without follow-up for their department's N days to the public pool, and warn
    owners of the customers that return within the next days (daily)."""
    from rollout.audit.services import acting_as
    from rollout.plans.reminders import warn_pool
    from rollout.plans.services import release_pool
    with acting_as(_system_actor()):
        released = release_pool()
        warned = warn_pool()
    db.session.commit()
    click.echo(f"{counted(len(released), 'customer')} returned to the public pool; "
               f"owners warned of {counted(warned, 'customer')} returning soon.")


@plans_group.command("remind-leads")
@with_appcontext
def remind_leads_command():
    """Remind reps of lead hand-offs nearing their deadline; report missed deadlines to the rep, to who
    handed the lead over and to the rep's heads (hourly)."""
    from rollout.audit.services import acting_as
    from rollout.plans.reminders import remind_leads
    with acting_as(_system_actor()):
        result = remind_leads()
    db.session.commit()
    click.echo(f"{counted(result.reminded, 'lead')} due soon reminded; {counted(result.overdue, 'lead')} overdue "
               "reported.")


@plans_group.command("notify-behind")
@with_appcontext
def notify_behind_command():
    """Tell reps behind their current plan, and their heads (weekly)."""
    from rollout.audit.services import acting_as
    from rollout.plans.services import notify_behind
    with acting_as(_system_actor()):
        told = notify_behind()
    db.session.commit()
    click.echo(f"{counted(told, 'rep')} behind plan notified.")


commands = [plans_group]
