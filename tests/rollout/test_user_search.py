"""The users list finds people by username, name, email or phone, however the phone was typed."""
import pytest

from rollout.extensions import db


@pytest.fixture
def reachable(company, factory):
    person = factory.user("staff", username="wang.fang", display_name="王芳")
    person.email = "fang.wang@example.cn"
    person.phone = "139-1234-5678"
    other = factory.user("staff", username="li.lei", display_name="李雷")
    other.phone = "+86 137 0000 1111"
    db.session.commit()
    return person, other


def _found(client, text):
    body = client.get("/admin/users", query_string={"q": text}).text.split("<tbody>")[1].split("</tbody>")[0]
    return {name for name in ("wang.fang", "li.lei") if name in body}


@pytest.mark.parametrize("text, expected", [
    ("wang.fang", {"wang.fang"}), ("王芳", {"wang.fang"}),
    ("fang.wang@example", {"wang.fang"}), ("EXAMPLE.CN", {"wang.fang"}),
    ("139-1234-5678", {"wang.fang"}), ("13912345678", {"wang.fang"}), ("139 1234 5678", {"wang.fang"}),
    ("5678", {"wang.fang"}), ("13700001111", {"li.lei"}), ("+86 13700001111", {"li.lei"}),
    ("0000 1111", {"li.lei"}), ("nobody@nowhere", set()),
])
def test_users_are_found_by_email_and_phone(client_as, reachable, text, expected):
    assert _found(client_as("admin"), text) == expected
