"""Time-driven follow-through of `rollout training remind`: attendance left unrecorded, the waitlist when sign-up
closes, a session nobody signed up for. Each notice goes once, however often the job runs."""
from datetime import timedelta

import pytest

from sqlalchemy import select

from rollout.audit.services import acting_as
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import utcnow
from training import follow_up
from training.follow_up import ATTENDANCE_DUE, ATTENDANCE_STILL_DUE, NO_SIGN_UPS, WAITLIST_CLOSED, follow_up_sessions
from training.models import Enrolment


@pytest.fixture(autouse=True)
def english_readers(company):
    """The texts asserted below are the English ones (the company's default is Chinese)."""
    for user in company["users"].values():
        user.locale = "en"
    db.session.commit()


def _notices(user, event=None):
    query = select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    if event:
        query = query.where(Notification.event == event)
    return db.session.scalars(query).all()


def _enrol(session, *users, status="enrolled", attendance=None):
    for user in users:
        db.session.add(Enrolment(session_id=session.id, user_id=user.id, status=status, attendance=attendance,
                                 waitlisted_at=utcnow() if status == "waitlisted" else None))
    db.session.commit()


# --- attendance --------------------------------------------------------------------------------------
def test_trainer_and_the_lead_who_scheduled_it_are_prompted_once_then_once_more(company, make_session):
    with acting_as(company["lead"]):
        session = make_session(days=2)
    _enrol(session, company["staff"])
    _enrol(session, company["staff2"], attendance="present")
    ended = session.ends_at + timedelta(hours=1)

    counts = follow_up_sessions(now=ended)
    assert (counts.attendance, counts.attendance_again) == (2, 0)
    [notice] = _notices(company["trainer"], ATTENDANCE_DUE)
    assert notice.link == f"/training/sessions/{session.id}#attendance"
    assert "报价审批实操" in notice.subject
    # the trainer reads why it matters: the course's completion waits on the marks
    assert "1 of its 2 participants" in notice.body_markdown and "报价审批流程" in notice.body_markdown
    assert "present or late" in notice.body_markdown
    assert len(_notices(company["lead"], ATTENDANCE_DUE)) == 1
    assert not _notices(company["staff"]) and not _notices(company["admin"])

    # twice a day, and the next days: nobody is told again until the reminder is due
    for later in (ended, ended + timedelta(hours=12), ended + timedelta(days=2, hours=23)):
        counts = follow_up_sessions(now=later)
        assert (counts.attendance, counts.attendance_again) == (0, 0)
    counts = follow_up_sessions(now=ended + timedelta(days=3))
    assert (counts.attendance, counts.attendance_again) == (0, 2)
    [again] = _notices(company["trainer"], ATTENDANCE_STILL_DUE)
    assert again.link == notice.link and "still" in again.body_markdown
    for later in (ended + timedelta(days=3, hours=12), ended + timedelta(days=9)):
        counts = follow_up_sessions(now=later)
        assert (counts.attendance, counts.attendance_again) == (0, 0)
    assert len(_notices(company["trainer"])) == 2


def test_recording_attendance_stops_the_reminder(company, make_session):
    session = make_session(days=2)
    _enrol(session, company["staff"])
    ended = session.ends_at + timedelta(hours=1)
    assert follow_up_sessions(now=ended).attendance == 1
    db.session.scalar(select(Enrolment).where(Enrolment.session_id == session.id)).attendance = "absent"
    db.session.commit()
    assert follow_up_sessions(now=ended + timedelta(days=4)).attendance_again == 0
    assert not _notices(company["trainer"], ATTENDANCE_STILL_DUE)


def test_no_prompt_for_cancelled_or_recorded_or_empty_or_running_or_old_sessions(company, make_session):
    cancelled = make_session(days=2, status="cancelled")
    recorded = make_session(days=2, location="培训室B")
    empty = make_session(days=2, location="培训室C")
    old = make_session(days=-30, location="培训室D")
    _enrol(cancelled, company["staff"])
    _enrol(recorded, company["staff"], company["staff2"], attendance="late")
    _enrol(old, company["staff"])
    running = make_session(days=2, location="培训室E")
    _enrol(running, company["staff"])
    now = recorded.ends_at + timedelta(minutes=1)
    running.starts_at, running.ends_at = now - timedelta(hours=1), now + timedelta(hours=1)
    db.session.commit()
    assert follow_up_sessions(now=now).attendance == 0
    assert not _notices(company["trainer"])
    assert empty.id  # nobody signed up: nothing to mark


def test_an_owner_who_no_longer_manages_training_and_an_inactive_trainer_are_left_out(company, make_session):
    with acting_as(company["head"]):  # a head may not take attendance
        session = make_session(days=2)
    _enrol(session, company["staff"])
    company["trainer"].is_active_account = False
    db.session.commit()
    assert follow_up_sessions(now=session.ends_at + timedelta(hours=1)).attendance == 0
    assert not _notices(company["head"]) and not _notices(company["trainer"])


def test_the_owner_is_whoever_scheduled_the_draft(company, make_session):
    from training.services import transition_session
    with acting_as(company["admin"]):
        session = make_session(days=2, status="draft")
    with acting_as(company["lead"]):
        transition_session(session, "schedule")
        db.session.commit()
    assert follow_up.session_owners([session.id]) == {session.id: company["lead"].id}


def test_a_session_without_course_asks_to_record_who_came_in_each_readers_language(company, make_session):
    with acting_as(company["lead"]):
        session = make_session(days=2)
    session.course = None
    company["trainer"].locale, company["lead"].locale = "zh_CN", "en"
    _enrol(session, company["staff"])
    follow_up_sessions(now=session.ends_at + timedelta(hours=1))
    [chinese] = _notices(company["trainer"], ATTENDANCE_DUE)
    assert chinese.subject == "请记录出勤：报价审批实操" and "报价审批流程" not in chinese.body_markdown
    assert "尚未记录出勤" in chinese.body_markdown
    # The time and place sit in brackets after "the session", not mid-sentence before 的场次.
    assert chinese.body_markdown.startswith("该场次（") and "培训室A）已结束" in chinese.body_markdown
    [english] = _notices(company["lead"], ATTENDANCE_DUE)
    assert english.subject == "Record attendance: 报价审批实操" and "Record who came" in english.body_markdown
    assert english.body_markdown.startswith("The session (") and "培训室A) has ended" in english.body_markdown


# --- the waitlist when sign-up closes ---------------------------------------------------------------
def _full_session_with_waitlist(company, make_session, **values):
    session = make_session(capacity=1, days=3, **values)
    session.signup_deadline_at = session.starts_at - timedelta(days=1)
    _enrol(session, company["staff"])
    _enrol(session, company["staff2"], status="waitlisted")
    return session


def test_people_still_waiting_when_sign_up_closes_are_told_once_with_other_sessions(company, make_session):
    session = _full_session_with_waitlist(company, make_session)
    later = make_session(capacity=3, days=6, title="报价审批实操（加场）", location="培训室B")
    full = make_session(capacity=1, days=8, title="报价审批实操（周末）", location="培训室C")
    _enrol(full, company["other_staff"])
    joined = make_session(capacity=5, days=9, title="已报名场次", location="培训室D")
    _enrol(joined, company["staff2"], status="waitlisted")
    closed = session.signup_deadline_at + timedelta(hours=1)

    assert follow_up_sessions(now=session.signup_deadline_at - timedelta(minutes=1)).waitlist_closed == 0
    assert follow_up_sessions(now=closed).waitlist_closed == 1
    [notice] = _notices(company["staff2"], WAITLIST_CLOSED)
    assert notice.link == f"/training/sessions/{session.id}"
    assert "no seat came free" in notice.body_markdown
    assert "报价审批实操（加场）" in notice.body_markdown and "3 seats free" in notice.body_markdown
    assert "报价审批实操（周末）" in notice.body_markdown and "full: waitlist only" in notice.body_markdown
    assert "已报名场次" not in notice.body_markdown  # already waiting there
    assert later.id and not _notices(company["staff"], WAITLIST_CLOSED)  # the one with a seat hears nothing
    for run in (closed, closed + timedelta(hours=12), session.starts_at + timedelta(hours=1)):
        assert follow_up_sessions(now=run).waitlist_closed == 0
    assert len(_notices(company["staff2"], WAITLIST_CLOSED)) == 1


def test_without_a_deadline_sign_up_closes_at_the_start_and_without_other_sessions_they_are_told_so(
        company, make_session):
    session = make_session(capacity=1, days=3)
    _enrol(session, company["staff"])
    _enrol(session, company["staff2"], status="waitlisted")
    assert follow_up_sessions(now=session.starts_at - timedelta(hours=1)).waitlist_closed == 0
    assert follow_up_sessions(now=session.starts_at + timedelta(minutes=5)).waitlist_closed == 1
    [notice] = _notices(company["staff2"], WAITLIST_CLOSED)
    assert "No other session of 报价审批流程 is open" in notice.body_markdown


def test_only_sessions_a_person_may_join_are_named(company, make_session):
    session = _full_session_with_waitlist(company, make_session)
    finance_only = make_session(capacity=5, days=6, title="财务专场", location="培训室B", is_audience_only=True)
    finance_only.departments = [company["departments"]["finance"]]
    cancelled = make_session(capacity=5, days=6, title="已取消", location="培训室C", status="cancelled")
    db.session.commit()
    follow_up_sessions(now=session.signup_deadline_at + timedelta(hours=1))
    [notice] = _notices(company["staff2"], WAITLIST_CLOSED)
    assert "财务专场" not in notice.body_markdown and cancelled.title not in notice.body_markdown
    assert "No other session" in notice.body_markdown


def test_a_cancelled_session_or_one_long_closed_tells_nobody(company, make_session):
    session = _full_session_with_waitlist(company, make_session)
    assert follow_up_sessions(now=session.signup_deadline_at + timedelta(days=20)).waitlist_closed == 0
    session.status = "cancelled"
    db.session.commit()
    assert follow_up_sessions(now=session.signup_deadline_at + timedelta(hours=1)).waitlist_closed == 0


def test_the_session_page_names_the_other_sessions_once_sign_up_closed(client_as, company, make_session):
    session = make_session(capacity=1, days=2)
    _enrol(session, company["staff"])
    _enrol(session, company["staff2"], status="waitlisted")
    other = make_session(capacity=4, days=5, title="报价审批实操（加场）", location="培训室B")
    session.signup_deadline_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    page = client_as("staff2").get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert 'data-testid="other-sessions"' in page and f"/training/sessions/{other.id}" in page
    assert 'id="attendance"' in page


# --- nobody signed up --------------------------------------------------------------------------------
def test_the_trainer_hears_once_of_a_session_starting_soon_with_nobody_signed_up(company, make_session):
    empty = make_session(days=3)
    taken = make_session(days=3, location="培训室B")
    _enrol(taken, company["staff"])
    assert follow_up_sessions(now=empty.starts_at - timedelta(hours=49)).no_sign_ups == 0
    assert follow_up_sessions(now=empty.starts_at - timedelta(hours=47)).no_sign_ups == 1
    assert follow_up_sessions(now=empty.starts_at - timedelta(hours=2)).no_sign_ups == 0
    [notice] = _notices(company["trainer"], NO_SIGN_UPS)
    assert notice.link == f"/training/sessions/{empty.id}" and "has nobody signed up yet" in notice.body_markdown


# --- the job -----------------------------------------------------------------------------------------
def test_remind_command_reports_the_follow_ups_and_tells_nobody_twice(runner, company, make_session):
    session = make_session(days=2)
    _enrol(session, company["staff"])
    session.starts_at, session.ends_at = utcnow() - timedelta(hours=3), utcnow() - timedelta(hours=1)
    db.session.commit()
    first = runner.invoke(args=["training", "remind"])
    assert first.exit_code == 0, first.output
    assert "Attendance to record: 1 prompt(s)" in first.output
    again = runner.invoke(args=["training", "remind"])
    assert "Attendance to record: 0 prompt(s), 0 second prompt(s); 0 waitlisted" in again.output
    assert len(_notices(company["trainer"], ATTENDANCE_DUE)) == 1
