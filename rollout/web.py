"""Small request helpers shared by all views: safe redirects, form errors, pagination."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import flash, redirect, request, url_for
from sqlalchemy import func, select

from rollout.database import MAX_ID
from rollout.errors import ServiceError
from rollout.extensions import db


def safe_next(target: str | None) -> str | None:
    """Return ``target`` if it is a path on this site, else None (blocks open redirects)."""
    if not target:
        return None
    target = target.strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def redirect_back(default_endpoint: str, **values):
    """Redirect to the request's safe ``next`` or to a default endpoint."""
    return redirect(safe_next(request.values.get("next")) or url_for(default_endpoint, **values))


def apply_service_error(form, error: ServiceError) -> None:
    """Show a service's refusal at the field it concerns, or as a page message."""
    db.session.rollback()
    field = getattr(form, error.field, None) if (form is not None and error.field) else None
    if field is not None:
        field.errors = list(field.errors) + [error.message]
    else:
        flash(error.message, "danger")


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int
    #: The total was counted only up to a limit: there are more than ``total`` rows.
    is_capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or (self.is_capped and len(self.items) == self.per_page)


def page_number() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 100000))
    except ValueError:
        return 1


def record_id(text: str) -> int:
    """A query or form value as a record id (``request.args.get("team", type=record_id)``): anything that
    cannot be one (letters, 0, more digits than the database holds) is a ValueError, so the value is None."""
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= MAX_ID):
        raise ValueError(text)
    return int(text)


def ids_in(values) -> list[int]:
    """The values that can be record ids (ASCII digits, 1 to MAX_ID), sorted and without repeats;
    anything else, which only a tampered form sends, is left out."""
    return sorted({int(text) for text in map(str, values or ())
                   if text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= MAX_ID})


def page_of(items: list, per_page: int = 50) -> Page:
    """One page of a list already in memory; a page number past the end shows the last page."""
    pages = max(1, -(-len(items) // per_page))
    page = min(page_number(), pages)
    return Page(items=items[(page - 1) * per_page:page * per_page], page=page, per_page=per_page, total=len(items))


def paginate(statement, per_page: int = 25, scalars: bool = True, count_limit: int | None = None) -> Page:
    """Two statements per page whatever the data size: a count and one page of rows.

    ``count_limit`` stops counting there ("more than 1,000"): a text search that no index can
    serve then scans only until it has seen that many matches, not the whole table.
    A page number past the end shows the last page (as ``page_of`` does), unless the count
    stopped at its limit and the last page is not known.
    """
    page = page_number()
    counted = statement.order_by(None)
    if count_limit is not None:
        counted = counted.limit(count_limit + 1)
    total = db.session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    is_capped = count_limit is not None and total > count_limit
    if not is_capped:
        page = min(page, max(1, -(-total // per_page)))
    rows = db.session.execute(statement.limit(per_page).offset((page - 1) * per_page))
    items = list(rows.scalars().all() if scalars else rows.all())
    return Page(items=items, page=page, per_page=per_page, total=count_limit if is_capped else total,
                is_capped=is_capped)
