"""Export columns of the core list pages (users, audit trail), kept with the other output code."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

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


def _changes(entry) -> str | None:
    if not entry.changes:
        return None
    return "; ".join(f"{key}: {pair[0] if pair[0] is not None else '∅'} → {pair[1] if pair[1] is not None else '∅'}"
                     for key, pair in entry.changes.items() if isinstance(pair, (list, tuple)) and len(pair) == 2)


def audit_columns() -> list[Column]:
    return [
        Column(_l("Time"), "created_at", "datetime"),
        Column(_l("User"), "username"),
        Column("IP", "ip"),
        Column(_l("Action"), "action"),
        Column(_l("Entity"), "entity"),
        Column("ID", "entity_id"),
        Column(_l("Changes"), _changes),
        Column(_l("Detail"), "detail"),
    ]
