"""Sortable columns on the customer, deal and follow-up lists: a heading sorts, a second click reverses, the
current column says so (arrow and aria-sort); the sort stays through pages, filters, the search form and the
customer export; an unknown sort is the default order; paging is stable on ties; no statement per row."""
import csv
import io
import re
from datetime import date, timedelta

import pytest

from rollout.extensions import db
from rollout.plans import services
from rollout.timeutil import local_today, utcnow


def _rows(page: str) -> str:
    return page.split("<tbody>")[1].split("</tbody>")[0]


def _order(page: str, names) -> list:
    """The given names in the order the list's rows show them."""
    body = _rows(page)
    return sorted((name for name in names if name in body), key=body.index)


def _heading(page: str, key: str) -> str:
    """The <th> … </th> of the heading that sorts by ``key``."""
    at = page.index(f'data-sort="{key}"')
    return page[page.rindex("<th", 0, at):page.index("</th>", at)]


def _href(heading: str) -> str:
    return re.search(r'href="([^"]*)"', heading).group(1).replace("&amp;", "&")


@pytest.fixture
def customers(company):
    """Four customers of staff and staff2; 乙 and 丁 with no follow-up date."""
    made = {}
    for name, owner, days_ago in (("Bravo 乙", "staff", None), ("alpha 甲", "staff2", 3), ("Delta 丁", "staff", None),
                                  ("charlie 丙", "staff2", 1)):
        customer = services.create_customer(name, company[owner])
        # (as an import may leave it: no date at all)
        customer.last_followup_at = utcnow() - timedelta(days=days_ago) if days_ago is not None else None
        made[name] = customer
    company["staff"].display_name, company["staff2"].display_name = "Zhang", "li"
    db.session.commit()
    return made


NAMES = ("alpha 甲", "Bravo 乙", "charlie 丙", "Delta 丁")


# --- customers --------------------------------------------------------------------------------------------------
def test_a_heading_sorts_the_customers_and_a_second_click_reverses(client_as, customers):
    client = client_as("head")
    default = client.get("/customers").text
    assert _order(default, NAMES) == ["charlie 丙", "Delta 丁", "alpha 甲", "Bravo 乙"]  # newest first
    assert "aria-sort" not in default
    assert _href(_heading(default, "name")) == "/customers?sort=name"
    ascending = client.get("/customers?sort=name").text
    assert _order(ascending, NAMES) == list(NAMES)  # case does not count: alpha, Bravo, charlie, Delta
    heading = _heading(ascending, "name")
    assert 'aria-sort="ascending"' in heading and "▲" in heading and _href(heading) == "/customers?sort=-name"
    assert 'aria-sort' not in _heading(ascending, "owner")
    descending = client.get(_href(heading)).text
    assert _order(descending, NAMES) == list(reversed(NAMES))
    heading = _heading(descending, "name")
    assert 'aria-sort="descending"' in heading and "▼" in heading and _href(heading) == "/customers?sort=name"


def test_customers_sort_by_owner_and_by_last_follow_up_with_the_never_followed_last(client_as, customers):
    client = client_as("head")
    # Owners li (staff2) then Zhang (staff); each owner's customers by id (the order they were made).
    assert _order(client.get("/customers?sort=owner").text, NAMES) == ["alpha 甲", "charlie 丙", "Bravo 乙",
                                                                       "Delta 丁"]
    assert _order(client.get("/customers?sort=-owner").text, NAMES) == ["Delta 丁", "Bravo 乙", "charlie 丙",
                                                                        "alpha 甲"]
    assert _order(client.get("/customers?sort=last_followup").text, NAMES)[:2] == ["alpha 甲", "charlie 丙"]
    assert _order(client.get("/customers?sort=-last_followup").text, NAMES)[:2] == ["charlie 丙", "alpha 甲"]


@pytest.mark.parametrize("sort", ["bogus", "-", "--name", "name;drop table customers", "created_at", "phone",
                                  "x" * 5000, "名称"])
def test_an_unknown_sort_shows_the_default_order(client_as, customers, sort):
    client = client_as("head")
    for path, names in (("/customers", ["charlie 丙", "Delta 丁", "alpha 甲", "Bravo 乙"]), ("/deals", None),
                        ("/activities", None)):
        response = client.get(path, query_string={"sort": sort})
        assert response.status_code == 200, path
        assert "aria-sort" not in response.text and 'name="sort"' not in response.text
        if names:
            assert _order(response.text, NAMES) == names


def test_the_sort_stays_through_pages_filters_search_and_export(client_as, company, customers):
    for i in range(30):
        services.create_customer(f"客户{i:02d}", company["staff"])
    db.session.commit()
    client = client_as("head")
    page = client.get(f"/customers?sort=-name&owner_id={company['staff'].id}").text
    # the filter and search form keeps it ...
    form = page[page.index('<form class="row g-2 mb-3" method="get">'):]
    assert '<input type="hidden" name="sort" value="-name">' in form[:form.index("</form>")]
    # ... the page links keep it, and a heading keeps the filters (and goes back to page 1)
    assert "sort=-name" in re.search(r'href="([^"]*page=2[^"]*)"', page).group(1)
    assert _href(_heading(client.get(f"/customers?sort=-name&owner_id={company['staff'].id}&page=2").text,
                          "owner")) == f"/customers?owner_id={company['staff'].id}&sort=owner"
    # ... and so do the export links, which write the rows in the list's order
    export = re.search(r'href="(/customers/export\?format=csv[^"]*)"', page).group(1).replace("&amp;", "&")
    assert "sort=-name" in export
    rows = list(csv.reader(io.StringIO(client.get(export).data.decode("utf-8-sig"))))[1:]
    names = [row[0] for row in rows]
    assert names[:3] == ["客户29", "客户28", "客户27"] and names[-2:] == ["Delta 丁", "Bravo 乙"]
    assert len(names) == 32 and "alpha 甲" not in names  # staff's customers only
    assert client.get("/customers/export?format=csv&sort=bogus").status_code == 200


def test_paging_a_sort_with_ties_shows_every_customer_once(client_as, company):
    for i in range(60):
        services.create_customer(f"同名{i:02d}", company["staff"])  # one owner: every row ties on the owner
    db.session.commit()
    client = client_as("head")
    seen = []
    for number in (1, 2, 3):
        body = _rows(client.get(f"/customers?sort=-owner&page={number}").text)
        seen += re.findall(r"同名\d\d", body)
    assert sorted(seen) == [f"同名{i:02d}" for i in range(60)]
    assert seen == [f"同名{i:02d}" for i in reversed(range(60))]  # ties: by id, the same way round


# --- deals --------------------------------------------------------------------------------------------------------
@pytest.fixture
def deals(company, customers):
    made = {}
    today = local_today()
    for name, customer, owner, amount, close in (
            ("Deal A", "Delta 丁", "staff", "500", today + timedelta(days=400)),
            ("deal b", "alpha 甲", "staff2", "3000", None),
            ("Deal C", "Bravo 乙", "staff", "1000", today + timedelta(days=200))):
        made[name] = services.create_opportunity(customers[customer], company[owner], name, amount, close)
    services.move_stage(made["Deal C"], "quoted", company["staff"])
    services.move_stage(made["Deal C"], "won", company["staff"])  # closes today: the close date is today
    db.session.commit()
    return made


DEALS = ("Deal A", "deal b", "Deal C")


@pytest.mark.parametrize("sort, expected", [
    ("name", ["Deal A", "deal b", "Deal C"]), ("-amount", ["deal b", "Deal C", "Deal A"]),
    ("amount", ["Deal A", "Deal C", "deal b"]), ("stage", ["Deal A", "deal b", "Deal C"]),
    ("-stage", ["Deal C", "deal b", "Deal A"]), ("customer", ["deal b", "Deal C", "Deal A"]),
    ("close", ["Deal C", "Deal A", "deal b"]), ("-close", ["Deal A", "Deal C", "deal b"]),
    ("owner", ["deal b", "Deal A", "Deal C"]),
])
def test_deals_sort_by_their_columns(client_as, deals, sort, expected):
    page = client_as("head").get(f"/deals?sort={sort}").text
    assert _order(page, DEALS) == expected
    assert f'aria-sort="{"descending" if sort.startswith("-") else "ascending"}"' in _heading(page, sort.lstrip("-"))


def test_the_deal_stage_cards_form_and_export_keep_the_sort(client_as, deals):
    client = client_as("head")
    page = client.get("/deals?sort=-amount&q=deal").text
    assert 'href="/deals?stage=lead&amp;q=deal&amp;sort=-amount"' in page
    assert '<input type="hidden" name="sort" value="-amount">' in page
    export = re.search(r'href="(/deals/export\?format=csv[^"]*)"', page).group(1).replace("&amp;", "&")
    rows = list(csv.reader(io.StringIO(client.get(export).data.decode("utf-8-sig"))))[1:]
    assert [row[0] for row in rows] == ["deal b", "Deal C", "Deal A"]


# --- follow-ups ---------------------------------------------------------------------------------------------------
@pytest.fixture
def follow_ups(company, customers):
    logged = {}
    for outcome, customer, who, kind, hours_ago, next_on in (
            ("第一", "charlie 丙", "staff2", "call", 1, date(2020, 1, 2)),
            ("第二", "alpha 甲", "staff2", "visit", 5, None),
            ("第三", "Bravo 乙", "staff", "meeting", 3, date(2020, 1, 1))):
        activity = services.log_activity(customers[customer], company[who], kind,
                                         utcnow() - timedelta(hours=hours_ago), outcome)
        activity.next_step, activity.next_step_on = ("回访" if next_on else None), next_on
        logged[outcome] = activity
    db.session.commit()
    return logged


OUTCOMES = ("第一", "第二", "第三")


@pytest.mark.parametrize("sort, expected", [
    ("", ["第一", "第三", "第二"]), ("when", ["第二", "第三", "第一"]), ("kind", ["第二", "第一", "第三"]),
    ("customer", ["第二", "第三", "第一"]), ("-user", ["第三", "第二", "第一"]),
    ("next_step", ["第三", "第一", "第二"]), ("-next_step", ["第一", "第三", "第二"]),
])
def test_follow_ups_sort_by_their_columns(client_as, follow_ups, sort, expected):
    assert _order(client_as("head").get(f"/activities?sort={sort}").text, OUTCOMES) == expected


def test_a_sort_overrides_the_overdue_order_and_survives_clearing_the_filters(client_as, company, follow_ups):
    client = client_as("head")
    assert _order(client.get("/activities?overdue=1").text, OUTCOMES) == ["第三", "第一"]  # oldest step first
    page = client.get("/activities?overdue=1&sort=-when").text
    assert _order(page, OUTCOMES) == ["第一", "第三"]
    assert 'href="/activities?sort=-when">Clear filters' in page
    assert '<input type="hidden" name="sort" value="-when">' in page
    only_sorted = client.get("/activities?sort=customer").text
    assert "Clear filters" not in only_sorted  # a sort is not a filter


# --- statements -------------------------------------------------------------------------------------------------
def test_sorted_lists_issue_the_same_number_of_statements_as_unsorted_ones(company, client_as, count_statements):
    head = client_as("head")
    lists = {"/customers": ["name", "-owner", "campaign", "last_followup"],
             "/deals": ["customer", "-stage", "owner", "campaign", "close"],
             "/activities": ["customer", "-user", "kind", "next_step"]}
    counts = {}
    for size in (2, 12):
        for i in range(size):
            customer = services.create_customer(f"客户{size}-{i}", company["staff"] if i % 2 else company["staff2"])
            services.create_opportunity(customer, company["staff"], f"项目{size}-{i}", "1000")
            services.log_activity(customer, company["staff"], "call", utcnow() - timedelta(hours=i), "通话")
        db.session.commit()
        for path, sorts in lists.items():
            for sort in ["", *sorts]:
                head.get(path, query_string={"sort": sort})
                db.session.expire_all()
                with count_statements() as counter:
                    assert head.get(path, query_string={"sort": sort}).status_code == 200
                counts.setdefault((path, sort), []).append(counter.count)
    assert {key: pair for key, pair in counts.items() if pair[0] != pair[1]} == {}
    for path, sorts in lists.items():
        assert {counts[(path, sort)][0] for sort in sorts} == {counts[(path, "")][0]}, path
