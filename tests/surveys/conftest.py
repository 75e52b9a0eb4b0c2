"""Builders for survey tests."""
import pytest

from rollout.extensions import db
from surveys import services
from surveys.models import LIKERT, MULTIPLE, OPEN, RANKING, RATING5, SINGLE, TEXT
from surveys.services import OptionSpec


def build_survey(owner, *, anonymous=False, departments=(), roles=(), title="需求调研", open_it=True):
    """A survey with one question of the main types; committed."""
    survey = services.create_survey(title, owner, is_anonymous=anonymous, audience_departments=list(departments),
                                    audience_roles=list(roles))
    section = services.add_section(survey, "基本情况", title_en="Background")
    services.save_question(survey, name="travels", type=SINGLE, label="经常出差吗？", label_en="Travel often?",
                           is_required=True, section=section,
                           options=[OptionSpec("yes", "是"), OptionSpec("no", "否")])
    services.save_question(survey, name="mobile", type=TEXT, label="手机上最需要什么？", section=section,
                           is_required=True, conditions=[{"question": "travels", "op": "equals", "value": "yes"}])
    services.save_question(survey, name="tools", type=MULTIPLE, label="用哪些工具？",
                           options=[OptionSpec("excel", "Excel"), OptionSpec("wechat", "微信"),
                                    OptionSpec("paper", "纸质")])
    services.save_question(survey, name="score", type=RATING5, label="满意度", is_required=True)
    services.save_question(survey, name="agree", type=LIKERT, label="同意吗？",
                           options=[OptionSpec("1", "不同意"), OptionSpec("2", "一般"), OptionSpec("3", "同意")],
                           rows=[OptionSpec("a", "报表要自动"), OptionSpec("b", "要手机端")])
    services.save_question(survey, name="rank", type=RANKING, label="排序",
                           options=[OptionSpec("x", "客户"), OptionSpec("y", "漏斗"), OptionSpec("z", "报表")])
    if open_it:
        services.change_survey_status(survey, OPEN)
    db.session.commit()
    return survey


GOOD_ANSWERS = {"travels": "yes", "mobile": "查订单", "tools": ["excel", "paper"], "score": "4",
                "agree": {"a": "3", "b": "2"}, "rank": ["y", "x", "z"]}


@pytest.fixture
def survey_builder():
    return build_survey
