"""The training notices name a session's time and place so that both languages read naturally, and join their
sentences as each language writes them."""
import re
from datetime import timedelta

from sqlalchemy import select

from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import utcnow
from training.follow_up import NO_SIGN_UPS, WAITLIST_CLOSED, follow_up_sessions
from training.models import Enrolment


def _full_with_waitlist(company, make_session):
    """A one-seat session: staff has the seat, staff2 waits; sign-up closes tomorrow."""
    session = make_session(capacity=1, days=3)
    session.signup_deadline_at = utcnow() + timedelta(days=1)
    db.session.add_all([Enrolment(session_id=session.id, user_id=company["staff"].id, status="enrolled"),
                        Enrolment(session_id=session.id, user_id=company["staff2"].id, status="waitlisted",
                                  waitlisted_at=utcnow())])
    db.session.commit()
    return session


# --- the notices' wording -------------------------------------------------------------------------
def _notice(user, event):
    return db.session.scalar(select(Notification).where(Notification.user_id == user.id,
                                                        Notification.event == event))


def test_no_sign_ups_notice_names_time_and_place_in_each_language(company, make_session):
    session = make_session(days=1, location="", online_url="https://meeting.example.com/j/80305")
    company["trainer"].locale = "zh_CN"
    db.session.commit()
    assert follow_up_sessions(now=session.starts_at - timedelta(hours=2)).no_sign_ups == 1
    body = _notice(company["trainer"], NO_SIGN_UPS).body_markdown
    assert "时间：" in body and "；地点：https://meeting.example.com/j/80305" in body
    assert "· https://" not in body and "开始" not in body


def test_no_sign_ups_notice_in_english_and_without_a_place(company, make_session):
    company["trainer"].locale = "en"
    with_place = make_session(days=1)
    without = make_session(days=1, location="")
    db.session.commit()
    follow_up_sessions(now=with_place.starts_at - timedelta(hours=2))
    bodies = {n.link: n.body_markdown for n in db.session.scalars(select(Notification).where(
        Notification.user_id == company["trainer"].id, Notification.event == NO_SIGN_UPS))}
    assert " at 培训室A has nobody signed up yet." in bodies[f"/training/sessions/{with_place.id}"]
    assert re.search(r"The session on [\d-]+ [\d:]+–[\d:]+ has nobody signed up yet\.",
                     bodies[f"/training/sessions/{without.id}"])


def test_waitlist_closed_notice_joins_its_sentences_per_language(company, make_session):
    session = _full_with_waitlist(company, make_session)
    company["staff2"].locale = "zh_CN"
    db.session.commit()
    follow_up_sessions(now=session.signup_deadline_at + timedelta(hours=1))
    body = _notice(company["staff2"], WAITLIST_CLOSED).body_markdown
    assert "地点：培训室A" in body and "· 培训室A" not in body
    assert "。目前没有其他可报名的" in body and "。 " not in body


def test_waitlist_closed_notice_in_english_keeps_a_space_between_sentences(company, make_session):
    session = _full_with_waitlist(company, make_session)
    company["staff2"].locale = "en"
    db.session.commit()
    follow_up_sessions(now=session.signup_deadline_at + timedelta(hours=1))
    body = _notice(company["staff2"], WAITLIST_CLOSED).body_markdown
    assert " at 培训室A has closed and no seat came free for you" in body
    assert "get a place. No other session of 报价审批流程 is open" in body
