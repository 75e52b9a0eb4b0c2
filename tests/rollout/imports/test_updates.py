"""Updating existing records: an update writes what the file gives and never blanks what it does not."""
from sqlalchemy import select

from rollout.accounts.models import User
from rollout.extensions import db
from rollout.imports import services
from rollout.plans import services as plans
from tests.rollout.imports.helpers import upload, write_csv


def _update_all(batch):
    services.set_decisions(batch, {}, default_existing="update", default_file="skip")
    return batch


def test_custom_fields_the_file_does_not_map_are_kept(tmp_path, company):
    admin = company["admin"]
    plans.save_field(None, "level", "客户等级", "choice", ["A", "B", "C"], False)
    plans.save_field(None, "employees", "员工人数", "number", [], False)
    customer = plans.create_customer("华南电子", admin, city="广州", extra={"level": "A", "employees": "120"})
    db.session.commit()
    path = write_csv(tmp_path, [["客户名称", "城市"], ["华南电子", "深圳"]])
    batch = services.run_import(_update_all(upload(admin, path)), admin)
    assert batch.updated_count == 1
    db.session.refresh(customer)
    assert customer.city == "深圳" and customer.extra == {"level": "A", "employees": "120"}


def test_a_blank_custom_field_cell_keeps_the_value_and_a_filled_one_replaces_it(tmp_path, company):
    admin = company["admin"]
    plans.save_field(None, "level", "客户等级", "choice", ["A", "B", "C"], False)
    plans.save_field(None, "employees", "员工人数", "number", [], False)
    customer = plans.create_customer("华南电子", admin, extra={"level": "A", "employees": "120"})
    db.session.commit()
    path = write_csv(tmp_path, [["客户名称", "客户等级", "员工人数"], ["华南电子", "", "300"]])
    batch = services.run_import(_update_all(upload(admin, path)), admin)
    assert batch.updated_count == 1
    db.session.refresh(customer)
    assert customer.extra == {"level": "A", "employees": "300"}
    services.undo_import(batch, admin)
    db.session.commit()
    db.session.refresh(customer)
    assert customer.extra == {"level": "A", "employees": "120"}


def test_a_row_with_nothing_new_changes_nothing(tmp_path, company):
    admin = company["admin"]
    plans.save_field(None, "level", "客户等级", "choice", ["A", "B", "C"], False)
    customer = plans.create_customer("华南电子", admin, city="广州", extra={"level": "A"})
    db.session.commit()
    path = write_csv(tmp_path, [["客户名称", "城市", "客户等级"], ["华南电子", "", ""]])
    services.run_import(_update_all(upload(admin, path)), admin)
    db.session.refresh(customer)
    assert customer.city == "广州" and customer.extra == {"level": "A"}


def test_a_blank_department_never_moves_an_existing_user(tmp_path, company):
    admin, staff = company["admin"], company["staff"]
    staff.is_seed_user = True
    db.session.commit()
    name = staff.display_name
    path = write_csv(tmp_path, [["用户名", "姓名", "部门", "种子用户", "手机"], ["staff", "", "", "", "13800138000"]])
    batch = upload(admin, path, target="users", department_id=company["departments"]["finance"].id)
    batch = services.run_import(_update_all(batch), admin)
    assert batch.updated_count == 1
    person = db.session.get(User, staff.id)
    assert person.department_id == company["departments"]["sales1"].id
    assert person.display_name == name
    assert person.is_seed_user and person.phone == "13800138000"


def test_a_department_the_file_names_moves_the_user_and_new_users_get_the_default(tmp_path, company):
    admin = company["admin"]
    finance = company["departments"]["finance"]
    path = write_csv(tmp_path, [["用户名", "部门"], ["staff", "marketing"], ["newcomer", ""]])
    batch = upload(admin, path, target="users", department_id=finance.id)
    batch = services.run_import(_update_all(batch), admin)
    assert (batch.created_count, batch.updated_count) == (1, 1)
    assert db.session.get(User, company["staff"].id).department_id == company["departments"]["marketing"].id
    newcomer = db.session.scalar(select(User).where(User.username == "newcomer"))
    assert newcomer.department_id == finance.id and newcomer.display_name == "newcomer"
    assert not newcomer.is_seed_user
