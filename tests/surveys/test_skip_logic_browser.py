"""In a real browser: conditional questions of the answer form appear and disappear as the respondent
answers (chains included), hidden answers are not submitted, and the server accepts the result."""
import pytest
from sqlalchemy import select

from rollout.extensions import db
from surveys import services
from surveys.models import INTEGER, MULTIPLE, OPEN, RATING5, SINGLE, TEXT, SurveyResponse
from surveys.services import OptionSpec

pytestmark = pytest.mark.browser


def _survey_link(company) -> str:
    """An open survey: travels → mobile (if yes) and apps (if yes) → dingtalk (if 钉钉 is ticked)."""
    survey = services.create_survey("移动办公需求调研", company["lead"])
    services.save_question(survey, name="travels", type=SINGLE, label="经常出差吗？", label_en="Do you travel often?",
                           is_required=True, options=[OptionSpec("yes", "是", label_en="Yes"),
                                                      OptionSpec("no", "否", label_en="No")])
    services.save_question(survey, name="mobile", type=TEXT, label="出差时手机上最需要什么功能？",
                           label_en="What do you need most on your phone?", is_required=True,
                           conditions=[{"question": "travels", "op": "equals", "value": "yes"}])
    services.save_question(survey, name="apps", type=MULTIPLE, label="出差时用哪些应用？", label_en="Apps on the road",
                           options=[OptionSpec("wechat", "微信"), OptionSpec("dingtalk", "钉钉")],
                           conditions=[{"question": "travels", "op": "equals", "value": "yes"}])
    services.save_question(survey, name="dingtalk", type=TEXT, label="钉钉里最常用哪个功能？",
                           label_en="Which DingTalk feature do you use most?",
                           conditions=[{"question": "apps", "op": "selected", "value": "dingtalk"}])
    services.save_question(survey, name="score", type=RATING5, label="对现有系统的满意度", label_en="Satisfaction",
                           is_required=True)
    services.change_survey_status(survey, OPEN)
    token = services.invite(survey, [company["staff"]], send=False)[0].token
    db.session.commit()
    db.session.close()  # hold no read transaction while the server writes
    return f"/surveys/respond/{token}"


@pytest.mark.parametrize("language, mobile_label", [("zh-CN", "出差时手机上最需要什么功能？"),
                                                    ("en", "What do you need most on your phone?")])
def test_conditional_questions_follow_the_answers_live(page, live_server, company, language, mobile_label):
    link = _survey_link(company)
    page.set_extra_http_headers({"Accept-Language": language})
    page.goto(f"{live_server}{link}")
    mobile, apps, dingtalk = page.locator("#q_mobile"), page.locator("#q_apps"), page.locator("#q_dingtalk")
    # Until "travels" is answered yes, its dependants are hidden and their inputs disabled.
    assert mobile.is_hidden() and apps.is_hidden() and dingtalk.is_hidden()
    assert page.locator("input[name=q_mobile]").is_disabled()
    assert page.locator("[data-skip-note]").first.is_hidden()

    page.check("#q_travels-yes")
    mobile.wait_for(state="visible")
    assert mobile_label in mobile.inner_text()
    assert apps.is_visible() and dingtalk.is_hidden()
    page.fill("input[name=q_mobile]", "查看客户拜访记录")
    page.check("#q_apps-dingtalk")
    dingtalk.wait_for(state="visible")
    page.fill("input[name=q_dingtalk]", "审批")

    # Another answer hides the chain again: travels → apps → dingtalk.
    page.check("#q_travels-no")
    mobile.wait_for(state="hidden")
    assert apps.is_hidden() and dingtalk.is_hidden()
    assert page.locator("input[name=q_dingtalk]").is_disabled()

    # Back to yes: the typed answers are still there.
    page.check("#q_travels-yes")
    dingtalk.wait_for(state="visible")
    assert page.input_value("input[name=q_mobile]") == "查看客户拜访记录"

    page.check("#q_travels-no")
    mobile.wait_for(state="hidden")
    page.locator("label[for=q_score-4]").click()
    with page.expect_request(lambda request: request.method == "POST") as sent:
        page.click("button[value=submit]")
    page.locator("[data-testid=thanks]").wait_for()

    # The browser did not send the hidden answers; the server accepted and stored the visible ones.
    posted = sent.value.post_data
    assert "q_travels=no" in posted and "q_score=4" in posted
    assert "q_mobile" not in posted and "q_apps" not in posted and "q_dingtalk" not in posted
    stored = db.session.scalars(select(SurveyResponse)).one()
    assert {answer.question.name: answer.value for answer in stored.answers} == {"travels": "no", "score": 4}


def test_numbers_or_rules_and_not_equals_are_decided_as_the_server_decides(page, live_server, company):
    survey = services.create_survey("拜访频率", company["lead"])
    services.save_question(survey, name="region", type=SINGLE, label="负责区域",
                           options=[OptionSpec("north", "华北"), OptionSpec("south", "华南")])
    services.save_question(survey, name="visits", type=INTEGER, label="每周拜访客户数")
    services.save_question(survey, name="route", type=TEXT, label="怎样安排拜访路线？", condition_join="or",
                           conditions=[{"question": "visits", "op": "equals", "value": "5"},
                                       {"question": "region", "op": "equals", "value": "north"}])
    services.save_question(survey, name="south_note", type=TEXT, label="华南以外的区域说明",
                           conditions=[{"question": "region", "op": "not_equals", "value": "south"}])
    services.change_survey_status(survey, OPEN)
    token = services.invite(survey, [company["staff"]], send=False)[0].token
    db.session.commit()
    db.session.close()
    page.goto(f"{live_server}/surveys/respond/{token}")
    route, south_note = page.locator("#q_route"), page.locator("#q_south_note")
    # No answer is "not south", as on the server.
    assert route.is_hidden() and south_note.is_visible()
    page.fill("input[name=q_visits]", "05")
    route.wait_for(state="visible")  # 05 is the number 5
    page.fill("input[name=q_visits]", "5x")
    route.wait_for(state="hidden")  # not a whole number: no answer
    page.check("#q_region-north")
    route.wait_for(state="visible")  # either rule is enough
    page.check("#q_region-south")
    route.wait_for(state="hidden")
    assert south_note.is_hidden()
    page.fill("input[name=q_visits]", "5")
    with page.expect_request(lambda request: request.method == "POST"):
        page.click("button[value=submit]")
    page.locator("[data-testid=thanks]").wait_for()
    stored = db.session.scalars(select(SurveyResponse)).one()
    assert {answer.question.name for answer in stored.answers} == {"region", "visits"}
