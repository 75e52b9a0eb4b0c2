"""Readiness and adoption count "trained" the same way: every course of each required track done, trained on
the day of the last one; both pages say so."""
from datetime import datetime, time, timedelta

import pytest

from rollout.dashboard import services
from rollout.extensions import db
from rollout.timeutil import local_to_utc
from tests.rollout.dashboard.dates import today


@pytest.fixture
def two_courses(company):
    """A required staff track of two courses for 销售部; staff did the first three weeks ago."""
    pytest.importorskip("training.models")
    from training.models import Course, CourseCompletion, Track
    track = Track(name="销售代表-基础", tier="basic", role="staff", department=company["departments"]["sales"])
    first, second = Course(track=track, position=1, title="登录"), Course(track=track, position=2, title="录入跟进")
    db.session.add_all([track, first, second])
    db.session.flush()
    monday = today() - timedelta(days=today().weekday())
    db.session.add(CourseCompletion(user_id=company["staff"].id, course_id=first.id,
                                    completed_at=local_to_utc(datetime.combine(monday - timedelta(weeks=3), time(15)))))
    db.session.commit()
    return {"first": first, "second": second, "monday": monday}


def _figures(company):
    sales = company["departments"]["sales"]
    training = next(item for item in services.readiness({sales.id})[0].items if item.key == "training")
    reps = {rep.user_id: rep.trained_on for rep in services.adoption({sales.id}).departments[0].reps}
    return training.detail, reps


def test_one_course_of_two_is_not_trained_on_either_page(company, two_courses):
    detail, reps = _figures(company)
    assert detail == "0 of 2 people trained (0%)"
    # Before, adoption took the first completed course as the training day.
    assert reps[company["staff"].id] is None and reps[company["staff2"].id] is None


def test_the_last_course_makes_a_person_trained_on_both_pages_on_its_day(company, two_courses):
    from training.models import CourseCompletion
    last_day = two_courses["monday"] - timedelta(weeks=1)
    db.session.add(CourseCompletion(user_id=company["staff"].id, course_id=two_courses["second"].id,
                                    completed_at=local_to_utc(datetime.combine(last_day, time(7, 0)))))
    db.session.commit()
    detail, reps = _figures(company)
    assert detail == "1 of 2 people trained (50%)"
    # The local day (07:00 in the display zone is the evening before in UTC), not the UTC one.
    assert reps[company["staff"].id] == last_day and reps[company["staff2"].id] is None


def test_optional_tracks_do_not_make_anyone_trained(company, two_courses):
    from training.models import Course, CourseCompletion, Track
    optional = Track(name="选修", tier="basic", role="staff", is_required=False)
    extra = Course(track=optional, position=1, title="选修课")
    db.session.add_all([optional, extra])
    db.session.flush()
    db.session.add(CourseCompletion(user_id=company["staff2"].id, course_id=extra.id))
    db.session.commit()
    detail, reps = _figures(company)
    assert detail == "0 of 2 people trained (0%)" and reps[company["staff2"].id] is None


def test_pages_say_what_counts_as_trained(company, client_as, two_courses):
    sales = company["departments"]["sales"]
    for path in ("/rollout/", "/rollout/adoption", f"/rollout/adoption/{sales.id}"):
        page = client_as("lead").get(path).get_data(as_text=True)
        assert 'data-testid="trained-definition"' in page, path
        assert "has completed every course of each required track" in page, path
    adoption = client_as("lead").get("/rollout/adoption").get_data(as_text=True)
    assert "first completed course" not in adoption


def test_adoption_statement_count_does_not_grow_with_trained_people(company, factory, two_courses, count_statements):
    from training.models import CourseCompletion
    sales = company["departments"]["sales"]
    db.session.commit()
    with count_statements() as small:
        services.adoption({sales.id})
    for n in range(5):
        rep = factory.user("staff", department=company["departments"]["sales1"])
        db.session.add_all([CourseCompletion(user_id=rep.id, course_id=two_courses[key].id)
                            for key in ("first", "second")])
    db.session.commit()
    with count_statements() as large:
        data = services.adoption({sales.id})
    assert large.count == small.count
    assert sum(1 for rep in data.departments[0].reps if rep.trained_on) == 5
