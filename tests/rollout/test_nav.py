"""The main menu lights exactly the entry of the page the user is on."""
import re

import pytest


def _lit(page: str) -> list[str]:
    return re.findall(r'<a class="nav-link active" aria-current="page" href="([^"]+)"', page)


@pytest.mark.parametrize("path, lit", [
    ("/", ["/"]),                    # Home only, not "Rollout", which shares its blueprint
    ("/rollout/", ["/rollout/"]),
    ("/customers", ["/customers"]),  # not "Plans" too, though both are the plans blueprint
    ("/plans/actual", ["/plans"]),
    ("/leads", ["/plans"]),          # no entry of its own: the first of its blueprint
    ("/profile", []),
])
def test_one_menu_entry_is_lit(client_as, path, lit):
    response = client_as("lead").get(path)
    assert response.status_code == 200
    assert _lit(response.get_data(as_text=True)) == lit


def test_english_menu_collapses_later_than_the_chinese_one(client_as):
    client = client_as("lead")
    assert "navbar-expand-xl" in client.get("/").get_data(as_text=True)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert "navbar-expand-lg" in client.get("/").get_data(as_text=True)
