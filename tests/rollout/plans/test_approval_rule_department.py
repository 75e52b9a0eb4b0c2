"""Quote approval rules: the approving department is picked by name from the department tree."""
from sqlalchemy import func, select

from rollout.extensions import db
from rollout.plans import services
from rollout.plans.models import QuoteApprovalRule
from tests.conftest import chinese_client


def _rule_form(department_id, name="折扣超过15%") -> dict:
    return {"form": "rule", "q-name": name, "q-min_discount_percent": "15", "q-min_amount": "",
            "q-approver_department_id": str(department_id), "q-position": "2"}


def _rules() -> int:
    return db.session.scalar(select(func.count()).select_from(QuoteApprovalRule))


def test_the_rule_form_offers_departments_and_teams_by_name(company, client_as):
    page = client_as("admin").get("/plans/settings").get_data(as_text=True)
    assert 'name="q-approver_department_code"' not in page
    select_ = page.split('name="q-approver_department_id"')[1].split("</select>")[0]
    assert '<option selected value="0">The head of the quote&#39;s department</option>' in select_
    for department in ("sales", "sales1", "finance"):
        assert f'<option value="{company["departments"][department].id}">' in select_
    assert "\u3000财务部<" in select_ and "\u3000\u3000销售一组<" in select_  # a team sits under its department
    assert f'<option value="{company["departments"]["company"].id}">' not in select_  # not the whole company


def test_a_rule_for_a_department_chosen_by_name_sends_quotes_to_its_members(company, client_as):
    finance = company["departments"]["finance"]
    response = client_as("admin").post("/plans/settings", data=_rule_form(finance.id))
    assert response.status_code == 302
    rule = db.session.scalars(select(QuoteApprovalRule)).one()
    assert rule.approver_department_code == "finance"
    page = client_as("admin").get("/plans/settings").get_data(as_text=True)
    assert "<td>财务部</td>" in page
    customer = services.create_customer("甲公司", company["staff"])
    quote = services.create_quote(customer, company["staff"], "报价", "1000", "20")
    services.submit_quote(quote, company["staff"])
    db.session.commit()
    assert services.step_approvers(services.current_step(quote)) == [company["finance"]]


def test_the_head_of_the_quotes_department_stays_the_default(company, client_as):
    response = client_as("admin").post("/plans/settings", data=_rule_form(0))
    assert response.status_code == 302
    assert db.session.scalars(select(QuoteApprovalRule)).one().approver_department_code is None


def test_a_department_without_a_code_is_given_one_the_rule_keeps(company, client_as, factory):
    legal = factory.department("法务部", parent=company["departments"]["company"])
    assert client_as("admin").post("/plans/settings", data=_rule_form(legal.id)).status_code == 302
    db.session.expire_all()
    rule = db.session.scalars(select(QuoteApprovalRule)).one()
    assert rule.approver_department_code == legal.code == f"dept-{legal.id}"
    assert "<td>法务部</td>" in client_as("admin").get("/plans/settings").get_data(as_text=True)


def test_an_unknown_or_garbled_department_is_refused_with_a_message(company, client_as):
    client = client_as("admin")
    for bad in (999999, "abc", company["departments"]["company"].id):
        response = client.post("/plans/settings", data=_rule_form(bad))
        assert response.status_code == 422, bad
        page = response.get_data(as_text=True)
        assert ("choose the approving department from the list" in page
                or "the whole company cannot approve a quote" in page), bad
    assert _rules() == 0


def test_the_refusal_reads_in_chinese(app, company):
    response = chinese_client(app, company["admin"]).post("/plans/settings", data=_rule_form(999999))
    assert response.status_code == 422
    assert "该部门不存在" in response.get_data(as_text=True)


def test_rules_saved_with_a_code_keep_working_and_a_lost_code_is_pointed_out(company, client_as):
    services.save_approval_rule(None, "折扣超过20% 财务", "20", None, "finance", 1)
    rule = services.save_approval_rule(None, "旧规则", "30", None, "finance", 2)
    rule.approver_department_code = "gone"  # its department was renamed or removed since
    db.session.commit()
    page = client_as("admin").get("/plans/settings").get_data(as_text=True)
    assert "<td>财务部</td>" in page
    assert "No department has the code gone." in page
