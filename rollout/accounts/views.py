"""Login, logout, language, profile, and the admin pages for users and departments."""
from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from rollout.access import PUBLIC, authorize, can, require
from rollout.accounts import services, sign_in_links
from rollout.accounts.forms import DepartmentForm, LoginForm, NewPasswordForm, PasswordForm, ProfileForm, UserForm
from rollout.accounts.models import Department, User
from rollout.accounts.passwords import hash_password, password_problem
from rollout.audit.services import client_ip, record_event
from rollout.database import contains_text
from rollout.errors import ServiceError
from rollout.extensions import db, limiter
from rollout.reports.exports import FORMATS, Column, export_response
from rollout.reports.lists import user_columns
from rollout.timeutil import utcnow
from rollout.web import apply_service_error, paginate, redirect_back, safe_next

bp = Blueprint("accounts", __name__)
NO_DEPARTMENT = 0


@bp.route("/login", methods=["GET", "POST"])
@require(PUBLIC)
@limiter.limit("60 per minute", methods=["POST"])
def login():
    form = LoginForm()
    next_url = safe_next(request.values.get("next"))
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.username.data, form.password.data, client_ip())
        except services.LoginThrottled as error:
            g.commit_anyway = True
            return render_template("accounts/login.html", form=form, next_url=next_url, error=error.message), 429
        if user is None:
            g.commit_anyway = True  # keep the failed-login audit row for throttling
            return render_template("accounts/login.html", form=form, next_url=next_url,
                                   error=_("Wrong username or password.")), 401
        lang = session.get("lang")
        session.clear()  # no session fixation: nothing from before login survives
        if lang:
            session["lang"] = lang
        login_user(user)
        return redirect(next_url or url_for("dashboard.home"))
    status = 422 if form.errors else 200
    return render_template("accounts/login.html", form=form, next_url=next_url, error=None), status


@bp.route("/logout", methods=["POST"])
@require("home.view")
def logout():
    record_event("logout", entity="session", entity_id=current_user.username.lower())
    # A new session key ends this session for good: a copy of its cookie (a shared PC) no longer
    # signs in. The user's sessions on other devices end with it.
    current_user.session_token = services.new_token()
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/language", methods=["POST"])
@require(PUBLIC)
def set_language():
    lang = request.form.get("lang", "")
    if lang not in ("zh_CN", "en"):
        flash(_("Unknown language."), "danger")
        return redirect_back("dashboard.home"), 303
    session["lang"] = lang
    if current_user.is_authenticated:
        current_user.locale = lang
    return redirect_back("dashboard.home")


@bp.route("/profile", methods=["GET", "POST"])
@require("profile.edit")
def profile():
    user = current_user._get_current_object()
    form = ProfileForm(obj=user, prefix="profile")
    password_form = PasswordForm(prefix="password")
    if request.method == "POST" and "profile-display_name" in request.form:
        if form.validate_on_submit():
            user.display_name = form.display_name.data.strip()
            user.email = (form.email.data or "").strip().lower() or None
            user.locale = form.locale.data or None
            if user.locale:
                session["lang"] = user.locale
            else:
                session.pop("lang", None)  # the browser's language from now on
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("accounts.profile"))
    elif request.method == "POST":
        if password_form.validate_on_submit():
            try:
                services.change_password(user, password_form.current_password.data, password_form.new_password.data)
            except ServiceError as error:
                apply_service_error(password_form, error)
            else:
                login_user(user)  # this session carries the new token; the others end
                flash(_("Your password is changed; your other sessions have ended."), "success")
                return redirect(url_for("accounts.profile"))
    status = 422 if (form.errors or password_form.errors) else 200
    return render_template("accounts/profile.html", form=form, password_form=password_form), status


# --- administration -----------------------------------------------------------
def _department_field_choices(field, include_none=True):
    choices = services.department_choices()
    field.choices = ([(NO_DEPARTMENT, "—")] if include_none else []) + choices


def _users_query(search: str):
    """Users by username in natural order (u2 before u10), then those whose username, name, email or phone
    contains ``search``; a phone number is found however it was typed in ("139 0000 0000", "139-0000-0000",
    "+86 13900000000")."""
    import re

    from sqlalchemy import func
    query = select(User).order_by(*services.username_order())
    if search:
        condition = (contains_text(User.username, search) | contains_text(User.display_name, search)
                     | contains_text(User.email, search) | contains_text(User.phone, search))
        digits = re.sub(r"[\s\-().]", "", search).removeprefix("+86").removeprefix("+")
        if digits.isascii() and digits.isdigit() and len(digits) >= 3:
            bare_phone = User.phone
            for separator in (" ", "-", "(", ")", ".", "+86", "+"):
                bare_phone = func.replace(bare_phone, separator, "")
            condition = condition | contains_text(bare_phone, digits)
        query = query.where(condition)
    return query.options(db.joinedload(User.department))


@bp.route("/admin/users")
@require("users.manage")
def users():
    search = request.args.get("q", "").strip()[:100]
    page = paginate(_users_query(search), per_page=50)
    return render_template("accounts/users.html", page=page, search=search,
                           without_password=sign_in_links.count_without_password())


@bp.route("/admin/users/export.<fmt>")
@require("users.manage")
def export_users(fmt):
    """The users list as XLSX or CSV, with the page's search applied."""
    authorize("data.export")
    if fmt not in FORMATS:
        abort(404)
    search = request.args.get("q", "").strip()[:100]
    rows = db.session.scalars(_users_query(search)).unique().all()
    return export_response(_("users"), user_columns(), rows, fmt, entity="users", filters={"q": search})


@bp.route("/admin/users/new", methods=["GET", "POST"])
@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@require("users.manage")
def edit_user(user_id=None):
    user = db.get_or_404(User, user_id) if user_id else None
    form = UserForm(obj=user)
    if user is None:  # "leave empty to keep it" is for an existing account
        form.password.description = ""
    _department_field_choices(form.department_id)
    if request.method == "GET" and user is not None:
        form.roles.data = sorted(user.roles)
        form.department_id.data = user.department_id or NO_DEPARTMENT
    if form.validate_on_submit():
        department = db.session.get(Department, form.department_id.data) if form.department_id.data else None
        try:
            if user is None:
                if not form.password.data:
                    raise ServiceError(_("A password is required for a new user."), "password")
                user = services.create_user(form.username.data, form.display_name.data, form.password.data,
                                            form.roles.data, department, form.email.data or None,
                                            form.is_seed_user.data)
                user.is_active_account = form.is_active_account.data
            else:
                _update_user(user, form, department)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("User %(name)s is saved.", name=user.username), "success")
            return redirect(url_for("accounts.users"))
    status = 422 if form.errors else 200
    return render_template("accounts/user_form.html", form=form, user=user), status


@bp.route("/admin/users/<int:user_id>/sign-in-link", methods=["POST"])
@require("users.manage")
def issue_sign_in_link(user_id):
    """Shown once, not stored: the administrator hands it over (or it goes by email)."""
    user = db.get_or_404(User, user_id)
    try:
        if user.id == current_user.id:  # it would end this very session; one's own password is on the profile
            raise ServiceError(_("Change your own password on your profile page."))
        url, valid_until = sign_in_links.issue(user)
    except ServiceError as error:
        flash(error.message, "danger")
        return redirect(url_for("accounts.edit_user", user_id=user.id)), 303
    emailed = sign_in_links.email(user, url, valid_until)
    return render_template("accounts/sign_in_link_issued.html", user=user, url=url, valid_until=valid_until,
                           emailed=emailed)


@bp.route("/admin/users/sign-in-links.xlsx", methods=["POST"])
@require("users.manage")
def export_sign_in_links():
    """Links for every account an import made without a password, as a workbook to hand out."""
    authorize("data.export")
    issued = sign_in_links.issue_for_accounts_without_password()
    if not issued:
        flash(_("Every active account already has a password."), "info")
        return redirect(url_for("accounts.users")), 303
    columns = [Column(_("Username"), lambda row: row[0].username),
               Column(_("Name"), lambda row: row[0].display_name),
               Column(_("Department"), lambda row: row[0].department.name if row[0].department else None),
               Column(_("Email"), lambda row: row[0].email),
               Column(_("Sign-in link"), lambda row: row[1]),
               Column(_("Valid until"), lambda row: row[2], "datetime")]
    return export_response(_("sign-in links"), columns, issued, "xlsx", entity="users")


@bp.route("/sign-in/<token>", methods=["GET", "POST"])
@require(PUBLIC)
@limiter.limit("30 per minute", methods=["POST"])
def sign_in_link(token):
    """The link's owner chooses a password and is signed in."""
    try:
        user = sign_in_links.user_of(token)
    except ServiceError as error:
        return render_template("accounts/sign_in_link.html", error=error.message, form=None, user=None), 410
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            sign_in_links.set_password(user, form.new_password.data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            lang = session.get("lang")
            session.clear()  # whoever was signed in on this browser is not any more
            if lang:
                session["lang"] = lang
            user.last_login_at = utcnow()
            login_user(user)
            flash(_("Your password is set. Welcome, %(name)s.", name=user.display_name), "success")
            return redirect(url_for("dashboard.home"))
    status = 422 if form.errors else 200
    return render_template("accounts/sign_in_link.html", error=None, form=form, user=user), status


def _update_user(user, form, department):
    username = services.check_account(form.username.data, form.roles.data, department, user)
    if user.id == current_user.id and "admin" not in form.roles.data:
        raise ServiceError(_("You cannot remove your own administrator role."), "roles")
    user.username, user.display_name = username, form.display_name.data.strip()
    user.email = (form.email.data or "").strip().lower() or None
    user.department = department
    if set(form.roles.data) != user.roles:
        user.set_roles(form.roles.data)
    user.is_seed_user = form.is_seed_user.data
    user.is_active_account = form.is_active_account.data
    if form.password.data:
        problem = password_problem(form.password.data, username)
        if problem:
            raise ServiceError(problem, "password")
        user.password_hash = hash_password(form.password.data)
        user.session_token = services.new_token()


def _department_to_review(department_id: int) -> Department:
    department = db.get_or_404(Department, department_id)
    authorize("roles.review", department)
    return department


@bp.route("/departments/roles")
@require("roles.review")
def my_role_review():
    """The menu's way in: an admin picks a department, a head reviews their own."""
    if can(current_user, "departments.manage") or current_user.department_id is None:
        return redirect(url_for("accounts.departments"))
    return redirect(url_for("accounts.role_review", department_id=current_user.department_id))


@bp.route("/departments/<int:department_id>/roles")
@require("roles.review")
def role_review(department_id):
    """Who holds which roles in a department and its teams, for its head to confirm or question."""
    department = _department_to_review(department_id)
    return render_template("accounts/role_review.html", department=department,
                           people=services.people_to_review(department), now=utcnow())


@bp.route("/departments/<int:department_id>/roles/confirm", methods=["POST"])
@require("roles.review")
def review_roles(department_id):
    department = _department_to_review(department_id)
    count = services.confirm_roles(department)
    flash(ngettext("The roles of %(num)d person in %(name)s are confirmed.",
                   "The roles of %(num)d people in %(name)s are confirmed.", count, name=department.name), "success")
    return redirect(url_for("accounts.role_review", department_id=department.id))


@bp.route("/departments/<int:department_id>/roles/<int:user_id>/ask", methods=["POST"])
@require("roles.review")
def ask_for_role_change(department_id, user_id):
    department = _department_to_review(department_id)
    person = db.get_or_404(User, user_id)
    if person not in services.people_to_review(department):
        abort(404)
    try:
        services.ask_for_role_change(person, request.form.get("note", ""), current_user)
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(url_for("accounts.role_review", department_id=department.id)), 303
    flash(_("The administrators are asked to change the roles of %(name)s.", name=person.display_name), "success")
    return redirect(url_for("accounts.role_review", department_id=department.id))


@bp.route("/admin/departments")
@require("departments.manage")
def departments():
    rows = services.department_choices()
    by_id = {d.id: d for d in db.session.scalars(select(Department))}
    own = dict(db.session.execute(select(User.department_id, db.func.count()).group_by(User.department_id)).all())
    # A department's people include its teams'.
    from rollout.access import subtree_ids
    counts = {dept_id: sum(own.get(member, 0) for member in subtree_ids(dept_id)) for dept_id in by_id}
    return render_template("accounts/departments.html", rows=rows, by_id=by_id, counts=counts)


@bp.route("/admin/departments/new", methods=["GET", "POST"])
@bp.route("/admin/departments/<int:department_id>", methods=["GET", "POST"])
@require("departments.manage")
def edit_department(department_id=None):
    department = db.get_or_404(Department, department_id) if department_id else None
    form = DepartmentForm(obj=department)
    _department_field_choices(form.parent_id)
    if department is not None:  # not under itself
        form.parent_id.choices = [choice for choice in form.parent_id.choices if choice[0] != department.id]
    if request.method == "GET" and department is not None:
        form.parent_id.data = department.parent_id or NO_DEPARTMENT
    from rollout.dashboard.services import PastGoLiveToConfirm  # imported here: rollout.dashboard imports accounts
    confirm = None  # a past go-live date the user is asked to confirm
    if form.validate_on_submit():
        try:
            department = services.save_department(department, form.name.data, form.kind.data,
                                                  form.parent_id.data or None, form.code.data, form.go_live_on.data,
                                                  confirmed_past=request.form.get("confirm_past"))
        except PastGoLiveToConfirm as question:
            confirm = question
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("Department %(name)s is saved.", name=department.name), "success")
            return redirect(url_for("accounts.departments"))
    status = 422 if form.errors or confirm else 200
    return render_template("accounts/department_form.html", form=form, department=department,
                           confirm=confirm), status
