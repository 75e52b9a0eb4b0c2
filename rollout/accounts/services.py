"""Accounts: creating users, authenticating with throttling, passwords, departments."""
from __future__ import annotations

import re
from datetime import timedelta

from flask import current_app, has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from rollout.accounts.models import ROLES, Department, User, new_token
from rollout.accounts.passwords import hash_password, password_problem, verify_password
from rollout.audit.models import AuditEntry
from rollout.audit.services import record_event
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.timeutil import local_today, utcnow


class LoginThrottled(ServiceError):
    """Too many failed logins recently for this account or address."""


#: Roles whose data scope is their own department: without one they would see nothing of use.
ROLES_NEEDING_A_DEPARTMENT = ("head", "staff")


def check_account(username: str, roles, department: Department | None, user: User | None = None) -> str:
    """The username to store, after the rules every account follows; ``user`` is the one being edited."""
    username = (username or "").strip()
    if not username:
        raise ServiceError(_("A username is required."), "username")
    if any(character.isspace() for character in username):
        raise ServiceError(_("A username cannot contain spaces."), "username")
    taken = select(User.id).where(func.lower(User.username) == username.lower())
    if user is not None:
        taken = taken.where(User.id != user.id)
    if db.session.scalar(taken):
        raise ServiceError(_("The username %(name)s is taken.", name=username), "username")
    if set(roles) - set(ROLES) or not roles:
        raise ServiceError(_("Choose at least one valid role."), "roles")
    if department is None and set(roles) & set(ROLES_NEEDING_A_DEPARTMENT):
        raise ServiceError(_("A department head or staff member needs a department."), "department_id")
    return username


def create_user(username: str, display_name: str, password: str, roles, department: Department | None = None,
                email: str | None = None, is_seed_user: bool = False, check_password: bool = True) -> User:
    """Create a user after checking the account rules and that the password is acceptable."""
    username = check_account(username, roles, department)
    if check_password:
        problem = password_problem(password, username)
        if problem:
            raise ServiceError(problem, "password")
    user = User(username=username, display_name=display_name or username, email=email,
                password_hash=hash_password(password), department=department, is_seed_user=is_seed_user)
    user.set_roles(roles)
    db.session.add(user)
    db.session.flush()
    return user


def _recent_failures(*conditions) -> int:
    since = utcnow() - timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "login_failed", AuditEntry.created_at >= since, *conditions)) or 0


def check_throttle(username: str, ip: str | None) -> None:
    """Refuse a login attempt when this account or address failed too often lately.

    The low limit counts an account's failures from one address: someone guessing at a colleague's
    password locks only their own machine out, not the colleague. A higher limit across all
    addresses stops guessing spread over many machines, and one per address stops trying many
    accounts (an office behind one NAT address shares it, hence its height).
    """
    config = current_app.config
    if ip and _recent_failures(AuditEntry.ip == ip) >= config["LOGIN_MAX_FAILURES_PER_IP"]:
        raise LoginThrottled(_("Too many failed logins from this address. Try again later."))
    if not username:
        return
    account = AuditEntry.entity_id == username.lower()
    if (ip and _recent_failures(account, AuditEntry.ip == ip) >= config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]) or \
            _recent_failures(account) >= config["LOGIN_MAX_FAILURES_PER_ACCOUNT_ALL_ADDRESSES"]:
        raise LoginThrottled(_("Too many failed logins for this account. Try again later."))


def authenticate(username: str, password: str, ip: str | None) -> User | None:
    """Return the user when the credentials are right; record the attempt either way."""
    username = (username or "").strip()
    check_throttle(username, ip)
    user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        # entity_id carries the lowercased username so per-account throttling works for unknown names too.
        record_event("login_failed", entity="session", entity_id=username.lower()[:64],
                     user=user if user is not None else None)
        return None
    user.last_login_at = utcnow()
    if has_request_context():
        from rollout import browser_locale
        user.browser_locale = browser_locale()
    record_event("login", entity="session", entity_id=username.lower()[:64], user=user)
    return user


def change_password(user: User, current: str | None, new: str, check_current: bool = True) -> None:
    """Set a new password and end the user's other sessions."""
    if check_current and not verify_password(user.password_hash, current or ""):
        raise ServiceError(_("The current password is wrong."), "current_password")
    problem = password_problem(new, user.username)
    if problem:
        raise ServiceError(problem, "new_password")
    if verify_password(user.password_hash, new):
        raise ServiceError(_("The new password must differ from the current one."), "new_password")
    user.password_hash = hash_password(new)
    user.session_token = new_token()


def username_order() -> tuple:
    """ORDER BY clauses for usernames in natural order: u1, u2, …, u10, u100; rep, rep2, rep10.

    The digits a username ends with compare as a number: names first compare without them, then a shorter
    tail (a smaller number) comes first. SQLite and PostgreSQL both have rtrim(text, characters), so the list
    pages in SQL; id breaks what is left of ties.
    """
    return (func.rtrim(User.username, "0123456789"), func.length(User.username), User.username, User.id)


def department_choices(include_company: bool = True) -> list[tuple[int, str]]:
    """Departments as (id, indented name) in tree order, for select fields."""
    departments = db.session.scalars(select(Department).order_by(Department.name)).all()
    children: dict[int | None, list[Department]] = {}
    for department in departments:
        children.setdefault(department.parent_id, []).append(department)
    result: list[tuple[int, str]] = []

    def walk(parent_id, depth):
        for department in children.get(parent_id, []):
            if include_company or department.kind != "company":
                result.append((department.id, "\u3000" * depth + department.name))
            walk(department.id, depth + 1)

    walk(None, 0)
    return result


def tree_shape_problem(kind: str, parent_kind: str | None):
    """Why a department of ``kind`` cannot sit under a parent of ``parent_kind`` (None: no parent), if it cannot.

    The tree reads company → departments → teams: access scopes and readiness count on that shape.
    """
    if kind == "department" and parent_kind in (None, "team"):
        return _l("A department sits under the company or another department.")
    if kind == "team" and parent_kind in (None, "company"):
        return _l("A team sits under a department.")
    return None


def is_department_code(code: str) -> bool:
    """Codes are typed into rules, imports and the command line: one word of letters, digits, - and _."""
    return re.fullmatch(r"[A-Za-z0-9_-]+", code) is not None


def ensure_department_code(department: Department) -> str:
    """The department's code; one without a code (rules refer to departments by code) is given a free one,
    ``dept-<id>`` (``dept-<id>-2``, … if an administrator typed that one for another department)."""
    if department.code:
        return department.code
    db.session.flush()  # a new department needs its id
    base = candidate = f"dept-{department.id}"
    n = 1
    while db.session.scalar(select(Department.id).where(Department.code == candidate)) is not None:
        n += 1
        candidate = f"{base}-{n}"
    department.code = candidate
    db.session.flush()
    return candidate


def save_department(department: Department | None, name: str, kind: str, parent_id: int | None,
                    code: str | None = None, go_live_on=None, confirmed_past: str | None = None,
                    today=None) -> Department:
    """Create or update a department, refusing cycles in the tree."""
    name = name.strip()
    if not name:
        raise ServiceError(_("A name is required."), "name")
    parent = db.session.get(Department, parent_id) if parent_id else None
    if parent_id and parent is None:
        raise ServiceError(_("The parent department does not exist."), "parent_id")
    if department is not None and parent is not None:
        ancestor = parent
        while ancestor is not None:
            if ancestor.id == department.id:
                raise ServiceError(_("A department cannot be placed under itself."), "parent_id")
            ancestor = ancestor.parent
    if department is not None and department.kind == "company" and kind != "company":
        raise ServiceError(_("The company stays at the top of the tree: it cannot become a department."), "kind")
    if kind == "company":
        # One company at the top of the tree: go-live, rankings and company plans count on it.
        other_company = select(Department.name).where(Department.kind == "company")
        if department is not None:
            other_company = other_company.where(Department.id != department.id)
        existing = db.session.scalar(other_company.limit(1))
        if existing is not None:
            raise ServiceError(_("%(name)s is already the company; add departments under it.", name=existing),
                               "kind")
        if parent is not None:
            raise ServiceError(_("The company is at the top: it has no parent."), "parent_id")
    problem = tree_shape_problem(kind, parent.kind if parent is not None else None)
    if problem:
        raise ServiceError(str(problem), "parent_id")
    duplicate = select(Department.id).where(Department.name == name, Department.parent_id.is_(parent_id)
                                            if parent_id is None else Department.parent_id == parent_id)
    if department is not None:
        duplicate = duplicate.where(Department.id != department.id)
    if db.session.scalar(duplicate):
        raise ServiceError(_("A department with this name already exists here."), "name")
    code = (code or "").strip() or None
    if code is not None and not is_department_code(code):
        raise ServiceError(_("A code is letters, digits, “-” and “_” only, e.g. sales-1."), "code")
    if code is not None:
        taken = select(Department).where(Department.code == code)
        if department is not None:
            taken = taken.where(Department.id != department.id)
        holder = db.session.scalar(taken)
        if holder is not None:
            raise ServiceError(_("The code %(code)s is already used by %(name)s.", code=code, name=holder.name), "code")
    if department is None:
        department = Department()
        db.session.add(department)
    department.name, department.kind, department.parent = name, kind, parent
    # imported here: rollout.dashboard imports accounts
    from rollout.dashboard.services import PastGoLiveToConfirm, check_go_live
    check_go_live(department, go_live_on)  # the go-live plan's own rule (inside its phase)
    # A go-live date that has passed is most often a mistyped year: as on the rollout plan, it is saved only
    # once the user confirmed that very date (``confirmed_past``: its ISO form); an unchanged date is kept.
    today = today or local_today()
    if (go_live_on is not None and go_live_on < today and go_live_on != department.go_live_on
            and confirmed_past != go_live_on.isoformat()):
        raise PastGoLiveToConfirm(department, go_live_on, today)
    department.code = code
    department.go_live_on = go_live_on
    db.session.flush()
    return department


def people_to_review(department: Department) -> list[User]:
    """The active accounts of a department and its teams, whose roles its head confirms."""
    from rollout.access import subtree_ids
    return list(db.session.scalars(
        select(User).where(User.department_id.in_(subtree_ids(department.id)), User.is_active_account.is_(True))
        .options(selectinload(User.department), selectinload(User.role_rows))
        .order_by(User.department_id, User.display_name)))


def confirm_roles(department: Department) -> int:
    """Record that everyone's roles in ``department`` and its teams were checked today; returns how many."""
    people = people_to_review(department)
    now = utcnow()
    for person in people:
        person.roles_reviewed_at = now
    db.session.flush()
    return len(people)


def ask_for_role_change(person: User, note: str, actor: User) -> int:
    """A reviewer asks the administrators to change someone's roles; returns how many were told."""
    note = (note or "").strip()
    if not note:
        raise ServiceError(_("Say what should change."), "note")
    if len(note) > 1000:
        raise ServiceError(_("At most %(n)d characters.", n=1000), "note")
    from rollout.notify.services import notify
    record_event("roles.change_requested", entity="users", entity_id=person.id, detail=note)
    admins = users_with_roles(["admin"])
    notify(admins, "roles.change_requested",
           _l("Role change asked for %(name)s", name=person.display_name),
           _l("%(actor)s asks: %(note)s", actor=actor.display_name, note=note), link=f"/admin/users/{person.id}")
    return len(admins)


def users_with_roles(roles, department_ids=None) -> list[User]:
    """Active users having any of ``roles`` (optionally only in some departments)."""
    from rollout.accounts.models import UserRole
    query = select(User).join(UserRole).where(UserRole.role.in_(list(roles)), User.is_active_account.is_(True))
    if department_ids is not None:
        query = query.where(User.department_id.in_(list(department_ids)))
    return list(db.session.scalars(query.distinct()).all())
