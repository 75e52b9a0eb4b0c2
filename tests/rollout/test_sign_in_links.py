"""Sign-in links: imported accounts choose their first password; a forgotten one is reset."""
import re
from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select

from rollout.accounts import sign_in_links
from rollout.accounts.passwords import verify_password
from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.notify.models import OutboxMessage
from tests.conftest import english_client


def _imported(factory, company, username="newrep"):
    user = factory.user("staff", department=company["departments"]["sales1"], username=username)
    user.password_hash = "!imported-0123456789abcdef"
    db.session.commit()
    return user


def _issue(client_as, user) -> str:
    response = client_as("admin").post(f"/admin/users/{user.id}/sign-in-link")
    assert response.status_code == 200
    url = re.search(r'value="(http[^"]+/sign-in/[^"]+)"', response.get_data(as_text=True)).group(1)
    return url.split("://", 1)[1].split("/", 1)[1]


def test_an_imported_account_chooses_its_password_and_is_signed_in(app, client_as, factory, company):
    user = _imported(factory, company)
    path = "/" + _issue(client_as, user)
    visitor = english_client(app)
    page = visitor.get(path)
    assert page.status_code == 200
    assert "newrep" in page.get_data(as_text=True)

    response = visitor.post(path, data={"new_password": "Blue-river-42", "confirm_password": "Blue-river-42"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert visitor.get("/").status_code == 200  # signed in
    db.session.refresh(user)
    assert user.has_password and verify_password(user.password_hash, "Blue-river-42")
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "users",
                                                                 AuditEntry.entity_id == str(user.id))).all()
    assert {"sign_in_link.issued", "password.set_by_link"} <= set(actions)

    # used once: the same link now refuses
    again = english_client(app).get(path)
    assert again.status_code == 410
    assert "used or replaced" in again.get_data(as_text=True)


def test_a_weak_or_mistyped_password_is_refused_and_the_link_still_works(app, client_as, factory, company):
    user = _imported(factory, company)
    path = "/" + _issue(client_as, user)
    visitor = english_client(app)
    short = visitor.post(path, data={"new_password": "abc", "confirm_password": "abc"})
    assert short.status_code == 422 and "at least 8" in short.get_data(as_text=True)
    differ = visitor.post(path, data={"new_password": "Blue-river-42", "confirm_password": "Blue-river-43"})
    assert differ.status_code == 422 and "differ" in differ.get_data(as_text=True)
    mine = visitor.post(path, data={"new_password": "newrep", "confirm_password": "newrep"})
    assert mine.status_code == 422
    db.session.refresh(user)
    assert not user.has_password
    assert visitor.get(path).status_code == 200


def test_a_newer_link_replaces_the_older_and_ends_sessions(app, client_as, factory, company):
    user = company["staff"]
    signed_in = client_as("staff")
    first = "/" + _issue(client_as, user)
    second = "/" + _issue(client_as, user)
    assert english_client(app).get(first).status_code == 410
    assert english_client(app).get(second).status_code == 200
    assert signed_in.get("/").status_code == 302  # the open session ended with the reset


def test_tampered_expired_and_garbage_links_are_refused(app, client_as, factory, company, monkeypatch):
    user = _imported(factory, company)
    path = "/" + _issue(client_as, user)
    visitor = english_client(app)
    for bad in (path[:-3] + "xyz", "/sign-in/garbage", "/sign-in/" + "a" * 3000):
        response = visitor.get(bad)
        assert response.status_code in (410, 404)
        assert visitor.post(bad, data={"new_password": "Blue-river-42",
                                       "confirm_password": "Blue-river-42"}).status_code in (410, 404)
    monkeypatch.setattr(sign_in_links, "VALID_DAYS", -1)  # a week and a day later
    response = visitor.get(path)
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert not user.has_password


def test_deactivated_accounts_get_no_link_and_their_links_stop(app, client_as, factory, company):
    user = _imported(factory, company)
    path = "/" + _issue(client_as, user)
    user.is_active_account = False
    db.session.commit()
    assert english_client(app).get(path).status_code == 410
    response = client_as("admin").post(f"/admin/users/{user.id}/sign-in-link")
    assert response.status_code == 303


def test_only_user_managers_issue_links(client_as, company):
    for key in ("lead", "head", "staff"):
        assert client_as(key).post(f"/admin/users/{company['staff'].id}/sign-in-link").status_code == 403
        assert client_as(key).post("/admin/users/sign-in-links.xlsx").status_code == 403


def test_the_workbook_holds_a_working_link_per_account_without_password(app, client_as, factory, company):
    first, second = _imported(factory, company, "imp1"), _imported(factory, company, "imp2")
    admin = client_as("admin")
    assert "Sign-in links for 2 accounts without a password" in admin.get("/admin/users").get_data(as_text=True)
    response = admin.post("/admin/users/sign-in-links.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("Username", "Name", "Department", "Email", "Sign-in link")
    assert [row[0] for row in rows[1:]] == ["imp1", "imp2"]
    link = "/" + rows[1][4].split("://", 1)[1].split("/", 1)[1]
    visitor = english_client(app)
    assert visitor.post(link, data={"new_password": "Blue-river-42",
                                    "confirm_password": "Blue-river-42"}).status_code == 302
    db.session.refresh(first)
    db.session.refresh(second)
    assert first.has_password and not second.has_password
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "export", AuditEntry.entity == "users"))


def test_the_workbook_button_is_gone_when_everyone_has_a_password(client_as, company):
    admin = client_as("admin")
    assert "sign-in-links-form" not in admin.get("/admin/users").get_data(as_text=True)
    response = admin.post("/admin/users/sign-in-links.xlsx")
    assert response.status_code == 303


def test_the_link_is_emailed_when_a_mail_server_is_set_up(app, client_as, factory, company, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", "")
    user = _imported(factory, company)
    user.email = "newrep@example.com"
    db.session.commit()
    page = client_as("admin").post(f"/admin/users/{user.id}/sign-in-link").get_data(as_text=True)
    assert "on its way" not in page
    assert not db.session.scalars(select(OutboxMessage)).all()
    monkeypatch.setitem(app.config, "SMTP_HOST", "smtp.example.com")
    page = client_as("admin").post(f"/admin/users/{user.id}/sign-in-link").get_data(as_text=True)
    assert "on its way to newrep@example.com" in page
    message = db.session.scalar(select(OutboxMessage))
    assert message.target == "newrep@example.com" and "/sign-in/" in message.link
    assert "newrep" in message.body_markdown


def test_an_administrator_changes_their_own_password_on_the_profile_not_by_link(client_as, company):
    admin = client_as("admin")
    assert "sign-in-link-card" not in admin.get(f"/admin/users/{company['admin'].id}").get_data(as_text=True)
    response = admin.post(f"/admin/users/{company['admin'].id}/sign-in-link", follow_redirects=True)
    assert "Change your own password on your profile page." in response.get_data(as_text=True)
    assert admin.get("/").status_code == 200  # still signed in
