"""The audit page: filter by user, entity, action and date; keyset pages stay fast at millions of rows."""
from datetime import datetime, time, timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import and_, func, or_, select

from rollout.access import authorize, require, scope_clause
from rollout.audit.display import action_row_name, describe_rows, entity_choices, subject
from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.reports.exports import FORMATS, export_response
from rollout.reports.lists import audit_columns, described_audit_rows
from rollout.timeutil import EARLIEST, LATEST, is_plausible, local_to_utc

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE_SIZE = 50
ACTIONS = ("create", "update", "delete", "login", "login_failed", "logout", "denied", "export", "download",
           "import", "transition")


def _date(name, problems: list[str]):
    text = request.args.get(name, "").strip()
    try:
        value = datetime.strptime(text, "%Y-%m-%d").date() if text else None
    except ValueError:
        problems.append(_("“%(value)s” is not a date (YYYY-MM-DD); it was left out of the filter.", value=text[:20]))
        return None
    if not is_plausible(value):
        problems.append(_("%(value)s is not between %(start)s and %(end)s; it was left out of the filter.",
                          value=text, start=EARLIEST.isoformat(), end=LATEST.isoformat()))
        return None
    return value


def _int_arg(name):
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 12 else None


def audit_query(user, filters: dict):
    """The filtered, scoped audit query, newest first."""
    query = select(AuditEntry).where(scope_clause(user, "audit.view", department_column=AuditEntry.department_id))
    if filters.get("username"):
        query = query.where(AuditEntry.username == filters["username"])
    if filters.get("entity"):
        query = query.where(AuditEntry.entity == filters["entity"])
    if filters.get("entity_id"):
        query = query.where(AuditEntry.entity_id == filters["entity_id"])
    if filters.get("action"):
        query = query.where(AuditEntry.action == filters["action"])
    if filters.get("date_from"):
        query = query.where(AuditEntry.created_at >= local_to_utc(datetime.combine(filters["date_from"], time())))
    if filters.get("date_to"):
        end = datetime.combine(filters["date_to"] + timedelta(days=1), time())
        query = query.where(AuditEntry.created_at < local_to_utc(end))
    return query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())


def _filters(problems: list[str] | None = None) -> dict:
    """The filters of the query string; what cannot be used is left out and said in ``problems``."""
    problems = [] if problems is None else problems
    filters = {
        "username": request.args.get("username", "").strip()[:64],
        "entity": request.args.get("entity", "").strip()[:64],
        "entity_id": request.args.get("entity_id", "").strip()[:64],
        "action": request.args.get("action", "") if request.args.get("action") in ACTIONS else "",
        "date_from": _date("date_from", problems),
        "date_to": _date("date_to", problems),
    }
    if filters["date_from"] and filters["date_to"] and filters["date_from"] > filters["date_to"]:
        filters["date_from"], filters["date_to"] = filters["date_to"], filters["date_from"]
        problems.append(_("“From” was after “To”: the two dates were swapped."))
    return filters


@bp.route("/")
@require("audit.view")
def index():
    problems: list[str] = []
    filters = _filters(problems)
    query = audit_query(current_user, filters)
    # Keyset pagination: "before" is the last row seen, so deep pages cost the same as the first.
    before_id = _int_arg("before")
    if before_id:
        anchor = db.session.get(AuditEntry, before_id)
        if anchor is not None:
            query = query.where(or_(AuditEntry.created_at < anchor.created_at,
                                    and_(AuditEntry.created_at == anchor.created_at, AuditEntry.id < anchor.id)))
    rows = db.session.scalars(query.limit(PAGE_SIZE + 1)).all()
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    args = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in filters.items() if v}
    changes, record_names = describe_rows(rows)
    return render_template("audit/index.html", rows=rows, changes=changes, record_names=record_names, has_more=has_more,
                           filters=filters, args=args, actions=ACTIONS, entities=entity_choices(), problems=problems,
                           action_row_name=action_row_name, subject=subject)


def count_matching(query, limit: int) -> tuple[int, bool]:
    """How many rows ``query`` matches, and whether that is more than ``limit``. Counting stops just past
    the limit, then counts in full only when the rows do not fit (to say how many there are)."""
    counted = query.order_by(None)
    capped = db.session.scalar(select(func.count()).select_from(counted.limit(limit + 1).subquery())) or 0
    if capped <= limit:
        return capped, False
    return db.session.scalar(select(func.count()).select_from(counted.subquery())) or 0, True


@bp.route("/export.<fmt>")
@require("audit.view")
def export(fmt):
    """The audit trail as XLSX or CSV with the page's filters, newest first. A filter that matches more than
    EXPORT_MAX_ROWS rows is refused with the count, back on the audit page: a cut-off file would look complete."""
    authorize("data.export")
    if fmt not in FORMATS:
        abort(404)
    filters = _filters()
    limit = current_app.config.get("EXPORT_MAX_ROWS", 100_000)
    query = audit_query(current_user, filters)
    matching, is_too_many = count_matching(query, limit)
    if is_too_many:
        flash(_("The filter matches %(count)s entries, but an export holds at most %(limit)s. Nothing was "
                "exported: narrow the dates (or filter by user, entity or action) and export again.",
                count=format_decimal(matching), limit=format_decimal(limit)), "warning")
        args = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in filters.items() if v}
        return redirect(url_for("audit.index", **args))
    rows = db.session.scalars(query.execution_options(yield_per=2000))
    return export_response(_("audit trail"), audit_columns(), described_audit_rows(rows), fmt, entity="audit_entries",
                           filters=filters)
