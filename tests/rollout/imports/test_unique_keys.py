"""Keys no two records may share (usernames, department codes): never created twice, and a failed run
never shows an exception's text."""
import traceback

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from rollout.accounts.models import Department, User
from rollout.extensions import db
from rollout.imports import services, targets
from rollout.imports.messages import shown
from rollout.imports.models import COMPLETED, FAILED, ImportRowError
from tests.rollout.imports.helpers import upload, write_csv


def _users(tmp_path, *rows):
    return write_csv(tmp_path, [["用户名", "姓名"], *rows], name="users.csv")


def test_create_anyway_refuses_a_taken_username_row_by_row(tmp_path, company):
    admin = company["admin"]
    batch = upload(admin, _users(tmp_path, ["staff", "另一个张三"], ["newcomer", "新人"], ["NEWCOMER", "新人二"]),
                   target="users")
    services.set_decisions(batch, {}, default_existing="create", default_file="create")
    analysis = services.dry_run(batch, admin, "all")
    assert analysis.counts == {"create": 1, "error": 2}
    batch = services.run_import(batch, admin)
    assert batch.status == COMPLETED and (batch.created_count, batch.error_count) == (1, 2)
    messages = [shown(error.message) for error in db.session.scalars(
        select(ImportRowError).order_by(ImportRowError.row_number))]
    assert messages[0] == ("username “staff” belongs to an existing record and no two records may share it: "
                           "skip this row or update that record.")
    assert messages[1] == "username “NEWCOMER” is also in row 3 and no two records may share it."
    assert db.session.scalar(select(func.count()).select_from(User).where(User.username == "staff")) == 1


def test_department_codes_are_never_created_twice(tmp_path, company):
    admin = company["admin"]
    path = write_csv(tmp_path, [["部门名称", "代码", "上级部门"], ["客服部", "sales", "测试公司"]], name="depts.csv")
    batch = upload(admin, path, target="departments")
    services.set_decisions(batch, {}, default_existing="create", default_file="skip")
    batch = services.run_import(batch, admin)
    assert (batch.created_count, batch.error_count) == (0, 1)
    assert db.session.scalar(select(Department).where(Department.name == "客服部")) is None


def test_create_anyway_is_neither_offered_nor_accepted_for_a_username(tmp_path, company, client_as):
    admin = company["admin"]
    batch = upload(admin, _users(tmp_path, ["staff", "张三"], ["newcomer", "新人"]), target="users")
    db.session.commit()
    html = client_as("admin").post(f"/imports/{batch.id}/check", data={"check-sample": "all"}).get_data(as_text=True)
    group = html[html.find('name="group-existing:username:staff"'):]
    group = group[:group.find("</select>")]
    assert 'value="update"' in group and 'value="create"' not in group
    with pytest.raises(services.ServiceError, match="No two records may share a username"):
        services.set_decisions(batch, {"existing:username:staff": "create"}, "skip", "skip")
    services.set_decisions(batch, {"existing:email:user5@example.com": "create"}, "skip", "skip")


def test_a_failed_run_shows_a_plain_message_and_logs_the_error(app, tmp_path, company, client_as, monkeypatch):
    admin = company["admin"]
    logged = []
    monkeypatch.setattr(app.logger, "exception", lambda *args: logged.append(traceback.format_exc()))

    def insert(self, rows, ctx):
        raise IntegrityError("INSERT INTO users (username, calendar_token) VALUES (?, ?)", ("x", "secret-token"),
                             Exception("UNIQUE constraint failed: users.username"))
    monkeypatch.setattr(targets.UserTarget, "insert", insert)
    batch = upload(admin, _users(tmp_path, ["newcomer", "新人"]), target="users")
    batch = services.run_import(batch, admin)
    assert batch.status == FAILED
    assert "INSERT" not in batch.message and "secret-token" not in batch.message
    assert "UNIQUE constraint failed" in logged[0]
    html = client_as("admin").get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "an unexpected error (the details are in the server log)" in html
    assert "secret-token" not in html and "INSERT INTO" not in html
