"""Follow-ups from the old spreadsheets: two calls on the same day with different notes are two follow-ups,
and the rows an import skips as duplicates are listed with their row numbers and what they duplicate."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rollout.extensions import db
from rollout.imports import services
from rollout.plans.models import Activity
from rollout.timeutil import local_today
from tests.rollout.imports.helpers import import_customer, upload, write_csv

HEADER = ["客户名称", "跟进人", "跟进方式", "跟进日期", "跟进内容"]


@pytest.fixture
def admin(tmp_path, company):
    import_customer(tmp_path, company["admin"])
    return company["admin"]


def _run(admin, tmp_path, rows, name="activities.csv"):
    batch = services.run_import(upload(admin, write_csv(tmp_path, [HEADER, *rows], name=name),
                                       target="activities"), admin)
    db.session.commit()
    return batch


def _activities():
    return db.session.scalar(select(func.count()).select_from(Activity))


def test_same_day_follow_ups_with_different_content_are_all_imported(tmp_path, admin):
    days = [(local_today() - timedelta(days=n)).isoformat() for n in range(1, 6)]
    rows = [["北京星辰科技", "staff", "电话", days[n % 5], f"第{n}次电话：谈报价"] for n in range(60)]
    batch = _run(admin, tmp_path, rows)
    assert (batch.created_count, batch.skipped_count, batch.error_count) == (60, 0, 0)
    assert _activities() == 60


def test_the_same_content_on_the_same_day_is_still_a_duplicate(tmp_path, admin, client_as):
    day = (local_today() - timedelta(days=2)).isoformat()
    rows = [["北京星辰科技", "staff", "电话", day, "确认了需求"],
            ["北京星辰科技", "staff", "电话", day, "  确认了需求 "],  # spacing differs: the same note
            ["北京星辰科技", "staff", "电话", day, "约了下周演示"],
            ["北京星辰科技", "staff", "拜访", day, "确认了需求"]]  # another kind of contact
    batch = _run(admin, tmp_path, rows)
    assert (batch.created_count, batch.skipped_count) == (3, 1)
    again = _run(admin, tmp_path, rows, name="again.csv")
    assert (again.created_count, again.skipped_count) == (0, 4)

    client = client_as("admin")
    html = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    listed = html.split('data-testid="skipped-rows"', 1)[1].split("</table>", 1)[0]
    assert "<td>3</td>" in listed and "Duplicate of row 2 of the file" in listed
    assert "wrote the same content" in html  # what makes a follow-up a duplicate
    html = client.get(f"/imports/{again.id}").get_data(as_text=True)
    listed = html.split('data-testid="skipped-rows"', 1)[1].split("</table>", 1)[0]
    for number in (2, 3, 4, 5):
        assert f"<td>{number}</td>" in listed
    assert listed.count("Duplicate of the existing record 北京星辰科技") == 4
    assert f"{(local_today() - timedelta(days=2)).isoformat()}" in listed
    # The list of imports shows how many rows each one skipped, linked to them.
    index = client.get("/imports/").get_data(as_text=True)
    assert "Skipped" in index and f'/imports/{again.id}#skipped-rows">4</a>' in index


def test_skipped_rows_read_in_chinese(tmp_path, admin, client_as):
    day = (local_today() - timedelta(days=2)).isoformat()
    batch = _run(admin, tmp_path, [["北京星辰科技", "staff", "电话", day, "确认了需求"]] * 2)
    client = client_as("admin")
    client.set_cookie("lang", "zh_CN")
    html = client.get(f"/imports/{batch.id}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "跳过的行" in html and "与文件第 2 行重复" in html


def test_a_long_list_of_skipped_rows_says_how_many_are_listed(tmp_path, admin, client_as):
    day = (local_today() - timedelta(days=2)).isoformat()
    rows = [["北京星辰科技", "staff", "电话", day, "同一条"]] * (services.SKIPPED_LISTED + 11)
    batch = services.run_import(upload(admin, write_csv(tmp_path, [HEADER, *rows], name="many.csv"),
                                       target="activities"), admin, chunk_size=50)
    db.session.commit()
    assert batch.skipped_count == services.SKIPPED_LISTED + 10
    found, recorded = services.skipped_rows(batch)
    assert recorded and [row.number for row in found] == list(range(3, services.SKIPPED_LISTED + 3))
    html = client_as("admin").get(f"/imports/{batch.id}").get_data(as_text=True)
    assert f"The first {services.SKIPPED_LISTED} of {services.SKIPPED_LISTED + 10} skipped rows are listed." in html


def test_an_import_run_before_skipped_rows_were_recorded_says_so(tmp_path, admin, client_as):
    from rollout.imports.models import ImportChunk
    day = (local_today() - timedelta(days=2)).isoformat()
    batch = _run(admin, tmp_path, [["北京星辰科技", "staff", "电话", day, "确认了需求"]] * 2)
    for chunk in db.session.scalars(select(ImportChunk).where(ImportChunk.batch_id == batch.id)):
        chunk.skipped_rows = None  # as the chunks of an import run before the column existed
    db.session.commit()
    assert services.skipped_rows(batch) == ([], False)
    html = client_as("admin").get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "only their number is known" in html and 'data-testid="skipped-rows"' not in html
