"""notify(): the one call modules make to tell people something."""
from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import func, select, update

from rollout.accounts.models import User
from rollout.extensions import db
from rollout.notify.models import DepartmentRobot, Notification, NotificationChannel, OutboxMessage
from rollout.timeutil import utcnow


def _unique_users(users: Iterable) -> list:
    seen, result = set(), []
    for user in users:
        if user is not None and user.id not in seen:
            seen.add(user.id)
            result.append(user)
    return result


def notify(users: Iterable[User], event: str, subject: str, body_markdown: str = "",
           link: str | None = None, department_ids: Iterable[int] = ()) -> list[Notification]:
    """Store an in-app notification for each user and queue their external channels.

    Users who chose a daily digest get no immediate outbox row; the digest job
    collects their notifications.  ``department_ids`` also posts to those
    departments' group robots.
    """
    recipients = _unique_users(users)
    subject = subject[:200]
    notifications = [Notification(user_id=u.id, event=event, subject=subject,
                                  body_markdown=body_markdown, link=link) for u in recipients]
    db.session.add_all(notifications)
    if recipients:
        channels = db.session.scalars(
            select(NotificationChannel).where(
                NotificationChannel.user_id.in_([u.id for u in recipients]),
                NotificationChannel.is_enabled.is_(True),
                NotificationChannel.is_digest.is_(False),
            )
        ).all()
        for channel in channels:
            db.session.add(_outbox_row(channel.kind, channel.target, channel.secret, channel.user_id,
                                       subject, body_markdown, link))
    department_ids = list(department_ids)
    if department_ids:
        robots = db.session.scalars(select(DepartmentRobot).where(
            DepartmentRobot.department_id.in_(department_ids), DepartmentRobot.is_enabled.is_(True))).all()
        for robot in robots:
            db.session.add(_outbox_row(robot.kind, robot.target, robot.secret, None, subject, body_markdown, link))
    db.session.flush()
    return notifications


def _outbox_row(kind, target, secret, user_id, subject, body, link) -> OutboxMessage:
    return OutboxMessage(idempotency_key=uuid.uuid4().hex, kind=kind, target=target, secret=secret,
                         user_id=user_id, subject=subject, body_markdown=body, link=link)


def unread_count(user) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def mark_read(user, notification_ids: Iterable[int] | None = None) -> None:
    """Mark some (or all) of a user's notifications read."""
    statement = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_ids is not None:
        statement = statement.where(Notification.id.in_(list(notification_ids)))
    db.session.execute(statement.values(read_at=utcnow()))
