"""Seed users: coverage, who helps whom, support requests that escalate, answers that become articles."""
from datetime import timedelta

from sqlalchemy import func, select

from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import utcnow
from training import services, support
from training.models import FaqArticle, SupportRequest


def _seed(factory, company, team="sales1"):
    return factory.user("staff", department=company["departments"][team], is_seed_user=True, username=f"seed-{team}")


def test_coverage_ratio_configurable(app, company, factory):
    sales = company["departments"]["sales"].id
    assert services.seed_coverage(sales) == (0, 2, False)
    _seed(factory, company)
    assert services.seed_coverage(sales) == (1, 3, True)
    for _ in range(3):
        factory.user("staff", department=company["departments"]["sales2"])
    app.config["TRAINING_SEED_RATIO"] = 5
    try:
        assert services.seed_coverage(sales) == (1, 6, False)
    finally:
        app.config.pop("TRAINING_SEED_RATIO")
    assert services.seed_coverage(sales) == (1, 6, True)


def test_staff_sees_their_seed_user_same_team_first(client_as, company, factory):
    first = _seed(factory, company, "sales1")
    second = _seed(factory, company, "sales2")
    assert support.seed_user_for(company["staff"]).id == first.id
    assert support.seed_user_for(company["staff2"]).id == second.id
    assert support.seed_user_for(company["head"]).id in {first.id, second.id}
    page = client_as("staff2").get("/training/").get_data(as_text=True)
    assert second.display_name in page


def test_question_goes_to_seed_user_then_escalates(app, runner, client_as, company, factory):
    seed = _seed(factory, company)
    response = client_as("staff").post("/training/support", data={"subject": "怎么提交报价审批？", "module": "quotes"})
    assert response.status_code == 302
    item = db.session.scalar(select(SupportRequest))
    assert item.seed_user_id == seed.id and item.status == "open"
    assert db.session.scalar(select(Notification.user_id).where(Notification.event == "training.support_request")) == seed.id
    assert runner.invoke(args=["training", "escalate"]).output.startswith("Escalated 0")
    item.created_at = utcnow() - timedelta(hours=25)
    db.session.commit()
    assert runner.invoke(args=["training", "escalate"]).output.startswith("Escalated 1")
    db.session.expire_all()
    assert item.status == "escalated"
    assert db.session.scalar(select(Notification.user_id).where(
        Notification.event == "training.support_escalated")) == company["lead"].id


def test_lazy_escalation_on_page_load(client_as, company, factory):
    seed = _seed(factory, company)
    db.session.add(SupportRequest(requester_id=company["staff"].id, department_id=company["departments"]["sales"].id,
                                  seed_user_id=seed.id, subject="老问题", created_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    client_as("staff").get("/training/support")
    assert db.session.scalar(select(SupportRequest.status)) == "escalated"


def test_no_seed_user_goes_straight_to_rollout_team(company):
    item = support.create_request(company["finance"], "开票申请在哪里？", "")
    assert item.status == "escalated" and item.seed_user_id is None


def test_empty_question_refused(client_as, company):
    response = client_as("staff").post("/training/support", data={"subject": ""})
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(SupportRequest)) == 0


def test_seed_user_answers_and_publishes_in_one_action(client_as, company, factory):
    seed = _seed(factory, company)
    item = support.create_request(company["staff2"], "报价单怎么加赠品？", "在报价页面找不到")
    db.session.commit()
    assert client_as("other_staff").get(f"/training/support/{item.id}").status_code == 403
    client = client_as(seed)
    response = client.post(f"/training/support/{item.id}", data={
        "answer_markdown": "在产品行选择**赠品**类型。", "publish_as_article": "y", "tags": "报价，赠品"})
    assert response.status_code == 302
    db.session.expire_all()
    assert item.status == "answered" and item.answered_by_id == seed.id
    article = db.session.scalar(select(FaqArticle))
    assert article.title == "报价单怎么加赠品？" and article.source == "support" and article.tags == ["报价", "赠品"]
    assert "赠品" in article.body_markdown and item.article_id == article.id
    stats = support.seed_user_stats()
    assert [(s.seed_user.id, s.assigned, s.answered) for s in stats] == [(seed.id, 1, 1)]
    # answering twice is refused
    assert client.post(f"/training/support/{item.id}", data={"answer_markdown": "再答一次"}).status_code == 403


def test_staff_who_is_no_seed_user_cannot_answer(client_as, company, factory):
    _seed(factory, company)
    item = support.create_request(company["staff"], "问题", "")
    db.session.commit()
    response = client_as("staff2").post(f"/training/support/{item.id}", data={"answer_markdown": "我来答"})
    assert response.status_code == 403
    assert db.session.scalar(select(SupportRequest.status)) == "open"


def test_lead_publishes_answered_request(client_as, company, factory):
    seed = _seed(factory, company)
    item = support.create_request(company["staff"], "怎么导出报表？", "")
    support.answer(item, seed, "点击右上角导出。")
    db.session.commit()
    response = client_as("lead").post(f"/training/support/{item.id}/article")
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(FaqArticle)) == 1
    again = client_as("lead").post(f"/training/support/{item.id}/article", follow_redirects=True)
    assert "already an article" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(FaqArticle)) == 1


def test_seed_page_and_naming_a_seed_user(client_as, company):
    head = client_as("head")
    page = head.get("/training/seeds").get_data(as_text=True)
    assert "销售部" in page and "市场部" not in page
    assert head.post("/training/seeds/set", data={"user_id": company["staff"].id, "is_seed": "1"}).status_code == 302
    db.session.expire_all()
    assert company["staff"].is_seed_user
    assert head.post("/training/seeds/set", data={"user_id": company["other_staff"].id,
                                                  "is_seed": "1"}).status_code == 403
    assert client_as("staff").get("/training/seeds").status_code == 403


def test_support_list_scoped(client_as, company, factory):
    seed = _seed(factory, company)
    mine = support.create_request(company["staff"], "销售的问题", "")
    other = support.create_request(company["other_staff"], "市场的问题", "")
    db.session.commit()
    assert "市场的问题" not in client_as("staff").get("/training/support").get_data(as_text=True)
    seed_page = client_as(seed).get("/training/support").get_data(as_text=True)
    assert "销售的问题" in seed_page and "市场的问题" not in seed_page
    lead_page = client_as("lead").get("/training/support").get_data(as_text=True)
    assert "销售的问题" in lead_page and "市场的问题" in lead_page
    assert mine.id != other.id


def test_support_list_statement_count_does_not_grow(client_as, company, factory, count_statements):
    seed = _seed(factory, company)
    support.create_request(company["staff"], "第一个问题", "")
    db.session.commit()
    client = client_as("lead")
    client.get("/training/support")
    with count_statements() as small:
        client.get("/training/support")
    for number in range(10):
        asker = factory.user("staff", department=company["departments"]["sales2"])
        item = support.create_request(asker, f"问题{number}", "")
        if number % 2:
            support.answer(item, seed, "答复")
    db.session.commit()
    with count_statements() as large:
        page = client.get("/training/support").get_data(as_text=True)
    assert "问题9" in page
    assert large.count == small.count


def test_seed_page_counts_staff_and_seed_users_under_each_department_in_a_fixed_number_of_statements(
        client_as, company, factory, count_statements):
    departments = company["departments"]
    support.set_seed_user(company["finance"], True)
    db.session.commit()
    client = client_as("lead")
    client.get("/training/seeds")
    with count_statements() as small:
        client.get("/training/seeds")
    for number in range(12):  # staff of a team count under its department
        factory.user("staff", department=departments["sales2"], display_name=f"组员{number}")
    seed = factory.user("staff", department=departments["sales1"], display_name="种子甲")
    support.set_seed_user(seed, True)
    factory.user("staff", department=departments["sales1"]).is_active_account = False  # not counted
    db.session.commit()
    with count_statements() as large:
        page = client.get("/training/seeds").get_data(as_text=True)
    assert large.count == small.count
    coverage = {c.department.name: c for c in support.coverage_by_department()}
    # 销售部: staff, staff2, the twelve and the seed user; one seed user for 15 staff needs two at one per ten
    assert (coverage["销售部"].staff, [u.display_name for u in coverage["销售部"].seed_users]) == (15, ["种子甲"])
    assert (coverage["销售部"].needed, coverage["销售部"].is_ok) == (2, False)
    assert coverage["财务部"].staff == 1 and coverage["财务部"].is_ok
    assert "种子甲" in page.split('data-testid="coverage"')[1].split("</table>")[0]
    assert "组员11 · 销售二组" in page  # a candidate, with the team it sits in
    assert set(c.department.name for c in support.coverage_by_department({departments["finance"].id})) == {"财务部"}
