"""Enrolment: sign-up and assignment, the waitlist, cancellation, attendance, quizzes and completion.

Every status change goes through ``apply_transition`` and its table; taking a seat
locks the session row first so two people can never both take the last seat.
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, select

from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.reports.calendar import CalendarItem
from rollout.timeutil import utcnow
from training.models import (ATTENDANCE, ATTENDED, CANCELLED, ENROLLED, SESSION_CANCELLED, SESSION_SCHEDULED,
                             WAITLISTED, Course, CourseCompletion, Enrolment, QuizAttempt, TrainingSession)

NEW = "new"

#: (current status, action) → new status. Nothing else is allowed.
ENROLMENT_TRANSITIONS = {
    (NEW, "enrol"): ENROLLED,
    (NEW, "waitlist"): WAITLISTED,
    (CANCELLED, "enrol"): ENROLLED,
    (CANCELLED, "waitlist"): WAITLISTED,
    (WAITLISTED, "promote"): ENROLLED,
    (WAITLISTED, "cancel"): CANCELLED,
    (ENROLLED, "cancel"): CANCELLED,
    # Someone who came without signing up, added while attendance is taken: capacity does not apply.
    (NEW, "walk_in"): ENROLLED,
    (CANCELLED, "walk_in"): ENROLLED,
    (WAITLISTED, "walk_in"): ENROLLED,
}


def apply_transition(enrolment: Enrolment, action: str, now: datetime | None = None) -> Enrolment:
    """Move an enrolment along ENROLMENT_TRANSITIONS, or refuse without changing anything."""
    current = enrolment.status or NEW
    target = ENROLMENT_TRANSITIONS.get((current, action))
    if target is None:
        raise NotAllowed(_("This enrolment is %(status)s and cannot be changed that way (%(action)s).",
                           status=current, action=action))
    now = now or utcnow()
    enrolment.status = target
    if target == WAITLISTED:
        enrolment.waitlisted_at = now
    elif target == CANCELLED:
        enrolment.cancelled_at = now
    elif action == "promote":
        enrolment.promoted_at = now
    if target != ENROLLED:
        enrolment.attendance = None
    return enrolment


def lock_session(session_id: int) -> TrainingSession:
    """Load the session row locked for update (SELECT … FOR UPDATE; SQLite serialises writers anyway)."""
    session = db.session.execute(select(TrainingSession).where(TrainingSession.id == session_id)
                                 .with_for_update().execution_options(populate_existing=True)).scalar_one()
    return session


def _seats_taken(session_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Enrolment).where(
        Enrolment.session_id == session_id, Enrolment.status == ENROLLED)) or 0


def enrol(session_id: int, user, assigned_by=None, now: datetime | None = None) -> Enrolment:
    """Sign ``user`` up (or put them on the waitlist when full).

    The session row is locked and seats are counted inside the lock, so concurrent
    sign-ups for the last seat are serialised: one gets it, the other waits in line.
    """
    now = now or utcnow()
    session = lock_session(session_id)
    if session.status != SESSION_SCHEDULED:
        raise ServiceError(_("This session is not open for sign-up."))
    if session.starts_at is not None and session.starts_at <= now:
        raise ServiceError(_("This session has already started."))
    if session.signup_deadline_at is not None and now > session.signup_deadline_at:
        raise ServiceError(_("The sign-up deadline has passed."))
    if assigned_by is None:
        from training.services import sign_up_refusal
        refusal = sign_up_refusal(session, user)
        if refusal:
            raise ServiceError(refusal)
    if session.course is not None and assigned_by is None:
        from training.services import missing_prerequisite
        missing = missing_prerequisite(user, session.course)
        if missing is not None:
            raise ServiceError(_("Complete %(course)s first.", course=missing.title))
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.session_id == session.id,
                                                          Enrolment.user_id == user.id))
    if enrolment is not None and enrolment.status != CANCELLED:
        raise ServiceError(_("%(name)s is already signed up for this session.", name=user.display_name))
    # Counted inside the lock, before anything of this sign-up is written.
    action = "enrol" if _seats_taken(session.id) < session.capacity else "waitlist"
    if enrolment is None:
        enrolment = Enrolment(session_id=session.id, user_id=user.id)
    apply_transition(enrolment, action, now)
    enrolment.assigned_by_id = assigned_by.id if assigned_by is not None else None
    db.session.add(enrolment)
    db.session.flush()
    return enrolment


def cancel(enrolment: Enrolment, by_self: bool = True, now: datetime | None = None) -> Enrolment | None:
    """Withdraw an enrolment; a freed seat goes to the first on the waitlist. Returns the promoted enrolment."""
    now = now or utcnow()
    session = lock_session(enrolment.session_id)
    if by_self and session.cancel_deadline_at is not None and now > session.cancel_deadline_at:
        raise ServiceError(_("The cancellation deadline has passed; please ask the trainer."))
    if enrolment.attendance is not None:
        raise ServiceError(_("Attendance is already recorded for this enrolment."))
    freed_seat = enrolment.status == ENROLLED
    apply_transition(enrolment, "cancel", now)
    db.session.flush()
    promoted = promote_from_waitlist(session, now) if freed_seat else []
    return promoted[0] if promoted else None


def promote_from_waitlist(session: TrainingSession, now: datetime | None = None) -> list[Enrolment]:
    """Fill free seats from the waitlist in order, notifying each person; never after the sign-up deadline."""
    from rollout.notify.services import notify
    now = now or utcnow()
    if session.status != SESSION_SCHEDULED:
        return []
    if session.signup_deadline_at is not None and now > session.signup_deadline_at:
        return []
    if session.starts_at is not None and session.starts_at <= now:
        return []
    free = session.capacity - _seats_taken(session.id)
    if free <= 0:
        return []
    waiting = db.session.scalars(select(Enrolment).where(
        Enrolment.session_id == session.id, Enrolment.status == WAITLISTED)
        .order_by(Enrolment.waitlisted_at, Enrolment.id).limit(free)).all()
    from training.services import when_and_where
    for enrolment in waiting:
        apply_transition(enrolment, "promote", now)
        notify([enrolment.user], "training.promoted", _l("You have a seat: %(title)s", title=session.title),
               _l("A seat became free and you moved up from the waitlist: %(when)s.", when=when_and_where(session)),
               link=f"/training/sessions/{session.id}")
    db.session.flush()
    return list(waiting)


def promote(enrolment: Enrolment, over_capacity: bool = False, now: datetime | None = None) -> Enrolment:
    """The trainer moves a waitlisted person in by hand; into a full session only when ``over_capacity``."""
    from rollout.notify.services import notify
    now = now or utcnow()
    session = lock_session(enrolment.session_id)
    name = enrolment.user.display_name
    if session.status != SESSION_SCHEDULED:
        raise ServiceError(_("This session is not open for sign-up."))
    if session.starts_at is not None and session.starts_at <= now:
        raise ServiceError(_("The session has started: add %(name)s from the attendance list if they came.",
                             name=name))
    if enrolment.status != WAITLISTED:
        raise ServiceError(_("%(name)s is not on the waitlist.", name=name))
    if _seats_taken(session.id) >= session.capacity and not over_capacity:
        raise ServiceError(ngettext("The session is full (%(num)d place). Confirm to move %(name)s up over capacity.",
                                    "The session is full (%(num)d places). Confirm to move %(name)s up over "
                                    "capacity.", session.capacity, name=name))
    apply_transition(enrolment, "promote", now)
    db.session.flush()
    from training.services import when_and_where
    notify([enrolment.user], "training.promoted", _l("You have a seat: %(title)s", title=session.title),
           _l("The trainer moved you up from the waitlist: %(when)s.", when=when_and_where(session)),
           link=f"/training/sessions/{session.id}")
    return enrolment


def add_walk_in(session_id: int, user, added_by, mark: str = "present", now: datetime | None = None) -> Enrolment:
    """Record someone who attended without signing up; the trainer adds them while taking attendance."""
    now = now or utcnow()
    session = lock_session(session_id)
    if session.status != SESSION_SCHEDULED:
        raise ServiceError(_("Attendance is marked only for scheduled sessions."))
    if session.starts_at is None or session.starts_at > now:
        raise ServiceError(_("People who came without signing up are added once the session has started; "
                             "until then, sign them up."))
    if mark not in ATTENDED:
        raise ServiceError(_("Unknown attendance mark."))
    if not user.is_active_account:
        raise ServiceError(_("%(name)s has no active account.", name=user.display_name))
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.session_id == session.id,
                                                          Enrolment.user_id == user.id))
    if enrolment is not None and enrolment.status == ENROLLED:
        raise ServiceError(_("%(name)s is already in the attendance list: mark them there.", name=user.display_name))
    if enrolment is None:
        enrolment = Enrolment(session_id=session.id, user_id=user.id)
    apply_transition(enrolment, "walk_in", now)
    enrolment.attendance = mark
    enrolment.assigned_by_id = added_by.id
    db.session.add(enrolment)
    db.session.flush()
    if session.course_id:
        check_completion(user.id, session.course)
    return enrolment


# --- attendance and completion ------------------------------------------------------
def mark_attendance(session: TrainingSession, marks: dict[int, str], now: datetime | None = None) -> int:
    """Record attendance (enrolment id → present/late/excused/absent); returns how many changed."""
    now = now or utcnow()
    if session.status != SESSION_SCHEDULED:
        raise ServiceError(_("Attendance is marked only for scheduled sessions."))
    if session.starts_at is None or session.starts_at > now:
        raise ServiceError(_("Attendance can be marked once the session has started."))
    bad = [mark for mark in marks.values() if mark and mark not in ATTENDANCE]
    if bad:
        raise ServiceError(_("Unknown attendance mark."))
    enrolments = {e.id: e for e in db.session.scalars(select(Enrolment).where(
        Enrolment.session_id == session.id, Enrolment.status == ENROLLED))}
    foreign = set(marks) - set(enrolments)
    if foreign:
        raise ServiceError(_("Attendance can only be marked for people enrolled in this session."))
    changed = 0
    for enrolment_id, mark in marks.items():
        enrolment = enrolments[enrolment_id]
        mark = mark or None
        if enrolment.attendance != mark:
            enrolment.attendance = mark
            changed += 1
            if session.course_id and mark in ATTENDED:
                check_completion(enrolment.user_id, session.course)
    db.session.flush()
    return changed


def has_attended(user_id: int, course_id: int) -> bool:
    return db.session.scalar(select(Enrolment.id).join(TrainingSession).where(
        Enrolment.user_id == user_id, TrainingSession.course_id == course_id, Enrolment.status == ENROLLED,
        Enrolment.attendance.in_(ATTENDED)).limit(1)) is not None


def has_passed(user_id: int, course: Course) -> bool:
    if not course.questions:
        return True
    return db.session.scalar(select(QuizAttempt.id).where(
        QuizAttempt.user_id == user_id, QuizAttempt.course_id == course.id,
        QuizAttempt.is_passed.is_(True)).limit(1)) is not None


def check_completion(user_id: int, course: Course) -> CourseCompletion | None:
    """Record the course complete when the person attended and, where there is a quiz, passed it."""
    existing = db.session.scalar(select(CourseCompletion).where(CourseCompletion.user_id == user_id,
                                                                CourseCompletion.course_id == course.id))
    if existing is not None:
        return existing
    if not (has_attended(user_id, course.id) and has_passed(user_id, course)):
        return None
    completion = CourseCompletion(user_id=user_id, course_id=course.id)
    db.session.add(completion)
    db.session.flush()
    return completion


class QuizIncomplete(ServiceError):
    """Some questions have no valid answer; ``missing`` holds their numbers (from 1) in quiz order."""

    def __init__(self, missing: list[int]):
        from flask_babel import get_locale
        locale = get_locale()
        separator = "、" if locale is not None and locale.language == "zh" else ", "
        numbers = separator.join(str(number) for number in missing)
        super().__init__(ngettext("Answer question %(numbers)s before submitting; nothing was recorded.",
                                  "Answer questions %(numbers)s before submitting; nothing was recorded.",
                                  len(missing), numbers=numbers))
        self.missing = missing


def unanswered_questions(course: Course, answers: dict[int, int | None]) -> list[int]:
    """Numbers (from 1) of the questions without an answer that is one of their options."""
    return [number for number, question in enumerate(course.questions, start=1)
            if not (isinstance(answers.get(question.id), int) and 0 <= answers[question.id] < len(question.options))]


def grade_quiz(course: Course, user, answers: dict[int, int | None]) -> QuizAttempt:
    """Score answers (question id → option index) against the pass mark and record the attempt.

    Every question must be answered: otherwise QuizIncomplete is raised and nothing is recorded."""
    if not course.questions:
        raise ServiceError(_("This course has no quiz."))
    missing = unanswered_questions(course, answers)
    if missing:
        raise QuizIncomplete(missing)
    right = sum(1 for q in course.questions if answers.get(q.id) == q.correct_option)
    score = round(100 * right / len(course.questions))
    attempt = QuizAttempt(course_id=course.id, user_id=user.id, score=score,
                          is_passed=score >= (course.pass_mark if course.pass_mark is not None else 100))
    db.session.add(attempt)
    db.session.flush()
    if attempt.is_passed:
        check_completion(user.id, course)
    return attempt


# --- lists and calendar ---------------------------------------------------------------
def roster(session: TrainingSession) -> tuple[list[Enrolment], list[Enrolment]]:
    """(enrolled, waitlisted) of a session, in sign-up and waitlist order, users loaded."""
    rows = db.session.scalars(select(Enrolment).where(
        Enrolment.session_id == session.id, Enrolment.status.in_([ENROLLED, WAITLISTED]))
        .options(db.joinedload(Enrolment.user)).order_by(Enrolment.waitlisted_at, Enrolment.created_at,
                                                          Enrolment.id)).all()
    return [e for e in rows if e.status == ENROLLED], [e for e in rows if e.status == WAITLISTED]


def calendar_item(session: TrainingSession) -> CalendarItem:
    """The session as an iCalendar event with a stable UID."""
    place = session.location or session.online_url or None
    description = session.description_markdown or (session.course.title if session.course else "")
    if session.online_url:
        description = (description + "\n" + session.online_url).strip()
    return CalendarItem(uid=f"training-session-{session.id}@rollout-desk", summary=session.title,
                        start_at=session.starts_at, end_at=session.ends_at, sequence=session.sequence or 0,
                        location=place, description=description or None,
                        url=f"/training/sessions/{session.id}",
                        is_cancelled=session.status == SESSION_CANCELLED)


#: What a person's place reads once sign-up closed while they were still on the waitlist (not a stored status).
NO_SEAT = "no_seat"


def has_no_seat(enrolment: Enrolment, now: datetime | None = None) -> bool:
    """Still waitlisted when the session's sign-up closed: no seat moves up any more (the waitlist-closed notice)."""
    session = enrolment.session
    return (enrolment.status == WAITLISTED and session.status == SESSION_SCHEDULED
            and not session.takes_sign_ups(now or utcnow()))


def shown_status(enrolment: Enrolment, now: datetime | None = None) -> str:
    """The status a person's place reads as: enrolled, waitlisted, or NO_SEAT once sign-up closed without one."""
    return NO_SEAT if has_no_seat(enrolment, now) else enrolment.status


def feed_items(user, now: datetime | None = None) -> list[CalendarItem]:
    """A person's sessions for the personal calendar feed: as participant or as trainer, cancelled ones too.

    A session whose sign-up closed while the person was still waitlisted is CANCELLED in their feed (one sequence
    higher, so calendar programs drop it); should the trainer still move them in by hand, it comes back two higher.
    """
    now = now or utcnow()
    mine = (select(Enrolment.session_id, Enrolment.status, Enrolment.promoted_at)
            .where(Enrolment.user_id == user.id).subquery())
    rows = db.session.execute(select(TrainingSession, mine.c.status, mine.c.promoted_at)
                              .outerjoin(mine, mine.c.session_id == TrainingSession.id).where(
        TrainingSession.starts_at.is_not(None),
        db.or_(
            db.and_(TrainingSession.status == SESSION_SCHEDULED,
                    db.or_(mine.c.status.in_([ENROLLED, WAITLISTED]), TrainingSession.trainer_id == user.id)),
            db.and_(TrainingSession.status == SESSION_CANCELLED,
                    db.or_(mine.c.session_id.is_not(None), TrainingSession.trainer_id == user.id)),
        )).options(db.joinedload(TrainingSession.course)).order_by(TrainingSession.starts_at)).all()
    items = []
    for session, status, promoted_at in rows:
        item = calendar_item(session)
        if session.status == SESSION_SCHEDULED and session.trainer_id != user.id:
            closes = session.signup_deadline_at or session.starts_at
            if status == WAITLISTED and not session.takes_sign_ups(now):
                item.is_cancelled = True
                item.sequence += 1
            elif status == WAITLISTED:
                item.is_tentative = True  # a seat may still come
            elif status == ENROLLED and promoted_at is not None and promoted_at > closes:
                item.sequence += 2
        items.append(item)
    return items
