"""What the survey page says after its status changes by hand: a plain sentence in either language."""
from tests.conftest import chinese_client
from tests.surveys.conftest import build_survey


def test_closing_and_reopening_a_survey_say_so_in_a_plain_sentence(app, company, client_as):
    survey = build_survey(company["lead"])
    lead = client_as("lead")
    page = lead.post(f"/surveys/{survey.id}/status", data={"status": "closed"}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "The survey is closed." in text
    assert "now Closed" not in text
    page = lead.post(f"/surveys/{survey.id}/status", data={"status": "open"}, follow_redirects=True)
    assert "The survey is open again." in page.get_data(as_text=True)
    chinese = chinese_client(app, company["lead"])
    page = chinese.post(f"/surveys/{survey.id}/status", data={"status": "closed"}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "问卷已结束。" in text
    assert "问卷状态已变为" not in text


def test_opening_a_draft_says_it_is_open(company, client_as):
    survey = build_survey(company["lead"], departments=[company["departments"]["sales"]], roles=["staff"],
                          open_it=False)
    page = client_as("lead").post(f"/surveys/{survey.id}/status", data={"status": "open"}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "The survey is open." in text and "2 invitations sent." in text


def test_an_unknown_status_is_refused_without_a_message_of_success(company, client_as):
    survey = build_survey(company["lead"])
    page = client_as("lead").post(f"/surveys/{survey.id}/status", data={"status": "archived"}, follow_redirects=True)
    assert page.status_code < 500
    assert "The survey is closed." not in page.get_data(as_text=True)
