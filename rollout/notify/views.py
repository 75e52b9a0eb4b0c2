"""The notification inbox, the user's delivery channels and the admins' outbox page."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from rollout.access import require
from rollout.extensions import db
from rollout.notify.models import Notification, OutboxMessage
from rollout.notify.services import mark_read
from rollout.web import paginate, safe_next

bp = Blueprint("notify", __name__)


@bp.route("/notifications")
@require("notifications.view")
def inbox():
    query = select(Notification).where(Notification.user_id == current_user.id).order_by(Notification.id.desc())
    return render_template("notify/inbox.html", page=paginate(query, per_page=30))


@bp.route("/notifications/<int:notification_id>/open", methods=["POST"])
@require("notifications.view")
def open_notification(notification_id):
    notification = db.get_or_404(Notification, notification_id)
    if notification.user_id != current_user.id:
        return render_template("errors/404.html"), 404
    mark_read(current_user, [notification.id])
    return redirect(safe_next(notification.link) or url_for("notify.inbox"))


@bp.route("/notifications/read-all", methods=["POST"])
@require("notifications.view")
def read_all():
    mark_read(current_user)
    flash(_("All notifications are marked read."), "success")
    return redirect(url_for("notify.inbox"))


@bp.route("/admin/outbox")
@require("outbox.manage")
def outbox():
    status = request.args.get("status", "dead")
    if status not in ("pending", "sent", "dead"):
        status = "dead"
    query = select(OutboxMessage).where(OutboxMessage.status == status).order_by(OutboxMessage.id.desc())
    return render_template("notify/outbox.html", page=paginate(query, per_page=50), status=status)
