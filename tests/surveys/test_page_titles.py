"""An edit page is titled apart from the page it edits; a question form names its survey."""
import re

from surveys import services
from tests.surveys.conftest import build_survey


def _title(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return re.search(r"<title>(.*?)</title>", response.text, re.S).group(1).strip()


def test_edit_pages_are_titled_apart(client_as, company):
    survey = build_survey(company["lead"], open_it=False)
    requirement = services.create_requirement("导出 Excel")
    from rollout.extensions import db
    db.session.commit()
    client = client_as("lead")
    for shown, edit in ((f"/surveys/{survey.id}", f"/surveys/{survey.id}/edit"),
                        (f"/surveys/requirements/{requirement.id}", f"/surveys/requirements/{requirement.id}/edit")):
        assert _title(client, shown) != _title(client, edit) and _title(client, edit).startswith("Edit: ")
    question = survey.questions[0]
    assert _title(client, f"/surveys/{survey.id}/questions/{question.id}").startswith("Edit question · 需求调研")
    assert _title(client, f"/surveys/{survey.id}/questions/new").startswith("New question · 需求调研")
