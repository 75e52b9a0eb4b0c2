"""Load: simulated users against gunicorn; the full run (50 users × 60 s, both databases) under SOAK=1."""
import os

import pytest
from sqlalchemy import create_engine, text

from tests.reliability import load

SOAK = bool(os.environ.get("SOAK"))


def _postgres_reachable() -> bool:
    try:
        engine = create_engine(load.POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def _assert_held(figures):
    assert figures["problems"] == [], figures
    assert not any(int(status) >= 500 for status in figures["statuses"]), figures
    assert sum(figures["acknowledged_writes"].values()) > 0, figures
    assert figures["session"]["enrolled"] <= figures["session"]["capacity"], figures


def test_short_load_on_sqlite_loses_nothing():
    figures = load.run("sqlite", users=50 if SOAK else 10, seconds=60 if SOAK else 10)
    print(figures)
    _assert_held(figures)


@pytest.mark.skipif(not SOAK, reason="full load run only in make soak")
@pytest.mark.skipif(not _postgres_reachable(), reason="PostgreSQL on 127.0.0.1:5432 not reachable")
def test_full_load_on_postgres_loses_nothing():
    figures = load.run("postgres", users=50, seconds=60)
    print(figures)
    _assert_held(figures)
