"""What a screen reader or keyboard user relies on, in both languages: an invalid field says so and is
read with its message and hint, a required survey question says "required", a skip link leads past the
menu, the bell says how many notifications are unread, and the current tab is announced."""
import re

import pytest
from flask import render_template_string
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from sqlalchemy import select
from wtforms.validators import DataRequired

from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.retros.models import RetroActionItem
from surveys import services as survey_services
from surveys.models import LIKERT, MULTIPLE, OPEN, RATING5, SINGLE, TEXT
from surveys.services import OptionSpec
from tests.conftest import chinese_client, english_client, login


def tag(html: str, element_id: str) -> str:
    """The opening tag of the element with this id."""
    found = re.search(rf'<[a-z]+[^>]*\bid="{re.escape(element_id)}"[^>]*>', html)
    assert found, f"no element with id {element_id}"
    return found.group(0)


def attribute(opening_tag: str, name: str) -> str | None:
    found = re.search(rf'\b{name}="([^"]*)"', opening_tag)
    return found.group(1) if found else None


# --- the shared field macro ---------------------------------------------------------------------------------
class _Form(FlaskForm):
    class Meta:
        csrf = False

    title = StringField("Title", validators=[DataRequired(message="Say what it is.")],
                        description="A few words.")
    note = StringField("Note")
    agreed = BooleanField("Agreed", validators=[DataRequired(message="Tick it.")])


MACRO = '{% from "macros/forms.html" import field %}{{ field(form.title) }}{{ field(form.note) }}{{ field(form.agreed) }}'


def _render(app, data):
    with app.test_request_context("/", method="POST", data=data):
        form = _Form()
        form.validate()
        return render_template_string(MACRO, form=form)


def test_an_invalid_field_says_so_and_is_described_by_its_message_and_hint(app):
    html = _render(app, {"note": "x"})
    title = tag(html, "title")
    assert attribute(title, "aria-invalid") == "true"
    described = attribute(title, "aria-describedby").split()
    assert set(described) == {"title-hint", "title-error"}
    assert "A few words." in html.split('id="title-hint"', 1)[1].split("</div>", 1)[0]
    assert "Say what it is." in html.split('id="title-error"', 1)[1].split("</div>", 1)[0]
    checkbox = tag(html, "agreed")
    assert attribute(checkbox, "aria-invalid") == "true" and attribute(checkbox, "aria-describedby") == "agreed-error"
    assert "Tick it." in html.split('id="agreed-error"', 1)[1].split("</div></div>", 1)[0]
    # A valid field without a hint carries neither.
    note = tag(html, "note")
    assert attribute(note, "aria-invalid") is None and attribute(note, "aria-describedby") is None


def test_a_valid_field_is_still_described_by_its_hint(app):
    html = _render(app, {"title": "报表", "agreed": "y"})
    title = tag(html, "title")
    assert attribute(title, "aria-invalid") is None
    assert attribute(title, "aria-describedby") == "title-hint"
    assert 'id="title-error"' not in html


@pytest.mark.parametrize("language, required_word", [("en", "(required)"), ("zh-CN", "（必填）")])
def test_a_rejected_form_marks_its_field_and_a_required_star_is_read_as_required(app, company, language,
                                                                                 required_word):
    client = english_client(app) if language == "en" else chinese_client(app, company["staff"])
    if language == "en":
        login(client, company["staff"])
    response = client.post("/customers/new", data={"name": "", "campaign_id": "0"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    name = tag(html, "name")
    assert attribute(name, "aria-invalid") == "true" and attribute(name, "aria-describedby") == "name-error"
    assert 'class="invalid-feedback d-block"' in html.split('id="name-error"', 1)[1][:200]
    label = html.split('<label class="form-label" for="name">', 1)[1].split("</label>", 1)[0]
    assert '<span class="required-mark"></span>' in label
    assert f'<span class="visually-hidden">{required_word}</span>' in label


# --- the survey answer page ---------------------------------------------------------------------------------
def _survey_link(company) -> str:
    survey = survey_services.create_survey("上线调研", company["lead"])
    survey_services.save_question(survey, name="travels", type=SINGLE, label="经常出差吗？",
                                  label_en="Do you travel often?", is_required=True, hint="按上个月算",
                                  options=[OptionSpec("yes", "是", label_en="Yes"), OptionSpec("no", "否", label_en="No")])
    survey_services.save_question(survey, name="tools", type=MULTIPLE, label="用哪些工具？", label_en="Which tools?",
                                  options=[OptionSpec("excel", "Excel"), OptionSpec("wechat", "微信")])
    survey_services.save_question(survey, name="wish", type=TEXT, label="最想要什么？", label_en="Your wish?",
                                  is_required=True)
    survey_services.save_question(survey, name="score", type=RATING5, label="满意度", label_en="Satisfaction",
                                  is_required=True)
    survey_services.save_question(survey, name="agree", type=LIKERT, label="同意吗？", label_en="Agree?",
                                  options=[OptionSpec("1", "不同意", label_en="No"), OptionSpec("2", "同意", label_en="Yes")],
                                  rows=[OptionSpec("a", "报表要自动", label_en="Reports build themselves")])
    survey_services.change_survey_status(survey, OPEN)
    token = survey_services.invite(survey, [company["staff"]], send=False)[0].token
    db.session.commit()
    return f"/surveys/respond/{token}"


@pytest.mark.parametrize("language, summary, question, required_word", [
    ("en", "Some answers need attention.", "Do you travel often?", "(required)"),
    ("zh-CN", "部分回答需要修改。", "经常出差吗？", "（必填）"),
])
def test_survey_errors_are_tied_to_their_questions_and_listed_with_links(app, company, language, summary,
                                                                         question, required_word):
    link = _survey_link(company)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    page = client.get(link).get_data(as_text=True)
    # Before any error: required groups and fields say so; the hint is read with the question.
    group = re.search(r'<div role="radiogroup" aria-labelledby="q_travels--label"[^>]*>', page).group(0)
    assert attribute(group, "aria-required") == "true" and attribute(group, "aria-describedby") == "q_travels--hint"
    assert attribute(group, "aria-invalid") is None
    assert attribute(tag(page, "q_wish--input"), "aria-required") == "true"
    title = page.split('id="q_travels--label">', 1)[1].split("</div>", 1)[0]
    assert question in title and f'<span class="visually-hidden">{required_word}</span>' in title
    assert '<span class="required-mark"></span>' in title
    assert 'data-error-summary' not in page

    response = client.post(link, data={"action": "submit", "q_tools": "excel"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    box = html.split('data-testid="answer-errors"', 1)[1].split("</div>", 1)[0]
    box_tag = re.search(r'<div[^>]*data-testid="answer-errors"[^>]*>', html).group(0)
    assert 'role="alert"' in box_tag and "data-error-summary" in box_tag
    assert summary in box
    # Each question to change is named, with a link to its first answer field; answered ones are not.
    links = dict((target, text) for target, text in re.findall(r'<a class="alert-link" href="#([^"]+)">([^<]+)</a>', box))
    assert set(links) == {"q_travels-yes", "q_wish--input", "q_score-1"}
    assert links["q_travels-yes"] == question
    for target in links:
        assert f'id="{target}"' in html
    group = re.search(r'<div role="radiogroup" aria-labelledby="q_travels--label"[^>]*>', html).group(0)
    assert attribute(group, "aria-invalid") == "true"
    assert attribute(group, "aria-describedby").split() == ["q_travels--hint", "q_travels--error"]
    assert 'id="q_travels--error"' in html
    wish = tag(html, "q_wish--input")
    assert attribute(wish, "aria-invalid") == "true" and attribute(wish, "aria-describedby") == "q_wish--error"
    assert "is-invalid" in attribute(wish, "class")
    score = re.search(r'<div[^>]*role="radiogroup" aria-labelledby="q_score--label"[^>]*>', html).group(0)
    assert attribute(score, "aria-invalid") == "true"
    # The question answered is not marked.
    tools = re.search(r'<div role="group" aria-labelledby="q_tools--label"[^>]*>', html).group(0)
    assert attribute(tools, "aria-invalid") is None


# --- the page frame -----------------------------------------------------------------------------------------
def _client(app, company, user_key, language):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    login(client, company[user_key])
    return client


@pytest.mark.parametrize("language, words", [("en", "Skip to main content"), ("zh-CN", "跳到正文")])
def test_the_first_thing_tab_reaches_is_a_link_to_the_main_content(app, company, language, words):
    anonymous = app.test_client()
    anonymous.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    for client, path in ((_client(app, company, "staff", language), "/"), (anonymous, "/login")):
        html = client.get(path).get_data(as_text=True)
        body = html.split("<body>", 1)[1]
        first = re.search(r"<(a|button|input|select|textarea)\b[^>]*>", body).group(0)
        assert attribute(first, "href") == "#main" and "visually-hidden-focusable" in attribute(first, "class")
        assert body.split(first, 1)[1].startswith(words)
        main = re.search(r"<main\b[^>]*>", html).group(0)
        assert attribute(main, "id") == "main" and attribute(main, "tabindex") == "-1"


def _bell_names(html: str) -> list[str]:
    return [attribute(link, "aria-label") for link in re.findall(r'<a[^>]*href="/notifications"[^>]*>', html)
            if attribute(link, "aria-label")]


@pytest.mark.parametrize("language, one, several, none", [
    ("en", "Notifications (1 unread)", "Notifications (3 unread)", "Notifications"),
    ("zh-CN", "通知（1 条未读）", "通知（3 条未读）", "通知"),
])
def test_the_bell_says_how_many_notifications_are_unread(app, company, language, one, several, none):
    from rollout.notify.services import notify
    client = _client(app, company, "staff", language)
    assert _bell_names(client.get("/").get_data(as_text=True)) == [none, none]  # the phone's and the desktop's
    notify([company["staff"]], "test", "新任务", "内容", "/notifications")
    db.session.commit()
    assert _bell_names(client.get("/").get_data(as_text=True)) == [one, one]
    for _ in range(2):
        notify([company["staff"]], "test", "又一个", "内容", "/notifications")
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert _bell_names(html) == [several, several]
    assert all(attribute(link, "title") == several
               for link in re.findall(r'<a[^>]*href="/notifications"[^>]*aria-label[^>]*>', html))


def test_the_admin_menu_opens_from_a_real_button(app, company):
    html = _client(app, company, "admin", "en").get("/").get_data(as_text=True)
    toggle = re.search(r'<[a-z]+[^>]*data-testid="admin-menu"[^>]*>', html).group(0)
    assert toggle.startswith("<button") and attribute(toggle, "type") == "button"
    assert attribute(toggle, "data-bs-toggle") == "dropdown" and attribute(toggle, "aria-expanded") == "false"
    assert 'href="#" role="button"' not in html


def _current_tabs(html: str) -> list[tuple[str, str]]:
    tabs = html.split('<ul class="nav nav-tabs', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<a class="nav-link active" href="[^"]*" aria-current="([a-z]+)">([^<]+)</a>', tabs)


@pytest.mark.parametrize("language, customers, training", [("en", "Customers", "My training"),
                                                           ("zh-CN", "客户", "我的培训")])
def test_the_current_sub_tab_is_announced(app, company, language, customers, training):
    client = _client(app, company, "staff", language)
    assert _current_tabs(client.get("/customers").get_data(as_text=True)) == [("page", customers)]
    assert _current_tabs(client.get("/training/").get_data(as_text=True)) == [("page", training)]
    other = client.get("/training/sessions").get_data(as_text=True)
    assert len(_current_tabs(other)) == 1 and other.count("aria-current=") == 2  # the main menu's and the tab's


# --- colours ------------------------------------------------------------------------------------------------
def _contrast(one: str, other: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        red, green, blue = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_links_are_dark_enough_on_the_page_and_on_unread_notifications(app):
    css = (app.root_path + "/static/app.css")
    text = open(css, encoding="utf-8").read()
    link = re.search(r"--bs-link-color:\s*(#[0-9a-fA-F]{6})", text).group(1)
    rgb = re.search(r"--bs-link-color-rgb:\s*([\d\s,]+);", text).group(1)
    assert tuple(int(part) for part in rgb.split(",")) == tuple(int(link[i:i + 2], 16) for i in (1, 3, 5))
    page = re.search(r"body \{[^}]*background: (#[0-9a-fA-F]{6})", text).group(1)
    assert _contrast(link, page) >= 4.5
    assert _contrast(link, "#cfe2ff") >= 4.5  # Bootstrap's list-group-item-primary, an unread notification
    assert _contrast(link, "#ffffff") >= 4.5
    # Red words (overdue dates, error messages) too.
    danger = "#" + "".join(f"{int(part):02x}" for part in
                           re.search(r"--bs-danger-rgb:\s*([\d\s,]+);", text).group(1).split(","))
    invalid = re.search(r"--bs-form-invalid-color:\s*(#[0-9a-fA-F]{6})", text).group(1)
    for red in (danger, invalid):
        assert _contrast(red, page) >= 4.5 and _contrast(red, "#f8f9fa") >= 4.5
    # The focus ring on the dark menu bar stands out from it.
    bar = re.search(r"\.app-navbar \{ background: (#[0-9a-fA-F]{6})", text).group(1)
    ring = re.search(r"\.app-navbar \.navbar-toggler:focus-visible \{\s*outline: 3px solid (#[0-9a-fA-F]{6})", text).group(1)
    assert _contrast(ring, bar) >= 3


# --- nothing said by colour alone ---------------------------------------------------------------------------
@pytest.mark.parametrize("language, word", [("en", "Unread"), ("zh-CN", "未读")])
def test_an_unread_notification_says_so_in_words(app, company, language, word):
    from rollout.notify.services import notify
    notify([company["staff"]], "test", "新任务", "内容", "/notifications")
    notify([company["staff"]], "test", "旧消息", "内容", None)
    db.session.commit()
    client = _client(app, company, "staff", language)
    old = db.session.scalars(select(Notification).where(Notification.subject == "旧消息")).one()
    client.post(f"/notifications/{old.id}/open")
    html = client.get("/notifications").get_data(as_text=True)
    items = html.split('<div class="list-group mb-3">', 1)[1].split('class="list-group-item')[1:]
    unread = next(item for item in items if "新任务" in item)
    read = next(item for item in items if "旧消息" in item)
    assert f'<span class="badge text-bg-primary me-1 align-text-bottom">{word}</span>新任务' in unread
    assert word not in read and "badge" not in read.split("</h2>", 1)[0]


def _retro_with_an_overdue_item(company, factory):
    from datetime import date, timedelta

    from rollout.retros import services as retro_services
    from rollout.timeutil import local_today
    team = company["departments"]["sales1"]
    owner = factory.user("staff", department=team, display_name="销售代表 张伟")
    retro = retro_services.create_retro(team, "第48周回顾", date(2026, 11, 27), "start_stop_continue", company["head"])
    retro_services.add_card(retro, company["staff"], retro.columns[0].id, "拜访计划和日历同步")
    retro_services.transition_retro(retro, "reveal")
    late = retro_services.add_action_item(retro, "整理查重误报案例", owner.id, local_today() + timedelta(days=3), None)
    retro_services.add_action_item(retro, "周报模板改版", owner.id, local_today() + timedelta(days=3), None)
    db.session.flush()
    late_item = db.session.get(RetroActionItem, late if isinstance(late, int) else late.id)
    late_item.due_on = local_today() - timedelta(days=2)
    db.session.commit()
    return retro


@pytest.mark.parametrize("language, word", [("en", "Overdue"), ("zh-CN", "已逾期")])
def test_an_overdue_action_item_says_so_on_a_phone_too(app, company, factory, language, word):
    retro = _retro_with_an_overdue_item(company, factory)
    html = _client(app, company, "head", language).get(f"/retros/{retro.id}").get_data(as_text=True)
    rows = html.split('id="actions"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr>")[1:]
    late = next(row for row in rows if "整理查重误报案例" in row)
    on_time = next(row for row in rows if "周报模板改版" in row)
    title_cell = late.split("</td>", 1)[0]
    phone_line = re.search(r'<div class="small text-muted d-md-none">(.*?)</div>', title_cell, re.S).group(1)
    assert f'<span class="badge text-bg-danger" data-testid="overdue-small">{word}</span>' in phone_line
    assert "overdue-small" not in on_time


# --- the retro board ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("language, actions, group, remove", [("en", "Actions", "Group", "Remove"),
                                                              ("zh-CN", "操作", "分组", "删除")])
def test_repeated_retro_buttons_say_which_card_or_item_they_are_for(app, company, factory, language, actions, group,
                                                                    remove):
    retro = _retro_with_an_overdue_item(company, factory)
    html = _client(app, company, "head", language).get(f"/retros/{retro.id}").get_data(as_text=True)
    brackets = ("(", ")") if language == "en" else ("（", "）")

    def hidden(title):
        return f'<span class="visually-hidden"> {brackets[0]}{title}{brackets[1]}</span>'

    assert f">{actions}{hidden('整理查重误报案例')}</button>" in html
    assert f">{actions}{hidden('周报模板改版')}</button>" in html
    card = hidden("拜访计划和日历同步")
    assert f">+1{card}</button>" in html
    assert f">{remove}{card}</button>" in html
    assert f">{group}{card}</button>" in html
    assert f'aria-label="{group} {brackets[0]}拜访计划和日历同步{brackets[1]}"' in html
    # The menu column's heading is named, for screen readers only; on a phone the title is not held to half.
    heading = html.split('id="actions"', 1)[1].split("</thead>", 1)[0]
    assert f'<th class="cell-menu"><span class="visually-hidden">{actions}</span></th>' in heading
    assert 'class="w-md-50"' in heading and 'class="w-50"' not in html
