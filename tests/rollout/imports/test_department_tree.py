"""A department import keeps the tree's shape (company → departments → teams) as the departments form does."""
from sqlalchemy import select

from rollout.accounts.models import Department
from rollout.extensions import db
from rollout.imports import services
from rollout.imports.messages import shown
from rollout.imports.models import ImportRowError
from tests.rollout.imports.helpers import upload, write_csv


def _errors(batch) -> dict[int, str]:
    return {number: shown(message) for number, message in db.session.execute(
        select(ImportRowError.row_number, ImportRowError.message).where(ImportRowError.batch_id == batch.id))}


def _department(code):
    return db.session.scalar(select(Department).where(Department.code == code))


def test_rows_that_break_the_tree_are_refused_with_the_rule(tmp_path, company):
    path = write_csv(tmp_path, [["部门名称", "代码", "上级部门", "类型"],
                                ["华南区", "south", "测试公司", "部门"],
                                ["深圳组", "sz", "华南区", "小组"],
                                ["直属组", "direct", "测试公司", "小组"],      # a team right under the company
                                ["组下部门", "under-team", "深圳组", "部门"],   # a department under a team
                                ["组下部门二", "under-team-2", "sales-1", ""],  # kind left blank: a department
                                ["坏代码部", "bad code", "测试公司", "部门"]])
    batch = services.run_import(upload(company["admin"], path, target="departments"), company["admin"])
    db.session.commit()
    assert (batch.created_count, batch.error_count) == (2, 4)
    assert _department("sz").parent == _department("south")
    errors = _errors(batch)
    assert errors[4] == "A team sits under a department."
    assert errors[5] == errors[6] == "A department sits under the company or another department."
    assert "letters, digits" in errors[7]
    assert all(_department(code) is None for code in ("direct", "under-team", "under-team-2"))


def test_a_row_refused_earlier_is_not_a_parent_for_later_rows(tmp_path, company):
    path = write_csv(tmp_path, [["部门名称", "上级部门", "类型"], ["直属组", "测试公司", "小组"],
                                ["直属组下的组", "直属组", "小组"]])
    batch = services.run_import(upload(company["admin"], path, target="departments"), company["admin"])
    assert batch.created_count == 0
    assert _errors(batch)[3] == "Unknown parent department 直属组."


def test_an_update_may_not_change_a_kind_the_tree_cannot_hold(tmp_path, company):
    path = write_csv(tmp_path, [["部门名称", "代码", "上级部门", "类型"],
                                ["销售部", "sales", "测试公司", "小组"],      # it has teams under it
                                ["财务部", "finance", "测试公司", "小组"]])    # under the company
    batch = upload(company["admin"], path, target="departments")
    services.set_decisions(batch, {}, default_existing="update", default_file="skip")
    batch = services.run_import(batch, company["admin"])
    db.session.commit()
    assert batch.updated_count == 0 and batch.error_count == 2
    assert company["departments"]["sales"].kind == company["departments"]["finance"].kind == "department"
    assert set(_errors(batch).values()) == {"A team sits under a department."}
