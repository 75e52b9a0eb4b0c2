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


def test_options_worded_alike_are_refused_naming_the_duplicate(company):
    survey = build_survey(company["lead"], open_it=False)
    with pytest.raises(ServiceError, match="The option “销售” is listed twice.") as refused:
        services.save_question(survey, name="role", type=SINGLE, label="岗位",
                               options=services.parse_option_lines("销售\n销售\n经理"))
    assert refused.value.field == "options"
    with pytest.raises(ServiceError, match="The option “sales” is listed twice."):
        services.save_question(survey, name="role", type=SINGLE, label="岗位",
                               options=[OptionSpec("a", "销售", label_en="Sales"),
                                        OptionSpec("b", "销售员", label_en="sales")])
    with pytest.raises(ServiceError, match="The statement “报表” is listed twice.") as refused:
        services.save_question(survey, name="matrix", type="likert", label="同意吗",
                               options=[OptionSpec("1", "不同意"), OptionSpec("2", "同意")],
                               rows=[OptionSpec("a", "报表"), OptionSpec("b", "报表 ")])
    assert refused.value.field == "rows"
    with pytest.raises(ServiceError, match="Option value a is used twice"):
        services.save_question(survey, name="role", type=SINGLE, label="岗位",
                               options=[OptionSpec("a", "A"), OptionSpec("a", "B")])


def _condition(survey, question, value, op="equals"):
    return services.check_conditions(survey, 99, [{"question": question, "op": op, "value": value}], "and")[0]["value"]


def test_a_condition_on_a_choice_question_takes_the_option_or_its_wording(company):
    survey = build_survey(company["lead"], open_it=False)
    services.save_question(survey, name="role", type=SINGLE, label="岗位", options=[
        OptionSpec("1", "销售", label_en="Sales"), OptionSpec("2", "经理", label_en="Manager")])
    assert _condition(survey, "role", "2") == "2"
    assert _condition(survey, "role", "销售") == "1" and _condition(survey, "role", " manager ") == "2"
    assert _condition(survey, "tools", "微信", op="selected") == "wechat"
    with pytest.raises(ServiceError, match="Question role has no option 司机. Its options: Sales · Manager."):
        _condition(survey, "role", "司机")
    picked = services.check_conditions(survey, 99, [{"question": "", "op": "equals", "option": "role:2"}], "and")
    assert picked == [{"question": "role", "op": "equals", "value": "2"}]
    with pytest.raises(ServiceError, match="not both"):
        services.check_conditions(survey, 99, [{"question": "role", "op": "equals", "option": "role:2",
                                                "value": "1"}], "and")


@pytest.mark.parametrize("kind, good, stored, bad", [
    ("rating5", " 4 ", "4", ["abc", "6", "0", "2.5"]),
    ("rating10", "10", "10", ["11", "十"]),
    ("integer", "1500", "1500", ["1.5", "1,5", "abc"]),
    ("decimal", "1,500.50", "1500.5", ["1,5", "abc", "NaN"]),
    ("date", "2026-11-30", "2026-11-30", ["2026-13-01", "明天"]),
])
def test_a_condition_on_a_rating_number_or_date_must_be_an_answer_it_can_give(company, kind, good, stored, bad):
    survey = build_survey(company["lead"], open_it=False)
    services.save_question(survey, name="q", type=kind, label=kind)
    assert _condition(survey, "q", good) == stored
    for value in bad:
        with pytest.raises(ServiceError, match=f"Question q never gives the answer “{value}”") as refused:
            _condition(survey, "q", value)
        assert refused.value.field == "conditions"


def test_a_stored_number_condition_still_decides_visibility(company):
    survey = build_survey(company["lead"], open_it=False)
    services.save_question(survey, name="hours", type="decimal", label="小时")
    later = services.save_question(survey, name="why", type=TEXT, label="为什么",
                                   conditions=[{"question": "hours", "op": "equals", "value": "1,500.0"}])
    assert later.conditions[0]["value"] == "1500"
    assert services.is_visible(later, {"hours": 1500.0}) and not services.is_visible(later, {"hours": 15.0})
