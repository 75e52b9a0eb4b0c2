"""`rollout import TARGET FILE` and `rollout export customers` for scripted migrations of any size."""
from __future__ import annotations

import time
from pathlib import Path

import click
from flask.cli import with_appcontext

from rollout.cli import counted


def _actor(username: str | None):
    from sqlalchemy import select

    from rollout.accounts.models import User, UserRole
    from rollout.extensions import db
    if username:
        user = db.session.scalar(select(User).where(db.func.lower(User.username) == username.lower()))
        if user is None:
            raise click.ClickException(f"No user {username!r}.")
    else:
        user = db.session.scalar(select(User).join(UserRole).where(
            UserRole.role == "admin", User.is_active_account.is_(True)).order_by(User.id).limit(1))
        if user is None:
            raise click.ClickException("No administrator found; name the importing user with --as.")
    return user


@click.command("import")
@click.argument("target")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", "mapping_name", default=None, help="Name of a saved mapping template.")
@click.option("--dry-run", is_flag=True, help="Check everything and report; change nothing.")
@click.option("--encoding", default=None, help="Encoding of a CSV file (default: detected).")
@click.option("--sheet", default=None, help="Sheet of a workbook (default: the first visible one).")
@click.option("--header-row", type=click.IntRange(1, 10), default=None,
              help="Row of the column names (default: detected).")
@click.option("--as", "username", default=None, help="The importing user (default: the first administrator).")
@click.option("--department", default=None, help="Default department (name or code) of imported records.")
@click.option("--on-duplicate", type=click.Choice(["skip", "update", "create"]), default="skip",
              help="What to do with rows matching an existing record.")
@with_appcontext
def import_command(target, file, mapping_name, dry_run, encoding, sheet, header_row, username, department,
                   on_duplicate):
    """Import FILE (.xlsx/.csv/.txt) as TARGET (customers, contacts, activities, opportunities, plan_targets,
    users, departments) and print a summary."""
    from sqlalchemy import or_, select

    from rollout.accounts.models import Department
    from rollout.audit.services import acting_as
    from rollout.errors import ServiceError
    from rollout.extensions import db
    from rollout.imports import readers, services
    from rollout.imports.targets import all_targets

    if target not in all_targets():
        raise click.ClickException(f"Unknown target {target!r}; one of {', '.join(all_targets())}.")
    user = _actor(username)
    department_id = None
    if department:
        found = db.session.scalar(select(Department).where(or_(Department.name == department,
                                                                Department.code == department)))
        if found is None:
            raise click.ClickException(f"No department {department!r}.")
        department_id = found.id
    template = None
    if mapping_name:
        template = services.find_template(target, mapping_name)
        if template is None:
            raise click.ClickException(f"No mapping template {mapping_name!r} for {target}.")
    started = time.perf_counter()
    with acting_as(user):
        try:
            path = services.keep_file(file)
            batch = services.create_batch(user, target, path, file.name, encoding=encoding,
                                          department_id=department_id, template=template, sheet=sheet,
                                          header_row=header_row)
            services.set_decisions(batch, {}, on_duplicate, "skip")
            missing = [str(f.label) for f in services.get_target(target).fields()
                       if f.required and f.name not in batch.settings["mapping"].values()]
            if missing:
                raise ServiceError(f"No column found for required fields: {', '.join(missing)}; "
                                   f"columns are {', '.join(batch.source['headers'])}. Save a mapping template.")
            info = batch.source
            click.echo(f"{file.name}: {counted(info['row_count'], 'row')}, header row {info['header_row']}"
                       + (f", encoding {info['encoding']}" if info.get("encoding") else ""))
            headers = info["headers"]
            labels = {f.name: f.label for f in services.get_target(target).fields()}
            for index, field_name in sorted(batch.settings["mapping"].items(), key=lambda item: int(item[0])):
                click.echo(f"  {headers[int(index)]} → {labels.get(field_name, field_name)}")
            ignored = services.ignored_columns(batch)
            if ignored:
                names = ", ".join(name.strip() or f"column {index + 1}" for index, name in ignored)
                click.echo(f"Warning: {counted(len(ignored), 'column')} ignored (not imported): {names}. "
                           "To import a column, map it to a field on the import page and save the mapping as a "
                           "template (--mapping NAME), or rename the column to a field's name.", err=True)
            if dry_run:
                analysis = services.dry_run(batch, user, "all")
                db.session.rollback()  # a dry run leaves nothing behind, not even the draft batch
                readers.remove_kept_file(path)
                counts = analysis.counts
                click.echo(f"Dry run: would create {counts['create']}, update {counts['update']}, "
                           f"skip {counts['skip']}, reject {counts['error']} "
                           f"({len(analysis.near)} possible duplicates to review).")
                for outcome in analysis.errors[:20]:
                    click.echo(f"  row {outcome.number}: {outcome.text}")
                return
            db.session.commit()
            batch = services.run_import(batch, user, chunk_size=5000,
                                        progress=lambda n: click.echo(f"  {n} rows …", err=True))
        except ServiceError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from error
    elapsed = time.perf_counter() - started
    click.echo(f"Import #{batch.id} {batch.status}: created {batch.created_count}, updated {batch.updated_count}, "
               f"skipped {batch.skipped_count}, rejected {batch.error_count} in {elapsed:.1f}s.")
    if batch.message:
        from rollout.imports.messages import shown
        click.echo(shown(batch.message))
    if batch.error_count:
        click.echo(f"Rejected rows: download the error report from /imports/{batch.id}.")
    if batch.status != services.COMPLETED:
        raise SystemExit(1)


@click.command("export")
@click.argument("what", type=click.Choice(["customers"]))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="xlsx")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--as", "username", default=None, help="The exporting user, for the audit trail.")
@with_appcontext
def export_command(what, fmt, output, username):
    """Export every live customer with columns the importer recognises (a round trip is lossless)."""
    from rollout.audit.services import acting_as, record_event
    from rollout.extensions import db
    from rollout.imports.exporting import customer_rows
    from rollout.reports.exports import csv_bytes, xlsx_bytes
    from flask_babel import force_locale

    from rollout.i18n import language_of
    user = _actor(username)
    output = output or Path(f"{what}.{fmt}")
    columns, rows = customer_rows()
    # Words the system wrote (a source) in the language the exporting user reads the pages in.
    with acting_as(user), force_locale(language_of(user)):
        data, count = (xlsx_bytes(columns, rows, sheet_title="customers") if fmt == "xlsx"
                       else csv_bytes(columns, rows))
        output.write_bytes(data)
        record_event("export", entity="customers", detail=f"{fmt} rows={count} cli", user=user)
        db.session.commit()
    click.echo(f"Exported {counted(count, 'customer')} to {output}.")


commands = [import_command, export_command]
