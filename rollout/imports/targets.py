"""What imported rows become: one Target per kind of record, with its fields, duplicate keys and writes.

A target turns cleaned values into column values (``build``), knows the keys that
identify duplicates and loads the existing ones into memory once (``begin``), and
writes in bulk (``insert``: one executemany per chunk) or per record (``update``,
through the ORM so the audit trail records old → new).
"""
from __future__ import annotations

import re
import secrets
import sqlite3
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import Boolean, Date, DateTime, delete, func, insert, or_, select

from rollout.accounts.models import Department, User, UserRole
from rollout.accounts.services import is_department_code, tree_shape_problem
from rollout.cleaning import name_key
from rollout.extensions import db
from rollout.imports.messages import kept


class RowError(Exception):
    """A row cannot become a record; ``reason`` (a kept message, see imports.messages) goes to the error report."""

    def __init__(self, message):
        super().__init__(str(message))
        self.reason = kept(message)


def cell_problems(checks) -> dict[str, object]:
    """{field name: kept reason} of the (field name, check) pairs whose check raises RowError."""
    problems = {}
    for field_name, check in checks:
        try:
            check()
        except RowError as error:
            problems[field_name] = error.reason
    return problems


@dataclass
class TargetField:
    name: str
    label: object
    #: Cleaning rule: text, note (several lines), phone, email, date, amount, integer, boolean.
    kind: str = "text"
    required: bool = False
    #: Column names this field is recognised by (besides its label), Chinese and English.
    synonyms: tuple[str, ...] = ()
    max_length: int | None = None
    #: Allowed values (after cleaning) with their aliases: {stored: (alias, ...)}.
    choices: dict | None = None


@dataclass
class ImportContext:
    """Who imports, where records may land, and lookups shared by all rows."""
    user: User
    #: Department of records whose row names none.
    default_department_id: int | None
    #: Departments records may land in; None means any.
    allowed_department_ids: set[int] | None
    default_owner_id: int | None = None
    departments: dict[str, int] = field(default_factory=dict)
    department_parent: dict[int, int | None] = field(default_factory=dict)
    users: dict[str, tuple[int, int | None]] = field(default_factory=dict)

    def load_lookups(self) -> None:
        for dept_id, name, code, parent_id in db.session.execute(
                select(Department.id, Department.name, Department.code, Department.parent_id)):
            self.departments.setdefault(name.casefold(), dept_id)
            if code:
                self.departments[code.casefold()] = dept_id
            self.department_parent[dept_id] = parent_id
        for user_id, username, display_name, department_id in db.session.execute(
                select(User.id, User.username, User.display_name, User.department_id)):
            self.users[username.casefold()] = (user_id, department_id)
            self.users.setdefault(display_name.casefold(), (user_id, department_id))
            # "销售代表 张伟" is often typed as just "张伟".
            self.users.setdefault(display_name.split()[-1].casefold(), (user_id, department_id))

    def department(self, text: str | None, required: bool = False) -> int | None:
        """The id of a department named by name or code (or the default), checked against the allowed ones."""
        if not text:
            department_id = self.default_department_id
            if department_id is None and required:
                raise RowError(_l("No department given and no default department chosen."))
        else:
            department_id = self.departments.get(text.casefold())
            if department_id is None:
                raise RowError(_l("Unknown department %(name)s.", name=text))
        if department_id is not None and self.allowed_department_ids is not None \
                and department_id not in self.allowed_department_ids:
            raise RowError(_l("You may not import records into department %(name)s.", name=text or department_id))
        return department_id

    def person(self, text: str | None) -> tuple[int, int | None] | None:
        if not text:
            return None
        found = self.users.get(text.casefold())
        if found is None:
            raise RowError(_l("Unknown user %(name)s.", name=text))
        return found


#: Host parameters one SQLite statement may carry (SQLITE_MAX_VARIABLE_NUMBER: 32766 since 3.32, 999 before).
SQLITE_MAX_PARAMETERS = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999
#: Rows of one multi-row INSERT at most. SQLite parses and compiles each statement shape once (the
#: sqlite3 module keeps them), and a shape costs about as much as inserting as many rows: with
#: 2,500-row statements that first compiling was 3 % of writing 100,000 customers, with 512 it is
#: a fifth of that, while 512 rows still share the cost of each call.
ROWS_PER_STATEMENT = 512


def sqlite_bulk_insert(connection, table, rows: list[dict], shared: dict | None = None) -> list[int]:
    """SQLite's fastest bulk insert: multi-row INSERT ... VALUES statements with SQLAlchemy's type processing.

    Each statement carries up to ROWS_PER_STATEMENT rows (within SQLite's parameter limit), so
    SQLite runs hundreds of rows per call instead of one (the per-row work of executemany was a
    third of the cost).  A column with the same value on every row (the import's timestamp,
    flags, the department, a column left empty) is bound once per statement, as a numbered
    parameter each row refers to: binding is most of the sqlite3 module's work per value, and None is the
    slowest value it binds (on Python 3.11 it raises and clears an AttributeError each time,
    looking for an adapter).  The transaction holds SQLite's write lock (BEGIN IMMEDIATE), so
    the new rowids are the ones after the current maximum, consecutive; the count is checked.
    ``shared`` gives more columns, the same for every row (a row's own value wins, as in Core).
    """
    keys = list(rows[0])
    given = [key for key in shared or {} if key not in rows[0]]
    # (key, value) of the columns the same on every row, given or found; (key, values) of the others
    same = [(key, column[0]) for key, column in zip(given, bound_columns(connection.dialect, table, given, [shared]))]
    varying = []
    for key, column in zip(keys, bound_columns(connection.dialect, table, keys, rows)):
        first = column[0]
        if column.count(first) == len(column) and len(set(map(type, column))) == 1:
            same.append((key, first))
        else:
            varying.append((key, column))
    before = connection.execute(select(func.max(table.c.id))).scalar() or 0
    # The columns the same on every row first: they are ?1..?n in every row, and each plain ? after
    # them takes the next number, so the parameters are those values followed by the rows' others.
    names = ", ".join(f'"{key}"' for key, _value in same + varying)
    head = f'INSERT INTO "{table.name}" ({names}) VALUES '
    one_row = "(" + ", ".join([f"?{n}" for n in range(1, len(same) + 1)] + ["?"] * len(varying)) + ")"
    same_values = [value for _key, value in same]
    per_statement = min(ROWS_PER_STATEMENT, max(1, (SQLITE_MAX_PARAMETERS - len(same)) // max(1, len(varying))))
    params = list(zip(*[column for _key, column in varying])) if varying else [()] * len(rows)
    cursor = connection.connection.driver_connection.cursor()
    try:
        start = 0
        while start < len(params):
            size = min(per_statement, len(params) - start)
            if size < per_statement:
                # The rest in powers of two: a run then compiles ten statement shapes at most
                # instead of one per chunk, each kept in SQLite's statement cache.
                size = 1 << (size.bit_length() - 1)
            part = params[start:start + size]
            cursor.execute(head + ", ".join([one_row] * size), same_values + list(chain.from_iterable(part)))
            start += size
    finally:
        cursor.close()
    ids = list(range(before + 1, before + len(rows) + 1))
    last = connection.execute(select(func.max(table.c.id))).scalar()
    if last != ids[-1]:  # never expected under the write lock; fall back to reading the ids
        ids = list(connection.execute(select(table.c.id).where(table.c.id > before).order_by(table.c.id)).scalars())
    return ids


#: Column types whose equal values always bind to the same driver value, so each distinct value
#: is converted once per chunk (timestamps and flags repeat on every row of an import).
_REPEATING_TYPES = (DateTime, Date, Boolean)


def bound_columns(dialect, table, keys: list[str], rows: list[dict]) -> list[tuple | list]:
    """For each of ``keys``, the rows' values converted as SQLAlchemy would bind them.

    Column by column: most columns (text, integers) need no conversion and are passed as they
    are; each of the others is converted in one pass.  None stays None (SQL NULL) in every column.
    """
    if not keys:
        return []
    getter = itemgetter(*keys) if len(keys) > 1 else (lambda row: (row[keys[0]],))
    columns: list[tuple | list] = list(zip(*map(getter, rows)))
    for position, key in enumerate(keys):
        column_type = table.c[key].type
        process = column_type._cached_bind_processor(dialect)
        if process is not None:
            columns[position] = _bound_column(columns[position], column_type, process)
    return columns


def _bound_column(values, column_type, process) -> list:
    if isinstance(column_type, _REPEATING_TYPES):
        memo = {value: None if value is None else process(value) for value in set(values)}
        return list(map(memo.__getitem__, values))
    empty = {}  # JSON documents: the empty one ({} or []) is the common case, converted once
    converted = []
    for value in values:
        if value is None:
            converted.append(None)
        elif not value and type(value) in (dict, list):
            if type(value) not in empty:
                empty[type(value)] = process(value)
            converted.append(empty[type(value)])
        else:
            converted.append(process(value))
    return converted


def choice_value(target_field: TargetField, text):
    """The stored value for a choice field typed as its value or one of its aliases."""
    if text is None or target_field.choices is None:
        return text
    lowered = str(text).casefold()
    for stored, aliases in target_field.choices.items():
        if lowered == stored.casefold() or lowered in (str(alias).casefold() for alias in aliases):
            return stored
    # Each option by the word a file most likely has (its first alias, the Chinese word) and by its code,
    # which is also accepted: the message is stored once and read in either language.
    options = " / ".join(f"{aliases[0]} ({stored})" if aliases and str(aliases[0]) != stored else stored
                         for stored, aliases in target_field.choices.items())
    raise RowError(_l("%(field)s: “%(value)s” is not one of the options (%(options)s).", field=target_field.label,
                      value=text, options=options))


class Target:
    """Base of every import target."""
    name = ""
    label = ""
    model = None
    #: Keys that make two rows duplicates (checked in this order).
    key_kinds: tuple[str, ...] = ("name",)
    #: Those of them no two records may share (the database refuses it): never "create anyway".
    unique_key_kinds: tuple[str, ...] = ()
    #: Action the importing user needs besides data.import.
    permission = "data.import"
    #: Fields whose change an update may write (others are left alone).
    updatable: tuple[str, ...] = ()
    #: What makes a row a duplicate, in words, for the page that lists skipped rows (None: the keys say it).
    duplicate_rule = None

    def fields(self) -> list[TargetField]:
        raise NotImplementedError

    @property
    def table(self) -> str:
        return self.model.__tablename__

    def begin(self, ctx: ImportContext) -> tuple[dict[str, int], dict[str, tuple[int, str]]]:
        """(exact keys → existing id, near keys → (existing id, name)) of the records already there."""
        return {}, {}

    def keys(self, values: dict) -> list[str]:
        return []

    def near_key(self, values: dict) -> str | None:
        return None

    def build(self, values: dict, ctx: ImportContext) -> dict:
        raise NotImplementedError

    def check_cells(self, values: dict, ctx: ImportContext) -> dict[str, object]:
        """{field name: kept reason} of the cells that only a lookup finds wrong (an unknown owner or
        department, a value outside a custom field's options).  For the preview's cells and to list
        every problem of a rejected row: rows that go in never come here.  In memory only, like build()."""
        return {}

    def insert_one(self, row: dict, ctx: ImportContext) -> int:
        return self.insert([row], ctx)[0]

    #: build() and shared_columns() supply every column a new row needs (no Python-side defaults), so
    #: SQLite may take the multi-row INSERT path.
    complete_rows = False

    def insert(self, rows: list[dict], ctx: ImportContext) -> list[int]:
        """Insert rows with one executemany; return the new ids.

        Core, not the ORM's bulk insert: keeping the ids in parameter order makes the ORM send tiny
        batches and splice their results quadratically, and undo needs only the set of ids.
        """
        if not rows:
            return []
        table = self.model.__table__
        connection = db.session.connection()
        shared = self.shared_columns()
        if self.complete_rows and connection.dialect.name == "sqlite":
            return sqlite_bulk_insert(connection, table, rows, shared)
        if shared:
            rows = [{**shared, **row} for row in rows]
        result = connection.execute(table.insert().returning(table.c.id), rows)
        return [row[0] for row in result]

    def shared_columns(self) -> dict:
        """Columns every row of this import gets the same value in, left out of build()'s rows.

        A planned row crosses from the planning process and is bound value by value: what all
        rows share is cheaper given once.
        """
        return {}

    #: Written row by row through services (each row in a savepoint) instead of one executemany.
    per_row = False

    #: Planning rows (build, keys) reads only what begin() loaded, never the database, so a large
    #: file may be planned in a forked process while this one writes (see imports.forking).
    plans_in_memory = False

    def update(self, entity_id: int, row: dict, ctx: ImportContext) -> tuple[dict, dict]:
        """Write the updatable fields of ``row`` onto the record; return (before, after) of what changed."""
        record = db.session.get(self.model, entity_id)
        if record is None:
            raise RowError(_l("The existing record was deleted meanwhile."))
        before, after = {}, {}
        for key in self.updatable:
            if key in row and row[key] not in (None, "") and getattr(record, key) != row[key]:
                before[key], after[key] = getattr(record, key), row[key]
                setattr(record, key, row[key])
        return before, after

    def current_values(self, ids: list[int], keys: set[str]) -> dict[int, dict]:
        """{id: {key: value}} of those of ``ids`` still there: undo compares them with what the import wrote."""
        keys = sorted(keys)
        rows = db.session.execute(select(self.model.id, *[getattr(self.model, key) for key in keys])
                                  .where(self.model.id.in_(ids)))
        return {row[0]: dict(zip(keys, row[1:])) for row in rows}

    def restore(self, entity_id: int, before: dict, user: User) -> None:
        record = db.session.get(self.model, entity_id)
        for key, value in before.items():
            setattr(record, key, value)

    def in_use(self, ids: list[int]) -> dict[int, dict[str, int]]:
        """{id: {use: how many}} of those of these records (any number) that records made since use (a key
        of USES).

        Undo would orphan or delete what uses them, so it is refused while anything does.
        """
        return {}

    def names(self, ids: list[int]) -> dict[int, str]:
        """A few records' names, to tell them apart in a message."""
        return {record.id: str(getattr(record, "name", None) or record)
                for record in db.session.scalars(select(self.model).where(self.model.id.in_(ids)))}

    def remove(self, ids: list[int]) -> None:
        db.session.execute(delete(self.model).where(self.model.id.in_(ids)))

    def department_of(self, row: dict) -> int | None:
        return row.get("department_id")

    def summary(self, row: dict) -> str:
        return str(row.get("name") or "")


#: What may use a record an import made, in words, by the keys ``Target.in_use`` gives.
USES = {
    "contacts": lambda n: lazy_ngettext("%(num)d contact", "%(num)d contacts", n),
    "activities": lambda n: lazy_ngettext("%(num)d follow-up", "%(num)d follow-ups", n),
    "opportunities": lambda n: lazy_ngettext("%(num)d deal", "%(num)d deals", n),
    "quotes": lambda n: lazy_ngettext("%(num)d quote", "%(num)d quotes", n),
    "assignments": lambda n: lazy_ngettext("%(num)d change of owner", "%(num)d changes of owner", n),
    "logins": lambda n: _l("the person has signed in"),
    "members": lambda n: lazy_ngettext("%(num)d member", "%(num)d members", n),
    "sub_departments": lambda n: lazy_ngettext("%(num)d sub-department", "%(num)d sub-departments", n),
    "decided": lambda n: _l("submitted for approval"),
}


#: Runs of consecutive ids one statement selects at most (two parameters each).
RUNS_PER_STATEMENT = 400


def id_runs(ids) -> list[tuple[int, int]]:
    """The ids as (first, last) runs of consecutive ids."""
    runs: list[list[int]] = []
    for record_id in sorted(set(ids)):
        if runs and record_id == runs[-1][1] + 1:
            runs[-1][1] = record_id
        else:
            runs.append([record_id, record_id])
    return [(first, last) for first, last in runs]


def among(column, ids):
    """Conditions that together select the rows whose ``column`` is one of ``ids``, a statement's worth each:
    a range per run of consecutive ids, since an import's new records are mostly one run per chunk (a
    hundred thousand of them take a few statements, not one per thousand ids)."""
    runs = id_runs(ids)
    for start in range(0, len(runs), RUNS_PER_STATEMENT):
        yield or_(*(column == first if first == last else column.between(first, last)
                    for first, last in runs[start:start + RUNS_PER_STATEMENT]))


def counts_by(column, ids: list[int], *where) -> dict[int, int]:
    """{id: how many rows have it in ``column``} for those of ``ids`` that some row has."""
    counts = {}
    for condition in among(column, ids):
        counts.update(db.session.execute(select(column, func.count()).where(condition, *where)
                                         .group_by(column)).all())
    return counts


def add_uses(found: dict[int, dict[str, int]], use: str, counts: dict[int, int]) -> None:
    for record_id, count in counts.items():
        found.setdefault(record_id, {})[use] = count


# --- users -------------------------------------------------------------------------
ROLE_ALIASES = {"admin": ("管理员", "系统管理员", "administrator"), "lead": ("项目负责人", "project lead"),
                "trainer": ("培训师",), "head": ("部门负责人", "部门经理", "主管", "department head", "manager"),
                "staff": ("员工", "销售", "销售代表", "普通员工", "user", "rep")}
_LIST_SPLIT = re.compile(r"[,，;；、/|\s]+")


class UserTarget(Target):
    name = "users"
    label = _l("Users")
    model = User
    key_kinds = ("username", "email")
    unique_key_kinds = ("username",)
    permission = "users.manage"
    updatable = ("display_name", "email", "phone", "department_id", "is_seed_user")

    def fields(self):
        return [
            TargetField("username", _l("Username"), required=True, max_length=64,
                        synonyms=("用户名", "账号", "登录名", "工号", "username", "login", "account")),
            TargetField("display_name", _l("Name"), max_length=100,
                        synonyms=("姓名", "名字", "员工姓名", "name", "full name", "display name")),
            TargetField("email", _l("Email"), "email", synonyms=("邮箱", "电子邮件", "邮件", "e-mail", "mail")),
            TargetField("phone", _l("Phone"), "phone", synonyms=("手机", "电话", "手机号", "联系方式", "mobile", "tel")),
            TargetField("department", _l("Department"), synonyms=("部门", "所属部门", "小组", "dept", "team")),
            TargetField("roles", _l("Roles"), synonyms=("角色", "岗位", "role", "roles")),
            TargetField("is_seed_user", _l("Seed user"), "boolean", synonyms=("种子用户", "seed user", "seed")),
        ]

    def begin(self, ctx):
        exact = {}
        for user_id, username, email in db.session.execute(select(User.id, User.username, User.email)):
            exact[f"username:{username.casefold()}"] = user_id
            if email:
                exact.setdefault(f"email:{email.lower()}", user_id)
        return exact, {}

    def keys(self, values):
        keys = [f"username:{values['username'].casefold()}"]
        if values.get("email"):
            keys.append(f"email:{values['email']}")
        return keys

    @staticmethod
    def _roles(text: str | None) -> set[str]:
        roles = set()
        for word in _LIST_SPLIT.split(text or ""):
            if not word:
                continue
            role = next((r for r, aliases in ROLE_ALIASES.items() if word.casefold() in (r, *aliases)), None)
            if role is None:
                raise RowError(_l("Unknown role %(role)s.", role=word))
            roles.add(role)
        return roles

    def build(self, values, ctx):
        roles = self._roles(values.get("roles"))
        # A new account needs these even when the cell is blank; an existing one keeps its own (update).
        defaulted = [column for column, cell in (("display_name", "display_name"), ("department_id", "department"),
                                                 ("is_seed_user", "is_seed_user")) if values.get(cell) in (None, "")]
        return {"username": values["username"], "display_name": values.get("display_name") or values["username"],
                "email": values.get("email"), "phone": values.get("phone"),
                "department_id": ctx.department(values.get("department")),
                "is_seed_user": bool(values.get("is_seed_user")), "roles": sorted(roles or {"staff"}),
                "_defaulted": defaulted}

    def update(self, entity_id, row, ctx):
        """Only what the file gives: a blank department never moves the person to the import's default."""
        return super().update(entity_id, {key: value for key, value in row.items()
                                          if key not in row.get("_defaulted", ())}, ctx)

    def check_cells(self, values, ctx):
        return cell_problems([("department", lambda: ctx.department(values.get("department"))),
                              ("roles", lambda: self._roles(values.get("roles")))])

    def insert(self, rows, ctx):
        # Imported accounts get an unusable password until their owners open a sign-in link (accounts/sign_in_links.py).
        user_rows = [{key: value for key, value in row.items() if key not in ("roles", "_defaulted")} | {
            "password_hash": "!imported-" + secrets.token_hex(8)} for row in rows]
        ids = super().insert(user_rows, ctx)
        role_rows = [{"user_id": user_id, "role": role} for user_id, row in zip(ids, rows) for role in row["roles"]]
        if role_rows:
            db.session.execute(insert(UserRole), role_rows)
        return ids

    def in_use(self, ids):
        # Someone who has signed in has started using the account.
        return {user_id: {"logins": 1} for condition in among(User.id, ids)
                for user_id in db.session.scalars(select(User.id).where(condition, User.last_login_at.is_not(None)))}

    def remove(self, ids):
        db.session.execute(delete(UserRole).where(UserRole.user_id.in_(ids)))
        super().remove(ids)

    def summary(self, row):
        return f"{row.get('username')} {row.get('display_name') or ''}".strip()


# --- departments -------------------------------------------------------------------
KIND_ALIASES = {"company": ("公司", "总公司", "集团"), "department": ("部门", "部", "dept"),
                "team": ("小组", "组", "团队", "班组")}


class DepartmentTarget(Target):
    name = "departments"
    label = _l("Departments")
    model = Department
    key_kinds = ("department",)
    unique_key_kinds = ("department", "code")
    permission = "departments.manage"
    updatable = ("code", "kind", "go_live_on")

    def fields(self):
        return [
            TargetField("name", _l("Name"), required=True, max_length=100,
                        synonyms=("部门名称", "部门", "名称", "department", "department name", "name")),
            TargetField("code", _l("Code"), max_length=40, synonyms=("代码", "编码", "部门代码", "code")),
            TargetField("parent", _l("Parent department"),
                        synonyms=("上级部门", "上级", "所属部门", "parent", "parent department")),
            TargetField("kind", _l("Kind"), choices=KIND_ALIASES, synonyms=("类型", "层级", "kind", "type")),
            TargetField("go_live_on", _l("Go-live date"), "date",
                        synonyms=("上线日期", "上线时间", "go-live", "go live")),
        ]

    def begin(self, ctx):
        exact = {}
        self._kinds: dict[int | str, str] = {}  # of existing departments by id, of this file's by "new:name"
        self._parent_ids: dict[int, int | None] = {}
        for dept_id, name, parent_id, code, kind in db.session.execute(
                select(Department.id, Department.name, Department.parent_id, Department.code, Department.kind)):
            exact[f"department:{parent_id}:{name_key(name)}"] = dept_id
            if code:
                exact[f"code:{code.casefold()}"] = dept_id
            self._kinds[dept_id], self._parent_ids[dept_id] = kind, parent_id
        self._created_names: dict[str, str] = {}
        # One company at the top of the tree (as the departments form keeps it): a row without a parent
        # goes under it, and only a file for an empty company may create it.
        self._company = db.session.execute(select(Department.id, Department.name)
                                           .where(Department.kind == "company").limit(1)).first()
        self._company_row: str | None = None
        return exact, {}

    def _parent(self, values, ctx):
        parent = values.get("parent")
        if not parent:
            return None
        found = ctx.departments.get(parent.casefold())
        if found is not None:
            return found
        if parent.casefold() in self._created_names:
            return f"new:{parent.casefold()}"  # created by an earlier row of this file
        raise RowError(_l("Unknown parent department %(name)s.", name=parent))

    def _code(self, values):
        code = values.get("code")
        if code and not is_department_code(code):
            raise RowError(_l("A code is letters, digits, “-” and “_” only, e.g. sales-1."))
        return code

    def check_cells(self, values, ctx):
        return cell_problems([("parent", lambda: self._parent(values, ctx)), ("code", lambda: self._code(values))])

    def keys(self, values):
        keys = [f"department:{values.get('_parent')}:{name_key(values['name'])}"]
        if values.get("code"):
            keys.append(f"code:{values['code'].casefold()}")
        return keys

    def build(self, values, ctx):
        parent = self._parent(values, ctx)
        code = self._code(values)
        values["_parent"] = parent
        kind = values.get("kind")
        if parent is None and kind != "company" and self._company is not None:
            parent = values["_parent"] = self._company.id  # a department without a parent: under the company
        kind = kind or ("department" if parent is not None else "company")
        if kind == "company":
            if parent is not None:
                raise RowError(_l("The company is at the top: it has no parent."))
            existing = self._company.name if self._company is not None else self._company_row
            if existing is not None and existing != values["name"]:
                raise RowError(_l("%(name)s is already the company; add departments under it.", name=existing))
            self._company_row = values["name"]
        problem = tree_shape_problem(kind, self._kinds.get(parent) if parent is not None else None)
        if problem:
            raise RowError(problem)
        # Later rows may name this one as their parent (only once it is known to be a valid row).
        for name in filter(None, (values["name"], code)):
            self._created_names[name.casefold()] = values["name"]
            self._kinds[f"new:{name.casefold()}"] = kind
        return {"name": values["name"], "code": code, "parent_id": parent, "kind": kind,
                "go_live_on": values.get("go_live_on")}

    def update(self, entity_id, row, ctx):
        """A kind the file changes must still fit the tree: under its parent and over its own children."""
        kind = row.get("kind")
        if kind and self._kinds.get(entity_id) not in (None, kind):
            if self._kinds[entity_id] == "company":
                raise RowError(_l("The company stays at the top of the tree: it cannot become a department."))
            parent_id = self._parent_ids.get(entity_id)
            problem = tree_shape_problem(kind, self._kinds.get(parent_id) if parent_id is not None else None)
            if problem is None:
                children = [self._kinds[child] for child, parent in self._parent_ids.items() if parent == entity_id]
                problem = next(filter(None, (tree_shape_problem(child, kind) for child in children)), None)
            if problem:
                raise RowError(problem)
        before, after = super().update(entity_id, row, ctx)
        if "kind" in after:
            self._kinds[entity_id] = after["kind"]
        return before, after

    def insert(self, rows, ctx):
        # Rows may name parents created a few rows earlier, so departments go in one by one, in file order.
        ids = []
        for row in rows:
            parent = row["parent_id"]
            if isinstance(parent, str):
                row = dict(row, parent_id=ctx.departments[parent[4:]])
            new_id = super().insert([row], ctx)[0]
            ctx.departments.setdefault(row["name"].casefold(), new_id)
            if row.get("code"):
                ctx.departments[row["code"].casefold()] = new_id
            ids.append(new_id)
        return ids

    def in_use(self, ids):
        found: dict[int, dict[str, int]] = {}
        add_uses(found, "members", counts_by(User.department_id, ids))
        imported = set(ids)
        children: dict[int, int] = {}
        for condition in among(Department.parent_id, ids):
            for parent_id, child_id in db.session.execute(select(Department.parent_id, Department.id).where(condition)):
                if child_id not in imported:  # undo removes children it made along with their parent
                    children[parent_id] = children.get(parent_id, 0) + 1
        add_uses(found, "sub_departments", children)
        return found

    def remove(self, ids):
        # Children first: delete deepest rows before their parents.
        for dept_id in sorted(ids, reverse=True):
            db.session.execute(delete(Department).where(Department.id == dept_id))

    def department_of(self, row):
        return None


def all_targets() -> dict[str, Target]:
    """Every available target by name (plan-tracking targets once that package is installed)."""
    targets = [UserTarget(), DepartmentTarget()]
    try:
        from rollout.imports import plan_targets
    except ImportError:
        plan_targets = None
    if plan_targets is not None:
        targets = plan_targets.targets() + targets
    return {target.name: target for target in targets}


def get_target(name: str) -> Target | None:
    return all_targets().get(name)

