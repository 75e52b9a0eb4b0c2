"""The FAQ knowledge base: articles with tags, module and role; search that works for Chinese;
"was this helpful" votes; what people read most and what they searched for in vain."""
from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import case, func, select

from rollout.accounts.models import ROLES
from rollout.database import contains_text
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.timeutil import utcnow
from training.models import FAQ_MODULES, FaqArticle, FaqSearch, FaqTag, FaqVote

MAX_TAGS = 10


def parse_tags(tags) -> list[str]:
    """Tags from a list or a comma/space separated string (， and 、 too), unique, in order."""
    if isinstance(tags, str):
        tags = re.split(r"[,，、;；\s]+", tags)
    result: list[str] = []
    for tag in tags or ():
        tag = str(tag).replace("\x00", "").strip().lstrip("#")[:40]
        if tag and tag not in result:
            result.append(tag)
    return result[:MAX_TAGS]


def save_article(article: FaqArticle | None, title: str, body_markdown: str, author=None, tags=(),
                 module: str = "", role: str = "", source: str = "manual") -> FaqArticle:
    """Create or update an article."""
    title = (title or "").strip()
    if not title:
        raise ServiceError(_("A title is required."), "title")
    if not (body_markdown or "").strip():
        raise ServiceError(_("The article needs a text."), "body_markdown")
    if module and module not in FAQ_MODULES:
        raise ServiceError(_("Unknown module."), "module")
    if role and role not in ROLES:
        raise ServiceError(_("Unknown role."), "role")
    if article is None:
        article = FaqArticle(author_id=author.id if author is not None else None, source=source)
        db.session.add(article)
    article.title, article.body_markdown = title[:200], body_markdown
    article.updated_at = utcnow()
    article.module, article.role = module or "", role or ""
    wanted = parse_tags(tags)
    article.tag_rows = [row for row in article.tag_rows if row.tag in wanted] + [
        FaqTag(tag=tag) for tag in wanted if tag not in article.tags]
    db.session.flush()
    return article


def create_article_from(title: str, body_markdown: str, author, tags=(), module: str = "", role: str = "",
                        source: str = "retro") -> FaqArticle:
    """Publish an article from elsewhere in one step (a retro action item, a support answer)."""
    return save_article(None, title, body_markdown, author=author, tags=tags, module=module, role=role,
                        source=source)


def search_statement(query: str = "", module: str = "", role: str = "", tag: str = ""):
    """Articles matching every word of ``query`` anywhere in title or body, title hits first.

    Substring matching (LIKE) finds Chinese words inside sentences, where word-based
    full-text search would need a segmenter.
    """
    statement = select(FaqArticle)
    words = [word for word in re.split(r"\s+", (query or "").replace("\x00", "").strip()) if word][:5]
    title_hits = []
    for word in words:
        title_match = contains_text(FaqArticle.title, word)
        statement = statement.where(title_match | contains_text(FaqArticle.body_markdown, word))
        title_hits.append(title_match)
    if module:
        statement = statement.where(FaqArticle.module == module)
    if role:
        statement = statement.where(db.or_(FaqArticle.role == role, FaqArticle.role == ""))
    if tag:
        statement = statement.where(FaqArticle.id.in_(select(FaqTag.article_id).where(FaqTag.tag == tag)))
    order = []
    if title_hits:
        order.append(case((db.and_(*title_hits), 0), else_=1))
    return statement.order_by(*order, FaqArticle.view_count.desc(), FaqArticle.id.desc())


def record_search(query: str, result_count: int, user=None) -> None:
    """Keep a search (its text and how many articles it found)."""
    query = (query or "").replace("\x00", "").strip()[:200]
    if query:
        db.session.add(FaqSearch(query=query, result_count=result_count,
                                 user_id=user.id if user is not None else None))
        db.session.flush()


def record_view(article: FaqArticle) -> None:
    # An UPDATE … SET view_count = view_count + 1 would bypass the audit trail, which is
    # right for a counter: a page view is not a change worth an audit row.
    db.session.execute(db.update(FaqArticle).where(FaqArticle.id == article.id)
                       .values(view_count=FaqArticle.view_count + 1))


def vote(article: FaqArticle, user, is_helpful: bool) -> FaqVote:
    """One vote per person and article; voting again changes the vote."""
    existing = db.session.scalar(select(FaqVote).where(FaqVote.article_id == article.id, FaqVote.user_id == user.id))
    if existing is None:
        existing = FaqVote(article_id=article.id, user_id=user.id, is_helpful=is_helpful)
        db.session.add(existing)
    else:
        existing.is_helpful = is_helpful
    db.session.flush()
    counts = dict(db.session.execute(select(FaqVote.is_helpful, func.count()).where(
        FaqVote.article_id == article.id).group_by(FaqVote.is_helpful)).all())
    article.helpful_count, article.unhelpful_count = counts.get(True, 0), counts.get(False, 0)
    db.session.flush()
    return existing


def user_vote(article: FaqArticle, user) -> bool | None:
    return db.session.scalar(select(FaqVote.is_helpful).where(FaqVote.article_id == article.id,
                                                              FaqVote.user_id == user.id))


def most_viewed(limit: int = 10) -> list[FaqArticle]:
    return list(db.session.scalars(select(FaqArticle).where(FaqArticle.view_count > 0)
                                   .order_by(FaqArticle.view_count.desc(), FaqArticle.id).limit(limit)).all())


def searches_without_results(limit: int = 20) -> list[tuple[str, int, object]]:
    """(query, times searched, last searched) of searches that found nothing, most frequent first."""
    rows = db.session.execute(select(FaqSearch.query, func.count(), func.max(FaqSearch.created_at))
                              .where(FaqSearch.result_count == 0).group_by(FaqSearch.query)
                              .order_by(func.count().desc(), func.max(FaqSearch.created_at).desc())
                              .limit(limit)).all()
    return [tuple(row) for row in rows]


def all_tags() -> list[tuple[str, int]]:
    return [tuple(row) for row in db.session.execute(select(FaqTag.tag, func.count()).group_by(FaqTag.tag)
                                                     .order_by(func.count().desc(), FaqTag.tag).limit(40))]


def article_count() -> int:
    return db.session.scalar(select(func.count()).select_from(FaqArticle)) or 0
