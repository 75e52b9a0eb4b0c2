"""The import pipeline end to end at the service level: clean, map, duplicates, dry run, run, undo."""

import pytest
from sqlalchemy import func, select

from rollout.extensions import db
from rollout.imports import services
from rollout.imports.models import COMPLETED, UNDONE, ImportBatch
from rollout.plans.models import Customer
from rollout.plans import services as plans
from tests.rollout.imports.helpers import upload, write_csv

HEADER = ["客户名称", "手机", "邮箱", "城市", "负责人"]


def rows(*data):
    return [HEADER, *data]


@pytest.fixture
def admin(company):
    return company["admin"]


def test_customers_import_cleans_and_creates(tmp_path, admin, company):
    path = write_csv(tmp_path, rows(["\u3000北京星辰科技有限公司 ", "+86 138-0013-8000", "INFO@XC.COM", "北京", "staff"],
                                    ["上海云帆贸易", "021-62345678转8", "", "上海", ""]), encoding="gb18030")
    batch = upload(admin, path, department_id=company["departments"]["sales"].id)
    assert batch.source["encoding"] == "gb18030"
    assert batch.settings["mapping"] == {"0": "name", "1": "phone", "2": "email", "3": "city", "4": "owner"}
    batch = services.run_import(batch, admin)
    assert batch.status == COMPLETED and batch.created_count == 2 and batch.error_count == 0
    first = db.session.scalar(select(Customer).where(Customer.name == "北京星辰科技有限公司"))
    assert (first.phone, first.phone_key, first.email) == ("13800138000", "+8613800138000", "info@xc.com")
    assert first.owner_id == company["staff"].id and not first.is_in_pool
    second = db.session.scalar(select(Customer).where(Customer.name == "上海云帆贸易"))
    assert second.phone == "021-62345678 转8" and second.is_in_pool
    assert second.department_id == company["departments"]["sales"].id


def test_dry_run_changes_nothing(tmp_path, admin, company):
    plans.create_customer("北京星辰科技有限公司", admin, phone="13800138000")
    db.session.commit()
    path = write_csv(tmp_path, rows(["北京星辰科技有限公司", "13800138000", "", "", ""],
                                    ["北京星辰科技", "", "", "", ""],
                                    ["新客户", "12345", "", "", ""],
                                    ["另一家", "13900139000", "", "", ""],
                                    ["另一家", "", "", "", ""]))
    batch = upload(admin, path)
    db.session.commit()
    before = _snapshot()
    analysis = services.dry_run(batch, admin, "all")
    assert _snapshot() == before
    assert analysis.counts == {"skip": 2, "error": 1, "create": 2}
    kinds = {g.kind for g in analysis.groups}
    assert kinds == {"existing", "file"}
    assert analysis.near and analysis.near[0][1] == "北京星辰科技"
    assert "invalid phone number" in analysis.errors[0].text


def test_duplicate_phones_are_listed_as_the_preview_writes_them(tmp_path, admin):
    plans.create_customer("华东仪器", admin, phone="021-62345678")
    db.session.commit()
    path = write_csv(tmp_path, rows(["华东仪器上海分公司", "+86 21 6234 5678", "", "", ""],
                                    ["甲公司", "139-0013-9000", "", "", ""],
                                    ["乙公司", "+8613900139000", "", "", ""]))
    analysis = services.dry_run(upload(admin, path), admin, "all")
    labels = {(g.kind, g.key_kind): g.label for g in analysis.groups}
    assert labels == {("existing", "phone"): "021-62345678", ("file", "phone"): "13900139000"}


def _snapshot():
    from rollout.extensions import db as database
    result = {}
    for table in database.metadata.sorted_tables:
        result[table.name] = sorted(map(repr, database.session.execute(table.select()).all()))
    return result


def test_update_decision_and_complete_undo(tmp_path, admin):
    existing = plans.create_customer("华南电子", admin, city="广州")
    db.session.commit()
    path = write_csv(tmp_path, rows(["华南电子", "13700137000", "", "深圳", ""], ["全新客户", "", "", "", ""]))
    batch = upload(admin, path)
    services.set_decisions(batch, {}, default_existing="update", default_file="skip")
    batch = services.run_import(batch, admin)
    assert (batch.created_count, batch.updated_count) == (1, 1)
    db.session.refresh(existing)
    assert existing.city == "深圳" and existing.phone == "13700137000"
    result = services.undo_import(batch, admin)
    db.session.commit()
    assert result == {"removed": 1, "restored": 1}
    db.session.refresh(existing)
    assert existing.city == "广州" and existing.phone is None
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1
    assert db.session.get(ImportBatch, batch.id).status == UNDONE


def test_undo_refused_after_a_record_changed(tmp_path, admin):
    path = write_csv(tmp_path, rows(["华南电子", "", "", "", ""]))
    batch = services.run_import(upload(admin, path), admin)
    customer = db.session.scalar(select(Customer))
    plans.update_customer(customer, admin, city="珠海")
    db.session.commit()
    with pytest.raises(services.ServiceError, match="changed since"):
        services.undo_import(batch, admin)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1


def test_repeated_cells_and_stacked_suffixes_clean_like_single_ones(tmp_path, admin, company):
    """Cleaned cells are remembered per column: a repeated messy cell cleans the same every time."""
    from rollout.cleaning import company_key
    messy_city = "\u3000ＢＥＩＪＩＮＧ "
    path = write_csv(tmp_path, rows(["星辰科技集团有限公司", "13800138000", "", messy_city, ""],
                                    ["云帆贸易（上海）有限公司", "13900139000", "", messy_city, ""],
                                    ["海晟 Co. Ltd.", "13700137000", "", messy_city, ""]))
    batch = services.run_import(upload(admin, path), admin)
    assert (batch.created_count, batch.skipped_count, batch.error_count, batch.message) == (3, 0, 0, None)
    customers = db.session.scalars(select(Customer).order_by(Customer.id)).all()
    assert [c.city for c in customers] == ["BEIJING"] * 3
    assert [c.name_key for c in customers] == ["星辰科技", "云帆贸易上海", "海晟"]
    assert company_key("星辰科技集团有限公司") == company_key("星辰科技") == "星辰科技"


def test_cells_are_settled_the_same_the_first_time_and_from_the_cache(tmp_path, admin):
    """Too long, invalid, kept as is, repeated: each row gets its own message, cached cells included."""
    long_name = "长" * 201
    path = write_csv(tmp_path, rows([long_name, "", "", "", ""],
                                    [long_name, "", "", "", ""],           # the same cell again, from the cache
                                    ["星河电子", "12345", "", "", ""],
                                    ["银河电子", "12345", "", "", ""],
                                    ["月光电子", " +86 138-0013-8000 ", "", "", ""]))
    batch = upload(admin, path)
    services.set_mapping(batch, {0: "name", 1: "phone"}, [1], admin.department_id, admin)  # phone kept as is
    analysis = services.dry_run(batch, admin, "all")
    messages = [outcome.text for outcome in analysis.errors]
    assert len(messages) == 2 and all("longer than 200 characters" in message for message in messages)
    assert analysis.counts == {"error": 2, "create": 2, "skip": 1}  # kept phones still find the repeat
    services.set_mapping(batch, {0: "name", 1: "phone"}, [], admin.department_id, admin)  # phone cleaned again
    analysis = services.dry_run(batch, admin, "all")
    assert [outcome.number for outcome in analysis.errors] == [2, 3, 4, 5]
    assert analysis.errors[2].text == analysis.errors[3].text == "Phone: invalid phone number (12345)"
    kept = services.preview(batch, admin)
    assert kept[4][1][1].after == "13800138000" and set(kept[4][1][1].rules) >= {"trim", "phone"}


def test_labelled_and_doubled_phone_numbers_are_never_mangled(tmp_path, admin):
    path = write_csv(tmp_path, rows(["甲公司", "手机:13600001111", "", "", ""],
                                    ["乙公司", "13812345678;010-88886666", "", "", ""],
                                    ["丙公司", "(021)64381234-808", "", "", ""]))
    batch = services.run_import(upload(admin, path), admin)
    assert (batch.created_count, batch.error_count) == (2, 1)
    phones = dict(db.session.execute(select(Customer.name, Customer.phone)).all())
    assert phones == {"甲公司": "13600001111", "丙公司": "021-64381234 转808"}
    analysis = services.dry_run(upload(admin, path), admin, "all")
    assert "two phone numbers in one cell" in analysis.errors[0].text


def test_chinese_punctuation_and_a_notes_lines_are_kept(tmp_path, admin, company):
    from rollout.plans.models import Activity
    path = write_csv(tmp_path, rows(["某某科技（北京）有限公司", "", "", "", "staff"],
                                    ["某某科技(北京)有限公司", "", "", "", "staff"]))  # the same company
    batch = services.run_import(upload(admin, path), admin)
    assert (batch.created_count, batch.skipped_count) == (1, 1)
    assert db.session.scalar(select(Customer.name)) == "某某科技（北京）有限公司"
    from openpyxl import Workbook
    workbook = Workbook()
    workbook.active.append(["客户", "跟进人", "方式", "日期", "内容"])
    workbook.active.append(["某某科技（北京）有限公司", "staff", "拜访", "2024-03-01", "初次拜访，介绍产品。\n对方：下周再谈！"])
    workbook.save(tmp_path / "visits.xlsx")
    services.run_import(upload(admin, tmp_path / "visits.xlsx", target="activities"), admin)
    assert db.session.scalar(select(Activity.outcome)) == "初次拜访，介绍产品。\n对方：下周再谈！"


def test_a_template_remembers_the_columns_not_imported(tmp_path, admin):
    path = write_csv(tmp_path, [["公司", "电话", "城市"], ["北京星辰", "13800138000", "北京"]])
    batch = upload(admin, path)
    assert batch.settings["mapping"] == {"0": "name", "1": "phone", "2": "city"}
    services.set_mapping(batch, {0: "name", 1: "phone", 2: ""}, [], admin.department_id, admin)
    template = services.save_template(batch, "旧系统", admin)
    assert template.columns == {"公司": "name", "电话": "phone", "城市": ""}
    again = upload(admin, path, template=template)
    assert again.settings["mapping"] == {"0": "name", "1": "phone"}
    services.apply_template(again, template)
    assert again.settings["mapping"] == {"0": "name", "1": "phone"}


def test_a_random_sample_of_a_small_file_checks_a_row(tmp_path, admin, monkeypatch):
    from types import SimpleNamespace
    path = write_csv(tmp_path, [["客户名称"]] + [[f"客户{n}"] for n in range(5)])
    batch = upload(admin, path)
    # a draw that picks none of the five rows (as most seeds do)
    monkeypatch.setattr(services.random, "Random", lambda seed: SimpleNamespace(random=lambda: 0.99))
    assert services.dry_run(batch, admin, "random").rows_read == 1


def test_primary_contact_is_matched_by_its_short_name():
    from rollout.imports.mapping import auto_map
    from rollout.imports.plan_targets import ContactTarget
    assert auto_map(["客户", "联系人", "主联系人"], ContactTarget().fields())[2] == "is_primary"
