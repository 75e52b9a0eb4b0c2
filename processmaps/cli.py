"""`rollout processmaps export|import`: maps and BPMN files from the command line."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from processmaps import bpmn, render, services
from processmaps.models import Process, ProcessVersion
from rollout.accounts.models import Department, User
from rollout.audit.services import acting_as, record_event
from rollout.cli import counted
from rollout.errors import ServiceError
from rollout.extensions import db

EXPORT_FORMATS = ("bpmn", "svg", "png", "pdf")


@click.group("processmaps")
def processmaps_group():
    """Process maps: export and import."""


@processmaps_group.command("export")
@click.argument("process_id", type=int)
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="bpmn", show_default=True)
@click.option("--version", "number", type=int, help="Version number (default: the approved version, else the draft).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="File to write (default: stdout).")
@with_appcontext
def export_command(process_id: int, fmt: str, number: int | None, output: str | None):
    """Write a process map as BPMN 2.0, SVG, PNG or PDF."""
    process = db.session.get(Process, process_id)
    if process is None:
        raise click.ClickException(f"no process with id {process_id}")
    if number is None:
        version = services.current_version(process)
    else:
        version = db.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id,
                                                                 ProcessVersion.number == number))
    if version is None:
        raise click.ClickException(f"process {process_id} has no version {number}")
    data = bpmn.export_bpmn(version) if fmt == "bpmn" else render.render(version, fmt)
    record_event("export", entity="process_versions", entity_id=version.id, detail=f"{fmt} (cli)")
    db.session.commit()
    if output:
        Path(output).write_bytes(data)
        click.echo(f"{process.name} v{version.number} → {output} ({counted(len(data), 'byte')})", err=True)
    else:
        sys.stdout.buffer.write(data)


@processmaps_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--department", "department_code", help="Code or name of the owning department.")
@click.option("--as-user", "username", default="admin", show_default=True, help="Who the import is recorded as.")
@with_appcontext
def import_command(path: str, department_code: str | None, username: str):
    """Create draft processes (or next versions of processes of the same name) from a BPMN 2.0 file and
    list what could not be mapped."""
    department_id = None
    if department_code:
        department = db.session.scalar(select(Department).where(
            (Department.code == department_code) | (Department.name == department_code)))
        if department is None:
            raise click.ClickException(f"no department {department_code}")
        department_id = department.id
    actor = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    data = Path(path).read_bytes()
    try:
        with acting_as(actor):
            result = bpmn.import_bpmn(data, actor=actor, department_id=department_id, file_name=Path(path).name)
            record_event("import", entity="processes",
                         entity_id=",".join(str(p.id) for p in result.processes),
                         detail=f"bpmn (cli) unmapped={len(result.unmapped)}")
    except ServiceError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    for version in result.versions:
        click.echo(f"imported process {version.process_id}: {version.process.name} v{version.number} "
                   f"({counted(len(version.nodes), 'step')}, {counted(len(version.edges), 'flow')}, draft)")
    for item in result.unmapped:
        click.echo(f"not mapped: {item}")


commands = [processmaps_group]
