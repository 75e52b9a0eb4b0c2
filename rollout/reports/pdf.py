"""PDF reports: one helper renders any Jinja template through WeasyPrint.

Templates extend ``reports/base.html``, whose print stylesheet gives every
page a running header (company, report title, date), page numbers "n / N",
table headers repeated on each page and Noto Sans CJK for Chinese, which
WeasyPrint embeds (subset) in the file.
"""
from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from weasyprint import HTML

from rollout.config import PROJECT_ROOT
from rollout.timeutil import local_today

# WeasyPrint logs every rendering step at INFO; only its warnings matter here.
logging.getLogger("weasyprint").setLevel(logging.WARNING)

STATIC_ROOT = (PROJECT_ROOT / "rollout" / "static").resolve()


class ExternalResourceRefused(ValueError):
    """A report tried to load something from outside the application's static files."""


def check_resource(url: str) -> None:
    """Let reports load data: URLs and the app's static files, nothing from the network or elsewhere on disk.

    Reports contain user-written text; without this, an image URL in it would
    make the server fetch intranet addresses or local files.
    """
    if url.startswith("data:"):
        return
    if url.startswith("file://"):
        path = Path(unquote(urlsplit(url).path)).resolve()
        if path == STATIC_ROOT or STATIC_ROOT in path.parents:
            return
    raise ExternalResourceRefused(f"refused to load {url[:100]}")


try:  # WeasyPrint 66+: fetchers are URLFetcher objects
    from weasyprint.urls import URLFetcher

    class LocalOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            check_resource(url)
            return super().fetch(url, headers)

    def _fetcher():
        return LocalOnlyFetcher(allowed_protocols={"data", "file"})
except ImportError:  # older WeasyPrint: a plain function
    from weasyprint import default_url_fetcher

    def _fetcher():
        def fetch(url, *args, **kwargs):
            check_resource(url)
            return default_url_fetcher(url, *args, **kwargs)
        return fetch


def render_pdf(template: str, **context) -> bytes:
    """Render ``template`` (which extends reports/base.html) to PDF bytes.

    The context may set ``report_title`` and ``report_date`` for the running
    header; the company name and today's date are filled in otherwise.
    """
    context.setdefault("company_name", current_app.config.get("COMPANY_NAME", "Rollout Desk"))
    context.setdefault("report_date", local_today().isoformat())
    context.setdefault("report_title", "")
    html = render_template(template, **context)
    return HTML(string=html, base_url=str(STATIC_ROOT) + "/", url_fetcher=_fetcher()).write_pdf()
