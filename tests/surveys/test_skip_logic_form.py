"""The answer form without JavaScript: each conditional question carries its rule for the browser and
the "shown only if" note for the reader, and the server enforces the rule whatever is posted."""
import json
import re

from sqlalchemy import select

from rollout.extensions import db
from surveys import services
from surveys.models import SurveyResponse
from tests.surveys.conftest import build_survey


def test_conditional_question_carries_its_rule_and_note(client, company):
    survey = build_survey(company["lead"])
    invitation = services.invite(survey, [company["staff"]], send=False)[0]
    db.session.commit()
    page = client.get(f"/surveys/respond/{invitation.token}").get_data(as_text=True)
    assert "data-skip-logic" in page
    block = re.search(r'<div class="mb-4" id="q_mobile"[^>]*>', page).group(0)
    rules = json.loads(re.search(r"data-conditions='([^']*)'", block).group(1))
    assert rules == [{"question": "travels", "op": "equals", "value": "yes"}]
    assert 'data-join="and"' in block and 'data-type="text"' in block
    assert "data-conditions" not in re.search(r'<div class="mb-4" id="q_travels"[^>]*>', page).group(0)
    # The note stays in the page for readers without JavaScript.
    assert "data-skip-note" in page and "Shown only if" in page


def test_server_drops_an_answer_to_a_hidden_question(client, company):
    survey = build_survey(company["lead"])
    invitation = services.invite(survey, [company["staff"]], send=False)[0]
    db.session.commit()
    response = client.post(f"/surveys/respond/{invitation.token}", data={
        "q_travels": "no", "q_mobile": "不该保存", "q_score": "3", "q_rank__x": "1", "q_rank__y": "2",
        "q_rank__z": "3"})
    assert response.status_code == 200 and 'data-testid="thanks"' in response.get_data(as_text=True)
    stored = db.session.scalars(select(SurveyResponse)).one()
    assert "mobile" not in {answer.question.name for answer in stored.answers}
