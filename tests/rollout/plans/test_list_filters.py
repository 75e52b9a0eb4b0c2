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


# --- follow-ups ----------------------------------------------------------------------------------------
def _overdue(user, customer, n, days_ago=3):
    for i in range(n):
        services.log_activity(customer, user, "call", utcnow() - timedelta(days=days_ago + 1), f"通话{i}",
                              f"回访{i}", local_today() - timedelta(days=days_ago))


def test_the_overdue_card_says_how_many_there_are_and_links_to_all_of_them(company, client_as):
    customer = services.create_customer("甲公司", company["staff"])
    _overdue(company["staff"], customer, 23)
    db.session.commit()
    client = client_as("staff")
    page = client.get("/activities").text
    assert "the oldest 20 of 23" in page
    link = f'href="/activities?overdue=1&amp;user_id={company["staff"].id}"'
    assert link in page and "All my overdue next steps (23)" in page
    listing = client.get(f"/activities?overdue=1&user_id={company['staff'].id}").text
    assert "23 in all" in listing and listing.count(">Mark done<") >= 25  # 20 in the card, each row of the page


def test_a_head_lists_the_overdue_next_steps_of_the_reps_they_head_and_no_others(company, client_as):
    _overdue(company["staff"], services.create_customer("甲公司", company["staff"]), 2)
    _overdue(company["staff2"], services.create_customer("乙公司", company["staff2"]), 1)
    _overdue(company["other_staff"], services.create_customer("丙公司", company["other_staff"]), 1)
    services.log_activity(services.create_customer("丁公司", company["staff"]), company["staff"], "visit",
                          utcnow(), "拜访", "签约", local_today() + timedelta(days=3))  # not yet due
    db.session.commit()
    head = client_as("head")
    page = head.get("/activities?overdue=1").text
    assert "甲公司" in page and "乙公司" in page and "3 in all" in page
    assert "丙公司" not in page and "丁公司" not in page
    assert "All my overdue next steps" not in head.get("/activities").text  # the head has none of their own
    one = head.get(f"/activities?overdue=1&user_id={company['staff2'].id}").text
    assert "乙公司" in one and "甲公司" not in one and "1 in all" in one
    _overdue(company["head"], services.create_customer("戊公司", company["head"]), 1)
    db.session.commit()
    card = head.get("/activities").text
    assert 'href="/activities?overdue=1"' in card and "All my overdue next steps (1)" in card
    rep = client_as("staff").get("/activities").text
    assert "All my overdue next steps (2)" in rep and 'href="/activities?overdue=1"' not in rep
    # A rep asking for a colleague's follow-ups sees nothing of them.
    assert "乙公司" not in client_as("staff").get(f"/activities?user_id={company['staff2'].id}").text


def test_follow_ups_filter_by_customer_person_kind_and_days_and_the_pages_keep_them(company, client_as):
    mine = services.create_customer("甲公司", company["staff"])
    other = services.create_customer("乙公司", company["staff"])
    for i in range(30):
        services.log_activity(mine, company["staff"], "call", utcnow() - timedelta(days=i), f"甲通话{i}")
    services.log_activity(other, company["staff"], "visit", utcnow() - timedelta(days=1), "乙拜访")
    services.log_activity(mine, company["staff"], "visit", utcnow() - timedelta(days=40), "甲旧拜访")
    db.session.commit()
    client = client_as("staff")
    page = client.get(f"/activities?customer_id={mine.id}&kind=call").text
    assert "31 in all" not in page and "30 in all" in page and "乙拜访" not in page
    assert 'data-testid="customer-filter"' in page and "Customer: 甲公司" in page
    assert f'customer_id={mine.id}' in page[page.index('aria-label="Pages"'):]  # the next page keeps the filters
    assert 'name="customer_id"' in page  # so does the filter form
    second = client.get(f"/activities?customer_id={mine.id}&kind=call&page=2").text
    assert "Page 2 of 2" in second and "5 in all" not in second
    since = (local_today() - timedelta(days=50)).isoformat()
    until = (local_today() - timedelta(days=35)).isoformat()
    ranged = client.get(f"/activities?since={since}&until={until}").text
    assert "甲旧拜访" in ranged and "1 in all" in ranged
    backwards = client.get(f"/activities?since={until}&until={since}").text  # typed the wrong way round
    assert "甲旧拜访" in backwards
    for bad in ("since=2026-13-45", "user_id=abc", "customer_id=-1", "kind=fax", "overdue=yes", "page=x"):
        assert client.get(f"/activities?{bad}").status_code == 200, bad


def test_a_customer_filter_does_not_reveal_a_customer_the_reader_may_not_see(company, client_as):
    theirs = services.create_customer("乙公司", company["staff2"])
    services.log_activity(theirs, company["staff2"], "call", utcnow(), "通话")
    db.session.commit()
    page = client_as("staff").get(f"/activities?customer_id={theirs.id}").text
    assert "乙公司" not in page and f"Customer: #{theirs.id}" in page


def test_far_pages_of_follow_ups_never_read_page_41_of_40(company, client_as, monkeypatch):
    from rollout.plans import views
    monkeypatch.setattr(views, "SEARCH_COUNT_LIMIT", 50)
    customer = services.create_customer("甲公司", company["staff"])
    for i in range(80):
        services.log_activity(customer, company["staff"], "call", utcnow() - timedelta(hours=i), f"通话{i}")
    db.session.commit()
    client = client_as("staff")
    first = client.get("/activities").text
    assert "More than 50" in first and "Page 1 of 2 or more" in first
    third = client.get("/activities?page=3").text
    assert "Page 3 of 4" in third and "80 in all" in third and "of 2 or more" not in third


def test_mark_done_returns_to_the_same_filtered_page(company, client_as):
    customer = services.create_customer("甲公司", company["staff"])
    _overdue(company["staff"], customer, 1)
    db.session.commit()
    step = services.overdue_next_steps(company["staff"])[0]
    client = client_as("staff")
    page = client.get("/activities?kind=call&page=1").text
    assert 'name="next" value="/activities?kind=call&amp;page=1"' in page
    response = client.post(f"/activities/{step.id}/done", data={"next": "/activities?kind=call&page=3"})
    assert response.status_code == 302 and response.headers["Location"] == "/activities?kind=call&page=3"
    db.session.expire_all()
    assert step.is_next_step_done
    elsewhere = client.post(f"/activities/{step.id}/done", data={"next": "//evil.example/"})
    assert elsewhere.headers["Location"] == "/activities"


def test_a_page_past_the_end_of_the_follow_ups_leads_to_the_last_one(company, client_as):
    customer = services.create_customer("甲公司", company["staff"])
    for i in range(30):
        services.log_activity(customer, company["staff"], "call", utcnow() - timedelta(hours=i), f"通话{i}")
    db.session.commit()
    response = client_as("staff").get("/activities?kind=call&page=9")
    page = response.get_data(as_text=True)
    # the last page (the 5 oldest calls), not an empty "page 9 of 2"
    assert response.status_code == 200 and "通话29" in page and "通话24" not in page


def test_filtered_lists_issue_the_same_number_of_statements_at_two_sizes(company, client_as, count_statements):
    customer = services.create_customer("甲公司", company["staff"])
    db.session.commit()
    staff_id = company["staff"].id
    paths = [f"/activities?overdue=1&user_id={staff_id}&customer_id={customer.id}&kind=call",
             f"/activities?since=2000-01-01&until=2100-01-01&user_id={staff_id}",
             f"/deals?owner_id={staff_id}&q=项目", f"/leads?status=new"]
    counts = {path: [] for path in paths}
    head = client_as("head")
    for size in (2, 12):
        for i in range(size):
            other = services.create_customer(f"客户{size}-{i}", company["staff"] if i % 2 else company["staff2"])
            _overdue(company["staff"], customer, 1)
            services.create_opportunity(other, company["staff"], f"项目{size}-{i}", "1000")
            services.create_lead(company["other_staff"], f"线索{size}-{i}")
        db.session.commit()
        for path in paths:
            head.get(path)
            db.session.expire_all()
            with count_statements() as counter:
                assert head.get(path).status_code == 200, path
            counts[path].append(counter.count)
    assert {path: pair for path, pair in counts.items() if pair[0] != pair[1]} == {}


# --- a customer's follow-ups ------------------------------------------------------------------------------
def test_a_customers_follow_up_tab_shows_the_total_and_pages_back_to_the_oldest(company, client_as):
    customer = services.create_customer("甲公司", company["staff"])
    for i in range(120):
        services.log_activity(customer, company["staff"], "call", utcnow() - timedelta(hours=i), f"第{i}次通话")
    db.session.commit()
    client = client_as("staff")
    first = client.get(f"/customers/{customer.id}?tab=activities").text
    assert "120 in all" in first and "Page 1 of 3" in first and "第0次通话" in first and "第119次通话" not in first
    assert f'href="/customers/{customer.id}?tab=activities&amp;page=2"' in first
    assert f'href="/activities?customer_id={customer.id}"' in first
    last = client.get(f"/customers/{customer.id}?tab=activities&page=3").text
    assert "第119次通话" in last and "第100次通话" in last and "第99次通话" not in last
    # The failed form of a follow-up shows the tab with the same pages.
    response = client.post(f"/customers/{customer.id}/activities", data={"a-kind": "call"})
    assert response.status_code == 422 and "120 in all" in response.text
    assert f'href="/customers/{customer.id}?page=2&amp;tab=activities"' in response.text


# --- leads ---------------------------------------------------------------------------------------------
def _hand_form(page: str, lead_id: int) -> str:
    form = page[page.index(f'action="/leads/{lead_id}/hand"'):]
    return form[:form.index("</form>")]


def test_the_hand_off_select_starts_on_choose_and_a_hand_off_without_a_rep_is_refused(company, client_as):
    from rollout.plans.models import Lead
    lead = services.create_lead(company["other_staff"], "宏图物流")
    db.session.commit()
    client = client_as("other_staff")
    form = _hand_form(client.get("/leads?status=new").text, lead.id)
    first_option = re.search(r"<option[^>]*>([^<]*)</option>", form)
    assert first_option.group(1) == "— Choose a sales rep —" and 'value="0"' in first_option.group(0)
    assert re.findall(r"<option selected[^>]*>([^<]*)<", form) == ["— Choose a sales rep —"]  # nobody else
    response = client.post(f"/leads/{lead.id}/hand", data={"h-owner_id": "0", "h-respond_by": "2030-01-02T18:00",
                                                          "next": "/leads?status=new&page=1"})
    assert response.status_code == 303 and response.headers["Location"] == "/leads?status=new&page=1"
    assert "Choose the sales rep to hand 宏图物流 to." in client.get("/leads").text
    response = client.post(f"/leads/{lead.id}/hand", data={"h-respond_by": "2030-01-02T18:00"})
    assert response.status_code == 303 and response.headers["Location"] == "/leads"
    response = client.post(f"/leads/{lead.id}/hand", data={"h-owner_id": str(company["staff"].id)})
    assert "Choose the date and time by which the rep must respond." in client.get("/leads").text
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).owner_id is None and db.session.get(Lead, lead.id).status == "new"


def test_handing_and_sending_back_a_lead_return_to_the_same_filtered_page(company, client_as):
    from rollout.plans.models import Lead
    lead = services.create_lead(company["other_staff"], "宏图物流")
    db.session.commit()
    marketer = client_as("other_staff")
    page = marketer.get("/leads?status=new&page=1").text
    assert 'name="next" value="/leads?status=new&amp;page=1"' in _hand_form(page, lead.id)
    response = marketer.post(f"/leads/{lead.id}/hand", data={
        "h-owner_id": str(company["staff"].id), "h-respond_by": "2030-01-02T18:00", "next": "/leads?status=new&page=1"})
    assert response.status_code == 302 and response.headers["Location"] == "/leads?status=new&page=1"
    rep = client_as("staff")
    assert 'name="next" value="/leads?mine=1"' in rep.get("/leads?mine=1").text
    response = rep.post(f"/leads/{lead.id}/respond", data={"action": "reject", "comment": "不是目标客户",
                                                           "next": "/leads?mine=1"})
    assert response.headers["Location"] == "/leads?mine=1"
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).status == "rejected"
    response = marketer.post(f"/leads/{lead.id}/hand", data={
        "h-owner_id": str(company["staff"].id), "h-respond_by": "2030-01-02T18:00", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/leads"


# --- on a phone ----------------------------------------------------------------------------------------
def test_phone_and_email_inputs_bring_up_the_right_keyboard(company, client_as):
    services.save_field(None, "wechat_phone", "微信电话", "phone", "", is_required=False, is_listed=False)
    db.session.commit()
    client = client_as("staff")
    form = client.get("/customers/new").text
    assert re.search(r'<input[^>]*inputmode="tel"[^>]*name="phone"[^>]*type="tel"', form)
    assert re.search(r'<input[^>]*inputmode="email"[^>]*name="email"[^>]*type="email"', form)
    assert re.search(r'<input[^>]*name="x_wechat_phone"[^>]*type="tel"', form)
    assert 'autocomplete="off"' in form  # a customer's number, not the rep's own saved one
    customer = services.create_customer("甲公司", company["staff"])
    db.session.commit()
    page = client.get(f"/customers/{customer.id}").text
    assert re.search(r'<input[^>]*inputmode="tel"[^>]*name="c-phone"[^>]*type="tel"', page)
    assert re.search(r'<input[^>]*name="c-email"[^>]*type="email"', page)
    deals = client.get(f"/customers/{customer.id}?tab=deals").text
    assert re.search(r'<input[^>]*inputmode="decimal"[^>]*name="o-amount"', deals)
    quote = client.get(f"/customers/{customer.id}/quotes/new").text
    assert re.search(r'<input[^>]*inputmode="decimal"[^>]*name="list_amount"', quote)
    assert re.search(r'<input[^>]*inputmode="decimal"[^>]*name="discount_percent"', quote)


def test_phone_numbers_are_links_that_dial_them(company, client_as):
    customer = services.create_customer("甲公司", company["staff"], phone="010-62345678 转801")
    services.add_contact(customer, "王经理", "采购", "13812345678", "wang@example.com", True)
    db.session.commit()
    client = client_as("staff")
    page = client.get(f"/customers/{customer.id}").text
    assert '<a href="tel:01062345678,801">010-62345678 转801</a>' in page
    assert '<a href="tel:13812345678">13812345678</a>' in page
    assert '<a href="mailto:wang@example.com">wang@example.com</a>' in page
    assert 'href="tel:01062345678,801"' in client.get("/customers").text


def test_a_dial_link_keeps_only_what_a_phone_dials():
    assert services.dial_uri("+1 415 555 0100") == "tel:+14155550100"
    assert services.dial_uri("021-5555 ext. 12") == "tel:0215555,12"
    assert services.dial_uri("无") is None and services.dial_uri(None) is None and services.dial_uri("") is None
    assert services.dial_uri('13812345678"><script>') == "tel:13812345678"
