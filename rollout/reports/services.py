"""Report data built from the core: the audit summary and department go-live dates for calendars."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import case, func, select

from rollout.access import ancestor_ids, head_scope_ids, scope_clause
from rollout.accounts.models import ADMIN, HEAD, LEAD, Department
from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.reports.calendar import CalendarItem
from rollout.timeutil import local_to_utc

#: Actions drawn as their own series; the rest are summed as "other".
CHART_ACTIONS = ("create", "update", "delete", "login", "export", "denied")
MAX_SUMMARY_DAYS = 92


@dataclass
class AuditSummary:
    date_from: date
    date_to: date
    days: list[date]
    #: action → count per day, aligned with ``days``
    per_day: dict[str, list[int]]
    totals: dict[str, int]
    top_users: list[tuple[str, int]]
    exports: list[AuditEntry]

    @property
    def total(self) -> int:
        return sum(self.totals.values())


def audit_summary(user, date_from: date, date_to: date) -> AuditSummary:
    """Counts per local day and action, the busiest users and every export, within ``user``'s audit scope.

    Three statements whatever the volume: days are bucketed in SQL with one
    CASE over local-midnight boundaries, so the result is right in any timezone
    on SQLite and PostgreSQL alike.
    """
    if date_to < date_from:
        date_from, date_to = date_to, date_from
    date_from = max(date_from, date_to - timedelta(days=MAX_SUMMARY_DAYS - 1))
    days = [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]
    starts = [local_to_utc(datetime.combine(day, time())) for day in days]
    end = local_to_utc(datetime.combine(date_to + timedelta(days=1), time()))
    scope = scope_clause(user, "audit.view", department_column=AuditEntry.department_id)
    window = (AuditEntry.created_at >= starts[0], AuditEntry.created_at < end, scope)
    # Later boundaries first: the first boundary a row is past is its day.
    bucket = case(*[(AuditEntry.created_at >= start, index) for index, start in reversed(list(enumerate(starts)))],
                  else_=-1).label("bucket")
    per_day: dict[str, list[int]] = {action: [0] * len(days) for action in (*CHART_ACTIONS, "other")}
    totals: dict[str, int] = {}
    for index, action, count in db.session.execute(
            select(bucket, AuditEntry.action, func.count()).where(*window).group_by(bucket, AuditEntry.action)):
        series = action if action in CHART_ACTIONS else "other"
        if 0 <= index < len(days):
            per_day[series][index] += count
        totals[action] = totals.get(action, 0) + count
    top_users = [(name or "—", count) for name, count in db.session.execute(
        select(AuditEntry.username, func.count().label("n")).where(*window)
        .group_by(AuditEntry.username).order_by(func.count().desc(), AuditEntry.username).limit(10))]
    exports = db.session.scalars(select(AuditEntry).where(*window, AuditEntry.action == "export")
                                 .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(1000)).all()
    return AuditSummary(date_from, date_to, days, per_day, totals, top_users, list(exports))


def go_live_items(user) -> list[CalendarItem]:
    """Go-live days of the departments a user belongs to: their team and the departments above it, and
    for a head the teams below them too (every department for leads and admins). A rep's feed has
    no go-live of the team next door."""
    query = select(Department).where(Department.go_live_on.is_not(None))
    if not user.has_role(ADMIN, LEAD):  # they own the rollout plan of every department
        own = user.department_id
        ids = ({own} | ancestor_ids(own) if own else set()) | (head_scope_ids(user) if user.has_role(HEAD) else set())
        query = query.where(Department.id.in_(sorted(ids) or [-1]))
    departments = db.session.scalars(query.order_by(Department.go_live_on)).all()
    if not departments:
        return []
    # Each recorded change of a department raises its SEQUENCE, so clients take the newest date.
    changes = dict(db.session.execute(
        select(AuditEntry.entity_id, func.count()).where(
            AuditEntry.entity == "departments", AuditEntry.action == "update",
            AuditEntry.entity_id.in_([str(d.id) for d in departments]))
        .group_by(AuditEntry.entity_id)).all())
    return [CalendarItem(uid=f"go-live-{d.id}@rollout-desk", summary=_("Go-live: %(name)s", name=d.name),
                         start_at=d.go_live_on, sequence=changes.get(str(d.id), 0),
                         description=_("The new system goes live in %(name)s.", name=d.name))
            for d in departments]
