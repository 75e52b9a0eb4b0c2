"""A per-worker cache for computed figures (readiness, adoption) that are costly to aggregate,
and for whole report pages.

A cached value is reused only while nothing has been written since it was computed: the key
holds the data version, the high-water mark of the audit trail (every ORM write adds audit
rows in the same transaction) and of the survey answers (kept out of the audit trail for the
respondents' privacy). Figures that depend on the date carry it in their key; everything else
that changes with time alone (a review window that has started, a session that has passed) is
bounded by a short lifetime.

Values must not hold ORM instances: they outlive the session that loaded them.

Report pages (``@whole_page_cached``) are also kept whole, per person: a repeated view is answered
before the user is loaded. That is safe because the key holds the signed session's user id and
session token, and everything that could change who may see the page (roles, deactivation, a new
session token) is an audited write that moves the data version; the person's unread count, kept
outside the trail, is part of the key too.
"""
from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import Response, current_app, g, has_request_context, render_template, request, session
from markupsafe import Markup
from sqlalchemy import bindparam, func, select

from rollout.extensions import db

#: Seconds a figure may be reused even when nothing was written.
LIFETIME_SECONDS = 60
#: Entries kept per worker; the oldest half is dropped when it is full.
MAX_ENTRIES = 512

#: Characters of whole pages kept per worker (a 200-node process map is about 450,000); the
#: oldest pages go first beyond it, apart from the figures, which cost far more to rebuild.
MAX_KEPT_PAGE_CHARS = 40_000_000

_entries: dict[Hashable, tuple[float, object]] = {}
_pages: OrderedDict[Hashable, tuple[float, str]] = OrderedDict()
_pages_size = 0
_lock = threading.Lock()


def _version_sources() -> list:
    from rollout.audit.models import AuditEntry
    sources = [select(func.max(AuditEntry.id)).scalar_subquery()]
    try:
        from surveys.models import SurveyResponse
        sources.append(select(func.max(SurveyResponse.id)).scalar_subquery())
    except ImportError:
        pass
    return sources


def data_version() -> tuple:
    """Changes whenever anything is written (read once per request)."""
    if has_request_context() and "_data_version" in g:
        return g._data_version
    version = tuple(db.session.execute(select(*_version_sources())).one())
    if has_request_context():
        g._data_version = version
    return version


def cached(key: Hashable, compute: Callable[[], object], keep: Callable[[object], bool] | None = None) -> object:
    """``compute()``'s value for ``key`` at the current data version, computed at most once per
    version and lifetime in this worker (unless ``keep(value)`` says it must not be reused)."""
    full_key = (key, data_version())
    found = _fresh_entry(full_key)
    if found is not None:
        return found
    value = compute()
    if keep is None or keep(value):
        _keep(full_key, value)
    return value


def _fresh_entry(full_key: Hashable, store: dict = _entries) -> object | None:
    """The value kept in ``store`` (figures or pages) for ``full_key``, unless past its lifetime."""
    found = store.get(full_key)
    if found is not None and time.monotonic() - found[0] < LIFETIME_SECONDS:
        return found[1]
    return None


def _keep(full_key: Hashable, value: object) -> None:
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            for old in sorted(_entries, key=lambda k: _entries[k][0])[: MAX_ENTRIES // 2]:
                del _entries[old]
        _entries[full_key] = (time.monotonic(), value)


def clear() -> None:
    """Forget every cached figure and page (after a restore, or between tests on a reused database)."""
    global _pages_size
    with _lock:
        _entries.clear()
        _pages.clear()
        _pages_size = 0


def _kept_page(key: Hashable) -> str | None:
    return _fresh_entry(key, _pages)


def _keep_page(key: Hashable, html: str) -> None:
    global _pages_size
    with _lock:
        if key in _pages:
            _pages_size -= len(_pages.pop(key)[1])
        _pages[key] = (time.monotonic(), html)
        _pages_size += len(html)
        while _pages_size > MAX_KEPT_PAGE_CHARS and len(_pages) > 1:
            _pages_size -= len(_pages.popitem(last=False)[1][1])


def cached_page_body(template: str, context: Callable[[], dict]) -> Markup:
    """``template`` rendered with ``context()``, reused for the same path, user, language and day.

    For the body of report pages; the page around it (menu, messages) is rendered fresh on every
    request. Forms' CSRF tokens are put in fresh too: while a body is rendered for the cache,
    ``csrf_token()`` in templates gives a placeholder. A body that still holds this session's
    real token (a WTForms form renders its own) is used once and not kept.
    """
    from flask_babel import get_locale
    from flask_login import current_user
    from flask_wtf.csrf import generate_csrf

    from rollout.timeutil import local_today

    def render() -> Markup:
        rendering_page = g.get("_rendering_cached_body", False)
        g._rendering_cached_body = True
        try:
            return Markup(render_template(template, **context()))
        finally:
            g._rendering_cached_body = rendering_page

    key = ("page", template, request.full_path, current_user.get_id(), str(get_locale()), local_today())
    body = cached(key, render, keep=lambda html: generate_csrf() not in html)
    if g.get("_rendering_cached_body"):
        return body  # the whole page is being built for the cache: keep_page puts the token in
    return Markup(_with_token(body))


def whole_page_cached(view: Callable) -> Callable:
    """Mark a report view whose whole page may be kept per person, language, day and data version.

    Only for pages that show figures, not forms with state: the view's own access check runs
    when the page is first built, and a kept page is served only to the same person (user id and
    session token from the signed session cookie) in the same browser.
    """
    view.whole_page_cached = True
    return view


def _page_key() -> tuple | None:
    """The key of this request's kept page, or None when the page must be built."""
    from rollout.extensions import login_manager
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if request.method != "GET" or not getattr(view, "whole_page_cached", False):
        return None
    identity = session.get("_user_id")
    user_id = str(identity or "").partition(":")[0]
    # Messages waiting to be shown, a remember-me cookie still to be set, or a session from
    # another browser (Flask-Login marks it not fresh): the page is built the usual way.
    if (not user_id.isdigit() or "_flashes" in session or "_remember" in session
            or session.get("_id") != login_manager._session_identifier_generator()):
        return None
    from rollout.timeutil import local_today
    return ("whole page", request.full_path, identity, session.get("lang"),
            request.headers.get("Accept-Language"), local_today(), _read_page_version(int(user_id)))


def _read_page_version(user_id: int) -> tuple:
    """The data version and the person's unread count, read on a pooled connection of its own:
    a kept page is served without starting an ORM session (a quarter of its cost)."""
    sql, positional = _page_version_sql(db.engine.dialect.name)
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(sql, (user_id,) if positional else {"user_id": user_id})
        return tuple(cursor.fetchone())
    finally:
        connection.close()  # back to the pool, which ends the read transaction


@functools.cache
def _page_version_sql(dialect_name: str) -> tuple[str, bool]:
    """The data version and the unread count of person ``user_id`` as one statement, compiled
    once for the database in use; and whether its parameters are positional."""
    from rollout.notify.models import Notification
    unread = select(func.count()).where(Notification.user_id == bindparam("user_id"),
                                        Notification.read_at.is_(None)).scalar_subquery()
    compiled = select(*_version_sources(), unread).compile(dialect=db.engine.dialect)
    return str(compiled), compiled.positional


def serve_kept_page():
    """Before a request: answer a repeated view of a report page from the cache."""
    key = _page_key()
    if key is None:
        return None
    html = _kept_page(key)
    if html is not None:
        return Response(_with_token(html), mimetype="text/html")
    g._page_key = key
    g._rendering_cached_body = True  # the page frame's forms get the placeholder too
    return None


def keep_page(response: Response) -> Response:
    """After a request: keep a freshly built report page, and put the real CSRF token in."""
    if not g.get("_rendering_cached_body") or response.direct_passthrough or response.mimetype != "text/html":
        return response
    from flask_wtf.csrf import generate_csrf
    html = response.get_data(as_text=True)
    if g.get("_page_key") and response.status_code == 200 and generate_csrf() not in html:
        _keep_page(g._page_key, html)
    response.set_data(_with_token(html))
    return response


def _with_token(html: str) -> str:
    if _TOKEN_PLACEHOLDER not in html:
        return html
    from flask_wtf.csrf import generate_csrf
    return html.replace(_TOKEN_PLACEHOLDER, generate_csrf())


def template_csrf_token() -> str:
    """The ``csrf_token()`` of templates: a placeholder while a body is rendered for the cache."""
    if g.get("_rendering_cached_body"):
        return _TOKEN_PLACEHOLDER
    from flask_wtf.csrf import generate_csrf
    return generate_csrf()


_TOKEN_PLACEHOLDER = "csrf-token-placeholder-6f1d"
