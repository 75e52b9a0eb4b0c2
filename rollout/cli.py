"""The `rollout` command: Flask's CLI (run, db, shell) plus the project's own commands."""
from __future__ import annotations

import importlib

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from rollout.extensions import db


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """"1 customer", "2 customers": command output is in English, outside the translated pages."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def _create_app(*args, **kwargs):
    from rollout import create_app
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def main():
    """Rollout Desk: roll out a sales-plan-tracking system without the usual failures."""


@click.command("create-user")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="admin, lead, trainer, head or staff; repeatable.")
@click.option("--department", default=None, help="Department name or code.")
@click.option("--password", default=None, help="Prompted when omitted.")
@click.option("--name", "display_name", default=None)
@click.option("--seed-user", is_flag=True, default=False)
@with_appcontext
def create_user_command(username, roles, department, password, display_name, seed_user):
    """Create a user account."""
    from sqlalchemy import or_, select

    from rollout.accounts.models import Department
    from rollout.accounts.services import create_user
    from rollout.errors import ServiceError

    dept = None
    if department:
        dept = db.session.scalar(select(Department).where(or_(Department.name == department,
                                                               Department.code == department)))
        if dept is None:
            raise click.ClickException(f"No department named {department!r}.")
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        create_user(username, display_name or username, password, list(roles), dept, is_seed_user=seed_user)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    click.echo(f"Created {username} ({', '.join(roles)}).")


@click.command("demo-data")
@click.option("--force", is_flag=True, help="Load even when the database already has users.")
@with_appcontext
def demo_data_command(force):
    """Create a realistic demo company and every module's demo data."""
    from rollout.demo import load_demo
    accounts = load_demo(force=force)
    if accounts is None:
        click.echo("The database already has users; demo data not loaded (use --force).")
        return
    click.echo("Demo data loaded. Accounts (password for all: %s):" % accounts["password"])
    for username, label in accounts["users"]:
        click.echo(f"  {username:<16} {label}")


@click.command("init")
@with_appcontext
def init_command():
    """Upgrade the database and load demo data when it is empty (used by `make run`)."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from rollout.accounts.models import User
    upgrade()
    if not db.session.scalar(select(func.count()).select_from(User)):
        from rollout.demo import load_demo
        accounts = load_demo()
        click.echo("Demo data loaded. Password for every demo account: %s" % accounts["password"])
        for username, label in accounts["users"][:12]:
            click.echo(f"  {username:<16} {label}")
        click.echo("  ... (`rollout demo-data --force` lists them all)")


def register_commands(app: Flask) -> None:
    """Add the core commands and every package's `cli.commands`."""
    from rollout.backup import backup_command, restore_command
    from rollout.i18n import translations_group
    for command in (create_user_command, demo_data_command, init_command, translations_group,
                    backup_command, restore_command):
        app.cli.add_command(command)
    from rollout import existing_modules
    for name in existing_modules("cli"):
        module = importlib.import_module(name)
        for command in getattr(module, "commands", []):
            app.cli.add_command(command)
