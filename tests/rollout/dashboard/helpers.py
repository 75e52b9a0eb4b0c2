"""Set-up the dashboard tests share."""
from datetime import date, datetime, time

from sqlalchemy import insert

from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.timeutil import local_to_utc


def complete_required_training(user, trained_on: date) -> None:
    """One required basic track of one course for staff, completed by ``user`` at 15:00 on ``trained_on``."""
    from training.models import Course, CourseCompletion, Track
    track = Track(name="基础", tier="basic", role="staff", is_required=True)
    db.session.add(track)
    db.session.flush()
    course = Course(track_id=track.id, title="入门", position=1)
    db.session.add(course)
    db.session.flush()
    db.session.add(CourseCompletion(user_id=user.id, course_id=course.id,
                                    completed_at=local_to_utc(datetime.combine(trained_on, time(15)))))


def log_in_on(user, day: date) -> None:
    """A sign-in of ``user`` just after midnight of ``day``, as the audit trail records it."""
    db.session.execute(insert(AuditEntry), [{
        "created_at": local_to_utc(datetime.combine(day, time(0, 1))), "user_id": user.id,
        "username": user.username, "action": "login", "entity": "session", "entity_id": user.username}])
    db.session.commit()
