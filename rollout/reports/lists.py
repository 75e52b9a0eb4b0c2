"""Export columns of the core list pages (users, audit trail), kept with the other output code."""
from __future__ import annotations

import itertools

from flask_babel import lazy_gettext as _l

from rollout.audit.display import action_row_name, actor_names, describe_rows, entity_name
from rollout.reports.exports import Column

ROLE_NAMES = {"admin": _l("Administrator"), "lead": _l("Project lead"), "trainer": _l("Trainer"),
              "head": _l("Department head"), "staff": _l("Staff")}


def _roles(user) -> str:
    return ", ".join(str(ROLE_NAMES.get(role, role)) for role in sorted(user.roles))


def user_columns() -> list[Column]:
    return [
        Column(_l("Username"), "username"),
        Column(_l("Name"), "display_name"),
        Column(_l("Email"), "email"),
        Column(_l("Phone"), "phone"),
        Column(_l("Department"), lambda u: u.department.name if u.department else None),
        Column(_l("Roles"), _roles),
        Column(_l("Seed user"), "is_seed_user", "bool"),
        Column(_l("Active"), "is_active_account", "bool"),
        Column(_l("Last login"), "last_login_at", "datetime"),
        Column(_l("Created"), "created_at", "datetime"),
    ]


def _change_text(line) -> str:
    if line.figure:
        return f"{line.label}: {line.new.text}"
    return f"{line.label}: {line.old.text} → {line.new.text}"


def described_audit_rows(rows, batch_size: int = 500):
    """Each audit row with its changes and its user's name in the reader's words, as the audit page shows
    them (names behind ids, labels of codes, local times): resolved a batch of rows at a time."""
    rows = iter(rows)
    while batch := list(itertools.islice(rows, batch_size)):
        (changes, record_names), actors = describe_rows(batch, max_length=None), actor_names(batch)
        for row in batch:
            yield {"row": row, "changes": "; ".join(_change_text(line) for line in changes[row.id]) or None,
                   "user": actors.get(row.user_id) or row.username, "record": record_names.get(row.id)}


def audit_columns() -> list[Column]:
    """Columns of ``described_audit_rows``."""
    return [
        Column(_l("Time"), lambda item: item["row"].created_at, "datetime"),
        Column(_l("User"), "user"),
        Column("IP", lambda item: item["row"].ip),
        Column(_l("Action"), lambda item: action_row_name(item["row"].action)),
        Column(_l("Entity"), lambda item: entity_name(item["row"].entity)),
        Column("ID", lambda item: item["row"].entity_id),
        Column(_l("Record"), "record"),
        Column(_l("Changes"), "changes"),
        Column(_l("Detail"), lambda item: item["row"].detail),
    ]
