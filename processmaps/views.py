"""Process-map pages: list, map with checks and editor, node details, compare, RACI, downloads, import."""
from __future__ import annotations

import re
from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from processmaps import bpmn, render, services
from processmaps.checks import run_checks
from processmaps.forms import EdgeForm, ImportForm, NodeForm, ProcessForm, RaciForm
from processmaps.models import END, IN_REVIEW, START, Process, ProcessEdge, ProcessNode, ProcessVersion
from rollout import figures
from rollout.access import authorize, can, require, scope_clause
from rollout.accounts.models import Department, User
from rollout.accounts.services import department_choices
from rollout.audit.services import history_of, record_event
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.reports.exports import Column, download_response, export_response
from rollout.web import apply_service_error, ids_in, paginate, record_id

bp = Blueprint("processmaps", __name__, url_prefix="/processes")

DOWNLOAD_FORMATS = ("svg", "png", "pdf", "bpmn")


# --- loading -------------------------------------------------------------------
def load_version(process_id: int, number: int) -> ProcessVersion:
    version = db.session.scalar(services.version_query().where(ProcessVersion.process_id == process_id,
                                                       ProcessVersion.number == number))
    if version is None:
        abort(404)
    authorize("processes.view", version.process)
    return version


def load_process(process_id: int) -> Process:
    process = db.session.get(Process, process_id)
    if process is None:
        abort(404)
    authorize("processes.view", process)
    return process


def load_node(node_id: int) -> ProcessNode:
    node = db.session.get(ProcessNode, node_id)
    if node is None:
        abort(404)
    authorize("processes.view", node.version.process)
    return node


def node_url(node: ProcessNode) -> str:
    return url_for("processmaps.node", node_id=node.id)


def version_url(version: ProcessVersion, **args) -> str:
    return url_for("processmaps.version", process_id=version.process_id, number=version.number, **args)


def _user_choices():
    users = db.session.execute(select(User.id, User.display_name).where(User.is_active_account.is_(True))
                               .order_by(User.display_name)).all()
    return [("", "—")] + [(str(user_id), name) for user_id, name in users]


def _department_choices():
    return [("", "—")] + [(str(i), name) for i, name in department_choices()]


def _process_choices(exclude: int | None = None):
    return [("", "—")] + [(str(i), label) for i, label in services.process_choices(leave_out=exclude)]


def node_form(version: ProcessVersion, node: ProcessNode | None = None, formdata=None) -> NodeForm:
    prefix = f"node{node.id}" if node else "newnode"
    form = NodeForm(formdata=formdata, obj=node, prefix=prefix)
    form.owner_user_id.choices = _user_choices()
    form.department_id.choices = _department_choices()
    form.subprocess_id.choices = _process_choices(exclude=version.process_id)
    return form


def edge_form(version: ProcessVersion, edge: ProcessEdge | None = None, formdata=None) -> EdgeForm:
    prefix = f"edge{edge.id}" if edge else "newedge"
    form = EdgeForm(formdata=formdata, obj=edge, prefix=prefix)
    order = services.flow_order(version)
    names = services.step_names(version, services.step_numbers(version, order))
    form.source_id.choices = [("", "—")] + [(str(n.id), names[n.id]) for n in order if n.kind != END]
    form.target_id.choices = [("", "—")] + [(str(n.id), names[n.id]) for n in order if n.kind != START]
    return form


# --- list and create ----------------------------------------------------------------
@bp.route("/")
@require("processes.view")
def index():
    search = (request.args.get("q") or "").strip()
    statement = (select(Process).options(selectinload(Process.versions), selectinload(Process.department))
                 .where(scope_clause(current_user, "processes.view", department_column=Process.department_id,
                                     owner_column=Process.created_by_id))
                 .order_by(Process.name, Process.id))
    if search:
        statement = statement.where(Process.name.contains(search, autoescape=True))
    page = paginate(statement)
    return render_template("processmaps/index.html", page=page, search=search,
                           approved_version=services.approved_version, open_version=services.open_version,
                           status_label=services.status_label)


def _department_allowed(form: ProcessForm, action: str) -> bool:
    """Department heads file processes under their own department only: say so at the field."""
    if current_user_can(action, Process(department_id=form.department_id.data)):
        return True
    form.department_id.errors = list(form.department_id.errors) + [
        _("You can only choose your own department (or a team in it).")]
    return False


@bp.route("/new", methods=["GET", "POST"])
@require("processes.create")
def new_process():
    form = ProcessForm()
    form.department_id.choices = _department_choices()
    if form.validate_on_submit() and _department_allowed(form, "processes.create"):
        try:
            process = services.create_process(form.name.data, department_id=form.department_id.data,
                                              description=form.description.data or "",
                                              actor=current_user, lane_by=form.lane_by.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            return redirect(version_url(process.versions[0]), 303)
    return render_template("processmaps/process_form.html", form=form, process=None), 422 if form.errors else 200


@bp.route("/<int:process_id>/settings", methods=["GET", "POST"])
@require("processes.edit")
def edit_process(process_id: int):
    process = load_process(process_id)
    authorize("processes.edit", process)
    form = ProcessForm(obj=process)
    form.department_id.choices = _department_choices()
    draft = services.draft_version(process)
    if request.method == "GET":
        form.lane_by.data = (draft or services.current_version(process)).lane_by
    if form.validate_on_submit() and _department_allowed(form, "processes.edit"):
        try:
            services.update_process(process, form.name.data, form.department_id.data, form.description.data or "")
            if draft is not None:
                services.set_lane_mode(draft, form.lane_by.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            return redirect(url_for("processmaps.process", process_id=process.id), 303)
    return render_template("processmaps/process_form.html", form=form, process=process), 422 if form.errors else 200


@bp.route("/<int:process_id>")
@require("processes.view")
def process(process_id: int):
    process = load_process(process_id)
    version = services.current_version(process)
    if version is None:
        abort(404)
    return redirect(version_url(version))


# --- the map page (with the editor on drafts) ------------------------------------------
def _render_version_page(version: ProcessVersion, forms: dict | None = None, status: int = 200):
    body = Markup(render_template("processmaps/_version_body.html", **_version_context(version, forms or {})))
    headers = {}
    if status >= 400:
        # The editor posts through htmx: keep the map's address in the address bar, not the form's
        # POST-only one (reloading that would post again or fail).
        headers["HX-Push-Url"] = "false"
    return render_template("processmaps/version.html", body=body, process=version.process,
                           version=version), status, headers


def _version_context(version: ProcessVersion, forms: dict) -> dict:
    problems = run_checks(version)
    problem_keys = {key for problem in problems if problem.is_blocking for key in problem.node_keys}
    svg = render.inline_svg(render.render(version, "svg", node_url=node_url, problem_keys=problem_keys)) \
        if version.nodes else ""
    can_edit = version.is_editable and current_user_can("processes.edit", version.process)
    edit_node_id = request.args.get("edit_node", type=record_id)
    edit_edge_id = request.args.get("edit_edge", type=record_id)
    order = services.flow_order(version)
    numbers = services.step_numbers(version, order)
    edges = sorted(version.edges, key=lambda e: (numbers[e.source_id], numbers[e.target_id], e.position, e.id))
    context = dict(version=version, process=version.process, svg=svg, problems=problems, can_edit=can_edit,
                   blocking=[p for p in problems if p.is_blocking], lanes=render.effective_lanes(version),
                   owner_text=services.owner_text, node_kind_label=services.kind_label,
                   status_label=services.status_label, roles=services.raci_roles(version),
                   nodes=order, numbers=numbers, step_names=services.step_names(version, numbers), edges=edges,
                   replaced=services.approved_version(version.process) if version.is_open else None,
                   **_review_context(version))
    if can_edit:
        context["new_node_form"] = forms.get("new_node") or node_form(version)
        context["new_edge_form"] = forms.get("new_edge") or edge_form(version)
        node = next((n for n in version.nodes if n.id == (forms.get("node_id") or edit_node_id)), None)
        edge = next((e for e in version.edges if e.id == (forms.get("edge_id") or edit_edge_id)), None)
        context["edit_node"] = node
        context["edit_node_form"] = forms.get("node") or (node_form(version, node) if node else None)
        context["edit_edge"] = edge
        context["edit_edge_form"] = forms.get("edge") or (edge_form(version, edge) if edge else None)
    return context


def _review_context(version: ProcessVersion) -> dict:
    """What the current user may do in the version's review (submit, withdraw, approve or send back),
    and when they may not approve it, who does (shown beside the buttons)."""
    may_edit = version.is_open and current_user_can("processes.edit", version.process)
    may_approve = version.status == IN_REVIEW and current_user_can("processes.approve", version)
    note = ""
    if may_edit and not may_approve:
        department = version.process.department.name if version.process.department else _("its department")
        if current_user_can("processes.approve", version.process):
            note = _("You worked on this draft: another head of %(department)s or a project lead approves it.",
                     department=department)
        else:
            note = _("A head of %(department)s or a project lead approves this draft.", department=department)
    return {"may_submit": may_edit and version.is_editable, "may_withdraw": may_edit and version.status == IN_REVIEW,
            "may_approve": may_approve, "approval_note": note}


def current_user_can(action: str, obj) -> bool:
    return can(current_user, action, obj)


@bp.route("/<int:process_id>/v/<int:number>")
@require("processes.view")
@figures.whole_page_cached
def version(process_id: int, number: int):
    version = db.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id,
                                                             ProcessVersion.number == number))
    if version is None:
        abort(404)
    authorize("processes.view", version.process)
    if version.is_editable and current_user_can("processes.edit", version.process):
        return _render_version_page(load_version(process_id, number))
    # Anything but an editable draft: the map, its checks and tables are drawn once per data version.
    body = figures.cached_page_body("processmaps/_version_body.html",
                                    lambda: _version_context(load_version(process_id, number), {}))
    return render_template("processmaps/version.html", body=body, process=version.process, version=version)


def _editable_version(version_id: int) -> ProcessVersion:
    version = db.session.scalar(services.version_query().where(ProcessVersion.id == version_id))
    if version is None:
        abort(404)
    authorize("processes.edit", version.process)
    return version


def _back_to_map(version: ProcessVersion):
    """The editor's forms post to these addresses; opened directly (a reload, a bookmark) they lead to the map."""
    return redirect(version_url(version) + "#editor", 303)


def _after_edit(version: ProcessVersion, message: str):
    flash(message, "success")
    return _back_to_map(version)


@bp.route("/versions/<int:version_id>/nodes", methods=["GET", "POST"])
@require("processes.edit")
def add_node(version_id: int):
    version = _editable_version(version_id)
    if request.method == "GET":
        return _back_to_map(version)
    form = node_form(version, formdata=request.form)
    if form.validate():
        try:
            node = services.add_node(version, **form.service_values())
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            return _after_edit(version, _("Step %(name)s added.", name=node.name))
    return _render_version_page(version, {"new_node": form}, 422)


@bp.route("/nodes/<int:node_id>/edit", methods=["GET", "POST"])
@require("processes.edit")
def update_node(node_id: int):
    node = load_node(node_id)
    version = _editable_version(node.version_id)
    if request.method == "GET":
        return _back_to_map(version)
    node = next(n for n in version.nodes if n.id == node_id)
    form = node_form(version, node, formdata=request.form)
    if form.validate():
        try:
            services.update_node(node, **form.service_values())
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            return _after_edit(version, _("Step %(name)s saved.", name=node.name))
    return _render_version_page(version, {"node": form, "node_id": node_id}, 422)


@bp.route("/nodes/<int:node_id>/delete", methods=["POST"])
@require("processes.edit")
def delete_node(node_id: int):
    node = load_node(node_id)
    version = _editable_version(node.version_id)
    node = next(n for n in version.nodes if n.id == node_id)
    name = node.name
    try:
        services.delete_node(node)
    except ServiceError as error:
        apply_service_error(None, error)
        return _render_version_page(version, status=422)
    return _after_edit(version, _("Step %(name)s and its flows removed.", name=name))


@bp.route("/versions/<int:version_id>/edges", methods=["GET", "POST"])
@require("processes.edit")
def add_edge(version_id: int):
    version = _editable_version(version_id)
    if request.method == "GET":
        return _back_to_map(version)
    form = edge_form(version, formdata=request.form)
    if form.validate():
        try:
            edge = services.add_edge(version, **form.service_values())
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            return _after_edit(version, _("Flow from %(source)s to %(target)s added.", source=edge.source.name,
                                          target=edge.target.name))
    return _render_version_page(version, {"new_edge": form}, 422)


def _load_edge(edge_id: int) -> tuple[ProcessVersion, ProcessEdge]:
    edge = db.session.get(ProcessEdge, edge_id)
    if edge is None:
        abort(404)
    version = _editable_version(edge.version_id)
    return version, next(e for e in version.edges if e.id == edge_id)


@bp.route("/edges/<int:edge_id>/edit", methods=["GET", "POST"])
@require("processes.edit")
def update_edge(edge_id: int):
    version, edge = _load_edge(edge_id)
    if request.method == "GET":
        return _back_to_map(version)
    form = edge_form(version, edge, formdata=request.form)
    if form.validate():
        try:
            services.update_edge(edge, **form.service_values())
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            return _after_edit(version, _("Flow from %(source)s to %(target)s saved.", source=edge.source.name,
                                          target=edge.target.name))
    return _render_version_page(version, {"edge": form, "edge_id": edge_id}, 422)


@bp.route("/edges/<int:edge_id>/delete", methods=["POST"])
@require("processes.edit")
def delete_edge(edge_id: int):
    version, edge = _load_edge(edge_id)
    source, target = edge.source.name, edge.target.name
    try:
        services.delete_edge(edge)
    except ServiceError as error:
        apply_service_error(None, error)
        return _render_version_page(version, status=422)
    return _after_edit(version, _("Flow from %(source)s to %(target)s removed.", source=source, target=target))


# --- lifecycle ---------------------------------------------------------------------
def _version_by_id(version_id: int) -> ProcessVersion:
    version = db.session.scalar(services.version_query().where(ProcessVersion.id == version_id))
    if version is None:
        abort(404)
    return version


def _lifecycle_step(version: ProcessVersion, step: Callable[[], object], message: str):
    """Run one step of the version's review; a refusal comes back on the map page."""
    try:
        step()
    except ServiceError as error:
        apply_service_error(None, error)
        return _render_version_page(load_version(version.process_id, version.number), status=422)
    flash(message, "success")
    return redirect(version_url(version), 303)


@bp.route("/versions/<int:version_id>/submit", methods=["POST"])
@require("processes.edit")
def submit(version_id: int):
    version = _version_by_id(version_id)
    authorize("processes.edit", version.process)
    return _lifecycle_step(version, lambda: services.submit_for_review(version, current_user),
                           _("Version %(number)d is submitted for review.", number=version.number))


@bp.route("/versions/<int:version_id>/withdraw", methods=["POST"])
@require("processes.edit")
def withdraw(version_id: int):
    version = _version_by_id(version_id)
    authorize("processes.edit", version.process)
    return _lifecycle_step(version, lambda: services.withdraw_from_review(version, current_user),
                           _("Version %(number)d is a draft again: edit it and submit it when ready.",
                             number=version.number))


@bp.route("/versions/<int:version_id>/send-back", methods=["POST"])
@require("processes.approve")
def send_back(version_id: int):
    version = _version_by_id(version_id)
    authorize("processes.approve", version)
    return _lifecycle_step(version, lambda: services.send_back(version, current_user, request.form.get("note", "")),
                           _("Version %(number)d is sent back to draft.", number=version.number))


@bp.route("/versions/<int:version_id>/approve", methods=["POST"])
@require("processes.approve")
def approve(version_id: int):
    version = _version_by_id(version_id)
    # The version, not just its process: a head does not approve a version they wrote (rollout/access.py).
    authorize("processes.approve", version)
    return _lifecycle_step(version, lambda: services.approve_version(version, actor=current_user),
                           _("Version %(number)d is approved.", number=version.number))


@bp.route("/<int:process_id>/drafts", methods=["POST"])
@require("processes.edit")
def new_draft(process_id: int):
    process = load_process(process_id)
    authorize("processes.edit", process)
    draft = services.new_draft_version(process, actor=current_user)
    return redirect(version_url(draft), 303)


@bp.route("/versions/<int:version_id>/discard", methods=["POST"])
@require("processes.edit")
def discard(version_id: int):
    version = _editable_version(version_id)
    try:
        process = services.discard_draft(version)
    except ServiceError as error:
        apply_service_error(None, error)
        return _render_version_page(version, status=422)
    flash(_("The draft was discarded."), "info")
    if services.current_version(process) is None:
        db.session.delete(process)
        return redirect(url_for("processmaps.index"), 303)
    return redirect(url_for("processmaps.process", process_id=process.id), 303)


# --- node page --------------------------------------------------------------------
@bp.route("/nodes/<int:node_id>")
@require("processes.view")
def node(node_id: int):
    node = load_node(node_id)
    version = node.version
    incoming = [e for e in version.edges if e.target_id == node.id]
    outgoing = [e for e in version.edges if e.source_id == node.id]
    can_edit = version.is_editable and current_user_can("processes.edit", version.process)
    return render_template("processmaps/node.html", node=node, version=version, process=version.process,
                           incoming=incoming, outgoing=outgoing, links=services.node_links(node),
                           owner_text=services.owner_text, node_kind_label=services.kind_label,
                           status_label=services.status_label, can_edit=can_edit,
                           raci_form=_raci_form(version, node) if can_edit else None,
                           history=history_of("process_nodes", node.id)[:20], field_label=field_label)


def _raci_form(version: ProcessVersion, node: ProcessNode | None = None, formdata=None) -> RaciForm:
    form = RaciForm(formdata=formdata, prefix="raci")
    form.node_id.choices = [(str(n.id), n.name) for n in version.nodes if n.kind not in (START, END)]
    if node is not None and formdata is None:
        form.node_id.data = node.id
    return form


# --- the step picker other packages' forms use ----------------------------------
@bp.route("/step-choices")
@require("processes.view")
def step_choices():
    """The step picker's list, redrawn when another process is chosen: the steps already ticked,
    then the chosen process's other steps (see templates/processmaps/_step_picker.html)."""
    field = request.args.get("field", "")
    if not re.fullmatch(r"[a-z][a-z_]{0,39}", field):
        abort(400)
    chosen = ids_in(request.args.getlist(field)[:500])
    process_ids = ids_in([request.args.get(f"{field}_process", "")])
    return render_template("processmaps/_step_list.html", field=field, chosen=services.step_labels(chosen),
                           groups=services.step_groups(process_ids[0] if process_ids else None, leave_out=chosen))


# --- compare ----------------------------------------------------------------------
@bp.route("/<int:process_id>/compare")
@require("processes.view")
def compare(process_id: int):
    process = load_process(process_id)
    numbers = [v.number for v in process.versions]
    if len(numbers) < 2:
        flash(_("There is only one version: nothing to compare yet."), "info")
        return redirect(url_for("processmaps.process", process_id=process.id))
    a = request.args.get("a", type=record_id)
    b = request.args.get("b", type=record_id)
    if a not in numbers or b not in numbers:
        a, b = numbers[-2], numbers[-1]
    old, new = sorted((a, b))
    if old == new:
        flash(_("Choose two different versions."), "warning")
    old_version, new_version = load_version(process.id, old), load_version(process.id, new)
    comparison = services.compare_versions(old_version, new_version)
    svg = render.inline_svg(render.render(new_version, "svg", node_url=node_url,
                                          highlight=comparison.highlight())) if new_version.nodes else ""
    return render_template("processmaps/compare.html", process=process, comparison=comparison, svg=svg,
                           numbers=numbers, a=old, b=new, owner_text=services.owner_text,
                           status_label=services.status_label, field_label=field_label, change_text=change_text,
                           node_kind_label=services.kind_label)


def change_text(name: str, value) -> str:
    """A compared field's value as people read it (names for ids, kinds translated)."""
    if value in (None, ""):
        return "—"
    if name == "owner_user_id":
        user = db.session.get(User, value)
        return user.display_name if user else "—"
    if name == "department_id":
        department = db.session.get(Department, value)
        return department.name if department else "—"
    if name == "subprocess_id":
        process = db.session.get(Process, value)
        return process.name if process else "—"
    if name == "kind":
        return services.kind_label(value)
    if name == "is_exception":
        return _("yes") if value else _("no")
    return str(value).replace("\n", "、")


def field_label(name: str) -> str:
    return {"kind": _("Kind"), "name": _("Step name"), "owner_role": _("Owner role"), "owner_user_id": _("Named owner"),
            "department_id": _("Department"), "data_items": _("Data items"), "time_limit": _("Time limit"),
            "notes": _("Remarks"), "subprocess_id": _("Runs process"), "raci": "RACI", "label": _("Condition"),
            "is_exception": _("Exception branch")}.get(name, name)


# --- RACI ---------------------------------------------------------------------------
def _render_raci(version: ProcessVersion, form: RaciForm | None, status: int = 200):
    roles, rows = services.raci_matrix(version)
    return render_template("processmaps/raci.html", version=version, process=version.process, roles=roles,
                           rows=rows, form=form, status_label=services.status_label), status


@bp.route("/<int:process_id>/v/<int:number>/raci")
@require("processes.view")
def raci(process_id: int, number: int):
    version = load_version(process_id, number)
    can_edit = version.is_editable and current_user_can("processes.edit", version.process)
    return _render_raci(version, _raci_form(version) if can_edit else None)


@bp.route("/versions/<int:version_id>/raci", methods=["GET", "POST"])
@require("processes.edit")
def set_raci(version_id: int):
    version = _editable_version(version_id)
    if request.method == "GET":  # the form's address opened directly: the matrix it belongs to
        return redirect(url_for("processmaps.raci", process_id=version.process_id, number=version.number), 303)
    form = _raci_form(version, formdata=request.form)
    node = next((n for n in version.nodes if n.id == form.node_id.data), None)
    if form.validate():
        if node is None:
            form.node_id.errors = [_("Choose a step.")]
        else:
            try:
                services.set_raci(node, form.role.data, form.kind.data or None)
            except ServiceError as error:
                apply_service_error(form, error)
            else:
                return redirect(url_for("processmaps.raci", process_id=version.process_id, number=version.number), 303)
    return _render_raci(version, form, 422)


@bp.route("/<int:process_id>/v/<int:number>/raci.xlsx")
@require("processes.export")
def raci_export(process_id: int, number: int):
    version = load_version(process_id, number)
    authorize("processes.export", version.process)
    roles, rows = services.raci_matrix(version)
    columns = [Column(_("Step"), lambda row: row[0].name), Column(_("Owner"), lambda row: services.owner_text(row[0]))]
    columns += [Column(role, lambda row, role=role: row[1].get(role, "")) for role in roles]
    return export_response(f"RACI-{version.process.name}-v{version.number}", columns, rows, "xlsx",
                           entity="process_raci", filters={"process": version.process_id, "version": number})


# --- downloads and import -------------------------------------------------------------
@bp.route("/<int:process_id>/v/<int:number>/map.<fmt>")
@require("processes.export")
def download(process_id: int, number: int, fmt: str):
    if fmt not in DOWNLOAD_FORMATS:
        abort(404)
    version = load_version(process_id, number)
    authorize("processes.export", version.process)
    if fmt == "bpmn":
        data, mimetype = bpmn.export_bpmn(version), "application/xml"
    elif fmt == "pdf":
        data, mimetype = _version_pdf(version), "application/pdf"
    else:
        data, mimetype = render.render(version, fmt), render.MIME_TYPES[fmt]
    record_event("export", entity="process_versions", entity_id=version.id, detail=fmt)
    return download_response(data, f"{version.process.name}-v{version.number}.{fmt}", mimetype)


def _version_pdf(version: ProcessVersion) -> bytes:
    """The version as a document: title block, the map on a landscape page, then its steps and flows."""
    from rollout.reports.pdf import render_pdf
    order = services.flow_order(version)
    numbers = services.step_numbers(version, order)
    edges = sorted(version.edges, key=lambda e: (numbers[e.source_id], numbers[e.target_id], e.position, e.id))
    svg = render.inline_svg(render.render(version, "svg"), min_scale=None) if version.nodes else ""
    return render_pdf("processmaps/version_pdf.html", process=version.process, version=version,
                      map_parts=render.printed_slices(svg) if svg else [],
                      nodes=order, numbers=numbers, edges=edges, owner_text=services.owner_text,
                      node_kind_label=services.kind_label, status_label=services.status_label,
                      report_title=f"{version.process.name} v{version.number}")


@bp.route("/import", methods=["GET", "POST"])
@require("processes.import")
def import_bpmn():
    form = ImportForm()
    form.department_id.choices = _department_choices()
    result, status = None, 200
    if form.validate_on_submit() and _department_allowed(form, "processes.import"):
        data = form.file.data.read(bpmn.MAX_BPMN_BYTES + 1)
        try:
            result = bpmn.import_bpmn(data, actor=current_user, department_id=form.department_id.data,
                                      file_name=form.file.data.filename or "")
        except ServiceError as error:
            apply_service_error(form, ServiceError(error.message, "file"))
            status = 422
        else:
            record_event("import", entity="processes", entity_id=",".join(str(p.id) for p in result.processes),
                         detail=f"bpmn unmapped={len(result.unmapped)}")
    if form.errors:
        status = 422
    return render_template("processmaps/import.html", form=form, result=result, version_url=version_url), status

