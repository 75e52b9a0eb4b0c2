"""From feedback to work: a card or action item becomes a change request or an FAQ article.

Retros sit after changes and training in the dependency chain, so this module
calls their services and keeps the link (both directions) in ``RetroWorkLink``.
"""
from __future__ import annotations

import importlib

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.routing import BuildError

from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.retros.models import RetroActionItem, RetroCard, RetroWorkLink


def _function(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def create_change_request_function():
    return _function("changes.services", "create_change_request")


def create_faq_article_function():
    return _function("training.faq", "create_article_from")


def change_requests_by_id(ids) -> dict[int, object]:
    """The change requests with these ids (one statement); empty when the changes module is absent."""
    model = _function("changes.models", "ChangeRequest")
    ids = sorted({i for i in ids if i})
    if model is None or not ids:
        return {}
    return {request.id: request for request in db.session.scalars(select(model).where(model.id.in_(ids)))}


def change_request_reference(change_request_id: int) -> str:
    """The number the changes module shows for a request (CR-0018)."""
    request = change_requests_by_id([change_request_id]).get(change_request_id)
    return request.reference if request is not None else f"#{change_request_id}"


def change_request_state_label(request) -> str:
    """The request's state in the reader's language, as the changes module names it."""
    labels = _function("changes.labels", "STATE_LABELS") or {}
    return str(labels.get(request.state, request.state))


def available() -> dict[str, bool]:
    """Which conversions the installed modules offer."""
    return {"change": create_change_request_function() is not None,
            "faq": create_faq_article_function() is not None}


def _source_text(source) -> tuple[str, str, str | None, object]:
    """(title, Markdown body with a link back, tag, retro) for a card or an action item."""
    if isinstance(source, RetroCard):
        retro, title, tag = source.retro, source.body, source.tag
        origin = _("From the retro “%(retro)s” (%(team)s, %(date)s), card in column “%(column)s”.",
                   retro=retro.title, team=retro.team.name, date=retro.held_on, column=source.column.display_title)
        body = source.body
    else:
        retro, title, tag = source.retro, source.title, source.card.tag if source.card else None
        origin = _("From an action item of the retro “%(retro)s” (%(team)s, %(date)s).",
                   retro=retro.title, team=retro.team.name, date=retro.held_on)
        body = source.title
    try:
        link = url_for("retros.board", retro_id=retro.id)
    except RuntimeError:  # outside a request (demo data, scripts)
        link = f"/retros/{retro.id}"
    open_label = _("Open the retro")  # not inside the f-string: the message extractor would miss it
    return title[:200], f"{body}\n\n{origin} [{open_label}]({link})", tag, retro


def _existing_link(source, target: str) -> RetroWorkLink | None:
    column = RetroWorkLink.card_id if isinstance(source, RetroCard) else RetroWorkLink.action_item_id
    target_column = RetroWorkLink.change_request_id if target == "change" else RetroWorkLink.faq_article_id
    return db.session.scalar(select(RetroWorkLink).where(column == source.id, target_column.is_not(None)))


def _link(source, user, change_request_id=None, faq_article_id=None) -> RetroWorkLink:
    link = RetroWorkLink(card_id=source.id if isinstance(source, RetroCard) else None,
                         action_item_id=source.id if isinstance(source, RetroActionItem) else None,
                         change_request_id=change_request_id, faq_article_id=faq_article_id,
                         created_by_id=user.id)
    db.session.add(link)
    db.session.flush()
    return link


def to_change_request(source: RetroCard | RetroActionItem, user) -> RetroWorkLink:
    """Draft a change request from a card or action item and link the two; its requester submits it."""
    create = create_change_request_function()
    if create is None:
        raise ServiceError(_("Change requests are not available."))
    existing = _existing_link(source, "change")
    if existing is not None:
        reference = change_request_reference(existing.change_request_id)
        raise ServiceError(_("This card was already turned into change request %(ref)s.", ref=reference)
                           if isinstance(source, RetroCard) else
                           _("This action item was already turned into change request %(ref)s.", ref=reference))
    title, body, _tag, retro = _source_text(source)
    request = create(user, title, body, _("Raised in the team retro."),
                     affected_department_ids=[retro.team_id])
    return _link(source, user, change_request_id=request.id)


def to_faq_article(source: RetroCard | RetroActionItem, user) -> RetroWorkLink:
    """Publish an FAQ article from a card or action item and link the two."""
    create = create_faq_article_function()
    if create is None:
        raise ServiceError(_("The FAQ is not available."))
    existing = _existing_link(source, "faq")
    if existing is not None:
        raise ServiceError(_("This card was already turned into FAQ article #%(id)s.", id=existing.faq_article_id)
                           if isinstance(source, RetroCard) else
                           _("This action item was already turned into FAQ article #%(id)s.",
                             id=existing.faq_article_id))
    title, body, tag, _retro = _source_text(source)
    article = create(title, body, user, tags=[tag] if tag else (), source="retro")
    return _link(source, user, faq_article_id=article.id)


def change_request_url(change_request_id: int) -> str:
    try:
        return url_for("changes.detail", request_id=change_request_id)
    except BuildError:  # the changes module is not installed
        return "#"


def faq_article_url(article_id: int) -> str:
    try:
        return url_for("training.article", article_id=article_id)
    except BuildError:
        return "#"


# --- back from work to the retro --------------------------------------------------------------
def _retro_people(link: RetroWorkLink) -> tuple[list, str]:
    """The facilitator (and the action item's owner) of the retro a link came from, and its board URL."""
    source = db.session.get(RetroCard, link.card_id) if link.card_id else db.session.get(RetroActionItem,
                                                                                          link.action_item_id)
    if source is None:
        return [], ""
    people = [source.retro.facilitator]
    if isinstance(source, RetroActionItem) and source.owner is not None:
        people.append(source.owner)
    return people, f"/retros/{source.retro_id}"


def on_change_decided(request, outcome: str = "", reason: str = "", **_kwargs) -> None:
    """Tell the retro that raised a change request how it was decided."""
    from rollout.notify.services import notify
    try:
        from changes.labels import STATE_LABELS
        outcome_label = STATE_LABELS.get(outcome, outcome)  # lazy: each reader's language
    except ImportError:
        outcome_label = outcome
    for link in db.session.scalars(select(RetroWorkLink).where(RetroWorkLink.change_request_id == request.id)):
        people, board = _retro_people(link)
        if people:
            notify(people, "retro.change_decided",
                   _l("A change request from your retro was decided: %(title)s (%(outcome)s)",
                      title=request.title, outcome=outcome_label), reason or "", board)


def on_release_implemented(release, **_kwargs) -> None:
    """An action item whose change request went live is done."""
    from rollout.retros.services import ACTION_TRANSITIONS, transition_action_item
    ids = [r.id for r in getattr(release, "requests", [])]
    if not ids:
        return
    for link in db.session.scalars(select(RetroWorkLink).where(RetroWorkLink.change_request_id.in_(ids),
                                                               RetroWorkLink.action_item_id.is_not(None))):
        item = db.session.get(RetroActionItem, link.action_item_id)
        if item is not None and (item.status, "finish") in ACTION_TRANSITIONS:
            transition_action_item(item, "finish")


def connect_signals() -> None:
    """Subscribe to the changes module's signals (when it is installed)."""
    try:
        from changes import signals
    except ImportError:
        return
    signals.change_decided.connect(on_change_decided)
    signals.release_implemented.connect(on_release_implemented)


connect_signals()
