"""List pages used at scale: filters that show, stay and can be removed; totals and paging; returning to the
same filtered page after acting on a row; phone-friendly inputs."""
import re
from datetime import timedelta

from rollout.extensions import db
from rollout.plans import services
from rollout.timeutil import local_today, utcnow


def _deals(company):
    mine = services.create_customer("甲公司", company["staff"])
    services.create_opportunity(mine, company["staff"], "年度合同", "1000")
    won = services.create_opportunity(mine, company["staff"], "二期", "500")
    services.move_stage(won, "quoted", company["staff"])
    services.move_stage(won, "won", company["staff"])
    other = services.create_customer("乙公司", company["staff2"])
    services.create_opportunity(other, company["staff2"], "试点", "2000")
    services.create_opportunity(other, company["staff2"], "扩容", "3000")
    db.session.commit()


def _card(page: str, stage_label: str) -> str:
    start = page.index(f'{stage_label} · ')
    return page[start:page.index("</a>", start)]


# --- deals ----------------------------------------------------------------------------------------------
def test_the_stage_cards_count_only_the_owner_the_list_is_filtered_by(company, client_as):
    _deals(company)
    page = client_as("head").get(f"/deals?owner_id={company['staff'].id}").text
    assert "年度合同" in page and "试点" not in page
    lead = _card(page, "Lead")
    assert '<div class="fw-semibold">1</div>' in lead and "¥1,000" in lead  # not the 3 leads of the whole team
    assert "Weighted open pipeline: ¥100.00" in page  # 10% of staff's 1000, nothing of staff2's
    everyone = client_as("head").get("/deals").text
    assert '<div class="fw-semibold">3</div>' in _card(everyone, "Lead")


def test_the_owner_filter_shows_as_a_chip_and_a_select_and_is_kept_by_cards_and_the_form(company, client_as):
    _deals(company)
    staff_id = company["staff"].id
    page = client_as("head").get(f"/deals?owner_id={staff_id}&campaign_id=").text
    chip = page[page.index('data-testid="owner-filter"'):]
    chip = chip[:chip.index("</p>")]
    assert company["staff"].display_name in chip and 'href="/deals"' in chip  # × leads to everyone's deals
    assert re.search(rf'<option value="{staff_id}"\s+selected>', page)  # the select says it too
    assert f'href="/deals?stage=won&amp;owner_id={staff_id}"' in page  # a stage card keeps the owner
    assert f'/deals/export?format=csv&amp;owner_id={staff_id}' in page
    # The filter form keeps the owner (a select for those who manage people, a hidden field otherwise).
    form = page[page.index('<form class="row g-2 mb-3" method="get">'):]
    assert 'name="owner_id"' in form[:form.index("</form>")]
    rep = client_as("staff").get(f"/deals?owner_id={staff_id}").text
    assert 'data-testid="owner-filter"' in rep and 'name="owner_id"' in rep


def test_the_owner_select_offers_only_the_people_the_reader_manages(company, client_as):
    _deals(company)
    head = client_as("head").get("/deals").text
    assert 'name="owner_id"' in head and company["staff2"].display_name in head
    assert company["other_staff"].display_name not in head  # marketing is not the head's
    assert 'name="owner_id"' not in client_as("staff").get("/deals").text  # a rep has only their own


def test_deals_are_searched_by_deal_or_customer_name_and_the_cards_follow(company, client_as):
    _deals(company)
    client = client_as("head")
    by_customer = client.get("/deals", query_string={"q": "乙公司"}).text
    assert "试点" in by_customer and "扩容" in by_customer and "年度合同" not in by_customer
    assert '<div class="fw-semibold">2</div>' in _card(by_customer, "Lead")
    by_deal = client.get("/deals", query_string={"q": "二期"}).text
    assert "二期" in by_deal and "年度合同" not in by_deal
    assert 'href="/deals?stage=lead&amp;q=%E4%BA%8C%E6%9C%9F"' in by_deal
    assert "No deals match." in client.get("/deals", query_string={"q": "100%"}).text
    assert client.get("/deals", query_string={"q": "x" * 500, "owner_id": "abc"}).status_code == 200
