"""Rollout Desk: the application factory."""
from __future__ import annotations

import gc
import importlib
import importlib.util
import logging

from flask import Flask, Request, has_request_context, request, session
from flask_login import current_user
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from rollout.config import PROJECT_ROOT, instance_path, load_config
from rollout.database import MAX_ID
from rollout.extensions import babel, csrf, db, limiter, login_manager, migrate

LOCALES = ("zh_CN", "en")

#: Packages in dependency order; each may have models, views (bp), cli (commands) and demo.
PACKAGES = (
    "rollout.accounts", "rollout.audit", "rollout.notify", "rollout.reports", "rollout.plans",
    "rollout.imports", "processmaps", "surveys", "changes", "training", "rollout.retros",
    "rollout.dashboard",
)


def existing_modules(suffix: str) -> list[str]:
    """Names of ``<package>.<suffix>`` modules that exist, in dependency order."""
    names = []
    for package in PACKAGES:
        if importlib.util.find_spec(package.split(".")[0]) is None:
            continue
        try:
            if importlib.util.find_spec(f"{package}.{suffix}") is not None:
                names.append(f"{package}.{suffix}")
        except ModuleNotFoundError:
            continue
    return names


def import_models() -> None:
    """Import every package's models so the metadata is complete."""
    for name in existing_modules("models"):
        importlib.import_module(name)
    importlib.import_module("rollout.audit.services")  # installs the audit listener
    importlib.import_module("rollout.database")  # installs the engine listeners


def select_locale() -> str:
    """The user's saved choice, then the session's, then the browser's; Chinese by default.

    Outside a request (CLI, workers) messages are in English, the language of scripts and logs.
    """
    if not has_request_context():
        return "en"
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in LOCALES:
        return current_user.locale
    if session.get("lang") in LOCALES:
        return session["lang"]
    return browser_locale()


def browser_locale() -> str:
    """The language the request's browser prefers among ours: English, else Chinese."""
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"])
    return "en" if best == "en" else "zh_CN"


def translation_directories() -> str:
    from rollout.i18n import translation_folders
    return ";".join(str(folder) for folder in translation_folders() if folder.is_dir())


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` URL parts beyond a database integer are simply not found (404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class _ParametersWithoutNul(ImmutableMultiDict):
    """Query and form parameters with NUL characters dropped: PostgreSQL refuses them in text,
    and no person types one, so every form gets the same value on every database."""

    def __init__(self, mapping=None):
        if isinstance(mapping, list):
            mapping = [(key.replace("\x00", ""), value.replace("\x00", "") if isinstance(value, str) else value)
                       for key, value in mapping]
        super().__init__(mapping)


class RolloutRequest(Request):
    parameter_storage_class = _ParametersWithoutNul


class RolloutFlask(Flask):
    """Flask, retrying a request that lost SQLite's write lock (nothing was committed)."""

    request_class = RolloutRequest

    #: How often a request is re-run after "database is locked".
    lock_retries = 3

    def full_dispatch_request(self):
        from rollout.database import RETRY_WITH_WRITE_LOCK, is_lock_error
        from rollout.extensions import db
        for attempt in range(self.lock_retries + 1):
            try:
                return super().full_dispatch_request()
            except Exception as error:  # re-raised below unless it is a lock timeout
                if not is_lock_error(error) or attempt == self.lock_retries:
                    raise
                db.session.rollback()
                request.environ[RETRY_WITH_WRITE_LOCK] = True
        raise AssertionError("unreachable")


def tune_garbage_collector(young_threshold: int) -> None:
    """Run the collector's young pass every ``young_threshold`` allocations (0: Python's default).

    A page listing thousands of rows makes so many short-lived objects that, at Python's 700, the
    collector ran in mid-request and moved them to the old generation, and one view in eight then
    paid a full pass over every object of the process (150 ms at 2,000 people). Such objects die
    with the request anyway; measured at scale 1.0, no full pass in 160 views and medians 10 % lower.
    """
    if young_threshold > 0:
        gc.set_threshold(young_threshold, *gc.get_threshold()[1:])


def create_app(config: dict | None = None) -> Flask:
    """Build the application; ``config`` overrides settings from the environment."""
    app = RolloutFlask(
        "rollout",
        instance_path=str(instance_path()),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "rollout" / "static"),
    )
    app.url_map.converters["int"] = BoundedIntConverter
    app.config.update(load_config())
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = translation_directories()
    if config:
        app.config.update(config)
    if app.config.get("PROXY_HOPS"):
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    tune_garbage_collector(app.config["GC_GEN0_THRESHOLD"])
    logging.basicConfig(level=logging.INFO)
    for noisy in ("weasyprint", "fontTools"):  # per-step progress logs of PDF rendering
        logging.getLogger(noisy).setLevel(logging.WARNING)

    import_models()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    from rollout import figures
    # Cached report bodies get fresh tokens: as a global (macros) and in every template's context,
    # where Flask-WTF puts its own.
    app.jinja_env.globals["csrf_token"] = figures.template_csrf_token
    app.context_processor(lambda: {"csrf_token": figures.template_csrf_token})
    babel.init_app(app, locale_selector=select_locale,
                   timezone_selector=lambda: app.config["DISPLAY_TIMEZONE"])
    limiter.init_app(app)

    from rollout import hooks
    hooks.install(app)
    for name in existing_modules("views"):
        module = importlib.import_module(name)
        app.register_blueprint(module.bp)
    from rollout.cli import register_commands
    register_commands(app)
    return app
