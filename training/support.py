"""Seed users (种子用户) and support requests: first to the department's seed user, then the rollout team;
after the first answer a conversation until the requester marks the request solved."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from rollout.accounts.models import User, UserRole
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.timeutil import utcnow
from training.models import (FAQ_MODULES, SUPPORT_ANSWERED, SUPPORT_ESCALATED, SUPPORT_OPEN, SUPPORT_SOLVED,
                             SUPPORT_WAITING, FaqArticle, SupportReply, SupportRequest)
from training.services import DepartmentTree, seeds_needed

#: (status, action) → new status of a support request.
SUPPORT_TRANSITIONS = {
    (SUPPORT_OPEN, "answer"): SUPPORT_ANSWERED,
    (SUPPORT_OPEN, "escalate"): SUPPORT_ESCALATED,
    (SUPPORT_ESCALATED, "answer"): SUPPORT_ANSWERED,
    # The requester's reply after an answer: back to whoever it waited with before (see reopen_action).
    (SUPPORT_ANSWERED, "reopen"): SUPPORT_OPEN,
    (SUPPORT_ANSWERED, "reopen_escalated"): SUPPORT_ESCALATED,
    (SUPPORT_SOLVED, "reopen"): SUPPORT_OPEN,
    (SUPPORT_SOLVED, "reopen_escalated"): SUPPORT_ESCALATED,
    # Only the requester says it is solved, with or without an answer (they may have found it themselves).
    (SUPPORT_OPEN, "solve"): SUPPORT_SOLVED,
    (SUPPORT_ESCALATED, "solve"): SUPPORT_SOLVED,
    (SUPPORT_ANSWERED, "solve"): SUPPORT_SOLVED,
}


def apply_transition(request: SupportRequest, action: str, now: datetime | None = None) -> SupportRequest:
    """Move a support request along SUPPORT_TRANSITIONS or refuse without changing anything."""
    target = SUPPORT_TRANSITIONS.get((request.status, action))
    if target is None:
        raise NotAllowed(_("This request is %(status)s and cannot be changed that way (%(action)s).",
                           status=request.status, action=action))
    now = now or utcnow()
    request.status = target
    if action == "escalate":
        request.escalated_at = now
    elif action == "answer" and request.answered_at is None:
        # The first answer's time stays: it is the seed user's response time.
        request.answered_at = now
    elif action.startswith("reopen"):
        request.reopened_at, request.solved_at = now, None
    elif action == "solve":
        request.solved_at = now
    return request


def reopen_action(request: SupportRequest) -> str:
    """A reopened request waits again with the rollout team once it has been escalated, else with its seed user."""
    return "reopen_escalated" if request.escalated_at is not None else "reopen"


# --- seed users ---------------------------------------------------------------------------
def seed_user_for(user: User, tree: DepartmentTree | None = None, department_id: int | None = None) -> User | None:
    """The seed user a person turns to: one in their own team first, else one in their department.

    ``department_id`` asks on behalf of another team (a question raised in that team's retro)."""
    department_id = department_id or user.department_id
    if department_id is None:
        return None
    tree = tree or DepartmentTree()
    home = tree.home(department_id)
    candidates = db.session.scalars(select(User).where(
        User.department_id.in_(sorted(tree.subtree(home))), User.is_seed_user.is_(True),
        User.is_active_account.is_(True), User.id != user.id).order_by(User.id)).all()
    same_team = [c for c in candidates if c.department_id == department_id]
    return (same_team or list(candidates) or [None])[0]


#: Why a question goes where it goes; the support page and the overview say it in words.
ROUTE_SEED_USER = "seed_user"  # the requester's seed user first, then the rollout team
ROUTE_OTHER_SEED_USER = "other_seed_user"  # the requester is a seed user: another one of the department first
ROUTE_ONLY_SEED_USER = "only_seed_user"  # the requester is the department's only seed user: the rollout team
ROUTE_NO_SEED_USER = "no_seed_user"  # the department has none: the rollout team
ROUTE_NO_DEPARTMENT = "no_department"  # the rollout team

#: Why a question went straight to the rollout team, as the team's notification says it.
STRAIGHT_TO_TEAM = {
    ROUTE_ONLY_SEED_USER: _l("The requester is the only seed user of the department."),
    ROUTE_NO_SEED_USER: _l("The department has no seed user."),
    ROUTE_NO_DEPARTMENT: _l("The requester belongs to no department."),
}


@dataclass
class Route:
    """Where a person's question goes: to ``seed_user`` first (None: straight to the rollout team), and why."""
    seed_user: User | None
    reason: str


def route_for(user: User, tree: DepartmentTree | None = None, department_id: int | None = None) -> Route:
    """The route create_request gives ``user``'s questions (a seed user never gets their own), asked in
    their own department or in ``department_id``."""
    seed = seed_user_for(user, tree, department_id)
    if (department_id or user.department_id) is None:
        return Route(None, ROUTE_NO_DEPARTMENT)
    if user.is_seed_user:
        return Route(seed, ROUTE_OTHER_SEED_USER if seed else ROUTE_ONLY_SEED_USER)
    return Route(seed, ROUTE_SEED_USER if seed else ROUTE_NO_SEED_USER)


@dataclass
class Coverage:
    department: object
    staff: int
    seed_users: list[User]

    @property
    def needed(self) -> int:
        return seeds_needed(self.staff)

    @property
    def is_ok(self) -> bool:
        return len(self.seed_users) >= self.needed


def coverage_by_department(department_ids: set[int] | None = None) -> list[Coverage]:
    """Seed users and staff per department (with its teams): staff counted in the database, only the
    seed users loaded (a company has thousands of staff and a handful of seed users)."""
    tree = DepartmentTree()
    staff_by_home: dict[int, int] = defaultdict(int)
    for department_id, count in db.session.execute(
            select(User.department_id, func.count(func.distinct(User.id))).join(UserRole)
            .where(User.is_active_account.is_(True), User.department_id.is_not(None), UserRole.role == "staff")
            .group_by(User.department_id)):
        staff_by_home[tree.home(department_id)] += count
    seeds_by_home: dict[int, list[User]] = defaultdict(list)
    for user in db.session.scalars(select(User).where(User.is_active_account.is_(True), User.is_seed_user.is_(True),
                                                      User.department_id.is_not(None)).order_by(User.display_name)):
        seeds_by_home[tree.home(user.department_id)].append(user)
    return [Coverage(department=row, staff=staff_by_home[row.id], seed_users=seeds_by_home[row.id])
            for row in tree.departments() if department_ids is None or row.id in department_ids]


def set_seed_user(user: User, is_seed: bool) -> None:
    """Name (or un-name) a seed user."""
    if is_seed and user.department_id is None:
        raise ServiceError(_("A seed user must belong to a department."))
    if is_seed and not user.is_active_account:
        raise ServiceError(_("An inactive account cannot be a seed user."))
    user.is_seed_user = bool(is_seed)
    db.session.flush()


@dataclass
class SeedStats:
    """A seed user's requests. ``assigned`` is split by current state (each request counted once):
    ``open`` + ``escalated`` + ``answered_waiting`` + ``solved`` == ``assigned``. ``answered`` (those
    the seed user answered themselves, whatever their state now) gives the response time."""
    seed_user: User
    assigned: int = 0
    #: Open: waiting for the seed user (new, or opened again by a reply).
    open: int = 0
    #: Escalated: waiting for the rollout team.
    escalated: int = 0
    #: Answered (by the seed user or the rollout team), waiting for the asker to confirm.
    answered_waiting: int = 0
    solved: int = 0
    answered: int = 0
    total_hours: float = 0.0

    @property
    def average_hours(self) -> float | None:
        return round(self.total_hours / self.answered, 1) if self.answered else None


def seed_user_stats(department_ids: set[int] | None = None) -> list[SeedStats]:
    """Per seed user: requests received, split by their current state, how many the seed user answered
    themselves, and the mean time to that answer."""
    query = select(SupportRequest).where(SupportRequest.seed_user_id.is_not(None)).options(
        db.joinedload(SupportRequest.seed_user))
    if department_ids is not None:
        query = query.where(SupportRequest.department_id.in_(sorted(department_ids) or [-1]))
    stats: dict[int, SeedStats] = {}
    state_field = {SUPPORT_OPEN: "open", SUPPORT_ESCALATED: "escalated", SUPPORT_ANSWERED: "answered_waiting",
                   SUPPORT_SOLVED: "solved"}
    for request in db.session.scalars(query):
        item = stats.setdefault(request.seed_user_id, SeedStats(seed_user=request.seed_user))
        item.assigned += 1
        field_name = state_field[request.status]
        setattr(item, field_name, getattr(item, field_name) + 1)
        if request.answered_by_id == request.seed_user_id and request.answered_at is not None:
            item.answered += 1
            item.total_hours += (request.answered_at - request.created_at).total_seconds() / 3600
    return sorted(stats.values(), key=lambda s: s.seed_user.display_name)


# --- support requests ------------------------------------------------------------------------
def _rollout_team() -> list[User]:
    from rollout.accounts.services import users_with_roles
    return users_with_roles(["lead"])


def _link(request: SupportRequest) -> str:
    return f"/training/support/{request.id}"


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL characters; they never carry meaning in a message.
    return (value or "").replace("\x00", "").strip()


def create_request(requester: User, subject: str, body_markdown: str, module: str = "",
                   asked_from: FaqArticle | None = None, department_id: int | None = None) -> SupportRequest:
    """File a question; it goes to the requester's seed user, or straight to the rollout team when there is none.

    ``asked_from`` is the FAQ article the requester read before asking: the seed user sees which one did not help.
    ``department_id`` files it for another team than the requester's (a question raised in that team's retro).
    """
    from rollout.notify.services import notify
    subject = _text(subject)
    if not subject:
        raise ServiceError(_("Say in a few words what you need help with."), "subject")
    if module and module not in FAQ_MODULES:
        raise ServiceError(_("Unknown module."), "module")
    tree = DepartmentTree()
    route = route_for(requester, tree, department_id)
    seed = route.seed_user
    asked_in = department_id or requester.department_id
    request = SupportRequest(requester_id=requester.id, department_id=tree.home(asked_in) if asked_in else None,
                             seed_user_id=seed.id if seed else None, subject=subject[:200],
                             body_markdown=_text(body_markdown), module=module or "", status=SUPPORT_OPEN,
                             asked_from_article_id=asked_from.id if asked_from is not None else None)
    db.session.add(request)
    db.session.flush()
    if seed is not None:
        notify([seed], "training.support_request", _l("Question from %(name)s: %(subject)s",
                                                      name=requester.display_name, subject=request.subject),
               _question_body(request, asked_from), link=_link(request))
    else:
        escalate(request, reason=route.reason)
    return request


def _question_body(request: SupportRequest, asked_from: FaqArticle | None):
    """The question's text for a notification, with the FAQ article that did not answer it."""
    if asked_from is None:
        return request.body_markdown
    title = asked_from.title
    # A function: notify() writes it in each reader's language.
    return lambda: "\n\n".join(part for part in (
        request.body_markdown, _("Asked after reading the FAQ article “%(title)s”, which did not answer it.",
                                 title=title)) if part)


def escalate(request: SupportRequest, reason: str | None = None, now: datetime | None = None) -> SupportRequest:
    """Hand an unanswered request to the rollout team (users with the lead role).

    ``reason`` is a route (ROUTE_*) when the question goes straight to the team; None means it waited too long.
    """
    from rollout.notify.services import notify
    apply_transition(request, "escalate", now)
    db.session.flush()
    why = STRAIGHT_TO_TEAM.get(reason) or _l("No answer within %(hours)d hours.", hours=escalation_hours())
    body = _l("%(why)s Asked by %(name)s.", why=why, name=request.requester.display_name)
    notify(_rollout_team(), "training.support_escalated",
           _l("Escalated question: %(subject)s", subject=request.subject),
           partial(_with_question, body, request), link=_link(request))
    notify([request.requester], "training.support_escalated_asker",
           _l("Your question went to the rollout team: %(subject)s", subject=request.subject),
           _l("They will answer it here."), link=_link(request))
    return request


def _with_question(intro, request: SupportRequest) -> str:
    """A notification's text followed by the question as asked, in the reader's language."""
    return f"{intro}\n\n{request.body_markdown}".rstrip() if request.body_markdown else str(intro)


def escalation_hours() -> int:
    return int(current_app.config.get("TRAINING_ESCALATE_HOURS", 24))


def escalate_overdue(now: datetime | None = None) -> int:
    """Escalate every open request waiting longer than the configured time (since it was asked, or since
    the requester reopened it); returns how many."""
    now = now or utcnow()
    cutoff = now - timedelta(hours=escalation_hours())
    # reopened_at is never before created_at: testing both keeps the (status, created_at) index useful.
    overdue = db.session.scalars(select(SupportRequest).where(
        SupportRequest.status == SUPPORT_OPEN, SupportRequest.created_at <= cutoff,
        db.or_(SupportRequest.reopened_at.is_(None), SupportRequest.reopened_at <= cutoff))
        .order_by(SupportRequest.id).with_for_update(skip_locked=True)).all()
    for request in overdue:
        escalate(request, now=now)
    return len(overdue)


def answer(request: SupportRequest, answerer: User, answer_markdown: str, publish_as_article: bool = False,
           title: str | None = None, tags=()) -> SupportRequest:
    """Answer a request (seed user or rollout team); optionally publish the answer as an FAQ article."""
    from rollout.notify.services import notify
    text = _text(answer_markdown)
    if not text:
        raise ServiceError(_("Write an answer."), "answer_markdown")
    if not can_answer(answerer, request):
        raise NotAllowed(_("Only the seed users of the department and the rollout team answer questions."))
    if request.answered_by_id is not None:
        raise NotAllowed(_("This question has an answer already: reply below it."))
    apply_transition(request, "answer")
    request.answer_markdown = text
    request.answered_by_id = answerer.id
    db.session.flush()
    if publish_as_article:
        publish_answer(request, answerer, title=title, tags=tags)
    notify([request.requester], "training.support_answered", _l("Answer: %(subject)s", subject=request.subject),
           text, link=_link(request))
    return request


def edit_answer(request: SupportRequest, editor: User, answer_markdown: str,
                now: datetime | None = None) -> SupportRequest:
    """Correct an answer: only its author; the audit trail keeps the earlier text and the requester is told."""
    from rollout.notify.services import notify
    if request.answered_by_id is None:
        raise NotAllowed(_("This question has no answer to edit yet."))
    if request.answered_by_id != editor.id:
        raise NotAllowed(_("Only the person who wrote the answer can edit it."))
    text = _text(answer_markdown)
    if not text:
        raise ServiceError(_("Write an answer."), "answer_markdown")
    if text == request.answer_markdown:
        return request
    article = db.session.get(FaqArticle, request.article_id) if request.article_id else None
    # The article follows the answer it was made of, unless someone who keeps the FAQ rewrote it since.
    if article is not None and article.body_markdown == _article_body(request):
        article.body_markdown, article.updated_at = _article_body(request, text), now or utcnow()
    request.answer_markdown = text
    request.answer_edited_at = now or utcnow()
    db.session.flush()
    notify([request.requester], "training.support_answer_edited",
           _l("Answer edited: %(subject)s", subject=request.subject), text, link=_link(request))
    return request


def answerers(request: SupportRequest) -> list[User]:
    """Everyone who answered in the conversation: the first answer's author and helpers who replied."""
    people = [request.answered_by] if request.answered_by is not None else []
    for item in request.replies:
        if item.author_id != request.requester_id and item.author not in people:
            people.append(item.author)
    return people


def _waiting_with(request: SupportRequest) -> list[User]:
    """Who a waiting request waits with: its seed user while open, the rollout team once escalated."""
    if request.status == SUPPORT_ESCALATED:
        return _rollout_team()
    return [request.seed_user] if request.seed_user is not None else []


def reply(request: SupportRequest, author: User, body_markdown: str, now: datetime | None = None) -> SupportRequest:
    """Add a message to the conversation.

    The requester's reply reopens an answered or solved request and tells whoever answered (before any
    answer: whoever it waits with). A helper's reply answers a waiting request (the first one becomes the
    answer) and tells the requester.
    """
    from rollout.notify.services import notify
    text = _text(body_markdown)
    if not text:
        raise ServiceError(_("Write a reply."), "body_markdown")
    now = now or utcnow()
    if author.id == request.requester_id:
        if request.status in (SUPPORT_ANSWERED, SUPPORT_SOLVED):
            apply_transition(request, reopen_action(request), now)
            subject = _l("Reopened: %(subject)s", subject=request.subject)
        else:
            subject = _l("Reply from %(name)s: %(subject)s", name=author.display_name, subject=request.subject)
        recipients = answerers(request) or _waiting_with(request)
        db.session.add(SupportReply(request=request, author_id=author.id, body_markdown=text, created_at=now))
        db.session.flush()
        notify(recipients, "training.support_reply", subject, text, link=_link(request))
        return request
    if not can_answer(author, request):
        raise NotAllowed(_("Only the person who asked, the seed users of the department and the rollout team "
                           "take part in this conversation."))
    if request.answered_by_id is None and request.status in SUPPORT_WAITING:
        return answer(request, author, text)
    if request.status in SUPPORT_WAITING:
        apply_transition(request, "answer", now)
    db.session.add(SupportReply(request=request, author_id=author.id, body_markdown=text, created_at=now))
    db.session.flush()
    notify([request.requester], "training.support_reply",
           _l("Reply from %(name)s: %(subject)s", name=author.display_name, subject=request.subject), text,
           link=_link(request))
    return request


def solve(request: SupportRequest, user: User, now: datetime | None = None) -> SupportRequest:
    """The requester says the question is settled; a later reply from them reopens it."""
    if user.id != request.requester_id:
        raise NotAllowed(_("Only the person who asked can mark the request solved."))
    if request.status == SUPPORT_SOLVED:
        raise NotAllowed(_("This request is solved already."))
    apply_transition(request, "solve", now)
    db.session.flush()
    return request


@dataclass
class Message:
    """One entry of a request's conversation, as the request page shows it."""
    author: User | None
    body_markdown: str
    at: datetime
    is_answer: bool = False
    is_from_requester: bool = False
    edited_at: datetime | None = None


def conversation(request: SupportRequest) -> list[Message]:
    """The answer and the replies in the order they were written (the question itself comes first, apart)."""
    messages = [Message(author=item.author, body_markdown=item.body_markdown, at=item.created_at,
                        is_from_requester=item.author_id == request.requester_id) for item in request.replies]
    if request.answered_by_id is not None:
        messages.append(Message(author=request.answered_by, body_markdown=request.answer_markdown,
                                at=request.answered_at or request.created_at, is_answer=True,
                                edited_at=request.answer_edited_at))
    return sorted(messages, key=lambda message: message.at)


def _article_body(request: SupportRequest, answer_markdown: str | None = None) -> str:
    """An FAQ article's text made of a question and its answer."""
    question = request.body_markdown.strip()
    return (question + "\n\n---\n\n" if question else "") + (answer_markdown or request.answer_markdown)


def publish_answer(request: SupportRequest, author: User, title: str | None = None, tags=()):
    """Turn an answered request into an FAQ article (question and answer), once."""
    from training.faq import create_article_from
    if request.answered_by_id is None or not request.answer_markdown:
        raise ServiceError(_("Only answered requests can become articles."))
    if request.article_id is not None:
        raise ServiceError(_("This answer is already an article."))
    article = create_article_from((title or request.subject).strip() or request.subject, _article_body(request),
                                  author, tags=tags, module=request.module, source="support")
    request.article_id = article.id
    db.session.flush()
    return article


def waiting_for(user: User) -> list[SupportRequest]:
    """Requests waiting for ``user``'s answer: as seed user, reopened after their answer, and escalated ones
    for the rollout team."""
    conditions = [db.and_(SupportRequest.seed_user_id == user.id, SupportRequest.status == SUPPORT_OPEN),
                  db.and_(SupportRequest.answered_by_id == user.id, SupportRequest.status.in_(SUPPORT_WAITING))]
    if "lead" in user.roles:
        conditions.append(SupportRequest.status == SUPPORT_ESCALATED)
    return list(db.session.scalars(select(SupportRequest).where(db.or_(*conditions))
                                   .order_by(SupportRequest.created_at)).all())


def can_answer(user: User, request: SupportRequest) -> bool:
    """Helpers of a request: the seed user it went to, seed users and heads of that department, the rollout team
    and admins; never the person who asked."""
    if user.id == request.requester_id:
        return False
    if user.has_role("lead", "admin"):
        return True
    if request.seed_user_id == user.id:
        return True
    from rollout.access import department_scope_ids
    in_department = request.department_id in department_scope_ids(user)
    return in_department and (user.is_seed_user or "head" in user.roles)
