"""Attending an after-change session counts: each person it is for is trained on the change or still needs
it, on the session's page and on the release's."""
from datetime import timedelta
from types import SimpleNamespace

import pytest

from rollout.extensions import db
from rollout.timeutil import utcnow
from training import services
from training.models import Enrolment, TrainingSession


@pytest.fixture
def after_change(company):
    """A held after-change session of release 77 for 销售部 staff: staff attended, staff2 was absent."""
    starts = utcnow().replace(microsecond=0) - timedelta(hours=3)
    session = TrainingSession(title="变更培训：V1.2", kind="lecture", status="scheduled", capacity=30,
                              trainer=company["trainer"], starts_at=starts, ends_at=starts + timedelta(hours=1),
                              target_roles="staff", release_id=77, departments=[company["departments"]["sales"]])
    db.session.add(session)
    db.session.flush()
    db.session.add_all([Enrolment(session_id=session.id, user_id=company["staff"].id, status="enrolled",
                                  attendance="present"),
                        Enrolment(session_id=session.id, user_id=company["staff2"].id, status="enrolled",
                                  attendance="absent")])
    db.session.commit()
    return session


def test_attendance_makes_people_trained_on_the_change(company, after_change):
    figures = services.after_change_training(after_change)
    assert [user.username for user, _at in figures.trained] == ["staff"]
    assert figures.trained[0][1] == after_change.starts_at
    assert [user.username for user in figures.to_train] == ["staff2"]  # absent does not count
    assert figures.total == 2  # 市场部 staff are not whom it is for


def test_a_second_session_of_the_release_trains_those_who_missed_the_first(company, after_change):
    again = TrainingSession(title="补训", kind="lecture", status="scheduled", capacity=5, release_id=77,
                            starts_at=after_change.starts_at + timedelta(hours=2),
                            ends_at=after_change.starts_at + timedelta(hours=3))
    db.session.add(again)
    db.session.flush()
    db.session.add(Enrolment(session_id=again.id, user_id=company["staff2"].id, status="enrolled", attendance="late"))
    db.session.commit()
    figures = services.after_change_training(after_change)
    assert {user.username for user, _at in figures.trained} == {"staff", "staff2"} and figures.to_train == []


def test_release_page_link_says_how_many_are_trained(company, after_change):
    [(label, url)] = services.release_sessions(SimpleNamespace(id=77))
    assert "1 of 2 people trained" in label and url == f"/training/sessions/{after_change.id}"


def test_course_sessions_and_sessions_for_nobody_have_no_such_figures(company, make_session, after_change):
    assert services.after_change_training(make_session()) is None  # attending completes the course instead
    open_to_all = TrainingSession(title="答疑", kind="qa", status="draft", capacity=5, release_id=78)
    db.session.add(open_to_all)
    db.session.commit()
    assert services.after_change_training(open_to_all) is None


def test_session_page_lists_who_still_needs_it(company, client_as, after_change):
    page = client_as("trainer").get(f"/training/sessions/{after_change.id}").get_data(as_text=True)
    block = page.split('data-testid="trained-on-change"')[1]
    assert "1 of the 2 people this training is for attended it." in block
    to_train = block.split('data-testid="to-train"')[1].split("</ul>")[0]
    assert company["staff2"].display_name in to_train and company["staff"].display_name not in to_train
    # A head sees the people of their department; another department's head and staff see no such list.
    assert 'data-testid="trained-on-change"' in client_as("head").get(
        f"/training/sessions/{after_change.id}").get_data(as_text=True)
    for who in ("other_head", "staff"):
        page = client_as(who).get(f"/training/sessions/{after_change.id}").get_data(as_text=True)
        assert 'data-testid="trained-on-change"' not in page, who


def test_session_page_statements_do_not_grow_with_the_audience(company, client_as, factory, after_change,
                                                              count_statements):
    client = client_as("trainer")
    client.get(f"/training/sessions/{after_change.id}")
    with count_statements() as small:
        client.get(f"/training/sessions/{after_change.id}")
    for n in range(6):
        factory.user("staff", department=company["departments"]["sales1"])
    db.session.commit()
    client.get(f"/training/sessions/{after_change.id}")
    with count_statements() as large:
        page = client.get(f"/training/sessions/{after_change.id}").get_data(as_text=True)
    assert "1 of the 8 people this training is for attended it." in page
    assert large.count == small.count
