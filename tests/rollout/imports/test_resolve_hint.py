"""An import with rejected rows says how to clear its “rows to fix”, and points at a later import that read its
error report back in."""
import io

from openpyxl import load_workbook

from rollout.extensions import db
from rollout.imports import services
from rollout.imports.models import ImportBatch
from tests.rollout.imports.helpers import upload, write_csv, write_xlsx


def _first(admin, tmp_path):
    batch = services.run_import(upload(admin, write_csv(tmp_path, [["客户名称", "手机"], ["北京星辰科技", "13800138000"],
                                                                   ["上海云帆", "12345"]], name="客户.csv")), admin)
    db.session.commit()
    assert batch.error_count == 1
    return batch


def test_rows_to_fix_links_to_the_explanation_and_the_resolve_action(tmp_path, company, client_as):
    batch = _first(company["admin"], tmp_path)
    client = client_as("admin")
    index = client.get("/imports/").get_data(as_text=True)
    assert f'href="/imports/{batch.id}#rejected-rows"' in index and "then mark them resolved" in index
    page = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert 'id="rejected-rows"' in page and 'data-testid="resolve-help"' in page
    assert f"/imports/{batch.id}/resolve" in page
    assert 'data-testid="reimported"' not in page  # nothing imported since


def test_a_later_import_of_the_error_report_is_offered_as_the_fix(tmp_path, company, client_as):
    admin = company["admin"]
    batch = _first(admin, tmp_path)
    client = client_as("admin")
    report = load_workbook(io.BytesIO(client.get(f"/imports/{batch.id}/errors.xlsx").data))
    sheet = report.active
    sheet["B2"] = "13900139000"  # fixed in Excel, saved under a name of the user's choosing
    fixed = tmp_path / "修正后.xlsx"
    report.save(fixed)
    # An unrelated later import of customers is no such hint.
    other = services.run_import(upload(admin, write_csv(tmp_path, [["客户名称", "城市"], ["广州贸易", "广州"]],
                                                        name="other.csv")), admin)
    again = services.run_import(upload(admin, fixed), admin)
    db.session.commit()
    assert (again.created_count, again.error_count) == (1, 0)
    assert [later.id for later in services.reimports_of(batch)] == [again.id]
    page = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    hint = page.split('data-testid="reimported"', 1)[1].split("</div>\n", 1)[0]
    assert f"Import #{again.id} (修正后.xlsx" in hint and f"Import #{other.id}" not in hint
    # Confirming clears the flag.
    assert client.post(f"/imports/{batch.id}/resolve").status_code == 302
    db.session.expire_all()
    assert not db.session.get(ImportBatch, batch.id).has_unresolved_errors
    page = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert 'data-testid="reimported"' not in page and 'data-testid="rows-to-fix"' not in page


def test_the_error_report_is_known_by_its_file_name_too(tmp_path, company):
    """The user deleted the error column before importing the report again: its name still says what it is."""
    admin = company["admin"]
    batch = _first(admin, tmp_path)
    services.run_import(upload(admin, write_xlsx(tmp_path, [["公司", "电话"], ["上海云帆", "13900139000"]],
                                                 name="修正.xlsx")), admin)
    assert services.reimports_of(batch) == []  # neither the report's columns nor its name
    by_name = services.run_import(upload(admin, write_xlsx(tmp_path, [["客户名称", "手机"], ["上海云帆", "13900139000"]],
                                                           name="客户-errors.xlsx")), admin)
    assert services.reimports_of(batch) == [by_name]
    # Another target's import never is.
    contacts = services.run_import(upload(admin, write_xlsx(tmp_path, [["客户名称", "联系人"], ["上海云帆", "王经理"]],
                                                            name="客户-errors.xlsx"), target="contacts"), admin)
    assert contacts.id and services.reimports_of(batch) == [by_name]
