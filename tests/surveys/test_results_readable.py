"""The results page reads without the chart: every chart is named by its question, its counts are given as
a table, questions and skip rules are shown by their words (not their codes), and a text question says
when only its latest answers are listed."""
import re

from rollout.extensions import db
from surveys import services
from tests.conftest import chinese_client
from tests.surveys.conftest import GOOD_ANSWERS, build_survey


def _answer(survey, people, **changes):
    for invitation in services.invite(survey, people):
        services.submit_response(invitation, {**GOOD_ANSWERS, **changes})
    db.session.commit()


def _card(page: str, name: str) -> str:
    return page.split(f'id="q-{name}"')[1].split('<div class="col-xl-6"')[0]


def test_every_chart_is_named_by_its_question(client_as, company):
    survey = build_survey(company["lead"])
    _answer(survey, [company["staff"], company["staff2"]])
    page = client_as("lead").get(f"/surveys/{survey.id}/results").text
    names = re.findall(r'<svg role="img" aria-label="([^"]*)"', page)
    assert names and "" not in names
    assert "Travel often?" in names and "满意度" in names and "同意吗？" in names


def test_rating_and_choice_counts_are_given_as_text_to_everyone(client_as, company):
    survey = build_survey(company["lead"], departments=[company["departments"]["sales"]])
    _answer(survey, [company["staff"], company["staff2"]], score="5")
    _answer(survey, [company["head"]])
    for reader in ("lead", "head"):
        page = client_as(reader).get(f"/surveys/{survey.id}/results").text
        table = _card(page, "score").split('data-testid="counts-table"')[1].split("</table>")[0]
        rows = re.findall(r"<tr><td>(\d)</td><td class=\"text-end\">(\d+)</td><td class=\"text-end\">(\d+)%</td>", table)
        assert rows == [("1", "0", "0"), ("2", "0", "0"), ("3", "0", "0"), ("4", "1", "33"), ("5", "2", "67")]
        tools = _card(page, "tools").split('data-testid="counts-table"')[1].split("</table>")[0]
        assert "Excel" in tools and "100%" in tools
    # Those who make requirements get the link beside an option.
    assert "option=excel" in client_as("lead").get(f"/surveys/{survey.id}/results").text


def test_questions_and_skip_rules_are_shown_by_their_words(client_as, company):
    survey = build_survey(company["lead"])
    _answer(survey, [company["staff"]])
    page = client_as("lead").get(f"/surveys/{survey.id}/results").text
    answers = page.split("Answers per question")[1]
    assert "<code>" not in answers
    assert 'title="travels"' not in answers and 'title="yes"' not in answers
    assert "“Travel often?”" in _card(page, "mobile")
    # The survey's own page, for those who edit it, still names the codes on hover.
    assert 'title="travels"' in client_as("lead").get(f"/surveys/{survey.id}").text


def test_a_text_question_says_when_only_the_latest_answers_are_listed(client_as, company, factory):
    survey = build_survey(company["lead"])
    people = [factory.user("staff", department=company["departments"]["sales"]) for _ in range(services.TEXT_SAMPLE + 3)]
    db.session.commit()
    for number, person in enumerate(people):
        _answer(survey, [person], mobile=f"需要{number:02d}")
    page = client_as("lead").get(f"/surveys/{survey.id}/results").text
    card = _card(page, "mobile")
    assert "Showing the latest 20 of 23 answers." in card
    assert f"/surveys/{survey.id}/responses.xlsx" in card.split('data-testid="texts-sample"')[1].split("</p>")[0]
    assert "需要22" in card and "需要03" in card and "需要02" not in card
    chinese = chinese_client(_app(client_as), company["lead"])
    assert "23" in _card(chinese.get(f"/surveys/{survey.id}/results").text, "mobile").split("texts-sample")[1][:200]


def test_no_notice_while_every_text_answer_is_listed(client_as, company):
    survey = build_survey(company["lead"])
    _answer(survey, [company["staff"], company["staff2"]])
    assert 'data-testid="texts-sample"' not in client_as("lead").get(f"/surveys/{survey.id}/results").text


def _app(client_as):
    return client_as("lead").application


def test_multiple_choice_shares_are_explained(client_as, company):
    survey = build_survey(company["lead"])
    _answer(survey, [company["staff"]])
    card = _card(client_as("lead").get(f"/surveys/{survey.id}/results").text, "tools")
    assert "the shares add up to more than 100%." in card


def test_every_text_answer_has_a_page_of_its_own(client_as, company, factory):
    survey = build_survey(company["lead"])
    people = [factory.user("staff", department=company["departments"]["sales"]) for _ in range(services.TEXT_SAMPLE + 3)]
    db.session.commit()
    for number, person in enumerate(people):
        _answer(survey, [person], mobile=f"需要{number:02d}")
    mobile = next(q for q in survey.questions if q.name == "mobile")
    client = client_as("lead")
    card = _card(client.get(f"/surveys/{survey.id}/results").text, "mobile")
    link = f"/surveys/{survey.id}/results/{mobile.id}/answers"
    assert link in card and "See all 23 answers" in card
    page = client.get(link).text
    listed = page.split('data-testid="all-answers"')[1].split("</ol>")[0]
    assert all(f"需要{number:02d}" in listed for number in range(23))
    assert listed.index("需要22") < listed.index("需要00")  # newest first
    # Only text questions have such a page, and only within their own survey.
    score = next(q for q in survey.questions if q.name == "score")
    assert client.get(f"/surveys/{survey.id}/results/{score.id}/answers").status_code == 404
    other = build_survey(company["lead"], title="另一份问卷")
    assert client.get(f"/surveys/{other.id}/results/{mobile.id}/answers").status_code == 404
    assert client_as("staff").get(link).status_code == 403


def test_the_page_of_answers_keeps_a_small_anonymous_group_hidden(client_as, company):
    survey = build_survey(company["lead"], anonymous=True,
                          departments=[company["departments"]["sales"], company["departments"]["marketing"]])
    _answer(survey, [company["other_staff"]], mobile="市场的话")
    mobile = next(q for q in survey.questions if q.name == "mobile")
    page = client_as("other_head").get(f"/surveys/{survey.id}/results/{mobile.id}/answers")
    assert page.status_code == 200
    assert "市场的话" not in page.text and 'data-testid="results-withheld"' in page.text
