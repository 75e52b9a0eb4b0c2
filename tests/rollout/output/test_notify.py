"""notify(): in-app notifications with an unread bell, and outbox rows per channel."""
from sqlalchemy import func, select

from rollout.extensions import db
from rollout.notify.models import DepartmentRobot, Notification, NotificationChannel, OutboxMessage
from rollout.notify.services import notify, unread_count


def test_notify_stores_notifications_and_queues_channels(company):
    staff, head = company["staff"], company["head"]
    db.session.add(NotificationChannel(user_id=staff.id, kind="email", target="staff@example.com"))
    db.session.add(NotificationChannel(user_id=head.id, kind="dingtalk", target="http://127.0.0.1:1/x",
                                       is_digest=True))
    db.session.add(DepartmentRobot(department_id=company["departments"]["sales"].id, kind="wecom",
                                   target="http://127.0.0.1:1/robot"))
    db.session.commit()
    notify([staff, head, staff], "quote.rejected", "报价被驳回", "请**修改**后重新提交", "/plans",
           department_ids=[company["departments"]["sales"].id])
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 2
    outbox = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.kind)).all()
    # the head chose a daily digest: no immediate message for them
    assert [(m.kind, m.target) for m in outbox] == [("email", "staff@example.com"),
                                                   ("wecom", "http://127.0.0.1:1/robot")]
    assert len({m.idempotency_key for m in outbox}) == 2
    assert unread_count(staff) == 1


def test_bell_and_inbox(client_as, company):
    notify([company["staff"]], "test", "新任务", "内容", "/notifications")
    db.session.commit()
    client = client_as("staff")
    page = client.get("/").get_data(as_text=True)
    assert 'data-testid="unread">1<' in page
    inbox = client.get("/notifications").get_data(as_text=True)
    assert "新任务" in inbox
    notification = db.session.scalar(select(Notification))
    response = client.post(f"/notifications/{notification.id}/open")
    assert response.status_code == 302 and response.headers["Location"] == "/notifications"
    assert unread_count(company["staff"]) == 0


def test_cannot_open_someone_elses_notification(client_as, company):
    notify([company["head"]], "test", "私人", "", "/")
    db.session.commit()
    notification = db.session.scalar(select(Notification))
    assert client_as("staff").post(f"/notifications/{notification.id}/open").status_code == 404


def test_a_notification_without_a_link_is_marked_read_on_its_own(client_as, company):
    notify([company["staff"]], "test", "只是告知", "", None)
    notify([company["staff"]], "test", "另一条", "", None)
    db.session.commit()
    client = client_as("staff")
    first = db.session.scalar(select(Notification).where(Notification.subject == "只是告知"))
    assert f'/notifications/{first.id}/open"' in client.get("/notifications").get_data(as_text=True)
    assert client.post(f"/notifications/{first.id}/open").status_code == 302
    db.session.expire_all()
    assert first.read_at is not None and unread_count(company["staff"]) == 1


def test_a_user_who_chose_no_language_is_written_to_in_their_browsers(app, company):
    from flask_babel import lazy_gettext as _l

    from tests.conftest import TEST_PASSWORD
    staff, head = company["staff"], company["head"]
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-US,en;q=0.9"
    response = browser.post("/login", data={"username": staff.username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    db.session.expire_all()
    assert staff.locale is None and staff.browser_locale == "en"
    notify([staff, head], "test", _l("Your profile is saved."))
    db.session.commit()
    subjects = dict(db.session.execute(select(Notification.user_id, Notification.subject)).all())
    assert subjects == {staff.id: "Your profile is saved.", head.id: "个人资料已保存。"}
