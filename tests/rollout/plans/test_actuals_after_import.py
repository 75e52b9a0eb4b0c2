"""Plan vs actual counts only customers people found: not those a migration brought in."""
from rollout.extensions import db
from rollout.imports import services as imports
from rollout.plans import services
from rollout.timeutil import local_today
from tests.rollout.imports.helpers import upload, write_csv


def test_imported_customers_are_not_new_even_when_their_file_names_a_source(company, tmp_path):
    staff, sales1 = company["staff"], company["departments"]["sales1"]
    services.create_customer("甲公司", staff)
    path = write_csv(tmp_path, [["客户名称", "来源", "负责人"], ["老客户一", "转介绍", "staff"],
                                ["老客户二", "展会", "staff"]])
    batch = imports.run_import(upload(company["admin"], path, department_id=sales1.id), company["admin"])
    assert batch.created_count == 2
    db.session.commit()

    reps = services.plan_vs_actual("quarter", local_today(), "team", sales1.id)
    rep = next(u for u in reps["children"] if u.user_id == staff.id)
    assert rep.actual["new_customers"] == 1
    assert reps["parent"].actual["new_customers"] == 1  # the team adds up its people, imports left out
    department = services.plan_vs_actual("quarter", local_today(), "department", company["departments"]["sales"].id)
    assert department["parent"].actual["new_customers"] == 1
