"""The one place that decides who may do what.

Every action is a row of ``RULES``: for each role that may perform it, the
*scope* in which it may: ``ALL`` objects, objects of the user's ``DEPT``
(their department and its teams), the user's ``OWN`` objects, or a function
``(user, obj) -> bool`` for anything subtler.  Views declare their action
with ``@require(action)``; a view without a declaration is refused, so a new
route cannot slip out unguarded.  Object checks call ``authorize(action, obj)``
and lists filter with ``scope_clause``.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import and_, false, or_, select, true
from werkzeug.exceptions import HTTPException

from rollout.accounts.models import ADMIN, HEAD, LEAD, STAFF, TRAINER, Department
from rollout.extensions import db, login_manager

ALL = "all"
#: The user's home department (a team's department) and everything below it.
DEPT = "dept"
#: The department or team the user belongs to and everything below it: a team's head manages their team's
#: sales records, not the team next door's (the department's head manages both).
TEAM = "team"
OWN = "own"
#: Marks a view that needs no login (login page, health check, token links).
PUBLIC = "public"

EVERYONE = (ADMIN, LEAD, TRAINER, HEAD, STAFF)


def everyone(scope=ALL) -> dict:
    return {role: scope for role in EVERYONE}


def leads_and_admins(**extra) -> dict:
    return {ADMIN: ALL, LEAD: ALL, **extra}


def _is_seed_user_in_department(user, obj) -> bool:
    return bool(user.is_seed_user) and _department_of(obj) in department_scope_ids(user)


# --- core ---------------------------------------------------------------
CORE_RULES = {
    "home.view": everyone(),
    "notifications.view": everyone(OWN),
    "profile.edit": everyone(OWN),
    "users.view": leads_and_admins(**{HEAD: DEPT}),
    "users.manage": {ADMIN: ALL},
    "departments.manage": {ADMIN: ALL},
    # A head confirms who holds which roles in the unit they head and below it: a team's head
    # neither confirms the team next door nor their own department head.
    "roles.review": {ADMIN: ALL, HEAD: TEAM},
    # The trail holds every field of the records it names: a head reads what happened in the unit they
    # head, as the sales records themselves are kept from the team next door.
    "audit.view": {ADMIN: ALL, HEAD: TEAM},
    # Exports and imports are explicit permissions, never implied by "can view".
    "data.export": leads_and_admins(**{HEAD: DEPT}),
    "data.import": leads_and_admins(),
    "outbox.manage": {ADMIN: ALL},
    "channels.manage": {ADMIN: ALL},
}

# --- rollout.plans ------------------------------------------------------
def _edits_plan(user, plan) -> bool:
    """A head sets the plans of their team or department and below, never their own targets."""
    return _scope_allows(user, TEAM, plan) and getattr(plan, "user_id", None) != user.id


def _approves_plan(user, plan) -> bool:
    """A head approves the plans of the people and teams below them: not their own unit's plan, not their own
    targets and not a plan they wrote (the department's own plan goes to the project leads)."""
    if getattr(plan, "user_id", None) == user.id or getattr(plan, "created_by_id", None) == user.id:
        return False
    below = head_scope_ids(user) if getattr(plan, "level", None) == "rep" else \
        head_scope_ids(user) - {user.department_id}
    return _department_of(plan) in below


def _quote_approver(user, quote) -> bool:
    """One of those a step of the quote asked (or asks) to decide: a colleague decided it first, or
    the step is over, and they still open the quote they were told of."""
    from rollout.plans.services import approves_for
    return any(s.decided_by_id == user.id or (s.status in ("pending", "approved", "rejected") and approves_for(user, s))
               for s in quote.steps)


def _quote_dept_or_approver(user, quote) -> bool:
    return _scope_allows(user, TEAM, quote) or _quote_approver(user, quote)


def _quote_own_or_approver(user, quote) -> bool:
    return quote.owner_id == user.id or _quote_approver(user, quote)


def _lead_visible(user, lead) -> bool:
    """The recording department sees its leads, the rep a lead was handed to, and that rep's heads."""
    if lead.owner_id == user.id or _scope_allows(user, DEPT, lead):
        return True
    owner = lead.owner
    return bool(user.has_role(HEAD) and owner is not None and owner.department_id in head_scope_ids(user))


PLAN_RULES: dict[str, dict] = {
    "plans.view": leads_and_admins(**{HEAD: TEAM, STAFF: OWN}),
    "plans.edit": leads_and_admins(**{HEAD: _edits_plan}),
    "plans.approve": leads_and_admins(**{HEAD: _approves_plan}),
    "customers.view": leads_and_admins(**{HEAD: TEAM, STAFF: OWN}),
    "customers.edit": leads_and_admins(**{HEAD: TEAM, STAFF: OWN}),
    "customers.assign": leads_and_admins(**{HEAD: TEAM}),
    "pool.claim": leads_and_admins(**{HEAD: DEPT, STAFF: DEPT}),
    "deals.view": leads_and_admins(**{HEAD: TEAM, STAFF: OWN}),
    "deals.edit": leads_and_admins(**{HEAD: TEAM, STAFF: OWN}),
    # Finance staff see the quotes waiting for (or decided by) them, nothing else.
    "quotes.view": leads_and_admins(**{HEAD: _quote_dept_or_approver, STAFF: _quote_own_or_approver}),
    "quotes.edit": leads_and_admins(**{HEAD: TEAM, STAFF: OWN}),
    "quotes.approve": leads_and_admins(**{HEAD: _quote_approver, STAFF: _quote_approver}),
    "campaigns.view": leads_and_admins(**{HEAD: ALL, STAFF: ALL}),
    # Campaigns (and their leads) belong to the department running them, usually 市场部.
    "campaigns.manage": leads_and_admins(**{HEAD: DEPT, STAFF: DEPT}),
    "leads.view": leads_and_admins(**{HEAD: _lead_visible, STAFF: _lead_visible}),
    "sales.configure": {ADMIN: ALL},
}

def may_view_customer(user, customer) -> bool:
    """A customer's page: "customers.view", or a customer in a public pool the reader claims from ("pool.claim"),
    read only: what they would claim, and when its former owner may claim it back. Lists keep to
    "customers.view" (the pool page lists the pool)."""
    if can(user, "customers.view", customer):
        return True
    return bool(customer.is_in_pool and customer.deleted_at is None and can(user, "pool.claim", customer))


# --- rollout.imports ----------------------------------------------------
IMPORT_RULES: dict[str, dict] = {}

# --- rollout.retros and rollout.dashboard --------------------------------
def _facilitates_retro(user, obj) -> bool:
    # obj is a retro, or a card/action item that knows its retro.
    retro = getattr(obj, "retro", obj)
    return getattr(retro, "facilitator_id", None) == user.id


def _owns_or_facilitates(user, obj) -> bool:
    return _owner_of(obj) == user.id or _facilitates_retro(user, obj)


# A retro belongs to its team (TEAM: the person's own team or department and below): the team next door
# neither reads its cards nor runs it. The department head runs both teams'; trainers read every team's,
# to answer what the cards ask in the FAQ or in training.
def _heads_the_department(user, obj) -> bool:
    """A head of a whole department (not of one of its teams), acting on that department."""
    own = getattr(user, "department_id", None)
    return own is not None and home_department_id(own) == own and _scope_allows(user, DEPT, obj)


RETRO_RULES: dict[str, dict] = {
    "retros.view": leads_and_admins(**{TRAINER: ALL, HEAD: TEAM, STAFF: TEAM}),
    # Writing cards and voting.
    "retros.participate": leads_and_admins(**{TRAINER: TEAM, HEAD: TEAM, STAFF: TEAM}),
    "retros.create": leads_and_admins(**{HEAD: TEAM}),
    # Reveal, group, notes, action items, close: the facilitator, the department head, leads.
    "retros.facilitate": leads_and_admins(**{HEAD: TEAM, TRAINER: _facilitates_retro, STAFF: _facilitates_retro}),
    "retros.actions.update": leads_and_admins(**{HEAD: TEAM, TRAINER: _owns_or_facilitates,
                                                STAFF: _owns_or_facilitates}),
    # Turning a card or action item into a change request, a question or an FAQ article.
    "retros.convert": leads_and_admins(**{HEAD: TEAM, TRAINER: ALL, STAFF: _facilitates_retro}),
    "retros.export": leads_and_admins(**{HEAD: TEAM}),
}
DASHBOARD_RULES: dict[str, dict] = {
    # Rollout plan, readiness and adoption pages.
    "dashboard.view": leads_and_admins(**{TRAINER: ALL, HEAD: DEPT}),
    "rollout_plan.manage": leads_and_admins(),
    "readiness.configure": leads_and_admins(),
    # The whole dashboard as a PDF status report.
    "dashboard.report": leads_and_admins(**{HEAD: DEPT}),
    # The department's usage ranking is published by the department's head, not a team's.
    "ranking.publish": leads_and_admins(**{HEAD: _heads_the_department}),
    # A department's published usage ranking.
    "ranking.view": everyone(DEPT) | leads_and_admins(),
}

# --- surveys --------------------------------------------------------------
def _survey_of_or_for_department(user, survey) -> bool:
    """A head sees the results of their department's surveys and of surveys aimed at their department:
    how their own people answered."""
    if _scope_allows(user, DEPT, survey):
        return True
    audience = {d.id for d in getattr(survey, "audience_departments", ())}
    own = getattr(user, "department_id", None)
    return bool(audience & department_scope_ids(user)) or any(own in subtree_ids(d) for d in audience)


def _runs_survey(user, survey) -> bool:
    """A head who owns the survey, or heads the department (or team) it belongs to: a team's head does not
    run their department's survey, and reads only their own team's answers to it."""
    return getattr(survey, "owner_id", None) == user.id or _scope_allows(user, TEAM, survey)


def _shares_department(user, obj) -> bool:
    """Requirements come from several departments: in scope when any of them is the user's."""
    ids = getattr(obj, "department_ids", None)
    if ids is None:
        ids = {_department_of(obj)}
    return bool(set(ids) & department_scope_ids(user))


SURVEY_RULES: dict[str, dict] = {
    "surveys.view": everyone(),
    "surveys.manage": leads_and_admins(**{HEAD: DEPT}),
    "surveys.results": leads_and_admins(**{HEAD: _survey_of_or_for_department}),
    # Every department's answers; other readers of the results see those of their own department (a team's head:
    # their own team's; see surveys.services.results_scope).
    "surveys.results.all": leads_and_admins(**{HEAD: _runs_survey}),
    # Every answer of the survey, one row per response: those who read every department's answers.
    "surveys.export": leads_and_admins(**{HEAD: _runs_survey}),
    "surveys.import": leads_and_admins(),
    "interviews.view": leads_and_admins(**{HEAD: DEPT}),
    "interviews.manage": leads_and_admins(**{HEAD: DEPT}),
    "requirements.view": leads_and_admins(**{TRAINER: ALL, HEAD: _shares_department, STAFF: _shares_department}),
    "requirements.manage": leads_and_admins(**{HEAD: _shares_department}),
    "requirements.export": leads_and_admins(**{HEAD: _shares_department}),
    "coverage.view": leads_and_admins(**{HEAD: DEPT}),
}

# --- processmaps ----------------------------------------------------------
def _approves_process(user, obj) -> bool:
    """A head approves processes of their own department and its teams, not of a department above theirs
    (a team head edits the department's drafts but does not approve them), and not a version they wrote."""
    department = _department_of(obj)
    own = getattr(user, "department_id", None)
    if department is None or own is None or department not in subtree_ids(own):
        return False
    return user.id not in getattr(obj, "author_ids", ())


PROCESS_RULES: dict[str, dict] = {
    # Who does what is for everyone to read: a process spans departments by nature.
    "processes.view": everyone(),
    "processes.create": leads_and_admins(**{HEAD: DEPT}),
    "processes.edit": leads_and_admins(**{HEAD: DEPT}),
    "processes.approve": leads_and_admins(**{HEAD: _approves_process}),
    # Pictures and BPMN of a map hold nothing beyond what the page already shows.
    "processes.export": everyone(),
    # Importing a BPMN file creates processes: heads may, into their own department, as they create them.
    "processes.import": leads_and_admins(**{HEAD: DEPT}),
}

# --- changes --------------------------------------------------------------
CHANGE_RULES: dict[str, dict] = {
    # Staff and heads see their department's requests; leads, admins and trainers all of them.
    "changes.view": {ADMIN: ALL, LEAD: ALL, TRAINER: ALL, HEAD: DEPT, STAFF: DEPT},
    # A draft is its requester's until submitted, as in Jira and ServiceNow; leads and admins may help.
    "changes.view_draft": leads_and_admins(**{TRAINER: OWN, HEAD: OWN, STAFF: OWN}),
    "changes.create": everyone(),
    # Drafts are edited (and attachments added) by their requester; leads and admins may help.
    "changes.edit": leads_and_admins(**{TRAINER: OWN, HEAD: OWN, STAFF: OWN}),
    # Which moves a role may make is decided by the transition table in changes/services.py.
    "changes.transition": {ADMIN: ALL, LEAD: ALL, TRAINER: OWN, HEAD: OWN, STAFF: OWN},
    # Reviewers: assess, raise risk, decide on a window's agenda, close windows.
    "changes.review": leads_and_admins(),
    # Freezes and releases.
    "changes.plan": leads_and_admins(),
    # Review cadences (the rhythm windows are generated from): list, create, edit, switch off/on.
    "changes.cadences": leads_and_admins(),
    "changes.metrics": leads_and_admins(**{HEAD: DEPT}),
}

# --- training -------------------------------------------------------------
def _asker_or_seed_user(user, obj) -> bool:
    """A support request: the person who asked, the seed user it went to, seed users of that department."""
    return (_owner_of(obj) == user.id or getattr(obj, "seed_user_id", None) == user.id
            or _is_seed_user_in_department(user, obj))


TRAINING_RULES: dict[str, dict] = {
    # Tracks, courses, sessions and the FAQ are open to everyone in the company.
    "training.view": everyone(),
    "training.enrol": everyone(OWN),
    # Heads assign people of their department; trainers and the rollout team anyone.
    "training.assign": leads_and_admins(**{TRAINER: ALL, HEAD: DEPT}),
    "training.manage": leads_and_admins(**{TRAINER: ALL}),
    "training.matrix": leads_and_admins(**{TRAINER: ALL, HEAD: DEPT}),
    "training.export": leads_and_admins(**{TRAINER: ALL, HEAD: DEPT}),
    "training.seeds": leads_and_admins(**{TRAINER: ALL, HEAD: DEPT}),
    "training.seeds.manage": leads_and_admins(**{HEAD: DEPT}),
    "training.support": leads_and_admins(**{HEAD: DEPT, TRAINER: _asker_or_seed_user,
                                            STAFF: _asker_or_seed_user}),
    "training.support.answer": leads_and_admins(**{HEAD: DEPT, STAFF: _is_seed_user_in_department}),
    "training.faq.manage": leads_and_admins(**{TRAINER: ALL}),
}


def all_rules() -> dict[str, dict]:
    rules: dict[str, dict] = {}
    for table in (CORE_RULES, PLAN_RULES, IMPORT_RULES, RETRO_RULES, DASHBOARD_RULES,
                  SURVEY_RULES, PROCESS_RULES, CHANGE_RULES, TRAINING_RULES):
        overlap = rules.keys() & table.keys()
        assert not overlap, f"actions defined twice: {overlap}"
        rules.update(table)
    return rules


RULES = all_rules()


# --- department scope -------------------------------------------------------
def _departments() -> list[tuple[int, int | None, str]]:
    cache = g.setdefault("_departments", None) if has_request_context() else None
    if cache is None:
        cache = db.session.execute(select(Department.id, Department.parent_id, Department.kind)).all()
        if has_request_context():
            g._departments = cache
    return cache


def home_department_id(department_id: int | None) -> int | None:
    """The department-level ancestor of a department or team (itself if it is one)."""
    if department_id is None:
        return None
    rows = {row[0]: row for row in _departments()}
    current = rows.get(department_id)
    while current is not None:
        parent = rows.get(current[1]) if current[1] is not None else None
        if parent is None or parent[2] == "company" or current[2] == "department":
            return current[0]
        current = parent
    return department_id


def ancestor_ids(department_id: int) -> set[int]:
    """The departments above a department or team, up to the company."""
    parents = {dept_id: parent_id for dept_id, parent_id, _kind in _departments()}
    found, current = set(), parents.get(department_id)
    while current is not None and current not in found:
        found.add(current)
        current = parents.get(current)
    return found


def subtree_ids(department_id: int) -> set[int]:
    """A department and every department below it."""
    children: dict[int | None, list[int]] = {}
    for dept_id, parent_id, _kind in _departments():
        children.setdefault(parent_id, []).append(dept_id)
    found, stack = set(), [department_id]
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(children.get(current, []))
    return found


def department_scope_ids(user) -> set[int]:
    """Departments a user sees as 'their department': their home department's subtree."""
    home = home_department_id(getattr(user, "department_id", None))
    return subtree_ids(home) if home is not None else set()


def head_scope_ids(user) -> set[int]:
    """Departments a head manages (the TEAM scope): their own department or team and everything below it.
    A team's head sees their department as its staff do, but is not the head of the team next door."""
    own = getattr(user, "department_id", None)
    return subtree_ids(own) if own is not None else set()


def _scope_ids(user, scope: str) -> set[int]:
    """The departments a DEPT or TEAM scope covers for ``user``."""
    return head_scope_ids(user) if scope == TEAM else department_scope_ids(user)


def _department_of(obj) -> int | None:
    if hasattr(obj, "access_department_id"):
        return obj.access_department_id
    return getattr(obj, "department_id", None)


def _owner_of(obj) -> int | None:
    if hasattr(obj, "access_owner_id"):
        return obj.access_owner_id
    for attribute in ("owner_id", "user_id", "requester_id", "created_by_id"):
        if hasattr(obj, attribute):
            return getattr(obj, attribute)
    return None


def _scope_allows(user, scope, obj) -> bool:
    if scope == ALL:
        return True
    if callable(scope):
        return bool(scope(user, obj))
    if scope in (DEPT, TEAM):
        department = _department_of(obj)
        return department is not None and department in _scope_ids(user, scope)
    if scope == OWN:
        return _owner_of(obj) == user.id
    return False


def can(user, action: str, obj=None) -> bool:
    """May ``user`` perform ``action`` (on ``obj``, when given)?"""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    rule = RULES.get(action)
    if rule is None:
        raise KeyError(f"unknown action {action!r}: add it to rollout/access.py")
    for role in user.roles:
        scope = rule.get(role)
        if scope is None:
            continue
        if obj is None or _scope_allows(user, scope, obj):
            return True
    return False


def authorize(action: str, obj=None) -> None:
    """Abort with 403 unless the current user may perform ``action`` on ``obj``."""
    if not can(current_user, action, obj):
        abort(403)


def scope_clause(user, action: str, department_column=None, owner_column=None):
    """A SQL condition limiting a list to the rows ``user`` may see for ``action``."""
    rule = RULES[action]
    conditions = []
    for role in user.roles:
        scope = rule.get(role)
        if scope == ALL:
            return true()
        if scope in (DEPT, TEAM) and department_column is not None:
            conditions.append(department_column.in_(sorted(_scope_ids(user, scope)) or [-1]))
        elif scope == OWN and owner_column is not None:
            conditions.append(owner_column == user.id)
    return or_(*conditions) if conditions else false()


def may_view_change(user, change) -> bool:
    """Is a change request in the reader's reach: "changes.view", and someone else's draft only with
    "changes.view_draft"."""
    return can(user, "changes.view", change) and (change.state != "draft" or can(user, "changes.view_draft", change))


def change_view_clause(user, model):
    """The SQL condition of ``may_view_change`` for a list of ``model`` (the change request model)."""
    return and_(scope_clause(user, "changes.view", department_column=model.department_id,
                             owner_column=model.requester_id),
                or_(model.state != "draft", scope_clause(user, "changes.view_draft", owner_column=model.requester_id)))


def require(action: str) -> Callable:
    """Declare the action a view performs; refuse the request unless allowed."""

    def decorator(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if action != PUBLIC:
                if not current_user.is_authenticated:
                    return login_manager.unauthorized()
                if not can(current_user, action):
                    abort(403)
            return view(*args, **kwargs)

        guarded.access_action = action
        return guarded

    return decorator


def public(view):
    """Mark a view that anyone may open without logging in."""
    return require(PUBLIC)(view)


def action_of(view) -> str | None:
    return getattr(view, "access_action", None)


def may_open(user, path: str) -> bool:
    """May ``user`` open the page at ``path`` (a URL of this application), by the action its view declares?

    For links to whole pages (lists, reports): a view that also checks the record itself may still refuse.
    """
    path = path.split("?")[0].removeprefix(request.script_root)  # url_for puts the mount point in
    try:
        endpoint, _values = current_app.url_map.bind("").match(path, method="GET")
    except HTTPException:
        return False
    action = action_of(current_app.view_functions.get(endpoint))
    return action == PUBLIC or (action is not None and can(user, action))
