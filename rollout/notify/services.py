"""notify(): the one call modules make to tell people something; channels, robots and the outbox.

The outbox is a state machine (``OUTBOX_TRANSITIONS``): a worker claims due
messages (pending, or sending with an abandoned claim), delivers them outside
any transaction and records the outcome: sent, pending again with an
exponential backoff, or dead after the last attempt.  Admins can send a dead
message back to pending.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as pgettext
from flask_babel import ngettext
from flask_babel.speaklater import LazyString
from sqlalchemy import and_, func, or_, select, update

from rollout.accounts.models import Department, User, new_token
from rollout.audit.display import CODE_LABELS, NOTIFICATION_EVENTS, label_codes
from rollout.audit.services import record_event
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.i18n import language_of
from rollout.notify.models import (
    MODE_ALL, MODE_APP, MODE_OFF, OUTBOX_DEAD, OUTBOX_PENDING, OUTBOX_SENDING, OUTBOX_SENT, PREFERENCE_MODES,
    ROBOT_KINDS, DepartmentRobot, Notification, NotificationChannel, NotificationPreference, OutboxMessage,
)
from rollout.timeutil import to_local, utcnow

#: Where each robot platform's webhooks live; other hosts are refused (no requests to the intranet).
ROBOT_HOSTS = {
    "dingtalk": ("oapi.dingtalk.com",),
    "wecom": ("qyapi.weixin.qq.com",),
    "feishu": ("open.feishu.cn", "open.larksuite.com"),
}
ROBOT_LABELS = {"dingtalk": _l("DingTalk"), "wecom": _l("WeCom"), "feishu": _l("Feishu / Lark")}
#: Robots that sign their requests and so take a secret.
SIGNING_KINDS = ("dingtalk", "feishu")

#: Outbox state machine: status → statuses it may move to.
OUTBOX_TRANSITIONS = {
    OUTBOX_PENDING: {OUTBOX_SENDING},
    # A sending message whose claim expired (worker died) may be claimed again.
    OUTBOX_SENDING: {OUTBOX_SENT, OUTBOX_PENDING, OUTBOX_DEAD, OUTBOX_SENDING},
    OUTBOX_DEAD: {OUTBOX_PENDING},
    OUTBOX_SENT: set(),
}


#: How a user may hear about a kind of notification, in their words.
MODE_LABELS = {MODE_ALL: _l("In the app and my channels"), MODE_APP: _l("In the app only"),
               MODE_OFF: pgettext("notification preference", "Off")}
label_codes({("notification_preferences", "mode"): MODE_LABELS,
             ("notification_preferences", "event"): CODE_LABELS[("notifications", "event")]})

#: Kinds of notification that ask the reader to act, so that a process waits on them: the reviewers'
#: agenda, a question routed to a seed user, a support request escalated to the rollout team, a quote
#: or a sales plan awaiting approval, a process map version awaiting review, a role change asked of a
#: head, a lead handed to a rep with a response time, attendance a trainer has to record.  They may be
#: kept to the app but never turned off.
REQUIRED_EVENTS = frozenset({
    "changes.agenda", "training.support_request", "training.support_escalated", "quote.pending",
    "plan.submitted", "processmaps.review_asked", "roles.change_requested", "lead.handed",
    "training.attendance_due", "training.attendance_still_due",
})

#: The areas of the preferences page, in order, and the event prefixes each one gathers.
PREFERENCE_AREAS = (
    (_l("Changes"), ("changes",)),
    (_l("Training and support"), ("training",)),
    (_l("Surveys and requirements"), ("survey", "requirements")),
    (_l("Plans, customers and leads"), ("plan", "quote", "deal", "customer", "lead")),
    (_l("Retros"), ("retro", "retros")),
    (_l("Rollout"), ("rollout",)),
    (_l("Roles"), ("roles",)),
    (_l("Process maps"), ("processmaps",)),
)


#: Who may receive each kind of notification, so that the preferences page lists only the kinds that can
#: reach a user: an event (``changes.agenda``) or an event prefix (``plan``) → a permission of
#: rollout/access.py (checked with ``can()``), a tuple of roles (any of them), or a function of the user.
#: The exact event wins over its prefix; a kind named nowhere here may reach anyone and is always listed.
RECEIVERS: dict[str, str | tuple[str, ...] | Callable] = {
    # The reviewers (project leads and admins) hear of the agenda, of submitted and emergency requests.
    "changes.agenda": ("admin", "lead"),
    "changes.submitted": ("admin", "lead"),
    "changes.emergency": ("admin", "lead"),
    # Whoever planned a release while they may still mark it live, otherwise the project leads.
    "changes.release_overdue": "changes.plan",
    "roles.change_requested": ("admin",),
    "rollout.milestone_overdue": ("admin", "lead"),
    # Questions go to the department's seed users, escalated ones to the rollout team (the leads).
    "training.support_request": lambda user: bool(user.is_seed_user),
    "training.support_escalated": ("lead",),
    # A session's trainer, or whoever scheduled it and may still manage training.
    "training.attendance_due": "training.manage",
    "training.attendance_still_due": "training.manage",
    "training.no_sign_ups": "training.manage",
    "training.draft_session": ("trainer",),
    "plan.submitted": "plans.approve",
    # The approvers a quote's step asks: heads, leads and admins (and an approving department's staff,
    # who see the kind once they have been asked).
    "quote.pending": ("admin", "lead", "head"),
    "processmaps.review_asked": "processes.approve",
    # Sent back or approved: told to whoever wrote or submitted the version.
    "processmaps": "processes.edit",
    "plan": "plans.view",
    "quote": "quotes.view",
    "deal": "deals.view",
    "customer": "customers.view",
    "lead": "leads.view",
}


def may_receive(user, event: str) -> bool:
    """May ``event`` reach ``user``, going by RECEIVERS (when the table does not say, yes)?"""
    from rollout.access import can
    rule = RECEIVERS.get(event, RECEIVERS.get(event.split(".")[0]))
    if rule is None:
        return True
    if isinstance(rule, str):
        return can(user, rule)
    if isinstance(rule, tuple):
        return user.has_role(*rule)
    return rule(user)


def _unique_users(users: Iterable) -> list:
    seen, result = set(), []
    for user in users:
        if user is not None and user.id not in seen:
            seen.add(user.id)
            result.append(user)
    return result


#: What notify() accepts as a subject or body: plain text (sent as it is), a lazy translation
#: (``_l(...)``) or a function composing the text; the last two are written in each reader's language.
Text = str | LazyString | Callable[[], str]


def _written_in(locale: str, subject: Text, body: Text, cache: dict) -> tuple[str, str]:
    if locale not in cache:
        with force_locale(locale):
            cache[locale] = tuple("" if text is None else str(text() if callable(text) else text)
                                  for text in (subject, body))
    return cache[locale]


def notify(users: Iterable[User], event: str, subject: Text, body_markdown: Text = "",
           link: str | None = None, department_ids: Iterable[int] = ()) -> list[Notification]:
    """Store an in-app notification for each user and queue their external channels.

    Each recipient gets the subject and body in their own language (see ``Text``), whoever
    caused the notification and whether a request or a scheduled job sent it.  Users who chose a
    daily digest get no immediate outbox row; the digest job collects their notifications.
    Each recipient's preference for ``event`` applies (one statement for all of them): "off" stores
    nothing for them, "app" stores the notification and sends nothing outside the app; a kind in
    ``REQUIRED_EVENTS`` is never off.  ``department_ids`` also posts to those departments' group
    robots, in the company's language, whatever anyone's preferences.
    """
    recipients = _unique_users(users)
    modes = _modes_for([u.id for u in recipients], event)
    recipients = [u for u in recipients if modes.get(u.id) != MODE_OFF]
    texts: dict[str, tuple[str, str]] = {}
    written = {u.id: _written_in(language_of(u), subject, body_markdown, texts) for u in recipients}
    notifications = [Notification(user_id=u.id, event=event, subject=written[u.id][0][:200],
                                  body_markdown=written[u.id][1], link=link) for u in recipients]
    db.session.add_all(notifications)
    # Deactivated accounts keep their in-app history but get nothing outside the building; those
    # who keep this kind to the app get nothing outside it either.
    reachable = [u.id for u in recipients
                 if getattr(u, "is_active_account", True) and modes.get(u.id, MODE_ALL) == MODE_ALL]
    if reachable:
        channels = db.session.scalars(
            select(NotificationChannel).where(
                NotificationChannel.user_id.in_(reachable),
                NotificationChannel.is_enabled.is_(True),
                NotificationChannel.is_digest.is_(False),
            )
        ).all()
        for channel in channels:
            channel_subject, channel_body = written[channel.user_id]
            db.session.add(queue_message(channel.kind, channel.target, channel_subject, channel_body, link,
                                         secret=channel.secret, user_id=channel.user_id))
    department_ids = list(department_ids)
    if department_ids:
        robots = db.session.scalars(select(DepartmentRobot).where(
            DepartmentRobot.department_id.in_(department_ids), DepartmentRobot.is_enabled.is_(True))).all()
        robot_subject, robot_body = _written_in(language_of(None), subject, body_markdown, texts)
        for robot in robots:
            db.session.add(queue_message(robot.kind, robot.target, robot_subject, robot_body, link,
                                         secret=robot.secret))
    db.session.flush()
    return notifications


def _modes_for(user_ids: list[int], event: str) -> dict[int, str]:
    """Each of these users' chosen mode for ``event`` where it is not the default, in one statement."""
    if not user_ids:
        return {}
    modes = dict(db.session.execute(select(NotificationPreference.user_id, NotificationPreference.mode).where(
        NotificationPreference.event == event, NotificationPreference.user_id.in_(user_ids))).all())
    if event in REQUIRED_EVENTS:
        modes = {user_id: MODE_APP if mode == MODE_OFF else mode for user_id, mode in modes.items()}
    return modes


def outbox_owners(messages) -> dict[int, str]:
    """Whose channel each outbox message goes to, by message id: the person, or the department
    whose group robot it is (a webhook's address alone does not say). Two queries per page."""
    user_ids = {m.user_id for m in messages if m.user_id}
    people = dict(db.session.execute(
        select(User.id, User.display_name).where(User.id.in_(user_ids))).all()) if user_ids else {}
    targets = {m.target for m in messages if not m.user_id and m.kind != "email"}
    robots = dict(db.session.execute(
        select(DepartmentRobot.target, Department.name).join(Department, Department.id == DepartmentRobot.department_id)
        .where(DepartmentRobot.target.in_(targets))).all()) if targets else {}
    owners = {}
    for message in messages:
        owner = people.get(message.user_id) if message.user_id else robots.get(message.target)
        if owner:
            owners[message.id] = owner
    return owners


def queue_message(kind, target, subject, body="", link=None, secret=None, user_id=None,
                  idempotency_key=None) -> OutboxMessage:
    """A new pending outbox row (the caller adds it to the session)."""
    return OutboxMessage(idempotency_key=idempotency_key or uuid.uuid4().hex, kind=kind, target=target,
                         secret=secret, user_id=user_id, subject=subject[:200], body_markdown=body or "",
                         link=link, status=OUTBOX_PENDING, attempts=0, next_attempt_at=utcnow())


def unread_count(user) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def mark_read(user, notification_ids: Iterable[int] | None = None) -> None:
    """Mark some (or all) of a user's notifications read."""
    statement = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_ids is not None:
        statement = statement.where(Notification.id.in_(list(notification_ids)))
    db.session.execute(statement.values(read_at=utcnow()))


# --- the outbox state machine ------------------------------------------------------
def transition(message: OutboxMessage, status: str, **fields) -> None:
    """Move a message to ``status`` (setting ``fields``) if the table allows it; refuse otherwise."""
    if status not in OUTBOX_TRANSITIONS.get(message.status, set()):
        raise NotAllowed(_("A message that is %(old)s cannot become %(new)s.", old=message.status, new=status))
    message.status = status
    for name, value in fields.items():
        setattr(message, name, value)


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt: doubles with every failure, up to a ceiling."""
    base = current_app.config.get("OUTBOX_BACKOFF_SECONDS", 30)
    ceiling = current_app.config.get("OUTBOX_BACKOFF_MAX_SECONDS", 6 * 3600)
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), ceiling))


def max_attempts() -> int:
    return current_app.config.get("OUTBOX_MAX_ATTEMPTS", 8)


def _due(now: datetime):
    return or_(and_(OutboxMessage.status == OUTBOX_PENDING, OutboxMessage.next_attempt_at <= now),
               and_(OutboxMessage.status == OUTBOX_SENDING, OutboxMessage.claimed_until < now))


def claim_due(now: datetime, limit: int = 50) -> str:
    """Claim up to ``limit`` due messages for one worker run; return the claim token.

    One UPDATE does it, so on SQLite the write lock makes it atomic; on
    PostgreSQL the inner SELECT takes ``FOR UPDATE SKIP LOCKED`` so several
    workers claim different rows at the same moment.
    """
    token = uuid.uuid4().hex
    lease = timedelta(seconds=current_app.config.get("OUTBOX_CLAIM_SECONDS", 300))
    candidates = (select(OutboxMessage.id).where(_due(now))
                  .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit))
    if db.session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates.scalar_subquery()), _due(now))
        .values(status=OUTBOX_SENDING, claimed_by=token, claimed_until=now + lease)
        .execution_options(synchronize_session=False))
    return token


def claimed_messages(token: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.claimed_by == token)
                                   .order_by(OutboxMessage.id)))


def record_success(message: OutboxMessage, now: datetime) -> None:
    transition(message, OUTBOX_SENT, attempts=message.attempts + 1, sent_at=now, last_error=None,
               claimed_by=None, claimed_until=None)


def record_failure(message: OutboxMessage, error: str, now: datetime) -> None:
    """Schedule another attempt with backoff, or give up (dead) after the last one."""
    attempts = message.attempts + 1
    if attempts >= max_attempts():
        transition(message, OUTBOX_DEAD, attempts=attempts, last_error=error[:2000], claimed_by=None,
                   claimed_until=None)
    else:
        transition(message, OUTBOX_PENDING, attempts=attempts, last_error=error[:2000], claimed_by=None,
                   claimed_until=None, next_attempt_at=now + backoff(attempts))


def retry_message(message: OutboxMessage) -> None:
    """An admin sends a dead message back for a fresh round of attempts."""
    if message.status != OUTBOX_DEAD:
        raise NotAllowed(_("Only failed messages can be retried."))
    transition(message, OUTBOX_PENDING, attempts=0, next_attempt_at=utcnow())
    record_event("retry", entity="outbox_messages", entity_id=message.id, detail=message.kind)
    db.session.flush()


def outbox_counts() -> dict[str, int]:
    rows = db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    return {status: count for status, count in rows}


# --- daily digest ----------------------------------------------------------------------
def _digest_body(notifications: list[Notification]) -> str:
    lines = []
    for note in notifications:
        when = to_local(note.created_at).strftime("%m-%d %H:%M")
        line = f"- **{note.subject}** ({when})"
        if note.link:
            from rollout.notify.delivery import absolute_link
            open_label = _("Open link")  # not inside the f-string: the message extractor would miss it
            line += f" [{open_label}]({absolute_link(note.link)})"
        lines.append(line)
    return "\n".join(lines)


def queue_digests(now: datetime | None = None) -> int:
    """Queue one message per digest channel with the unread notifications since its last digest.

    The idempotency key names the channel and the local day, so running the
    job twice on one day sends nothing twice.  Returns the number queued.
    """
    now = now or utcnow()
    day = to_local(now).strftime("%Y%m%d")
    channels = db.session.scalars(select(NotificationChannel).where(
        NotificationChannel.is_enabled.is_(True), NotificationChannel.is_digest.is_(True))).all()
    if not channels:
        return 0
    keys = {channel.id: f"digest-{channel.id}-{day}" for channel in channels}
    already = set(db.session.scalars(select(OutboxMessage.idempotency_key).where(
        OutboxMessage.idempotency_key.in_(list(keys.values())))))
    default_since = now - timedelta(days=1)
    earliest = min((c.last_digest_at or default_since) for c in channels)
    users = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_({c.user_id for c in channels})))}
    # Kinds the reader keeps to the app stay out of the digest.
    kept_in_app = select(NotificationPreference.id).where(
        NotificationPreference.user_id == Notification.user_id, NotificationPreference.event == Notification.event,
        NotificationPreference.mode != MODE_ALL).exists()
    unread = defaultdict(list)
    for note in db.session.scalars(select(Notification).where(
            Notification.user_id.in_(list(users)), Notification.read_at.is_(None),
            Notification.created_at > earliest, Notification.created_at <= now, ~kept_in_app)
            .order_by(Notification.created_at, Notification.id)):
        unread[note.user_id].append(note)
    queued = 0
    for channel in channels:
        user = users.get(channel.user_id)
        if keys[channel.id] in already or user is None or not user.is_active_account:
            continue
        since = channel.last_digest_at or default_since
        items = [n for n in unread[channel.user_id] if n.created_at > since]
        if not items:
            continue
        with force_locale(language_of(user)):
            subject = ngettext("Daily digest: %(num)d unread notification",
                               "Daily digest: %(num)d unread notifications", len(items))
            body = _digest_body(items)
        db.session.add(queue_message(channel.kind, channel.target, subject, body, "/notifications",
                                     secret=channel.secret, user_id=user.id, idempotency_key=keys[channel.id]))
        channel.last_digest_at = now
        queued += 1
    db.session.flush()
    return queued


# --- channels a user chooses ------------------------------------------------------------
def allowed_robot_hosts(kind: str) -> tuple[str, ...]:
    extra = current_app.config.get("ROBOT_WEBHOOK_HOSTS") or ()
    if isinstance(extra, str):
        extra = tuple(h.strip() for h in extra.split(",") if h.strip())
    return tuple(ROBOT_HOSTS[kind]) + tuple(extra)


def check_webhook(kind: str, url: str, field: str) -> str:
    """A robot webhook must be the platform's own address (or one the deployment allows)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    hosts = allowed_robot_hosts(kind)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ServiceError(_("Enter the robot's full webhook address (https://...)."), field)
    if parts.hostname.lower() not in hosts:
        raise ServiceError(_("A %(kind)s webhook must point to %(hosts)s.", kind=ROBOT_LABELS[kind],
                             hosts=", ".join(hosts)), field)
    if parts.scheme != "https" and parts.hostname.lower() in ROBOT_HOSTS[kind]:
        raise ServiceError(_("Use the https address the platform gives you."), field)
    if len(url) > 500:
        raise ServiceError(_("The address is too long."), field)
    return url



def channels_of(user) -> dict[str, NotificationChannel]:
    return {c.kind: c for c in db.session.scalars(
        select(NotificationChannel).where(NotificationChannel.user_id == user.id))}


def save_channels(user, email: str | None, email_enabled: bool, robots: dict[str, tuple[str, str]],
                  is_digest: bool) -> dict[str, NotificationChannel]:
    """Set a user's channels: the email address, personal robots (empty URL removes one), digest choice.

    ``robots`` maps kind → (webhook URL, secret); an empty secret keeps the stored one.
    Everything is checked before anything changes.
    """
    existing = channels_of(user)
    email = (email or "").strip()
    if email_enabled and not email:
        raise ServiceError(_("Enter an email address or switch email off."), "email")
    checked = {}
    for kind, (url, secret) in robots.items():
        if kind not in ROBOT_KINDS:
            raise ServiceError(_("Unknown channel."))
        if (url or "").strip():
            checked[kind] = (check_webhook(kind, url, f"{kind}_url"), (secret or "").strip() or None)
    if email:
        channel = existing.get("email") or NotificationChannel(user_id=user.id, kind="email")
        channel.target, channel.is_enabled = email[:500], bool(email_enabled)
        db.session.add(channel)
        existing["email"] = channel
    elif "email" in existing:
        db.session.delete(existing.pop("email"))
    for kind in ROBOT_KINDS:
        channel = existing.get(kind)
        if kind in checked:
            url, secret = checked[kind]
            if channel is None:
                channel = NotificationChannel(user_id=user.id, kind=kind, is_enabled=True)
                db.session.add(channel)
                existing[kind] = channel
            channel.target = url
            if secret and kind in SIGNING_KINDS:
                channel.secret = secret
        elif channel is not None:
            db.session.delete(existing.pop(kind))
    for channel in existing.values():
        channel.is_digest = bool(is_digest)
    db.session.flush()
    return existing


# --- what a user hears about ------------------------------------------------------------
def preference_areas(shown: Callable[[str], bool] | None = None
                     ) -> list[tuple[object, list[tuple[str, object, bool]]]]:
    """The kinds of notification a user may choose for, by area: (area label, [(event, label, is required)]).

    Every kind named in NOTIFICATION_EVENTS (or only those ``shown`` keeps), grouped by its prefix
    (``changes.agenda`` → Changes), in the order NOTIFICATION_EVENTS lists them; a prefix no area
    gathers goes under "Other".  An area left with no kind is left out.
    """
    areas = [(label, prefixes, []) for label, prefixes in PREFERENCE_AREAS]
    other = (_l("Other"), (), [])
    for event, label in NOTIFICATION_EVENTS.items():
        if shown is not None and not shown(event):
            continue
        prefix = event.split(".")[0]
        area = next((a for a in areas if prefix in a[1]), other)
        area[2].append((event, label, event in REQUIRED_EVENTS))
    return [(label, kinds) for label, _prefixes, kinds in areas + [other] if kinds]


def preference_areas_for(user, show_all: bool = False) -> tuple[list, int]:
    """The preferences page's areas for ``user`` (see ``preference_areas``) and how many kinds it leaves out:
    only the kinds listed by ``kinds_for`` unless ``show_all``."""
    if show_all:
        return preference_areas(), 0
    areas = preference_areas(kinds_for(user))
    return areas, len(NOTIFICATION_EVENTS) - sum(len(kinds) for _label, kinds in areas)


def preferences_of(user) -> dict[str, str]:
    """The user's chosen mode per event, where it is not the default."""
    return dict(db.session.execute(select(NotificationPreference.event, NotificationPreference.mode)
                                   .where(NotificationPreference.user_id == user.id)).all())


def kinds_known_to(user) -> set[str]:
    """The kinds of notification ``user`` has received or set a preference for (one statement)."""
    received = select(Notification.event).where(Notification.user_id == user.id)
    chosen = select(NotificationPreference.event).where(NotificationPreference.user_id == user.id)
    return set(db.session.scalars(received.union(chosen)))


def kinds_for(user) -> Callable[[str], bool]:
    """Which kinds the preferences page lists for ``user``: those that may reach them (RECEIVERS), and any
    they have already received or set a preference for, so that nothing they get is out of reach."""
    known = kinds_known_to(user)
    return lambda event: event in known or may_receive(user, event)


def check_preferences(choices: dict[str, str]) -> dict[str, str]:
    """Refuse an unknown kind, an unknown mode or a required kind turned off; return the choices."""
    for event, mode in choices.items():
        if event not in NOTIFICATION_EVENTS:
            raise ServiceError(_("“%(event)s” is not a kind of notification you can choose. Nothing was saved.",
                                 event=str(event)[:64]))
        label = NOTIFICATION_EVENTS[event]
        if mode not in PREFERENCE_MODES:
            raise ServiceError(_("For “%(kind)s” choose “%(all)s”, “%(app)s” or “%(off)s”. Nothing was saved.",
                                 kind=label, all=MODE_LABELS[MODE_ALL], app=MODE_LABELS[MODE_APP],
                                 off=MODE_LABELS[MODE_OFF]))
        if mode == MODE_OFF and event in REQUIRED_EVENTS:
            raise ServiceError(_("“%(kind)s” cannot be turned off: someone waits for you to act on it. "
                                 "You may keep it in the app only. Nothing was saved.", kind=label))
    return choices


def save_preferences(user, choices: dict[str, str]) -> int:
    """Set how ``user`` hears about each kind in ``choices`` (event → mode); kinds not named keep theirs.

    Everything is checked before anything changes.  The default mode is not stored (choosing it
    again removes the row).  Returns how many kinds changed.
    """
    check_preferences(choices)
    existing = {p.event: p for p in db.session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user.id))}
    changed = 0
    for event, mode in choices.items():
        preference = existing.get(event)
        if mode == MODE_ALL:
            if preference is not None:
                db.session.delete(preference)
                changed += 1
        elif preference is None:
            db.session.add(NotificationPreference(user_id=user.id, event=event, mode=mode))
            changed += 1
        elif preference.mode != mode:
            preference.mode = mode
            changed += 1
    db.session.flush()
    return changed


def queue_test_messages(user) -> int:
    """Send a test message to each of the user's enabled channels right away (digest or not)."""
    count = 0
    for channel in channels_of(user).values():
        if channel.is_enabled:
            db.session.add(queue_message(channel.kind, channel.target, _("Test message from Rollout Desk"),
                                         _("If you can read this, this channel works."), "/notifications/channels",
                                         secret=channel.secret, user_id=user.id))
            count += 1
    db.session.flush()
    return count


def reset_calendar_token(user) -> str:
    """Give the user a new calendar feed secret; the old feed address stops working."""
    user.calendar_token = new_token()
    db.session.flush()
    return user.calendar_token


# --- department group robots -------------------------------------------------------------
def save_robot(robot: DepartmentRobot | None, department_id: int, name: str, kind: str, url: str,
               secret: str | None, is_enabled: bool) -> DepartmentRobot:
    """Create or update a department's group robot after checking its webhook."""
    if kind not in ROBOT_KINDS:
        raise ServiceError(_("Choose DingTalk, WeCom or Feishu."), "kind")
    if db.session.get(Department, department_id) is None:
        raise ServiceError(_("Choose a department."), "department_id")
    url = check_webhook(kind, url, "target")
    if robot is None:
        robot = DepartmentRobot()
        db.session.add(robot)
    robot.department_id, robot.name, robot.kind, robot.target = department_id, (name or "").strip()[:100], kind, url
    robot.is_enabled = bool(is_enabled)
    if (secret or "").strip():
        robot.secret = secret.strip()[:200]
    if kind not in SIGNING_KINDS:
        robot.secret = None
    db.session.flush()
    return robot
