"""Home page per role, the rollout plan, go-live readiness, adoption, and the health check."""
from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import text

from rollout import figures
from rollout.access import PUBLIC, authorize, can, home_department_id, require
from rollout.accounts.models import Department
from rollout.dashboard import home as home_sections
from rollout.dashboard import services
from rollout.dashboard.forms import GoLiveForm, MilestoneForm, PhaseForm, TargetForm
from rollout.dashboard.models import RolloutMilestone, RolloutPhase
from rollout.database import schema_behind
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.timeutil import local_today
from rollout.web import apply_service_error

bp = Blueprint("dashboard", __name__)


def _department_scope(department: Department) -> SimpleNamespace:
    return SimpleNamespace(department_id=department.id)


@bp.route("/")
@require("home.view")
@figures.whole_page_cached
def home():
    return render_template("dashboard/home.html", body=figures.cached_page_body(
        "dashboard/_home_body.html",
        lambda: {"sections": home_sections.sections_for(current_user), "today": local_today()}))


@bp.route("/healthz")
@require(PUBLIC)
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database failure means "not healthy", never a 500
        db.session.rollback()
        return jsonify({"status": "unavailable"}), 503
    behind = schema_behind()
    if behind is not None:  # updated code on an old schema: `rollout db upgrade` was not run
        return jsonify({"status": "schema behind", "database": behind[0], "code": behind[1]}), 503
    return jsonify({"status": "ok"})


# --- readiness -----------------------------------------------------------------------------------
@bp.route("/rollout/")
@require("dashboard.view")
@figures.whole_page_cached
def readiness():
    return render_template("dashboard/readiness.html", body=figures.cached_page_body(
        "dashboard/_readiness_body.html",
        lambda: {"entries": services.cached_readiness(services.department_ids_for(current_user)),
                 "items": services.READINESS_ITEMS, "settings": services.readiness_settings(),
                 "trained_definition": services.trained_definition()}))


@bp.route("/rollout/settings", methods=["GET", "POST"])
@require("readiness.configure")
def readiness_settings():
    settings = services.readiness_settings()
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {}
        for item in services.READINESS_ITEMS:
            raw = (request.form.get(f"threshold_{item.key}") or "").strip()
            try:
                values[item.key] = int(raw) if raw else None
            except ValueError:
                errors[item.key] = _("Enter a whole number.")
        if not errors:
            try:
                for item in services.READINESS_ITEMS:
                    services.save_readiness_setting(item.key, values[item.key],
                                                    request.form.get(f"blocking_{item.key}") == "y")
            except ServiceError as error:
                apply_service_error(None, error)
                errors[(error.field or "").removeprefix("threshold_")] = error.message
            else:
                flash(_("The readiness thresholds are saved."), "success")
                return redirect(url_for("dashboard.readiness"))
        settings = services.readiness_settings()
    return render_template("dashboard/settings.html", settings=settings, errors=errors,
                           form_values=request.form, unit_help=services.UNIT_HELP), 422 if errors else 200


# --- rollout plan ------------------------------------------------------------------------------------
def _phase_form(phase=None, submitted=False):
    # Not submitted: filled from the phase, never from another form's post (a refused milestone).
    form = PhaseForm() if submitted else PhaseForm(formdata=None, obj=phase)
    form.kind.choices = [(k, str(label)) for k, label in services.PHASE_KIND_LABELS.items()]
    form.department_ids.choices = services.plan_units()
    if phase is not None and not submitted:
        form.department_ids.data = sorted(phase.department_ids)
    return form


def _milestone_form(milestone=None, submitted=False, phases=None):
    form = MilestoneForm() if submitted else MilestoneForm(formdata=None, obj=milestone)
    form.phase_id.choices = [(0, _("None (other milestones)"))] + [(p.id, p.name)
                                                                   for p in phases or services.phases()]
    if not submitted:
        form.phase_id.data = (milestone.phase_id if milestone else None) or 0
    return form


def _render_plan(phase_form=None, milestone_form=None, confirm=None, status=200):
    phases = services.phases()
    milestone_form = milestone_form or _milestone_form(phases=phases)
    departments = [db.session.get(Department, i) for i, _name in services.plan_units()]
    phase_by_department = {row.department_id: p for p in phases for row in p.department_rows}
    return render_template("dashboard/plan.html", phases=phases, phase_form=phase_form or _phase_form(),
                           milestone_form=milestone_form, departments=departments, confirm=confirm,
                           phase_by_department=phase_by_department, problems=services.plan_problems(),
                           unplanned=services.unplanned_milestones(), kind_labels=services.PHASE_KIND_LABELS,
                           today=local_today()), status


@bp.route("/rollout/plan")
@require("dashboard.view")
def plan():
    return _render_plan()


@bp.route("/rollout/plan/phases", methods=["POST"])
@bp.route("/rollout/plan/phases/<int:phase_id>", methods=["GET", "POST"])
@require("rollout_plan.manage")
def edit_phase(phase_id=None):
    phase = db.get_or_404(RolloutPhase, phase_id) if phase_id else None
    form = _phase_form(phase, submitted=request.method == "POST")
    confirm = None  # the go-live moves the user is asked to confirm
    if form.validate_on_submit():
        try:
            phase, moved = services.save_phase(phase, form.name.data, form.kind.data, form.starts_on.data,
                                               form.ends_on.data, form.department_ids.data or [], form.notes.data,
                                               confirmed_moves=request.form.get("confirm_moves"))
        except services.GoLiveMovesToConfirm as question:
            db.session.rollback()
            confirm = question
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The phase %(name)s is saved.", name=phase.name), "success")
            for move in moved:
                flash(_("%(department)s now goes live on %(date)s.", department=move.department.name,
                        date=move.new_on), "info")
            return redirect(url_for("dashboard.plan"))
    if phase is not None:
        return render_template("dashboard/phase_form.html", form=form, phase=phase, confirm=confirm), \
            422 if form.errors or confirm else 200
    return _render_plan(phase_form=form, confirm=confirm, status=422)


@bp.route("/rollout/plan/phases/<int:phase_id>/delete", methods=["POST"])
@require("rollout_plan.manage")
def delete_phase(phase_id):
    phase = db.get_or_404(RolloutPhase, phase_id)
    services.delete_phase(phase)
    flash(_("The phase is deleted."), "success")
    return redirect(url_for("dashboard.plan"))


@bp.route("/rollout/plan/milestones", methods=["POST"])
@require("rollout_plan.manage")
def add_milestone():
    form = _milestone_form(submitted=True)
    if form.validate_on_submit():
        try:
            services.save_milestone(None, form.title.data, form.due_on.data, form.phase_id.data or None)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The milestone is added."), "success")
            return redirect(url_for("dashboard.plan"))
    return _render_plan(milestone_form=form, status=422)


@bp.route("/rollout/plan/milestones/<int:milestone_id>", methods=["GET", "POST"])
@require("rollout_plan.manage")
def edit_milestone(milestone_id):
    milestone = db.get_or_404(RolloutMilestone, milestone_id)
    form = _milestone_form(milestone, submitted=request.method == "POST")
    if form.validate_on_submit():
        try:
            services.save_milestone(milestone, form.title.data, form.due_on.data, form.phase_id.data or None)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The milestone is saved."), "success")
            return redirect(url_for("dashboard.plan"))
    return render_template("dashboard/milestone_form.html", form=form, milestone=milestone), \
        422 if form.errors else 200


@bp.route("/rollout/plan/milestones/<int:milestone_id>/done", methods=["POST"])
@require("rollout_plan.manage")
def mark_milestone(milestone_id):
    services.set_milestone_done(db.get_or_404(RolloutMilestone, milestone_id), request.form.get("done") == "y")
    return redirect(url_for("dashboard.plan"))


@bp.route("/rollout/plan/milestones/<int:milestone_id>/delete", methods=["POST"])
@require("rollout_plan.manage")
def delete_milestone(milestone_id):
    services.delete_milestone(db.get_or_404(RolloutMilestone, milestone_id))
    flash(_("The milestone is deleted."), "success")
    return redirect(url_for("dashboard.plan"))


@bp.route("/rollout/departments/<int:department_id>/go-live", methods=["GET", "POST"])
@require("rollout_plan.manage")
def go_live(department_id):
    department = db.get_or_404(Department, department_id)
    form = GoLiveForm(obj=department)
    confirm = None  # a past date the user is asked to confirm
    if form.validate_on_submit():
        try:
            services.set_go_live(department, form.go_live_on.data, confirmed_past=request.form.get("confirm_past"))
        except services.PastGoLiveToConfirm as question:
            confirm = question
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            if department.go_live_on and department.go_live_on < local_today():
                flash(_("%(department)s went live on %(date)s.", department=department.name,
                        date=department.go_live_on), "success")
            else:
                flash(_("%(department)s goes live on %(date)s.", department=department.name,
                        date=department.go_live_on), "success")
            return redirect(url_for("dashboard.plan"))
    return render_template("dashboard/go_live_form.html", form=form, department=department, confirm=confirm,
                           phase=services.phase_of(department.id)), 422 if form.errors or confirm else 200


# --- adoption -------------------------------------------------------------------------------------------
def _adoption_context():
    data, charts = services.cached_adoption(services.department_ids_for(current_user), with_charts=True)
    return {"data": data, "today": local_today(), "trained_definition": services.trained_definition(), **charts}


@bp.route("/rollout/adoption")
@require("dashboard.view")
@figures.whole_page_cached
def adoption():
    return render_template("dashboard/adoption.html",
                           body=figures.cached_page_body("dashboard/_adoption_page_body.html", _adoption_context))


@bp.route("/rollout/adoption/<int:department_id>", methods=["GET", "POST"])
@require("dashboard.view")
def department_adoption(department_id):
    department = db.get_or_404(Department, department_id)
    authorize("dashboard.view", _department_scope(department))
    form = TargetForm()
    if request.method == "POST":
        authorize("rollout_plan.manage")
        if form.validate_on_submit():
            try:
                services.set_adoption_target(department, form.entries_per_week.data)
            except ServiceError as error:
                apply_service_error(form, error)
            else:
                flash(_("The expected rate is saved."), "success")
                return redirect(url_for("dashboard.department_adoption", department_id=department.id))
    data = services.adoption({department.id})
    if not data.departments:
        abort(404)
    entry = data.departments[0]
    if request.method == "GET":
        form.entries_per_week.data = entry.expected_per_week
    return render_template("dashboard/department_adoption.html", entry=entry, data=data, form=form,
                           ranking_weeks=services.RANKING_WEEKS, today=local_today(),
                           trained_definition=services.trained_definition(),
                           can_publish=can(current_user, "ranking.publish", _department_scope(department))), \
        422 if form.errors else 200


@bp.route("/rollout/adoption/<int:department_id>/publish", methods=["POST"])
@require("ranking.publish")
def publish_ranking(department_id):
    department = db.get_or_404(Department, department_id)
    authorize("ranking.publish", _department_scope(department))
    try:
        services.publish_ranking(department, current_user)
    except ServiceError as error:
        flash(error.message, "danger")
        return redirect(url_for("dashboard.department_adoption", department_id=department.id)), 303
    flash(_("The ranking is published to %(department)s.", department=department.name), "success")
    return redirect(url_for("dashboard.department_adoption", department_id=department.id))


@bp.route("/rollout/ranking")
@bp.route("/rollout/ranking/<int:department_id>")
@require("ranking.view")
def ranking(department_id=None):
    department_id = department_id or home_department_id(current_user.department_id)
    department = db.get_or_404(Department, department_id) if department_id else abort(404)
    authorize("ranking.view", _department_scope(department))
    return render_template("dashboard/ranking.html", department=department,
                           publication=services.latest_publication(department.id))


@bp.route("/rollout/report.pdf")
@require("dashboard.report")
def report_pdf():
    from rollout.audit.services import record_event
    from rollout.reports.exports import download_response
    from rollout.reports.pdf import render_pdf
    scope = services.department_ids_for(current_user)
    data = _adoption_context()
    pdf = render_pdf("dashboard/report_pdf.html", report_date=local_today().isoformat(),
                     entries=services.cached_readiness(scope), phases=services.phases(),
                     unplanned=services.unplanned_milestones(), kind_labels=services.PHASE_KIND_LABELS, **data)
    record_event("download", entity="dashboard", detail="status report pdf")
    return download_response(pdf, f"rollout-status-{local_today().isoformat()}.pdf", "application/pdf")

