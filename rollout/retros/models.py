"""Retrospectives: a retro per team and week, its columns, cards, votes and action items."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollout.accounts.models import Department, User
from rollout.database import one_of
from rollout.extensions import db
from rollout.timeutil import utcnow

#: Retro states: cards are collected hidden, then revealed for discussion, then the retro closes.
COLLECTING = "collecting"
DISCUSSING = "discussing"
CLOSED = "closed"
RETRO_STATES = (COLLECTING, DISCUSSING, CLOSED)

#: Action item states.
OPEN = "open"
IN_PROGRESS = "in_progress"
DONE = "done"
DROPPED = "dropped"
ACTION_STATES = (OPEN, IN_PROGRESS, DONE, DROPPED)
UNFINISHED_ACTION_STATES = (OPEN, IN_PROGRESS)

#: The most dots anyone may get in one retro; slots are numbered 1..budget.
MAX_VOTE_BUDGET = 20


class Retro(db.Model):
    """One retrospective meeting of a team."""

    __tablename__ = "retros"
    __table_args__ = (
        CheckConstraint(one_of("status", (COLLECTING, DISCUSSING, CLOSED)), name="ck_retros_status"),
        CheckConstraint(f"vote_budget >= 1 AND vote_budget <= {MAX_VOTE_BUDGET}", name="ck_retros_vote_budget"),
        CheckConstraint("cadence_days >= 1", name="ck_retros_cadence"),
        Index("ix_retros_team_held", "team_id", "held_on"),
        Index("ix_retros_held", "held_on"),
    )
    __field_labels__ = {"cadence_days": _l("Cadence (days)"), "template": _l("Template"),
                        "is_anonymous": _l("Anonymous"), "vote_budget": _l("Dots per person"),
                        "revealed_at": _l("Revealed at")}

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The team (or department) holding the retro.
    team_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    title: Mapped[str] = mapped_column(String(200))
    #: Day of the meeting.
    held_on: Mapped[date] = mapped_column(Date)
    #: Days until the next retro of the team (weekly by default).
    cadence_days: Mapped[int] = mapped_column(Integer, default=7)
    #: Template key (start_stop_continue, four_ls, mad_sad_glad, well_improve_ideas) or custom.
    template: Mapped[str] = mapped_column(String(40))
    #: Anonymous retros never store who wrote a card.
    is_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Dots each participant may place.
    vote_budget: Mapped[int] = mapped_column(Integer, default=3)
    status: Mapped[str] = mapped_column(String(20), default=COLLECTING)
    facilitator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: Discussion notes (Markdown).
    notes_markdown: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revealed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)

    team: Mapped[Department] = relationship()
    facilitator: Mapped[User] = relationship()
    columns: Mapped[list[RetroColumn]] = relationship(back_populates="retro", order_by="RetroColumn.position",
                                                      cascade="all, delete-orphan")

    @property
    def department_id(self) -> int:
        return self.team_id

    @property
    def is_revealed(self) -> bool:
        return self.status != COLLECTING

    def __str__(self) -> str:
        return self.title


class RetroColumn(db.Model):
    """A column of the board (Start, Stop, Continue, ...)."""

    __tablename__ = "retro_columns"
    __entity_label__ = _l("Retro column")
    __table_args__ = (UniqueConstraint("retro_id", "position"),)
    __field_labels__ = {"retro_id": _l("Retro")}

    id: Mapped[int] = mapped_column(primary_key=True)
    retro_id: Mapped[int] = mapped_column(ForeignKey("retros.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(80))

    retro: Mapped[Retro] = relationship(back_populates="columns")

    @property
    def display_title(self) -> str:
        """Template columns are stored by their English name and shown in the reader's language."""
        from flask_babel import pgettext
        return pgettext("retro column", self.title) if self.title else self.title


class RetroCardGroup(db.Model):
    """Cards the facilitator put together because they say the same thing."""

    __tablename__ = "retro_card_groups"
    __entity_label__ = _l("Retro card group")
    __table_args__ = (UniqueConstraint("retro_id", "title"),)
    __field_labels__ = {"retro_id": _l("Retro")}

    id: Mapped[int] = mapped_column(primary_key=True)
    retro_id: Mapped[int] = mapped_column(ForeignKey("retros.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(120))


class RetroCard(db.Model):
    """One piece of feedback. In anonymous retros ``author_id`` is always NULL."""

    __tablename__ = "retro_cards"
    __entity_label__ = _l("Retro card")
    __table_args__ = (
        CheckConstraint("length(body) > 0", name="ck_retro_cards_body"),
        Index("ix_retro_cards_retro", "retro_id", "column_id"),
        Index("ix_retro_cards_tag", "tag"),
        # Writers of anonymous cards are recognised by card id in their own session: ids must never be reused.
        {"sqlite_autoincrement": True},
    )
    __field_labels__ = {"retro_id": _l("Retro"), "column_id": _l("Column"), "body": _l("Text"),
                        "group_id": _l("Group")}

    id: Mapped[int] = mapped_column(primary_key=True)
    retro_id: Mapped[int] = mapped_column(ForeignKey("retros.id", ondelete="CASCADE"))
    column_id: Mapped[int] = mapped_column(ForeignKey("retro_columns.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(String(500))
    #: Short topic label (lower case) used to spot recurring themes.
    tag: Mapped[str | None] = mapped_column(String(40))
    #: Who wrote it; never set when the retro is anonymous.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("retro_card_groups.id", ondelete="SET NULL"),
                                                 index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    retro: Mapped[Retro] = relationship()
    column: Mapped[RetroColumn] = relationship()
    author: Mapped[User | None] = relationship()
    group: Mapped[RetroCardGroup | None] = relationship()

    @property
    def access_department_id(self) -> int:
        return self.retro.team_id

    @property
    def access_owner_id(self) -> int | None:
        return self.author_id


class RetroVote(db.Model):
    """One dot. ``slot`` numbers a voter's dots 1..budget; the unique constraint makes the
    budget hold even when two votes arrive at the same moment."""

    __tablename__ = "retro_votes"
    __entity_label__ = _l("Retro vote")
    __table_args__ = (
        UniqueConstraint("retro_id", "voter_id", "slot", name="uq_retro_votes_slot"),
        CheckConstraint(f"slot >= 1 AND slot <= {MAX_VOTE_BUDGET}", name="ck_retro_votes_slot"),
        Index("ix_retro_votes_card", "card_id"),
    )
    __field_labels__ = {"retro_id": _l("Retro"), "card_id": _l("Card"), "voter_id": _l("Voter"),
                        "slot": _l("Dot number")}

    id: Mapped[int] = mapped_column(primary_key=True)
    retro_id: Mapped[int] = mapped_column(ForeignKey("retros.id", ondelete="CASCADE"))
    card_id: Mapped[int] = mapped_column(ForeignKey("retro_cards.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    slot: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RetroActionItem(db.Model):
    """Something the team agreed to do, with an owner, a due date and a status."""

    __tablename__ = "retro_action_items"
    __entity_label__ = _l("Action item")
    __table_args__ = (
        CheckConstraint(one_of("status", (OPEN, IN_PROGRESS, DONE, DROPPED)),
                        name="ck_retro_action_items_status"),
        CheckConstraint("length(title) > 0", name="ck_retro_action_items_title"),
        Index("ix_retro_action_items_team_status", "team_id", "status"),
        Index("ix_retro_action_items_retro", "retro_id"),
    )
    __field_labels__ = {"retro_id": _l("Retro"), "card_id": _l("From card"), "done_at": _l("Done at"),
                        "reminded_on": _l("Reminded on")}
    #: The reminder job's bookkeeping is not a change anyone made.
    __audit_skip__ = ("reminded_on",)

    id: Mapped[int] = mapped_column(primary_key=True)
    retro_id: Mapped[int] = mapped_column(ForeignKey("retros.id", ondelete="CASCADE"))
    #: Copied from the retro so done rates and carry-over per team are one indexed query.
    team_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    #: The card it came from, if any.
    card_id: Mapped[int | None] = mapped_column(ForeignKey("retro_cards.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=OPEN)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: When its owner was last reminded of the due date (``services.remind_action_items``).
    reminded_on: Mapped[date | None] = mapped_column(Date)

    retro: Mapped[Retro] = relationship()
    owner: Mapped[User | None] = relationship()
    card: Mapped[RetroCard | None] = relationship()

    @property
    def department_id(self) -> int:
        return self.team_id

    @property
    def is_unfinished(self) -> bool:
        return self.status in UNFINISHED_ACTION_STATES


#: A link leads to exactly one piece of work.
ONE_TARGET = ("(change_request_id IS NOT NULL AND faq_article_id IS NULL AND support_request_id IS NULL)"
              " OR (change_request_id IS NULL AND faq_article_id IS NOT NULL AND support_request_id IS NULL)"
              " OR (change_request_id IS NULL AND faq_article_id IS NULL AND support_request_id IS NOT NULL)")


class RetroWorkLink(db.Model):
    """A card or action item that became a change request, an FAQ article or a question to the support desk.

    Retros depend on changes and training, so the link lives here; the other
    side finds its source through ``links_for_change_request``/``links_for_faq_article``.
    """

    __tablename__ = "retro_work_links"
    __entity_label__ = _l("Action item link")
    __table_args__ = (
        CheckConstraint("(card_id IS NULL) <> (action_item_id IS NULL)", name="ck_retro_work_links_source"),
        CheckConstraint(ONE_TARGET, name="ck_retro_work_links_target"),
        Index("ix_retro_work_links_change", "change_request_id"),
        Index("ix_retro_work_links_faq", "faq_article_id"),
        Index("ix_retro_work_links_support", "support_request_id"),
    )
    __field_labels__ = {"card_id": _l("Card"), "action_item_id": _l("Action item"),
                        "change_request_id": _l("Change request"), "faq_article_id": _l("FAQ article"),
                        "support_request_id": _l("Support request")}

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("retro_cards.id", ondelete="CASCADE"), index=True)
    action_item_id: Mapped[int | None] = mapped_column(ForeignKey("retro_action_items.id", ondelete="CASCADE"),
                                                       index=True)
    #: Id of the change request (changes package).
    change_request_id: Mapped[int | None] = mapped_column(Integer)
    #: Id of the FAQ article (training package).
    faq_article_id: Mapped[int | None] = mapped_column(Integer)
    #: Id of the question asked at the support desk (training package); its answer may become an article.
    support_request_id: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
