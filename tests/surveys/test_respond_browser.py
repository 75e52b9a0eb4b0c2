"""In a real browser, in both languages: on a phone every answer of a Likert matrix is on screen as a
full-width row a thumb can hit (whole label, at least 40 px tall), choice options too; on a desktop the
matrix stays a grid. Either way the same fields reach the server."""
import pytest
from sqlalchemy import select

from rollout.extensions import db
from surveys import services
from surveys.models import LIKERT, MULTIPLE, OPEN, RATING5, SINGLE, SurveyResponse
from surveys.services import OptionSpec

pytestmark = pytest.mark.browser

PHONE = dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
DESKTOP = dict(viewport={"width": 1280, "height": 900})
SCALE = [OptionSpec(str(n), zh, label_en=en) for n, zh, en in (
    (1, "非常不同意", "Strongly disagree"), (2, "不同意", "Disagree"), (3, "一般", "Neutral"),
    (4, "同意", "Agree"), (5, "非常同意", "Strongly agree"))]
STATEMENTS = {"zh-CN": ("我需要在手机上录入拜访记录，并且在客户现场就能查到历史订单", "周报应该自动生成"),
              "en": ("I need to log visits on my phone and see past orders at the customer's site",
                     "Weekly reports should build themselves")}
LAST = {"zh-CN": "非常同意", "en": "Strongly agree"}
FIRST = {"zh-CN": "非常不同意", "en": "Strongly disagree"}


def _link(company) -> str:
    survey = services.create_survey("移动端需求调研", company["lead"])
    services.save_question(survey, name="travels", type=SINGLE, label="经常出差吗？", label_en="Do you travel often?",
                           options=[OptionSpec("yes", "是", label_en="Yes"), OptionSpec("no", "否", label_en="No")])
    services.save_question(survey, name="tools", type=MULTIPLE, label="用哪些工具？", label_en="Which tools?",
                           options=[OptionSpec("excel", "Excel"), OptionSpec("wechat", "微信", label_en="WeChat")])
    services.save_question(survey, name="agree", type=LIKERT, label="您同意以下说法吗？", label_en="Do you agree?",
                           is_required=True, options=SCALE,
                           rows=[OptionSpec("mobile", STATEMENTS["zh-CN"][0], label_en=STATEMENTS["en"][0]),
                                 OptionSpec("report", STATEMENTS["zh-CN"][1], label_en=STATEMENTS["en"][1])])
    services.save_question(survey, name="score", type=RATING5, label="满意度", label_en="Satisfaction")
    services.change_survey_status(survey, OPEN)
    token = services.invite(survey, [company["staff"]], send=False)[0].token
    db.session.commit()
    db.session.close()  # hold no read transaction while the server writes
    return f"/surveys/respond/{token}"


def _stored_answers() -> dict:
    stored = db.session.scalars(select(SurveyResponse)).one()
    return {answer.question.name: answer.value for answer in stored.answers}


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_on_a_phone_every_answer_is_on_screen_and_its_whole_row_takes_a_tap(browser, live_server, company, locale):
    link = _link(company)
    context = browser.new_context(locale=locale, extra_http_headers={"Accept-Language": locale}, **PHONE)
    page = context.new_page()
    try:
        page.goto(f"{live_server}{link}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing off to the side
        matrix = page.locator("[data-question=agree]")
        for statement in STATEMENTS[locale]:
            group = matrix.get_by_role("radiogroup", name=statement)
            labels = group.locator("label")
            assert labels.count() == 5
            for label in labels.all():
                box = label.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= 390, label.inner_text()
                assert box["height"] >= 40 and box["width"] >= 300, (label.inner_text(), box)
            assert [text.strip() for text in labels.all_inner_texts()][-1] == LAST[locale]
        for label in page.locator("[data-question=travels] label, [data-question=score] label").all():
            assert label.bounding_box()["height"] >= 40, label.inner_text()
        assert page.locator("[data-question=travels] label").first.bounding_box()["width"] >= 300

        # A tap on the words, or on the empty end of the row, picks the answer.
        matrix.get_by_role("radiogroup", name=STATEMENTS[locale][0]).get_by_text(LAST[locale], exact=True).tap()
        report = matrix.get_by_role("radiogroup", name=STATEMENTS[locale][1]).locator("label").first
        report.tap(position={"x": report.bounding_box()["width"] - 10, "y": 20})
        travels = page.locator("[data-question=travels] label").first
        travels.tap(position={"x": travels.bounding_box()["width"] - 10, "y": 20})
        page.locator("[data-question=tools] label").last.tap()
        page.locator("label[for=q_score-4]").tap()
        assert page.is_checked("#q_agree__mobile-5") and page.is_checked("#q_agree__report-1")
        with page.expect_request(lambda request: request.method == "POST") as sent:
            page.locator("button[value=submit]").tap()
        page.locator("[data-testid=thanks]").wait_for()
    finally:
        context.close()
    posted = sent.value.post_data
    assert "q_agree__mobile=5" in posted and "q_agree__report=1" in posted  # the field names the server reads
    assert _stored_answers() == {"travels": "yes", "tools": ["wechat"], "agree": {"mobile": "5", "report": "1"},
                                 "score": 4}


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_on_a_desktop_the_matrix_is_a_grid_with_the_scale_on_top(browser, live_server, company, locale):
    link = _link(company)
    context = browser.new_context(locale=locale, extra_http_headers={"Accept-Language": locale}, **DESKTOP)
    page = context.new_page()
    try:
        page.goto(f"{live_server}{link}")
        matrix = page.locator("[data-question=agree]")
        heading = matrix.locator("[aria-hidden=true]")
        assert heading.is_visible() and heading.inner_text().split("\n")[0].strip() == FIRST[locale]
        group = matrix.get_by_role("radiogroup", name=STATEMENTS[locale][0])
        dots = [radio.bounding_box() for radio in group.locator("input").all()]
        assert len({round(dot["y"]) for dot in dots}) == 1  # one row: the grid
        assert all(dot["x"] + dot["width"] <= 1280 for dot in dots)
        assert not group.get_by_text(LAST[locale], exact=True).is_visible()  # the heading names the columns
        # The whole cell takes the click, not just the dot.
        cell = group.locator("label").last
        cell.click(position={"x": 5, "y": 5})
        assert page.is_checked("#q_agree__mobile-5")
    finally:
        context.close()
