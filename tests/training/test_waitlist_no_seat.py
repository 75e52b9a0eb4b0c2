"""A waitlisted person once sign-up has closed without a seat: their calendar drops the session, My training and the
session page say "No seat (sign-up closed)" and offer no calendar entry."""
import re
from datetime import timedelta

from sqlalchemy import select

from rollout.extensions import db
from rollout.reports.calendar import build_calendar
from rollout.timeutil import utcnow
from tests.conftest import chinese_client
from training.enrolment import NO_SEAT, feed_items, promote, shown_status
from training.models import Enrolment


def _enrol(session, user, status):
    enrolment = Enrolment(session_id=session.id, user_id=user.id, status=status,
                          waitlisted_at=utcnow() if status == "waitlisted" else None)
    db.session.add(enrolment)
    db.session.commit()
    return enrolment


def _full_with_waitlist(company, make_session, closed=True, **values):
    """A one-seat session: staff has the seat, staff2 waits; its sign-up closed an hour ago (or closes tomorrow)."""
    session = make_session(capacity=1, days=3, **values)
    session.signup_deadline_at = utcnow() + (timedelta(hours=-1) if closed else timedelta(days=1))
    db.session.commit()
    _enrol(session, company["staff"], "enrolled")
    waiting = _enrol(session, company["staff2"], "waitlisted")
    return session, waiting


def _event(feed: str, session) -> str:
    """The VEVENT of ``session`` in an .ics text, unfolded."""
    feed = feed.replace("\r\n ", "")
    match = re.search(r"BEGIN:VEVENT\r\n(?:(?!END:VEVENT).)*?UID:training-session-%d@rollout-desk.*?END:VEVENT"
                      % session.id, feed, re.S)
    assert match, feed
    return match.group(0)


# --- the calendar feed -------------------------------------------------------------------------------
def test_feed_cancels_the_session_for_whoever_waited_when_sign_up_closed(client_as, company, make_session):
    session, _ = _full_with_waitlist(company, make_session)
    waiting = _event(client_as("staff2").get("/training/calendar.ics").get_data(as_text=True), session)
    # One higher than the session's own sequence, so calendar programs take the cancellation.
    assert "STATUS:CANCELLED" in waiting and "SEQUENCE:1" in waiting
    seated = _event(client_as("staff").get("/training/calendar.ics").get_data(as_text=True), session)
    assert "STATUS:CONFIRMED" in seated and "SEQUENCE:0" in seated
    trainer = _event(client_as("trainer").get("/training/calendar.ics").get_data(as_text=True), session)
    assert "STATUS:CONFIRMED" in trainer


def test_feed_keeps_the_session_while_a_seat_may_still_come(company, make_session):
    session, _ = _full_with_waitlist(company, make_session, closed=False)
    [item] = feed_items(company["staff2"])
    assert not item.is_cancelled and item.sequence == 0
    assert item.is_tentative and b"STATUS:TENTATIVE" in build_calendar([item], "培训")
    # The moment sign-up closes it turns cancelled, and so it stays.
    for later in (session.signup_deadline_at + timedelta(minutes=1), session.starts_at + timedelta(hours=1)):
        [item] = feed_items(company["staff2"], now=later)
        assert item.is_cancelled and item.sequence == 1


def test_moved_in_by_hand_after_sign_up_closed_the_session_comes_back_with_a_higher_sequence(
        company, make_session):
    session, waiting = _full_with_waitlist(company, make_session)
    [item] = feed_items(company["staff2"])
    assert item.is_cancelled and item.sequence == 1
    promote(waiting, over_capacity=True)
    db.session.commit()
    [item] = feed_items(company["staff2"])
    assert not item.is_cancelled and item.sequence == 2


def test_shown_status(company, make_session):
    session, waiting = _full_with_waitlist(company, make_session, closed=False)
    assert shown_status(waiting) == "waitlisted"
    assert shown_status(waiting, now=session.signup_deadline_at + timedelta(seconds=1)) == NO_SEAT
    seated = db.session.scalar(select(Enrolment).where(Enrolment.user_id == company["staff"].id))
    assert shown_status(seated, now=session.starts_at - timedelta(minutes=1)) == "enrolled"


# --- pages ---------------------------------------------------------------------------------------
def test_my_training_and_the_session_page_say_no_seat_without_a_calendar_entry(app, client_as, company,
                                                                                make_session):
    session, _ = _full_with_waitlist(company, make_session)
    client = client_as("staff2")
    home = client.get("/training/").get_data(as_text=True)
    assert "No seat (sign-up closed)" in home and ">Waitlisted<" not in home
    page = client.get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert 'data-testid="my-place">No seat (sign-up closed)<' in page
    assert "Add to calendar (.ics)" not in page
    chinese = chinese_client(app, company["staff2"])
    assert "未获名额（报名已截止）" in chinese.get("/training/").get_data(as_text=True)
    page = chinese.get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert "未获名额（报名已截止）" in page and "加入日历" not in page
    # the person with the seat, and anyone else, still has the calendar entry
    page = client_as("staff").get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert "Add to calendar (.ics)" in page and "No seat" not in page


def test_while_sign_up_is_open_the_waitlisted_person_reads_waitlisted(client_as, company, make_session):
    session, _ = _full_with_waitlist(company, make_session, closed=False)
    client = client_as("staff2")
    assert "Waitlisted" in client.get("/training/").get_data(as_text=True)
    page = client.get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert "No seat" not in page and "Add to calendar (.ics)" in page


def test_my_training_reads_each_place_in_a_fixed_number_of_statements(client_as, company, make_session,
                                                                      count_statements):
    client = client_as("staff2")
    _full_with_waitlist(company, make_session)
    with count_statements() as one:
        assert client.get("/training/").status_code == 200
    for days in (4, 5, 6):
        other = make_session(capacity=1, days=days, location=f"培训室{days}")
        _enrol(other, company["staff"], "enrolled")
        _enrol(other, company["staff2"], "waitlisted")
    with count_statements() as many:
        assert "No seat (sign-up closed)" in client.get("/training/").get_data(as_text=True)
    assert many.count == one.count


def test_the_sessions_list_tells_a_seat_from_a_place_on_the_waitlist(client_as, company, make_session):
    session, _ = _full_with_waitlist(company, make_session, closed=False)

    def row(who):
        page = client_as(who).get("/training/sessions").get_data(as_text=True)
        return page.split(f'/training/sessions/{session.id}"', 1)[1].split("</tr>", 1)[0]

    assert ">Signed up<" in row("staff") and ">Waitlisted<" not in row("staff")
    assert ">Waitlisted<" in row("staff2") and ">Signed up<" not in row("staff2")
