"""Code updated without `rollout db upgrade`: pages say what to run instead of a bare 500, and so does /healthz."""
import pytest
from sqlalchemy import text

from rollout import hooks
from rollout.database import code_schema_revisions, schema_behind
from rollout.extensions import db


@pytest.fixture
def recorded_revision(app):
    """An alembic_version table as migrations leave it, holding the revision the test puts in."""
    def record(revision: str) -> None:
        with db.engine.begin() as connection:
            connection.execute(text("DELETE FROM alembic_version"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:r)"), {"r": revision})
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    yield record
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))


def test_a_schema_made_without_migrations_says_nothing(client):
    assert schema_behind() is None
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_an_up_to_date_schema_is_fine(client, recorded_revision):
    recorded_revision(code_schema_revisions()[0])
    assert schema_behind() is None
    assert client.get("/healthz").status_code == 200


def test_an_old_schema_is_reported_by_healthz_and_on_failing_pages(app, client, recorded_revision):
    recorded_revision("0001")
    head = code_schema_revisions()[0]
    assert schema_behind() == ("0001", head)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.get_json()["status"] == "schema behind"
    for lang, words in (("en", "The database needs an upgrade"), ("zh-CN", "数据库需要升级")):
        with app.test_request_context("/", headers={"Accept-Language": lang}):
            body, status = hooks._server_error(RuntimeError("no such column"))
        assert status == 503 and words in body and "rollout db upgrade" in body and "0001" in body
