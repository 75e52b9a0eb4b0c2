"""What the passing of time must tell people about sessions, run by ``rollout training remind``:

- the trainer (and whoever scheduled the session) when it ended with attendance missing for someone, once, and
  once more a few days later if still not;
- people still on a waitlist when sign-up closed, once: no seat will come; other sessions of the course;
- the trainer (and whoever scheduled it) when a session starts soon and nobody has signed up, once.

Nothing here adds a column: whether someone was told is read back from the notifications already sent (same
event, person and link), so running the job twice, or twice a day, tells nobody twice. Each function takes
``now`` so tests can move the clock.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import case, func, select

from rollout.accounts.models import User
from rollout.extensions import db
from rollout.timeutil import utcnow
from training.models import ENROLLED, SESSION_SCHEDULED, WAITLISTED, Enrolment, TrainingSession

#: Notification events this module sends (their labels are in rollout/audit/display.py).
ATTENDANCE_DUE = "training.attendance_due"
ATTENDANCE_STILL_DUE = "training.attendance_still_due"
WAITLIST_CLOSED = "training.waitlist_closed"
NO_SIGN_UPS = "training.no_sign_ups"

#: At most this many other sessions are named in a notice (the course page lists them all).
MAX_OTHER_SESSIONS = 5


@dataclass
class FollowUpCounts:
    """How many people each kind of notice went to in one run."""
    attendance: int = 0
    attendance_again: int = 0
    waitlist_closed: int = 0
    no_sign_ups: int = 0


def follow_up_sessions(now: datetime | None = None) -> FollowUpCounts:
    """Send every notice that is due by ``now`` and not sent before."""
    now = now or utcnow()
    counts = FollowUpCounts()
    counts.attendance, counts.attendance_again = prompt_attendance(now)
    counts.waitlist_closed = tell_waitlist_closed(now)
    counts.no_sign_ups = warn_no_sign_ups(now)
    db.session.flush()
    return counts


def _config_days(name: str, default: int) -> int:
    return max(0, int(current_app.config.get(name, default)))


def _since(now: datetime) -> datetime:
    """How far back the job looks (TRAINING_FOLLOW_UP_DAYS): the first run after an update does not dig up
    sessions that ended or closed long ago."""
    return now - timedelta(days=_config_days("TRAINING_FOLLOW_UP_DAYS", 14))


def attendance_link(session_id: int) -> str:
    return f"/training/sessions/{session_id}#attendance"


def session_link(session_id: int) -> str:
    return f"/training/sessions/{session_id}"


def _told(event: str, links: list[str]) -> dict[tuple[int, str], datetime]:
    """(user id, link) → when that person was first sent ``event`` for that link."""
    if not links:
        return {}
    from rollout.notify.models import Notification
    told: dict[tuple[int, str], datetime] = {}
    rows = db.session.execute(select(Notification.user_id, Notification.link, func.min(Notification.created_at))
                              .where(Notification.event == event, Notification.link.in_(sorted(set(links))))
                              .group_by(Notification.user_id, Notification.link))
    for user_id, link, created_at in rows:
        told[(user_id, link)] = created_at
    return told


def _send(users: list[User], event: str, subject, body, link: str, now: datetime) -> None:
    from rollout.notify.services import notify
    for notification in notify(users, event, subject, body, link=link):
        # Dated by the job's clock, which later runs compare against ("a few days after the first").
        notification.created_at = now


def session_owners(session_ids) -> dict[int, int]:
    """Who put each session on the calendar, read from the audit trail: whoever scheduled it (a draft),
    otherwise whoever created it. Sessions have no owner column; the trainer is named separately."""
    ids = [str(session_id) for session_id in session_ids]
    if not ids:
        return {}
    from rollout.audit.models import AuditEntry
    owners: dict[int, int] = {}
    rows = db.session.execute(select(AuditEntry.entity_id, AuditEntry.action, AuditEntry.user_id).where(
        AuditEntry.entity == "training_sessions", AuditEntry.entity_id.in_(ids),
        AuditEntry.action.in_(("create", "session_schedule")), AuditEntry.user_id.is_not(None))
        .order_by(AuditEntry.id))
    for entity_id, action, user_id in rows:
        if action == "session_schedule" or int(entity_id) not in owners:
            owners[int(entity_id)] = user_id
    return owners


def _trainer_and_owner(sessions: list[TrainingSession]) -> dict[int, list[User]]:
    """Session id → the people who look after it: its trainer, and whoever scheduled it when that is someone
    else who may still manage training (they can open the attendance list). Inactive accounts are left out."""
    from rollout.access import can
    owners = session_owners([session.id for session in sessions])
    users = {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(
        sorted({owner for owner in owners.values()} | {s.trainer_id for s in sessions if s.trainer_id}) or [-1])))}
    result = {}
    for session in sessions:
        people = []
        trainer = users.get(session.trainer_id)
        if trainer is not None and trainer.is_active_account:
            people.append(trainer)
        owner = users.get(owners.get(session.id))
        if (owner is not None and owner.id != session.trainer_id and owner.is_active_account
                and can(owner, "training.manage")):
            people.append(owner)
        result[session.id] = people
    return result


# --- attendance ---------------------------------------------------------------------------------
def _attendance_body(session: TrainingSession, unmarked: int, total: int, again: bool):
    """The prompt's text, composed in each reader's language."""
    from training.services import when_and_where
    when, course = when_and_where(session), session.course.title if session.course else None

    def body() -> str:
        if again:
            first = ngettext("The session (%(when)s) ended a few days ago and attendance is still not recorded "
                             "for %(missing)d of its %(num)d participant.",
                             "The session (%(when)s) ended a few days ago and attendance is still not recorded "
                             "for %(missing)d of its %(num)d participants.", total, when=when, missing=unmarked)
        else:
            first = ngettext("The session (%(when)s) has ended and attendance is not recorded for %(missing)d of "
                             "its %(num)d participant.",
                             "The session (%(when)s) has ended and attendance is not recorded for %(missing)d of "
                             "its %(num)d participants.", total, when=when, missing=unmarked)
        if course:
            then = _("Their training records wait for it: %(course)s counts as completed for someone only once "
                     "they are marked present or late.", course=course)
        else:
            then = _("Record who came, and who did not, on the session's page.")
        return first + "\n\n" + then
    return body


def prompt_attendance(now: datetime) -> tuple[int, int]:
    """Tell the trainer (and the session's owner) that an ended session lacks attendance: once, then once more
    after TRAINING_ATTENDANCE_REMINDER_DAYS. Returns (first prompts, second prompts) sent, counted per person."""
    unmarked = func.sum(case((Enrolment.attendance.is_(None), 1), else_=0))
    counts = (select(Enrolment.session_id, func.count().label("total"), unmarked.label("unmarked"))
              .where(Enrolment.status == ENROLLED).group_by(Enrolment.session_id).subquery())
    rows = db.session.execute(
        select(TrainingSession, counts.c.total, counts.c.unmarked)
        .join(counts, counts.c.session_id == TrainingSession.id)
        .where(TrainingSession.status == SESSION_SCHEDULED, TrainingSession.ends_at <= now,
               TrainingSession.ends_at > _since(now), counts.c.unmarked > 0)
        .options(db.joinedload(TrainingSession.course)).order_by(TrainingSession.ends_at)).all()
    if not rows:
        return 0, 0
    sessions = [row[0] for row in rows]
    people = _trainer_and_owner(sessions)
    links = [attendance_link(session.id) for session in sessions]
    first_told, again_told = _told(ATTENDANCE_DUE, links), _told(ATTENDANCE_STILL_DUE, links)
    wait = timedelta(days=_config_days("TRAINING_ATTENDANCE_REMINDER_DAYS", 3))
    first = again = 0
    for session, total, missing in rows:
        link = attendance_link(session.id)
        new = [user for user in people[session.id] if (user.id, link) not in first_told]
        due = [user for user in people[session.id] if (user.id, link) not in again_told
               and (user.id, link) in first_told and first_told[(user.id, link)] <= now - wait]
        if new:
            _send(new, ATTENDANCE_DUE, _l("Record attendance: %(title)s", title=session.title),
                  _attendance_body(session, int(missing), int(total), again=False), link, now)
            first += len(new)
        if due:
            _send(due, ATTENDANCE_STILL_DUE, _l("Attendance still not recorded: %(title)s", title=session.title),
                  _attendance_body(session, int(missing), int(total), again=True), link, now)
            again += len(due)
    return first, again


# --- the waitlist when sign-up closes -------------------------------------------------------------
def other_sessions(session: TrainingSession, user: User,
                   now: datetime | None = None) -> list[tuple[TrainingSession, int]]:
    """Other scheduled sessions of the same course that ``user`` could still sign up for (or join the waitlist
    of), soonest first, with their number of enrolled people. None for a session without a course."""
    return _other_sessions_for([session], [user], now or utcnow()).get((session.id, user.id), [])


def _other_sessions_for(sessions: list[TrainingSession], users: list[User], now: datetime
                        ) -> dict[tuple[int, int], list[tuple[TrainingSession, int]]]:
    """(session id, user id) → other_sessions(), for several sessions and people in a fixed number of queries."""
    from training.services import sign_up_refusal
    course_ids = sorted({session.course_id for session in sessions if session.course_id})
    if not course_ids or not users:
        return {}
    taken = (select(Enrolment.session_id, func.count().label("taken")).where(Enrolment.status == ENROLLED)
             .group_by(Enrolment.session_id).subquery())
    candidates = db.session.execute(
        select(TrainingSession, func.coalesce(taken.c.taken, 0))
        .outerjoin(taken, taken.c.session_id == TrainingSession.id)
        .where(TrainingSession.status == SESSION_SCHEDULED, TrainingSession.course_id.in_(course_ids),
               TrainingSession.starts_at > now,
               db.or_(TrainingSession.signup_deadline_at.is_(None), TrainingSession.signup_deadline_at >= now))
        .order_by(TrainingSession.starts_at, TrainingSession.id)).all()
    if not candidates:
        return {}
    user_ids = [user.id for user in users]
    already = set(db.session.execute(select(Enrolment.session_id, Enrolment.user_id).where(
        Enrolment.session_id.in_([row[0].id for row in candidates]), Enrolment.user_id.in_(user_ids),
        Enrolment.status.in_([ENROLLED, WAITLISTED]))).all())
    result = {}
    for session in sessions:
        for user in users:
            result[(session.id, user.id)] = [
                (other, int(count)) for other, count in candidates
                if other.id != session.id and other.course_id == session.course_id
                and (other.id, user.id) not in already and sign_up_refusal(other, user) is None]
    return result


def join_sentences(*sentences: str) -> str:
    """Sentences one after the other as the reader's language writes them: Chinese needs no space between them."""
    from flask_babel import get_locale
    locale = get_locale()
    return ("" if locale is not None and locale.language == "zh" else " ").join(sentences)


def _waitlist_body(session: TrainingSession, others: list[tuple[TrainingSession, int]]):
    from training.services import session_place, session_time, when_and_where
    time, place = session_time(session), session_place(session)
    course = session.course.title if session.course else None
    listed = [(other.title, when_and_where(other), other.capacity - taken)
              for other, taken in others[:MAX_OTHER_SESSIONS]]

    def body() -> str:
        if place:
            text = _("Sign-up for the session on %(time)s at %(place)s has closed and no seat came free for you, "
                     "so you will not get a place.", time=time, place=place)
        else:
            text = _("Sign-up for the session on %(time)s has closed and no seat came free for you, so you will "
                     "not get a place.", time=time)
        if listed:
            lines = []
            for title, when_other, free in listed:
                seats = (ngettext("%(num)d seat free", "%(num)d seats free", free) if free > 0
                         else _("full: waitlist only"))
                lines.append("- " + _("%(title)s: %(when)s (%(seats)s)", title=title, when=when_other, seats=seats))
            more = len(others) - len(listed)
            if more > 0:
                lines.append("- " + ngettext("and %(num)d more session", "and %(num)d more sessions", more))
            return "\n\n".join([text, _("Other sessions of %(course)s you can sign up for (on the session's page):",
                                        course=course), "\n".join(lines)])
        if course:
            return join_sentences(text, _("No other session of %(course)s is open for sign-up at the moment; ask "
                                          "the trainer or look at the sessions list later.", course=course))
        return join_sentences(text, _("Ask the trainer whether another session is planned."))
    return body


def tell_waitlist_closed(now: datetime) -> int:
    """Tell everyone still waiting when a session's sign-up closed (its sign-up deadline, or its start when it has
    none) that no seat will come, naming other sessions of the course they can sign up for. Returns how many."""
    closes = func.coalesce(TrainingSession.signup_deadline_at, TrainingSession.starts_at)
    waiting = select(Enrolment.session_id).where(Enrolment.status == WAITLISTED)
    sessions = [session for session in db.session.scalars(
        select(TrainingSession).where(TrainingSession.status == SESSION_SCHEDULED, closes <= now,
                                      closes > _since(now), TrainingSession.id.in_(waiting))
        .options(db.joinedload(TrainingSession.course)).order_by(TrainingSession.starts_at)).all()
        if not session.takes_sign_ups(now)]
    if not sessions:
        return 0
    enrolments = db.session.scalars(select(Enrolment).where(
        Enrolment.session_id.in_([session.id for session in sessions]), Enrolment.status == WAITLISTED)
        .options(db.joinedload(Enrolment.user)).order_by(Enrolment.waitlisted_at, Enrolment.id)).all()
    told = _told(WAITLIST_CLOSED, [session_link(session.id) for session in sessions])
    waiting_by_session: dict[int, list[User]] = {}
    for enrolment in enrolments:
        if enrolment.user.is_active_account and (enrolment.user_id, session_link(enrolment.session_id)) not in told:
            waiting_by_session.setdefault(enrolment.session_id, []).append(enrolment.user)
    people = [user for users in waiting_by_session.values() for user in users]
    others = _other_sessions_for([s for s in sessions if s.id in waiting_by_session], people, now)
    count = 0
    for session in sessions:
        for user in waiting_by_session.get(session.id, []):
            _send([user], WAITLIST_CLOSED, _l("No seat for you: %(title)s", title=session.title),
                  _waitlist_body(session, others.get((session.id, user.id), [])), session_link(session.id), now)
            count += 1
    return count


# --- a session nobody signed up for --------------------------------------------------------------------
def warn_no_sign_ups(now: datetime) -> int:
    """Tell the trainer (and the session's owner) once when a session starts within TRAINING_NO_SIGN_UPS_HOURS
    (48) and nobody is signed up. Returns how many people were told."""
    from training.services import session_place, session_time
    hours = max(0, int(current_app.config.get("TRAINING_NO_SIGN_UPS_HOURS", 48)))
    enrolled = select(Enrolment.session_id).where(Enrolment.status == ENROLLED)
    sessions = db.session.scalars(select(TrainingSession).where(
        TrainingSession.status == SESSION_SCHEDULED, TrainingSession.starts_at > now,
        TrainingSession.starts_at <= now + timedelta(hours=hours), TrainingSession.id.not_in(enrolled))
        .order_by(TrainingSession.starts_at)).all()
    if not sessions:
        return 0
    people = _trainer_and_owner(sessions)
    told = _told(NO_SIGN_UPS, [session_link(session.id) for session in sessions])
    count = 0
    for session in sessions:
        link = session_link(session.id)
        new = [user for user in people[session.id] if (user.id, link) not in told]
        if new:
            time, place = session_time(session), session_place(session)
            if place:
                body = _l("The session on %(time)s at %(place)s has nobody signed up yet. If it is still needed, "
                          "sign people up on its page; otherwise cancel it.", time=time, place=place)
            else:
                body = _l("The session on %(time)s has nobody signed up yet. If it is still needed, sign people up "
                          "on its page; otherwise cancel it.", time=time)
            _send(new, NO_SIGN_UPS, _l("Nobody signed up yet: %(title)s", title=session.title), body, link, now)
            count += len(new)
    return count
