"""Notifications, per-user channels, department robots and the outbox."""
from datetime import datetime
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollout.database import one_of
from rollout.extensions import db
from rollout.timeutil import utcnow

#: External channels a message can go out on.
CHANNEL_KINDS = ("email", "dingtalk", "wecom", "feishu")
#: Chat platforms whose group robots take webhooks.
ROBOT_KINDS = ("dingtalk", "wecom", "feishu")

OUTBOX_PENDING = "pending"
#: Claimed by a worker that is delivering it right now (until ``claimed_until``).
OUTBOX_SENDING = "sending"
OUTBOX_SENT = "sent"
OUTBOX_DEAD = "dead"
OUTBOX_STATUSES = (OUTBOX_PENDING, OUTBOX_SENDING, OUTBOX_SENT, OUTBOX_DEAD)

#: How a user hears about one kind of notification: in the app and on their channels (the default,
#: never stored), in the app only (no email, robot or digest), or not at all.
MODE_ALL = "all"
MODE_APP = "app"
MODE_OFF = "off"
PREFERENCE_MODES = (MODE_ALL, MODE_APP, MODE_OFF)


class Notification(db.Model):
    __tablename__ = "notifications"
    __entity_label__ = _l("Notification")
    __table_args__ = (
        Index("ix_notifications_user_unread", "user_id", "read_at", "id"),
        Index("ix_notifications_user_created", "user_id", "created_at"),
    )
    __field_labels__ = {"event": _l("Event"), "link": _l("Link"), "read_at": _l("Read at")}
    # A notification's link may be a personal one (a survey invitation answers without signing in):
    # the trail records who was told what, not the way in.
    __audit_redact__ = ("link", "body_markdown")

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: Machine name of what happened, e.g. quote.rejected.
    event: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)


class NotificationChannel(db.Model):
    """An external channel a user has configured (their email, a personal robot)."""

    __tablename__ = "notification_channels"
    __entity_label__ = _l("Notification channel")
    __table_args__ = (UniqueConstraint("user_id", "kind"), CheckConstraint(one_of("kind", CHANNEL_KINDS),
                                                                           name="ck_notification_channels_kind"))
    __field_labels__ = {
        "secret": _l("Signing secret"), "is_digest": _l("Daily digest"), "last_digest_at": _l("Last digest sent at"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    #: Email address or webhook URL.
    target: Mapped[str] = mapped_column(String(500))
    #: Signing secret for robots that sign requests (DingTalk, Feishu).
    secret: Mapped[str | None] = mapped_column(String(200))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Send one daily digest instead of a message per event.
    is_digest: Mapped[bool] = mapped_column(Boolean, default=False)
    #: When the last daily digest went out on this channel (its notifications are not repeated).
    last_digest_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def access_owner_id(self) -> int:
        return self.user_id


class NotificationPreference(db.Model):
    """How one user hears about one kind of notification, when not the default (app and channels)."""

    __tablename__ = "notification_preferences"
    __entity_label__ = _l("Notification preference")
    __table_args__ = (UniqueConstraint("user_id", "event"),
                      CheckConstraint(one_of("mode", PREFERENCE_MODES), name="mode_known"))
    __field_labels__ = {"event": _l("Kind of notification"), "mode": _l("How you hear about it")}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: The notifications' event, e.g. changes.agenda (see rollout.audit.display.NOTIFICATION_EVENTS).
    event: Mapped[str] = mapped_column(String(64))
    #: One of PREFERENCE_MODES.
    mode: Mapped[str] = mapped_column(String(12))

    @property
    def access_owner_id(self) -> int:
        return self.user_id


class DepartmentRobot(db.Model):
    """A chat group robot of a department; department-wide events go there too."""

    __tablename__ = "department_robots"
    __entity_label__ = _l("Department group robot")
    __table_args__ = (CheckConstraint(one_of("kind", ROBOT_KINDS), name="ck_department_robots_kind"),)
    __field_labels__ = {"secret": _l("Signing secret")}

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    #: What the group is called in the chat tool, e.g. 销售部群.
    name: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str | None] = mapped_column(String(200))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    department = relationship("Department")


class OutboxMessage(db.Model):
    """A message waiting to leave the building; written in the same transaction as its cause."""

    __tablename__ = "outbox_messages"
    # Delivery bookkeeping (claims, attempts) would flood the trail; retries are recorded as events.
    __audit__ = False
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_status_id", "status", "id"),
        CheckConstraint(one_of("status", OUTBOX_STATUSES), name="ck_outbox_messages_status"),
        CheckConstraint(one_of("kind", CHANNEL_KINDS), name="ck_outbox_messages_kind"),
        CheckConstraint("attempts >= 0", name="ck_outbox_messages_attempts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Unique per message, sent along so receivers can drop duplicates.
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12), default=OUTBOX_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: The worker run that holds the message while delivering it.
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    #: A claim older than this is abandoned (worker died) and the message is due again.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def display_target(self) -> str:
        """Where it goes, without the webhook's access token (which is a credential)."""
        if self.kind == "email":
            return self.target
        return urlsplit(self.target).hostname or "?"
