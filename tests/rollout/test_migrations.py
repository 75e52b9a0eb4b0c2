"""Upgrading an empty database yields exactly the models' schema (no drift)."""
import uuid

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from rollout import create_app
from rollout.extensions import db


@pytest.fixture
def new_database_url(app, tmp_path):
    """Makes empty databases on the suite's engine (SQLite files, or PostgreSQL databases dropped after)."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    created = []
    admin_engine = create_engine(url, isolation_level="AUTOCOMMIT") if url.get_backend_name() == "postgresql" else None

    def new_database() -> str:
        name = f"rollout_drift_{uuid.uuid4().hex[:8]}"
        if admin_engine is None:
            return f"sqlite:///{tmp_path}/{name}.db"
        with admin_engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return url.set(database=name).render_as_string(hide_password=False)
    yield new_database
    if admin_engine is not None:
        with admin_engine.connect() as connection:
            for name in created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


@pytest.fixture
def fresh_database_url(new_database_url):
    return new_database_url()


def _differences_from_the_models() -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    db.engine.dispose()
    return differences


def test_migrations_match_the_models(fresh_database_url):
    fresh = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": fresh_database_url})
    with fresh.app_context():
        upgrade()
        assert _differences_from_the_models() == []


def test_every_migration_downgrades_and_upgrades_again(fresh_database_url):
    fresh = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": fresh_database_url})
    with fresh.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert _differences_from_the_models() == []


def _schema_after(database_url: str, create, read):
    """What ``read()`` reports of a new database once ``create()`` has built it (migrations or the models)."""
    fresh = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": database_url})
    with fresh.app_context():
        create()
        try:
            return read()
        finally:
            db.session.remove()
            db.engine.dispose()


def _check_constraints() -> dict[str, list[tuple[str, str]]]:
    """Every table's CHECK constraints, (name, test as the database reports it)."""
    inspector = inspect(db.engine)
    return {table: sorted((check["name"], check["sqltext"]) for check in inspector.get_check_constraints(table))
            for table in inspector.get_table_names() if table != "alembic_version"}


def test_migrations_create_the_models_check_constraints(new_database_url):
    # compare_metadata does not compare CHECK constraints: compare what the database reports.
    migrated = _schema_after(new_database_url(), upgrade, _check_constraints)
    created = _schema_after(new_database_url(), db.create_all, _check_constraints)
    assert migrated == created
    # Value lists are equalities joined by OR (rollout.database.one_of), never IN (...) / = ANY (ARRAY[...]).
    tests = [test for checks in migrated.values() for _name, test in checks]
    assert any("kind = 'create' OR kind = 'claim'" in test.replace("::text", "") for test in tests)
    assert not [test for test in tests if " IN (" in test or "ANY (ARRAY" in test]


def _index_definitions() -> dict[str, str]:
    """Every index's definition as the database keeps it (name → SQL)."""
    if db.engine.dialect.name == "sqlite":
        rows = db.session.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
    else:
        rows = db.session.execute(text("SELECT indexname, indexdef FROM pg_indexes "
                                       "WHERE schemaname = 'public' AND tablename != 'alembic_version'"))
    return {name: " ".join(sql.split()) for name, sql in rows}


def test_migrations_create_the_models_indexes_with_their_conditions(new_database_url):
    # compare_metadata compares an index's columns, not a partial index's WHERE: compare the SQL.
    migrated = _schema_after(new_database_url(), upgrade, _index_definitions)
    created = _schema_after(new_database_url(), db.create_all, _index_definitions)
    assert migrated == created
    assert "WHERE" in migrated["ix_customers_pool_queue"]


def _add_outbox_message(kind: str, status: str) -> None:
    db.session.execute(text(
        "INSERT INTO outbox_messages (idempotency_key, kind, target, subject, body_markdown, status, attempts, "
        "next_attempt_at, created_at) VALUES (:key, :kind, 'ops@example.com', 's', 'b', :status, 0, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"key": uuid.uuid4().hex, "kind": kind, "status": status})
    db.session.commit()


def test_the_check_constraint_migration_refuses_breaking_rows_then_enforces_its_checks(fresh_database_url,
                                                                                      monkeypatch):
    reported = []
    monkeypatch.setattr(flask_migrate.log, "error", reported.append)
    fresh = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": fresh_database_url})
    with fresh.app_context():
        upgrade(revision="0006")
        _add_outbox_message("email", "lost")
        with pytest.raises(SystemExit):  # the migration command reports the error and exits
            upgrade()
        assert "outbox_messages: 1 rows break ck_outbox_messages_ck_outbox_messages_status" in " ".join(reported)
        db.session.execute(text("UPDATE outbox_messages SET status = 'dead'"))
        db.session.commit()
        upgrade()
        for kind, status in (("pigeon", "pending"), ("email", "lost")):
            with pytest.raises(IntegrityError):
                _add_outbox_message(kind, status)
            db.session.rollback()
        _add_outbox_message("wecom", "pending")
        assert db.session.scalar(text("SELECT count(*) FROM outbox_messages")) == 2
        db.session.remove()
        db.engine.dispose()
