"""The customer search (list, export and public pool): names, phones however typed, emails, contacts; within scope."""
import csv
import io
import re

import pytest

from rollout.extensions import db
from rollout.plans import services

NAMES = ("恒达精密机械有限公司", "ACME 贸易", "上海申通物流", "蓝海科技")


@pytest.fixture
def customers(company):
    staff = company["staff"]
    made = {
        "恒达精密机械有限公司": services.create_customer("恒达精密机械有限公司", staff, phone="195 3155 5396"),
        "ACME 贸易": services.create_customer("ACME 贸易", staff, email="Info43@Client43.com"),
        "上海申通物流": services.create_customer("上海申通物流", staff, phone="021-85898706"),
        "蓝海科技": services.create_customer("蓝海科技", staff),
    }
    services.add_contact(made["蓝海科技"], "罗文博", phone="138 0013 8000", email="wenbo.luo@lanhai.cn")
    db.session.commit()
    return made


def found(client, text, path="/customers"):
    page = client.get(path, query_string={"q": text}).get_data(as_text=True)
    return {name for name in NAMES if name in page}


@pytest.mark.parametrize("text, expected", [
    # the customer's own name, phone and email
    ("恒达精密", "恒达精密机械有限公司"),
    ("195 3155 5396", "恒达精密机械有限公司"),
    ("19531555396", "恒达精密机械有限公司"),
    ("+86 19531555396", "恒达精密机械有限公司"),
    ("+86-195-3155-5396", "恒达精密机械有限公司"),
    ("5396", "恒达精密机械有限公司"),
    ("02185898706", "上海申通物流"),
    ("021 8589 8706", "上海申通物流"),
    ("021-8589", "上海申通物流"),
    ("8589 8706", "上海申通物流"),
    ("info43@client43.com", "ACME 贸易"),
    ("INFO43@CLIENT43.COM", "ACME 贸易"),
    ("client43", "ACME 贸易"),
    # full-width letters and digits, as a Chinese input method types them
    ("ＡＣＭＥ", "ACME 贸易"),
    ("ａｃｍｅ", "ACME 贸易"),
    ("１９５３１５５", "恒达精密机械有限公司"),
    # a contact's name, mobile (however typed) and email
    ("罗文博", "蓝海科技"),
    ("13800138000", "蓝海科技"),
    ("138-0013-8000", "蓝海科技"),
    ("+86 138 0013 8000", "蓝海科技"),
    ("0013 8000", "蓝海科技"),
    ("WENBO.LUO@lanhai.cn", "蓝海科技"),
])
def test_the_search_finds_a_customer_by_what_people_type(customers, client_as, text, expected):
    assert found(client_as("staff"), text) == {expected}


def test_percent_and_underscore_stay_literal_in_every_field(company, customers, client_as):
    staff = company["staff"]
    other = services.create_customer("百分百科技", staff, email="a_b@x.cn")
    services.add_contact(other, "Zhang 100%")
    services.create_customer("ZhangX 100 科技", staff, email="axb@x.cn")
    db.session.commit()
    client = client_as("staff")

    def names(text):
        page = client.get("/customers", query_string={"q": text}).get_data(as_text=True)
        return {name for name in ("百分百科技", "ZhangX 100 科技") if name in page}
    assert names("a_b@") == {"百分百科技"}
    assert names("100%") == {"百分百科技"}
    assert names("%") == {"百分百科技"}
    assert names("_") == {"百分百科技"}


def test_a_rep_does_not_find_another_teams_customer_through_its_contact(company, customers, client_as):
    theirs = services.create_customer("乙组客户", company["staff2"])
    services.add_contact(theirs, "罗文博", phone="13900139000")
    db.session.commit()

    def names(client, text):
        page = client.get("/customers", query_string={"q": text}).get_data(as_text=True)
        return {name for name in ("蓝海科技", "乙组客户") if name in page}
    assert names(client_as("staff"), "罗文博") == {"蓝海科技"}
    assert names(client_as("staff"), "13900139000") == set()
    assert names(client_as("staff2"), "罗文博") == {"乙组客户"}
    assert names(client_as("head"), "罗文博") == {"蓝海科技", "乙组客户"}
    assert names(client_as("other_head"), "罗文博") == set()


def test_the_export_applies_the_same_search(company, customers, client_as):
    response = client_as("head").get("/customers/export", query_string={"format": "csv", "q": "罗文博"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row[0] for row in rows[1:]] == ["蓝海科技"]
    response = client_as("head").get("/customers/export", query_string={"format": "csv", "q": "+86 19531555396"})
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row[0] for row in rows[1:]] == ["恒达精密机械有限公司"]


def test_the_pool_search_finds_by_phone_email_and_contact(company, client_as):
    sales = company["departments"]["sales"]
    pooled = services.create_customer("恒达精密机械有限公司", company["head"], phone="195 3155 5396",
                                      email="info43@client43.com", in_pool=True, department_id=sales.id)
    services.add_contact(pooled, "罗文博")
    services.create_customer("蓝海科技", company["head"], in_pool=True, department_id=sales.id)
    services.create_customer("ACME 贸易", company["other_head"], in_pool=True,
                             department_id=company["departments"]["marketing"].id)
    db.session.commit()
    client = client_as("staff")
    for text in ("恒达", "+86 195 3155 5396", "INFO43@client43.com", "罗文博", "１９５３"):
        assert found(client, text, "/customers/pool") == {"恒达精密机械有限公司"}, text
    assert found(client, "", "/customers/pool") == {"恒达精密机械有限公司", "蓝海科技"}
    assert found(client, "ACME", "/customers/pool") == set()  # another department's pool


def test_the_search_boxes_take_at_most_100_characters_and_a_longer_search_is_cut(customers, client_as):
    client = client_as("staff")
    for path in ("/customers", "/customers/pool"):
        page = client.get(path).get_data(as_text=True)
        box = re.search(r'<input[^>]*name="q"[^>]*>', page).group(0)
        assert 'maxlength="100"' in box, path
    long = "恒达精密" + "机" * 496
    response = client.get("/customers", query_string={"q": long})
    assert response.status_code == 200
    box = re.search(r'<input[^>]*name="q"[^>]*>', response.get_data(as_text=True)).group(0)
    assert f'value="{long[:100]}"' in box
    assert client.get("/customers/pool", query_string={"q": long}).status_code == 200


def test_the_search_text_is_normalised_and_cut():
    assert services.search_text("  ＡＣＭＥ　 贸易 ") == "ACME 贸易"
    assert services.search_text(None) == ""
    assert len(services.search_text("字" * 450)) == services.SEARCH_MAX_LENGTH


def test_a_searched_list_issues_the_same_number_of_statements_at_two_sizes(company, client_as, count_statements):
    counts = {"/customers?q=罗文博": [], "/customers?q=%2B86 138": [], "/customers/pool?q=罗文博": []}
    head = client_as("head")
    sales = company["departments"]["sales"]
    for size in (2, 12):
        for i in range(size):
            owned = services.create_customer(f"客户{size}-{i}", company["staff"] if i % 2 else company["staff2"],
                                             phone=f"1380013{size:02d}{i:02d}")
            services.add_contact(owned, "罗文博", phone=f"1390013{size:02d}{i:02d}")
            pooled = services.create_customer(f"公海{size}-{i}", company["head"], in_pool=True, department_id=sales.id)
            services.add_contact(pooled, "罗文博")
        db.session.commit()
        for path in counts:
            head.get(path)
            db.session.expire_all()
            with count_statements() as counter:
                response = head.get(path)
                assert response.status_code == 200 and f"{size}-1" in response.get_data(as_text=True), path
            counts[path].append(counter.count)
    assert {path: pair for path, pair in counts.items() if pair[0] != pair[1]} == {}
