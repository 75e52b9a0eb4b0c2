"""In a real browser: log in, switch language, open the home page."""
import pytest

from rollout.extensions import db
from tests.conftest import log_in

pytestmark = pytest.mark.browser


def test_login_switch_language_and_home(page, live_server, company):
    db.session.commit()
    log_in(page, live_server, "staff")
    assert page.locator("h1").inner_text().strip()
    first_language = page.locator("html").get_attribute("lang")
    page.click("[data-testid=lang-switch]")
    page.wait_for_load_state()
    second_language = page.locator("html").get_attribute("lang")
    assert {first_language, second_language} == {"zh-CN", "en"}
    if second_language == "en":
        assert "Welcome" in page.locator("h1").inner_text()
    else:
        assert "欢迎" in page.locator("h1").inner_text()
