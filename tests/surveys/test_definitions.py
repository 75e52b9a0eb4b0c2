"""Survey definitions: skip-logic validation, editing rules once answers exist, versions."""
import pytest

from rollout.errors import ServiceError
from rollout.extensions import db
from surveys import services
from surveys.models import SINGLE, TEXT, Question, Survey
from surveys.services import OptionSpec
from tests.surveys.conftest import GOOD_ANSWERS, build_survey


def _answer_once(survey, user):
    invitation = services.invite(survey, [user])[0]
    services.submit_response(invitation, GOOD_ANSWERS)
    db.session.commit()


def test_condition_may_only_refer_to_an_earlier_question(company):
    survey = build_survey(company["lead"], open_it=False)
    first = survey.questions[0]
    with pytest.raises(ServiceError, match="earlier question"):
        services.save_question(survey, first, name=first.name, type=SINGLE, label=first.label,
                               options=first.choices, conditions=[{"question": "score", "op": "equals", "value": "3"}])
    with pytest.raises(ServiceError, match="unknown question"):
        services.save_question(survey, name="later", type=TEXT, label="x",
                               conditions=[{"question": "nope", "op": "equals", "value": "3"}])


def test_condition_value_must_be_an_option_of_a_choice_question(company):
    survey = build_survey(company["lead"], open_it=False)
    with pytest.raises(ServiceError, match="no option maybe"):
        services.save_question(survey, name="later", type=TEXT, label="x",
                               conditions=[{"question": "travels", "op": "equals", "value": "maybe"}])


def test_choice_questions_need_two_options_with_unique_values(company):
    survey = build_survey(company["lead"], open_it=False)
    with pytest.raises(ServiceError, match="at least two"):
        services.save_question(survey, name="lonely", type=SINGLE, label="x", options=[OptionSpec("a", "A")])
    with pytest.raises(ServiceError, match="unique"):
        services.save_question(survey, name="twice", type=SINGLE, label="x",
                               options=[OptionSpec("a", "A"), OptionSpec("a", "B")])


def test_answered_survey_keeps_question_types_and_questions(company):
    survey = build_survey(company["lead"])
    _answer_once(survey, company["staff"])
    question = survey.questions[0]
    with pytest.raises(ServiceError, match="type cannot change"):
        services.save_question(survey, question, name=question.name, type=TEXT, label=question.label)
    with pytest.raises(ServiceError, match="options cannot be removed"):
        services.save_question(survey, question, name=question.name, type=SINGLE, label=question.label,
                               options=[OptionSpec("yes", "是"), OptionSpec("maybe", "也许")])
    with pytest.raises(ServiceError, match="cannot be removed"):
        services.delete_question(survey.questions[-1])
    db.session.rollback()
    # Rewording is fine.
    services.save_question(survey, question, name=question.name, type=SINGLE, label="您经常出差吗？",
                           options=question.choices)
    db.session.commit()
    assert db.session.get(Question, question.id).label == "您经常出差吗？"


def test_new_version_is_a_free_draft_copy(company):
    survey = build_survey(company["lead"])
    _answer_once(survey, company["staff"])
    copy = services.new_version(survey, company["lead"])
    db.session.commit()
    assert (copy.version, copy.previous_version_id, copy.status) == (2, survey.id, "draft")
    assert [q.name for q in copy.questions] == [q.name for q in survey.questions]
    assert copy.questions[1].conditions == survey.questions[1].conditions
    services.delete_question(copy.questions[-1])
    services.save_question(copy, copy.questions[2], name="tools", type=TEXT, label="工具")
    db.session.commit()
    assert db.session.get(Survey, survey.id).questions[2].type == "multiple"


def test_status_machine_refuses_unknown_moves(company):
    survey = build_survey(company["lead"], open_it=False)
    with pytest.raises(ServiceError, match="cannot go from Draft to Closed"):
        services.change_survey_status(survey, "closed")
    empty = services.create_survey("空问卷", company["lead"])
    with pytest.raises(ServiceError, match="at least one question"):
        services.change_survey_status(empty, "open")


def test_skip_logic_with_and_or():
    question = Question(name="q", conditions=[{"question": "a", "op": "equals", "value": "1"},
                                              {"question": "b", "op": "selected", "value": "x"}],
                        condition_join="and")
    assert services.is_visible(question, {"a": "1", "b": ["x", "y"]})
    assert not services.is_visible(question, {"a": "1", "b": ["y"]})
    question.condition_join = "or"
    assert services.is_visible(question, {"a": "2", "b": ["x"]})
    assert not services.is_visible(question, {"a": "2"})
    question.conditions = [{"question": "n", "op": "not_equals", "value": "3"}]
    assert services.is_visible(question, {"n": 4}) and not services.is_visible(question, {"n": 3})
