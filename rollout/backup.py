"""Backups: SQLite through its online backup API, PostgreSQL through pg_dump/pg_restore."""
from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import click
from flask.cli import with_appcontext

from rollout.extensions import db


def _pg_environment(url) -> tuple[list[str], dict]:
    """Connection arguments for the PostgreSQL client tools (password via the environment)."""
    args = ["-h", url.host or "localhost", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return args, env


def _sqlite_path(url) -> str:
    if not url.database or url.database == ":memory:":
        raise click.ClickException("An in-memory SQLite database cannot be backed up.")
    return url.database


def backup_to(path: Path) -> None:
    """Write a consistent copy of the whole database to ``path`` while the app keeps running."""
    url = db.engine.url
    path.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(path)
        try:
            source.backup(target)  # the online backup API: a consistent snapshot
        finally:
            target.close()
            source.close()
        return
    args, env = _pg_environment(url)
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(path), *args, url.database],
                   check=True, env=env, capture_output=True)


def restore_from(path: Path) -> None:
    """Replace the database's contents with the backup at ``path``."""
    if not path.exists():
        raise click.ClickException(f"No backup at {path}.")
    from rollout import figures
    url = db.engine.url
    db.session.remove()
    db.engine.dispose()
    figures.clear()  # ids start again from the backup's; running servers forget theirs within a minute
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(path)
        target = sqlite3.connect(_sqlite_path(url))
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return
    args, env = _pg_environment(url)
    subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                    "-d", url.database, *args, str(path)], check=True, env=env, capture_output=True)


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path):
    """Back up the database to PATH (safe while the app runs)."""
    try:
        backup_to(path)
    except subprocess.CalledProcessError as error:
        raise click.ClickException(error.stderr.decode(errors="replace")) from error
    click.echo(f"Backup written to {path}")


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(path, yes):
    """Replace the database's contents with the backup at PATH."""
    if not yes:
        click.confirm("This replaces every record in the database. Continue?", abort=True)
    try:
        restore_from(path)
    except subprocess.CalledProcessError as error:
        raise click.ClickException(error.stderr.decode(errors="replace")) from error
    click.echo(f"Restored from {path}")
