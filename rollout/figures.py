"""A per-worker cache for computed figures (readiness, adoption) that are costly to aggregate.

A cached value is reused only while nothing has been written since it was computed: the key
holds the data version, the high-water mark of the audit trail (every ORM write adds audit
rows in the same transaction) and of the survey answers (kept out of the audit trail for the
respondents' privacy). Figures that depend on the date carry it in their key; everything else
that changes with time alone (a review window that has started, a session that has passed) is
bounded by a short lifetime.

Values must not hold ORM instances: they outlive the session that loaded them.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

from flask import g, has_request_context, render_template, request
from markupsafe import Markup
from sqlalchemy import func, select

from rollout.extensions import db

#: Seconds a figure may be reused even when nothing was written.
LIFETIME_SECONDS = 60
#: Entries kept per worker; the oldest half is dropped when it is full.
MAX_ENTRIES = 512

_entries: dict[Hashable, tuple[float, object]] = {}
_lock = threading.Lock()


def data_version() -> tuple:
    """Changes whenever anything is written (read once per request)."""
    if has_request_context() and "_data_version" in g:
        return g._data_version
    from rollout.audit.models import AuditEntry
    sources = [select(func.max(AuditEntry.id)).scalar_subquery()]
    try:
        from surveys.models import SurveyResponse
        sources.append(select(func.max(SurveyResponse.id)).scalar_subquery())
    except ImportError:
        pass
    version = tuple(db.session.execute(select(*sources)).one())
    if has_request_context():
        g._data_version = version
    return version


def cached(key: Hashable, compute: Callable[[], object], keep: Callable[[object], bool] | None = None) -> object:
    """``compute()``'s value for ``key`` at the current data version, computed at most once per
    version and lifetime in this worker (unless ``keep(value)`` says it must not be reused)."""
    full_key = (key, data_version())
    now = time.monotonic()
    found = _entries.get(full_key)
    if found is not None and now - found[0] < LIFETIME_SECONDS:
        return found[1]
    value = compute()
    if keep is not None and not keep(value):
        return value
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            for old in sorted(_entries, key=lambda k: _entries[k][0])[: MAX_ENTRIES // 2]:
                del _entries[old]
        _entries[full_key] = (now, value)
    return value


def clear() -> None:
    """Forget every cached figure (after a restore, or between tests on a reused database)."""
    with _lock:
        _entries.clear()


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
        g._rendering_cached_body = True
        try:
            return Markup(render_template(template, **context()))
        finally:
            g._rendering_cached_body = False

    key = ("page", template, request.full_path, current_user.get_id(), str(get_locale()), local_today())
    body = cached(key, render, keep=lambda html: generate_csrf() not in html)
    if _TOKEN_PLACEHOLDER in body:
        body = Markup(body.replace(_TOKEN_PLACEHOLDER, generate_csrf()))
    return body


def template_csrf_token() -> str:
    """The ``csrf_token()`` of templates: a placeholder while a body is rendered for the cache."""
    if g.get("_rendering_cached_body"):
        return _TOKEN_PLACEHOLDER
    from flask_wtf.csrf import generate_csrf
    return generate_csrf()


_TOKEN_PLACEHOLDER = "csrf-token-placeholder-6f1d"
