"""The trainer's hand on a session: the waitlist moved by hand, people who came without signing up,
and a session that took place shown as held and no longer cancellable."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import utcnow
from training.models import CourseCompletion, Enrolment, TrainingSession


def _started(make_session, hours_ago=1, hours=2, **values):
    """A scheduled session that started ``hours_ago`` and lasts ``hours``."""
    session = make_session(commit=False, **values)
    session.starts_at = utcnow().replace(microsecond=0) - timedelta(hours=hours_ago)
    session.ends_at = session.starts_at + timedelta(hours=hours)
    db.session.commit()
    return session


def _add(session, user, status="enrolled", **values):
    enrolment = Enrolment(session_id=session.id, user_id=user.id, status=status,
                          waitlisted_at=utcnow() if status == "waitlisted" else None, **values)
    db.session.add(enrolment)
    db.session.commit()
    return enrolment


def _page(client, session) -> str:
    return client.get(f"/training/sessions/{session.id}").get_data(as_text=True)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- a session that took place ------------------------------------------------------------
def test_finished_session_shows_held_and_cannot_be_cancelled(client_as, company, make_session):
    session = _started(make_session, hours_ago=3, hours=2)
    _add(session, company["staff"], attendance="present")
    trainer = client_as("trainer")
    page = _page(trainer, session)
    assert ">Held</span>" in page and ">Scheduled</span>" not in page
    assert "Cancel session" not in page
    response = trainer.post(f"/training/sessions/{session.id}/status/cancel")
    assert response.status_code == 303
    assert "has taken place and cannot be cancelled" in _page(trainer, session)
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).status == "scheduled"
    assert _count(Notification) == 0  # nobody was told it was cancelled


def test_attendance_taken_means_no_cancel_even_while_under_way(client_as, company, make_session):
    session = _started(make_session)
    enrolment = _add(session, company["staff"])
    trainer = client_as("trainer")
    page = _page(trainer, session)
    # Under way, nothing recorded yet: it can still be called off.
    assert ">In progress</span>" in page and "Cancel session" in page
    enrolment.attendance = "late"
    db.session.commit()
    assert "Cancel session" not in _page(trainer, session)
    assert trainer.post(f"/training/sessions/{session.id}/status/cancel").status_code == 303
    assert "Attendance is recorded for this session" in _page(trainer, session)
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).status == "scheduled"


def test_session_before_its_start_still_cancels(client_as, company, make_session):
    session = make_session()
    trainer = client_as("trainer")
    assert ">Scheduled</span>" in _page(trainer, session)
    assert trainer.post(f"/training/sessions/{session.id}/status/cancel").status_code == 302
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).status == "cancelled"


# --- people who came without signing up --------------------------------------------------------
def test_trainer_adds_someone_who_came_without_signing_up(client_as, company, make_session, course):
    session = _started(make_session)
    _add(session, company["staff"])
    trainer = client_as("trainer")
    page = _page(trainer, session)
    assert 'data-testid="walk-in"' in page and "Sign-up is closed." in page
    response = trainer.post(f"/training/sessions/{session.id}/walk-in",
                            data={"user_id": company["staff2"].id, "attendance": "late"})
    assert response.status_code == 302
    walk_in = db.session.scalar(select(Enrolment).where(Enrolment.user_id == company["staff2"].id))
    assert (walk_in.status, walk_in.attendance, walk_in.assigned_by_id) == ("enrolled", "late", company["trainer"].id)
    # Attended a course without a quiz: complete.
    assert db.session.scalar(select(CourseCompletion.course_id).where(
        CourseCompletion.user_id == company["staff2"].id)) == course.id
    assert "is added as attended" in _page(trainer, session)
    assert db.session.scalar(select(AuditEntry.id).where(
        AuditEntry.entity == "training_enrolments", AuditEntry.entity_id == str(walk_in.id),
        AuditEntry.action == "create", AuditEntry.user_id == company["trainer"].id)) is not None


def test_walk_ins_go_over_capacity_and_off_the_waitlist(client_as, company, make_session):
    session = _started(make_session, capacity=1)
    _add(session, company["staff"])
    waiting = _add(session, company["staff2"], status="waitlisted")
    trainer = client_as("trainer")
    assert trainer.post(f"/training/sessions/{session.id}/walk-in",
                        data={"user_id": company["staff2"].id}).status_code == 302
    db.session.expire_all()
    assert (waiting.status, waiting.attendance) == ("enrolled", "present")


def test_regular_sign_up_stays_closed_once_started(client_as, company, make_session):
    session = _started(make_session)
    staff = client_as("staff")
    assert 'data-testid="walk-in"' not in _page(staff, session)
    assert staff.post(f"/training/sessions/{session.id}/enrol").status_code == 303
    assert "already started" in _page(staff, session)
    assert staff.post(f"/training/sessions/{session.id}/walk-in",
                      data={"user_id": company["staff"].id}).status_code == 403
    # a head assigns people of their department, but attendance is the trainer's
    assert client_as("head").post(f"/training/sessions/{session.id}/walk-in",
                                  data={"user_id": company["staff"].id}).status_code == 403
    assert _count(Enrolment) == 0


@pytest.mark.parametrize("data, message", [
    ({"user_id": "abc"}, "Choose a person."),
    ({"user_id": str(10**20)}, "Choose a person."),
    ({"user_id": "STAFF", "attendance": "absent"}, "Unknown attendance mark."),
    ({"user_id": "STAFF", "attendance": "<b>"}, "Unknown attendance mark."),
    ({"user_id": "ENROLLED"}, "is already in the attendance list"),
])
def test_bad_walk_ins_are_refused_with_a_message(client_as, company, make_session, data, message):
    session = _started(make_session)
    _add(session, company["staff2"])
    ids = {"STAFF": str(company["staff"].id), "ENROLLED": str(company["staff2"].id)}
    data = {key: ids.get(value, value) for key, value in data.items()}
    trainer = client_as("trainer")
    assert trainer.post(f"/training/sessions/{session.id}/walk-in", data=data).status_code == 303
    assert message in _page(trainer, session)
    assert _count(Enrolment) == 1


def test_no_walk_ins_before_the_start(client_as, company, make_session):
    session = make_session()
    trainer = client_as("trainer")
    assert 'data-testid="walk-in"' not in _page(trainer, session)
    assert trainer.post(f"/training/sessions/{session.id}/walk-in",
                        data={"user_id": company["staff"].id}).status_code == 303
    assert "added once the session has started" in _page(trainer, session)
    assert _count(Enrolment) == 0


# --- the waitlist by hand -------------------------------------------------------------------------
def test_trainer_moves_someone_up_into_a_free_place(client_as, company, make_session):
    session = make_session(capacity=2)
    _add(session, company["staff"])
    waiting = _add(session, company["staff2"], status="waitlisted")
    trainer = client_as("trainer")
    page = _page(trainer, session)
    assert f"/enrolments/{waiting.id}/promote" in page and "Move up over capacity" not in page
    assert trainer.post(f"/training/sessions/{session.id}/enrolments/{waiting.id}/promote").status_code == 302
    db.session.expire_all()
    assert waiting.status == "enrolled" and waiting.promoted_at is not None
    assert db.session.scalar(select(Notification.event).where(
        Notification.user_id == company["staff2"].id)) == "training.promoted"
    change = db.session.scalar(select(AuditEntry).where(
        AuditEntry.entity == "training_enrolments", AuditEntry.entity_id == str(waiting.id),
        AuditEntry.action == "update"))
    assert change is not None and change.user_id == company["trainer"].id


def test_moving_up_into_a_full_session_needs_confirming(client_as, company, make_session):
    session = make_session(capacity=1)
    _add(session, company["staff"])
    waiting = _add(session, company["staff2"], status="waitlisted")
    trainer = client_as("trainer")
    page = _page(trainer, session)
    assert "Move up over capacity" in page and "The session is full (1 place). Move" in page
    url = f"/training/sessions/{session.id}/enrolments/{waiting.id}/promote"
    assert trainer.post(url).status_code == 303
    assert "Confirm to move" in _page(trainer, session)
    db.session.expire_all()
    assert waiting.status == "waitlisted"
    assert trainer.post(url, data={"over_capacity": "1"}).status_code == 302
    db.session.expire_all()
    assert waiting.status == "enrolled"
    assert db.session.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.status == "enrolled")) == 2


def test_trainer_removes_someone_from_the_waitlist(client_as, company, make_session):
    session = make_session(capacity=1)
    _add(session, company["staff"])
    waiting = _add(session, company["staff2"], status="waitlisted")
    trainer = client_as("trainer")
    assert "Remove from waitlist" in _page(trainer, session)
    assert trainer.post(f"/training/sessions/{session.id}/enrolments/{waiting.id}/remove").status_code == 302
    assert "is removed from the waitlist" in _page(trainer, session)
    db.session.expire_all()
    assert waiting.status == "cancelled" and waiting.cancelled_at is not None
    assert db.session.scalar(select(AuditEntry.id).where(
        AuditEntry.entity == "training_enrolments", AuditEntry.entity_id == str(waiting.id),
        AuditEntry.action == "update")) is not None


def test_waitlist_by_hand_refuses_what_makes_no_sense(client_as, company, make_session, factory):
    session = make_session(capacity=2)
    enrolled = _add(session, company["staff"])
    waiting = _add(session, company["staff2"], status="waitlisted")
    trainer = client_as("trainer")
    url = f"/training/sessions/{session.id}/enrolments/{enrolled.id}/promote"
    assert trainer.post(url).status_code == 303
    assert "is not on the waitlist" in _page(trainer, session)
    # the enrolment must belong to the session in the address
    other = make_session(location="培训室B")
    assert trainer.post(f"/training/sessions/{other.id}/enrolments/{waiting.id}/promote").status_code == 404
    assert client_as("staff").post(
        f"/training/sessions/{session.id}/enrolments/{waiting.id}/promote").status_code == 403
    assert client_as("head").post(
        f"/training/sessions/{session.id}/enrolments/{waiting.id}/promote").status_code == 403
    db.session.expire_all()
    assert waiting.status == "waitlisted"


def test_no_moving_up_once_started(client_as, company, make_session):
    session = _started(make_session, capacity=2)
    waiting = _add(session, company["staff2"], status="waitlisted")
    trainer = client_as("trainer")
    assert f"/enrolments/{waiting.id}/promote" not in _page(trainer, session)
    assert trainer.post(f"/training/sessions/{session.id}/enrolments/{waiting.id}/promote").status_code == 303
    assert "The session has started: add" in _page(trainer, session)
    db.session.expire_all()
    assert waiting.status == "waitlisted"


def test_no_sign_up_or_withdrawal_is_offered_after_its_deadline(client_as, company, make_session):
    from datetime import timedelta

    from rollout.timeutil import utcnow
    session = make_session(capacity=5, signup_deadline_at=utcnow() - timedelta(hours=1))
    page = _page(client_as("staff"), session)
    assert f"/training/sessions/{session.id}/enrol" not in page and "Sign-up is closed." in page
    assert f"/training/sessions/{session.id}/assign" not in _page(client_as("trainer"), session)
    open_session = make_session(capacity=5, cancel_deadline_at=utcnow() - timedelta(hours=1))
    _add(open_session, company["staff"])
    page = _page(client_as("staff"), open_session)
    assert "You are signed up." in page and f"/training/sessions/{open_session.id}/withdraw" not in page
