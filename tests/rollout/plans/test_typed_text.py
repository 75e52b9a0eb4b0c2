"""What a person types into the sales pages is stored as typed: Chinese punctuation and line breaks stay."""
from sqlalchemy import select

from rollout.extensions import db
from rollout.plans import services
from rollout.plans.models import Activity, Customer
from rollout.timeutil import local_today

OUTCOME = "客户说：价格（含税）太高，希望下周再谈！\n预算约￥５０万。"


def test_a_follow_up_keeps_full_width_punctuation_and_lines(company, client_as):
    customer = services.create_customer("甲公司", company["staff"])
    db.session.commit()
    response = client_as("staff").post(f"/customers/{customer.id}/activities", data={
        "a-kind": "call", "a-occurred_at": f"{local_today().isoformat()}T00:01", "a-outcome": OUTCOME, "a-opportunity_id": "0",
        "a-next_step": "确认交期？（周五前）", "a-next_step_on": local_today().isoformat()})
    assert response.status_code == 302
    activity = db.session.scalars(select(Activity)).one()
    assert activity.outcome == OUTCOME and activity.next_step == "确认交期？（周五前）"


def test_a_customer_address_keeps_its_brackets_and_a_name_its_full_width_letters_made_plain(company, client_as):
    response = client_as("staff").post("/customers/new", data={
        "name": "北京（中关村）ＡＢＣ科技有限公司", "address": "海淀区中关村大街１号，３层！", "campaign_id": "0"})
    assert response.status_code == 302
    customer = db.session.scalars(select(Customer)).one()
    assert customer.name == "北京（中关村）ABC科技有限公司" and customer.address == "海淀区中关村大街1号，3层！"
