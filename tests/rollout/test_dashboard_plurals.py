"""Counts on the readiness, home and adoption pages read correctly in English (1 item, 2 items) and in Chinese."""
import re

from rollout.dashboard import services
from tests.conftest import login


def _blocking_only(*keys):
    for item in services.READINESS_ITEMS:
        services.save_readiness_setting(item.key, None, item.key in keys)


def _blocking_notes(page: str) -> set[str]:
    return set(re.findall(r'<div class="small text-muted">([^<]*blocking[^<]*|[^<]*阻断[^<]*)</div>', page))


def test_one_open_blocking_item_is_singular(company, client_as):
    _blocking_only("retro")
    page = client_as("lead").get("/rollout/").get_data(as_text=True)
    assert _blocking_notes(page) == {"1 blocking item open"}


def test_several_open_blocking_items_are_plural(company, client_as):
    _blocking_only("retro", "permissions")
    page = client_as("lead").get("/rollout/").get_data(as_text=True)
    assert _blocking_notes(page) == {"2 blocking items open"}


def test_open_blocking_items_in_chinese(app, company):
    _blocking_only("retro")
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    login(client, company["lead"])
    assert _blocking_notes(client.get("/rollout/").get_data(as_text=True)) == {"1 项阻断未通过"}


def test_home_page_counts_readiness_items(company, client_as):
    page = client_as("lead").get("/").get_data(as_text=True)
    total = len(services.READINESS_ITEMS)
    assert re.search(rf"\d+ of {total} items pass", page)


def test_adoption_ranking_names_its_weeks(company, client_as):
    sales = company["departments"]["sales"]
    page = client_as("head").get(f"/rollout/adoption/{sales.id}").get_data(as_text=True)
    assert f"Usage ranking (last {services.RANKING_WEEKS} weeks)" in page


def test_readiness_details_count_in_singular_and_plural(app, company, factory):
    """'1 seed user', '2 seed users': the item details are counted with ngettext too."""
    sales = company["departments"]["sales"]
    detail = lambda: next(i.detail for i in services.readiness({sales.id})[0].items if i.key == "seed_users")  # noqa: E731
    with app.test_request_context(headers={"Accept-Language": "en"}):
        seed = factory.user("staff", department=sales)
        seed.is_seed_user = True
        assert re.match(r"1 seed user for \d+ staff", detail())
        factory.user("staff", department=sales).is_seed_user = True
        assert re.match(r"2 seed users for \d+ staff", detail())
