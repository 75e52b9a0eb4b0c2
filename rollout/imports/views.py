"""Import pages: upload, preview with mapping and cleaning, dry run, run, undo, error report."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from rollout import figures
from rollout.access import authorize, require, scope_clause
from rollout.accounts.services import department_choices
from rollout.audit.services import record_event
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.imports import readers, services
from rollout.imports.forms import NO_CHOICE, CheckForm, ConfirmForm, SourceForm, UploadForm
from rollout.imports.messages import in_words, shown
from rollout.imports.models import DRAFT, ImportBatch, MappingTemplate
from rollout.imports.targets import get_target
from rollout.reports.exports import XLSX_MIME, download_response
from rollout.web import apply_service_error, paginate

bp = Blueprint("imports", __name__, url_prefix="/imports")


@bp.context_processor
def kept_messages():
    """Kept messages (rejected rows' reasons, a run's failure) in the reader's language."""
    return {"in_words": in_words, "shown": shown}


def _upload_form() -> UploadForm:
    form = UploadForm()
    user = current_user._get_current_object()
    form.target.choices = [(t.name, str(t.label)) for t in services.available_targets(user)]
    allowed = services.writable_department_ids(user)
    form.department_id.choices = [(NO_CHOICE, "—")] + [
        (dept_id, name) for dept_id, name in department_choices() if allowed is None or dept_id in allowed]
    templates = db.session.scalars(select(MappingTemplate).order_by(MappingTemplate.target, MappingTemplate.name))
    form.template_id.choices = [(NO_CHOICE, _("Match columns automatically"))] + [
        (t.id, f"{t.name} ({get_target(t.target).label if get_target(t.target) else t.target})") for t in templates]
    return form


def _index(form, status=200):
    user = current_user._get_current_object()
    query = services.batches_query().where(
        scope_clause(user, "data.import", ImportBatch.department_id, ImportBatch.created_by_id),
        ImportBatch.target.in_(sorted(_importable())))
    page = paginate(query.options(db.joinedload(ImportBatch.created_by)), per_page=20)
    return render_template("imports/index.html", form=form, page=page, targets=services.all_targets(),
                           status_labels=services.STATUS_LABELS,
                           web_limit_mb=services.web_size_limit() // 1024 // 1024), status


@bp.route("/")
@require("data.import")
def index():
    return _index(_upload_form())


@bp.route("/upload", methods=["POST"])
@require("data.import")
def upload():
    form = _upload_form()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        storage = form.file.data
        try:
            path = services.save_upload(storage.stream, storage.filename, services.web_size_limit())
            template = db.session.get(MappingTemplate, form.template_id.data) if form.template_id.data else None
            batch = services.create_batch(user, form.target.data, path, storage.filename,
                                          encoding=form.encoding.data or None,
                                          department_id=form.department_id.data or None, template=template)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            return redirect(url_for("imports.batch", batch_id=batch.id))
    return _index(form, 422)


def _load(batch_id: int) -> ImportBatch:
    batch = db.get_or_404(ImportBatch, batch_id)
    authorize("data.import", batch)
    if batch.target not in _importable():  # a users import is for those who may manage users
        abort(403)
    return batch


def _importable() -> set[str]:
    return {target.name for target in services.available_targets(current_user._get_current_object())}


def _source_form(batch: ImportBatch) -> SourceForm:
    form = SourceForm(prefix="source")
    info = batch.source
    if info.get("kind") == readers.XLSX:
        try:
            form.sheet.choices = [(name, name) for name in readers.sheet_names(services.stored_path(batch))]
        except ServiceError:
            form.sheet.choices = []
    else:
        form.sheet.choices = []
    if request.method == "GET" or not form.is_submitted():
        form.encoding.data = info.get("encoding") or ""
        form.separator.data = info.get("separator") or ""
        form.header_row.data = info.get("header_row")
        form.sheet.data = info.get("sheet") or (form.sheet.choices[0][0] if form.sheet.choices else None)
    return form


def _render_batch(batch: ImportBatch, status: int = 200, analysis=None, check_form=None, source_form=None,
                  mapping_error=None, decisions_error=None):
    user = current_user._get_current_object()
    target = get_target(batch.target)
    preview_rows, preview_error = [], None
    if batch.status == DRAFT:
        try:
            preview_rows = services.preview(batch, user)
        except ServiceError as error:
            preview_error = error.message
    templates = db.session.scalars(select(MappingTemplate).where(MappingTemplate.target == batch.target)
                                   .order_by(MappingTemplate.name)).all()
    allowed = services.writable_department_ids(user)
    departments = [(d, n) for d, n in department_choices() if allowed is None or d in allowed]
    fields = target.fields() if target else []
    field_labels = {f.name: f.label for f in fields}
    headers = batch.source.get("headers", [])
    mapping = batch.settings.get("mapping", {})
    mapped = [(index, header, mapping[str(index)]) for index, header in enumerate(headers) if mapping.get(str(index))]
    examples = next((raw for _n, _cells, _problem, raw in preview_rows if any(c.strip() for c in raw)), [])
    if analysis is None and batch.status == DRAFT:
        analysis = services.last_dry_run(batch)
        if analysis is not None and check_form is None:
            check_form = CheckForm(prefix="check", formdata=None, sample=analysis.sample, first_n=analysis.first_n)
    undo_blocker = None
    if batch.status in (services.COMPLETED, services.FAILED):
        # The checks read every record the import made: kept until the next write.
        undo_blocker = figures.cached(("import-undo", batch.id), lambda: services.undo_blocker(batch))
    skipped, skipped_recorded = [], True
    if batch.status != DRAFT and batch.skipped_count:
        skipped, skipped_recorded = services.skipped_rows(batch)
    return render_template(
        "imports/batch.html", batch=batch, skipped_rows=skipped, skipped_recorded=skipped_recorded,
        reimports=services.reimports_of(batch), target=target, fields=fields, field_labels=field_labels,
        headers=headers, mapping=mapping, mapped=mapped, examples=examples,
        keep=set(batch.settings.get("keep", [])), preview_rows=preview_rows, preview_error=preview_error,
        analysis=analysis, check_form=check_form or CheckForm(prefix="check"),
        source_form=source_form or _source_form(batch), confirm=ConfirmForm(), templates=templates,
        departments=departments, status_labels=services.STATUS_LABELS, rule_labels=services.RULE_LABELS,
        key_labels=services.KEY_LABELS,
        decisions=batch.settings.get("decisions", {}), mapping_error=mapping_error,
        decisions_error=decisions_error, separators=readers.SEPARATORS,
        errors_preview=_errors_preview(batch), undo_blocker=undo_blocker,
        undo_blocker_text=services.blocker_text(undo_blocker) if undo_blocker else None), status


def _errors_preview(batch):
    from rollout.imports.models import ImportRowError
    if not batch.error_count:
        return []
    return db.session.scalars(select(ImportRowError).where(ImportRowError.batch_id == batch.id)
                              .order_by(ImportRowError.row_number).limit(20)).all()


@bp.route("/<int:batch_id>")
@require("data.import")
def batch(batch_id):
    return _render_batch(_load(batch_id))


@bp.route("/<int:batch_id>/source", methods=["POST"])
@require("data.import")
def source(batch_id):
    batch = _load(batch_id)
    form = _source_form(batch)
    if form.validate_on_submit():
        try:
            services.reread(batch, form.encoding.data, form.separator.data, form.header_row.data, form.sheet.data)
        except ServiceError as error:
            db.session.rollback()
            form.encoding.errors = list(form.encoding.errors) + [error.message]
            return _render_batch(db.get_or_404(ImportBatch, batch_id), 422, source_form=form)
        flash(_("The file was read again with these settings."), "success")
        return redirect(url_for("imports.batch", batch_id=batch.id))
    return _render_batch(batch, 422, source_form=form)


def _posted_mapping(batch):
    headers = batch.source.get("headers", [])
    mapping = {i: request.form.get(f"col-{i}", "") for i in range(len(headers))}
    keep = [i for i in range(len(headers)) if request.form.get(f"keep-{i}")]
    return mapping, keep


@bp.route("/<int:batch_id>/mapping", methods=["POST"])
@require("data.import")
def mapping(batch_id):
    batch = _load(batch_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    user = current_user._get_current_object()
    mapping_values, keep = _posted_mapping(batch)
    try:
        department_id = int(request.form.get("department_id") or 0) or None
        template_id = int(request.form.get("template_id") or 0)
    except ValueError:
        department_id, template_id = -1, 0
    try:
        if template_id:
            template = db.session.get(MappingTemplate, template_id)
            if template is None:
                raise ServiceError(_("The template no longer exists."), "template_id")
            services.apply_template(batch, template)
            flash(_("Template %(name)s applied.", name=template.name), "success")
        else:
            services.set_mapping(batch, mapping_values, keep, department_id, user)
            name = (request.form.get("template_name") or "").strip()
            if name:
                services.save_template(batch, name, user)
                flash(_("Mapping saved as template %(name)s.", name=name), "success")
            else:
                flash(_("Mapping saved."), "success")
    except ServiceError as error:
        db.session.rollback()
        batch = db.get_or_404(ImportBatch, batch_id)
        # Show the user's choices again, not the saved ones.
        batch.settings = {**batch.settings, "mapping": {str(k): v for k, v in mapping_values.items() if v},
                          "keep": keep}
        response = _render_batch(batch, 422, mapping_error=error.message)
        db.session.rollback()
        return response
    return redirect(url_for("imports.batch", batch_id=batch.id) + "#preview")


@bp.route("/<int:batch_id>/check", methods=["POST"])
@require("data.import")
def check(batch_id):
    batch = _load(batch_id)
    form = CheckForm(prefix="check")
    if not form.validate_on_submit():
        return _render_batch(batch, 422, check_form=form)
    try:
        analysis = services.dry_run(batch, current_user._get_current_object(), form.sample.data,
                                    form.first_n.data or 100)
    except ServiceError as error:
        form.sample.errors = list(form.sample.errors) + [error.message]
        return _render_batch(batch, 422, check_form=form)
    return _render_batch(batch, analysis=analysis, check_form=form)


@bp.route("/<int:batch_id>/decisions", methods=["POST"])
@require("data.import")
def decisions(batch_id):
    batch = _load(batch_id)
    form = CheckForm(prefix="check")
    if not form.validate_on_submit():
        return _render_batch(batch, 422, check_form=form)
    chosen = {key[len("group-"):]: value for key, value in request.form.items() if key.startswith("group-")}
    try:
        services.set_decisions(batch, chosen, request.form.get("default_existing", "skip"),
                               request.form.get("default_file", "skip"))
    except ServiceError as error:
        db.session.rollback()
        return _render_batch(db.get_or_404(ImportBatch, batch_id), 422, check_form=form,
                             decisions_error=error.message)
    db.session.flush()
    analysis = services.dry_run(batch, current_user._get_current_object(), form.sample.data, form.first_n.data or 100)
    flash(_("Your choices for the duplicates are saved."), "success")
    return _render_batch(batch, analysis=analysis, check_form=form)


@bp.route("/<int:batch_id>/run", methods=["POST"])
@require("data.import")
def run(batch_id):
    batch = _load(batch_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        batch = services.run_import(batch, current_user._get_current_object())
    except ServiceError as error:
        apply_service_error(None, error)
        return _render_batch(db.get_or_404(ImportBatch, batch_id), 422)
    if batch.status == services.COMPLETED:
        flash(_("Import finished: %(created)d created, %(updated)d updated, %(skipped)d skipped, %(errors)d rejected.",
                created=batch.created_count, updated=batch.updated_count, skipped=batch.skipped_count,
                errors=batch.error_count), "success")
    else:
        flash(shown(batch.message) or _("The import stopped."), "danger")
    return redirect(url_for("imports.batch", batch_id=batch.id))


@bp.route("/<int:batch_id>/undo", methods=["POST"])
@require("data.import")
def undo(batch_id):
    batch = _load(batch_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        result = services.undo_import(batch, current_user._get_current_object())
    except ServiceError as error:
        apply_service_error(None, error)
        return _render_batch(db.get_or_404(ImportBatch, batch_id), 409)
    flash(ngettext("Import undone: %(num)d record removed, %(restored)d restored.",
                   "Import undone: %(num)d records removed, %(restored)d restored.", result["removed"],
                   restored=result["restored"]), "success")
    return redirect(url_for("imports.batch", batch_id=batch.id))


@bp.route("/<int:batch_id>/interrupted", methods=["POST"])
@require("data.import")
def interrupted(batch_id):
    batch = _load(batch_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.mark_interrupted(batch, current_user._get_current_object())
    except ServiceError as error:
        apply_service_error(None, error)
        return _render_batch(db.get_or_404(ImportBatch, batch_id), 409)
    flash(_("The import is marked as interrupted; its written chunks can now be undone."), "success")
    return redirect(url_for("imports.batch", batch_id=batch.id))


@bp.route("/<int:batch_id>/resolve", methods=["POST"])
@require("data.import")
def resolve(batch_id):
    batch = _load(batch_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.resolve_errors(batch)
    except ServiceError as error:
        apply_service_error(None, error)
        return _render_batch(db.get_or_404(ImportBatch, batch_id), 409)
    flash(_("The rejected rows are marked as resolved."), "success")
    return redirect(url_for("imports.batch", batch_id=batch.id))


@bp.route("/<int:batch_id>/discard", methods=["POST"])
@require("data.import")
def discard(batch_id):
    batch = _load(batch_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.delete_draft(batch)
    except ServiceError as error:
        apply_service_error(None, error)
        return _render_batch(db.get_or_404(ImportBatch, batch_id), 409)
    flash(_("The draft import was discarded."), "success")
    return redirect(url_for("imports.index"))


@bp.route("/<int:batch_id>/errors.xlsx")
@require("data.import")
def error_report(batch_id):
    batch = _load(batch_id)
    if not batch.error_count:
        abort(404)
    data = services.error_report(batch)
    stem = batch.original_filename.rsplit(".", 1)[0]
    # The file's name says what was downloaded in any language.
    record_event("download", entity="import_batches", entity_id=batch.id, detail=f"{stem}-errors.xlsx")
    return download_response(data, f"{stem}-errors.xlsx", XLSX_MIME)


@bp.route("/<int:batch_id>/original")
@require("data.import")
def original(batch_id):
    batch = _load(batch_id)
    path = services.stored_path(batch)
    if not path.exists():
        abort(404)
    record_event("download", entity="import_batches", entity_id=batch.id, detail=batch.original_filename)
    return send_file(path, as_attachment=True, download_name=batch.original_filename)


@bp.route("/templates")
@require("data.import")
def templates():
    rows = db.session.scalars(select(MappingTemplate).options(db.joinedload(MappingTemplate.created_by))
                              .order_by(MappingTemplate.target, MappingTemplate.name)).all()
    targets = services.all_targets()
    field_labels = {name: {f.name: f.label for f in targets[name].fields()}
                    for name in {t.target for t in rows} if name in targets}
    return render_template("imports/templates.html", templates=rows, targets=targets, field_labels=field_labels,
                           confirm=ConfirmForm())


@bp.route("/templates/<int:template_id>/delete", methods=["POST"])
@require("data.import")
def delete_template(template_id):
    template = db.get_or_404(MappingTemplate, template_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    db.session.delete(template)
    flash(_("Template %(name)s deleted.", name=template.name), "success")
    return redirect(url_for("imports.templates"))
