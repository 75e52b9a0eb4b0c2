"""Columns an import does not recognise are named, never dropped in silence, and the usual Chinese names of the
next step's date (and of the other fields) are recognised."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from rollout.extensions import db
from rollout.imports.mapping import auto_map
from rollout.imports.targets import get_target
from rollout.plans.models import Activity
from rollout.timeutil import local_today
from tests.rollout.imports.helpers import import_customer, write_csv


@pytest.fixture
def customer(tmp_path, company):
    import_customer(tmp_path, company["admin"])


def _mapped(target, headers):
    fields = get_target(target).fields()
    return {headers[index]: name for index, name in auto_map(headers, fields).items()}


def test_the_cli_names_every_column_it_does_not_import(runner, tmp_path, customer):
    day, later = local_today() - timedelta(days=3), local_today() + timedelta(days=4)
    path = write_csv(tmp_path, [["客户名称", "跟进人", "跟进方式", "跟进日期", "跟进内容", "下一步", "下一步日期", "客户评级",
                                 "备用"],
                                ["北京星辰科技", "staff", "电话", day.isoformat(), "谈了报价", "上门演示", later.isoformat(),
                                 "A", ""]], name="activities.csv")
    result = runner.invoke(args=["import", "activities", str(path), "--dry-run", "--as", "admin"])
    assert result.exit_code == 0, result.output
    assert "下一步日期 → Next step date" in result.output
    assert "Warning: 2 columns ignored (not imported): 客户评级, 备用." in result.output
    result = runner.invoke(args=["import", "activities", str(path), "--as", "admin"])
    assert result.exit_code == 0, result.output
    assert "2 columns ignored" in result.output and "created 1" in result.output
    activity = db.session.scalar(select(Activity))
    assert (activity.next_step, activity.next_step_on) == ("上门演示", later)


def test_a_file_whose_columns_are_all_known_gets_no_warning(runner, tmp_path, customer):
    day = (local_today() - timedelta(days=3)).isoformat()
    path = write_csv(tmp_path, [["客户名称", "跟进方式", "跟进日期", "跟进内容"], ["北京星辰科技", "电话", day, "谈了报价"]],
                     name="activities.csv")
    result = runner.invoke(args=["import", "activities", str(path), "--as", "admin"])
    assert result.exit_code == 0, result.output
    assert "ignored" not in result.output


@pytest.mark.parametrize("header", ["下一步日期", "下次日期", "下次跟进日期", "下次跟进时间", "下次联系日期", "下一步时间",
                                    "下次拜访日期", "Next step date"])
def test_names_of_the_next_step_date(app, header):
    assert _mapped("activities", ["客户", "日期", "内容", "下一步", header])[header] == "next_step_on"
    # Without a column for the step itself, the date is still the step's date, not the step.
    assert _mapped("activities", ["客户", "日期", header])[header] == "next_step_on"


def test_common_chinese_column_names_of_every_target(app):
    assert _mapped("activities", ["客户名称", "拜访人", "沟通方式", "沟通时间", "沟通记录", "下次跟进内容", "下次跟进时间"]) == {
        "客户名称": "customer", "拜访人": "user", "沟通方式": "kind", "沟通时间": "occurred_on", "沟通记录": "outcome",
        "下次跟进内容": "next_step", "下次跟进时间": "next_step_on"}
    assert _mapped("customers", ["客户名称", "移动电话", "所属销售", "所属团队", "所在城市", "联系地址", "获客渠道",
                                 "行业类别"]) == {
        "客户名称": "name", "移动电话": "phone", "所属销售": "owner", "所属团队": "department", "所在城市": "city",
        "联系地址": "address", "获客渠道": "source", "行业类别": "industry"}
    assert _mapped("opportunities", ["机会名称", "客户名称", "销售负责人", "预计成交金额", "销售阶段", "预计签单日期",
                                     "签单日期", "失败原因"]) == {
        "机会名称": "name", "客户名称": "customer", "销售负责人": "owner", "预计成交金额": "amount",
        "销售阶段": "stage", "预计签单日期": "expected_close_on", "签单日期": "closed_on", "失败原因": "lost_reason"}
    assert _mapped("contacts", ["客户名称", "联系人", "岗位", "移动电话", "邮箱地址"]) == {
        "客户名称": "customer", "联系人": "name", "岗位": "title", "移动电话": "phone", "邮箱地址": "email"}
