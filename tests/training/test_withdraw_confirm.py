"""Withdrawing from a session or leaving its waitlist asks first, saying the seat may go to the waitlist."""
import re

import pytest
from sqlalchemy import select

from rollout.extensions import db
from tests.conftest import log_in
from training.models import Enrolment


def _withdraw_form(page: str) -> str:
    return re.search(r'<form method="post" action="/training/sessions/\d+/withdraw"[^>]*>', page).group(0)


@pytest.mark.parametrize("status, wording", [("enrolled", "Your seat may go to the next person on the waitlist"),
                                             ("waitlisted", "You lose your place in the queue")])
def test_withdrawal_asks_for_confirmation(client_as, company, make_session, status, wording):
    session = make_session(capacity=5)
    db.session.add(Enrolment(session_id=session.id, user_id=company["staff"].id, status=status))
    db.session.commit()
    page = client_as("staff").get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert "data-confirm=" in _withdraw_form(page) and wording in _withdraw_form(page)


def test_withdrawal_asks_in_chinese(client_as, company, make_session):
    session = make_session(capacity=5)
    db.session.add(Enrolment(session_id=session.id, user_id=company["staff"].id, status="enrolled"))
    db.session.commit()
    client = client_as("staff")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    page = client.get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert "候补" in _withdraw_form(page)


@pytest.mark.browser
def test_dismissing_the_question_keeps_the_seat(page, live_server, company, make_session):
    session = make_session(capacity=5)
    db.session.add(Enrolment(session_id=session.id, user_id=company["staff"].id, status="enrolled"))
    db.session.commit()
    session_id = session.id
    db.session.close()
    log_in(page, live_server, "staff")
    page.goto(f"{live_server}/training/sessions/{session_id}")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Withdraw").click()
    page.wait_for_timeout(300)
    assert questions and "waitlist" in questions[0]
    assert db.session.scalar(select(Enrolment.status)) == "enrolled"
    db.session.close()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Withdraw").click()
    page.get_by_text("You have withdrawn from the session.").wait_for()
    assert db.session.scalar(select(Enrolment.status)) == "cancelled"
