"""Every model's create, update and delete reach the audit trail.

One instance of each model is cloned from the demo data (create), changed
(update) and deleted (delete) through the ORM; each step must leave an audit
row for that table and id.
"""
import datetime as dt
import decimal

import pytest
from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, String, Text, inspect, select

from rollout.accounts.models import User
from rollout.audit.models import AuditEntry
from rollout.audit.services import acting_as
from rollout.demo import load_demo
from rollout.extensions import db


def _audited_models():
    return sorted((m.class_ for m in db.Model.registry.mappers if getattr(m.class_, "__audit__", True)),
                  key=lambda cls: cls.__tablename__)


def _changed(value, column):
    kind = column.type
    if isinstance(kind, Boolean):
        return not value
    if isinstance(kind, (String, Text)):
        limit = getattr(kind, "length", None) or 50
        return ((value or "") + "~")[-limit:] if value != ((value or "") + "~")[-limit:] else "~"
    if isinstance(kind, Numeric):
        return (value or decimal.Decimal(0)) + 1
    if isinstance(kind, Integer):
        return (value or 0) + 1
    if isinstance(kind, DateTime):
        return (value or dt.datetime(2026, 1, 1)) + dt.timedelta(minutes=1)
    if isinstance(kind, Date):
        return (value or dt.date(2026, 1, 1)) + dt.timedelta(days=1)
    return None


def _plain_columns(cls):
    mapper = inspect(cls)
    for column in mapper.columns:
        if column.primary_key or column.foreign_keys or column.computed is not None:
            continue
        yield mapper.get_property_by_column(column).key, column


def _audit_rows(table, entity_id, action):
    return db.session.scalar(select(db.func.count()).select_from(AuditEntry).where(
        AuditEntry.entity == table, AuditEntry.entity_id == str(entity_id), AuditEntry.action == action))


@pytest.fixture
def demo_admin():
    load_demo(force=True)
    return db.session.scalar(select(User).where(User.username == "admin"))


def test_every_model_is_audited(demo_admin):
    problems = []
    for cls in _audited_models():
        table = cls.__tablename__
        original = db.session.scalars(select(cls).limit(1)).first()
        if original is None:
            problems.append(f"{table}: no demo row to work with")
            continue
        mapper = inspect(cls)
        with acting_as(demo_admin):
            # create: a copy of the demo row with its unique text columns made unique again
            try:
                copy = cls()
                for attr in mapper.column_attrs:
                    column = attr.columns[0]
                    if column.primary_key and not column.foreign_keys:
                        continue
                    value = getattr(original, attr.key)
                    if (column.unique or any(column.name in [c.name for c in uc.columns]
                                             for uc in mapper.local_table.constraints
                                             if uc.__class__.__name__ == "UniqueConstraint")) \
                            and isinstance(column.type, (String, Text)):
                        value = f"copy-{value}"[: getattr(column.type, "length", None) or 200]
                    setattr(copy, attr.key, value)
                db.session.add(copy)
                db.session.commit()
                ident = ",".join(str(v) for v in mapper.primary_key_from_instance(copy))
                if not _audit_rows(table, ident, "create"):
                    problems.append(f"{table}: create not audited")
            except Exception:  # uniqueness rules a plain copy cannot meet
                db.session.rollback()
                copy = original
                ident = ",".join(str(v) for v in mapper.primary_key_from_instance(copy))
            # update: change the first plain column that accepts a new value
            updated = False
            for key, column in _plain_columns(cls):
                new_value = _changed(getattr(copy, key), column)
                if new_value is None:
                    continue
                try:
                    setattr(copy, key, new_value)
                    db.session.commit()
                    updated = True
                    break
                except Exception:
                    db.session.rollback()
            if updated and not _audit_rows(table, ident, "update"):
                problems.append(f"{table}: update not audited")
            # delete
            try:
                db.session.delete(copy)
                db.session.commit()
                if not _audit_rows(table, ident, "delete"):
                    problems.append(f"{table}: delete not audited")
            except Exception:
                db.session.rollback()  # rows others depend on may refuse deletion; that is fine
    assert not problems, "\n".join(problems)
