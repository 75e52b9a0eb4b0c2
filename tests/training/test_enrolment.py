"""Enrolment: seats, waitlist and promotion, deadlines, double sign-up, attendance, quiz, completion."""
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import utcnow
from training import enrolment as enrolments
from training.enrolment import ENROLMENT_TRANSITIONS, apply_transition, cancel, enrol, mark_attendance
from training.models import CourseCompletion, Enrolment, QuizQuestion


def statuses(session):
    rows = db.session.execute(select(Enrolment.user_id, Enrolment.status).where(Enrolment.session_id == session.id))
    return dict(rows.all())


def test_last_seat_then_waitlist_then_promotion_with_notice(company, make_session, factory):
    session = make_session(capacity=1)
    first, second = company["staff"], company["staff2"]
    assert enrol(session.id, first).status == "enrolled"
    assert enrol(session.id, second).status == "waitlisted"
    db.session.commit()
    promoted = cancel(db.session.scalar(select(Enrolment).where(Enrolment.user_id == first.id)))
    db.session.commit()
    assert promoted.user_id == second.id
    assert statuses(session) == {first.id: "cancelled", second.id: "enrolled"}
    notice = db.session.scalar(select(Notification).where(Notification.user_id == second.id))
    assert notice is not None and notice.event == "training.promoted"


def test_sequential_sign_ups_never_overbook(company, make_session, factory):
    session = make_session(capacity=3)
    people = [factory.user("staff", department=company["departments"]["sales1"]) for _ in range(6)]
    results = [enrol(session.id, person).status for person in people]
    db.session.commit()
    assert results == ["enrolled"] * 3 + ["waitlisted"] * 3
    taken = db.session.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.status == "enrolled"))
    assert taken == 3


@pytest.mark.postgres_only
def test_two_connections_taking_the_last_seat_at_once(app, company, make_session, monkeypatch):
    session = make_session(capacity=1)
    session_id, user_ids = session.id, [company["staff"].id, company["staff2"].id]
    original = enrolments._seats_taken

    def slow_count(sid):
        # Widen the window between reading the seat count and writing: without the
        # row lock both sign-ups would see a free seat here.
        time.sleep(0.3)
        return original(sid)

    monkeypatch.setattr(enrolments, "_seats_taken", slow_count)
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def sign_up(user_id):
        with app.app_context():
            try:
                from rollout.accounts.models import User
                person = db.session.get(User, user_id)
                barrier.wait()
                outcomes.append(enrol(session_id, person).status)
                db.session.commit()
            except Exception as error:  # reported below: a failure must not pass silently
                errors.append(error)
                db.session.rollback()

    threads = [threading.Thread(target=sign_up, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sorted(outcomes) == ["enrolled", "waitlisted"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Enrolment).where(
        Enrolment.session_id == session_id, Enrolment.status == "enrolled")) == 1


def test_double_enrolment_is_refused(company, make_session):
    session = make_session()
    enrol(session.id, company["staff"])
    with pytest.raises(ServiceError, match="already signed up"):
        enrol(session.id, company["staff"])


def test_no_promotion_after_the_sign_up_deadline(company, make_session):
    session = make_session(capacity=1, signup_deadline_at=utcnow() + timedelta(hours=1))
    enrol(session.id, company["staff"])
    enrol(session.id, company["staff2"])
    later = utcnow() + timedelta(hours=2)
    mine = db.session.scalar(select(Enrolment).where(Enrolment.user_id == company["staff"].id))
    assert cancel(mine, now=later) is None
    assert statuses(session)[company["staff2"].id] == "waitlisted"


def test_sign_up_after_deadline_and_cancel_after_cancel_deadline_refused(company, make_session):
    session = make_session(signup_deadline_at=utcnow() - timedelta(minutes=1))
    with pytest.raises(ServiceError, match="deadline has passed"):
        enrol(session.id, company["staff"])
    other = make_session(cancel_deadline_at=utcnow() + timedelta(hours=1))
    mine = enrol(other.id, company["staff"])
    with pytest.raises(ServiceError, match="cancellation deadline"):
        cancel(mine, now=utcnow() + timedelta(hours=2))
    # the trainer may still remove someone
    cancel(mine, by_self=False, now=utcnow() + timedelta(hours=2))
    assert mine.status == "cancelled"


def test_transition_table_refuses_unknown_moves_without_change(company, make_session):
    enrolment = Enrolment(session_id=make_session().id, user_id=company["staff"].id, status="enrolled")
    with pytest.raises(NotAllowed):
        apply_transition(enrolment, "promote")
    assert enrolment.status == "enrolled"
    assert ("cancelled", "enrol") in ENROLMENT_TRANSITIONS


def test_cancelled_person_can_sign_up_again(company, make_session):
    session = make_session()
    mine = enrol(session.id, company["staff"])
    cancel(mine)
    assert enrol(session.id, company["staff"]).id == mine.id
    assert mine.status == "enrolled"


def test_attendance_completes_course_without_quiz(company, make_session, course):
    session = make_session(days=-1)
    session.starts_at = utcnow() - timedelta(hours=3)
    session.ends_at = utcnow() - timedelta(hours=1)
    db.session.add_all([Enrolment(session_id=session.id, user_id=company["staff"].id, status="enrolled"),
                        Enrolment(session_id=session.id, user_id=company["staff2"].id, status="enrolled")])
    db.session.commit()
    ids = dict(db.session.execute(select(Enrolment.user_id, Enrolment.id)).all())
    mark_attendance(session, {ids[company["staff"].id]: "late", ids[company["staff2"].id]: "absent"})
    done = set(db.session.scalars(select(CourseCompletion.user_id)))
    assert done == {company["staff"].id}
    with pytest.raises(ServiceError):
        mark_attendance(session, {ids[company["staff"].id]: "asleep"})


def test_attendance_not_before_start(company, make_session):
    session = make_session()
    mine = enrol(session.id, company["staff"])
    with pytest.raises(ServiceError, match="once the session has started"):
        mark_attendance(session, {mine.id: "present"})


def test_quiz_must_be_passed_for_completion(company, make_session, course):
    db.session.add(QuizQuestion(course=course, position=1, prompt="低于几折需要经理审批？",
                                options_text="9 折\n8 折", correct_option=0))
    course.pass_mark = 100
    session = make_session()
    session.starts_at, session.ends_at = utcnow() - timedelta(hours=2), utcnow() - timedelta(hours=1)
    db.session.add(Enrolment(session_id=session.id, user_id=company["staff"].id, status="enrolled"))
    db.session.commit()
    enrolment = db.session.scalar(select(Enrolment))
    mark_attendance(session, {enrolment.id: "present"})
    assert db.session.scalar(select(func.count()).select_from(CourseCompletion)) == 0
    question = course.questions[0]
    assert not enrolments.grade_quiz(course, company["staff"], {question.id: 1}).is_passed
    assert enrolments.grade_quiz(course, company["staff"], {question.id: 0}).is_passed
    assert db.session.scalar(select(func.count()).select_from(CourseCompletion)) == 1


def test_prerequisite_required_for_self_sign_up(company, make_session, course):
    from training.models import Course, TrainingSession
    advanced = Course(track=course.track, position=2, title="报价进阶", prerequisite=course)
    db.session.add(advanced)
    session = make_session()
    session.course = advanced
    db.session.commit()
    with pytest.raises(ServiceError, match="first"):
        enrol(session.id, company["staff"])
    assert db.session.scalar(select(func.count()).select_from(Enrolment)) == 0
    assert isinstance(session, TrainingSession)
