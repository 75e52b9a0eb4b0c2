"""Migration 0018 carries each session's picked account into its list of interviewees, and back."""
from datetime import date

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from rollout import create_app
from rollout.accounts.models import Department, User
from rollout.extensions import db
from surveys.models import Interview
from tests.rollout.test_migrations import fresh_database_url, new_database_url  # noqa: F401 (fixtures)


def _rows(sql: str) -> set[tuple]:
    return {tuple(row) for row in db.session.execute(text(sql))}


def test_picked_accounts_become_interviewees_and_the_first_stays_on_downgrade(fresh_database_url):  # noqa: F811
    fresh = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": fresh_database_url})
    with fresh.app_context():
        upgrade(revision="0017")
        sales = Department(name="销售部", code="sales")
        people = [User(username=f"u{n}", display_name=f"销售{n}", email=f"u{n}@example.com", password_hash="!")
                  for n in range(3)]
        for person in people:
            person.department = sales
        db.session.add_all([sales, *people])
        db.session.flush()
        picked = Interview(title="单人访谈", interviewee="销售0", interviewee_id=people[0].id, role="staff",
                           department=sales, method="interview", held_on=date(2025, 9, 1))
        typed = Interview(title="只写了名字", interviewee="某人", role="head", department=sales,
                          method="workshop", held_on=date(2025, 9, 2))
        db.session.add_all([picked, typed])
        db.session.commit()
        ids = (picked.id, typed.id, [person.id for person in people])
        db.session.remove()

        upgrade(revision="0018")
        picked_id, typed_id, user_ids = ids
        assert _rows("SELECT interview_id, user_id, role FROM interview_interviewees") == {
            (picked_id, user_ids[0], "staff")}
        # A group recorded after the upgrade, whose first person never reached interviewee_id.
        db.session.execute(text("INSERT INTO interview_interviewees (interview_id, user_id, role) VALUES "
                                f"({typed_id}, {user_ids[2]}, 'staff'), ({typed_id}, {user_ids[1]}, 'staff')"))
        db.session.commit()
        db.session.remove()

        downgrade(revision="0017")
        assert "interview_interviewees" not in inspect(db.engine).get_table_names()
        assert _rows("SELECT id, interviewee_id, role FROM interviews") == {
            (picked_id, user_ids[0], "staff"), (typed_id, min(user_ids[1:]), "head")}
        db.session.remove()
        upgrade()
        assert _rows("SELECT interview_id, user_id FROM interview_interviewees") == {
            (picked_id, user_ids[0]), (typed_id, min(user_ids[1:]))}
        db.session.remove()
        db.engine.dispose()
