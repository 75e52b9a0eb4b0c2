"""Database pages: a page number past the end shows the last page, and the pager offers first and last."""
import re

from sqlalchemy import select

from rollout.accounts.models import User
from rollout.extensions import db
from rollout.web import paginate


def _users(factory, count):
    for number in range(count):
        factory.user("staff", username=f"bulk{number:03d}")
    db.session.commit()


def test_a_page_past_the_end_shows_the_last_page_at_the_same_cost(app, company, factory, count_statements):
    _users(factory, 30)
    total = db.session.scalar(select(db.func.count()).select_from(User))
    statement = select(User).order_by(User.id)
    last = -(-total // 10)
    counts = set()
    for asked, shown in (("5000", last), (str(last), last), ("2", 2), ("0", 1), ("x", 1)):
        with app.test_request_context(f"/?page={asked}"):
            with count_statements() as counter:
                page = paginate(statement, per_page=10)
            assert page.page == shown and page.items, asked
            # a count, a page of rows (and the roles the User model always loads with them)
            assert counter.statements[0].startswith("SELECT count(*)")
            counts.add(counter.count)
    assert len(counts) == 1
    with app.test_request_context("/?page=5000"):
        page = paginate(statement, per_page=10)
        assert [user.id for user in page.items] == [user.id for user in db.session.scalars(statement)][(last - 1) * 10:]
        assert not page.has_next and page.has_prev
    with app.test_request_context("/?page=7"):
        empty = paginate(select(User).where(User.id < 0), per_page=10)
        assert (empty.page, empty.pages, empty.items) == (1, 1, [])


def test_a_capped_count_keeps_the_page_asked_for(app, company, factory):
    """When counting stopped at its limit the last page is unknown: the page asked for is shown."""
    _users(factory, 30)
    with app.test_request_context("/?page=3"):
        page = paginate(select(User).order_by(User.id), per_page=5, count_limit=10)
        assert page.is_capped and page.page == 3 and len(page.items) == 5


def test_users_list_past_the_end_and_its_first_and_last_links(client_as, company, factory):
    _users(factory, 60)
    client = client_as("admin")
    response = client.get("/admin/users?page=5000&q=bulk")
    page = response.text
    assert response.status_code == 200
    assert "Page 2 of 2" in page and "bulk059" in page and "Page 5000" not in page
    first = re.search(r'<a class="page-link" data-testid="first-page" href="([^"]+)"', page).group(1)
    assert "page=1" in first and "q=bulk" in first
    last = re.search(r'<a class="page-link" data-testid="last-page" href="([^"]*)"([^>]*)>', page)
    assert last.group(1) == "#" and 'aria-disabled="true"' in last.group(2)  # on the last page already
    page = client.get("/admin/users?q=bulk").text
    last = re.search(r'<a class="page-link" data-testid="last-page" href="([^"]+)"', page).group(1)
    assert "page=2" in last and "q=bulk" in last
    assert 'data-testid="first-page" href="#"' in page
