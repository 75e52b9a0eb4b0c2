"""Users, departments, contacts, follow-ups, deals and plan targets; custom fields; the CLI; readiness."""
from decimal import Decimal

from sqlalchemy import func, select

from rollout.accounts.models import Department, User
from rollout.extensions import db
from rollout.imports import services
from rollout.imports.models import ImportRowError
from rollout.plans import services as plans
from rollout.plans.models import Activity, Contact, Customer, Opportunity, SalesPlan
from tests.rollout.imports.helpers import two_sheet_workbook, upload, write_csv, write_xlsx


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_departments_with_parents_created_in_the_same_file(tmp_path, company):
    path = write_csv(tmp_path, [["部门名称", "代码", "上级部门", "类型"], ["客服部", "service", "测试公司", "部门"],
                                ["客服一组", "service-1", "客服部", "小组"], ["销售部", "", "测试公司", "部门"]])
    batch = services.run_import(upload(company["admin"], path, target="departments"), company["admin"])
    assert (batch.created_count, batch.skipped_count) == (2, 1)
    team = db.session.scalar(select(Department).where(Department.code == "service-1"))
    assert team.kind == "team" and team.parent.name == "客服部"
    services.undo_import(batch, company["admin"])
    db.session.commit()
    assert db.session.scalar(select(Department).where(Department.code == "service")) is None


def test_a_department_import_keeps_one_company_at_the_top(tmp_path, company):
    path = write_csv(tmp_path, [["部门名称", "代码", "类型"], ["研发中心", "rd", ""], ["第二公司", "co2", "公司"]])
    batch = services.run_import(upload(company["admin"], path, target="departments"), company["admin"])
    assert (batch.created_count, batch.error_count) == (1, 1)
    rd = db.session.scalar(select(Department).where(Department.code == "rd"))
    assert rd.kind == "department" and rd.parent == company["departments"]["company"]
    assert db.session.scalar(select(Department).where(Department.code == "co2")) is None


def test_users_get_roles_and_an_unusable_password(tmp_path, company):
    path = write_csv(tmp_path, [["用户名", "姓名", "邮箱", "部门", "角色"], ["zhangsan", "张三", "ZS@EXAMPLE.COM", "sales-1", "员工"],
                                ["lisi", "李四", "", "销售部", "部门负责人，员工"], ["wangwu", "王五", "", "不存在的部门", ""]])
    batch = services.run_import(upload(company["admin"], path, target="users"), company["admin"])
    assert (batch.created_count, batch.error_count) == (2, 1)
    lisi = db.session.scalar(select(User).where(User.username == "lisi"))
    assert lisi.roles == {"head", "staff"} and lisi.department.name == "销售部"
    assert lisi.password_hash.startswith("!")
    from rollout.accounts.passwords import verify_password
    assert not verify_password(lisi.password_hash, "") and not lisi.has_password
    assert company["staff"].has_password


def test_custom_fields_contacts_activities_deals_and_plans(tmp_path, company):
    admin = company["admin"]
    plans.save_field(None, "level", "客户等级", "choice", ["A", "B", "C"], False)
    plans.save_field(None, "employees", "员工人数", "number", [], False)
    db.session.commit()
    path = write_xlsx(tmp_path, [["客户名称", "客户等级", "员工人数", "负责人"], ["北京星辰科技", "A", 120, "staff"],
                                 ["上海云帆", "Z", 5, "staff"]])
    batch = services.run_import(upload(admin, path), admin)
    assert (batch.created_count, batch.error_count) == (1, 1)
    customer = db.session.scalar(select(Customer))
    assert customer.extra == {"level": "A", "employees": "120"}

    contacts = write_csv(tmp_path, [["客户名称", "联系人", "职务", "手机"], ["北京星辰科技有限公司", "王经理", "采购经理", "13912345678"],
                                    ["不存在公司", "赵六", "", ""]], name="contacts.csv")
    batch = services.run_import(upload(admin, contacts, target="contacts"), admin)
    assert (batch.created_count, batch.error_count) == (1, 1)
    assert db.session.scalar(select(Contact)).phone == "13912345678"

    visits = write_csv(tmp_path, [["客户", "跟进人", "方式", "日期", "内容"], ["北京星辰科技", "staff", "拜访", "2024/3/1", "初次拜访"]],
                       name="visits.csv")
    batch = services.run_import(upload(admin, visits, target="activities"), admin)
    assert batch.created_count == 1
    assert db.session.scalar(select(Activity)).kind == "visit"

    deals = write_csv(tmp_path, [["商机名称", "客户", "金额", "阶段", "成交日期"], ["一期项目", "北京星辰科技", "1.2万", "谈判中", ""],
                                 ["二期项目", "北京星辰科技", "\"¥50,000\"", "赢单", "2024-06-30"]], name="deals.csv")
    batch = services.run_import(upload(admin, deals, target="opportunities"), admin)
    from rollout.imports.models import ImportRowError
    assert batch.created_count == 2, [e.message for e in db.session.scalars(select(ImportRowError))]
    amounts = sorted(db.session.scalars(select(Opportunity.amount)))
    assert amounts == [Decimal("12000.00"), Decimal("50000.00")]
    assert db.session.scalar(select(Opportunity).where(Opportunity.name == "二期项目")).stage == "won"

    targets = write_csv(tmp_path, [["周期", "开始日期", "部门", "签约金额", "拜访数"], ["月", "2026-12-01", "销售部", "100万", "40"]],
                        name="targets.csv")
    batch = services.run_import(upload(admin, targets, target="plan_targets"), admin)
    assert batch.created_count == 1
    plan = db.session.scalar(select(SalesPlan))
    assert plan.target("signed_amount") == Decimal("1000000.00") and plan.target("visits") == Decimal("40.00")


def test_department_import_status(tmp_path, company):
    sales = company["departments"]["sales"]
    assert not services.department_import_status(sales.id)
    path = write_csv(tmp_path, [["客户名称", "手机"], ["北京星辰", "13800138000"], ["上海云帆", "123"]])
    batch = services.run_import(upload(company["admin"], path, department_id=sales.id), company["admin"])
    status = services.department_import_status(sales.id)
    assert status.completed == 1 and status.unresolved_errors == 1 and not status.ready
    services.resolve_errors(batch)
    db.session.commit()
    assert services.department_import_status(sales.id).ready
    assert not services.department_import_status(company["departments"]["finance"].id)


def test_readiness_counts_an_imports_errors_for_the_department_it_was_run_for(tmp_path, company):
    sales, marketing = company["departments"]["sales"], company["departments"]["marketing"]
    # Run for 销售部, one customer lands in 市场部 through its owner; the rejected row is 销售部's.
    path = write_csv(tmp_path, [["客户名称", "手机", "负责人"], ["北京星辰", "13800138000", "other_staff"],
                                ["上海云帆", "123", ""]])
    services.run_import(upload(company["admin"], path, department_id=sales.id), company["admin"])
    assert services.department_import_status(sales.id).unresolved_errors == 1
    status = services.department_import_status(marketing.id)
    assert status.completed == 1 and status.unresolved_errors == 0
    # Accounts are set-up, not a department's data.
    users = write_csv(tmp_path, [["用户名", "姓名", "部门"], ["zhangsan", "张三", "财务部"]], name="users.csv")
    services.run_import(upload(company["admin"], users, target="users"), company["admin"])
    assert not services.department_import_status(company["departments"]["finance"].id)


def test_an_import_outside_a_request_keeps_reasons_in_the_importers_language(tmp_path, company):
    """CLI and demo data run with no request: the reasons are written as the importer reads the import page."""
    admin = company["admin"]
    rows = [["客户名称", "手机"], ["北京星辰", "13800138000"], ["上海云帆", "123"]]
    for locale, expected in ((None, "电话号码无效"), ("en", "invalid phone number")):
        admin.locale = locale
        batch = services.run_import(upload(admin, write_csv(tmp_path, rows)), admin)
        rejected = db.session.scalar(select(ImportRowError).where(ImportRowError.batch_id == batch.id))
        assert expected in rejected.message, (locale, rejected.message)
        rows[1][0] += "（二）"  # the next file is not a duplicate of this one's customer


def test_cli_dry_run_import_and_export(runner, tmp_path, company):
    path = write_csv(tmp_path, [["公司名称", "联系方式"], ["北京星辰科技", "138 0013 8000"], ["上海云帆", "0"]], encoding="gbk")
    result = runner.invoke(args=["import", "customers", str(path), "--dry-run", "--as", "admin", "--department", "sales"])
    assert result.exit_code == 0, result.output
    assert "would create 1" in result.output and "reject 1" in result.output
    assert _count(Customer) == 0
    result = runner.invoke(args=["import", "customers", str(path), "--as", "admin", "--encoding", "gbk",
                                 "--department", "sales"])
    assert result.exit_code == 0, result.output
    assert "created 1" in result.output and "rejected 1" in result.output
    assert _count(Customer) == 1
    # kept for the import page in the importing user's language (the admin has none: the default, Chinese)
    rejected = db.session.scalar(select(ImportRowError))
    assert rejected.row_number == 3 and "电话号码无效" in rejected.message
    out = tmp_path / "customers.csv"
    result = runner.invoke(args=["export", "customers", "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "北京星辰科技,13800138000" in out.read_text(encoding="utf-8-sig")
    result = runner.invoke(args=["import", "customers", str(path), "--mapping", "nope"])
    assert result.exit_code != 0 and "No mapping template" in result.output


def test_random_sample_is_repeatable_and_first_n_limits(tmp_path, company):
    rows = [["客户名称"]] + [[f"客户{n}"] for n in range(300)]
    batch = upload(company["admin"], write_csv(tmp_path, rows))
    first = services.dry_run(batch, company["admin"], "first", 50)
    assert first.rows_read == 50
    sample = services.dry_run(batch, company["admin"], "random")
    again = services.dry_run(batch, company["admin"], "random")
    assert 10 <= sample.rows_read <= 60 and sample.rows_read == again.rows_read


def test_rows_only_land_in_departments_the_importer_may_write_to(company):
    import pytest

    from rollout.imports.targets import ImportContext, RowError
    sales, marketing = company["departments"]["sales"], company["departments"]["marketing"]
    ctx = ImportContext(user=company["head"], default_department_id=sales.id, allowed_department_ids={sales.id})
    ctx.load_lookups()
    assert ctx.department("销售部") == sales.id and ctx.department(None) == sales.id
    with pytest.raises(RowError, match="may not import records into department 市场部"):
        ctx.department("市场部")
    with pytest.raises(RowError, match="Unknown department"):
        ctx.department("不存在")
    assert services.writable_department_ids(company["admin"]) is None
    assert services.writable_department_ids(company["staff"]) == set()
    assert marketing.id not in ctx.allowed_department_ids


def test_a_sales_service_refusal_reads_in_each_readers_language(tmp_path, company, client_as):
    """A row the import's own checks pass but a plan-tracking service refuses (a follow-up in 1999)
    keeps the refusal's message id, like the import's own reasons."""
    from flask_babel import force_locale
    admin = company["admin"]
    services.run_import(upload(admin, write_csv(tmp_path, [["客户名称", "负责人"], ["北京星辰科技", "staff"]])), admin)
    visits = write_csv(tmp_path, [["客户", "跟进人", "方式", "日期", "内容"], ["北京星辰科技", "staff", "拜访", "1999/3/1", "初次拜访"]],
                       name="visits.csv")
    with force_locale("zh_CN"):
        batch = services.run_import(upload(admin, visits, target="activities"), admin)
    assert (batch.created_count, batch.error_count) == (0, 1)
    client = client_as("admin")
    page = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "The date must be between 2000-01-01 and 2100-12-31" in page
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    page = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "日期须在 2000-01-01 至 2100-12-31 之间" in page, page[page.find("第 2 行") - 200:][:600]


def test_cli_reads_the_sheet_and_header_row_it_is_told(runner, tmp_path, company):
    path = two_sheet_workbook(tmp_path)
    result = runner.invoke(args=["import", "customers", str(path), "--sheet", "客户", "--header-row", "2",
                                 "--as", "admin", "--department", "sales"])
    assert result.exit_code == 0, result.output
    assert "created 1" in result.output
    assert db.session.scalar(select(Customer)).city == "北京"
    result = runner.invoke(args=["import", "customers", str(path), "--sheet", "联系人", "--as", "admin"])
    assert result.exit_code != 0 and "no sheet 联系人" in result.output


def test_without_a_default_department_a_customer_without_owner_is_refused(runner, tmp_path, company):
    """No default department unless one is chosen: a customer in nobody's hands needs a department's pool."""
    path = write_csv(tmp_path, [["客户名称", "负责人"], ["北京星辰科技", "staff"], ["上海云帆", ""]])
    result = runner.invoke(args=["import", "customers", str(path), "--as", "admin"])
    assert result.exit_code == 0, result.output
    assert "created 1" in result.output and "rejected 1" in result.output
    customer = db.session.scalar(select(Customer))
    assert customer.name == "北京星辰科技" and customer.department_id == company["departments"]["sales1"].id
    rejected = db.session.scalar(select(ImportRowError))
    assert rejected.row_number == 3 and "公海" in rejected.message


def test_names_and_labels_instead_of_codes(runner, tmp_path, company):
    """The CLI names fields by their labels, the export writes a source in words and imports it back, and
    the duplicates table shows what the file has, named by what it is."""
    plans.save_field(None, "company_size", "企业规模", "choice", "大\n中\n小", False)
    db.session.commit()
    path = write_csv(tmp_path, [["客户名称", "企业规模", "负责人"], ["北京星辰科技有限公司", "大", "staff"]])
    result = runner.invoke(args=["import", "customers", str(path), "--as", "admin"])
    assert result.exit_code == 0, result.output
    assert "企业规模 → 企业规模" in result.output and "x_company_size" not in result.output
    out = tmp_path / "export.csv"
    assert runner.invoke(args=["export", "customers", "--format", "csv", "-o", str(out)]).exit_code == 0
    exported = out.read_text(encoding="utf-8-sig")
    assert "文件导入" in exported and ",import," not in exported
    db.session.execute(Customer.__table__.delete().where(Customer.name == "北京星辰科技有限公司"))
    db.session.commit()
    assert runner.invoke(args=["import", "customers", str(out), "--as", "admin"]).exit_code == 0
    assert db.session.scalar(select(Customer.source)) == "import"

    admin = company["admin"]
    contacts = write_csv(tmp_path, [["客户名称", "联系人"], ["北京星辰科技", "王经理"], ["北京星辰科技", "王经理"]],
                         name="contacts.csv")
    analysis = services.dry_run(upload(admin, contacts, target="contacts"), admin, "all")
    assert [(group.key_kind, group.label) for group in analysis.groups] == [("contact", "王经理")]
