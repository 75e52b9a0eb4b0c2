"""After a deadline the session page says what it means for the person, instead of a button that vanished."""
from datetime import timedelta

from rollout.extensions import db
from rollout.timeutil import utcnow
from training.models import Enrolment


def test_a_waitlisted_person_is_told_when_sign_up_closed_without_a_seat(client_as, company, make_session):
    session = make_session(capacity=1, days=2)
    db.session.add(Enrolment(session_id=session.id, user_id=company["staff"].id, status="waitlisted"))
    db.session.commit()
    page = client_as("staff").get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert "move up automatically" in page and 'data-testid="waitlist-closed"' not in page
    session.signup_deadline_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    page = client_as("staff").get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert 'data-testid="waitlist-closed"' in page and "move up automatically" not in page
    assert "Leave the waitlist" not in page


def test_after_the_cancellation_deadline_the_page_says_whom_to_ask(client_as, company, make_session):
    session = make_session(days=2)
    db.session.add(Enrolment(session_id=session.id, user_id=company["staff"].id, status="enrolled"))
    db.session.commit()
    page = client_as("staff").get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert "Withdraw" in page and 'data-testid="cancel-closed"' not in page
    session.cancel_deadline_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    page = client_as("staff").get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert "ask the trainer" in page and ">Withdraw<" not in page
