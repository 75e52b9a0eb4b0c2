"""Navigation: an entry shows only when its module exists and the user may open it."""
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from rollout.access import can

#: (label, endpoint, action)
MAIN_NAV = [
    (_l("Home"), "dashboard.home", "home.view"),
    (_l("Plans"), "plans.index", "plans.view"),
    (_l("Customers"), "plans.customers", "customers.view"),
    (_l("Requirements"), "surveys.index", "surveys.view"),
    (_l("Process maps"), "processmaps.index", "processes.view"),
    (_l("Changes"), "changes.index", "changes.view"),
    (_l("Training"), "training.index", "training.view"),
    (_l("Retros"), "retros.index", "retros.view"),
    (_l("Rollout"), "dashboard.readiness", "dashboard.view"),
]

ADMIN_NAV = [
    (_l("Users"), "accounts.users", "users.manage"),
    (_l("Departments"), "accounts.departments", "departments.manage"),
    (_l("Imports"), "imports.index", "data.import"),
    (_l("Audit trail"), "audit.index", "audit.view"),
    (_l("Outbox"), "notify.outbox", "outbox.manage"),
]


def visible(entries):
    """The entries whose endpoint exists and whose action the current user may perform."""
    if not current_user.is_authenticated:
        return []
    endpoints = current_app.view_functions
    result = []
    for label, endpoint, action in entries:
        if endpoint in endpoints:
            try:
                allowed = can(current_user, action)
            except KeyError:
                allowed = False
            if allowed:
                result.append((label, endpoint))
    return result
