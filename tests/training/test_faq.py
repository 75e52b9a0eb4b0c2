"""FAQ: Chinese substring search with title hits first, searches without results, votes, sanitising."""
import re

import pytest
from sqlalchemy import func, select

from rollout.extensions import db
from training import faq, services
from training.models import FaqArticle, FaqSearch, FaqVote


@pytest.fixture
def articles(company):
    body_hit = faq.create_article_from("折扣规则", "低于 9 折的报价需要走报价审批，由经理确认。", company["trainer"],
                                       tags="报价", module="quotes", source="manual")
    title_hit = faq.create_article_from("如何提交报价审批？", "在商机页面新建报价。", company["trainer"],
                                        tags=["报价", "审批"], module="quotes", role="staff")
    other = faq.create_article_from("手机登录", "企业微信里打开。", company["trainer"], module="mobile")
    db.session.commit()
    return body_hit, title_hit, other


def test_search_finds_chinese_inside_a_sentence_title_first(articles):
    body_hit, title_hit, _other = articles
    found = db.session.scalars(faq.search_statement("报价审批")).all()
    assert [a.id for a in found] == [title_hit.id, body_hit.id]
    assert db.session.scalars(faq.search_statement("经理 审批")).all() == [body_hit]
    assert db.session.scalars(faq.search_statement("100%")).all() == []


def test_filters_by_module_role_and_tag(articles):
    body_hit, title_hit, other = articles
    assert db.session.scalars(faq.search_statement(module="mobile")).all() == [other]
    assert set(db.session.scalars(faq.search_statement(tag="审批")).all()) == {title_hit}
    assert title_hit in db.session.scalars(faq.search_statement(role="staff")).all()
    assert title_hit not in db.session.scalars(faq.search_statement(role="head")).all()


def test_search_page_records_searches_that_found_nothing(client_as, company, articles):
    client = client_as("staff")
    page = client.get("/training/faq?q=报价审批").get_data(as_text=True)
    assert "如何提交报价审批？" in page
    nothing = client.get("/training/faq?q=离线模式").get_data(as_text=True)
    # Asking a seed user carries the search over as the question's subject.
    ask = re.search(r'href="(/training/support\?subject=[^"]+)"', nothing).group(1).replace("&amp;", "&")
    assert 'value="离线模式"' in client.get(ask).text
    client.get("/training/faq?q=离线模式")
    rows = dict(db.session.execute(select(FaqSearch.query, FaqSearch.result_count)).all())
    assert rows == {"报价审批": 2, "离线模式": 0}
    assert faq.searches_without_results()[0][:2] == ("离线模式", 2)
    insights = client_as("trainer").get("/training/faq/insights").get_data(as_text=True)
    assert "离线模式" in insights
    assert client.get("/training/faq/insights").status_code == 403


def test_views_counted_and_one_vote_per_person(client_as, company, articles):
    article = articles[1]
    client = client_as("staff")
    assert client.get(f"/training/faq/{article.id}").status_code == 200
    client.post(f"/training/faq/{article.id}/vote", data={"helpful": "yes"})
    client.post(f"/training/faq/{article.id}/vote", data={"helpful": "no"})
    client_as("staff2").post(f"/training/faq/{article.id}/vote", data={"helpful": "yes"})
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(FaqVote)) == 2
    assert (article.helpful_count, article.unhelpful_count, article.view_count) == (1, 1, 1)
    assert faq.most_viewed()[0].id == article.id
    assert client.post(f"/training/faq/{article.id}/vote", data={"helpful": "maybe"}).status_code == 400


def test_markdown_is_sanitised(client_as, company):
    article = faq.create_article_from("XSS", "<script>alert(1)</script>[x](javascript:alert(1)) **粗体**",
                                      company["trainer"])
    db.session.commit()
    page = client_as("staff").get(f"/training/faq/{article.id}").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "javascript:" not in page and "<strong>粗体</strong>" in page


def test_article_form_validation_and_access(client_as, company):
    client = client_as("trainer")
    response = client.post("/training/faq/new", data={"title": "", "body_markdown": "内容"})
    assert response.status_code == 422
    response = client.post("/training/faq/new", data={"title": "新文章", "body_markdown": "内容", "module": "nope"})
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(FaqArticle)) == 0
    response = client.post("/training/faq/new", data={"title": "新文章", "body_markdown": "内容", "module": "plans",
                                                      "tags": "计划, 周报 计划"})
    assert response.status_code == 302
    assert db.session.scalar(select(FaqArticle)).tags == ["周报", "计划"]
    assert client_as("staff").post("/training/faq/new", data={"title": "x", "body_markdown": "y"}).status_code == 403
    assert services.faq_article_count() == 1


def test_faq_list_statement_count_does_not_grow(client_as, company, articles, count_statements):
    client = client_as("staff")
    client.get("/training/faq?q=审批")
    with count_statements() as small:
        client.get("/training/faq?q=审批")
    for number in range(12):
        faq.create_article_from(f"审批问题{number}", "正文", company["trainer"], tags=["审批", f"t{number}"])
    db.session.commit()
    with count_statements() as large:
        client.get("/training/faq?q=审批")
    assert large.count == small.count


def test_nul_characters_never_reach_the_database(client_as, company):
    client = client_as("trainer")
    assert client.get("/training/faq?q=报价%00审批").status_code == 200
    assert db.session.scalar(select(FaqSearch.query)) == "报价审批"
    response = client.post("/training/faq/new", data={"title": "标\x00题", "body_markdown": "正\x00文", "tags": "a\x00b"})
    assert response.status_code == 302
    article = db.session.scalar(select(FaqArticle))
    assert (article.title, article.body_markdown, article.tags) == ("标题", "正文", ["ab"])
