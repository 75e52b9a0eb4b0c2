"""Shared fixtures: an app on a temporary database (or TEST_DATABASE_URL), clients per role,
factories, and a SQL statement counter.

Each test gets an app context and an empty database; tables are created once
per session and emptied after every test.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import event

from rollout import create_app, figures
from rollout.accounts.models import Department, User
from rollout.extensions import db

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
TEST_PASSWORD = "correct horse battery"


def _database_url(tmp_dir: str) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_dir}/test.db"


@pytest.fixture(scope="session")
def app():
    tmp_dir = tempfile.mkdtemp(prefix="rollout-test-")
    os.environ.setdefault("ROLLOUT_INSTANCE", tmp_dir)
    application = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp_dir),
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "ARGON2_PARALLELISM": 1,
        "UPLOAD_FOLDER": os.path.join(tmp_dir, "uploads"),
        "SERVER_NAME": None,
    })
    with application.app_context():
        db.drop_all()
        db.create_all()
    yield application
    with application.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def _empty_all_tables():
    """Delete the rows of every table a test wrote to (one query finds them)."""
    db.session.rollback()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    probe = " UNION ALL ".join(f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in tables)
    with db.engine.begin() as connection:
        filled = {row[0] for row in connection.exec_driver_sql(probe)}
        # Children before parents; on PostgreSQL DELETE beats TRUNCATE for small tables.
        for name in tables:
            if name in filled:
                connection.exec_driver_sql(f'DELETE FROM "{name}"')


@pytest.fixture(autouse=True)
def app_ctx(app):
    """Every test runs inside an app context and leaves an empty database behind."""
    with app.app_context():
        yield app
        db.session.remove()
        _empty_all_tables()
        figures.clear()  # the next test's data starts again from the same ids


def english_client(app):
    """A test client whose browser asks for English (tests assert English messages)."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return test_client


def chinese_client(app, user):
    """A test client whose browser asks for Chinese, logged in as ``user``."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    login(test_client, user)
    return test_client


@pytest.fixture
def client(app):
    return english_client(app)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- factories -------------------------------------------------------------
class Factory:
    """Builds departments and users; every object is committed so requests see it."""

    def __init__(self):
        self._counter = 0

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def department(self, name=None, kind="department", parent=None, code=None, go_live_on=None) -> Department:
        department = Department(name=name or f"部门{self._next()}", kind=kind, parent=parent, code=code,
                                go_live_on=go_live_on)
        db.session.add(department)
        db.session.commit()
        return department

    def user(self, *roles, department=None, username=None, is_seed_user=False, password=TEST_PASSWORD,
             display_name=None) -> User:
        from rollout.accounts.passwords import hash_password
        number = self._next()
        user = User(username=username or f"user{number}", display_name=display_name or f"用户{number}",
                    email=f"user{number}@example.com", password_hash=hash_password(password),
                    department=department, is_seed_user=is_seed_user)
        user.set_roles(roles or ("staff",))
        db.session.add(user)
        db.session.commit()
        return user


@pytest.fixture
def factory():
    return Factory()


@pytest.fixture
def company(factory):
    """A small company: 销售部 with two teams, 市场部 and 财务部, and one user per role.

    Keys: departments (company, sales, sales1, sales2, marketing, finance) and users
    (admin, lead, trainer, head = head of 销售部, staff = rep in 销售一组,
    staff2 = rep in 销售二组, other_staff = 市场部 staff, other_head = head of 市场部).
    """
    root = factory.department("测试公司", kind="company", code="company")
    sales = factory.department("销售部", parent=root, code="sales", go_live_on=date(2026, 12, 1))
    sales1 = factory.department("销售一组", kind="team", parent=sales, code="sales-1")
    sales2 = factory.department("销售二组", kind="team", parent=sales, code="sales-2")
    marketing = factory.department("市场部", parent=root, code="marketing")
    finance = factory.department("财务部", parent=root, code="finance")
    users = {
        "admin": factory.user("admin", department=marketing, username="admin"),
        "lead": factory.user("lead", department=marketing, username="lead"),
        "trainer": factory.user("trainer", department=marketing, username="trainer"),
        "head": factory.user("head", department=sales, username="head"),
        "staff": factory.user("staff", department=sales1, username="staff"),
        "staff2": factory.user("staff", department=sales2, username="staff2"),
        "other_staff": factory.user("staff", department=marketing, username="other_staff"),
        "other_head": factory.user("head", department=marketing, username="other_head"),
        "finance": factory.user("staff", department=finance, username="finance"),
    }
    departments = {"company": root, "sales": sales, "sales1": sales1, "sales2": sales2,
                   "marketing": marketing, "finance": finance}
    return {"departments": departments, "users": users, **users}


def login(client, user) -> None:
    """Log ``client`` in as ``user`` without going through the password form."""
    from rollout.extensions import login_manager
    # The identifier Flask-Login stores at login (hash of address and browser), as a real login would.
    with client.application.test_request_context(environ_base=client.environ_base):
        identifier = login_manager._session_identifier_generator()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session["_id"] = identifier


@pytest.fixture
def client_as(app, company):
    """``client_as("head")`` → a test client logged in as that user of the company fixture."""
    def make(user_or_key):
        user = company[user_or_key] if isinstance(user_or_key, str) else user_or_key
        test_client = english_client(app)
        login(test_client, user)
        return test_client
    return make


# --- SQL statement counting -----------------------------------------------------
class StatementCounter:
    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(app):
    """``with count_statements() as counter: ...`` then ``counter.count``."""
    @contextmanager
    def counting():
        counter = StatementCounter()

        def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "PRAGMA")):
                counter.statements.append(statement)

        engine = db.engine
        event.listen(engine, "before_cursor_execute", before_cursor_execute)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before_cursor_execute)
    return counting


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def pytest_collection_modifyitems(config, items):
    on_postgres = (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql")
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set TEST_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords and not on_postgres:
            item.add_marker(skip_pg)


# --- browser -------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Drive Debian's Chromium: the test tool's own browser download is not used."""
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM", "/usr/bin/chromium"),
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }


def log_in(page, live_server: str, username: str) -> None:
    """Log a browser page in as a test user (password TEST_PASSWORD) and wait for the home page."""
    page.goto(f"{live_server}/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")


@pytest.fixture(scope="session")
def live_server(app):
    """The app served over HTTP on 127.0.0.1 in a background thread, for browser tests."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
