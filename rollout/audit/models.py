"""The audit entry: one row per recorded event, never edited or deleted."""
from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from rollout.extensions import db
from rollout.timeutil import utcnow


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"
    __audit__ = False
    __table_args__ = (
        Index("ix_audit_created", "created_at", "id"),
        Index("ix_audit_user_created", "user_id", "created_at"),
        # The audit page filters by the username written on each row (it outlives renamed and deleted accounts).
        Index("ix_audit_username_created", "username", "created_at", "id"),
        Index("ix_audit_entity", "entity", "entity_id", "created_at"),
        Index("ix_audit_action_created", "action", "created_at"),
        Index("ix_audit_department_created", "department_id", "created_at"),
        Index("ix_audit_ip_action_created", "ip", "action", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: UTC time of the event.
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Acting user; no foreign key so the trail outlives any user row.
    user_id: Mapped[int | None] = mapped_column(Integer)
    #: Username at the time, kept for readability after renames.
    username: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    #: create, update, delete, login, login_failed, logout, denied, export, download, ...
    action: Mapped[str] = mapped_column(String(32))
    #: Table name of the entity, or a subject such as "session".
    entity: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    #: Department the event belongs to, for department heads' view.
    department_id: Mapped[int | None] = mapped_column(Integer)
    #: Changed fields as {"field": [old, new]}.
    changes: Mapped[dict | None] = mapped_column(JSON)
    detail: Mapped[str | None] = mapped_column(Text)


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_change(mapper, connection, target):
    raise PermissionError("audit entries are append-only")
