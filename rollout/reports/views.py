"""Report pages and downloads: the audit summary (page and PDF) and the personal calendar feed."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from rollout.access import PUBLIC, authorize, require
from rollout.accounts.models import User
from rollout.audit.display import ACTION_NAMES, action_name, actor_names, describe_changes, entity_name
from rollout.audit.services import record_event
from rollout.extensions import db, limiter
from rollout.reports.calendar import ics_response, personal_feed_items, register_feed_provider
from rollout.reports.charts import svg_chart
from rollout.reports.exports import download_response
from rollout.reports.pdf import render_pdf
from rollout.reports.services import CHART_ACTIONS, audit_summary, go_live_items
from rollout.timeutil import is_plausible, local_today

bp = Blueprint("reports", __name__)


@bp.app_context_processor
def audit_words():
    """Audit action and entity names in the reader's language, for every page that lists audit entries."""
    return {"audit_action_name": action_name,
            "audit_entity_name": entity_name}


# Globals, not context: the record-history macros are imported without the page's context.
bp.add_app_template_global(describe_changes, "audit_changes")
bp.add_app_template_global(actor_names, "audit_actors")

register_feed_provider(go_live_items)


def _date_arg(name: str, default: date) -> date:
    try:
        value = datetime.strptime(request.args.get(name, ""), "%Y-%m-%d").date()
    except ValueError:
        return default
    return value if is_plausible(value) else default


def _summary_context():
    today = local_today()
    date_to = _date_arg("date_to", today)
    date_from = _date_arg("date_from", date_to - timedelta(days=29))
    summary = audit_summary(current_user, date_from, date_to)
    labels = [day.strftime("%m-%d") for day in summary.days]
    names = {**ACTION_NAMES, "other": _l("Other")}
    series = {str(names[key]): summary.per_day[key] for key in (*CHART_ACTIONS, "other")
              if any(summary.per_day[key])}
    chart = svg_chart("stacked", _("Audit events per day"), labels, series,
                      width=900, height=360, x_label_rotation=45 if len(labels) > 14 else 0)
    return {"summary": summary, "chart": chart, "action_names": ACTION_NAMES, "report_date": today.isoformat(),
            "report_title": _("Audit summary")}


@bp.route("/reports/audit-summary")
@require("audit.view")
def audit_summary_page():
    return render_template("reports/audit_summary_page.html", **_summary_context())


@bp.route("/reports/audit-summary.pdf")
@require("audit.view")
def audit_summary_pdf():
    authorize("data.export")
    context = _summary_context()
    summary = context["summary"]
    data = render_pdf("reports/audit_summary.html", **context)
    record_event("download", entity="audit-summary", detail=f"pdf {summary.date_from}..{summary.date_to} "
                                                             f"events={summary.total}")
    return download_response(data, f"audit-summary-{summary.date_from}-{summary.date_to}.pdf",
                             "application/pdf")


@bp.route("/calendar/<token>.ics")
@require(PUBLIC)
@limiter.limit("60 per minute")
def calendar_feed(token):
    # The token is the only credential: unknown, old (reset) or inactive → not found.
    if not token or len(token) > 64:
        abort(404)
    user = db.session.scalar(select(User).where(User.calendar_token == token))
    if user is None or not user.is_active_account:
        abort(404)
    items = personal_feed_items(user)
    return ics_response(items, _("Rollout Desk · %(name)s", name=user.display_name), "rollout-desk.ics",
                        inline=True)
