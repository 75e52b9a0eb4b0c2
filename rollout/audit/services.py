"""Recording the audit trail.

Row changes are captured automatically: an ``after_flush`` listener looks at
every new, changed and deleted object in the session and writes one audit
row each, with the changed fields old → new, in the same transaction.  Events
that are not row changes (logins, denials, exports) go through
``record_event``.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import enum
from contextlib import contextmanager

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import event, inspect, insert
from sqlalchemy.orm import Mapper, Session

from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.timeutil import utcnow

REDACTED = "***"
_SENSITIVE_WORDS = ("password", "token", "secret")

#: The acting user outside a request (CLI commands, workers).
_cli_actor: contextvars.ContextVar = contextvars.ContextVar("audit_cli_actor", default=None)
#: Set inside as_system(): changes are the system's, not the requesting user's.
_system_block: contextvars.ContextVar = contextvars.ContextVar("audit_system_block", default=False)


@contextmanager
def acting_as(user):
    """Attribute changes made in this block (outside a request) to ``user``."""
    token = _cli_actor.set(user)
    try:
        yield
    finally:
        _cli_actor.reset(token)


@contextmanager
def as_system():
    """Attribute changes made in this block to the system, even inside a person's request: work a
    page view merely triggers (returning idle customers to the pool) is nobody's own action."""
    token = _system_block.set(True)
    try:
        yield
    finally:
        _system_block.reset(token)


def _actor():
    if _system_block.get():
        return None, None, None
    if has_request_context():
        try:
            if current_user and current_user.is_authenticated:
                return current_user.id, current_user.username, current_user.department_id
        except Exception:  # the user loader itself is flushing
            return None, None, None
    actor = _cli_actor.get()
    if actor is not None:
        return actor.id, actor.username, actor.department_id
    return None, None, None


def client_ip() -> str | None:
    return request.remote_addr if has_request_context() and not _system_block.get() else None


def _plain(value):
    """A JSON-safe rendering of a column value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def _is_sensitive(cls, key: str) -> bool:
    return key in getattr(cls, "__audit_redact__", ()) or any(w in key for w in _SENSITIVE_WORDS)


def _changes(obj, kind: str) -> dict:
    state = inspect(obj)
    cls = type(obj)
    result = {}
    skipped = getattr(cls, "__audit_skip__", ()) if kind == "update" else ()
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in skipped:
            continue
        history = state.attrs[key].history
        if kind == "create":
            old, new = None, getattr(obj, key)
        elif kind == "delete":
            old, new = (history.deleted[0] if history.deleted else getattr(obj, key)), None
        else:
            if not history.has_changes():
                continue
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old == new:
                continue
        if old is None and new is None:
            continue
        if _is_sensitive(cls, key):
            result[key] = [REDACTED if old is not None else None, REDACTED if new is not None else None]
        else:
            result[key] = [_plain(old), _plain(new)]
    return result


def _identity(obj) -> str:
    # New objects have no identity key yet in after_flush; their primary key values are set.
    values = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(v) for v in values if v is not None)


def _department_of(obj, actor_department):
    for attribute in ("access_department_id", "department_id"):
        value = getattr(obj, attribute, None)
        if isinstance(value, int):
            return value
    return actor_department


def _audited(obj) -> bool:
    return getattr(type(obj), "__audit__", True)


def _noop_set(target, value, oldvalue, initiator):
    return value


@event.listens_for(Mapper, "mapper_configured")
def _load_old_values_before_change(mapper, cls):
    # "active history" makes SQLAlchemy load an expired column's old value
    # before it is overwritten, so every update records old → new.
    if not getattr(cls, "__audit__", True):
        return
    for attr in mapper.column_attrs:
        event.listen(getattr(cls, attr.key), "set", _noop_set, active_history=True, retval=True)


@event.listens_for(Session, "after_flush")
def _record_flush(session, flush_context):
    user_id, username, actor_department = _actor()
    ip = client_ip()
    now = utcnow()
    rows = []
    for kind, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            if not _audited(obj):
                continue
            if kind == "update" and not session.is_modified(obj, include_collections=False):
                continue
            changes = _changes(obj, kind)
            if kind == "update" and not changes:
                continue
            rows.append({
                "created_at": now, "user_id": user_id, "username": username, "ip": ip,
                "action": kind, "entity": type(obj).__tablename__, "entity_id": _identity(obj),
                "department_id": _department_of(obj, actor_department), "changes": changes,
                "detail": None,
            })
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


def record_event(action: str, entity: str | None = None, entity_id=None, detail: str | None = None,
                 user=None, department_id: int | None = None, changes: dict | None = None) -> None:
    """Record a non-row event (login, denial, export, ...) in the current transaction."""
    if user is not None:
        user_id, username, actor_department = user.id, user.username, user.department_id
    else:
        user_id, username, actor_department = _actor()
    db.session.execute(insert(AuditEntry), [{
        "created_at": utcnow(), "user_id": user_id, "username": username, "ip": client_ip(),
        "action": action, "entity": entity, "entity_id": None if entity_id is None else str(entity_id),
        "department_id": department_id if department_id is not None else actor_department,
        "changes": changes, "detail": detail,
    }])


def history_of(entity: str, entity_id, related: dict[str, list] | None = None) -> list[AuditEntry]:
    """Every audit row of one record, newest first (for a record's history tab); ``related`` adds the rows
    of records shown with it ({table: ids}, a plan's targets), in the same one query."""
    from sqlalchemy import or_, select
    records = [(AuditEntry.entity == entity) & (AuditEntry.entity_id == str(entity_id))]
    records += [(AuditEntry.entity == table) & AuditEntry.entity_id.in_([str(id_) for id_ in ids])
                for table, ids in (related or {}).items() if ids]
    return db.session.scalars(
        select(AuditEntry).where(or_(*records)).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    ).all()
