"""In a real browser at 1280 px, in English: the list of imports shows every column, words and times whole."""
import pytest

from rollout.extensions import db
from rollout.imports import services
from tests.conftest import log_in
from tests.rollout.imports.helpers import upload, write_csv

pytestmark = pytest.mark.browser

#: The positions of the cells of a row that take more than one line (their height over one and a half lines).
WRAPPED = """row => Array.from(row.cells).map((cell, index) => {
  const range = document.createRange(); range.selectNodeContents(cell);
  return range.getBoundingClientRect().height > 1.5 * parseFloat(getComputedStyle(cell).lineHeight) ? index : -1;
}).filter(index => index >= 0)"""
#: Cells that may take more lines: the file's name, the status badges, who imported, date above time.
MAY_WRAP = {1, 3, 9, 10}


def test_the_list_of_imports_fits_in_english(browser, live_server, company, tmp_path):
    admin = company["admin"]
    services.run_import(upload(admin, write_csv(tmp_path, [["客户名称", "手机"], ["甲公司", "1"]])), admin)
    upload(admin, write_csv(tmp_path, [["客户名称"], ["乙公司"]], name="a.csv"))
    db.session.commit()
    db.session.close()
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900},
                                  extra_http_headers={"Accept-Language": "en-US"})
    page = context.new_page()
    try:
        log_in(page, live_server, "admin")
        page.goto(f"{live_server}/imports/")
        table = page.locator("[data-testid=batches]")
        assert table.evaluate("t => t.scrollWidth - t.parentElement.clientWidth") <= 0
        for row in table.locator("tbody tr").all():
            when = row.locator("td").last
            box = when.bounding_box()
            assert box["x"] + box["width"] <= 1280  # the When column is on screen
            # "Customers" and the counts stay whole.
            assert set(row.evaluate(WRAPPED)) <= MAY_WRAP
    finally:
        context.close()
