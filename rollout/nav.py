"""Navigation: an entry shows only when its module exists and the user may open it."""
from flask import current_app, url_for
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
    (_l("Role review"), "accounts.my_role_review", "roles.review"),
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
            if allowed and endpoint in ("plans.index", "plans.customers"):
                # A finance or IT colleague's sales menus lead to their own sales work, or are hidden
                # when there is none (the pages stay open to whoever rollout/access.py lets in).
                from rollout.plans.services import sales_menu_endpoint
                endpoint = sales_menu_endpoint(current_user._get_current_object(), endpoint)
                allowed = endpoint is not None
            if allowed:
                result.append((label, endpoint))
    return result


def lit_entry(entries, path: str, endpoint: str | None) -> str | None:
    """The one entry to show as current: the one whose address is the longest start of the page's,
    else the first of the page's blueprint (a lead under Plans). Home is lit on itself only."""
    best, best_length = None, -1
    for _label, entry in entries:
        url = url_for(entry).rstrip("/")
        if (path.rstrip("/") == url or (url and path.startswith(url + "/"))) and len(url) > best_length:
            best, best_length = entry, len(url)
    if best or not endpoint:
        return best
    blueprint = endpoint.split(".")[0]
    return next((entry for _label, entry in entries
                 if entry != "dashboard.home" and entry.split(".")[0] == blueprint), None)
