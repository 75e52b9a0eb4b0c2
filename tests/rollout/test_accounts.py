"""Login, logout, passwords, throttling, sessions and language preference."""
import pytest
from sqlalchemy import select

from rollout.accounts.models import User
from rollout.accounts.passwords import password_problem, verify_password
from rollout.audit.models import AuditEntry
from rollout.extensions import db
from tests.conftest import TEST_PASSWORD, login


def _login(client, username, password=TEST_PASSWORD, next_url=None):
    data = {"username": username, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login", data=data)


def test_login_success_redirects_home_and_records_audit(client, company):
    response = _login(client, "staff")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "login", AuditEntry.username == "staff"))
    # the login event is the record: the last-login time it sets is no second "update" entry
    assert not db.session.scalars(select(AuditEntry).where(AuditEntry.action == "update",
                                                           AuditEntry.entity == "users")).all()
    assert company["staff"].last_login_at is not None


def test_wrong_password_is_refused_and_audited(client, company):
    response = _login(client, "staff", "wrong password!")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "login_failed"))
    assert entry.entity_id == "staff"
    assert client.get("/").status_code == 302  # still anonymous


def test_inactive_user_cannot_log_in(client, company):
    company["staff"].is_active_account = False
    db.session.commit()
    assert _login(client, "staff").status_code == 401


@pytest.mark.parametrize("target", ["//evil.com", "/\\evil.com", "////evil.com", "https:evil.com",
                                    "javascript:alert(1)", "https://evil.com/", "\\\\evil.com", "/\tevil.com",
                                    " //evil.com"])
def test_next_never_leaves_the_site(client, company, target):
    response = _login(client, "staff", next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_inside_the_site_is_followed(client, company):
    response = _login(client, "staff", next_url="/notifications?page=2")
    assert response.headers["Location"] == "/notifications?page=2"


def test_session_is_cleared_on_login(client, company):
    with client.session_transaction() as session:
        session["planted"] = "attacker"
    _login(client, "staff")
    with client.session_transaction() as session:
        assert "planted" not in session


def test_logout_is_post_only(client_as):
    client = client_as("staff")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_a_copy_of_the_session_cookie_is_dead_after_logout(client_as, app):
    client = client_as("staff")
    cookie = client.get_cookie("session").value
    assert client.post("/logout").status_code == 302
    copy = app.test_client()
    copy.set_cookie("session", cookie)
    response = copy.get("/")
    assert response.status_code == 302 and "/login" in response.location


def test_failed_logins_are_throttled_per_account(client, company, app):
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for _ in range(limit):
        assert _login(client, "staff", "wrong password!").status_code == 401
    # Even the right password is refused while throttled.
    assert _login(client, "staff").status_code == 429


def test_failed_logins_from_one_address_do_not_lock_the_account_elsewhere(client, company, app):
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        assert _login(client, "staff", "wrong password!").status_code == 401
    assert _login(client, "staff").status_code == 429
    # The colleague at their own machine still signs in.
    own_machine = app.test_client()
    own_machine.environ_base["REMOTE_ADDR"] = "10.0.8.99"
    assert _login(own_machine, "staff").status_code == 302


def test_failed_logins_from_many_addresses_lock_the_account(client, company, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ACCOUNT_ALL_ADDRESSES", 4)
    for number in range(4):
        machine = app.test_client()
        machine.environ_base["REMOTE_ADDR"] = f"10.0.9.{number}"
        assert _login(machine, "staff", "wrong password!").status_code == 401
    assert _login(client, "staff").status_code == 429


def test_failed_logins_are_throttled_per_ip(client, company, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_IP", 3)
    for number in range(3):
        _login(client, f"nobody{number}", "wrong password!")
    assert _login(client, "admin").status_code == 429


@pytest.mark.parametrize("password, ok", [("short", False), ("12345678", False), ("password", False),
                                          ("aaaaaaaa", False), ("a" * 129, False), ("staff", False),
                                          ("万里长城永不倒下", True), ("x" * 64, False), ("correct horse battery", True),
                                          ("Tr0ub4dor&3-but-longer", True)])
def test_password_policy(password, ok):
    assert (password_problem(password, "staff") is None) is ok


def test_long_passwords_of_64_characters_are_allowed():
    assert password_problem("correct horse battery staple " * 2 + "abcdef", "u") is None


def test_password_hash_is_argon2id(company):
    assert company["staff"].password_hash.startswith("$argon2id$")


def test_password_change_ends_other_sessions(app, company):
    from tests.conftest import english_client
    first, second = english_client(app), english_client(app)
    login(first, company["staff"])
    login(second, company["staff"])
    response = first.post("/profile", data={"password-current_password": TEST_PASSWORD,
                                            "password-new_password": "a brand new passphrase",
                                            "password-confirm_password": "a brand new passphrase"})
    assert response.status_code == 302
    assert first.get("/").status_code == 200
    assert second.get("/").status_code == 302
    user = db.session.get(User, company["staff"].id)
    assert verify_password(user.password_hash, "a brand new passphrase")


def test_password_change_refuses_wrong_current_and_weak_new(client_as, company):
    client = client_as("staff")
    def change(current, new, again=None):
        return client.post("/profile", data={"password-current_password": current, "password-new_password": new,
                                             "password-confirm_password": new if again is None else again})
    response = change("not it at all", "a brand new passphrase")
    assert response.status_code == 422
    assert "current password is wrong" in response.get_data(as_text=True)
    assert change(TEST_PASSWORD, "12345678").status_code == 422
    response = change(TEST_PASSWORD, "a brand new passphrase", "a brand new passphrasE")
    assert response.status_code == 422 and "The two new passwords differ." in response.get_data(as_text=True)
    response = change(TEST_PASSWORD, TEST_PASSWORD)
    assert response.status_code == 422 and "must differ from the current one" in response.get_data(as_text=True)
    response = change(TEST_PASSWORD, "a" * 100)
    assert response.status_code == 422 and "Use more than two different characters." in response.get_data(as_text=True)
    assert verify_password(db.session.get(User, company["staff"].id).password_hash, TEST_PASSWORD)


def test_choosing_the_browsers_language_again_takes_effect_at_once(client_as, company):
    client = client_as("staff")
    client.post("/language", data={"lang": "en", "next": "/"})
    client.post("/profile", data={"profile-display_name": company["staff"].display_name, "profile-locale": ""})
    page = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'lang="zh' in page


def test_language_preference_is_saved_per_user(client_as, company):
    client = client_as("staff")
    client.post("/language", data={"lang": "en", "next": "/"})
    assert db.session.get(User, company["staff"].id).locale == "en"
    page = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Welcome" in page


def test_browser_asking_for_chinese_gets_chinese(client):
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert "登录" in page
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Log in" in page


def test_session_cookie_flags(client, company):
    response = _login(client, "staff")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_admin_creates_user_with_validation(client_as, company):
    client = client_as("admin")
    data = {"username": "newbie", "display_name": "新人", "roles": ["staff"],
            "department_id": company["departments"]["sales1"].id, "password": "12345678", "is_active_account": "y"}
    response = client.post("/admin/users/new", data=data)
    assert response.status_code == 422
    assert "too common" in response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.username == "newbie")) is None
    data["password"] = "a good long passphrase"
    assert client.post("/admin/users/new", data=data).status_code == 302
    user = db.session.scalar(select(User).where(User.username == "newbie"))
    assert user.roles == {"staff"} and user.department.name == "销售一组"


def test_admin_cannot_pick_an_unknown_role(client_as, company):
    client = client_as("admin")
    response = client.post("/admin/users/new", data={"username": "x1", "display_name": "x", "roles": ["god"],
                                                     "password": "a good long passphrase"})
    assert response.status_code == 422
    assert db.session.scalar(select(User).where(User.username == "x1")) is None


def test_duplicate_username_is_refused_at_the_field(client_as, company):
    client = client_as("admin")
    response = client.post("/admin/users/new", data={"username": "STAFF", "display_name": "x", "roles": ["staff"],
                                                     "password": "a good long passphrase"})
    assert response.status_code == 422
    assert "is taken" in response.get_data(as_text=True)


def test_department_cycle_is_refused(client_as, company):
    client = client_as("admin")
    sales = company["departments"]["sales"]
    team = company["departments"]["sales1"]
    response = client.post(f"/admin/departments/{sales.id}", data={"name": "销售部", "kind": "department",
                                                                  "parent_id": team.id})
    assert response.status_code == 422
    assert "under itself" in response.get_data(as_text=True)


def test_create_user_command(runner, company):
    result = runner.invoke(args=["create-user", "cli.user", "--role", "trainer", "--department", "sales",
                                 "--password", "a good long passphrase"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "cli.user"))
    assert user.roles == {"trainer"} and user.department.code == "sales"
    result = runner.invoke(args=["create-user", "cli.bad", "--role", "staff", "--department", "sales",
                                 "--password", "123"])
    assert result.exit_code != 0 and "at least 8" in result.output
    result = runner.invoke(args=["create-user", "cli.nodept", "--role", "staff", "--password", "a good long passphrase"])
    assert result.exit_code != 0 and "needs a department" in result.output


def test_user_form_refuses_spaces_in_usernames_and_heads_without_a_department(client_as, company):
    client = client_as("admin")
    base = {"display_name": "新同事", "password": "a good long passphrase", "roles": ["staff"],
            "department_id": str(company["departments"]["sales1"].id), "is_active_account": "y"}
    response = client.post("/admin/users/new", data={**base, "username": "新 用户"})
    assert response.status_code == 422 and "A username cannot contain spaces." in response.get_data(as_text=True)
    response = client.post("/admin/users/new", data={**base, "username": "new.head", "roles": ["head"],
                                                      "department_id": "0"})
    assert response.status_code == 422 and "needs a department" in response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.username.in_(["新 用户", "new.head"]))) is None
    # editing follows the same rules, and a deactivated account says so in the list
    staff = company["staff"]
    response = client.post(f"/admin/users/{staff.id}", data={**base, "username": staff.username, "department_id": "0"})
    assert response.status_code == 422 and db.session.get(User, staff.id).department_id is not None
    response = client.post(f"/admin/users/{staff.id}", data={**base, "username": staff.username,
                                                              "is_active_account": ""})
    assert response.status_code == 302
    users = client.get("/admin/users").get_data(as_text=True)
    assert "Deactivated" in users.split(f'/admin/users/{staff.id}">')[1].split("</td>")[0]


def test_a_head_reviews_the_roles_of_their_department_and_its_teams(client_as, company):
    from rollout.notify.models import Notification
    sales = company["departments"]["sales"]
    head = client_as("head")
    page = head.get(f"/departments/{sales.id}/roles").get_data(as_text=True)
    table = page.split('data-testid="role-review"')[1]
    assert company["staff"].display_name in table and company["staff2"].display_name in table  # the teams too
    assert company["other_staff"].display_name not in table
    assert client_as("other_head").get(f"/departments/{sales.id}/roles").status_code == 403
    # the admin menu leads a head to their own department's review, an admin to the departments
    assert "/departments/roles" in head.get("/").get_data(as_text=True)
    assert head.get("/departments/roles").headers["Location"].endswith(f"/departments/{sales.id}/roles")
    assert client_as("admin").get("/departments/roles").headers["Location"].endswith("/admin/departments")
    assert client_as("staff").get(f"/departments/{sales.id}/roles").status_code == 403
    # asking for a change needs words, then tells the administrators
    asked = f"/departments/{sales.id}/roles/{company['staff'].id}/ask"
    assert head.post(asked, data={"note": "  "}).status_code == 303
    assert db.session.scalar(select(Notification).where(Notification.event == "roles.change_requested")) is None
    assert head.post(asked, data={"note": "已调岗到市场部，不应再有销售权限"}).status_code == 302
    told = db.session.scalars(select(Notification).where(Notification.event == "roles.change_requested")).all()
    assert [n.user_id for n in told] == [company["admin"].id]
    outsider = f"/departments/{sales.id}/roles/{company['other_staff'].id}/ask"
    assert head.post(outsider, data={"note": "x"}).status_code == 404
    # confirming stamps everyone listed, and the readiness figure counts them
    assert head.post(f"/departments/{sales.id}/roles/confirm").status_code == 302
    db.session.expire_all()
    assert company["staff2"].roles_reviewed_at is not None and company["other_staff"].roles_reviewed_at is None


def test_a_team_head_reviews_their_team_only(client_as, company, factory):
    sales, sales2 = company["departments"]["sales"], company["departments"]["sales2"]
    team_head = client_as(factory.user("head", "staff", department=sales2, username="team2-head"))
    assert team_head.get("/departments/roles").headers["Location"].endswith(f"/departments/{sales2.id}/roles")
    assert company["staff2"].display_name in team_head.get(f"/departments/{sales2.id}/roles").get_data(as_text=True)
    # Not the whole department: neither the team next door nor their own department's head.
    assert team_head.get(f"/departments/{sales.id}/roles").status_code == 403
    assert team_head.post(f"/departments/{sales.id}/roles/confirm").status_code == 403
    assert team_head.post(f"/departments/{sales.id}/roles/{company['head'].id}/ask",
                          data={"note": "x"}).status_code == 403
    db.session.expire_all()
    assert company["head"].roles_reviewed_at is None


def test_a_department_code_in_use_is_refused_on_its_field(client_as, company):
    from rollout.accounts.models import Department
    client = client_as("admin")
    response = client.post("/admin/departments/new", data={
        "name": "法务部", "kind": "department", "code": "sales", "parent_id": str(company["departments"]["company"].id)})
    assert response.status_code == 422
    assert "The code sales is already used by 销售部." in response.get_data(as_text=True)
    assert db.session.scalar(select(Department).where(Department.name == "法务部")) is None


def test_the_department_form_follows_the_go_live_plans_rule(client_as, company):
    from datetime import date

    from rollout.dashboard.models import RolloutPhase, RolloutPhaseDepartment
    finance = company["departments"]["finance"]
    phase = RolloutPhase(name="第二批", starts_on=date(2030, 1, 1), ends_on=date(2030, 1, 31))
    db.session.add(phase)
    db.session.flush()
    db.session.add(RolloutPhaseDepartment(phase_id=phase.id, department_id=finance.id))
    finance.go_live_on = date(2030, 1, 10)
    db.session.commit()
    form = {"name": finance.name, "kind": "department", "code": finance.code or "",
            "parent_id": str(finance.parent_id)}
    for go_live in ("2030-06-01", ""):
        response = client_as("admin").post(f"/admin/departments/{finance.id}", data={**form, "go_live_on": go_live})
        assert response.status_code == 422, go_live
    db.session.expire_all()
    assert finance.go_live_on == date(2030, 1, 10)
    response = client_as("admin").post(f"/admin/departments/{finance.id}", data={**form, "go_live_on": "2030-01-20"})
    assert response.status_code == 302


def test_there_is_one_company_at_the_top(client_as, company):
    from rollout.accounts.models import Department
    client = client_as("admin")
    response = client.post("/admin/departments/new", data={"name": "第二公司", "kind": "company", "code": "",
                                                          "parent_id": ""})
    assert response.status_code == 422 and "is already the company" in response.get_data(as_text=True)
    assert db.session.scalar(select(Department).where(Department.name == "第二公司")) is None
    top = company["departments"]["company"]
    response = client.post(f"/admin/departments/{top.id}", data={"name": top.name, "kind": "company", "code": "",
                                                                "parent_id": ""})
    assert response.status_code == 302  # the company itself keeps its kind
    response = client.post(f"/admin/departments/{top.id}", data={"name": top.name, "kind": "department", "code": "",
                                                                "parent_id": ""})
    assert response.status_code == 422 and "cannot become a department" in response.get_data(as_text=True)


def test_the_department_tree_keeps_its_shape(client_as, company):
    from rollout.accounts.models import Department
    client = client_as("admin")
    sales, sales1 = company["departments"]["sales"], company["departments"]["sales1"]
    for kind, parent, message in (("team", company["departments"]["company"], "A team sits under a department."),
                                  ("team", None, "A team sits under a department."),
                                  ("department", sales1, "A department sits under the company")):
        response = client.post("/admin/departments/new", data={"name": "新单位", "kind": kind, "code": "",
                                                              "parent_id": str(parent.id) if parent else ""})
        assert response.status_code == 422 and message in response.get_data(as_text=True), (kind, parent)
    assert db.session.scalar(select(Department).where(Department.name == "新单位")) is None
    assert client.post("/admin/departments/new", data={"name": "销售三组", "kind": "team", "code": "",
                                                       "parent_id": str(sales.id)}).status_code == 302
    page = client.get(f"/admin/departments/{sales.id}").get_data(as_text=True)
    assert f'<option value="{sales.id}"' not in page  # not under itself


def test_a_department_code_is_one_word(client_as, company):
    response = client_as("admin").post("/admin/departments/new", data={
        "name": "法务部", "kind": "department", "code": "市场 部", "parent_id": str(company["departments"]["company"].id)})
    assert response.status_code == 422 and "A code is letters, digits" in response.get_data(as_text=True)
