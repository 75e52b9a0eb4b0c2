"""The notification inbox filters unread or all notifications, counts both, and keeps the filter
across pages and after marking read."""
import re

from sqlalchemy import select

from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.notify.services import notify, unread_count
from rollout.timeutil import utcnow


def _notify(user, count, subject="通知", link=None):
    for number in range(count):
        notify([user], "test", f"{subject}{number}", "", link)
    db.session.commit()


def _count(page: str, key: str) -> int:
    return int(re.search(rf'data-testid="count-{key}">(\d+)<', page).group(1))


def _read(user, subjects):
    for notification in db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                                      Notification.subject.in_(subjects))):
        notification.read_at = utcnow()
    db.session.commit()


def test_unread_shows_only_unread_with_both_counts(company, client_as):
    staff = company["staff"]
    _notify(staff, 3, "未读")
    _notify(staff, 2, "已读")
    _read(staff, ["已读0", "已读1"])
    client = client_as("staff")
    everything = client.get("/notifications").get_data(as_text=True)
    assert "未读0" in everything and "已读0" in everything
    assert _count(everything, "unread") == 3 and _count(everything, "all") == 5
    unread = client.get("/notifications?show=unread").get_data(as_text=True)
    assert "未读2" in unread and "已读" not in unread
    assert _count(unread, "unread") == 3 and _count(unread, "all") == 5
    assert 'aria-current="page" href="/notifications?show=unread"' in unread


def test_an_unknown_filter_shows_everything(company, client_as):
    _notify(company["staff"], 1)
    response = client_as("staff").get("/notifications?show=<script>")
    assert response.status_code == 200 and "通知0" in response.get_data(as_text=True)
    assert "<script>" not in response.get_data(as_text=True)


def test_the_filter_is_kept_across_pages(company, client_as):
    _notify(company["staff"], 35)
    page = client_as("staff").get("/notifications?show=unread").get_data(as_text=True)
    assert "/notifications?show=unread&amp;page=2" in page
    second = client_as("staff").get("/notifications?show=unread&page=2").get_data(as_text=True)
    assert second.count('data-testid="unread-notification"') == 5


def test_mark_all_read_keeps_the_filter_and_says_all_is_read(company, client_as):
    staff = company["staff"]
    _notify(staff, 2)
    client = client_as("staff")
    response = client.post("/notifications/read-all", data={"show": "unread"})
    assert response.status_code == 302 and response.headers["Location"] == "/notifications?show=unread"
    assert unread_count(staff) == 0
    page = client.get("/notifications?show=unread").get_data(as_text=True)
    assert 'data-testid="no-unread"' in page and _count(page, "unread") == 0 and _count(page, "all") == 2
    assert "/notifications/read-all" not in page  # nothing left to mark
    # from the plain inbox (or with a forged filter) it returns to the plain inbox
    assert client.post("/notifications/read-all").headers["Location"] == "/notifications"
    assert client.post("/notifications/read-all", data={"show": "//evil"}).headers["Location"] == "/notifications"


def test_mark_read_returns_to_the_same_filter_and_page(company, client_as):
    staff = company["staff"]
    _notify(staff, 1)
    notification = db.session.scalar(select(Notification))
    response = client_as("staff").post(f"/notifications/{notification.id}/open", data={"show": "unread", "page": "2"})
    assert response.headers["Location"] == "/notifications?show=unread&page=2"
    db.session.expire_all()
    assert notification.read_at is not None


def test_a_linked_notification_still_opens_its_link(company, client_as):
    _notify(company["staff"], 1, link="/retros/")
    notification = db.session.scalar(select(Notification))
    response = client_as("staff").post(f"/notifications/{notification.id}/open", data={"show": "unread"})
    assert response.headers["Location"] == "/retros/"


def test_the_counts_are_only_the_users_own(company, client_as):
    _notify(company["head"], 4)
    _notify(company["staff"], 1)
    page = client_as("staff").get("/notifications?show=unread").get_data(as_text=True)
    assert _count(page, "unread") == 1 and _count(page, "all") == 1


def test_statements_do_not_grow_with_notifications(company, client_as, count_statements):
    staff = company["staff"]
    client = client_as("staff")
    _notify(staff, 1)
    counts = {}
    for show in ("all", "unread"):
        with count_statements() as small:
            assert client.get(f"/notifications?show={show}").status_code == 200
        counts[show] = small.count
    _notify(staff, 40)
    _read(staff, [f"通知{n}" for n in range(10)])
    for show in ("all", "unread"):
        with count_statements() as large:
            client.get(f"/notifications?show={show}&page=2")
        assert large.count == counts[show]
