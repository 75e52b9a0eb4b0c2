"""The users list goes by username in natural order (u2 before u10), on every page and in its export, with
the same number of statements however many users there are."""
import csv
import io
import re

from rollout.extensions import db


def _usernames(page: str) -> list:
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r'<a href="/admin/users/\d+">([^<]+)</a>', body)


def test_usernames_ending_in_numbers_go_in_number_order(client_as, factory):
    for name in ("u10", "u2", "u100", "u1", "u9", "rep10", "rep", "rep2", "team1.head", "u"):
        factory.user("staff", username=name)
    names = _usernames(client_as("admin").get("/admin/users").text)
    ours = [name for name in names if name[0] in "rtu"]
    assert ours == ["rep", "rep2", "rep10", "team1.head", "trainer", "u", "u1", "u2", "u9", "u10", "u100"]


def test_natural_order_runs_across_pages_and_into_the_export(client_as, factory):
    for number in range(1, 121):
        factory.user("staff", username=f"u{number}")
    client = client_as("admin")
    seen = []
    for page in (1, 2, 3):
        seen += [name for name in _usernames(client.get(f"/admin/users?page={page}").text) if name.startswith("u")]
    assert seen == [f"u{number}" for number in range(1, 121)]
    assert _usernames(client.get("/admin/users?q=u9").text) == ["u9"] + [f"u9{digit}" for digit in range(10)]
    rows = list(csv.reader(io.StringIO(client.get("/admin/users/export.csv").data.decode("utf-8-sig"))))[1:]
    exported = [row[0] for row in rows]
    assert [name for name in exported if re.fullmatch(r"u\d+", name)] == [f"u{number}" for number in range(1, 121)]


def test_the_users_list_issues_the_same_number_of_statements_at_two_sizes(client_as, factory, count_statements):
    client = client_as("admin")
    counts = []
    for size in (3, 30):
        for number in range(size):
            factory.user("staff", username=f"n{size}-{number}")
        client.get("/admin/users")
        db.session.expire_all()
        with count_statements() as counter:
            assert client.get("/admin/users").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1]
