"""Seed users (种子用户) and support requests: first to the department's seed user, then the rollout team."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from rollout.accounts.models import User, UserRole
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.timeutil import utcnow
from training.models import (FAQ_MODULES, SUPPORT_ANSWERED, SUPPORT_ESCALATED, SUPPORT_OPEN, SupportRequest)
from training.services import DepartmentTree, seeds_needed

#: (status, action) → new status of a support request.
SUPPORT_TRANSITIONS = {
    (SUPPORT_OPEN, "answer"): SUPPORT_ANSWERED,
    (SUPPORT_OPEN, "escalate"): SUPPORT_ESCALATED,
    (SUPPORT_ESCALATED, "answer"): SUPPORT_ANSWERED,
}


def apply_transition(request: SupportRequest, action: str, now: datetime | None = None) -> SupportRequest:
    """Move a support request along SUPPORT_TRANSITIONS or refuse without changing anything."""
    target = SUPPORT_TRANSITIONS.get((request.status, action))
    if target is None:
        raise NotAllowed(_("This request is %(status)s and cannot be changed that way (%(action)s).",
                           status=request.status, action=action))
    now = now or utcnow()
    request.status = target
    if target == SUPPORT_ESCALATED:
        request.escalated_at = now
    elif target == SUPPORT_ANSWERED:
        request.answered_at = now
    return request


# --- seed users ---------------------------------------------------------------------------
def seed_user_for(user: User, tree: DepartmentTree | None = None) -> User | None:
    """The seed user a person turns to: one in their own team first, else one in their department."""
    if user.department_id is None:
        return None
    tree = tree or DepartmentTree()
    home = tree.home(user.department_id)
    candidates = db.session.scalars(select(User).where(
        User.department_id.in_(sorted(tree.subtree(home))), User.is_seed_user.is_(True),
        User.is_active_account.is_(True), User.id != user.id).order_by(User.id)).all()
    same_team = [c for c in candidates if c.department_id == user.department_id]
    return (same_team or list(candidates) or [None])[0]


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
    seed_user: User
    assigned: int = 0
    answered: int = 0
    escalated: int = 0
    open: int = 0
    total_hours: float = 0.0

    @property
    def average_hours(self) -> float | None:
        return round(self.total_hours / self.answered, 1) if self.answered else None


def seed_user_stats(department_ids: set[int] | None = None) -> list[SeedStats]:
    """Per seed user: requests received, answered by them, escalated, open, and mean response time."""
    query = select(SupportRequest).where(SupportRequest.seed_user_id.is_not(None)).options(
        db.joinedload(SupportRequest.seed_user))
    if department_ids is not None:
        query = query.where(SupportRequest.department_id.in_(sorted(department_ids) or [-1]))
    stats: dict[int, SeedStats] = {}
    for request in db.session.scalars(query):
        item = stats.setdefault(request.seed_user_id, SeedStats(seed_user=request.seed_user))
        item.assigned += 1
        if request.escalated_at is not None:
            item.escalated += 1
        if request.status != SUPPORT_ANSWERED:
            item.open += 1
        elif request.answered_by_id == request.seed_user_id:
            item.answered += 1
            item.total_hours += (request.answered_at - request.created_at).total_seconds() / 3600
    return sorted(stats.values(), key=lambda s: s.seed_user.display_name)


# --- support requests ------------------------------------------------------------------------
def _rollout_team() -> list[User]:
    from rollout.accounts.services import users_with_roles
    return users_with_roles(["lead"])


def create_request(requester: User, subject: str, body_markdown: str, module: str = "") -> SupportRequest:
    """File a question; it goes to the requester's seed user, or straight to the rollout team when there is none."""
    from rollout.notify.services import notify
    subject = (subject or "").strip()
    if not subject:
        raise ServiceError(_("Say in a few words what you need help with."), "subject")
    if module and module not in FAQ_MODULES:
        raise ServiceError(_("Unknown module."), "module")
    tree = DepartmentTree()
    seed = seed_user_for(requester, tree)
    request = SupportRequest(requester_id=requester.id, department_id=tree.home(requester.department_id),
                             seed_user_id=seed.id if seed else None, subject=subject[:200],
                             body_markdown=body_markdown or "", module=module or "", status=SUPPORT_OPEN)
    db.session.add(request)
    db.session.flush()
    link = f"/training/support/{request.id}"
    if seed is not None:
        notify([seed], "training.support_request", _l("Question from %(name)s: %(subject)s",
                                                      name=requester.display_name, subject=request.subject),
               body_markdown or "", link=link)
    else:
        escalate(request, reason_no_seed=True)
    return request


def escalate(request: SupportRequest, reason_no_seed: bool = False, now: datetime | None = None) -> SupportRequest:
    """Hand an unanswered request to the rollout team (users with the lead role)."""
    from rollout.notify.services import notify
    apply_transition(request, "escalate", now)
    db.session.flush()
    body = (_l("The department has no seed user.") if reason_no_seed
            else _l("No answer within %(hours)d hours.", hours=escalation_hours()))
    notify(_rollout_team(), "training.support_escalated",
           _l("Escalated question: %(subject)s", subject=request.subject), body,
           link=f"/training/support/{request.id}")
    return request


def escalation_hours() -> int:
    return int(current_app.config.get("TRAINING_ESCALATE_HOURS", 24))


def escalate_overdue(now: datetime | None = None) -> int:
    """Escalate every open request older than the configured time; returns how many."""
    now = now or utcnow()
    cutoff = now - timedelta(hours=escalation_hours())
    overdue = db.session.scalars(select(SupportRequest).where(
        SupportRequest.status == SUPPORT_OPEN, SupportRequest.created_at <= cutoff)
        .order_by(SupportRequest.id).with_for_update(skip_locked=True)).all()
    for request in overdue:
        escalate(request, now=now)
    return len(overdue)


def answer(request: SupportRequest, answerer: User, answer_markdown: str, publish_as_article: bool = False,
           title: str | None = None, tags=()) -> SupportRequest:
    """Answer a request (seed user or rollout team); optionally publish the answer as an FAQ article."""
    from rollout.notify.services import notify
    text = (answer_markdown or "").strip()
    if not text:
        raise ServiceError(_("Write an answer."), "answer_markdown")
    apply_transition(request, "answer")
    request.answer_markdown = text
    request.answered_by_id = answerer.id
    db.session.flush()
    if publish_as_article:
        publish_answer(request, answerer, title=title, tags=tags)
    notify([request.requester], "training.support_answered", _l("Answer: %(subject)s", subject=request.subject),
           text, link=f"/training/support/{request.id}")
    return request


def publish_answer(request: SupportRequest, author: User, title: str | None = None, tags=()):
    """Turn an answered request into an FAQ article (question and answer), once."""
    from training.faq import create_article_from
    if request.status != SUPPORT_ANSWERED:
        raise ServiceError(_("Only answered requests can become articles."))
    if request.article_id is not None:
        raise ServiceError(_("This answer is already an article."))
    body = (request.body_markdown.strip() + "\n\n---\n\n" if request.body_markdown.strip() else "") + \
        request.answer_markdown
    article = create_article_from((title or request.subject).strip() or request.subject, body, author, tags=tags,
                                  module=request.module, source="support")
    request.article_id = article.id
    db.session.flush()
    return article


def waiting_for(user: User) -> list[SupportRequest]:
    """Requests waiting for ``user``'s answer: as seed user, and escalated ones for the rollout team."""
    conditions = [db.and_(SupportRequest.seed_user_id == user.id, SupportRequest.status == SUPPORT_OPEN)]
    if "lead" in user.roles:
        conditions.append(SupportRequest.status == SUPPORT_ESCALATED)
    return list(db.session.scalars(select(SupportRequest).where(db.or_(*conditions))
                                   .order_by(SupportRequest.created_at)).all())


def can_answer(user: User, request: SupportRequest) -> bool:
    """Seed user it went to, seed users and heads of that department, the rollout team and admins."""
    if request.status == SUPPORT_ANSWERED:
        return False
    if user.has_role("lead", "admin"):
        return True
    if request.seed_user_id == user.id:
        return True
    from rollout.access import department_scope_ids
    in_department = request.department_id in department_scope_ids(user)
    return in_department and (user.is_seed_user or "head" in user.roles)
