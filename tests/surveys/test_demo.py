"""The demo leaves staff, rep included, a survey they can answer, and keeps its coverage story."""
from sqlalchemy import select

from rollout.accounts.models import User
from rollout.demo import load_demo
from rollout.extensions import db
from rollout.timeutil import local_today
from surveys import services
from surveys.models import LIKERT
from tests.conftest import english_client, login


def test_the_demo_leaves_an_open_survey_waiting_for_rep(app):
    load_demo(force=True)
    users = {u.username: u for u in db.session.scalars(select(User))}
    waiting = {name: services.invitations_for(users[name]) for name in ("rep", "rep2")}
    # A survey with a Likert matrix (what a phone must show whole), open for days after the demo's day.
    invitation = next(i for i in waiting["rep"] if any(q.type == LIKERT for q in i.survey.questions))
    survey = invitation.survey
    assert services.accepting_answers(survey) and survey.closes_on > local_today()
    assert survey.id in {i.survey_id for i in waiting["rep2"]}
    # Others have answered it already, so its results are not empty.
    assert any(row.responded for row in services.progress(survey))

    # rep finds it on the hub and its link gives the answer form, not "not open".
    client = english_client(app)
    login(client, users["rep"])
    page = client.get("/surveys/")
    assert survey.title in page.text and invitation.token in page.text
    form = client.get(f"/surveys/respond/{invitation.token}")
    assert form.status_code == 200 and 'name="action" value="submit"' in form.text

    # Coverage: 客服部 is the department not heard yet, every other one is.
    matrix = services.coverage_matrix()
    heard = {d.code: all(matrix.cell(d.id, role).is_heard for role in matrix.roles if matrix.cell(d.id, role))
             for d in matrix.departments}
    assert heard == {"sales": True, "marketing": True, "finance": True, "it": True, "service": False}
