"""Migration 0010 (support conversations) keeps every support request, up and down."""
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from rollout import create_app
from rollout.extensions import db
from tests.rollout.test_migrations import fresh_database_url, new_database_url  # noqa: F401  (fixtures)

REQUEST = ("INSERT INTO training_support_requests (id, requester_id, subject, body_markdown, module, status, "
           "created_at, answer_markdown, answered_by_id, answered_at, escalated_at) VALUES "
           "(:id, 1, :subject, '', '', :status, CURRENT_TIMESTAMP, :answer, :by, :at, :escalated)")


def _statuses() -> dict[int, str]:
    return dict(db.session.execute(text("SELECT id, status FROM training_support_requests")).all())


def test_support_requests_survive_the_migration_and_solved_ones_return_to_their_status(fresh_database_url):
    fresh = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": fresh_database_url})
    with fresh.app_context():
        upgrade(revision="0009")
        db.session.execute(text(
            "INSERT INTO users (id, username, display_name, password_hash, is_seed_user, is_active_account, "
            "session_token, calendar_token, created_at) VALUES "
            "(1, 'rep', '销售代表 张伟', 'x', false, true, 's', 'c', CURRENT_TIMESTAMP)"))
        now = "2026-11-20 08:00:00"
        for values in ({"id": 1, "subject": "怎么导出报表？", "status": "answered", "answer": "点右上角导出", "by": 1,
                        "at": now, "escalated": None},
                       {"id": 2, "subject": "报价单怎么加赠品？", "status": "open", "answer": "", "by": None, "at": None,
                        "escalated": None},
                       {"id": 3, "subject": "手机端看不到报表", "status": "escalated", "answer": "", "by": None,
                        "at": None, "escalated": now}):
            db.session.execute(text(REQUEST), values)
        db.session.commit()

        upgrade(revision="0010")
        assert _statuses() == {1: "answered", 2: "open", 3: "escalated"}
        db.session.execute(text("UPDATE training_support_requests SET status = 'solved'"))
        db.session.execute(text("INSERT INTO training_support_replies (request_id, author_id, body_markdown, "
                                "created_at) VALUES (1, 1, '谢谢，解决了', CURRENT_TIMESTAMP)"))
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(text("UPDATE training_support_requests SET status = 'lost' WHERE id = 1"))
            db.session.commit()
        db.session.rollback()
        db.session.remove()

        downgrade(revision="0009")
        # Solved requests go back to where they stood: answered, or waiting as before.
        assert _statuses() == {1: "answered", 2: "open", 3: "escalated"}
        db.session.remove()  # the session's transaction would hold SQLite's write lock against the inspector's
        assert "training_support_replies" not in inspect(db.engine).get_table_names()
        db.engine.dispose()
