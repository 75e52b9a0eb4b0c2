"""In a real browser: a button's own confirmation question is asked before its form is sent."""
import pytest

from changes.models import ChangeRequest
from rollout.extensions import db
from tests.conftest import log_in

pytestmark = pytest.mark.browser


def test_cancelling_a_request_asks_first(page, live_server, new_request, make_window):
    make_window(3)
    change_id = new_request().id
    db.session.close()  # hold no read transaction while the server writes
    log_in(page, live_server, "staff")
    page.goto(f"{live_server}/changes/{change_id}")
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.get_by_role("button", name="Cancel request").click()
    page.wait_for_timeout(300)
    assert questions == ["Cancel this request?"]
    assert db.session.get(ChangeRequest, change_id).state == "draft"
    db.session.close()
    page.once("dialog", lambda dialog: answer(dialog, True))
    with page.expect_navigation():
        page.get_by_role("button", name="Cancel request").click()
    assert db.session.get(ChangeRequest, change_id).state == "cancelled"
