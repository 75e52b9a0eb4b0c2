"""What each role sees first: a rep their plan, follow-ups and training; a lead readiness and adoption;
a trainer upcoming sessions; a seed user the questions waiting for them."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from rollout.access import home_department_id
from rollout.dashboard import services
from rollout.extensions import db
from rollout.timeutil import local_today, utcnow

UPCOMING_DAYS = 30
#: Overdue rollout milestones listed on a lead's home page; the plan shows them all.
HOME_MILESTONES_SHOWN = 5
#: Overdue next steps listed on the home page; the follow-up list shows the rest.
HOME_OVERDUE_SHOWN = 5


def _plan_sections(user, sections: dict) -> None:
    plan_progress = services.optional_function("rollout.plans.services", "plan_progress")
    overdue = services.optional_function("rollout.plans.services", "overdue_next_steps")
    overdue_count = services.optional_function("rollout.plans.services", "overdue_next_step_count")
    if plan_progress is not None:
        sections["plan_progress"] = plan_progress(user)
    if overdue is not None and overdue_count is not None:
        # The oldest few, with how many there are: the follow-up list holds them all.
        sections["overdue"] = overdue(user, limit=HOME_OVERDUE_SHOWN)
        sections["overdue_total"] = overdue_count(user)


def _sells(user) -> bool:
    """Whether plans and follow-ups are ``user``'s work: not a finance or IT colleague's, whose home page
    would otherwise open on "no plan" and "no overdue follow-ups" (see rollout/plans/services.py, sales_tabs)."""
    sales_tabs = services.optional_function("rollout.plans.services", "sales_tabs")
    return sales_tabs is None or "plans.activities" in sales_tabs(user)


def _approvals(user, sections: dict) -> None:
    """What waits for ``user``'s decision: quotes at their approval step, plans they may approve."""
    quotes = services.optional_function("rollout.plans.services", "quotes_awaiting")
    plans = services.optional_function("rollout.plans.services", "plans_awaiting")
    if quotes is not None and plans is not None:
        sections["approvals"] = {"quotes": len(quotes(user)), "plans": len(plans(user))}


def _open_training(user, sections: dict) -> list | None:
    """The user's required tracks not yet complete, soonest due first; ``sections["required_training"]``
    says whether any is required at all ("all done" and "none yet" read differently)."""
    obligations = services.optional_function("training.services", "obligations")
    if obligations is None:
        return None
    today = local_today()
    required = obligations(users=[user])
    sections["required_training"] = bool(required)
    return sorted([o for o in required if not o.is_complete], key=lambda o: (o.due_on is None, o.due_on or today))


def _upcoming_sessions(user) -> list | None:
    try:
        from training.models import SESSION_SCHEDULED, TrainingSession
    except ImportError:
        return None
    now = utcnow()
    return list(db.session.scalars(select(TrainingSession).where(
        TrainingSession.trainer_id == user.id, TrainingSession.status == SESSION_SCHEDULED,
        TrainingSession.starts_at >= now, TrainingSession.starts_at < now + timedelta(days=UPCOMING_DAYS))
        .order_by(TrainingSession.starts_at).limit(10)))


def sections_for(user) -> dict:
    """The home page blocks for ``user`` (a user with several roles sees each role's blocks)."""
    sections: dict = {}
    if user.has_role("staff", "head") and _sells(user):
        _plan_sections(user, sections)
    _approvals(user, sections)
    action_items = services.optional_function("rollout.retros.services", "open_action_items_for")
    if action_items is not None and user.has_role("staff", "head"):
        sections["action_items"] = action_items(user)
    if user.has_role("staff"):
        sections["open_training"] = _open_training(user, sections)
        home = home_department_id(user.department_id)
        sections["ranking"] = services.latest_publication(home) if home is not None else None
    if user.has_role("lead", "admin", "head"):
        scope = services.department_ids_for(user)
        sections["readiness"] = services.cached_readiness(scope)
        # The home page shows this week's active people and entries over the ranking weeks: reading
        # only those weeks halves the rows read on the first view after a write.
        sections["adoption"] = services.cached_adoption(scope, weeks=services.RANKING_WEEKS)[0]
    if user.has_role("lead", "admin"):  # those who keep the rollout plan
        milestones, total = services.overdue_milestones(limit=HOME_MILESTONES_SHOWN)
        if total:
            sections["overdue_milestones"] = {"items": milestones, "total": total}
    if user.has_role("trainer"):
        sections["sessions"] = _upcoming_sessions(user)
    if user.is_seed_user or user.has_role("lead"):
        requests_for = services.optional_function("training.services", "open_support_requests_for")
        sections["support"] = requests_for(user) if requests_for else None
    return sections
