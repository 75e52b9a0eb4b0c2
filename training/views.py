"""Training pages: overview, tracks and courses, sessions and enrolment, the completion matrix,
seed users and support requests, and the FAQ knowledge base."""
from __future__ import annotations

import importlib.util
import os

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from rollout import figures
from rollout.access import ALL, RULES, authorize, can, department_scope_ids, require, scope_clause
from rollout.accounts.models import Department, User
from rollout.accounts.services import department_choices, users_with_roles
from rollout.audit.services import record_event
from rollout.database import MAX_ID
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.reports.calendar import ics_response, personal_feed_items, register_feed_provider
from rollout.reports.exports import Column, download_response, export_response
from rollout.timeutil import local_to_utc, local_today, to_local, utcnow
from rollout.web import apply_service_error, paginate
from training import enrolment as enrolments
from training import faq, follow_up, services, support
from training.forms import (ATTENDANCE_LABELS, KIND_LABELS, MODULE_LABELS, NONE, STATUS_LABELS, TIER_LABELS,
                            AnswerEditForm, AnswerForm, ArticleForm, AssignForm, AttachmentForm, CourseForm,
                            QuestionForm, ReplyForm, SessionForm, SupportForm, TrackForm)
from training.models import (ATTENDANCE, ATTENDED, ENROLLED, FAQ_MODULES, SESSION_CANCELLED, SESSION_DRAFT,
                             SESSION_SCHEDULED, SUPPORT_SOLVED, SUPPORT_STATUSES, SUPPORT_WAITING, WAITLISTED, Course,
                             CourseAttachment, CourseCompletion, Enrolment, FaqArticle, SupportRequest, Track,
                             TrainingSession)

bp = Blueprint("training", __name__, url_prefix="/training")

register_feed_provider(enrolments.feed_items)

try:  # the changes package announces implemented releases; training drafts a short session for them
    if importlib.util.find_spec("changes.signals") is not None:
        from changes import signals as change_signals
        change_signals.release_implemented.connect(services.on_release_implemented)
        change_signals.change_implemented.connect(services.on_change_implemented)
        from changes.services import RELEASE_FOLLOW_UP_PROVIDERS
        if services.release_sessions not in RELEASE_FOLLOW_UP_PROVIDERS:
            RELEASE_FOLLOW_UP_PROVIDERS.append(services.release_sessions)
except ModuleNotFoundError:
    pass


@bp.app_context_processor
def training_labels():
    return {"tier_label": lambda v: TIER_LABELS.get(v, v), "session_kind_label": lambda v: KIND_LABELS.get(v, v),
            "module_label": lambda v: MODULE_LABELS.get(v, v), "attendance_label": lambda v: ATTENDANCE_LABELS.get(v, v),
            "training_status_label": lambda v: STATUS_LABELS.get(v, v)}


MIN_YEAR, MAX_YEAR = 2000, 2100


def _department_filter(action: str) -> set[int] | None:
    """None when the user may see every department for ``action``, else the departments they may see."""
    rule = RULES[action]
    if any(rule.get(role) == ALL for role in current_user.roles):
        return None
    return department_scope_ids(current_user)


def _local_input(value):
    """A stored UTC datetime as the naive local value a datetime-local field shows."""
    return to_local(value).replace(tzinfo=None) if value else None


def _utc(value, field: str):
    if not value:
        return None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ServiceError(_("Enter a date between %(first)d and %(last)d.", first=MIN_YEAR, last=MAX_YEAR), field)
    return local_to_utc(value)


def _posted_id(name: str) -> int | None:
    """A positive id from the form that fits a database integer, else None."""
    value = request.values.get(name, "")
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 < number <= MAX_ID else None


# --- overview ------------------------------------------------------------------------------
@bp.route("/")
@require("training.view")
def index():
    support.escalate_overdue()  # lazy check: no answer in time means the rollout team takes over
    today, now = local_today(), utcnow()
    tree = services.DepartmentTree()
    mine = services.obligations(users=[current_user._get_current_object()], tree=tree)
    my_enrolments = db.session.scalars(select(Enrolment).join(TrainingSession).where(
        Enrolment.user_id == current_user.id, Enrolment.status.in_([ENROLLED, WAITLISTED]),
        TrainingSession.status == SESSION_SCHEDULED, TrainingSession.ends_at > now)
        .options(db.contains_eager(Enrolment.session)).order_by(TrainingSession.starts_at)).all()
    upcoming = _sessions_with_seats(select(TrainingSession).where(
        TrainingSession.status == SESSION_SCHEDULED, TrainingSession.starts_at > now)
        .order_by(TrainingSession.starts_at).limit(8))
    drafts = []
    if can(current_user, "training.manage"):
        drafts = db.session.scalars(select(TrainingSession).where(TrainingSession.status == SESSION_DRAFT)
                                    .order_by(TrainingSession.created_at.desc())).all()
    feed_url = (url_for("reports.calendar_feed", token=current_user.calendar_token, _external=True)
                if "reports.calendar_feed" in current_app.view_functions else None)
    return render_template("training/index.html", mine=mine, today=today, my_enrolments=my_enrolments, feed_url=feed_url,
                           upcoming=upcoming, drafts=drafts, route=support.route_for(current_user, tree),
                           place_of=lambda enrolment: enrolments.shown_status(enrolment, now),
                           waiting=support.waiting_for(current_user), state_of=lambda o: o.state(today))


def _sessions_with_seats(statement) -> list[tuple[TrainingSession, int]]:
    """Sessions with their number of enrolled people, in one statement."""
    taken = (select(Enrolment.session_id, func.count().label("taken")).where(Enrolment.status == ENROLLED)
             .group_by(Enrolment.session_id).subquery())
    rows = db.session.execute(statement.add_columns(func.coalesce(taken.c.taken, 0))
                              .outerjoin(taken, taken.c.session_id == TrainingSession.id)
                              .options(db.joinedload(TrainingSession.trainer))).all()
    return [(row[0], row[1]) for row in rows]


# --- tracks and courses -----------------------------------------------------------------------
@bp.route("/tracks")
@require("training.view")
def tracks():
    rows = db.session.execute(select(Track, func.count(Course.id)).outerjoin(Course).group_by(Track.id)
                              .options(db.joinedload(Track.department)).order_by(Track.tier, Track.name)).all()
    completed = set(db.session.scalars(select(CourseCompletion.course_id).where(
        CourseCompletion.user_id == current_user.id)))
    return render_template("training/tracks.html", rows=rows, completed=completed)


def _track_form_choices(form):
    form.department_id.choices = [(NONE, "—")] + department_choices(include_company=False)


@bp.route("/tracks/new", methods=["GET", "POST"])
@bp.route("/tracks/<int:track_id>/edit", methods=["GET", "POST"])
@require("training.manage")
def edit_track(track_id=None):
    track = db.get_or_404(Track, track_id) if track_id else None
    form = TrackForm(obj=track)
    _track_form_choices(form)
    if request.method == "GET" and track is not None:
        form.department_id.data = track.department_id or NONE
    if form.validate_on_submit():
        try:
            track = services.save_track(track, form.name.data, form.tier.data, form.role.data,
                                        form.department_id.data or None, form.description.data or "",
                                        form.is_required.data, form.due_days_before_go_live.data,
                                        form.seed_lead_days.data or 0)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Track %(name)s is saved.", name=track.name), "success")
            return redirect(url_for("training.track", track_id=track.id))
    title = _("Edit: %(name)s", name=track.name) if track else _("New track")
    return render_template("training/form.html", form=form, title=title,
                           cancel_url=url_for("training.tracks")), 422 if form.errors else 200


@bp.route("/tracks/<int:track_id>")
@require("training.view")
def track(track_id):
    track = db.get_or_404(Track, track_id)
    completed = set(db.session.scalars(select(CourseCompletion.course_id).where(
        CourseCompletion.user_id == current_user.id)))
    return render_template("training/track.html", track=track, completed=completed)


def _course_form_choices(form, track, course=None):
    form.prerequisite_id.choices = [(NONE, "—")] + [
        (c.id, f"{c.position}. {c.title}") for c in track.courses if course is None or c.id != course.id]


@bp.route("/tracks/<int:track_id>/courses/new", methods=["GET", "POST"])
@bp.route("/courses/<int:course_id>/edit", methods=["GET", "POST"])
@require("training.manage")
def edit_course(track_id=None, course_id=None):
    course = db.get_or_404(Course, course_id) if course_id else None
    track = course.track if course else db.get_or_404(Track, track_id)
    form = CourseForm(obj=course)
    _course_form_choices(form, track, course)
    if request.method == "GET" and course is not None:
        form.prerequisite_id.data = course.prerequisite_id or NONE
    if form.validate_on_submit():
        try:
            course = services.save_course(course, track, form.title.data, form.material_markdown.data or "",
                                          form.duration_minutes.data, form.prerequisite_id.data or None,
                                          form.pass_mark.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Course %(name)s is saved.", name=course.title), "success")
            return redirect(url_for("training.course", course_id=course.id))
    title = _("Edit: %(name)s", name=course.title) if course else _("New course in %(track)s", track=track.name)
    return render_template("training/form.html", form=form, title=title,
                           cancel_url=url_for("training.track", track_id=track.id)), 422 if form.errors else 200


@bp.route("/courses/<int:course_id>")
@require("training.view")
def course(course_id):
    return course_page(db.get_or_404(Course, course_id))


def course_page(course: Course, status: int = 200):
    """The course page (also re-shown with status 422 when an attachment is refused)."""
    sessions = _sessions_with_seats(select(TrainingSession).where(
        TrainingSession.course_id == course.id, TrainingSession.status == SESSION_SCHEDULED,
        TrainingSession.starts_at > utcnow()).order_by(TrainingSession.starts_at))
    is_complete = db.session.scalar(select(CourseCompletion.id).where(
        CourseCompletion.user_id == current_user.id, CourseCompletion.course_id == course.id)) is not None
    return render_template("training/course.html", course=course, sessions=sessions, is_complete=is_complete,
                           attachment_form=AttachmentForm(), question_form=QuestionForm(),
                           missing=services.missing_prerequisite(current_user, course)), status


@bp.route("/courses/<int:course_id>/attachments", methods=["POST"])
@require("training.manage")
def add_attachment(course_id):
    course = db.get_or_404(Course, course_id)
    form = AttachmentForm()
    if not form.validate_on_submit():
        flash(_("Choose a file to attach."), "danger")
        return redirect(url_for("training.course", course_id=course.id)), 303
    try:
        item = services.add_attachment(course, form.file.data.filename, form.file.data.stream, current_user)
    except ServiceError as error:
        apply_service_error(None, error)  # the course page shows the refusal as a message
        db.session.refresh(course)
        return course_page(course, 422)
    flash(_("%(name)s is attached.", name=item.filename), "success")
    return redirect(url_for("training.course", course_id=course.id))


@bp.route("/attachments/<int:attachment_id>")
@require("training.view")
def attachment(attachment_id):
    item = db.get_or_404(CourseAttachment, attachment_id)
    path = os.path.join(services.attachment_folder(), os.path.basename(item.stored_name))
    if not os.path.isfile(path):
        abort(404)
    with open(path, "rb") as handle:
        data = handle.read()
    return download_response(data, item.filename, "application/octet-stream")


@bp.route("/courses/<int:course_id>/questions", methods=["POST"])
@require("training.manage")
def add_question(course_id):
    course = db.get_or_404(Course, course_id)
    form = QuestionForm()
    if form.validate_on_submit():
        try:
            services.add_question(course, form.prompt.data, form.options_text.data, form.correct_option.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The question is added."), "success")
            return redirect(url_for("training.course", course_id=course.id))
    sessions = []
    return render_template("training/course.html", course=course, sessions=sessions, is_complete=False,
                           attachment_form=AttachmentForm(), question_form=form, missing=None), 422


@bp.route("/courses/<int:course_id>/quiz", methods=["GET", "POST"])
@require("training.view")
def quiz(course_id):
    course = db.get_or_404(Course, course_id)
    if not course.questions:
        abort(404)
    attempt, answers, missing, problem = None, {}, [], None
    if request.method == "POST":
        for question in course.questions:
            value = request.form.get(f"q{question.id}", "")
            answers[question.id] = int(value) if value.isascii() and value.isdigit() and len(value) < 4 else None
        try:
            attempt = enrolments.grade_quiz(course, current_user, answers)
        except enrolments.QuizIncomplete as error:
            missing, problem = error.missing, error.message
    return render_template("training/quiz.html", course=course, attempt=attempt, answers=answers,
                           missing=missing, problem=problem), 422 if missing else 200


# --- sessions ------------------------------------------------------------------------------
SESSION_LISTS = ("upcoming", "past", "drafts", "cancelled")


@bp.route("/sessions")
@require("training.view")
def sessions():
    when = request.args.get("when", "upcoming")
    if when not in SESSION_LISTS or (when == "drafts" and not can(current_user, "training.manage")):
        when = "upcoming"
    now = utcnow()
    query = select(TrainingSession)
    if when == "upcoming":
        query = query.where(TrainingSession.status == SESSION_SCHEDULED, TrainingSession.ends_at > now) \
            .order_by(TrainingSession.starts_at)
    elif when == "past":
        query = query.where(TrainingSession.status == SESSION_SCHEDULED, TrainingSession.ends_at <= now) \
            .order_by(TrainingSession.starts_at.desc())
    elif when == "drafts":
        query = query.where(TrainingSession.status == SESSION_DRAFT).order_by(TrainingSession.created_at.desc())
    else:
        query = query.where(TrainingSession.status == SESSION_CANCELLED).order_by(TrainingSession.starts_at.desc())
    taken = (select(Enrolment.session_id, func.count().label("taken")).where(Enrolment.status == ENROLLED)
             .group_by(Enrolment.session_id).subquery())
    waiting = (select(Enrolment.session_id, func.count().label("waiting")).where(Enrolment.status == WAITLISTED)
               .group_by(Enrolment.session_id).subquery())
    query = (query.add_columns(func.coalesce(taken.c.taken, 0), func.coalesce(waiting.c.waiting, 0))
             .outerjoin(taken, taken.c.session_id == TrainingSession.id)
             .outerjoin(waiting, waiting.c.session_id == TrainingSession.id)
             .options(db.joinedload(TrainingSession.trainer), db.joinedload(TrainingSession.course)))
    # The sessions the reader has a seat in, or waits for: each reads as its own badge.
    mine = dict(db.session.execute(select(Enrolment.session_id, Enrolment.status).where(
        Enrolment.user_id == current_user.id, Enrolment.status.in_([ENROLLED, WAITLISTED]))).all())
    return render_template("training/sessions.html", page=paginate(query, per_page=25, scalars=False),
                           when=when, lists=SESSION_LISTS, mine=mine)


def _session_form_choices(form):
    form.course_id.choices = [(NONE, "—")] + [
        (c.id, f"{t.name} · {c.position}. {c.title}") for c, t in db.session.execute(
            select(Course, Track).join(Track).order_by(Track.name, Course.position)).all()]
    form.trainer_id.choices = [(NONE, "—")] + [
        (u.id, u.display_name) for u in sorted(users_with_roles(["trainer"]), key=lambda u: u.display_name)]
    form.department_ids.choices = department_choices(include_company=False)


def _session_data(form) -> services.SessionData:
    times = {name: _utc(getattr(form, name).data, name)
             for name in ("starts_at", "ends_at", "signup_deadline_at", "cancel_deadline_at")}
    return services.SessionData(
        title=form.title.data or "", kind=form.kind.data, capacity=form.capacity.data,
        trainer_id=form.trainer_id.data or None, course_id=form.course_id.data or None,
        location=form.location.data or "", online_url=form.online_url.data or "",
        target_roles=form.target_roles.data or [], department_ids=form.department_ids.data or [],
        is_audience_only=bool(form.is_audience_only.data),
        description_markdown=form.description_markdown.data or "", **times)


@bp.route("/sessions/new", methods=["GET", "POST"])
@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@require("training.manage")
def edit_session(session_id=None):
    session = db.get_or_404(TrainingSession, session_id) if session_id else None
    if session is not None and session.status == SESSION_CANCELLED:
        flash(_("A cancelled session cannot be changed."), "warning")
        return redirect(url_for("training.session", session_id=session.id))
    form = SessionForm(obj=session)
    _session_form_choices(form)
    if request.method == "GET":
        if session is not None:
            for name in ("starts_at", "ends_at", "signup_deadline_at", "cancel_deadline_at"):
                getattr(form, name).data = _local_input(getattr(session, name))
            form.course_id.data = session.course_id or NONE
            form.trainer_id.data = session.trainer_id or NONE
            form.target_roles.data = session.target_role_list
            form.department_ids.data = [d.id for d in session.departments]
        else:
            course_id = _posted_id("course_id")
            course = db.session.get(Course, course_id) if course_id else None
            if course is not None:
                form.course_id.data, form.title.data = course.id, course.title
                form.target_roles.data = [course.track.role]
                form.department_ids.data = [course.track.department_id] if course.track.department_id else []
            if current_user.has_role("trainer"):
                form.trainer_id.data = current_user.id
    clashes = []
    data = None
    if form.validate_on_submit():
        try:
            data = _session_data(form)
        except ServiceError as error:
            apply_service_error(form, error)
    if data is not None:
        clashes = services.find_clashes(data.starts_at, data.ends_at, data.trainer_id, data.location,
                                        exclude_id=session.id if session else None)
        if clashes and not form.confirm_clash.data:
            form.confirm_clash.errors = [_("This session clashes with the sessions listed above. "
                                           "Tick the box to save anyway.")]
        else:
            try:
                session = services.save_session(session, data)
                if request.form.get("schedule") and session.status == SESSION_DRAFT:
                    services.transition_session(session, "schedule")
            except ServiceError as error:
                apply_service_error(form, error)
            else:
                flash(_("The session is saved."), "success")
                return redirect(url_for("training.session", session_id=session.id))
    status = 422 if (form.errors or clashes) else 200
    return render_template("training/session_form.html", form=form, session=session, clashes=clashes), status


def _release_of(session: TrainingSession):
    """The release a session was drafted for, when the changes package is installed."""
    if not session.release_id or "changes.release" not in current_app.view_functions:
        return None
    from changes.models import Release
    return db.session.get(Release, session.release_id)


@bp.route("/sessions/<int:session_id>")
@require("training.view")
def session(session_id):
    session = db.get_or_404(TrainingSession, session_id)
    if session.status == SESSION_DRAFT and not can(current_user, "training.manage"):
        abort(404)
    enrolled, waitlisted = enrolments.roster(session)
    my = db.session.scalar(select(Enrolment).where(Enrolment.session_id == session.id,
                                                   Enrolment.user_id == current_user.id))
    now = utcnow()
    has_started = session.starts_at is not None and session.starts_at <= now
    assign_form, assign_groups = None, []
    if can(current_user, "training.assign") and session.status == SESSION_SCHEDULED and not has_started:
        assign_form = AssignForm()
        assign_form.user_id.choices = _people_choices("training.assign", {e.user_id for e in enrolled + waitlisted})
        # The session's audience first: they are whom a trainer or head usually signs up.
        audience_ids = {user.id for user in services.session_audience(session)}
        assign_groups = [(_("For this session"), [c for c in assign_form.user_id.choices if c[0] in audience_ids]),
                         (_("Everyone else"), [c for c in assign_form.user_id.choices if c[0] not in audience_ids])]
    # Once it has started, whoever takes attendance may add people who came without signing up.
    walk_in_choices = []
    if can(current_user, "training.manage") and session.status == SESSION_SCHEDULED and has_started:
        walk_in_choices = _people_choices("training.manage", {e.user_id for e in enrolled})
    # Who of its audience is trained on the change, for those who follow training completion.
    trained = (services.after_change_training(session, _department_filter("training.matrix"))
               if can(current_user, "training.matrix") else None)
    return render_template("training/session.html", session=session, enrolled=enrolled, waitlisted=waitlisted,
                           release=_release_of(session), trained=trained,
                           my=my, assign_form=assign_form, assign_groups=assign_groups,
                           my_status=enrolments.shown_status(my, now) if my is not None else None,
                           missing_course=services.missing_prerequisite(current_user, session.course)
                           if session.course is not None and (my is None or my.status not in (ENROLLED, WAITLISTED))
                           else None,
                           sign_up_refusal=services.sign_up_refusal(session, current_user),
                           # Waiting when sign-up closed: the page names the course's other sessions instead.
                           other_sessions=follow_up.other_sessions(session, current_user, now)
                           if my is not None and my.status == WAITLISTED and not session.takes_sign_ups(now) else [],
                           now=now, attendance_marks=ATTENDANCE,
                           walk_in_choices=walk_in_choices, attended_marks=ATTENDED,
                           shown_status=services.shown_status(session, now),
                           may_cancel=session.status == SESSION_SCHEDULED
                           and services.cancel_refusal(session, now) is None,
                           clashes=services.find_clashes(session.starts_at, session.ends_at, session.trainer_id,
                                                         session.location, exclude_id=session.id)
                           if session.status != SESSION_CANCELLED else [])


def _people_choices(action: str, leave_out: set[int]) -> list[tuple[int, str]]:
    """(id, name) of the active people ``action`` reaches, without ``leave_out``."""
    # Plain columns: everyone in scope is a choice (thousands in a large company).
    query = (select(User.id, User.display_name).where(User.is_active_account.is_(True))
             .where(scope_clause(current_user, action, department_column=User.department_id))
             .order_by(User.display_name))
    return [(user_id, name) for user_id, name in db.session.execute(query) if user_id not in leave_out]


def _back_to(session):
    return redirect(url_for("training.session", session_id=session.id))


@bp.route("/sessions/<int:session_id>/enrol", methods=["POST"])
@require("training.enrol")
def enrol(session_id):
    session = db.get_or_404(TrainingSession, session_id)
    try:
        enrolment = enrolments.enrol(session.id, current_user)
    except ServiceError as error:
        apply_service_error(None, error)
        return _back_to(session), 303
    if enrolment.status == ENROLLED:
        flash(_("You are signed up."), "success")
    else:
        flash(_("The session is full: you are on the waitlist and move up automatically when a seat is free."),
              "info")
    return _back_to(session)


@bp.route("/sessions/<int:session_id>/withdraw", methods=["POST"])
@require("training.enrol")
def withdraw(session_id):
    session = db.get_or_404(TrainingSession, session_id)
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.session_id == session.id,
                                                          Enrolment.user_id == current_user.id))
    if enrolment is None:
        abort(404)
    authorize("training.enrol", enrolment)
    try:
        enrolments.cancel(enrolment, by_self=True)
    except ServiceError as error:
        apply_service_error(None, error)
        return _back_to(session), 303
    flash(_("You have withdrawn from the session."), "success")
    return _back_to(session)


def _posted_person() -> User | None:
    """The person a sign-up form names, or None with a message asking for one."""
    person = db.session.get(User, _posted_id("user_id") or 0)
    if person is None:
        flash(_("Choose a person."), "danger")
    return person


@bp.route("/sessions/<int:session_id>/assign", methods=["POST"])
@require("training.assign")
def assign(session_id):
    session = db.get_or_404(TrainingSession, session_id)
    person = _posted_person()
    if person is None:
        return _back_to(session), 303
    authorize("training.assign", person)
    try:
        enrolment = enrolments.enrol(session.id, person, assigned_by=current_user)
    except ServiceError as error:
        apply_service_error(None, error)
        return _back_to(session), 303
    from rollout.notify.services import notify
    when = services.when_and_where(session)
    if enrolment.status == ENROLLED:
        subject = _l("You are signed up for training: %(title)s", title=session.title)
        body = _l("%(name)s signed you up: %(when)s.", name=current_user.display_name, when=when)
    else:
        subject = _l("You are on the waitlist for training: %(title)s", title=session.title)
        body = _l("%(name)s put you on the waitlist (the session is full): %(when)s. You are told if a seat "
                  "frees up.", name=current_user.display_name, when=when)
    notify([person], "training.assigned", subject, body, link=url_for("training.session", session_id=session.id))
    flash(_("%(name)s is signed up.", name=person.display_name) if enrolment.status == ENROLLED
          else _("%(name)s is on the waitlist.", name=person.display_name), "success")
    return _back_to(session)


def _enrolment_of(session_id: int, enrolment_id: int) -> Enrolment:
    """An enrolment of that session, or 404 (an enrolment id with another session's is not found)."""
    enrolment = db.get_or_404(Enrolment, enrolment_id)
    if enrolment.session_id != session_id:
        abort(404)
    return enrolment


@bp.route("/sessions/<int:session_id>/enrolments/<int:enrolment_id>/remove", methods=["POST"])
@require("training.manage")
def remove_enrolment(session_id, enrolment_id):
    enrolment = _enrolment_of(session_id, enrolment_id)
    was_waiting = enrolment.status == WAITLISTED
    try:
        promoted = enrolments.cancel(enrolment, by_self=False)
    except ServiceError as error:
        apply_service_error(None, error)
        return _back_to(enrolment.session), 303
    flash(_("%(name)s is removed from the waitlist.", name=enrolment.user.display_name) if was_waiting
          else _("%(name)s is removed.", name=enrolment.user.display_name), "success")
    if promoted is not None:
        flash(_("%(name)s moved up from the waitlist.", name=promoted.user.display_name), "info")
    return _back_to(enrolment.session)


@bp.route("/sessions/<int:session_id>/enrolments/<int:enrolment_id>/promote", methods=["POST"])
@require("training.manage")
def promote_enrolment(session_id, enrolment_id):
    enrolment = _enrolment_of(session_id, enrolment_id)
    try:
        enrolments.promote(enrolment, over_capacity=request.form.get("over_capacity") == "1")
    except ServiceError as error:
        apply_service_error(None, error)
        return _back_to(enrolment.session), 303
    flash(_("%(name)s moved up from the waitlist.", name=enrolment.user.display_name), "success")
    return _back_to(enrolment.session)


@bp.route("/sessions/<int:session_id>/walk-in", methods=["POST"])
@require("training.manage")
def add_walk_in(session_id):
    session = db.get_or_404(TrainingSession, session_id)
    person = _posted_person()
    if person is None:
        return _back_to(session), 303
    try:
        enrolments.add_walk_in(session.id, person, current_user, request.form.get("attendance") or "present")
    except ServiceError as error:
        apply_service_error(None, error)
        return _back_to(session), 303
    flash(_("%(name)s is added as attended.", name=person.display_name), "success")
    return _back_to(session)


@bp.route("/sessions/<int:session_id>/attendance", methods=["POST"])
@require("training.manage")
def attendance(session_id):
    session = db.get_or_404(TrainingSession, session_id)
    marks = {}
    for key, value in request.form.items():
        number = key[len("attendance-"):]
        if key.startswith("attendance-") and number.isascii() and number.isdigit():
            marks[int(number)] = value
    try:
        changed = enrolments.mark_attendance(session, marks)
    except ServiceError as error:
        apply_service_error(None, error)
        return _back_to(session), 303
    flash(_("Attendance is saved (%(n)d changed).", n=changed), "success")
    return _back_to(session)


@bp.route("/sessions/<int:session_id>/status/<action>", methods=["POST"])
@require("training.manage")
def transition(session_id, action):
    if action not in {name for _status, name in services.SESSION_TRANSITIONS}:
        abort(404)
    session = db.get_or_404(TrainingSession, session_id)
    try:
        services.transition_session(session, action)
    except ServiceError as error:
        apply_service_error(None, error)
        return _back_to(session), 303
    messages = {"schedule": _("The session is scheduled."), "cancel": _("The session is cancelled."),
                "discard": _("The draft is discarded.")}
    flash(messages[action], "success")
    return _back_to(session)


@bp.route("/sessions/<int:session_id>/sign-in-sheet.pdf")
@require("training.manage")
def signin_sheet(session_id):
    from rollout.reports.pdf import render_pdf
    session = db.get_or_404(TrainingSession, session_id)
    if session.starts_at is None:
        abort(404)
    enrolled, _waiting = enrolments.roster(session)
    pdf = render_pdf("training/signin_sheet.html", session=session, enrolled=enrolled,
                     report_date=to_local(session.starts_at).strftime("%Y-%m-%d"))
    record_event("download", entity="training_sessions", entity_id=str(session.id), detail="sign-in sheet")
    return download_response(pdf, f"{_('Sign-in sheet')}-{session.title}.pdf", "application/pdf")


@bp.route("/sessions/<int:session_id>/calendar.ics")
@require("training.view")
def session_ics(session_id):
    session = db.get_or_404(TrainingSession, session_id)
    if session.status == SESSION_DRAFT or session.starts_at is None:
        abort(404)
    method = "CANCEL" if session.status == SESSION_CANCELLED else "PUBLISH"
    return ics_response([enrolments.calendar_item(session)], session.title, f"training-{session.id}.ics",
                        method=method)


@bp.route("/calendar.ics")
@require("training.view")
def my_calendar():
    return ics_response(personal_feed_items(current_user), _("My calendar"), "my-calendar.ics")


# --- completion matrix ------------------------------------------------------------------------
@bp.route("/matrix")
@require("training.matrix")
@figures.whole_page_cached
def matrix():
    body = figures.cached_page_body("training/_matrix_body.html", lambda: {
        "data": services.completion_matrix(_department_filter("training.matrix")), "today": local_today()})
    return render_template("training/matrix.html", body=body)


@bp.route("/matrix/export")
@require("training.export")
def export_matrix():
    data = services.completion_matrix(_department_filter("training.export"))
    fmt = request.args.get("fmt", "xlsx")
    if request.args.get("kind") == "overdue":
        columns = [Column(_("Full name"), lambda o: o.user.display_name), Column(_("Username"), lambda o: o.user.username),
                   Column(_("Department"), lambda o: o.user.department.name if o.user.department else ""),
                   Column(_("Track"), lambda o: o.track.name), Column(_("Due"), lambda o: o.due_on, "date"),
                   Column(_("Courses done"), lambda o: o.completed_courses, "number"),
                   Column(_("Courses"), lambda o: o.total_courses, "number")]
        return export_response(_("overdue training"), columns, data.overdue, fmt, entity="training_overdue")
    rows = []
    for department in data.departments:
        for track in data.tracks:
            cell = data.cells.get((department.id, track.id))
            if cell is not None:
                rows.append({"department": department.name, "track": track.name, "tier": str(TIER_LABELS[track.tier]),
                             "completed": cell.completed, "required": cell.required, "percent": cell.percent})
    columns = [Column(_("Department"), "department"), Column(_("Track"), "track"), Column(_("Tier"), "tier"),
               Column(_("Completed"), "completed", "number"), Column(_("People required"), "required", "number"),
               Column(_("Percent"), "percent", "number")]
    return export_response(_("training completion"), columns, rows, fmt, entity="training_matrix")


# --- seed users ----------------------------------------------------------------------------------
@bp.route("/seeds")
@require("training.seeds")
def seeds():
    departments = _department_filter("training.seeds")
    coverage = support.coverage_by_department(departments)
    stats = support.seed_user_stats(departments)
    candidates = []
    if can(current_user, "training.seeds.manage"):
        # Plain columns: the choice lists everyone in scope (thousands), not users to work with.
        candidates = db.session.execute(
            select(User.id, User.display_name, Department.name.label("department_name"))
            .join(Department, Department.id == User.department_id)
            .where(User.is_active_account.is_(True), User.is_seed_user.is_(False),
                   scope_clause(current_user, "training.seeds.manage", department_column=User.department_id))
            .order_by(User.display_name)).all()
    return render_template("training/seeds.html", coverage=coverage, stats=stats, candidates=candidates,
                           ratio=services.seed_ratio())


@bp.route("/seeds/set", methods=["POST"])
@require("training.seeds.manage")
def set_seed():
    person = db.session.get(User, _posted_id("user_id") or 0)
    if person is None:
        flash(_("Choose a person."), "danger")
        return redirect(url_for("training.seeds")), 303
    authorize("training.seeds.manage", person)
    is_seed = request.form.get("is_seed") == "1"
    try:
        support.set_seed_user(person, is_seed)
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(url_for("training.seeds")), 303
    flash(_("%(name)s is now a seed user.", name=person.display_name) if is_seed
          else _("%(name)s is no longer a seed user.", name=person.display_name), "success")
    return redirect(url_for("training.seeds"))


# --- support requests ------------------------------------------------------------------------------
def _support_list_query():
    """Requests the user may see: their own, those sent to them, their department's as seed user or head."""
    conditions = [SupportRequest.requester_id == current_user.id, SupportRequest.seed_user_id == current_user.id,
                  scope_clause(current_user, "training.support", department_column=SupportRequest.department_id,
                               owner_column=SupportRequest.requester_id)]
    if current_user.is_seed_user:
        conditions.append(SupportRequest.department_id.in_(sorted(department_scope_ids(current_user)) or [-1]))
    return select(SupportRequest).where(db.or_(*conditions))


@bp.route("/support", methods=["GET", "POST"])
@require("training.support")
def support_requests():
    support.escalate_overdue()
    form = SupportForm()
    # The article a question is asked from: ?article= on the link, then the form's hidden field. An id that
    # names no article (any more) is left out: the question is sent all the same.
    article_id = _posted_id("asked_from_article_id" if form.is_submitted() else "article")
    asked_from = db.session.get(FaqArticle, article_id) if article_id else None
    if asked_from is not None and not form.is_submitted():
        form.asked_from_article_id.data = asked_from.id
        form.subject.data, form.module.data = asked_from.title, asked_from.module
    elif not form.is_submitted() and request.args.get("subject"):  # what the FAQ search did not find
        form.subject.data = request.args.get("subject", "")[:200]
    if form.validate_on_submit():
        try:
            item = support.create_request(current_user, form.subject.data, form.body_markdown.data or "",
                                          form.module.data or "", asked_from=asked_from)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            if item.seed_user is not None:
                flash(_("Your question went to %(name)s.", name=item.seed_user.display_name), "success")
            else:
                flash(_("Your question went to the rollout team."), "success")
            return redirect(url_for("training.support_request", request_id=item.id))
    status_filter = request.args.get("status", "")
    query = _support_list_query().options(db.joinedload(SupportRequest.requester),
                                          db.joinedload(SupportRequest.seed_user))
    if status_filter in SUPPORT_STATUSES:
        query = query.where(SupportRequest.status == status_filter)
    page = paginate(query.order_by(SupportRequest.created_at.desc()), per_page=25)
    return render_template("training/support.html", form=form, page=page, status_filter=status_filter,
                           route=support.route_for(current_user), asked_from=asked_from,
                           waiting=support.waiting_for(current_user),
                           hours=support.escalation_hours()), 422 if form.errors else 200


def _support_request_or_404(request_id: int) -> SupportRequest:
    item = db.get_or_404(SupportRequest, request_id)
    authorize("training.support", item)
    return item


def _is_helper(item: SupportRequest) -> bool:
    """May the current user answer ``item`` (seed user, head of its department, rollout team)?"""
    return can(current_user, "training.support.answer", item) and support.can_answer(current_user, item)


def support_request_page(item: SupportRequest, answer_form=None, reply_form=None, status: int = 200):
    is_helper = _is_helper(item)
    is_requester = item.requester_id == current_user.id
    may_answer = is_helper and item.answered_by_id is None and item.status in SUPPORT_WAITING
    may_publish = (item.answered_by_id is not None and item.article_id is None
                   and (can(current_user, "training.faq.manage") or item.answered_by_id == current_user.id))
    return render_template(
        "training/support_request.html", item=item, conversation=support.conversation(item),
        form=answer_form or AnswerForm(), reply_form=reply_form or ReplyForm(),
        may_answer=may_answer, may_reply=(is_requester or is_helper) and not may_answer,
        may_solve=is_requester and item.status != SUPPORT_SOLVED,
        may_edit_answer=item.answered_by_id == current_user.id and is_helper,
        may_publish=may_publish, is_requester=is_requester,
        asked_from_vote=(faq.user_vote(item.asked_from_article, item.requester)
                         if item.asked_from_article is not None else None)), status


@bp.route("/support/<int:request_id>", methods=["GET", "POST"])
@require("training.support")
def support_request(request_id):
    item = _support_request_or_404(request_id)
    form = AnswerForm()
    if request.method == "POST":
        if not (_is_helper(item) and item.answered_by_id is None):
            abort(403)
        if form.validate_on_submit():
            try:
                support.answer(item, current_user, form.answer_markdown.data, form.publish_as_article.data,
                               tags=form.tags.data or "")
            except ServiceError as error:
                apply_service_error(form, error)
            else:
                flash(_("Your answer is sent."), "success")
                return redirect(url_for("training.support_request", request_id=item.id))
    return support_request_page(item, answer_form=form, status=422 if form.errors else 200)


@bp.route("/support/<int:request_id>/reply", methods=["POST"])
@require("training.support")
def reply_to_request(request_id):
    item = _support_request_or_404(request_id)
    if not (item.requester_id == current_user.id or _is_helper(item)):
        abort(403)
    form = ReplyForm()
    if form.validate_on_submit():
        reopens = item.requester_id == current_user.id and item.status not in SUPPORT_WAITING
        try:
            support.reply(item, current_user, form.body_markdown.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Your reply is sent and the request is open again.") if reopens else _("Your reply is sent."),
                  "success")
            return redirect(url_for("training.support_request", request_id=item.id, _anchor="reply"))
    return support_request_page(item, reply_form=form, status=422)


@bp.route("/support/<int:request_id>/solve", methods=["POST"])
@require("training.support")
def solve_request(request_id):
    item = _support_request_or_404(request_id)
    if item.requester_id != current_user.id:
        abort(403)
    try:
        support.solve(item, current_user)
    except ServiceError as error:
        apply_service_error(None, error)
    else:
        flash(_("Marked as solved. Reply if the question comes back: that opens it again."), "success")
    return redirect(url_for("training.support_request", request_id=item.id)), 303


@bp.route("/support/<int:request_id>/answer", methods=["GET", "POST"])
@require("training.support.answer")
def edit_answer(request_id):
    item = db.get_or_404(SupportRequest, request_id)
    authorize("training.support.answer", item)
    if item.answered_by_id != current_user.id:
        abort(403)
    form = AnswerEditForm(obj=item)
    if form.validate_on_submit():
        try:
            support.edit_answer(item, current_user, form.answer_markdown.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The answer is saved."), "success")
            return redirect(url_for("training.support_request", request_id=item.id))
    return render_template("training/form.html", form=form, title=_("Edit answer: %(subject)s", subject=item.subject),
                           submit=_("Save answer"),
                           cancel_url=url_for("training.support_request", request_id=item.id)), \
        422 if form.errors else 200


@bp.route("/support/<int:request_id>/article", methods=["POST"])
@require("training.support")
def publish_answer(request_id):
    item = _support_request_or_404(request_id)
    if not (can(current_user, "training.faq.manage") or item.answered_by_id == current_user.id):
        abort(403)
    try:
        article = support.publish_answer(item, current_user)
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(url_for("training.support_request", request_id=item.id)), 303
    flash(_("The answer is now an FAQ article."), "success")
    return redirect(url_for("training.article", article_id=article.id))


# --- FAQ ------------------------------------------------------------------------------------
@bp.route("/faq")
@require("training.view")
def faq_index():
    q = request.args.get("q", "").strip()[:100]
    module = request.args.get("module", "")
    module = module if module in FAQ_MODULES else ""
    role = request.args.get("role", "")
    tag = request.args.get("tag", "").strip()[:40]
    page = paginate(faq.search_statement(q, module, role, tag), per_page=20)
    if q and page.page == 1:
        faq.record_search(q, page.total, current_user)
    return render_template("training/faq.html", page=page, q=q, module=module, role=role, tag=tag,
                           modules=FAQ_MODULES, popular=faq.most_viewed(5), tags=faq.all_tags())


@bp.route("/faq/<int:article_id>")
@require("training.view")
def article(article_id):
    item = db.get_or_404(FaqArticle, article_id)
    faq.record_view(item)
    return render_template("training/article.html", item=item, my_vote=faq.user_vote(item, current_user),
                           ask_url=url_for("training.support_requests", article=item.id))


@bp.route("/faq/<int:article_id>/vote", methods=["POST"])
@require("training.view")
def vote(article_id):
    item = db.get_or_404(FaqArticle, article_id)
    value = request.form.get("helpful")
    if value not in ("yes", "no"):
        abort(400)
    faq.vote(item, current_user, value == "yes")
    flash(_("Thank you for your feedback."), "success")
    return redirect(url_for("training.article", article_id=item.id))


@bp.route("/faq/new", methods=["GET", "POST"])
@bp.route("/faq/<int:article_id>/edit", methods=["GET", "POST"])
@require("training.faq.manage")
def edit_article(article_id=None):
    item = db.get_or_404(FaqArticle, article_id) if article_id else None
    form = ArticleForm(obj=item)
    if request.method == "GET" and item is not None:
        form.tags.data = ", ".join(item.tags)
    if form.validate_on_submit():
        try:
            item = faq.save_article(item, form.title.data, form.body_markdown.data, current_user, form.tags.data or "",
                                    form.module.data or "", form.role.data or "")
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The article is saved."), "success")
            return redirect(url_for("training.article", article_id=item.id))
    title = _("Edit: %(name)s", name=item.title) if item else _("New FAQ article")
    return render_template("training/form.html", form=form, title=title,
                           cancel_url=url_for("training.faq_index")), 422 if form.errors else 200


@bp.route("/faq/insights")
@require("training.faq.manage")
def faq_insights():
    return render_template("training/faq_insights.html", popular=faq.most_viewed(20),
                           missed=faq.searches_without_results(30), total=faq.article_count())
