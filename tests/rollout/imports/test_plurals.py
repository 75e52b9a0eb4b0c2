"""Counts of one on the import pages read in the singular in English."""
from rollout.extensions import db
from rollout.plans import services as plans
from tests.rollout.imports.helpers import upload, write_csv


def test_a_one_row_import(client_as, company, tmp_path):
    plans.create_customer("北京星辰科技有限公司", company["admin"])
    duplicate = upload(company["admin"], write_csv(tmp_path, [["客户名称", "城市"], ["北京星辰科技有限公司", "北京"]]))
    fresh = upload(company["admin"], write_csv(tmp_path, [["客户名称", "城市"], ["上海云帆", "上海"]], name="new.csv"))
    db.session.commit()
    client = client_as("admin")
    checked = client.post(f"/imports/{duplicate.id}/check", data={"check-sample": "all"}).get_data(as_text=True)
    assert "Checked 1 row; nothing was changed." in checked and "Duplicates (1 group)" in checked

    batch_page = client.get(f"/imports/{fresh.id}").get_data(as_text=True)
    assert "1 data row" in batch_page and "1 data rows" not in batch_page
    assert "Import 1 row<" in batch_page and "Import the 1 row now?" in batch_page
    assert client.post(f"/imports/{fresh.id}/run").status_code == 302
    undone = client.post(f"/imports/{fresh.id}/undo", follow_redirects=True).get_data(as_text=True)
    assert "Import undone: 1 record removed, 0 restored." in undone
