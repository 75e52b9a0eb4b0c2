"""PDF reports: one helper renders any Jinja template through WeasyPrint."""
from __future__ import annotations

from flask import current_app, render_template
from weasyprint import HTML

from rollout.config import PROJECT_ROOT


def render_pdf(template: str, **context) -> bytes:
    """Render ``template`` (which extends reports/base.html) to PDF bytes.

    The print stylesheet gives a header with company and date, page numbers,
    table headers repeated on every page and an embedded CJK font.
    """
    context.setdefault("company_name", current_app.config.get("COMPANY_NAME", "Rollout Desk"))
    html = render_template(template, **context)
    # base_url lets templates refer to static files; nothing is fetched from the network.
    return HTML(string=html, base_url=str(PROJECT_ROOT / "rollout" / "static")).write_pdf()
