"""Retro rules: templates, hidden cards, anonymity, dot budgets, action items, continuity, themes."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
# Labels that other modules also translate (Open, Done, Start ...) carry a message context so
# their Chinese stays right whatever catalogue loads last; the extractor knows the name pgettext.
from flask_babel import lazy_pgettext as pgettext
from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from rollout.access import subtree_ids
from rollout.accounts.models import Department, User
from rollout.audit.display import label_codes
from rollout.cleaning import character_pairs, pair_similarity
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.retros.models import (CLOSED, COLLECTING, DISCUSSING, DONE, DROPPED, IN_PROGRESS, MAX_VOTE_BUDGET, OPEN, UNFINISHED_ACTION_STATES, Retro, RetroActionItem,
                                   RetroCard, RetroCardGroup, RetroColumn, RetroVote, RetroWorkLink)
from rollout.timeutil import local_today, utcnow

CUSTOM = "custom"
#: Board templates: key → (name, column titles).
TEMPLATES = {
    "start_stop_continue": (_l("Start / Stop / Continue"), (
        pgettext("retro column", "Start"), pgettext("retro column", "Stop"), pgettext("retro column", "Continue"))),
    "four_ls": (_l("4Ls"), (pgettext("retro column", "Liked"), pgettext("retro column", "Learned"),
                            pgettext("retro column", "Lacked"), pgettext("retro column", "Longed for"))),
    "mad_sad_glad": (_l("Mad / Sad / Glad"), (
        pgettext("retro column", "Mad"), pgettext("retro column", "Sad"), pgettext("retro column", "Glad"))),
    "well_improve_ideas": (_l("Went well / To improve / Ideas"), (
        pgettext("retro column", "Went well"), pgettext("retro column", "To improve"),
        pgettext("retro column", "Ideas"))),
}
#: Message context of template column names (stored untranslated, shown translated).
COLUMN_CONTEXT = "retro column"
MAX_CUSTOM_COLUMNS = 6
MAX_CARD_LENGTH = 500

#: Retro state machine: (state, action) → new state.
RETRO_TRANSITIONS = {
    (COLLECTING, "reveal"): DISCUSSING,
    (DISCUSSING, "close"): CLOSED,
    (CLOSED, "reopen"): DISCUSSING,
}
RETRO_ACTION_LABELS = {"reveal": _l("Reveal cards"), "close": _l("Close retro"),
                       "reopen": pgettext("retro", "Reopen")}
RETRO_STATE_LABELS = {COLLECTING: _l("Collecting cards"), DISCUSSING: pgettext("retro state", "Discussing"),
                      CLOSED: pgettext("retro state", "Closed")}

#: Action item state machine: (state, action) → new state.
ACTION_TRANSITIONS = {
    (OPEN, "start"): IN_PROGRESS,
    (OPEN, "finish"): DONE,
    (OPEN, "drop"): DROPPED,
    (IN_PROGRESS, "finish"): DONE,
    (IN_PROGRESS, "drop"): DROPPED,
    (IN_PROGRESS, "pause"): OPEN,
    (DONE, "reopen"): OPEN,
    (DROPPED, "reopen"): OPEN,
}
ACTION_ACTION_LABELS = {"start": pgettext("action item", "Start"), "finish": _l("Mark done"),
                        "drop": pgettext("action item", "Drop"), "pause": _l("Back to open"),
                        "reopen": pgettext("action item", "Reopen")}
ACTION_STATE_LABELS = {OPEN: pgettext("action item state", "Open"),
                       IN_PROGRESS: pgettext("action item state", "In progress"),
                       DONE: pgettext("action item state", "Done"), DROPPED: pgettext("action item state", "Dropped")}
label_codes({("retros", "status"): RETRO_STATE_LABELS, ("retro_action_items", "status"): ACTION_STATE_LABELS,
             ("retros", "template"): {key: name for key, (name, _columns) in TEMPLATES.items()}})

#: How many retros a theme must appear in to count as recurring.
RECURRING_MIN_RETROS = 3
#: Two card texts whose character-pair overlap reaches this are "similar".
SIMILARITY_THRESHOLD = 0.5
THEME_LOOKBACK_WEEKS = 12


def msgid(lazy_text) -> str:
    """The untranslated text of a lazy_gettext string (column names are stored untranslated)."""
    return lazy_text._args[-1] if getattr(lazy_text, "_args", None) else str(lazy_text)


# --- retros -------------------------------------------------------------------
def next_held_on(team_id: int) -> date:
    """The default date of a team's next retro: a cadence after its last one, never in the past."""
    last = db.session.execute(select(Retro.held_on, Retro.cadence_days).where(Retro.team_id == team_id)
                              .order_by(Retro.held_on.desc(), Retro.id.desc()).limit(1)).first()
    today = local_today()
    if last is None:
        return today
    return max(today, last.held_on + timedelta(days=last.cadence_days))


def parse_custom_columns(text: str) -> list[str]:
    """One column title per line; blank lines ignored."""
    return [line.strip()[:80] for line in (text or "").splitlines() if line.strip()]


def create_retro(team: Department | None, title: str, held_on: date | None, template: str, facilitator: User,
                 custom_columns: list[str] | None = None, is_anonymous: bool = False, vote_budget: int = 3,
                 cadence_days: int = 7) -> Retro:
    """Create a retro with the columns of its template (or the custom ones)."""
    if team is None:
        raise ServiceError(_("Choose a team."), "team_id")
    title = (title or "").strip()
    if not title:
        raise ServiceError(_("A title is required."), "title")
    if held_on is None:
        raise ServiceError(_("A date is required."), "held_on")
    if db.session.scalar(select(Retro.id).where(Retro.team_id == team.id, Retro.held_on == held_on)):
        raise ServiceError(_("%(team)s already has a retro on %(date)s.", team=team.name, date=held_on), "held_on")
    if not 1 <= (vote_budget or 0) <= MAX_VOTE_BUDGET:
        raise ServiceError(_("The dot budget must be between 1 and %(max)s.", max=MAX_VOTE_BUDGET), "vote_budget")
    if not 1 <= (cadence_days or 0) <= 90:
        raise ServiceError(_("The interval must be between 1 and 90 days."), "cadence_days")
    if template == CUSTOM:
        titles = parse_custom_columns("\n".join(custom_columns or []))
        if not 1 <= len(titles) <= MAX_CUSTOM_COLUMNS:
            raise ServiceError(_("Give between 1 and %(max)s columns, one per line.", max=MAX_CUSTOM_COLUMNS),
                               "custom_columns")
        if len(set(titles)) != len(titles):
            raise ServiceError(_("Column titles must differ."), "custom_columns")
    elif template in TEMPLATES:
        titles = [msgid(t) for t in TEMPLATES[template][1]]
    else:
        raise ServiceError(_("Unknown template."), "template")
    retro = Retro(team_id=team.id, title=title[:200], held_on=held_on, template=template,
                  is_anonymous=bool(is_anonymous), vote_budget=vote_budget, cadence_days=cadence_days,
                  facilitator_id=facilitator.id, status=COLLECTING)
    retro.columns = [RetroColumn(position=i, title=t) for i, t in enumerate(titles, start=1)]
    db.session.add(retro)
    db.session.flush()
    if held_on >= local_today():  # a retro written down afterwards invites nobody
        _invite_team(retro)
    return retro


def _invite_team(retro: Retro) -> None:
    """Tell the team its retro is open for cards (Parabol's meeting invitation), the facilitator aside."""
    from rollout.notify.services import notify
    members = db.session.scalars(select(User).where(
        User.department_id.in_(sorted(subtree_ids(retro.team_id))), User.is_active_account.is_(True),
        User.id != retro.facilitator_id)).all()
    notify(members, "retros.opened", _l("%(team)s retro on %(date)s: add your cards", team=retro.team.name,
                                        date=retro.held_on.isoformat()),
           _l("%(title)s, facilitated by %(name)s.", title=retro.title, name=retro.facilitator.display_name),
           link=f"/retros/{retro.id}")


def schedule_next(retro: Retro, facilitator: User | None = None) -> Retro:
    """The team's next retro, a cadence after this one, with the same columns and rules."""
    held_on = retro.held_on + timedelta(days=retro.cadence_days)
    existing = db.session.scalar(select(Retro).where(Retro.team_id == retro.team_id, Retro.held_on == held_on))
    if existing is not None:
        raise ServiceError(_("The next retro of this team (%(date)s) already exists.", date=held_on))
    week = held_on.isocalendar()[1]
    titles = [column.title for column in retro.columns]
    template = retro.template if retro.template in TEMPLATES else CUSTOM
    return create_retro(retro.team, _("%(team)s retro, week %(week)d", team=retro.team.name, week=week), held_on,
                        template, facilitator or retro.facilitator, custom_columns=titles,
                        is_anonymous=retro.is_anonymous, vote_budget=retro.vote_budget,
                        cadence_days=retro.cadence_days)


def transition_retro(retro: Retro, action: str) -> Retro:
    """Apply one transition of the retro state machine, or refuse it whole."""
    target = RETRO_TRANSITIONS.get((retro.status, action))
    if target is None:
        raise NotAllowed(_("A retro that is “%(state)s” cannot do “%(action)s”.",
                           state=RETRO_STATE_LABELS.get(retro.status, retro.status),
                           action=RETRO_ACTION_LABELS.get(action, action)))
    retro.status = target
    if action == "reveal":
        retro.revealed_at = utcnow()
    elif action == "close":
        retro.closed_at = utcnow()
    elif action == "reopen":
        retro.closed_at = None
    db.session.flush()
    return retro


def save_notes(retro: Retro, notes: str) -> None:
    """Store the discussion notes (Markdown)."""
    if retro.status == CLOSED:
        raise NotAllowed(_("This retro is closed."))
    retro.notes_markdown = (notes or "").strip()[:20000]
    db.session.flush()


# --- cards --------------------------------------------------------------------
def normalise_tag(tag: str | None) -> str | None:
    tag = re.sub(r"\s+", " ", (tag or "").strip().lstrip("#")).lower()
    return tag[:40] or None


def add_card(retro: Retro, author: User, column_id: int | None, body: str, tag: str | None = None) -> int:
    """Add a card and return its id. In an anonymous retro the author is stored nowhere.

    Anonymous cards are written with a plain INSERT: an ORM insert would put the
    writer into the audit trail, which would undo the anonymity.
    """
    if retro.status == CLOSED:
        raise NotAllowed(_("This retro is closed; no more cards."))
    body = (body or "").strip()
    if not body:
        raise ServiceError(_("Write something on the card."), "body")
    if len(body) > MAX_CARD_LENGTH:
        raise ServiceError(_("A card holds at most %(max)s characters.", max=MAX_CARD_LENGTH), "body")
    column = db.session.get(RetroColumn, column_id) if column_id else None
    if column is None or column.retro_id != retro.id:
        raise ServiceError(_("Choose a column of this retro."), "column_id")
    values = {"retro_id": retro.id, "column_id": column.id, "body": body, "tag": normalise_tag(tag),
              "created_at": utcnow()}
    if retro.is_anonymous:
        # Rounded to the day so the time cannot be matched against anyone's activity.
        values["created_at"] = values["created_at"].replace(hour=0, minute=0, second=0, microsecond=0)
        result = db.session.execute(insert(RetroCard).values(**values))
        return result.inserted_primary_key[0]
    card = RetroCard(author_id=author.id, **values)
    db.session.add(card)
    db.session.flush()
    return card.id


def cards_of(retro: Retro) -> list[RetroCard]:
    return list(db.session.scalars(select(RetroCard).where(RetroCard.retro_id == retro.id)
                                   .options(db.joinedload(RetroCard.author), db.joinedload(RetroCard.group))
                                   .order_by(RetroCard.id)).unique())


def visible_cards(retro: Retro, viewer: User, own_card_ids=()) -> list[RetroCard]:
    """Cards the viewer may read: all once revealed; before that only their own.

    ``own_card_ids`` are anonymous cards this browser wrote (the server keeps no author for them).
    """
    cards = cards_of(retro)
    if retro.is_revealed:
        return cards
    own = set(own_card_ids)
    return [c for c in cards if c.id in own or (c.author_id is not None and c.author_id == viewer.id)]


def card_count(retro: Retro) -> int:
    return db.session.scalar(select(func.count()).select_from(RetroCard).where(RetroCard.retro_id == retro.id)) or 0


def delete_card(retro: Retro, card: RetroCard, user: User, is_facilitator: bool, own_card_ids=()) -> None:
    """The writer may withdraw a card before the reveal; the facilitator any time before closing."""
    if card.retro_id != retro.id:
        raise ServiceError(_("This card belongs to another retro."))
    if retro.status == CLOSED:
        raise NotAllowed(_("This retro is closed."))
    is_writer = card.id in set(own_card_ids) or (card.author_id is not None and card.author_id == user.id)
    if not (is_facilitator or (is_writer and retro.status == COLLECTING)):
        raise NotAllowed(_("Only the facilitator can remove cards after they are revealed."))
    if db.session.scalar(select(RetroWorkLink.id).where(RetroWorkLink.card_id == card.id).limit(1)):
        # Its link is how the work finds its way back to the team: the card stays with it.
        raise NotAllowed(_("This card became work (a change request, a question or an FAQ article): it stays."))
    if retro.is_anonymous and not is_facilitator:
        # An audited delete would name the writer next to the card's text: withdraw it quietly.
        db.session.expunge(card)
        db.session.execute(delete(RetroCard).where(RetroCard.id == card.id))
        return
    db.session.delete(card)
    db.session.flush()


def group_card(retro: Retro, card: RetroCard, group_title: str) -> RetroCardGroup | None:
    """Put a card into the group of that title (created when new); an empty title ungroups it."""
    if card.retro_id != retro.id:
        raise ServiceError(_("This card belongs to another retro."))
    if retro.status != DISCUSSING:
        raise NotAllowed(_("Cards can be grouped once they are revealed and until the retro closes."))
    title = (group_title or "").strip()[:120]
    if not title:
        card.group_id = None
        db.session.flush()
        return None
    group = db.session.scalar(select(RetroCardGroup).where(RetroCardGroup.retro_id == retro.id,
                                                           RetroCardGroup.title == title))
    if group is None:
        group = RetroCardGroup(retro_id=retro.id, title=title)
        db.session.add(group)
        db.session.flush()
    card.group_id = group.id
    db.session.flush()
    return group


# --- dot voting -----------------------------------------------------------------
def votes_used(retro: Retro, voter: User) -> int:
    return db.session.scalar(select(func.count()).select_from(RetroVote).where(
        RetroVote.retro_id == retro.id, RetroVote.voter_id == voter.id)) or 0


def cast_vote(retro: Retro, card: RetroCard, voter: User) -> RetroVote:
    """Place one dot on a card, within the voter's budget.

    Each dot takes a numbered slot 1..budget, unique per voter and retro in
    the database: two votes racing for the last dot cannot both be stored.
    """
    if card.retro_id != retro.id:
        raise ServiceError(_("This card belongs to another retro."))
    if retro.status != DISCUSSING:
        raise NotAllowed(_("Voting is open while the retro is being discussed."))
    for _attempt in range(3):
        taken = set(db.session.scalars(select(RetroVote.slot).where(
            RetroVote.retro_id == retro.id, RetroVote.voter_id == voter.id)))
        free = [slot for slot in range(1, retro.vote_budget + 1) if slot not in taken]
        if not free:
            raise ServiceError(ngettext("You have used your %(num)d dot.", "You have used all %(num)d of your dots.",
                                        retro.vote_budget))
        vote = RetroVote(retro_id=retro.id, card_id=card.id, voter_id=voter.id, slot=free[0])
        try:
            with db.session.begin_nested():
                db.session.add(vote)
        except IntegrityError:
            continue  # another request took that slot a moment ago: look again
        return vote
    raise ServiceError(_("Your vote could not be stored; please try again."))


def remove_vote(retro: Retro, card: RetroCard, voter: User) -> None:
    """Take back one of the voter's dots from a card."""
    if retro.status != DISCUSSING:
        raise NotAllowed(_("Voting is open while the retro is being discussed."))
    vote = db.session.scalar(select(RetroVote).where(RetroVote.card_id == card.id, RetroVote.voter_id == voter.id)
                             .order_by(RetroVote.slot.desc()).limit(1))
    if vote is None:
        raise ServiceError(_("You have no dot on this card."))
    db.session.delete(vote)
    db.session.flush()


def vote_counts(retro: Retro, voter: User) -> tuple[dict[int, int], dict[int, int]]:
    """(dots per card, the voter's own dots per card) in one statement."""
    rows = db.session.execute(
        select(RetroVote.card_id, func.count(), func.sum(case((RetroVote.voter_id == voter.id, 1), else_=0)))
        .where(RetroVote.retro_id == retro.id).group_by(RetroVote.card_id)).all()
    return {r[0]: r[1] for r in rows}, {r[0]: int(r[2] or 0) for r in rows}


# --- action items -----------------------------------------------------------------
def _checked_action_fields(retro: Retro, title: str, owner_id: int | None,
                           due_on: date | None) -> tuple[str, User | None]:
    """The action item's title and owner, once its fields pass the rules; else a ServiceError at the field."""
    title = (title or "").strip()
    if not title:
        raise ServiceError(_("Say what will be done."), "title")
    if len(title) > 300:
        raise ServiceError(_("At most %(max)d characters.", max=300), "title")
    owner = db.session.get(User, owner_id) if owner_id else None
    if owner_id and (owner is None or not owner.is_active_account):
        raise ServiceError(_("Choose an active owner."), "owner_id")
    if due_on is not None and due_on < retro.held_on:
        raise ServiceError(_("The due date cannot be before the retro."), "due_on")
    return title, owner


def _tell_owner(item: RetroActionItem, actor: User | None) -> None:
    """Tell the owner what they took on and by when, unless they wrote it down themselves."""
    if item.owner_id is None or (actor is not None and item.owner_id == actor.id):
        return
    from rollout.notify.services import notify
    retro = item.retro
    body = (_l("Agreed at the retro of %(day)s; due %(due)s.", day=retro.held_on.isoformat(),
               due=item.due_on.isoformat()) if item.due_on else
            _l("Agreed at the retro of %(day)s.", day=retro.held_on.isoformat()))
    notify([db.session.get(User, item.owner_id)], "retros.action_assigned",
           _l("Action item for you: %(title)s", title=item.title), body, link=f"/retros/{retro.id}#actions")


def add_action_item(retro: Retro, title: str, owner_id: int | None, due_on: date | None,
                    card_id: int | None = None, actor: User | None = None) -> RetroActionItem:
    """Record an agreed action with its owner and due date; the owner is told, unless they added it."""
    if retro.status == CLOSED:
        raise NotAllowed(_("This retro is closed."))
    title, owner = _checked_action_fields(retro, title, owner_id, due_on)
    card = db.session.get(RetroCard, card_id) if card_id else None
    if card_id and (card is None or card.retro_id != retro.id):
        raise ServiceError(_("This card belongs to another retro."), "card_id")
    item = RetroActionItem(retro_id=retro.id, team_id=retro.team_id, title=title,
                           owner_id=owner.id if owner else None, due_on=due_on, card_id=card.id if card else None,
                           status=OPEN)
    db.session.add(item)
    db.session.flush()
    _tell_owner(item, actor)
    return item


def update_action_item(item: RetroActionItem, title: str, owner_id: int | None, due_on: date | None,
                       actor: User | None = None) -> RetroActionItem:
    """Change what an unfinished action item says, who owns it or when it is due (it outlives its retro);
    a new owner is told."""
    if item.status not in UNFINISHED_ACTION_STATES:
        raise NotAllowed(_("A finished action item is kept as it was."))
    title, owner = _checked_action_fields(item.retro, title, owner_id, due_on)
    previous = item.owner
    changes_hands = (owner.id if owner else None) != item.owner_id
    if due_on != item.due_on:
        item.reminded_on = None  # a new due date gets its own reminder
    item.title, item.owner_id, item.due_on = title, owner.id if owner else None, due_on
    db.session.flush()
    if changes_hands:
        _tell_owner(item, actor)
        if previous is not None and previous.is_active_account and (actor is None or previous.id != actor.id):
            from rollout.notify.services import notify
            notify([previous], "retros.action_reassigned",
                   _l("Action item no longer yours: %(title)s", title=item.title),
                   _l("Now owned by %(name)s.", name=owner.display_name) if owner else "",
                   link=f"/retros/{item.retro_id}#actions")
    return item


def open_action_items_for(user: User, limit: int = 10) -> list[RetroActionItem]:
    """The unfinished action items ``user`` owns, soonest due first (for their home page)."""
    return list(db.session.scalars(
        select(RetroActionItem).where(RetroActionItem.owner_id == user.id,
                                      RetroActionItem.status.in_(UNFINISHED_ACTION_STATES))
        .options(db.joinedload(RetroActionItem.retro))
        .order_by(RetroActionItem.due_on.is_(None), RetroActionItem.due_on, RetroActionItem.id).limit(limit)))


def transition_action_item(item: RetroActionItem, action: str, actor: User | None = None) -> RetroActionItem:
    """Apply one transition of the action item state machine, or refuse it whole; its owner hears when
    someone else finished or dropped it."""
    target = ACTION_TRANSITIONS.get((item.status, action))
    if target is None:
        raise NotAllowed(_("An action item that is “%(state)s” cannot do “%(action)s”.",
                           state=ACTION_STATE_LABELS.get(item.status, item.status),
                           action=ACTION_ACTION_LABELS.get(action, action)))
    item.status = target
    item.done_at = utcnow() if target == DONE else None
    db.session.flush()
    owner = item.owner
    if (actor is not None and owner is not None and owner.id != actor.id and owner.is_active_account
            and target not in UNFINISHED_ACTION_STATES):
        from rollout.notify.services import notify
        notify([owner], "retros.action_closed",
               _l("Your action item is %(state)s: %(title)s", state=ACTION_STATE_LABELS.get(target, target),
                  title=item.title),
               _l("Marked by %(name)s.", name=actor.display_name), link=f"/retros/{item.retro_id}#actions")
    return item


#: An overdue item's owner is reminded again after this many days while it stays open.
OVERDUE_REMINDER_DAYS = 7


def remind_action_items(today: date | None = None) -> int:
    """Tell owners of unfinished action items due tomorrow or today, once; then, once the date has
    passed, the day after and weekly while overdue. Returns how many reminders were sent (run daily)."""
    from rollout.notify.services import notify
    today = today or local_today()
    items = db.session.scalars(
        select(RetroActionItem).join(User, User.id == RetroActionItem.owner_id)
        .where(RetroActionItem.status.in_(UNFINISHED_ACTION_STATES), RetroActionItem.due_on <= today + timedelta(days=1),
               User.is_active_account.is_(True))
        .options(db.joinedload(RetroActionItem.owner), db.joinedload(RetroActionItem.retro))
        .order_by(RetroActionItem.id)).all()
    sent = 0
    for item in items:
        last = item.reminded_on
        if item.due_on >= today:
            if last is not None:
                continue  # told already that it is coming up
            subject = (_l("Action item due today: %(title)s", title=item.title) if item.due_on == today else
                       _l("Action item due tomorrow: %(title)s", title=item.title))
        else:
            if last is not None and last > item.due_on and last > today - timedelta(days=OVERDUE_REMINDER_DAYS):
                continue
            subject = _l("Action item overdue since %(day)s: %(title)s", day=item.due_on.isoformat(),
                         title=item.title)
        notify([item.owner], "retros.action_due", subject,
               _l("Agreed at the retro of %(day)s. Mark it done or dropped on the retro's page, or change "
                  "its due date.", day=item.retro.held_on.isoformat()), link=f"/retros/{item.retro_id}#actions")
        item.reminded_on = today
        sent += 1
    db.session.flush()
    return sent


def allowed_item_actions(item: RetroActionItem) -> list[str]:
    return [action for (state, action) in ACTION_TRANSITIONS if state == item.status]


def action_items_of(retro: Retro) -> list[RetroActionItem]:
    return list(db.session.scalars(select(RetroActionItem).where(RetroActionItem.retro_id == retro.id)
                                   .options(db.joinedload(RetroActionItem.owner)).order_by(RetroActionItem.id)))


def previous_retro(retro: Retro) -> Retro | None:
    return db.session.scalar(select(Retro).where(
        Retro.team_id == retro.team_id,
        (Retro.held_on < retro.held_on) | ((Retro.held_on == retro.held_on) & (Retro.id < retro.id)))
        .order_by(Retro.held_on.desc(), Retro.id.desc()).limit(1))


def carried_over_items(retro: Retro) -> list[RetroActionItem]:
    """Unfinished action items of the team's earlier retros: what this retro opens with."""
    earlier = select(Retro.id).where(
        Retro.team_id == retro.team_id,
        (Retro.held_on < retro.held_on) | ((Retro.held_on == retro.held_on) & (Retro.id < retro.id)))
    return list(db.session.scalars(
        select(RetroActionItem).where(RetroActionItem.team_id == retro.team_id,
                                      RetroActionItem.status.in_(UNFINISHED_ACTION_STATES),
                                      RetroActionItem.retro_id.in_(earlier))
        .options(db.joinedload(RetroActionItem.owner), db.joinedload(RetroActionItem.retro))
        .order_by(RetroActionItem.due_on.is_(None), RetroActionItem.due_on, RetroActionItem.id)))


@dataclass
class DoneRate:
    retro_id: int
    held_on: date
    title: str
    total: int
    done: int

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.done / self.total, 1) if self.total else None


def done_rates(team_id: int, limit: int = 12) -> list[DoneRate]:
    """Per retro of the team (oldest first): its action items and how many are done. One statement."""
    rows = db.session.execute(
        select(Retro.id, Retro.held_on, Retro.title, func.count(RetroActionItem.id),
               func.coalesce(func.sum(case((RetroActionItem.status == DONE, 1), else_=0)), 0))
        .outerjoin(RetroActionItem, RetroActionItem.retro_id == Retro.id)
        .where(Retro.team_id == team_id).group_by(Retro.id, Retro.held_on, Retro.title)
        .order_by(Retro.held_on.desc(), Retro.id.desc()).limit(limit)).all()
    return [DoneRate(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in reversed(rows)]


def done_rate_chart(team_name: str, rates: list[DoneRate]):
    from rollout.reports.charts import svg_chart
    return svg_chart("line", _("Action items done, per retro (%%) — %(team)s", team=team_name),
                     [r.held_on.strftime("%m-%d") for r in rates],
                     {_("Done rate"): [r.percent for r in rates]}, range=(0, 100), height=300)


# --- recurring themes ---------------------------------------------------------------
@dataclass
class Theme:
    label: str
    kind: str  # "tag" or "text"
    card_ids: list[int] = field(default_factory=list)
    retro_ids: set[int] = field(default_factory=set)
    bodies: list[str] = field(default_factory=list)

    @property
    def retro_count(self) -> int:
        return len(self.retro_ids)


def recurring_themes(team_id: int, today: date | None = None, min_retros: int = RECURRING_MIN_RETROS) -> list[Theme]:
    """Tags or similar card texts that came up in ``min_retros`` or more of the team's recent retros."""
    since = (today or local_today()) - timedelta(weeks=THEME_LOOKBACK_WEEKS)
    rows = db.session.execute(
        select(RetroCard.id, RetroCard.retro_id, RetroCard.body, RetroCard.tag).join(Retro)
        .where(Retro.team_id == team_id, Retro.held_on >= since).order_by(Retro.held_on, RetroCard.id)).all()
    themes: list[Theme] = []
    by_tag: dict[str, Theme] = {}
    for card_id, retro_id, body, tag in rows:
        if tag:
            theme = by_tag.setdefault(tag, Theme(label=f"#{tag}", kind="tag"))
            theme.card_ids.append(card_id)
            theme.retro_ids.add(retro_id)
            theme.bodies.append(body)
    # Similar texts: each card joins the first cluster whose seed text it resembles.
    clusters: list[tuple[set[str], Theme]] = []
    for card_id, retro_id, body, _tag in rows:
        pairs = character_pairs(body)
        for seed, theme in clusters:
            if pair_similarity(pairs, seed) >= SIMILARITY_THRESHOLD:
                break
        else:
            theme = Theme(label=body[:60], kind="text")
            clusters.append((pairs, theme))
        theme.card_ids.append(card_id)
        theme.retro_ids.add(retro_id)
        theme.bodies.append(body)
    themes = [t for t in by_tag.values() if t.retro_count >= min_retros]
    tagged_cards = {cid for t in themes for cid in t.card_ids}
    for _seed, theme in clusters:
        # A text cluster already covered by a recurring tag is the same theme: show it once.
        if theme.retro_count >= min_retros and not set(theme.card_ids) <= tagged_cards:
            themes.append(theme)
    return sorted(themes, key=lambda t: (-t.retro_count, t.label))


# --- lists and summaries ---------------------------------------------------------------
def teams_with_retros(department_ids=None) -> list[Department]:
    query = select(Department).where(Department.id.in_(select(Retro.team_id).distinct())).order_by(Department.name)
    if department_ids is not None:
        query = query.where(Department.id.in_(list(department_ids) or [-1]))
    return list(db.session.scalars(query))


def last_retro_on_by_team() -> dict[int, date]:
    """The date of each team's most recent retro (not in the future). One statement."""
    rows = db.session.execute(select(Retro.team_id, func.max(Retro.held_on))
                              .where(Retro.held_on <= local_today()).group_by(Retro.team_id)).all()
    return {team_id: held_on for team_id, held_on in rows}


def links_of(card_ids=(), action_item_ids=()) -> list[RetroWorkLink]:
    conditions = []
    if card_ids:
        conditions.append(RetroWorkLink.card_id.in_(list(card_ids)))
    if action_item_ids:
        conditions.append(RetroWorkLink.action_item_id.in_(list(action_item_ids)))
    if not conditions:
        return []
    from sqlalchemy import or_
    return list(db.session.scalars(select(RetroWorkLink).where(or_(*conditions)).order_by(RetroWorkLink.id)))


def links_for_change_request(change_request_id: int) -> list[RetroWorkLink]:
    """Retro cards/action items a change request came from (for the change request's page)."""
    return list(db.session.scalars(select(RetroWorkLink).where(
        RetroWorkLink.change_request_id == change_request_id)))


def links_for_faq_article(article_id: int) -> list[RetroWorkLink]:
    """Retro cards/action items an FAQ article came from."""
    return list(db.session.scalars(select(RetroWorkLink).where(RetroWorkLink.faq_article_id == article_id)))


def state_label(status: str) -> str:
    return str(RETRO_STATE_LABELS.get(status, status))


def action_state_label(status: str) -> str:
    return str(ACTION_STATE_LABELS.get(status, status))

