"""Database behaviour shared by every engine: SQLite pragmas, write-lock handling, and whether the schema
is behind the code.

SQLite allows one writer at a time. A transaction that starts as a reader
and later writes can fail at once with "database is locked" (the busy timeout
cannot help it), so requests that may write (POST, PUT, PATCH, DELETE) and all
work outside a request begin with BEGIN IMMEDIATE: they wait for the write
lock up front, within the busy timeout. Reads stay concurrent (WAL).
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from flask import has_request_context, request
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

#: The largest id a database integer column holds (PostgreSQL's integer): larger numbers name nothing.
MAX_ID = 2**31 - 1
BUSY_TIMEOUT_MS = 15000
#: Set on a request re-run after "database is locked": a GET that writes (an audit
#: row for a download or a denial) then takes the write lock up front too.
RETRY_WITH_WRITE_LOCK = "rollout.retry_with_write_lock"
_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def one_of(column: str, values) -> str:
    """CHECK constraint text: ``column`` holds one of ``values`` (or NULL, as with IN).

    Equalities joined by OR rather than ``IN (...)``: SQLite builds a lookup table for an IN
    list again for every row a CHECK constraint tests, which was an eighth of the work of
    inserting ownership history rows in bulk; the equalities are tested in place. Being an OR
    chain, it needs parentheses when joined to another test with AND.
    """
    return " OR ".join(f"{column} = '{value}'" for value in values)


def _is_sqlite(dbapi_connection) -> bool:
    return type(dbapi_connection).__module__.startswith("sqlite3")


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection, connection_record):
    if not _is_sqlite(dbapi_connection):
        return
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite would defer it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Copy the write-ahead log back into the database every ~40 MB instead of every 4 MB: a bulk
    # import commits a chunk of several megabytes at a time, and with the default every commit
    # paid a checkpoint and its fsync (a third less commit time per 100,000 imported rows).
    # The log is cut back to 64 MB after a checkpoint so it never keeps its largest size.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.execute("PRAGMA journal_size_limit=67108864")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    if connection.dialect.name != "sqlite":
        return
    writing = (not has_request_context() or request.method in _WRITE_METHODS
               or request.environ.get(RETRY_WITH_WRITE_LOCK, False))
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


#: SQLite's page cache for a bulk write, and its default, in KiB.  An import of 100,000 customers
#: touches tens of megabytes of index pages; with the default cache most of them were written
#: out and read back again within each chunk (counted on a 100,000-row import: 30 % fewer page
#: writes, 78 % fewer page reads with the large cache).
BULK_PAGE_CACHE_KIB = 65536
DEFAULT_PAGE_CACHE_KIB = 2000
_BULK_CACHE = "rollout.bulk_page_cache"
#: Set while a bulk write runs in this thread (see bulk_writes).
_bulk_writing: ContextVar[bool] = ContextVar("bulk_writing", default=False)


@contextmanager
def bulk_writes():
    """While this runs, use_bulk_page_cache may give this thread's connections a large page cache.

    A pooled connection that got one gives it back when it is next checked out anywhere else,
    or here once the bulk write is over, so no idle connection keeps tens of megabytes.
    """
    token = _bulk_writing.set(True)
    try:
        yield
    finally:
        _bulk_writing.reset(token)


def use_bulk_page_cache(session) -> None:
    """Give the session's SQLite connection the large page cache (inside bulk_writes)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite" and _bulk_writing.get():
        connection.exec_driver_sql(f"PRAGMA cache_size=-{BULK_PAGE_CACHE_KIB}")
        connection.connection.info[_BULK_CACHE] = True


@event.listens_for(Engine, "checkout")
def _give_back_bulk_page_cache(dbapi_connection, connection_record, connection_proxy):
    if connection_record.info.get(_BULK_CACHE) and not _bulk_writing.get():
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA cache_size=-{DEFAULT_PAGE_CACHE_KIB}")
        cursor.execute("PRAGMA shrink_memory")  # free the pages now, not when the pool closes it
        cursor.close()
        del connection_record.info[_BULK_CACHE]


def is_lock_error(error: BaseException) -> bool:
    """True for SQLite's 'database is locked' (safe to retry: nothing was committed)."""
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


def contains_text(column, text: str):
    """A case-insensitive "contains ``text``" condition; ``%`` and ``_`` in ``text`` are literal.

    PostgreSQL gets ILIKE. SQLite's LIKE already ignores ASCII case, and its lower() knows no
    other letters, so the lower() on both sides that SQLAlchemy's ilike adds there would only
    cost a function call per row of a search.
    """
    from rollout.extensions import db
    pattern = "%" + text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
    if db.engine.dialect.name == "sqlite":
        return column.like(pattern, escape="!")
    return column.ilike(pattern, escape="!")


@lru_cache(maxsize=1)
def code_schema_revisions() -> tuple[str, ...]:
    """The head revision(s) of this code's migrations."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from rollout.config import PROJECT_ROOT
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return tuple(sorted(ScriptDirectory.from_config(config).get_heads()))


def schema_behind() -> tuple[str, str] | None:
    """(the database's revision, the code's) when the database was not upgraded to this code's migrations:
    after an update without ``rollout db upgrade`` pages fail on missing columns. None when they agree or
    the database does not say (a schema made without migrations)."""
    from rollout.extensions import db
    try:
        with db.engine.connect() as connection:
            found = tuple(sorted(connection.execute(text("SELECT version_num FROM alembic_version")).scalars()))
    except SQLAlchemyError:
        return None
    expected = code_schema_revisions()
    if not found or found == expected:
        return None
    return ", ".join(found), ", ".join(expected)
