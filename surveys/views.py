"""Requirements capture pages: surveys, answering by personal link, interviews, backlog, coverage."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from rollout import figures
from rollout.access import (ALL, PUBLIC, RULES, authorize, can, department_scope_ids, home_department_id, require,
                            scope_clause)
from rollout.accounts.models import Department, User
from rollout.accounts.services import department_choices
from rollout.audit.services import history_of, record_event
from rollout.errors import ServiceError
from rollout.extensions import db, limiter
from rollout.reports.charts import svg_chart
from rollout.reports.exports import Column, download_response, export_response
from rollout.timeutil import local_today
from rollout.web import apply_service_error, ids_in, page_of, paginate, record_id
from surveys import charts as survey_charts
from surveys import services, xlsform
from surveys.forms import (CONDITION_OP_LABELS, CONDITION_ROWS, METHOD_LABELS, PRIORITY_LABELS, QUESTION_TYPE_LABELS,
                           HighlightForm, ImportForm, InterviewForm, QuestionForm, RequirementForm, SectionForm,
                           SurveyForm, strip_nul)
from surveys.models import (REQUIREMENT_STATUS_LABELS, SURVEY_STATUS_LABELS, CLOSED, LIKERT, MULTIPLE, OPEN,
                            PRIORITIES, RANKING, REQUIREMENT_STATUSES, SINGLE, Highlight,
                            HighlightTag, Interview, InterviewInterviewee, Question, Requirement,
                            RequirementEvidence, Survey, SurveyAnswer, SurveyInvitation, requirement_departments)

bp = Blueprint("surveys", __name__, url_prefix="/surveys")
NONE = 0


@bp.app_context_processor
def survey_helpers():
    return {"localized": services.localized, "answer_text": services.display_value,
            "answer_source": services.answer_source,
            "question_type_label": lambda t: QUESTION_TYPE_LABELS.get(t, t),
            "survey_status_label": lambda s: SURVEY_STATUS_LABELS.get(s, s),
            "method_label": lambda m: METHOD_LABELS.get(m, m),
            "interviewees_text": services.interviewees_text, "person_heard": services.person_heard,
            "priority_label": lambda p: PRIORITY_LABELS.get(p, p),
            "requirement_status_label": lambda s: REQUIREMENT_STATUS_LABELS.get(s, s),
            "condition_op_label": lambda o: CONDITION_OP_LABELS.get(o, o)}


def _has_all(action: str) -> bool:
    rule = RULES[action]
    return any(rule.get(role) == ALL for role in current_user.roles)


def _scope_ids(action: str) -> set[int] | None:
    """None when the user sees everything for ``action``, else their department's ids."""
    return None if _has_all(action) else department_scope_ids(current_user)


# --- hub -----------------------------------------------------------------------------
@bp.route("/")
@require("surveys.view")
def index():
    invitations = services.invitations_for(current_user)
    coverage = None
    if can(current_user, "coverage.view"):
        coverage = services.coverage_matrix(_scope_ids("coverage.view"))
    counts = {}
    if can(current_user, "surveys.manage"):
        counts["surveys"] = db.session.scalar(select(func.count()).select_from(Survey).where(
            *services.answering_today(),
            scope_clause(current_user, "surveys.manage", department_column=Survey.department_id)))
    if can(current_user, "requirements.view"):
        counts["requirements"] = db.session.scalar(select(func.count()).select_from(Requirement).where(
            Requirement.status != "merged", services.requirements_in_scope(_scope_ids("requirements.view"))))
    if can(current_user, "interviews.view"):
        counts["interviews"] = db.session.scalar(select(func.count()).select_from(Interview).where(
            scope_clause(current_user, "interviews.view", department_column=Interview.department_id)))
    return render_template("surveys/index.html", invitations=invitations, coverage=coverage, counts=counts)


# --- surveys -------------------------------------------------------------------------
@bp.route("/list")
@require("surveys.manage")
def survey_list():
    status = request.args.get("status", "")
    query = select(Survey).where(scope_clause(current_user, "surveys.manage", department_column=Survey.department_id))
    if status in SURVEY_STATUS_LABELS:
        query = query.where(Survey.status == status)
    page = paginate(query.options(db.joinedload(Survey.department)).order_by(Survey.created_at.desc(), Survey.id.desc()))
    ids = [s.id for s in page.items]
    stats = {survey_id: (invited, int(done or 0)) for survey_id, invited, done in db.session.execute(
        select(SurveyInvitation.survey_id, func.count(),
               func.sum(db.case((SurveyInvitation.has_responded.is_(True), 1), else_=0)))
        .where(SurveyInvitation.survey_id.in_(ids or [-1])).group_by(SurveyInvitation.survey_id))}
    return render_template("surveys/surveys.html", page=page, stats=stats, status=status, today=local_today())


def _survey_form_choices(form):
    departments = department_choices(include_company=False)
    form.department_id.choices = [(NONE, "—")] + departments
    form.audience_departments.choices = departments
    if not _has_all("surveys.manage"):
        own = department_scope_ids(current_user)
        form.department_id.choices = [c for c in departments if c[0] in own]


def _survey_fields(form) -> dict:
    audience = db.session.scalars(select(Department).where(
        Department.id.in_(form.audience_departments.data or [-1]))).all()
    department = db.session.get(Department, form.department_id.data) if form.department_id.data else None
    if not _has_all("surveys.manage") and (department is None or department.id not in
                                           department_scope_ids(current_user)):
        raise ServiceError(_("Choose your own department."), "department_id")
    return dict(title=form.title.data, description=form.description.data or "", department=department,
                is_anonymous=form.is_anonymous.data, opens_on=form.opens_on.data, closes_on=form.closes_on.data,
                audience_departments=audience, audience_roles=form.audience_roles.data or [],
                recurrence=form.recurrence.data or None)


@bp.route("/new", methods=["GET", "POST"])
@require("surveys.manage")
def new_survey():
    form = SurveyForm()
    _survey_form_choices(form)
    if form.validate_on_submit():
        try:
            survey = services.create_survey(owner=current_user, **_survey_fields(form))
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Survey created. Now add questions."), "success")
            return redirect(url_for("surveys.survey", survey_id=survey.id))
    return render_template("surveys/survey_form.html", form=form, survey=None), 422 if form.errors else 200


@bp.route("/<int:survey_id>/edit", methods=["GET", "POST"])
@require("surveys.manage")
def edit_survey(survey_id):
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.manage", survey)
    form = SurveyForm(obj=survey)
    _survey_form_choices(form)
    if request.method == "GET":
        form.department_id.data = survey.department_id or NONE
        form.audience_departments.data = [d.id for d in survey.audience_departments]
        form.audience_roles.data = survey.audience_roles or []
        form.recurrence.data = survey.recurrence or ""
        # What stops it from opening or inviting; a closed survey's past date is only its history,
        # unless reopening it was just refused (_refused).
        if services.closing_day_passed(survey) and (survey.status != CLOSED or request.args.get("reopen")):
            form.closes_on.errors = [str(services.PAST_CLOSING_DAY)]
    elif form.validate_on_submit():
        try:
            services.update_survey(survey, **_survey_fields(form))
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Survey saved."), "success")
            return redirect(url_for("surveys.survey", survey_id=survey.id))
    status = 422 if request.method == "POST" and form.errors else 200
    return render_template("surveys/survey_form.html", form=form, survey=survey), status


@bp.route("/<int:survey_id>")
@require("surveys.manage")
def survey(survey_id):
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.manage", survey)
    invited, responded = db.session.execute(
        select(func.count(), func.sum(db.case((SurveyInvitation.has_responded.is_(True), 1), else_=0)))
        .where(SurveyInvitation.survey_id == survey.id)).one()
    return render_template("surveys/survey.html", survey=survey, section_form=SectionForm(),
                           has_responses=services.has_responses(survey), invited=invited, responded=int(responded or 0),
                           closing_day_passed=survey.status != CLOSED and services.closing_day_passed(survey),
                           audience_size=len(services.audience_users(survey)),
                           reminder_schedule=services.reminder_schedule(survey), today=local_today(),
                           managers=services.survey_managers(survey),
                           transitions=sorted(services.SURVEY_TRANSITIONS.get(survey.status, ())))


@bp.route("/<int:survey_id>/sections", methods=["POST"])
@require("surveys.manage")
def add_section(survey_id):
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.manage", survey)
    form = SectionForm()
    if form.validate_on_submit():
        try:
            services.add_section(survey, form.title.data, form.title_zh.data, form.title_en.data)
        except ServiceError as error:
            flash(error.message, "danger")
            return redirect(url_for("surveys.survey", survey_id=survey.id)), 303
        flash(_("Section added."), "success")
    else:
        flash(_("A section title is required."), "danger")
    return redirect(url_for("surveys.survey", survey_id=survey.id))


def _conditions_from_form() -> list[dict]:
    """The skip-logic rows as posted: question, operator, an answer picked ("question:value") or typed."""
    rules = []
    for index in range(CONDITION_ROWS):
        rule = {"question": request.form.get(f"cond_{index}_question", "").strip(),
                "op": request.form.get(f"cond_{index}_op", "equals"),
                "option": request.form.get(f"cond_{index}_option", "").strip(),
                "value": strip_nul(request.form.get(f"cond_{index}_value", ""))}
        if rule["question"] or rule["option"] or rule["value"].strip():
            rules.append(rule)
    return rules


def _condition_rows(survey: Survey, conditions: list[dict]) -> list[dict]:
    """Stored rules as the form's rows: an answer of a choice question is picked from its list."""
    by_name = {q.name: q for q in survey.questions}
    rows = []
    for rule in conditions:
        target = by_name.get(rule.get("question"))
        if target is not None and target.type in (SINGLE, MULTIPLE):
            rows.append({**rule, "option": f"{target.name}:{rule.get('value', '')}", "value": ""})
        else:
            rows.append(rule)
    return rows


@bp.route("/<int:survey_id>/questions/new", methods=["GET", "POST"])
@bp.route("/<int:survey_id>/questions/<int:question_id>", methods=["GET", "POST"])
@require("surveys.manage")
def edit_question(survey_id, question_id=None):
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.manage", survey)
    question = None
    if question_id is not None:
        question = db.get_or_404(Question, question_id)
        if question.survey_id != survey.id:
            abort(404)
    form = QuestionForm(obj=question)
    form.section_id.choices = [(NONE, "—")] + [(s.id, services.localized(s, "title")) for s in survey.sections]
    conditions = _condition_rows(survey, question.conditions or []) if question else []
    if request.method == "GET":
        if question is not None:
            form.section_id.data = question.section_id or NONE
            form.choices_text.data = services.option_lines(question.choices)
            form.rows_text.data = services.option_lines(question.rows)
        else:
            form.name.data = f"q{len(survey.questions) + 1}"
            if survey.sections:
                form.section_id.data = survey.sections[-1].id
    else:
        conditions = _conditions_from_form()
    if form.validate_on_submit():
        section = next((s for s in survey.sections if s.id == form.section_id.data), None)
        try:
            services.save_question(survey, question, name=form.name.data, type=form.type.data, label=form.label.data,
                                   label_zh=form.label_zh.data, label_en=form.label_en.data, hint=form.hint.data or "",
                                   is_required=form.is_required.data, section=section,
                                   options=services.parse_option_lines(form.choices_text.data),
                                   rows=services.parse_option_lines(form.rows_text.data), conditions=conditions,
                                   condition_join=form.condition_join.data)
        except ServiceError as error:
            if error.field == "conditions":  # the rows are plain inputs: show it at the skip-logic box
                db.session.rollback()
                form.condition_join.errors = list(form.condition_join.errors) + [error.message]
            else:
                error.field = {"options": "choices_text", "rows": "rows_text"}.get(error.field, error.field)
                apply_service_error(form, error)
        else:
            flash(_("Question saved."), "success")
            return redirect(url_for("surveys.survey", survey_id=survey.id) + "#questions")
    position = question.position if question else len(survey.questions) and max(q.position for q in survey.questions) + 1
    earlier = [q for q in survey.questions if q.position < position and q.type not in ("note", LIKERT, RANKING)]
    choice_questions = [q for q in earlier if q.type in (SINGLE, MULTIPLE)]
    conditions = conditions + [{}] * (CONDITION_ROWS - len(conditions))
    return render_template("surveys/question_form.html", form=form, survey=survey, question=question,
                           conditions=conditions[:CONDITION_ROWS], earlier=earlier, choice_questions=choice_questions,
                           has_responses=services.has_responses(survey)), 422 if form.errors else 200


@bp.route("/<int:survey_id>/questions/<int:question_id>/delete", methods=["POST"])
@require("surveys.manage")
def delete_question(survey_id, question_id):
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.manage", survey)
    question = db.get_or_404(Question, question_id)
    if question.survey_id != survey.id:
        abort(404)
    try:
        services.delete_question(question)
    except ServiceError as error:
        flash(error.message, "danger")
        return redirect(url_for("surveys.survey", survey_id=survey.id)), 303
    flash(_("Question removed."), "success")
    return redirect(url_for("surveys.survey", survey_id=survey.id))


@bp.route("/<int:survey_id>/status", methods=["POST"])
@require("surveys.manage")
def survey_status(survey_id):
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.manage", survey)
    status = request.form.get("status", "")
    was = survey.status
    try:
        if status == OPEN and survey.status == "draft":
            sent = services.publish(survey)
            if sent:
                flash(ngettext("%(num)d invitation sent.", "%(num)d invitations sent.", sent), "info")
            else:
                flash(_("Nobody is invited yet: invite people below so the survey reaches them."), "warning")
        else:
            services.change_survey_status(survey, status, actor=current_user)
    except ServiceError as error:
        return _refused(survey, error)
    if status == CLOSED:
        flash(_("The survey is closed."), "success")
    elif was == CLOSED:
        flash(_("The survey is open again."), "success")
    else:
        flash(_("The survey is open."), "success")
    return redirect(url_for("surveys.survey", survey_id=survey.id))


def _refused(survey: Survey, error: ServiceError):
    """A refused action on the survey page: its message, back on the page; a closing date that has
    passed is fixed in the settings, where the field is marked."""
    apply_service_error(None, error)
    if error.field == "closes_on":
        return redirect(url_for("surveys.edit_survey", survey_id=survey.id,
                                reopen=1 if survey.status == CLOSED else None)), 303
    return redirect(url_for("surveys.survey", survey_id=survey.id)), 303


@bp.route("/<int:survey_id>/new-version", methods=["POST"])
@require("surveys.manage")
def new_version(survey_id):
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.manage", survey)
    copy = services.new_version(survey, current_user)
    flash(_("Version %(version)d created as a draft; change it freely.", version=copy.version), "success")
    if survey.closes_on and copy.closes_on is None:
        flash(_("The closing date %(day)s has passed, so the new version has none yet: set one in its settings.",
                day=survey.closes_on.isoformat()), "warning")
    return redirect(url_for("surveys.survey", survey_id=copy.id))


@bp.route("/<int:survey_id>/invite", methods=["POST"])
@require("surveys.manage")
def invite(survey_id):
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.manage", survey)
    try:
        created = services.invite_audience(survey)
    except ServiceError as error:
        return _refused(survey, error)
    if survey.status == OPEN:
        flash(ngettext("%(num)d person invited.", "%(num)d people invited.", len(created)), "success")
    else:  # a draft's invitations go out when it opens
        flash(ngettext("%(num)d person will be invited when the survey opens.",
                       "%(num)d people will be invited when the survey opens.", len(created)), "success")
    return redirect(url_for("surveys.survey", survey_id=survey.id))


@bp.route("/<int:survey_id>/remind", methods=["POST"])
@require("surveys.manage")
def remind(survey_id):
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.manage", survey)
    try:
        count = services.remind(survey)
    except ServiceError as error:
        return _refused(survey, error)
    flash(ngettext("%(num)d reminder sent.", "%(num)d reminders sent.", count), "success")
    return redirect(url_for("surveys.survey", survey_id=survey.id))


@bp.route("/<int:survey_id>/results")
@require("surveys.results")
def results(survey_id):
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.results", survey)
    scope = _results_scope(survey)
    shown = services.survey_results(survey, scope)
    charts, scale_colors = survey_charts.results_charts(shown.summaries)
    became = services.requirements_from(answer_ids=[a.id for summary in shown.summaries for a in summary.texts or []])
    return render_template("surveys/results.html", survey=survey, progress=shown.progress, summaries=shown.summaries,
                           groups=shown.groups, withheld=shown.is_withheld, charts=charts, scale_colors=scale_colors,
                           became=became, scope_department=_scope_unit(scope),
                           team_scope=services.results_scope_is_team(current_user, scope),
                           min_group_size=services.MIN_GROUP_SIZE)


@bp.route("/<int:survey_id>/results/<int:question_id>/answers")
@require("surveys.results")
def result_answers(survey_id, question_id):
    """Every text answer to one question, newest first, under the same rules as the results page."""
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.results", survey)
    question = db.get_or_404(Question, question_id)
    if question.survey_id != survey.id or question.type not in services.TEXT_TYPES:
        abort(404)  # a note, or a question whose answers are figures, not texts
    scope = _results_scope(survey)
    shown = services.survey_results(survey, scope, text_limit=None)
    summary = next((s for s in shown.summaries if s.question.id == question.id), None)
    page = page_of(summary.texts if summary else [], per_page=50)
    became = services.requirements_from(answer_ids=[a.id for a in page.items])
    return render_template("surveys/result_answers.html", survey=survey, question=question, page=page,
                           groups=shown.groups, withheld=shown.is_withheld, became=became,
                           scope_department=_scope_unit(scope),
                           team_scope=services.results_scope_is_team(current_user, scope),
                           min_group_size=services.MIN_GROUP_SIZE)


def _results_scope(survey: Survey) -> set[int] | None:
    """None when the user reads every department's answers to ``survey``, else the ids of their department
    (a department's head) or team (a team's head) (services.results_scope)."""
    return services.results_scope(current_user, survey)


def _home_department() -> Department | None:
    """The department (not the team) the current user belongs to."""
    home_id = home_department_id(current_user.department_id)
    return db.session.get(Department, home_id) if home_id is not None else None


def _scope_unit(scope: set[int] | None) -> Department | None:
    """Whose answers a limited results page shows: the reader's team (a team's head) or department."""
    if scope is None:
        return None
    if services.results_scope_is_team(current_user, scope):
        return db.session.get(Department, current_user.department_id)
    return _home_department()


@bp.route("/<int:survey_id>/responses.<fmt>")
@require("surveys.export")
def export_responses(survey_id, fmt):
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.export", survey)
    if fmt not in ("xlsx", "csv"):
        abort(404)
    table_columns, rows = services.export_table(survey)
    columns = [Column(column.header, column.key, column.kind) for column in table_columns]
    return export_response(survey.title + "-" + _("responses"), columns, rows, fmt, entity="survey_responses",
                           filters={"survey": survey.id})


@bp.route("/<int:survey_id>/xlsform")
@require("surveys.manage")
def export_xlsform(survey_id):
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.manage", survey)
    record_event("export", entity="surveys", entity_id=survey.id, detail="xlsform")
    return download_response(xlsform.export_xlsform(survey), f"survey-{survey.id}-xlsform.xlsx",
                             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/import", methods=["GET", "POST"])
@require("surveys.import")
def import_xlsform():
    form = ImportForm()
    errors = []
    if form.validate_on_submit():
        upload = form.file.data
        name = (upload.filename or "").rsplit(".", 1)[0]
        try:
            survey = xlsform.import_xlsform(upload.read(), current_user, fallback_title=name)
        except xlsform.XLSFormErrors as error:
            db.session.rollback()
            errors = error.errors
            form.file.errors = [error.message]
        else:
            flash(_("Survey imported as a draft."), "success")
            return redirect(url_for("surveys.survey", survey_id=survey.id))
    return render_template("surveys/import.html", form=form, errors=errors), 422 if form.errors else 200


@bp.route("/<int:survey_id>/trend")
@require("surveys.results")
def trend(survey_id):
    survey = db.get_or_404(Survey, survey_id)
    authorize("surveys.results", survey)
    scope = _results_scope(survey)
    labels, series, question_name = services.trend(survey, scope)
    chart = svg_chart("line", _("Average score per department"), labels, series) if series else None
    occurrences = services.series_occurrences(survey)
    question = next((q for q in survey.questions if q.name == question_name), None)
    return render_template("surveys/trend.html", survey=survey, chart=chart, labels=labels, series=series,
                           occurrences=occurrences, question=question,
                           scope_department=_scope_unit(scope),
                           team_scope=services.results_scope_is_team(current_user, scope),
                           min_group_size=services.MIN_GROUP_SIZE)


# --- answering by personal link ----------------------------------------------------------------
def raw_answers(survey: Survey, form) -> dict:
    """Form fields → raw answers by question name (lists, Likert dicts, ranking orders)."""
    form = MultiDict([(key, strip_nul(value)) for key, value in form.items(multi=True)])
    raw = {}
    for question in survey.questions:
        key = f"q_{question.name}"
        if question.type == MULTIPLE:
            raw[question.name] = form.getlist(key)
        elif question.type == LIKERT:
            raw[question.name] = {row.value: form.get(f"{key}__{row.value}", "") for row in question.rows}
        elif question.type == RANKING:
            ranks = {o.value: form.get(f"{key}__{o.value}", "").strip() for o in question.choices}
            if not any(ranks.values()):
                raw[question.name] = []
            elif all(r.isdigit() for r in ranks.values()) and \
                    sorted(int(r) for r in ranks.values()) == list(range(1, len(ranks) + 1)):
                raw[question.name] = sorted(ranks, key=lambda value: int(ranks[value]))
            else:
                raw[question.name] = ["?"]  # rejected by the type check with a clear message
        else:
            raw[question.name] = form.get(key, "")
    return raw


def _form_values(survey: Survey, raw: dict, form=None) -> dict:
    """Answers in the shape the template shows (rankings as {value: rank}). Given the posted ``form``,
    rankings show the ranks as chosen, even ones the checks refused, so nobody has to rank again."""
    values = dict(raw)
    for question in survey.questions:
        if question.type != RANKING:
            continue
        if form is not None:
            values[question.name] = {o.value: form.get(f"q_{question.name}__{o.value}", "").strip()
                                     for o in question.choices}
        elif isinstance(values.get(question.name), list):
            values[question.name] = {v: i for i, v in enumerate(values[question.name], start=1)}
    return values


@bp.route("/respond/<token>", methods=["GET", "POST"])
@require(PUBLIC)
@limiter.limit("30 per minute", methods=["POST"])
def respond(token):
    invitation = db.session.scalar(select(SurveyInvitation).where(SurveyInvitation.token == token))
    if invitation is None or not token:
        abort(404)
    # The link answers without signing in; someone signed in as another person is not its invitee.
    if current_user.is_authenticated and current_user.id != invitation.user_id:
        abort(403)
    survey = invitation.survey
    errors, status = {}, 200
    values = _form_values(survey, invitation.draft_answers or {})
    if invitation.has_responded:
        return render_template("surveys/respond_done.html", survey=survey, already=True)
    if not services.accepting_answers(survey):
        return render_template("surveys/respond_done.html", survey=survey, closed=True,
                               why_closed=services.why_not_answering(survey))
    if request.method == "POST":
        raw = raw_answers(survey, request.form)
        values = _form_values(survey, raw, request.form)
        try:
            if request.form.get("action") == "draft":
                services.save_draft(invitation, raw)
                flash(_("Your answers are saved. Open the same link to continue."), "success")
                return redirect(url_for("surveys.respond", token=token))
            services.submit_response(invitation, raw)
        except services.AnswerErrors as error:
            db.session.rollback()
            errors, status = error.errors, 422
        except ServiceError as error:
            apply_service_error(None, error)
            status = 422
        else:
            return render_template("surveys/respond_done.html", survey=survey, thanks=True)
    return render_template("surveys/respond.html", survey=survey, invitation=invitation, values=values,
                           errors=errors), status


# --- interviews ---------------------------------------------------------------------------------
@bp.route("/interviews")
@require("interviews.view")
def interviews():
    tag = request.args.get("tag", "").strip()[:50]
    query = select(Interview).where(scope_clause(current_user, "interviews.view",
                                                 department_column=Interview.department_id))
    if tag:
        query = query.where(Interview.id.in_(select(Highlight.interview_id).join(HighlightTag).where(
            HighlightTag.tag == tag)))
    page = paginate(query.options(db.joinedload(Interview.department), db.joinedload(Interview.interviewer),
                                  db.selectinload(Interview.interviewees).joinedload(InterviewInterviewee.user))
                    .order_by(Interview.held_on.desc(), Interview.id.desc()))
    ids = [i.id for i in page.items]
    highlight_counts = dict(db.session.execute(select(Highlight.interview_id, func.count()).where(
        Highlight.interview_id.in_(ids or [-1])).group_by(Highlight.interview_id)).all())
    return render_template("surveys/interviews.html", page=page, tag=tag, highlight_counts=highlight_counts,
                           tags=services.tag_counts(_scope_ids("interviews.view")))


#: Empty person rows the interview form shows below the picked ones (more with "Add rows").
SPARE_PERSON_ROWS = 2


def _interview_form_choices(form, interview: Interview | None):
    departments = department_choices(include_company=False)
    if not _has_all("interviews.manage"):
        own = department_scope_ids(current_user)
        departments = [c for c in departments if c[0] in own]
    form.department_id.choices = departments
    # The people this user may record, and those the session already lists (kept when someone
    # with a narrower reach edits it).
    listed = [row.user_id for row in interview.interviewees] if interview is not None else []
    reach = scope_clause(current_user, "interviews.manage", department_column=User.department_id)
    users = db.session.execute(select(User.id, User.display_name).where(
        (User.is_active_account.is_(True) & reach) | User.id.in_(listed or [-1])).order_by(User.display_name)).all()
    form.interviewee_ids.choices = [(NONE, "—")] + [(u.id, u.display_name) for u in users]


def _person_rows(form) -> list[int]:
    """The account picked in each person row of the form, then the empty rows to fill."""
    picked = [user_id for user_id in (form.interviewee_ids.data or []) if user_id]
    wanted = len(picked) + SPARE_PERSON_ROWS
    if request.method == "POST" and "more_rows" in request.form:
        wanted += SPARE_PERSON_ROWS
    return picked + [NONE] * (min(max(wanted, 3), max(services.MAX_INTERVIEWEES, len(picked))) - len(picked))


def _picked_people(form) -> list[User]:
    """The accounts picked in the form, in the order listed; a ServiceError when one no longer exists."""
    ids = [user_id for user_id in (form.interviewee_ids.data or []) if user_id]
    found = {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(ids or [-1])))}
    if any(user_id not in found for user_id in ids):
        raise ServiceError(_("One of the picked accounts no longer exists; pick the people again."), "interviewee_ids")
    return [found[user_id] for user_id in ids]


@bp.route("/interviews/new", methods=["GET", "POST"])
@bp.route("/interviews/<int:interview_id>/edit", methods=["GET", "POST"])
@require("interviews.manage")
def edit_interview(interview_id=None):
    interview = db.get_or_404(Interview, interview_id) if interview_id else None
    if interview is not None:
        authorize("interviews.manage", interview)
    form = InterviewForm(obj=interview)
    _interview_form_choices(form, interview)
    if request.method == "GET":
        if interview is None:
            form.held_on.data = local_today()
        else:
            form.interviewee_ids.data = [row.user_id for row in interview.people]
            form.role.data = interview.role or ""
    adding_rows = request.method == "POST" and "more_rows" in request.form
    if not adding_rows and form.validate_on_submit():
        department = db.session.get(Department, form.department_id.data)
        try:
            if department is None or not can(current_user, "interviews.manage", Interview(department_id=department.id)):
                raise ServiceError(_("Choose your own department."), "department_id")
            interview = services.save_interview(
                interview, title=form.title.data, interviewee=form.interviewee.data or "", department=department,
                method=form.method.data, held_on=form.held_on.data,
                interviewer=interview.interviewer if interview else current_user,
                notes_markdown=form.notes_markdown.data or "", role=form.role.data or None,
                interviewees=_picked_people(form), recorded_by=current_user)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Interview saved."), "success")
            return redirect(url_for("surveys.interview", interview_id=interview.id))
    return render_template("surveys/interview_form.html", form=form, interview=interview,
                           person_rows=_person_rows(form)), 422 if form.errors else 200


@bp.route("/interviews/<int:interview_id>", methods=["GET", "POST"])
@require("interviews.view")
def interview(interview_id):
    interview = db.get_or_404(Interview, interview_id)
    authorize("interviews.view", interview)
    form = HighlightForm()
    status = 200
    if request.method == "POST":
        authorize("interviews.manage", interview)
        if form.validate_on_submit():
            try:
                services.add_highlight(interview, form.quote.data, services.parse_tags(form.tags.data))
            except ServiceError as error:
                apply_service_error(form, error)
            else:
                flash(_("Highlight added."), "success")
                return redirect(url_for("surveys.interview", interview_id=interview.id) + "#highlights")
        status = 422
    became = services.requirements_from(highlight_ids=[h.id for h in interview.highlights])
    return render_template("surveys/interview.html", interview=interview, form=form, became=became), status


@bp.route("/interviews/tags")
@require("interviews.view")
def tags():
    return render_template("surveys/tags.html", tags=services.tag_counts(_scope_ids("interviews.view")))


# --- requirements -------------------------------------------------------------------------------
@bp.route("/requirements")
@require("requirements.view")
def requirements():
    status = request.args.get("status", "")
    priority = request.args.get("priority", "")
    department_id = request.args.get("department", type=record_id)
    query = select(Requirement).where(services.requirements_in_scope(_scope_ids("requirements.view")))
    if status in REQUIREMENT_STATUSES:
        query = query.where(Requirement.status == status)
    else:
        query = query.where(Requirement.status != "merged")
    if priority in PRIORITIES:
        query = query.where(Requirement.priority == priority)
    if department_id:
        query = query.where(Requirement.id.in_(select(requirement_departments.c.requirement_id).where(
            requirement_departments.c.department_id == department_id)))
    page = paginate(query.options(db.selectinload(Requirement.departments), db.joinedload(Requirement.owner))
                    .order_by(Requirement.id.desc()), per_page=50)
    ids = [r.id for r in page.items]
    evidence_counts = dict(db.session.execute(select(RequirementEvidence.requirement_id, func.count()).where(
        RequirementEvidence.requirement_id.in_(ids or [-1])).group_by(RequirementEvidence.requirement_id)).all())
    return render_template("surveys/requirements.html", page=page, status=status, priority=priority,
                           department_id=department_id, departments=department_choices(include_company=False),
                           evidence_counts=evidence_counts)


def _requirement_form_choices(form):
    departments = department_choices(include_company=False)
    form.department_ids.choices = departments
    users = db.session.execute(select(User.id, User.display_name).where(User.is_active_account.is_(True))
                               .order_by(User.display_name)).all()
    form.owner_id.choices = [(NONE, "—")] + [(u.id, u.display_name) for u in users]


def _check_requirement_departments(department_ids) -> None:
    if not _has_all("requirements.manage") and not set(department_ids) & department_scope_ids(current_user):
        raise ServiceError(_("Include your own department."), "department_ids")


def _evidence_source():
    """The answer or highlight a new requirement starts from (?answer=ID or ?highlight=ID)."""
    answer = highlight = None
    if request.values.get("answer", type=record_id):
        answer = db.get_or_404(SurveyAnswer, request.values.get("answer", type=record_id))
        authorize("surveys.results", answer.response.survey)
        if not services.answer_in_results(answer, _results_scope(answer.response.survey)):
            abort(403)  # an answer the results page does not show this reader
    elif request.values.get("highlight", type=record_id):
        highlight = db.get_or_404(Highlight, request.values.get("highlight", type=record_id))
        authorize("interviews.view", highlight.interview)
    return answer, highlight


def _chosen_option() -> services.ChosenOption | None:
    """The option a new requirement starts from (?question=ID&option=VALUE), with the answers that chose it."""
    question_id = request.values.get("question", type=record_id)
    if not question_id:
        return None
    question = db.get_or_404(Question, question_id)
    authorize("surveys.results", question.survey)
    chosen = services.chosen_option(question, request.values.get("option", ""), _results_scope(question.survey))
    if chosen is None:
        abort(404)  # an option nobody chose is no evidence
    return chosen


@bp.route("/requirements/new", methods=["GET", "POST"])
@require("requirements.manage")
def new_requirement():
    answer, highlight = _evidence_source()
    chosen = _chosen_option() if answer is None and highlight is None else None
    form = RequirementForm()
    _requirement_form_choices(form)
    if request.method == "GET":
        form.owner_id.data = current_user.id
        if chosen is not None:
            form.title.data = chosen.label[:200]
            form.description.data = _("> %(question)s\n>\n> %(option)s (%(count)d of %(total)d)",
                                      question=services.localized(chosen.question), option=chosen.label,
                                      count=len(chosen.answers), total=chosen.total)
            form.department_ids.data = sorted(chosen.department_ids)
        elif highlight is not None:
            form.description.data = "> " + highlight.quote.replace("\n", "\n> ")
            form.department_ids.data = [highlight.interview.department_id]
        elif answer is not None:
            text = services.display_value(answer.question, answer.value)
            form.description.data = f"> {services.localized(answer.question)}\n>\n> {text}"
            department_id = services.answer_department_id(answer)
            form.department_ids.data = [department_id] if department_id else []
        elif not _has_all("requirements.manage") and current_user.department_id:
            form.department_ids.data = [services.home_department_id(current_user.department_id)]
    if form.validate_on_submit():
        departments = db.session.scalars(select(Department).where(
            Department.id.in_(form.department_ids.data or [-1]))).all()
        try:
            evidence_departments = set()
            if highlight is not None:
                evidence_departments.add(highlight.interview.department_id)
            if answer is not None and services.answer_department_id(answer):
                evidence_departments.add(services.answer_department_id(answer))
            if chosen is not None:
                evidence_departments |= chosen.department_ids
            _check_requirement_departments({d.id for d in departments} | evidence_departments)
            requirement = services.create_requirement(
                form.title.data, form.description.data or "", priority=form.priority.data, departments=departments,
                roles=form.roles.data or [], owner=db.session.get(User, form.owner_id.data) if form.owner_id.data
                else None, answer=answer, highlight=highlight, answers=chosen.answers if chosen else ())
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Requirement recorded."), "success")
            return redirect(url_for("surveys.requirement", requirement_id=requirement.id))
    candidates = services.evidence_candidates(_evidence_text(answer, highlight), _scope_ids("requirements.manage")) \
        if answer is not None or highlight is not None else []
    return render_template("surveys/requirement_form.html", form=form, requirement=None, answer=answer,
                           highlight=highlight, chosen=chosen, candidates=candidates), 422 if form.errors else 200


def _evidence_text(answer, highlight) -> str:
    if highlight is not None:
        return highlight.quote
    return f"{services.localized(answer.question)} {services.display_value(answer.question, answer.value)}"


@bp.route("/requirements/<int:requirement_id>/edit", methods=["GET", "POST"])
@require("requirements.manage")
def edit_requirement(requirement_id):
    requirement = db.get_or_404(Requirement, requirement_id)
    authorize("requirements.manage", requirement)
    form = RequirementForm(obj=requirement)
    _requirement_form_choices(form)
    if request.method == "GET":
        form.department_ids.data = sorted(requirement.department_ids)
        form.roles.data = requirement.roles or []
        form.owner_id.data = requirement.owner_id or NONE
    if form.validate_on_submit():
        departments = db.session.scalars(select(Department).where(
            Department.id.in_(form.department_ids.data or [-1]))).all()
        try:
            _check_requirement_departments({d.id for d in departments})
            services.update_requirement(requirement, title=form.title.data, description=form.description.data or "",
                                        priority=form.priority.data, departments=departments,
                                        roles=form.roles.data or [],
                                        owner=db.session.get(User, form.owner_id.data) if form.owner_id.data else None)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Requirement saved."), "success")
            return redirect(url_for("surveys.requirement", requirement_id=requirement.id))
    return render_template("surveys/requirement_form.html", form=form, requirement=requirement, answer=None,
                           highlight=None, chosen=None), 422 if form.errors else 200


@bp.route("/requirements/<int:requirement_id>")
@require("requirements.view")
def requirement(requirement_id):
    requirement = db.get_or_404(Requirement, requirement_id)
    authorize("requirements.view", requirement)
    merge_candidates = []
    if can(current_user, "requirements.manage", requirement) and requirement.status not in ("merged", "implemented"):
        merge_candidates = db.session.scalars(select(Requirement).where(
            Requirement.id != requirement.id, Requirement.status.in_(("proposed", "accepted", "rejected")),
            services.requirements_in_scope(_scope_ids("requirements.manage")))
            .order_by(Requirement.title).limit(300)).all()
    nodes = _linked_nodes(requirement)
    if nodes:
        from processmaps.services import current_steps
        now_at = current_steps(nodes)
    else:
        now_at = {}
    step_processes = _step_processes() if can(current_user, "requirements.manage", requirement) else []
    chosen_steps = [(node.id, f"{node.version} › {node.name}") for node in nodes or ()]
    return render_template("surveys/requirement.html", requirement=requirement, merge_candidates=merge_candidates,
                           step_processes=step_processes, chosen_steps=chosen_steps,
                           transitions=sorted(services.REQUIREMENT_TRANSITIONS.get(requirement.status, ())),
                           nodes=nodes, now_at=now_at, history=history_of("requirements", requirement.id)[:20],
                           status_labels=REQUIREMENT_STATUS_LABELS,
                           merged=db.session.scalars(select(Requirement).where(
                               Requirement.merged_into_id == requirement.id)).all())


def _linked_nodes(requirement):
    if services.requirement_nodes is None:
        return None
    from processmaps.models import ProcessNode, ProcessVersion
    ids = services.node_ids_of(requirement)
    return db.session.scalars(select(ProcessNode).where(ProcessNode.id.in_(sorted(ids) or [-1]))
                              .options(db.joinedload(ProcessNode.version).joinedload(ProcessVersion.process))).all()


def _step_processes() -> list[tuple[int, str]]:
    """The processes whose steps a requirement can be attached to (the step picker's first choice)."""
    if services.requirement_nodes is None:
        return []
    from processmaps.services import processes_to_choose_from
    return processes_to_choose_from()


@bp.route("/requirements/<int:requirement_id>/nodes", methods=["POST"])
@require("requirements.manage")
def requirement_nodes(requirement_id):
    requirement = db.get_or_404(Requirement, requirement_id)
    authorize("requirements.manage", requirement)
    if services.requirement_nodes is None:
        abort(404)
    ids = ids_in(request.form.getlist("node_ids"))
    try:
        services.set_requirement_nodes(requirement, ids)
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(url_for("surveys.requirement", requirement_id=requirement.id)), 303
    flash(_("Process steps saved."), "success")
    return redirect(url_for("surveys.requirement", requirement_id=requirement.id))


@bp.route("/requirements/<int:requirement_id>/status", methods=["POST"])
@require("requirements.manage")
def requirement_status(requirement_id):
    requirement = db.get_or_404(Requirement, requirement_id)
    authorize("requirements.manage", requirement)
    try:
        services.change_requirement_status(requirement, request.form.get("status", ""), current_user)
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(url_for("surveys.requirement", requirement_id=requirement.id)), 303
    flash(_("Status changed."), "success")
    return redirect(url_for("surveys.requirement", requirement_id=requirement.id))


@bp.route("/requirements/<int:requirement_id>/merge", methods=["POST"])
@require("requirements.manage")
def merge_requirement(requirement_id):
    target = db.get_or_404(Requirement, requirement_id)
    authorize("requirements.manage", target)
    ids = [int(v) for v in request.form.getlist("duplicate_ids") if v.isdigit()]
    duplicates = db.session.scalars(select(Requirement).where(Requirement.id.in_(ids or [-1]))).all()
    for duplicate in duplicates:
        authorize("requirements.manage", duplicate)
    try:
        services.merge_requirements(target, duplicates)
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(url_for("surveys.requirement", requirement_id=target.id)), 303
    flash(ngettext("%(num)d duplicate merged; its evidence is kept here.",
                   "%(num)d duplicates merged; their evidence is kept here.", len(duplicates)), "success")
    return redirect(url_for("surveys.requirement", requirement_id=target.id))


@bp.route("/requirements/evidence", methods=["POST"])
@bp.route("/requirements/<int:requirement_id>/evidence", methods=["POST"])
@require("requirements.manage")
def add_evidence(requirement_id=None):
    """Add a survey answer or interview highlight to an existing requirement (chosen in the form, or in the URL)."""
    answer, highlight = _evidence_source()
    requirement_id = requirement_id or request.form.get("requirement_id", type=record_id)
    if not requirement_id:
        flash(_("Choose the requirement the evidence belongs to."), "danger")
        back = url_for("surveys.new_requirement", answer=answer.id) if answer is not None else \
            url_for("surveys.new_requirement", highlight=highlight.id) if highlight is not None else \
            url_for("surveys.requirements")
        return redirect(back, 303)
    requirement = db.get_or_404(Requirement, requirement_id)
    authorize("requirements.manage", requirement)
    try:
        evidence = services.add_evidence(requirement, answer=answer, highlight=highlight,
                                         note=request.form.get("note", ""))
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(url_for("surveys.requirement", requirement_id=requirement.id), 303)
    flash(_("Evidence added.") if evidence is not None else _("This requirement already has that evidence."),
          "success" if evidence is not None else "info")
    return redirect(url_for("surveys.requirement", requirement_id=requirement.id))


@bp.route("/requirements/specification.pdf")
@require("requirements.export")
def specification_pdf():
    from rollout.reports.pdf import render_pdf
    groups = services.specification(_scope_ids("requirements.export"))
    pdf = render_pdf("surveys/specification_pdf.html", groups=groups, report_date=local_today().isoformat())
    record_event("export", entity="requirements", detail="specification pdf")
    return download_response(pdf, _("requirements-specification") + ".pdf", "application/pdf")


# --- coverage ---------------------------------------------------------------------------------
#: People listed per page under "Who haven't we heard from?" (a company may have thousands).
UNHEARD_PER_PAGE = 50


@bp.route("/coverage")
@require("coverage.view")
@figures.whole_page_cached
def coverage():
    def context() -> dict:
        scope = _scope_ids("coverage.view")
        # Only surveys still taking answers: inviting to one past its closing date is refused.
        open_surveys = db.session.scalars(select(Survey).where(
            Survey.status == OPEN, Survey.closes_on.is_(None) | (Survey.closes_on >= local_today()),
            scope_clause(current_user, "surveys.manage", department_column=Survey.department_id))
            .order_by(Survey.created_at.desc())).all() if can(current_user, "surveys.manage") else []
        matrix = services.coverage_matrix(scope)
        home_id, role = _coverage_cell(matrix)
        everyone = services.unheard_people(scope)
        shown = services.in_cell(everyone, home_id, role)
        return {"matrix": matrix, "unheard_total": len(everyone),
                "unheard": page_of(shown, UNHEARD_PER_PAGE), "cell_home": home_id, "cell_role": role,
                "open_surveys": open_surveys}
    return render_template("surveys/coverage.html",
                           body=figures.cached_page_body("surveys/_coverage_body.html", context))


def _coverage_cell(matrix) -> tuple[int | None, str | None]:
    """The department row and role column the unheard list is narrowed to (``?department=&role=``);
    anything that is not a row or column of this user's matrix means all."""
    home_id = request.values.get("department", type=record_id)
    role = request.values.get("role")
    return (home_id if any(d.id == home_id for d in matrix.departments) else None,
            role if role in matrix.roles else None)


@bp.route("/coverage/invite", methods=["POST"])
@require("surveys.manage")
def invite_unheard():
    survey = db.session.get(Survey, request.form.get("survey_id", type=record_id) or 0)
    if survey is None:
        flash(_("Choose an open survey."), "danger")
        return redirect(url_for("surveys.coverage")), 303
    authorize("surveys.manage", survey)
    scope = _scope_ids("coverage.view")
    home_id, role = _coverage_cell(services.coverage_matrix(scope))
    back = url_for("surveys.coverage", department=home_id, role=role, _anchor="unheard")
    try:
        created = services.invite_unheard(survey, scope, home_id, role)
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(back), 303
    flash(ngettext("%(num)d person invited to “%(title)s”.", "%(num)d people invited to “%(title)s”.", len(created),
                   title=survey.title), "success")
    return redirect(back)


# --- process-map nodes list the requirements attached to them ------------------------------------
def node_requirement_links(node) -> list[tuple[str, str]]:
    """(label, url) of each requirement attached to a process node (in any version), for the node's page."""
    from processmaps.services import node_lineage_ids
    requirements = services.requirements_for_nodes(node_lineage_ids(node) or [node.id])
    visible = [r for r in requirements if can(current_user, "requirements.view", r)]
    links = [(_("Requirement #%(id)d: %(title)s", id=r.id, title=r.title),
              url_for("surveys.requirement", requirement_id=r.id)) for r in visible]
    hidden = len(requirements) - len(visible)
    if hidden:  # the step's owner should know others' requirements bear on it, even if they cannot open them
        links.append((ngettext("%(num)d requirement of another department (you cannot open it)",
                               "%(num)d requirements of other departments (you cannot open them)", hidden), ""))
    return links


try:
    from processmaps import services as _processmap_services
except ImportError:  # process maps not installed: nothing to register with
    _processmap_services = None
if _processmap_services is not None and hasattr(_processmap_services, "NODE_LINK_PROVIDERS"):
    if node_requirement_links not in _processmap_services.NODE_LINK_PROVIDERS:
        _processmap_services.NODE_LINK_PROVIDERS.append(node_requirement_links)
