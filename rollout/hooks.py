"""Request lifecycle: login loading, the single commit point, security headers, error pages."""
from __future__ import annotations

from babel.lists import format_list
from flask import Flask, current_app, g, jsonify, render_template, request, session
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from rollout import access, figures, nav
from rollout.accounts.forms import KIND_LABELS, ROLE_LABELS
from rollout.accounts.models import User
from rollout.database import schema_behind
from rollout.extensions import db, login_manager
from rollout.markdown import render_markdown
from rollout.timeutil import to_local

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
#: Form fields never echoed back on the "submit again" page.
_NOT_ECHOED = ("csrf_token", "password", "current_password", "new_password", "confirm")


@login_manager.user_loader
def load_user(session_id: str):
    user_id, _, token = (session_id or "").partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or user.session_token != token:
        return None
    return user


login_manager.login_view = "accounts.login"
login_manager.login_message = _l("Please log in to open this page.")
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


def _commit_or_rollback(response):
    # The one place a request's work is committed: success (or an explicit
    # request to keep an audit record) commits, anything else rolls back.
    if not db.session.registry.has():
        return response  # no session was opened (a kept page): nothing to end
    if response.status_code < 400 or g.get("commit_anyway"):
        db.session.commit()
    else:
        db.session.rollback()
    return response


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _fresh_request_state():
    # A request normally gets a new app context; when a caller (a test, a
    # script) reuses one, drop cached per-request state such as the logged-in
    # user, so each request starts clean.
    for key in list(g.__dict__):
        g.pop(key, None)


def _refuse_undeclared_views():
    # Fail closed: a view without an access declaration is never served.
    if request.endpoint is None or request.endpoint == "static":
        return None
    view = current_app.view_functions.get(request.endpoint)
    if view is not None and access.action_of(view) is None:
        return _error_page(403)
    return None


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _error_page(code: int, error=None):
    if code == 403:
        from types import SimpleNamespace

        from rollout.audit.services import record_event
        # Read who is denied before the rollback: reading after it would start a read transaction
        # that SQLite cannot turn into a write under contention ("database is locked" at once);
        # with the insert as the first statement the busy timeout applies.
        actor = None
        if current_user.is_authenticated:
            actor = SimpleNamespace(id=current_user.id, username=current_user.username,
                                    department_id=current_user.department_id)
        db.session.rollback()
        if actor is not None:
            record_event("denied", entity="route", entity_id=request.endpoint,
                         detail=f"{request.method} {request.path}"[:500], user=actor)
            g.commit_anyway = True
    if _wants_json():
        return jsonify({"error": code}), code
    return render_template(f"errors/{code}.html", error=error), code


def _csrf_error(error):
    db.session.rollback()
    fields = [(key, value) for key, value in request.form.items(multi=True) if key not in _NOT_ECHOED]
    return render_template("errors/csrf.html", fields=fields, action=request.path), 400


def _http_error(error: HTTPException):
    if error.code in (403, 404, 413, 429, 400, 405):
        return _error_page(error.code, error)
    return error


def _server_error(error):
    db.session.rollback()
    behind = schema_behind()
    if behind is not None:
        # The code was updated without `rollout db upgrade`: every page would fail the same way. A page of
        # its own, not base.html, which reads the database itself.
        # The language from the session or the browser: the signed-in user's own choice is in the database.
        from rollout import browser_locale
        lang = session.get("lang") if session.get("lang") in ("zh_CN", "en") else browser_locale()
        with force_locale(lang):
            return render_template("errors/schema_behind.html", database=behind[0], code=behind[1], lang=lang), 503
    return render_template("errors/500.html"), 500


def install(app: Flask) -> None:
    """Attach hooks, error handlers and template helpers to the app."""
    app.before_request(_fresh_request_state)
    app.before_request(_refuse_undeclared_views)
    app.before_request(figures.serve_kept_page)
    app.after_request(_security_headers)
    app.after_request(_commit_or_rollback)
    app.after_request(figures.keep_page)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(500, _server_error)

    @app.context_processor
    def template_helpers():
        from rollout.notify.services import unread_count
        return {
            "can": lambda action, obj=None: access.can(current_user, action, obj),
            "may_open": lambda path: access.may_open(current_user, path),
            "main_nav": lambda: nav.visible(nav.MAIN_NAV),
            "admin_nav": lambda: nav.visible(nav.ADMIN_NAV),
            "lit_entry": lambda entries: nav.lit_entry(entries, request.path, request.endpoint),
            "unread_count": lambda: unread_count(current_user) if current_user.is_authenticated else 0,
            "current_locale": lambda: "zh_CN" if get_locale().language == "zh" else "en",
            "company_name": app.config["COMPANY_NAME"],
            "role_label": lambda role: ROLE_LABELS.get(role, role),
            "kind_label": lambda kind: KIND_LABELS.get(kind, kind),
        }

    app.jinja_env.filters["markdown"] = render_markdown
    # "A, B and C" / "A、B和C": a list as the reader's language writes one, each item through ``label``.
    app.jinja_env.filters["join_list"] = lambda items, label=str: format_list(
        [str(label(item)) for item in items], locale=get_locale()) if items else ""
    app.jinja_env.filters["local"] = lambda value, fmt="%Y-%m-%d %H:%M": (
        to_local(value).strftime(fmt) if value else "")
