"""The notification inbox, the user's delivery channels, department robots and the admins' outbox."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select

from rollout.access import authorize, require
from rollout.accounts.services import department_choices
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.notify import services
from rollout.notify.errors import explain_delivery_error
from rollout.notify.forms import CHANNEL_LABELS, ROBOT_KIND_LABELS, ChannelsForm, RobotForm
from rollout.notify.models import OUTBOX_STATUSES, DepartmentRobot, Notification, OutboxMessage
from rollout.notify.services import mark_read
from rollout.web import apply_service_error, paginate, safe_next

bp = Blueprint("notify", __name__)

#: The inbox filters: every notification, or only those not read yet.
INBOX_FILTERS = ("all", "unread")


def _inbox_filter(value: str | None) -> str:
    """The inbox filter asked for; anything unknown shows everything."""
    return value if value in INBOX_FILTERS else "all"


def _inbox_url(show: str, page: int | None = None) -> str:
    """The inbox with its filter (and page) kept; "all" is the plain address."""
    args = {"show": show} if show != "all" else {}
    if page and page > 1:
        args["page"] = page
    return url_for("notify.inbox", **args)


@bp.route("/notifications")
@require("notifications.view")
def inbox():
    show = _inbox_filter(request.args.get("show"))
    query = select(Notification).where(Notification.user_id == current_user.id)
    if show == "unread":
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    # Both tab counts in one statement, whatever the filter shows.
    total, read = db.session.execute(select(func.count(), func.count(Notification.read_at))
                                     .where(Notification.user_id == current_user.id)).one()
    return render_template("notify/inbox.html", page=paginate(query, per_page=30), show=show,
                           counts={"all": total, "unread": total - read})


@bp.route("/notifications/<int:notification_id>/open", methods=["POST"])
@require("notifications.view")
def open_notification(notification_id):
    notification = db.get_or_404(Notification, notification_id)
    if notification.user_id != current_user.id:
        return render_template("errors/404.html"), 404
    mark_read(current_user, [notification.id])
    back = _inbox_url(_inbox_filter(request.form.get("show")), request.form.get("page", type=int))
    return redirect(safe_next(notification.link) or back)


@bp.route("/notifications/read-all", methods=["POST"])
@require("notifications.view")
def read_all():
    mark_read(current_user)
    flash(_("All notifications are marked read."), "success")
    return redirect(_inbox_url(_inbox_filter(request.form.get("show"))))


# --- the user's channels ------------------------------------------------------------
@bp.route("/notifications/channels", methods=["GET", "POST"])
@require("notifications.view")
def channels():
    user = current_user._get_current_object()
    existing = services.channels_of(user)
    form = _filled_channels_form(user, existing) if request.method == "GET" else ChannelsForm()
    if form.validate_on_submit():
        robots = {"dingtalk": (form.dingtalk_url.data, form.dingtalk_secret.data),
                  "wecom": (form.wecom_url.data, None),
                  "feishu": (form.feishu_url.data, form.feishu_secret.data)}
        try:
            services.save_channels(user, form.email.data, form.email_enabled.data, robots, form.is_digest.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Your notification channels are saved."), "success")
            return redirect(url_for("notify.channels"))
    status = 422 if form.errors else 200
    return _channels_page(user, form, existing), status


def _show_all() -> bool:
    """Does the page list every kind of notification (``?all=1``), not only those that may reach the user?"""
    return request.values.get("all") == "1"


def _channels_page(user, form, existing, chosen=None, preference_error=None):
    """The channels page; ``chosen`` shows the kinds' modes as posted when they were refused."""
    feed_url = url_for("reports.calendar_feed", token=user.calendar_token, _external=True)
    show_all = _show_all()
    areas, hidden = services.preference_areas_for(user, show_all)
    return render_template("notify/channels.html", form=form, existing=existing, feed_url=feed_url,
                           areas=areas, hidden_kinds=hidden, show_all=show_all,
                           mode_labels=services.MODE_LABELS,
                           chosen=services.preferences_of(user) if chosen is None else chosen,
                           preference_error=preference_error,
                           preferences_saved=request.args.get("saved") == "hear" and preference_error is None)


#: The field of the preferences form that holds one kind's mode: ``hear-changes.agenda``.
HEAR_PREFIX = "hear-"


def _filled_channels_form(user, existing) -> ChannelsForm:
    """The channels form as a GET shows it: the saved channels, or the profile's email address."""
    form = ChannelsForm(formdata=None)
    email = existing.get("email")
    form.email.data = email.target if email else user.email
    form.email_enabled.data = bool(email and email.is_enabled)
    for kind in ("dingtalk", "wecom", "feishu"):
        if kind in existing:
            getattr(form, f"{kind}_url").data = existing[kind].target
    form.is_digest.data = any(c.is_digest for c in existing.values())
    return form


@bp.route("/notifications/preferences", methods=["POST"])
@require("notifications.view")
def preferences():
    """Save what the signed-in user hears about (only ever their own preferences)."""
    user = current_user._get_current_object()
    choices = {key[len(HEAR_PREFIX):]: value for key, value in request.form.items() if key.startswith(HEAR_PREFIX)}
    try:
        services.save_preferences(user, choices)
    except ServiceError as error:
        db.session.rollback()
        existing = services.channels_of(user)
        chosen = {**services.preferences_of(user), **choices}
        return _channels_page(user, _filled_channels_form(user, existing), existing, chosen, error.message), 422
    # Back at the section (not the top of the page), which says itself that the choices are saved;
    # kinds the page did not list keep their choices (only the kinds posted change).
    args = {"saved": "hear", **({"all": 1} if _show_all() else {})}
    return redirect(url_for("notify.channels", **args, _anchor="hear"))


@bp.route("/notifications/channels/test", methods=["POST"])
@require("notifications.view")
def test_channels():
    count = services.queue_test_messages(current_user._get_current_object())
    if count:
        flash(ngettext("A test message is on its way to %(num)d channel.",
                       "A test message is on its way to %(num)d channels.", count), "success")
    else:
        flash(_("You have no active channels yet."), "warning")
    return redirect(url_for("notify.channels"))


@bp.route("/notifications/calendar/reset", methods=["POST"])
@require("profile.edit")
def reset_calendar():
    services.reset_calendar_token(current_user._get_current_object())
    flash(_("Your calendar link is new; the old one no longer works. Subscribe again with the new link."),
          "success")
    return redirect(url_for("notify.channels"))


# --- department group robots ------------------------------------------------------------
def _department_names() -> dict[int, str]:
    return dict(department_choices())


@bp.route("/admin/robots")
@require("channels.manage")
def robots():
    rows = db.session.scalars(select(DepartmentRobot).options(db.joinedload(DepartmentRobot.department))
                              .order_by(DepartmentRobot.department_id, DepartmentRobot.id)).all()
    return render_template("notify/robots.html", robots=rows, kind_labels=ROBOT_KIND_LABELS)


@bp.route("/admin/robots/new", methods=["GET", "POST"])
@bp.route("/admin/robots/<int:robot_id>", methods=["GET", "POST"])
@require("channels.manage")
def edit_robot(robot_id=None):
    robot = db.get_or_404(DepartmentRobot, robot_id) if robot_id else None
    authorize("channels.manage", robot)
    form = RobotForm(obj=robot)
    form.department_id.choices = department_choices()
    if form.validate_on_submit():
        try:
            robot = services.save_robot(robot, form.department_id.data, form.name.data, form.kind.data,
                                        form.target.data, form.secret.data, form.is_enabled.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The group robot is saved."), "success")
            return redirect(url_for("notify.robots"))
    status = 422 if form.errors else 200
    return render_template("notify/robot_form.html", form=form, robot=robot), status


@bp.route("/admin/robots/<int:robot_id>/delete", methods=["POST"])
@require("channels.manage")
def delete_robot(robot_id):
    robot = db.get_or_404(DepartmentRobot, robot_id)
    db.session.delete(robot)
    flash(_("The group robot is removed."), "success")
    return redirect(url_for("notify.robots"))


# --- the outbox ---------------------------------------------------------------------------
@bp.route("/admin/outbox")
@require("outbox.manage")
def outbox():
    status = request.args.get("status", "dead")
    if status not in OUTBOX_STATUSES:
        status = "dead"
    query = select(OutboxMessage).where(OutboxMessage.status == status).order_by(OutboxMessage.id.desc())
    page = paginate(query, per_page=50)
    explanations = {m.id: explain_delivery_error(m.last_error, m.kind) for m in page.items}
    return render_template("notify/outbox.html", page=page, status=status, explanations=explanations,
                           owners=services.outbox_owners(page.items), counts=services.outbox_counts(),
                           channel_labels=CHANNEL_LABELS)


@bp.route("/admin/outbox/<int:message_id>/retry", methods=["POST"])
@require("outbox.manage")
def retry(message_id):
    message = db.get_or_404(OutboxMessage, message_id)
    try:
        services.retry_message(message)
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(url_for("notify.outbox", status=message.status)), 303
    flash(_("Message #%(id)d is queued again.", id=message.id), "success")
    return redirect(url_for("notify.outbox", status="dead"))
