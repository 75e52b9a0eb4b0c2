"""Whole report pages kept per person and data version (rollout.figures.whole_page_cached).

A repeated view is answered before the user is loaded, so these tests prove that everything that
changes what a person may see or is shown ends the kept page at once.
"""
import re

import pytest
from flask import template_rendered

from rollout.accounts.services import change_password
from rollout.extensions import db
from rollout.notify.services import mark_read, notify

READINESS = "/rollout/"


def view(client, count_statements, path=READINESS):
    with count_statements() as counter:
        response = client.get(path)
    # SQLite's explicit BEGIN is not a query (PostgreSQL's driver starts transactions unseen).
    return response, len([s for s in counter.statements if not s.lstrip().upper().startswith("BEGIN")])


def _without_token(html: str) -> str:
    return re.sub(r'(name="csrf[-_]token" (?:content|value)=)"[^"]*"', r'\1""', html)


def test_a_repeated_view_is_answered_without_building_the_page(app, client_as, count_statements):
    lead = client_as("lead")
    rendered = []
    with template_rendered.connected_to(lambda sender, template, context, **extra: rendered.append(template.name),
                                        app):
        first, built = view(lead, count_statements)
        assert "dashboard/readiness.html" in rendered and built > 1
        rendered.clear()
        again, kept = view(lead, count_statements)
    # Only the data version and the unread count are read, on a pooled connection, outside the ORM.
    assert rendered == [] and kept == 0
    assert first.status_code == again.status_code == 200
    # The same page; only the form token may differ (it carries the second it was signed in).
    assert _without_token(again.get_data(as_text=True)) == _without_token(first.get_data(as_text=True))
    assert again.mimetype == "text/html" and "no-store" in again.headers["Cache-Control"]


def test_a_write_shows_on_the_next_view(client_as, company, count_statements):
    lead = client_as("lead")
    view(lead, count_statements)
    company["departments"]["sales"].name = "华东销售部"
    db.session.commit()
    page, statements = view(lead, count_statements)
    assert "华东销售部" in page.get_data(as_text=True) and statements > 1


def test_losing_the_role_refuses_the_page_at_once(client_as, company, count_statements):
    lead = client_as("lead")
    assert view(lead, count_statements)[0].status_code == 200
    company["lead"].set_roles(["staff"])
    db.session.commit()
    assert view(lead, count_statements)[0].status_code == 403


@pytest.mark.parametrize("change", ["deactivate", "password"])
def test_an_ended_session_gets_no_kept_page(client_as, company, count_statements, change):
    lead = client_as("lead")
    assert view(lead, count_statements)[0].status_code == 200
    if change == "deactivate":
        company["lead"].is_active_account = False
    else:  # a new password ends every other session
        change_password(company["lead"], None, "a-new-long-password-2026", check_current=False)
    db.session.commit()
    response = view(lead, count_statements)[0]
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_unread_count_follows_reading(client_as, company, count_statements):
    lead = client_as("lead")
    notify([company["lead"]], "test", "新的变更请求")
    db.session.commit()
    assert 'data-testid="unread">1<' in view(lead, count_statements)[0].get_data(as_text=True)
    mark_read(company["lead"])  # a bulk update, outside the audit trail
    db.session.commit()
    assert 'data-testid="unread"' not in view(lead, count_statements)[0].get_data(as_text=True)


def test_a_waiting_message_is_shown_once(client_as, count_statements):
    lead = client_as("lead")
    view(lead, count_statements)
    with lead.session_transaction() as session:
        session["_flashes"] = [("success", "阈值已保存")]
    assert "阈值已保存" in view(lead, count_statements)[0].get_data(as_text=True)
    assert "阈值已保存" not in view(lead, count_statements)[0].get_data(as_text=True)


def test_each_person_and_language_gets_their_own_page(client_as, company, count_statements):
    lead, head = client_as("lead"), client_as("head")
    company["lead"].display_name, company["head"].display_name = "项目负责人甲", "销售部长乙"
    db.session.commit()
    assert "项目负责人甲" in view(lead, count_statements)[0].get_data(as_text=True)
    page = view(head, count_statements)[0].get_data(as_text=True)
    assert "销售部长乙" in page and "项目负责人甲" not in page
    lead.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert "上线就绪" in view(lead, count_statements)[0].get_data(as_text=True)


def test_another_browser_with_the_same_cookie_is_not_served_the_kept_page(client_as, count_statements):
    lead = client_as("lead")
    view(lead, count_statements)
    lead.environ_base["HTTP_USER_AGENT"] = "another browser"
    assert view(lead, count_statements)[1] > 1


def test_every_session_gets_its_own_working_csrf_token(client_as, app, monkeypatch, count_statements):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    first, second = client_as("lead"), client_as("lead")
    tokens = []
    for client in (first, second, first):
        page = view(client, count_statements)[0].get_data(as_text=True)
        assert "placeholder" not in page
        tokens.append(re.search(r'name="csrf-token" content="([^"]+)"', page).group(1))
    assert tokens[0] != tokens[1]
    for client, token in ((first, tokens[2]), (second, tokens[1])):
        response = client.post("/language", data={"csrf_token": token, "lang": "en"})
        assert response.status_code == 302
    assert second.post("/language", data={"csrf_token": tokens[0], "lang": "en"}).status_code == 400


def test_kept_pages_stay_within_their_size_budget_oldest_first(monkeypatch):
    from rollout import figures
    monkeypatch.setattr(figures, "MAX_KEPT_PAGE_CHARS", 25)
    for number in range(5):
        figures._keep_page(("page", number), "x" * 10)
    assert [figures._kept_page(("page", number)) for number in range(5)] == [None, None, None, "x" * 10, "x" * 10]
    figures._keep_page(("page", 3), "y" * 10)  # kept again: counted once
    assert figures._pages_size == 20
    figures.clear()
    assert figures._pages_size == 0 and figures._kept_page(("page", 4)) is None
