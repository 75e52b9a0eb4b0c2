"""From feedback to work: a card or action item becomes a change request, an FAQ article or a question.

An FAQ article answers something, so only those who keep the FAQ write one, and they write its answer;
anyone else asks the support desk the card's question, and the answer may become the article there.

Retros sit after changes and training in the dependency chain, so this module
calls their services and keeps the link (both directions) in ``RetroWorkLink``.
"""
from __future__ import annotations

import importlib

from flask import url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.routing import BuildError

from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.i18n import language_of
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


def create_support_question_function():
    return _function("training.support", "create_request")


def _rows_by_id(module: str, model_name: str, ids) -> dict[int, object]:
    """The rows of another module's model with these ids (one statement); empty when the module is absent."""
    model = _function(module, model_name)
    ids = sorted({i for i in ids if i})
    if model is None or not ids:
        return {}
    return {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}


def change_requests_by_id(ids) -> dict[int, object]:
    """The change requests with these ids (one statement); empty when the changes module is absent."""
    return _rows_by_id("changes.models", "ChangeRequest", ids)


def change_request_reference(change_request_id: int) -> str:
    """The number the changes module shows for a request (CR-0018)."""
    request = change_requests_by_id([change_request_id]).get(change_request_id)
    return request.reference if request is not None else f"#{change_request_id}"


def change_request_state_label(request) -> str:
    """The request's state in the reader's language, as the changes module names it."""
    labels = _function("changes.labels", "STATE_LABELS") or {}
    return str(labels.get(request.state, request.state))


def support_requests_by_id(ids) -> dict[int, object]:
    """The support requests with these ids (one statement); empty when the training module is absent."""
    return _rows_by_id("training.models", "SupportRequest", ids)


def faq_articles_by_id(ids) -> dict[int, object]:
    """The FAQ articles with these ids (one statement); empty when the training module is absent."""
    return _rows_by_id("training.models", "FaqArticle", ids)


def support_request_state_label(request) -> str:
    """The question's state in the reader's language, as the training module names it."""
    labels = _function("training.forms", "STATUS_LABELS") or {}
    return str(labels.get(request.status, request.status))


def available() -> dict[str, bool]:
    """Which conversions the installed modules offer."""
    return {"change": create_change_request_function() is not None,
            "faq": create_faq_article_function() is not None,
            "question": create_support_question_function() is not None}


def source_text(source, with_link: bool = True) -> tuple[str, str, str | None, object]:
    """(title, Markdown line saying where it came from, tag, retro) of a card or action item.

    The line is stored in other modules' records, so it is in the company's language. ``with_link`` adds a
    link to the retro: for readers who may open it (reviewers of a change request), not for the whole
    company reading an FAQ article."""
    if isinstance(source, RetroCard):
        retro, title, tag = source.retro, source.body, source.tag
    else:
        retro, title, tag = source.retro, source.title, source.card.tag if source.card else None
    with force_locale(language_of(None)):
        if isinstance(source, RetroCard):
            origin = _("From the retro “%(retro)s” (%(team)s, %(date)s), card in column “%(column)s”.",
                       retro=retro.title, team=retro.team.name, date=retro.held_on,
                       column=source.column.display_title)
        else:
            origin = _("From an action item of the retro “%(retro)s” (%(team)s, %(date)s).",
                       retro=retro.title, team=retro.team.name, date=retro.held_on)
        open_label = _("Open the retro")  # not inside the f-string: the message extractor would miss it
    if not with_link:
        return title, origin, tag, retro
    try:
        link = url_for("retros.board", retro_id=retro.id)
    except RuntimeError:  # outside a request (demo data, scripts)
        link = f"/retros/{retro.id}"
    return title, f"{origin} [{open_label}]({link})", tag, retro


def _existing_link(source, *targets: str) -> RetroWorkLink | None:
    column = RetroWorkLink.card_id if isinstance(source, RetroCard) else RetroWorkLink.action_item_id
    columns = {"change": RetroWorkLink.change_request_id, "faq": RetroWorkLink.faq_article_id,
               "question": RetroWorkLink.support_request_id}
    return db.session.scalar(select(RetroWorkLink).where(
        column == source.id, db.or_(*(columns[target].is_not(None) for target in targets))).limit(1))


def refuse_answered_twice(source) -> None:
    """A card gets one answer: an article, or a question whose answer may become one."""
    existing = _existing_link(source, "faq", "question")
    if existing is None:
        return
    is_card = isinstance(source, RetroCard)
    if existing.faq_article_id:
        raise ServiceError(_("This card was already turned into an FAQ article.") if is_card else
                           _("This action item was already turned into an FAQ article."))
    raise ServiceError(_("This card was already asked at the support desk.") if is_card else
                       _("This action item was already asked at the support desk."))


def _link(source, user, change_request_id=None, faq_article_id=None, support_request_id=None) -> RetroWorkLink:
    link = RetroWorkLink(card_id=source.id if isinstance(source, RetroCard) else None,
                         action_item_id=source.id if isinstance(source, RetroActionItem) else None,
                         change_request_id=change_request_id, faq_article_id=faq_article_id,
                         support_request_id=support_request_id, created_by_id=user.id)
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
    title, origin, _tag, retro = source_text(source)
    request = create(user, title[:200], f"{title}\n\n{origin}", _("Raised in the team retro."),
                     affected_department_ids=[retro.team_id])
    return _link(source, user, change_request_id=request.id)


def to_faq_article(source: RetroCard | RetroActionItem, user, title: str, answer_markdown: str,
                   tags=()) -> RetroWorkLink:
    """Publish an FAQ article answering a card or action item, and link the two.

    The caller checks that ``user`` keeps the FAQ (training.faq.manage)."""
    create = create_faq_article_function()
    if create is None:
        raise ServiceError(_("The FAQ is not available."))
    refuse_answered_twice(source)
    answer = (answer_markdown or "").replace("\x00", "").strip()
    if not answer:
        raise ServiceError(_("Write the answer the article gives."), "answer")
    _title, origin, _tag, _retro = source_text(source, with_link=False)
    article = create((title or "").strip(), f"{answer}\n\n{origin}", user, tags=tags, source="retro")
    return _link(source, user, faq_article_id=article.id)


def asker_of(source: RetroCard | RetroActionItem, user):
    """Whose question it is: the action item's owner, else the card's writer (unless anonymous), else ``user``."""
    person = source.owner if isinstance(source, RetroActionItem) else source.author
    return person if person is not None and person.is_active_account else user


def to_support_question(source: RetroCard | RetroActionItem, user) -> RetroWorkLink:
    """Ask the support desk what a card or action item asks, and link the two.

    It is asked on behalf of whoever raised it (see ``asker_of``), who hears the answer, and goes to a seed
    user of the retro's team (or the rollout team); the answer may become an FAQ article."""
    create = create_support_question_function()
    if create is None:
        raise ServiceError(_("The support desk is not available."))
    refuse_answered_twice(source)
    # No link to the retro: the answer, question included, may become an FAQ article for the whole company.
    title, origin, _tag, retro = source_text(source, with_link=False)
    asker = asker_of(source, user)
    # The subject is the question; the text says where it came from (and the rest of a long card).
    body = f"{title}\n\n{origin}" if len(title) > 200 else origin
    request = create(asker, title[:200], body, department_id=retro.team_id)
    if asker.id != user.id:
        from rollout.notify.services import notify
        notify([asker], "retros.question_asked",
               _l("%(name)s asked the support desk your question: %(subject)s", name=user.display_name,
                  subject=request.subject), link=support_request_url(request.id))
    return _link(source, user, support_request_id=request.id)


def change_request_url(change_request_id: int) -> str:
    try:
        return url_for("changes.detail", request_id=change_request_id)
    except BuildError:  # the changes module is not installed
        return "#"


def support_request_url(support_request_id: int) -> str:
    try:
        return url_for("training.support_request", request_id=support_request_id)
    except BuildError:
        return "#"
    except RuntimeError:  # outside a request (demo data, scripts)
        return f"/training/support/{support_request_id}"


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
    _finish_action_items([r.id for r in getattr(release, "requests", [])])


def on_change_implemented(request, **_kwargs) -> None:
    """As for a release: an action item whose change request went live on its own (an emergency) is done."""
    _finish_action_items([request.id])


def _finish_action_items(ids: list[int]) -> None:
    from rollout.retros.services import ACTION_TRANSITIONS, transition_action_item
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
    signals.change_implemented.connect(on_change_implemented)


connect_signals()
