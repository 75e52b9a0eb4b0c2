"""Support requests as conversations: replies reopen, the requester marks them solved, the answerer corrects the
answer; questions asked from an FAQ article that did not help; where a seed user's own question goes."""
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from rollout.audit.services import history_of
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import utcnow
from training import faq, support
from training.models import SupportReply, SupportRequest


def _seed(factory, company, team="sales1", username=None):
    seed = factory.user("staff", department=company["departments"][team], is_seed_user=True,
                        username=username or f"seed-{team}")
    seed.locale = "en"
    db.session.commit()
    return seed


def _notified(event):
    """(recipient, subject) of each notification of ``event``."""
    return [tuple(row) for row in db.session.execute(select(Notification.user_id, Notification.subject)
                                                     .where(Notification.event == event).order_by(Notification.id))]


@pytest.fixture(autouse=True)
def _english_readers(company):
    # Notifications are written in each reader's language: these tests read English.
    for user in company["users"].values():
        user.locale = "en"
    db.session.commit()


def _replies() -> int:
    return db.session.scalar(select(func.count()).select_from(SupportReply))


@pytest.fixture
def answered(company, factory):
    """销售一组's seed user answered a question of the rep in 销售一组."""
    seed = _seed(factory, company)
    item = support.create_request(company["staff"], "报价单怎么加赠品？", "在报价页面找不到")
    item.created_at = utcnow() - timedelta(hours=3)
    support.answer(item, seed, "在产品行选择**赠品**类型。")
    db.session.commit()
    return item, seed


# --- the conversation ----------------------------------------------------------------------------
def test_requesters_reply_reopens_and_tells_who_answered_whose_reply_answers_again(client_as, company, answered):
    item, seed = answered
    first_answer_at = item.answered_at
    response = client_as("staff").post(f"/training/support/{item.id}/reply",
                                       data={"body_markdown": "试了，产品行里没有赠品类型。"})
    assert response.status_code == 302
    db.session.expire_all()
    assert item.status == "open" and item.reopened_at is not None
    assert _notified("training.support_reply") == [(seed.id, "Reopened: 报价单怎么加赠品？")]
    page = client_as(seed).get(f"/training/support/{item.id}").get_data(as_text=True)
    assert "产品行里没有赠品类型" in page and "Awaiting answer" in page
    assert item in support.waiting_for(seed)

    assert client_as(seed).post(f"/training/support/{item.id}/reply",
                                data={"body_markdown": "要先让管理员开通赠品类型，我已经提了。"}).status_code == 302
    db.session.expire_all()
    assert item.status == "answered" and item.answered_at == first_answer_at
    assert _notified("training.support_reply")[-1][0] == company["staff"].id
    # the conversation in the order it was written, the first answer first
    page = client_as("staff").get(f"/training/support/{item.id}").get_data(as_text=True)
    assert page.index("赠品</strong>类型") < page.index("产品行里没有赠品类型") < page.index("我已经提了")


def test_a_reopened_request_waits_with_the_rollout_team_once_escalated(company, factory):
    seed = _seed(factory, company)
    item = support.create_request(company["staff"], "手机端看不到报表", "")
    support.escalate(item)
    support.answer(item, company["lead"], "请升级到最新版本。")
    support.reply(item, company["staff"], "升级了还是看不到。")
    db.session.commit()
    assert item.status == "escalated"
    assert item in support.waiting_for(company["lead"]) and item not in support.waiting_for(seed)
    assert _notified("training.support_reply") == [(company["lead"].id, "Reopened: 手机端看不到报表")]


def test_the_time_to_answer_a_reopened_request_runs_from_the_reopening(runner, company, answered):
    item, _seed_user = answered
    item.created_at = utcnow() - timedelta(days=3)
    support.reply(item, company["staff"], "还是不行。")
    db.session.commit()
    assert runner.invoke(args=["training", "escalate"]).output.startswith("Escalated 0")
    item.reopened_at = utcnow() - timedelta(hours=25)
    db.session.commit()
    assert runner.invoke(args=["training", "escalate"]).output.startswith("Escalated 1")


def test_the_requester_marks_solved_and_a_later_reply_opens_it_again(client_as, company, answered):
    item, seed = answered
    assert client_as(seed).post(f"/training/support/{item.id}/solve").status_code == 403
    client = client_as("staff")
    assert "Did this solve your question?" in client.get(f"/training/support/{item.id}").get_data(as_text=True)
    assert client.post(f"/training/support/{item.id}/solve").status_code == 303
    db.session.expire_all()
    assert item.status == "solved" and item.solved_at is not None
    assert "marked this request as solved" in client.get(f"/training/support/{item.id}").get_data(as_text=True)
    again = client.post(f"/training/support/{item.id}/solve", follow_redirects=True).get_data(as_text=True)
    assert "This request is solved already." in again
    assert item not in support.waiting_for(seed)
    assert [(s.answered, s.open) for s in support.seed_user_stats()] == [(1, 0)]

    client.post(f"/training/support/{item.id}/reply", data={"body_markdown": "又出现了。"})
    db.session.expire_all()
    assert (item.status, item.solved_at) == ("open", None)
    assert [(s.answered, s.open) for s in support.seed_user_stats()] == [(1, 1)]


def test_a_question_found_out_alone_is_solved_without_an_answer(client_as, company, factory):
    seed = _seed(factory, company)
    item = support.create_request(company["staff"], "怎么改密码？", "")
    db.session.commit()
    assert client_as("staff").post(f"/training/support/{item.id}/solve").status_code == 303
    db.session.expire_all()
    assert item.status == "solved" and item not in support.waiting_for(seed)
    # a helper may still add a word, which does not reopen it
    support.reply(item, seed, "个人设置里也可以改。")
    assert item.status == "solved"


def test_who_may_reply(client_as, company, answered):
    item, _seed_user = answered
    # 市场部 staff cannot see it; a colleague of the same team who is no seed user cannot reply
    assert client_as("other_staff").post(f"/training/support/{item.id}/reply",
                                         data={"body_markdown": "我来说两句"}).status_code == 403
    assert client_as("staff2").post(f"/training/support/{item.id}/reply",
                                    data={"body_markdown": "我来说两句"}).status_code == 403
    assert client_as("staff").post("/training/support/999999/reply", data={"body_markdown": "x"}).status_code == 404
    # the head of the department and the rollout team may
    assert client_as("head").post(f"/training/support/{item.id}/reply",
                                  data={"body_markdown": "我补充一下"}).status_code == 302
    assert client_as("lead").post(f"/training/support/{item.id}/reply",
                                  data={"body_markdown": "已开通"}).status_code == 302
    assert _replies() == 2


@pytest.mark.parametrize("body", ["", "   ", "\x00", "长" * 20001])
def test_an_empty_or_overlong_reply_is_refused_and_nothing_changes(client_as, company, answered, body):
    item, _seed_user = answered
    response = client_as("staff").post(f"/training/support/{item.id}/reply", data={"body_markdown": body})
    assert response.status_code == 422
    db.session.expire_all()
    assert item.status == "answered" and _replies() == 0
    assert not _notified("training.support_reply")


def test_a_reply_is_shown_as_sanitised_markdown(client_as, company, answered):
    item, seed = answered
    support.reply(item, company["staff"], "**还是不行** <script>alert(1)</script>")
    db.session.commit()
    page = client_as(seed).get(f"/training/support/{item.id}").get_data(as_text=True)
    assert "<strong>还是不行</strong>" in page and "<script>alert(1)" not in page


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.text(max_size=60))
def test_any_reply_text_is_kept_or_refused_never_an_error(client_as, company, answered, body):
    item, _seed_user = answered
    before = _replies()
    response = client_as("staff").post(f"/training/support/{item.id}/reply", data={"body_markdown": body})
    kept = body.replace("\x00", "").strip()
    assert response.status_code == (302 if kept else 422)
    assert _replies() == before + (1 if kept else 0)
    if kept:
        assert db.session.scalars(select(SupportReply.body_markdown).order_by(SupportReply.id.desc())).first() == kept


def test_a_seed_user_cannot_answer_their_own_question(client_as, company, factory):
    seed = _seed(factory, company)
    item = support.create_request(seed, "我自己的问题", "")
    db.session.commit()
    assert item.seed_user_id is None and item.status == "escalated"
    assert client_as(seed).post(f"/training/support/{item.id}", data={"answer_markdown": "自问自答"}).status_code == 403
    with pytest.raises(support.NotAllowed):
        support.answer(item, seed, "自问自答")


# --- editing the answer ----------------------------------------------------------------------------
def test_the_answerer_edits_the_answer_audited_and_the_requester_is_told(client_as, company, factory, answered):
    item, seed = answered
    client = client_as(seed)
    assert "Edit answer" in client.get(f"/training/support/{item.id}").get_data(as_text=True)
    assert client.get(f"/training/support/{item.id}/answer").status_code == 200
    response = client.post(f"/training/support/{item.id}/answer", data={"answer_markdown": "在产品行选择赠品，数量填 1。"})
    assert response.status_code == 302
    db.session.expire_all()
    assert item.answer_markdown == "在产品行选择赠品，数量填 1。" and item.answer_edited_at is not None
    change = next(entry for entry in history_of("training_support_requests", item.id) if entry.action == "update"
                  and "answer_markdown" in (entry.changes or {}))
    assert "在产品行选择**赠品**类型。" in str(change.changes["answer_markdown"])
    assert change.user_id == seed.id
    assert _notified("training.support_answer_edited") == [(company["staff"].id, "Answer edited: 报价单怎么加赠品？")]
    assert "edited" in client_as("staff").get(f"/training/support/{item.id}").get_data(as_text=True)


def test_an_article_made_of_the_answer_follows_its_corrections_until_the_faq_keepers_rewrite_it(company, answered):
    item, seed = answered
    article = support.publish_answer(item, seed)
    db.session.commit()
    support.edit_answer(item, seed, "在产品行选择赠品，数量填 1。")
    db.session.commit()
    assert article.body_markdown.endswith("\n\n---\n\n在产品行选择赠品，数量填 1。")
    assert article.body_markdown.startswith(item.body_markdown.strip())
    faq.save_article(article, article.title, "项目组重写的说明。", author=company["lead"])
    support.edit_answer(item, seed, "再次更正的回答。")
    db.session.commit()
    assert article.body_markdown == "项目组重写的说明。"


def test_only_the_answerer_edits_the_answer(client_as, company, factory, answered):
    item, seed = answered
    other_seed = _seed(factory, company, "sales2")
    for who in ("staff", "lead", "head", other_seed):
        assert client_as(who).post(f"/training/support/{item.id}/answer",
                                   data={"answer_markdown": "改掉"}).status_code == 403
    response = client_as(seed).post(f"/training/support/{item.id}/answer", data={"answer_markdown": "  "})
    assert response.status_code == 422
    db.session.expire_all()
    assert item.answer_markdown == "在产品行选择**赠品**类型。" and item.answer_edited_at is None
    unanswered = support.create_request(company["staff2"], "还没人答", "")
    db.session.commit()
    assert client_as(seed).get(f"/training/support/{unanswered.id}/answer").status_code == 403


# --- asking from an FAQ article that did not help ----------------------------------------------------
@pytest.fixture
def article(company):
    item = faq.create_article_from("如何提交报价审批？", "在商机页面新建报价。", company["trainer"], module="quotes")
    db.session.commit()
    return item


def test_no_vote_offers_to_ask_the_seed_user_about_the_article(client_as, company, factory, article):
    seed = _seed(factory, company)
    client = client_as("staff")
    page = client.post(f"/training/faq/{article.id}/vote", data={"helpful": "no"},
                       follow_redirects=True).get_data(as_text=True)
    assert 'data-testid="not-helpful"' in page and f"/training/support?article={article.id}" in page

    form = client.get(f"/training/support?article={article.id}").get_data(as_text=True)
    assert 'data-testid="asked-from"' in form and f'value="{article.id}"' in form
    assert 'value="如何提交报价审批？"' in form and '<option selected value="quotes">' in form
    response = client.post("/training/support", data={"subject": "报价审批找不到提交按钮", "module": "quotes",
                                                       "asked_from_article_id": str(article.id)})
    assert response.status_code == 302
    item = db.session.scalar(select(SupportRequest))
    assert item.asked_from_article_id == article.id and item.seed_user_id == seed.id
    body = db.session.scalar(select(Notification.body_markdown).where(Notification.user_id == seed.id))
    assert "如何提交报价审批？" in body
    seen = client_as(seed).get(f"/training/support/{item.id}").get_data(as_text=True)
    assert "which 用户" in seen and "marked as not helpful" in seen and f"/training/faq/{article.id}" in seen


def test_a_question_naming_a_missing_article_is_sent_without_it(client_as, company, article):
    client = client_as("staff")
    assert 'data-testid="asked-from"' not in client.get("/training/support?article=999999").get_data(as_text=True)
    for value in ("999999", "abc", "-1", "99999999999999999999"):
        response = client.post("/training/support", data={"subject": f"问题{value}", "asked_from_article_id": value})
        assert response.status_code == 302
    assert db.session.scalars(select(SupportRequest.asked_from_article_id)).all() == [None] * 4


# --- where a question goes -----------------------------------------------------------------------
def test_the_only_seed_user_of_a_department_is_told_the_rollout_team_answers(client_as, company):
    lonely = company["finance"]
    lonely.is_seed_user = True
    db.session.commit()
    page = client_as(lonely).get("/training/support").get_data(as_text=True)
    route = page.split('data-testid="route">')[1].split("</p>")[0]
    assert "You are the only seed user of your department" in route
    assert "no seed user" not in route and route.count("rollout team") == 1
    assert "You are the only seed user of your department" in client_as(lonely).get("/training/").get_data(as_text=True)
    item = support.create_request(lonely, "开票申请在哪里？", "")
    db.session.commit()
    assert item.status == "escalated" and item.seed_user_id is None
    body = db.session.scalar(select(Notification.body_markdown)
                             .where(Notification.event == "training.support_escalated"))
    assert body == f"The requester is the only seed user of the department. Asked by {lonely.display_name}."
    told = db.session.scalar(select(Notification).where(Notification.event == "training.support_escalated_asker"))
    assert told.user_id == lonely.id and "开票申请在哪里？" in told.subject


def test_a_seed_users_question_goes_to_another_seed_user_of_the_department(client_as, company, factory, app):
    asking = _seed(factory, company, "sales1", username="asking-seed")
    other = _seed(factory, company, "sales2")
    app.config["TRAINING_ESCALATE_HOURS"] = 1
    try:
        page = client_as(asking).get("/training/support").get_data(as_text=True)
    finally:
        app.config.pop("TRAINING_ESCALATE_HOURS")
    route = " ".join(page.split('data-testid="route">')[1].split("</p>")[0].split())
    assert route == (f"Your question goes first to {other.display_name}, another seed user of your department; "
                     "without an answer within 1 hour it goes to the rollout team.")
    assert support.create_request(asking, "问题", "").seed_user_id == other.id


def test_staff_are_told_their_seed_user_and_the_time_it_has(client_as, company, factory):
    seed = _seed(factory, company)
    page = client_as("staff").get("/training/support").get_data(as_text=True)
    route = " ".join(page.split('data-testid="route">')[1].split("</p>")[0].split())
    assert route == (f"Your question goes to your seed user {seed.display_name} first; without an answer within "
                     "24 hours it goes to the rollout team.")
    no_seed = " ".join(client_as("other_staff").get("/training/support").get_data(as_text=True)
                       .split('data-testid="route">')[1].split("</p>")[0].split())
    assert no_seed == "Your department has no seed user, so your question goes straight to the rollout team."


def test_the_route_reads_in_chinese(client_as, company, factory):
    seed = _seed(factory, company)
    company["staff"].locale = "zh_CN"
    db.session.commit()
    client = client_as("staff")
    page = client.get("/training/support").get_data(as_text=True)
    route = page.split('data-testid="route">')[1].split("</p>")[0]
    assert seed.display_name in route and "24 小时" in route and "Your question" not in route
