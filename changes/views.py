"""Change request pages: my requests, the list, the board, a request, windows, releases, calendar, metrics."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from processmaps.services import NODE_LINK_PROVIDERS, processes_to_choose_from, step_labels
from rollout import figures
from rollout.access import authorize, can, change_view_clause, may_view_change, require, scope_clause
from rollout.accounts.services import department_choices
from rollout.audit.services import history_of, record_event
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.reports.calendar import ics_response, register_feed_provider
from rollout.reports.charts import svg_chart, whole_ticks
from rollout.reports.exports import download_response
from rollout.timeutil import local_today, utcnow
from rollout.web import apply_service_error, ids_in, paginate, record_id

from changes import labels, services
from changes.forms import (AssessForm, AttachmentForm, CadenceForm, CadenceSwitchForm, ChangeRequestForm,
                           CloseWindowForm, CommentForm, DecisionForm, FreezeForm, PostReviewForm, RaiseRiskForm,
                           ReleaseForm, ReleaseNotesForm)
from changes.models import (RISK_LEVELS, STATES, ChangeAttachment, ChangeRequest, FreezePeriod, Release,
                            ReviewCadence, ReviewWindow)

bp = Blueprint("changes", __name__, url_prefix="/changes")
register_feed_provider(services.personal_feed)


def change_links_for_node(node) -> list[tuple[str, str]]:
    """The change requests touching a process step, for the node page of process maps."""
    if not current_user.is_authenticated:
        return []
    return [(f"{change.reference} {change.title} · {labels.STATE_LABELS[change.state]}",
             url_for("changes.detail", request_id=change.id))
            for change in services.requests_touching_node(node) if may_view_change(current_user, change)]


if change_links_for_node not in NODE_LINK_PROVIDERS:
    NODE_LINK_PROVIDERS.append(change_links_for_node)


def _url_if_exists(endpoint: str, **values) -> str | None:
    return url_for(endpoint, **values) if endpoint in current_app.view_functions else None


@bp.app_context_processor
def change_labels():
    return {"change_labels": labels, "change_url_if_exists": _url_if_exists,
            "release_follow_ups": services.release_follow_ups}


def _scope(action: str = "changes.view"):
    if action == "changes.view":
        return change_view_clause(current_user, ChangeRequest)
    return scope_clause(current_user, action, department_column=ChangeRequest.department_id,
                        owner_column=ChangeRequest.requester_id)


def _load_request(request_id: int, action: str = "changes.view") -> ChangeRequest:
    change = db.get_or_404(ChangeRequest, request_id)
    if not may_view_change(current_user, change):
        abort(403)
    if action != "changes.view":
        authorize(action, change)
    return change


# --- lists ------------------------------------------------------------------------------
@bp.route("/")
@require("changes.view")
def index():
    query = services.visible_requests_query(ChangeRequest.requester_id == current_user.id)
    page = paginate(query)
    next_window = db.session.scalar(select(ReviewWindow).where(
        ReviewWindow.closed_at.is_(None), ReviewWindow.starts_at >= utcnow()).order_by(ReviewWindow.starts_at)
        .limit(1))
    return render_template("changes/index.html", page=page, next_window=next_window)


@bp.route("/all")
@require("changes.view")
def all_requests():
    query = services.visible_requests_query(_scope())
    state = request.args.get("state", "")
    kind = request.args.get("kind", "")
    search = request.args.get("q", "").strip()[:100]
    if state in STATES:
        query = query.where(ChangeRequest.state == state)
    if kind in labels.KIND_LABELS:
        query = query.where(ChangeRequest.kind == kind)
    if search:
        query = query.where(services.search_condition(search))
    page = paginate(query)
    return render_template("changes/list.html", page=page, state=state, kind=kind, search=search)


#: The board's columns, each a phase of one or more states (as a Jira board maps statuses to columns),
#: so that the open work fits one screen.
BOARD_COLUMNS = (
    (_l("Intake"), ("draft", "submitted", "assessed")),
    (_l("Awaiting decision"), ("awaiting_window", "deferred")),
    (_l("Approved, to deliver"), ("approved", "scheduled")),
    (_l("Implementing"), ("implementing",)),
    (_l("Implemented, to close"), ("implemented", "reviewed")),
)
BOARD_STATES = tuple(state for _label, states in BOARD_COLUMNS for state in states)
BOARD_LIMIT = 40


@bp.route("/board")
@require("changes.view")
@figures.whole_page_cached
def board():
    return render_template("changes/board.html", body=figures.cached_page_body("changes/_board_body.html", _board))


def _board() -> dict:
    scope = _scope()
    counts = dict(db.session.execute(select(ChangeRequest.state, func.count()).where(scope)
                                     .group_by(ChangeRequest.state)).all())
    # One query for the cards: the newest requests of the open columns.
    cards = db.session.scalars(
        select(ChangeRequest).where(scope, ChangeRequest.state.in_(BOARD_STATES))
        .options(selectinload(ChangeRequest.requester))
        .order_by(ChangeRequest.risk_rank.desc(), ChangeRequest.id.desc()).limit(BOARD_LIMIT * len(BOARD_STATES))
    ).all()
    columns = [{"label": label, "states": states, "cards": [], "count": sum(counts.get(s, 0) for s in states)}
               for label, states in BOARD_COLUMNS]
    column_of = {state: column for column in columns for state in column["states"]}
    for card in cards:
        if len(column_of[card.state]["cards"]) < BOARD_LIMIT:
            column_of[card.state]["cards"].append(card)
    return {"columns": columns, "counts": counts,
            "finished": [(s, counts.get(s, 0)) for s in ("closed", "rejected", "cancelled")]}


# --- one request ------------------------------------------------------------------------
def _fill_choices(form: ChangeRequestForm) -> None:
    form.affected_department_ids.choices = department_choices(include_company=False)
    form.requirement_ids.choices = services.requirement_choices()


def _render_form(form: ChangeRequestForm, change: ChangeRequest | None):
    # What was posted, even when one value was refused, so that the valid ticks stay ticked.
    ticked = form.node_ids.raw_data if request.method == "POST" else form.node_ids.data
    return render_template("changes/form.html", form=form, change=change,
                           step_processes=processes_to_choose_from(),
                           chosen_steps=step_labels(ids_in(ticked))
                           ), 422 if form.errors else 200


def _form_fields(form: ChangeRequestForm) -> dict:
    return {
        "title": form.title.data, "description": form.description.data, "reason": form.reason.data,
        "kind": form.kind.data, "urgency": form.urgency.data, "impact": form.impact.data,
        "wanted_on": form.wanted_on.data, "affected_roles": form.affected_roles.data or [],
        "affected_department_ids": form.affected_department_ids.data or [],
        "has_permission_change": form.has_permission_change.data,
        "has_data_field_change": form.has_data_field_change.data,
        "node_ids": form.node_ids.data or [], "requirement_ids": form.requirement_ids.data or [],
    }


@bp.route("/new", methods=["GET", "POST"])
@require("changes.create")
def new():
    form = ChangeRequestForm()
    _fill_choices(form)
    if form.validate_on_submit():
        fields = _form_fields(form)
        try:
            change = services.create_change_request(current_user, fields.pop("title"), fields.pop("description"),
                                                    fields.pop("reason"), fields.pop("kind"), **fields)
            if request.form.get("submit_now"):
                services.submit(change, current_user)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("%(ref)s is saved.", ref=change.reference), "success")
            return redirect(url_for("changes.detail", request_id=change.id))
    return _render_form(form, None)


@bp.route("/<int:request_id>/edit", methods=["GET", "POST"])
@require("changes.edit")
def edit(request_id):
    change = _load_request(request_id, "changes.edit")
    form = ChangeRequestForm(obj=change)
    _fill_choices(form)
    if request.method == "GET":
        form.affected_department_ids.data = [d.id for d in change.affected_departments]
        form.node_ids.data = [n.id for n in change.nodes]
        form.requirement_ids.data = [r.id for r in change.requirements]
    if form.validate_on_submit():
        try:
            services.update_change_request(change, **_form_fields(form))
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("%(ref)s is saved.", ref=change.reference), "success")
            return redirect(url_for("changes.detail", request_id=change.id))
    return _render_form(form, change)


def _detail_page(change: ChangeRequest, status: int = 200, **forms):
    move_form = forms.get("move_form") or CommentForm()
    releases = db.session.scalars(select(Release).where(Release.state == "planned")
                                  .order_by(Release.planned_on)).all()
    move_form.release_id.choices = [(r.id, f"{r.name} · {r.planned_on.isoformat()}") for r in releases]
    # A risk may be raised, never lowered: offer only the current level and those above it.
    levels_from_current = RISK_LEVELS[RISK_LEVELS.index(change.effective_risk):]
    assess_form = forms.get("assess_form") or AssessForm(raise_to=change.effective_risk)
    assess_form.raise_to.choices = [(level, labels.RISK_LABELS[level]) for level in levels_from_current]
    risk_form = forms.get("risk_form") or RaiseRiskForm(risk_level=(levels_from_current[1:] or [None])[0])
    risk_form.risk_level.choices = [(level, labels.RISK_LABELS[level]) for level in levels_from_current[1:]]
    attachment_form = forms.get("attachment_form") or AttachmentForm()
    moves = services.allowed_moves(change, current_user) if can(current_user, "changes.transition", change) else []
    return render_template(
        "changes/detail.html", change=change, moves=moves, move_form=move_form, assess_form=assess_form,
        risk_form=risk_form, attachment_form=attachment_form, releases=releases,
        risk_reasons=services.risk_reasons_text(change),
        history=history_of("change_requests", change.id)), status


@bp.route("/<int:request_id>")
@require("changes.view")
def detail(request_id):
    change = _load_request(request_id)
    return _detail_page(change)


@bp.route("/<int:request_id>/move", methods=["POST"])
@require("changes.transition")
def move(request_id):
    change = _load_request(request_id, "changes.transition")
    form = CommentForm()
    form.release_id.choices = []
    to_state = request.form.get("to_state", "")
    if to_state not in STATES:
        flash(_("Unknown step."), "danger")
        return _detail_page(change, 422, move_form=form)
    release = db.session.get(Release, form.release_id.data) if form.release_id.data else None
    try:
        services.move(change, to_state, current_user, form.comment.data or "", release=release)
    except ServiceError as error:
        apply_service_error(None, error)
        db.session.refresh(change)
        return _detail_page(change, 422, move_form=form)
    flash(_("%(ref)s is now “%(state)s”.", ref=change.reference, state=labels.STATE_LABELS[change.state]),
          "success")
    return redirect(url_for("changes.detail", request_id=change.id))


@bp.route("/<int:request_id>/assess", methods=["POST"])
@require("changes.review")
def assess(request_id):
    change = _load_request(request_id)
    form = AssessForm()
    if form.validate_on_submit():
        try:
            services.assess(change, current_user, form.comment.data or "", form.raise_to.data,
                            form.raise_reason.data or "")
        except ServiceError as error:
            # The risk rules name their own fields; on this form they are raise_to and raise_reason.
            field = {"risk_level": "raise_to", "risk_reason": "raise_reason"}.get(error.field, error.field)
            apply_service_error(form, ServiceError(error.message, field))
            db.session.refresh(change)
        else:
            flash(_("%(ref)s is assessed.", ref=change.reference), "success")
            return redirect(url_for("changes.detail", request_id=change.id))
    return _detail_page(change, 422, assess_form=form)


@bp.route("/<int:request_id>/risk", methods=["POST"])
@require("changes.review")
def raise_risk(request_id):
    change = _load_request(request_id)
    form = RaiseRiskForm()
    if form.validate_on_submit():
        try:
            services.raise_risk(change, form.risk_level.data, form.risk_reason.data, current_user)
        except ServiceError as error:
            apply_service_error(form, error)
            db.session.refresh(change)
        else:
            flash(_("The risk is raised."), "success")
            return redirect(url_for("changes.detail", request_id=change.id))
    return _detail_page(change, 422, risk_form=form)


@bp.route("/<int:request_id>/attachments", methods=["POST"])
@require("changes.edit")
def upload(request_id):
    change = _load_request(request_id, "changes.edit")
    form = AttachmentForm()
    if form.validate_on_submit():
        upload_file = form.file.data
        try:
            services.add_attachment(change, upload_file.filename, upload_file.stream, current_user)
        except ServiceError as error:
            apply_service_error(form, error)
            db.session.refresh(change)
        else:
            flash(_("The file is attached."), "success")
            return redirect(url_for("changes.detail", request_id=change.id))
    return _detail_page(change, 422, attachment_form=form)


@bp.route("/attachments/<int:attachment_id>")
@require("changes.view")
def attachment(attachment_id):
    item = db.get_or_404(ChangeAttachment, attachment_id)
    authorize("changes.view", item.request)
    try:
        data = services.attachment_bytes(item)
    except FileNotFoundError:
        abort(404)
    record_event("download", entity="change_attachments", entity_id=item.id, detail=item.original_name[:200])
    response = download_response(data, item.original_name, item.content_type)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- windows ------------------------------------------------------------------------------
@bp.route("/windows")
@require("changes.view")
def windows():
    overview = services.windows_overview(_scope())
    return render_template("changes/windows.html", now=utcnow(), describe=services.describe_cadence, **overview)


def _window_page(window: ReviewWindow, status: int = 200, **forms):
    items = list(db.session.scalars(services.agenda_query(window).where(_scope())))
    emergencies = [r for r in services.emergencies_to_review(window) if may_view_change(current_user, r)]
    decisions = [d for d in services.decisions_in(window) if may_view_change(current_user, d.request)]
    return render_template(
        "changes/window.html", window=window, items=items, emergencies=emergencies, decisions=decisions,
        decision_form=forms.get("decision_form") or DecisionForm(), failed_id=forms.get("failed_id"),
        post_review_form=forms.get("post_review_form") or PostReviewForm(),
        close_form=forms.get("close_form") or CloseWindowForm(), name=services.window_name(window),
        is_held=window.starts_at <= utcnow(), risk_reasons=services.risk_reasons_text), status


@bp.route("/windows/<int:window_id>")
@require("changes.view")
def window(window_id):
    return _window_page(db.get_or_404(ReviewWindow, window_id))


def _window_request(window_id: int, request_id: int) -> tuple[ReviewWindow, ChangeRequest]:
    review_window = db.get_or_404(ReviewWindow, window_id)
    change = db.get_or_404(ChangeRequest, request_id)
    authorize("changes.review", change)
    return review_window, change


@bp.route("/windows/<int:window_id>/requests/<int:request_id>/decide", methods=["POST"])
@require("changes.review")
def decide(window_id, request_id):
    review_window, change = _window_request(window_id, request_id)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            services.decide(change, form.outcome.data, form.reason.data, current_user, review_window)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("%(ref)s: %(outcome)s.", ref=change.reference, outcome=labels.STATE_LABELS[form.outcome.data]),
                  "success")
            return redirect(url_for("changes.window", window_id=review_window.id))
    return _window_page(review_window, 422, decision_form=form, failed_id=change.id)


@bp.route("/windows/<int:window_id>/requests/<int:request_id>/post-review", methods=["POST"])
@require("changes.review")
def post_review(window_id, request_id):
    review_window, change = _window_request(window_id, request_id)
    form = PostReviewForm()
    if form.validate_on_submit():
        try:
            services.post_review(change, review_window, form.comment.data, current_user)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The emergency decision is reviewed."), "success")
            return redirect(url_for("changes.window", window_id=review_window.id))
    return _window_page(review_window, 422, post_review_form=form, failed_id=change.id)


@bp.route("/windows/<int:window_id>/agenda", methods=["POST"])
@require("changes.review")
def send_agenda(window_id):
    review_window = db.get_or_404(ReviewWindow, window_id)
    try:
        count = services.send_agenda(review_window)
    except ServiceError as error:
        apply_service_error(None, error)
        return _window_page(review_window, 422)
    flash(ngettext("The agenda went to %(num)d reviewer.", "The agenda went to %(num)d reviewers.", count), "success")
    return redirect(url_for("changes.window", window_id=review_window.id))


@bp.route("/windows/<int:window_id>/close", methods=["POST"])
@require("changes.review")
def close_window(window_id):
    review_window = db.get_or_404(ReviewWindow, window_id)
    form = CloseWindowForm()
    if form.validate_on_submit():
        try:
            moved = services.close_window(review_window, form.minutes.data, current_user)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(ngettext("The window is closed; %(num)d request moved to the next window.",
                           "The window is closed; %(num)d requests moved to the next window.", len(moved)),
                  "success")
            return redirect(url_for("changes.window", window_id=review_window.id))
    return _window_page(review_window, 422, close_form=form)


@bp.route("/cadences")
@require("changes.cadences")
def cadences():
    return _cadences_page()


def _cadences_page(status: int = 200):
    return render_template("changes/cadences.html", rows=services.cadences_overview(),
                           describe=services.describe_cadence), status


def _flash_window_changes(changes: services.WindowChanges) -> None:
    if changes.created or changes.moved or changes.removed:
        flash(_("Coming windows: %(created)d created, %(moved)d moved, %(removed)d removed.",
                created=len(changes.created), moved=len(changes.moved), removed=len(changes.removed)), "info")
    if changes.requests_moved:
        flash(ngettext("%(num)d request on removed windows moved to the next open window.",
                       "%(num)d requests on removed windows moved to the next open window.", changes.requests_moved),
              "info")
    if changes.kept:
        flash(_("Kept because decisions were already taken in them: %(windows)s.",
                windows="、".join(changes.kept)), "warning")


@bp.route("/cadences/new", methods=["GET", "POST"])
@bp.route("/cadences/<int:cadence_id>/edit", methods=["GET", "POST"])
@require("changes.cadences")
def edit_cadence(cadence_id=None):
    cadence = db.get_or_404(ReviewCadence, cadence_id) if cadence_id else None
    form = CadenceForm(obj=cadence)
    if request.method == "GET" and cadence is None:
        form.starts_on.data = local_today()
    if form.validate_on_submit():
        fields = {field: getattr(form, field).data for field in services.CADENCE_FIELDS}
        try:
            if cadence is None:
                cadence, created = services.save_cadence(**fields)
                changes = services.WindowChanges(created=created)
            else:
                changes = services.update_cadence(cadence, **fields)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The cadence %(name)s is saved.", name=cadence.name), "success")
            _flash_window_changes(changes)
            return redirect(url_for("changes.cadences"))
    title = cadence.name if cadence else _("New review cadence")
    history = history_of("review_cadences", cadence.id) if cadence else []
    return render_template("changes/cadence_form.html", form=form, title=title, cadence=cadence,
                           history=history), 422 if form.errors else 200


@bp.route("/cadences/<int:cadence_id>/switch", methods=["POST"])
@require("changes.cadences")
def switch_cadence(cadence_id):
    cadence = db.get_or_404(ReviewCadence, cadence_id)
    form = CadenceSwitchForm()
    if not form.validate_on_submit():
        flash(_("Choose to switch the cadence on or off."), "danger")
        return _cadences_page(422)
    try:
        changes = services.set_cadence_active(cadence, form.active.data == "on")
    except ServiceError as error:
        apply_service_error(None, error)
        return _cadences_page(422)
    if cadence.is_active:
        flash(_("%(name)s is switched on.", name=cadence.name), "success")
    else:
        flash(_("%(name)s is switched off: it creates no more review windows.", name=cadence.name), "success")
    _flash_window_changes(changes)
    return redirect(url_for("changes.cadences"))


@bp.route("/freezes/new", methods=["GET", "POST"])
@bp.route("/freezes/<int:freeze_id>", methods=["GET", "POST"])
@require("changes.plan")
def edit_freeze(freeze_id=None):
    freeze = db.get_or_404(FreezePeriod, freeze_id) if freeze_id else None
    form = FreezeForm(obj=freeze)
    if form.validate_on_submit():
        try:
            freeze = services.save_freeze(form.title.data, form.starts_on.data, form.ends_on.data, form.reason.data,
                                          current_user, freeze)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The freeze %(title)s is saved.", title=freeze.title), "success")
            return redirect(url_for("changes.windows"))
    title = freeze.title if freeze else _("New freeze period")
    return render_template("changes/simple_form.html", form=form, title=title,
                           back=url_for("changes.windows")), 422 if form.errors else 200


# --- releases -----------------------------------------------------------------------------
@bp.route("/releases")
@require("changes.view")
def releases():
    # Each release counts the requests its page shows the reader.
    # Overdue is the release's own state, whatever part of it the reader sees.
    rows = db.session.execute(
        select(Release, func.count(ChangeRequest.id), services.overdue_clause().label("is_overdue"))
        .outerjoin(ChangeRequest, (ChangeRequest.release_id == Release.id) & (ChangeRequest.state != "cancelled")
                   & _scope())
        .group_by(Release.id).order_by(Release.planned_on.desc())).all()
    return render_template("changes/releases.html", rows=rows)


@bp.route("/releases/new", methods=["GET", "POST"])
@bp.route("/releases/<int:release_id>/edit", methods=["GET", "POST"])
@require("changes.plan")
def edit_release(release_id=None):
    release = db.get_or_404(Release, release_id) if release_id else None
    form = ReleaseForm(obj=release)
    if form.validate_on_submit():
        try:
            release = services.save_release(form.name.data, form.planned_on.data, current_user, release)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Release %(name)s is saved.", name=release.name), "success")
            return redirect(url_for("changes.release", release_id=release.id))
    title = release.name if release else _("New release")
    return render_template("changes/simple_form.html", form=form, title=title,
                           back=url_for("changes.releases")), 422 if form.errors else 200


def _release_page(release: Release, status: int = 200, notes_form=None):
    requests = [r for r in release.requests if may_view_change(current_user, r)]
    approved = []
    if can(current_user, "changes.plan") and not release.is_implemented:
        approved = db.session.scalars(select(ChangeRequest).where(ChangeRequest.state == "approved")
                                      .order_by(ChangeRequest.risk_rank.desc(), ChangeRequest.id)).all()
    notes_form = notes_form or ReleaseNotesForm(notes_markdown=release.notes_markdown or
                                                services.release_notes(release))
    return render_template("changes/release.html", release=release, requests=requests, approved=approved,
                           notes_form=notes_form, move_form=CommentForm(),
                           missing_from_notes=services.missing_from_notes(release),
                           is_overdue=services.is_overdue(release),
                           follow_ups=services.release_follow_ups(release)), status


@bp.route("/releases/<int:release_id>")
@require("changes.view")
def release(release_id):
    return _release_page(db.get_or_404(Release, release_id))


@bp.route("/releases/<int:release_id>/schedule", methods=["POST"])
@require("changes.plan")
def schedule(release_id):
    target = db.get_or_404(Release, release_id)
    change = db.get_or_404(ChangeRequest, request.form.get("request_id", type=record_id) or 0)
    try:
        services.schedule(change, target, current_user, request.form.get("comment", ""))
    except ServiceError as error:
        apply_service_error(None, error)
        return _release_page(db.session.get(Release, release_id), 422)
    flash(_("%(ref)s is scheduled into %(release)s.", ref=change.reference, release=target.name), "success")
    return redirect(url_for("changes.release", release_id=target.id))


@bp.route("/releases/<int:release_id>/notes", methods=["POST"])
@require("changes.plan")
def release_notes(release_id):
    target = db.get_or_404(Release, release_id)
    form = ReleaseNotesForm()
    if request.form.get("regenerate"):
        services.regenerate_notes(target)
        flash(_("The release notes are regenerated from its requests."), "success")
        return redirect(url_for("changes.release", release_id=target.id))
    if form.validate_on_submit():
        target.notes_markdown = (form.notes_markdown.data or "").strip()
        flash(_("The release notes are saved."), "success")
        return redirect(url_for("changes.release", release_id=target.id))
    return _release_page(target, 422, notes_form=form)


@bp.route("/releases/<int:release_id>/implement", methods=["POST"])
@require("changes.plan")
def implement(release_id):
    target = db.get_or_404(Release, release_id)
    try:
        result = services.implement_release(target, current_user)
    except ServiceError as error:
        apply_service_error(None, error)
        return _release_page(db.session.get(Release, release_id), 422)
    flash(_("%(release)s is implemented: %(requests)s, %(versions)s, %(people)s.", release=target.name,
            requests=ngettext("%(num)d change request", "%(num)d change requests", result["requests"]),
            versions=ngettext("%(num)d process draft to update", "%(num)d process drafts to update",
                              len(result["versions"])),
            people=ngettext("%(num)d person told", "%(num)d people told", result["announced"])), "success")
    return redirect(url_for("changes.release", release_id=target.id))


# --- calendar and metrics ------------------------------------------------------------------
@bp.route("/calendar")
@require("changes.view")
def calendar():
    today = local_today()
    try:
        year = int(request.args.get("year", today.year))
        month = int(request.args.get("month", today.month))
        date(year, month, 1)
    except (ValueError, OverflowError):
        year, month = today.year, today.month
    year = min(max(year, 2000), 2100)
    grid = services.month_grid(year, month)
    previous = (year - 1, 12) if month == 1 else (year, month - 1)
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return render_template("changes/calendar.html", grid=grid, today=today, previous=previous,
                           following=following)


@bp.route("/calendar.ics")
@require("changes.view")
def calendar_ics():
    return ics_response(services.calendar_items(), _("Change calendar"), "changes.ics")


@bp.route("/metrics")
@require("changes.metrics")
def metrics():
    data = services.metrics(_scope("changes.metrics"))
    chart = None
    if data["per_window"]:
        most = max(sum(w[d] for d in services.DECISIONS) for w in data["per_window"])
        chart = svg_chart("stacked", _("Requests per window"),
                          [f"{w['title']} {w['starts_at']:%m-%d}" for w in data["per_window"]],
                          {str(labels.STATE_LABELS[d]): [w[d] for w in data["per_window"]]
                           for d in services.DECISIONS}, height=320, y_labels=whole_ticks(most))
    return render_template("changes/metrics.html", data=data, chart=chart, today=local_today())
