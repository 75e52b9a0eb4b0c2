"""Fixtures for training tests: a track with a course, and sessions built directly."""
from datetime import timedelta

import pytest

from rollout.extensions import db
from rollout.timeutil import utcnow
from training.models import Course, Track, TrainingSession


@pytest.fixture
def course(company):
    track = Track(name="销售代表-基础", tier="basic", role="staff", department=company["departments"]["sales"],
                  due_days_before_go_live=7, seed_lead_days=7)
    course = Course(track=track, position=1, title="报价审批流程", duration_minutes=60)
    db.session.add_all([track, course])
    db.session.commit()
    return course


@pytest.fixture
def make_session(company, course):
    def make(capacity=2, days=3, commit=True, **values):
        starts = utcnow().replace(microsecond=0, second=0) + timedelta(days=days)
        session = TrainingSession(course=course, title=values.pop("title", "报价审批实操"), kind="hands_on",
                                  status=values.pop("status", "scheduled"), trainer=company["trainer"],
                                  starts_at=starts, ends_at=starts + timedelta(hours=2),
                                  location=values.pop("location", "培训室A"), capacity=capacity, **values)
        db.session.add(session)
        if commit:
            db.session.commit()
        return session
    return make
