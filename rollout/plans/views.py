"""Sales-plan pages: plans and plan vs actual, customers and the pool, follow-ups, deals,
quotes and approval, campaigns and leads, and the admin settings."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from rollout import figures
from rollout.access import (authorize, can, department_scope_ids, head_scope_ids, may_view_customer, require,
                            scope_clause, subtree_ids)
from rollout.accounts.models import Department, User, UserRole
from rollout.accounts.services import department_choices
from rollout.audit.services import history_of
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.plans import forms, reminders, services
from rollout.plans.models import (METRICS, OPEN_STAGES, STAGES, Activity, Campaign, Customer, CustomerAssignment,
                                  CustomerField, Lead, LostReason, Opportunity, Quote, QuoteApprovalRule,
                                  QuoteApprovalStep, SalesPlan, SalesSetting, StageChange)
from rollout.reports.calendar import register_feed_provider
from rollout.reports.charts import no_data_yet, svg_chart
from rollout.reports.exports import Column, export_response
from rollout.timeutil import local_to_utc, local_today, to_local, utcnow
from rollout.web import apply_service_error, page_number, paginate, redirect_back

bp = Blueprint("plans", __name__)
NONE = forms.NONE
#: Matches of a customer search, and follow-ups, counted at most ("more than 1000").
SEARCH_COUNT_LIMIT = 1000
register_feed_provider(services.calendar_items)


@bp.app_context_processor
def plan_labels():
    return {"pool_clock": reminders.pool_clock,
            "metric_labels": services.METRIC_LABELS, "stage_labels": services.STAGE_LABELS,
            "activity_labels": services.ACTIVITY_LABELS, "period_labels": services.PERIOD_LABELS,
            "level_labels": services.LEVEL_LABELS, "plan_status_labels": services.PLAN_STATUS_LABELS,
            "quote_status_labels": services.QUOTE_STATUS_LABELS, "step_status_labels": services.STEP_STATUS_LABELS,
            "lead_status_labels": services.LEAD_STATUS_LABELS, "field_kind_labels": services.FIELD_KIND_LABELS,
            "assignment_labels": services.ASSIGNMENT_LABELS,
            "system_text": lambda text: services.SYSTEM_TEXT_LABELS.get(text, text),
            "stage_probability": services.STAGE_PROBABILITY, "display_extra": services.display_extra,
            "dial_uri": services.dial_uri,
            "sales_tab_bar": lambda: services.sales_tab_bar(_me(), request.endpoint)}


def _signed_amount_chart(title: str, labels: list[str], series: dict[str, list]):
    """The weekly signed amount against the target's line; words instead of an empty 0–1 axis when
    nothing is won and no target is set."""
    if not any(value for values in series.values() for value in values):
        return no_data_yet(title, _("No data yet: no deal has been won in this period and the plan sets no "
                                    "signed-amount target."))
    return svg_chart("line", title, labels, series, height=300)


def _me() -> User:
    return current_user._get_current_object()


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 10 else None


def _date_arg(name: str) -> date | None:
    try:
        value = date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None
    return value if services.EARLIEST <= value <= services.LATEST else None


def _campaign_choices(field) -> None:
    field.choices = [(NONE, "—")] + [(c.id, c.name) for c in db.session.scalars(
        select(Campaign).order_by(Campaign.starts_on.desc()))]


def _sales_people(department_ids=None) -> list:
    """Active staff (reps), optionally only in some departments: rows of id and display_name."""
    query = select(User.id, User.display_name).join(UserRole).where(
        UserRole.role == "staff", User.is_active_account.is_(True))
    if department_ids is not None:
        query = query.where(User.department_id.in_(sorted(department_ids) or [-1]))
    return list(db.session.execute(query.order_by(User.display_name).distinct()))


def _people_i_manage(user: User) -> list:
    if user.has_role("admin", "lead"):
        sales = db.session.scalar(select(Department.id).where(Department.code == "sales"))
        return _sales_people(subtree_ids(sales) if sales else None)
    return _sales_people(head_scope_ids(user))


def _customer_or_404(customer_id: int) -> Customer:
    customer = db.session.get(Customer, customer_id)
    if customer is None or customer.deleted_at is not None:
        abort(404)
    return customer


def _refused(form, error: ServiceError) -> None:
    """A service's refusal shown at its field, or at each field it names (InvalidFields)."""
    apply_service_error(form, error)
    for name, message in getattr(error, "errors", {}).items():
        if name == error.field:
            continue  # shown above
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors) + [message]
        else:
            flash(message, "danger")


def _history(table: str, entity_id) -> list:
    return history_of(table, entity_id)


# --- plans ---------------------------------------------------------------------------------------
@bp.route("/plans")
@require("plans.view")
def index():
    me = _me()
    query = select(SalesPlan).where(scope_clause(me, "plans.view", department_column=SalesPlan.department_id,
                                                 owner_column=SalesPlan.user_id))
    status = request.args.get("status", "")
    if status in services.PLAN_STATUS_LABELS:
        query = query.where(SalesPlan.status == status)
    level = request.args.get("level", "")
    if level in services.LEVEL_LABELS:
        query = query.where(SalesPlan.level == level)
    query = query.options(db.joinedload(SalesPlan.department), db.joinedload(SalesPlan.user),
                          db.selectinload(SalesPlan.targets))
    page = paginate(query.order_by(SalesPlan.starts_on.desc(), SalesPlan.level, SalesPlan.id))
    progress = services.plan_progress(me)
    return render_template("plans/index.html", page=page, status=status, level=level, progress=progress,
                           title_of=services.plan_title)


def _plan_form_choices(form: forms.PlanForm, me: User) -> None:
    allowed = None if me.has_role("admin", "lead") else head_scope_ids(me)
    departments = [(i, n) for i, n in department_choices() if allowed is None or i in allowed]
    form.department_id.choices = [(NONE, "—")] + departments
    form.user_id.choices = [(NONE, "—")] + [(u.id, u.display_name) for u in _people_i_manage(me)]
    if allowed is not None:
        # A head plans for the units they manage: a team head has no company or department plan to make.
        kinds = {kind for kind in db.session.scalars(select(Department.kind).where(
            Department.id.in_([i for i, _name in departments] or [-1])))}
        form.level.choices = [(level, label) for level, label in form.level.choices
                              if level == "rep" or level in kinds]
        if request.method == "GET":
            form.level.data = "team" if "team" in kinds else "rep"


@bp.route("/plans/new", methods=["GET", "POST"])
@require("plans.edit")
def new_plan():
    me = _me()
    form = forms.PlanForm()
    _plan_form_choices(form, me)
    if request.method == "GET":
        form.starts_on.data = local_today()
        form.period_kind.data = "quarter"
    if form.validate_on_submit():
        level = form.level.data
        department_id = form.department_id.data or None
        user_id = form.user_id.data or None
        probe = SalesPlan(level=level, department_id=department_id if level != "rep" else (
            db.session.get(User, user_id).department_id if user_id and db.session.get(User, user_id) else None),
            user_id=user_id)
        if probe.department_id is not None:  # without one the service explains what is missing
            authorize("plans.edit", probe)
        try:
            plan = services.create_plan(me, form.period_kind.data, form.starts_on.data, level,
                                        {m: getattr(form, m).data for m in METRICS}, department_id=department_id,
                                        user_id=user_id, note=form.note.data)
        except ServiceError as error:
            _refused(form, error)
        else:
            flash(_("The plan is saved as a draft."), "success")
            return redirect(url_for("plans.plan", plan_id=plan.id))
    return render_template("plans/plan_form.html", form=form), 422 if form.errors else 200


@bp.route("/plans/<int:plan_id>", methods=["GET", "POST"])
@require("plans.view")
def plan(plan_id):
    plan = db.get_or_404(SalesPlan, plan_id)
    authorize("plans.view", plan)
    me = _me()
    targets_form = forms.TargetsForm(prefix="t")
    decision_form = forms.PlanDecisionForm(prefix="d")
    # Only the decisions the plan's state allows: approve or return a submitted plan, close an approved one.
    decision_form.action.choices = [(action, label) for action, label in decision_form.action.choices
                                    if plan.status in services.PLAN_TRANSITIONS[action][0]]
    status = 200
    if request.method == "GET":
        for metric in METRICS:
            value = plan.target(metric)
            if value is not None and metric != "signed_amount":
                value = value.to_integral_value()
            getattr(targets_form, metric).data = "" if value is None else str(value)
    elif targets_form.validate_on_submit() and "t-reason" in request.form:
        authorize("plans.edit", plan)
        try:
            services.update_targets(plan, me, {m: getattr(targets_form, m).data for m in METRICS},
                                    targets_form.reason.data)
        except ServiceError as error:
            _refused(targets_form, error)
            status = 422
        else:
            flash(_("Targets saved. The plan waits for approval again.") if plan.status == "submitted"
                  else _("Targets saved."), "success")
            return redirect(url_for("plans.plan", plan_id=plan.id))
    else:
        status = 422
    if targets_form.errors:
        status = 422
    actual = services.plan_progress_for(plan)
    labels, series = services.weekly_trend(plan.starts_on, plan.ends_on, department_id=plan.department_id,
                                           user_id=plan.user_id, target=plan.target("signed_amount"))
    chart = _signed_amount_chart(_("Signed amount by week"), labels, series)
    return render_template("plans/plan.html", plan=plan, targets_form=targets_form, decision_form=decision_form,
                           warnings=services.rollup_warnings(plan), actual=actual, chart=chart,
                           history=_plan_history(plan), title=services.plan_title(plan),
                           revisions=plan_revisions(plan)), status


def _plan_history(plan) -> list:
    """The plan's own audit rows and its targets', newest first."""
    return history_of("sales_plans", plan.id, related={"plan_targets": [target.id for target in plan.targets]})


def plan_revisions(plan):
    from rollout.plans.models import PlanRevision
    return db.session.scalars(select(PlanRevision).where(PlanRevision.plan_id == plan.id)
                              .order_by(PlanRevision.created_at.desc())).all()


@bp.route("/plans/<int:plan_id>/submit", methods=["POST"])
@require("plans.edit")
def submit_plan(plan_id):
    plan = db.get_or_404(SalesPlan, plan_id)
    authorize("plans.edit", plan)
    try:
        services.transition_plan(plan, "submit", _me())
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(url_for("plans.plan", plan_id=plan.id)), 303
    flash(_("The plan is submitted for approval."), "success")
    return redirect(url_for("plans.plan", plan_id=plan.id))


@bp.route("/plans/<int:plan_id>/decide", methods=["POST"])
@require("plans.approve")
def decide_plan(plan_id):
    plan = db.get_or_404(SalesPlan, plan_id)
    authorize("plans.approve", plan)
    form = forms.PlanDecisionForm(prefix="d")
    if not form.validate_on_submit():
        flash(_("Choose a decision."), "danger")
        return redirect(url_for("plans.plan", plan_id=plan.id)), 303
    try:
        services.transition_plan(plan, form.action.data, _me(), form.note.data)
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(url_for("plans.plan", plan_id=plan.id)), 303
    flash(_("Plan status: %(status)s.", status=services.PLAN_STATUS_LABELS[plan.status]), "success")
    return redirect(url_for("plans.plan", plan_id=plan.id))


@bp.route("/plans/actual")
@require("plans.view")
@figures.whole_page_cached
def actual():
    me = _me()
    period_kind = request.args.get("period", "quarter")
    if period_kind not in services.PERIOD_LABELS:
        period_kind = "quarter"
    day = _date_arg("day") or local_today()
    level = request.args.get("level", "company")
    if level not in ("company", "department", "team"):
        level = "company"
    parent_id = _int_arg("unit")
    if not me.has_role("admin", "lead"):
        # Heads start at the department or team they head, reps at their own team; nobody drills into others.
        if parent_id not in head_scope_ids(me) or not me.has_role("head"):
            if me.has_role("head"):
                parent_id, level = me.department_id, "department"
            else:
                own = db.session.get(Department, me.department_id) if me.department_id else None
                parent_id = own.id if own else None
                level = "team" if own is not None and own.kind == "team" else "department"
    unit = db.session.get(Department, parent_id) if parent_id else None
    if unit is not None:
        level = unit.kind  # the unit decides its level, whatever the query string says
    campaign_id = _int_arg("campaign")
    focus_user = _int_arg("rep")

    def context() -> dict:
        report = services.plan_vs_actual(period_kind, day, level, parent_id, viewer=me)
        focus = next((c for c in report["children"] if focus_user and c.user_id == focus_user), None) \
            or report["parent"]
        chart = None
        if focus is not None:
            labels, series = services.weekly_trend(report["start"], report["end"],
                                                   department_id=None if focus.user_id else focus.department_id,
                                                   user_id=focus.user_id, target=focus.target("signed_amount"))
            chart = _signed_amount_chart(_("%(name)s: signed amount by week", name=focus.name), labels, series)
        # The campaigns as far as this report reaches: the rep's own deals, or the unit's.
        parent = report["parent"]
        # Those who set plans (rollout/access.py) see a unit's campaigns; a rep sees their own deals only.
        if not can(me, "plans.edit") or (parent is not None and parent.user_id):
            scope = {"owner_id": parent.user_id if parent is not None and parent.user_id else me.id}
        elif parent is not None and parent.department_id:
            scope = {"department_ids": subtree_ids(parent.department_id)}
        else:
            scope = {}
        campaigns = [row for row in services.campaign_report(report["start"], report["end"], **scope)
                     if campaign_id is None or row["campaign"].id == campaign_id]
        # One step back up: the department above the unit shown, for those who may see it.
        above = db.session.get(Department, parent.department_id) if parent is not None and parent.department_id \
            else None
        above = above.parent if above is not None else None
        if above is not None and (above.kind == "company" or
                                  not can(me, "plans.view", SimpleNamespace(department_id=above.id))):
            above = None
        return {"report": report, "period_kind": period_kind, "day": day, "level": level, "chart": chart,
                "focus": focus, "campaigns": campaigns, "metrics": METRICS, "above": above,
                "elapsed_percent": int(report["elapsed"] * 100)}
    return render_template("plans/actual.html", body=figures.cached_page_body("plans/_actual_body.html", context))


# --- customers ----------------------------------------------------------------------------------------------
def _customer_filters(fields) -> dict:
    filters = {"q": services.search_text(request.args.get("q")), "owner_id": _int_arg("owner_id"),
               "campaign_id": _int_arg("campaign_id"), "stage": request.args.get("stage", ""),
               "fields": [f for f in fields if f.is_listed],
               "sort": services.sort_param("customers", request.args.get("sort"))}
    if filters["stage"] not in STAGES:
        filters["stage"] = ""
    for definition in filters["fields"]:
        filters[f"x_{definition.key}"] = request.args.get(f"x_{definition.key}", "").strip()[:100]
    return filters


def _customer_scope(me: User):
    return scope_clause(me, "customers.view", department_column=Customer.department_id,
                        owner_column=Customer.owner_id)


@bp.route("/customers")
@require("customers.view")
def customers():
    me = _me()
    fields = services.active_fields()
    filters = _customer_filters(fields)
    query = services.customer_query(filters, _customer_scope(me)).options(
        db.joinedload(Customer.owner), db.joinedload(Customer.campaign), db.joinedload(Customer.department))
    # A search on names, phones and emails cannot use an index: count its matches only up to a limit.
    page = paginate(query, count_limit=SEARCH_COUNT_LIMIT if filters["q"] else None)
    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.starts_on.desc())).all()
    owners = _people_i_manage(me) if me.has_role("admin", "lead", "head") else []
    # Only the list's own filters and sort go on to the export links (a stray "format" or "_anchor" would break
    # them); an unknown sort is left out.
    args = {k: v for k, v in request.args.items() if k in filters and k not in ("fields", "sort")}
    if filters["sort"]:
        args["sort"] = filters["sort"]
    return render_template("plans/customers.html", page=page, filters=filters, campaigns=campaigns, owners=owners,
                           listed_fields=filters["fields"], args=args)


@bp.route("/customers/export")
@require("data.export")
def export_customers():
    me = _me()
    if not can(me, "customers.view"):
        abort(403)
    fields = services.active_fields()
    filters = _customer_filters(fields)
    rows = db.session.scalars(services.customer_query(filters, _customer_scope(me)).options(
        db.joinedload(Customer.owner), db.joinedload(Customer.campaign), db.joinedload(Customer.department))).all()
    columns = [
        Column(_("Customer name"), "name"), Column(_("Phone"), "phone"), Column(_("Email"), "email"),
        Column(_("Industry"), "industry"), Column(_("City"), "city"),
        Column(_("Source"), lambda c: str(services.SYSTEM_TEXT_LABELS.get(c.source, c.source or ""))),
        Column(_("Owner"), lambda c: c.owner.display_name if c.owner else ""),
        Column(_("Department"), lambda c: c.department.name if c.department else ""),
        Column(_("Campaign"), lambda c: c.campaign.name if c.campaign else ""),
        # Stored UTC: the export writes local time.
        Column(_("Created"), "created_at", "datetime"),
        Column(_("Last follow-up"), "last_followup_at", "datetime"),
    ]
    for definition in fields:
        columns.append(Column(definition.label, lambda c, key=definition.key: services.display_extra(
            (c.extra or {}).get(key)), "text"))
    plain_filters = {k: v for k, v in filters.items() if k != "fields"}
    return export_response(_("customers"), columns, rows, request.args.get("format", "xlsx"),
                           entity="customers", filters=plain_filters)


def _extra_from_form(form, fields) -> dict:
    return {f.key: getattr(form, f"x_{f.key}").data for f in fields}


@bp.route("/customers/new", methods=["GET", "POST"])
@require("customers.edit")
def new_customer():
    me = _me()
    fields = services.active_fields()
    form = forms.customer_form_class(fields)()
    _campaign_choices(form.campaign_id)
    if form.validate_on_submit():
        try:
            customer = services.create_customer(
                form.name.data, me, phone=form.phone.data, email=form.email.data, industry=form.industry.data,
                city=form.city.data, address=form.address.data, source=form.source.data,
                campaign_id=form.campaign_id.data or None, extra=_extra_from_form(form, fields))
        except ServiceError as error:
            _refused(form, error)
        else:
            flash(_("Customer %(name)s is saved.", name=customer.name), "success")
            return redirect(url_for("plans.customer", customer_id=customer.id))
    return render_template("plans/customer_form.html", form=form, customer=None,
                           field_names=[f"x_{f.key}" for f in fields]), 422 if form.errors else 200


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@require("customers.edit")
def edit_customer(customer_id):
    customer = _customer_or_404(customer_id)
    authorize("customers.edit", customer)
    fields = services.active_fields()
    form = forms.customer_form_class(fields)(obj=customer)
    _campaign_choices(form.campaign_id)
    if request.method == "GET":
        form.campaign_id.data = customer.campaign_id or NONE
        for definition in fields:
            getattr(form, f"x_{definition.key}").data = (customer.extra or {}).get(definition.key)
    if form.validate_on_submit():
        try:
            services.update_customer(customer, _me(), name=form.name.data, phone=form.phone.data,
                                     email=form.email.data, industry=form.industry.data, city=form.city.data,
                                     address=form.address.data, source=form.source.data,
                                     campaign_id=form.campaign_id.data or None,
                                     extra=_extra_from_form(form, fields))
        except ServiceError as error:
            _refused(form, error)
        else:
            flash(_("Customer %(name)s is saved.", name=customer.name), "success")
            return redirect(url_for("plans.customer", customer_id=customer.id))
    return render_template("plans/customer_form.html", form=form, customer=customer,
                           field_names=[f"x_{f.key}" for f in fields]), 422 if form.errors else 200


def _activity_form(customer) -> forms.ActivityForm:
    form = forms.ActivityForm(prefix="a")
    form.opportunity_id.choices = [(NONE, "—")] + [(o.id, o.name) for o in db.session.scalars(
        select(Opportunity).where(Opportunity.customer_id == customer.id, Opportunity.stage.in_(OPEN_STAGES)))]
    steps = services.open_next_steps(customer, _me())
    form.done_step_ids.choices = [(step.id, f"{step.next_step_on} · {step.next_step}") for step in steps]
    if request.method == "GET":  # the steps already due are most likely what this follow-up did
        form.done_step_ids.data = [step.id for step in steps if step.next_step_on <= local_today()]
    return form


def _render_customer(customer, tab="overview", status=200, activity_form=None, contact_form=None, deal_form=None):
    me = _me()
    activity_form = activity_form or _activity_form(customer)
    if request.method == "GET" and activity_form.occurred_at.data is None:
        activity_form.occurred_at.data = to_local(utcnow()).replace(tzinfo=None, second=0, microsecond=0)
    contact_form = contact_form or forms.ContactForm(prefix="c")
    transfer_form = forms.TransferForm(prefix="tr")
    transfer_form.owner_id.choices = [(u.id, u.display_name) for u in _people_i_manage(me)]
    # All of a customer's history, a page at a time (years of follow-ups with a key account run to hundreds).
    activities = paginate(select(Activity).where(Activity.customer_id == customer.id)
                          .options(db.joinedload(Activity.user))
                          .order_by(Activity.occurred_at.desc(), Activity.id.desc()), per_page=50) \
        if tab == "activities" else None
    deals = db.session.scalars(select(Opportunity).where(Opportunity.customer_id == customer.id)
                               .order_by(Opportunity.created_at.desc())).all()
    quotes = db.session.scalars(select(Quote).where(Quote.customer_id == customer.id)
                                .order_by(Quote.created_at.desc())).all()
    fields = services.active_fields()
    history = _history("customers", customer.id) if tab == "history" else []
    assignments = db.session.scalars(select(CustomerAssignment).where(
        CustomerAssignment.customer_id == customer.id).order_by(CustomerAssignment.created_at.desc())).all() \
        if tab == "history" else []
    # Only the people the ownership history names, not the whole company's.
    named = {i for row in assignments for i in (row.from_user_id, row.to_user_id) if i is not None}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(sorted(named))))} if named else {}
    return render_template("plans/customer.html", customer=customer, tab=tab, activity_form=activity_form,
                           contact_form=contact_form, transfer_form=transfer_form, activities=activities,
                           deals=deals, quotes=quotes, fields=fields, history=history, assignments=assignments,
                           users=users, deal_form=deal_form or _deal_form(customer),
                           today=local_today()), status


def _deal_form(customer) -> forms.DealForm:
    form = forms.DealForm(prefix="o")
    _campaign_choices(form.campaign_id)
    if request.method == "GET":
        form.campaign_id.data = customer.campaign_id or NONE
    return form


@bp.route("/customers/<int:customer_id>")
@require("customers.view")
def customer(customer_id):
    customer = _customer_or_404(customer_id)
    if not may_view_customer(current_user, customer):
        abort(403)
    tab = request.args.get("tab", "overview")
    if tab not in ("overview", "activities", "deals", "quotes", "history"):
        tab = "overview"
    return _render_customer(customer, tab)


@bp.route("/customers/<int:customer_id>/contacts", methods=["POST"])
@require("customers.edit")
def add_contact(customer_id):
    customer = _customer_or_404(customer_id)
    authorize("customers.edit", customer)
    form = forms.ContactForm(prefix="c")
    if form.validate_on_submit():
        try:
            services.add_contact(customer, form.name.data, form.title.data, form.phone.data, form.email.data,
                                 form.is_primary.data)
        except ServiceError as error:
            _refused(form, error)
        else:
            flash(_("Contact added."), "success")
            return redirect(url_for("plans.customer", customer_id=customer.id))
    return _render_customer(customer, "overview", 422, contact_form=form)


@bp.route("/customers/<int:customer_id>/activities", methods=["POST"])
@require("customers.edit")
def log_activity(customer_id):
    customer = _customer_or_404(customer_id)
    authorize("customers.edit", customer)
    form = _activity_form(customer)
    if form.validate_on_submit():
        opportunity = db.session.get(Opportunity, form.opportunity_id.data) if form.opportunity_id.data else None
        try:
            services.log_activity(customer, _me(), form.kind.data, local_to_utc(form.occurred_at.data),
                                  form.outcome.data, form.next_step.data, form.next_step_on.data, opportunity,
                                  done_step_ids=form.done_step_ids.data or ())
        except ServiceError as error:
            _refused(form, error)
        else:
            flash(_("Follow-up recorded."), "success")
            return redirect(url_for("plans.customer", customer_id=customer.id, tab="activities"))
    return _render_customer(customer, "activities", 422, activity_form=form)


@bp.route("/customers/<int:customer_id>/transfer", methods=["POST"])
@require("customers.assign")
def transfer_customer(customer_id):
    customer = _customer_or_404(customer_id)
    authorize("customers.assign", customer)
    form = forms.TransferForm(prefix="tr")
    form.owner_id.choices = [(u.id, u.display_name) for u in _people_i_manage(_me())]
    if not form.validate_on_submit():
        flash(_("Choose the new owner."), "danger")
        return redirect(url_for("plans.customer", customer_id=customer.id)), 303
    services.transfer_customer(customer, db.session.get(User, form.owner_id.data), _me(), form.note.data)
    flash(_("Customer transferred."), "success")
    return redirect(url_for("plans.customer", customer_id=customer.id))


@bp.route("/customers/<int:customer_id>/delete", methods=["POST"])
@require("customers.assign")
def delete_customer(customer_id):
    customer = _customer_or_404(customer_id)
    authorize("customers.assign", customer)
    services.delete_customer(customer, _me())
    flash(_("Customer %(name)s deleted.", name=customer.name), "success")
    return redirect(url_for("plans.customers"))


@bp.route("/customers/<int:customer_id>/release", methods=["POST"])
@require("customers.edit")
def release_customer(customer_id):
    customer = _customer_or_404(customer_id)
    authorize("customers.edit", customer)
    if customer.is_in_pool:
        abort(404)
    try:
        services.release_to_pool(customer, note=_("Released by %(name)s", name=_me().display_name))
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(url_for("plans.customer", customer_id=customer.id), 303)
    flash(_("%(name)s is back in the public pool.", name=customer.name), "success")
    return redirect(url_for("plans.customers"))


# --- public pool --------------------------------------------------------------------------------------------
#: Customers a view of the pool returns to it at most (idle longest first); ``rollout plans
#: release-pool``, run nightly, returns the rest.
POOL_RELEASES_PER_VIEW = 200


@bp.route("/customers/pool")
@require("pool.claim")
def pool():
    me = _me()
    scope = None if me.has_role("admin", "lead") else department_scope_ids(me)
    # Finding the due customers scans the owned ones; a sweep that found none is not repeated
    # until something is written or a minute has passed (a pool period is counted in days).
    figures.cached(("pool-sweep", tuple(sorted(scope)) if scope is not None else None),
                   lambda: services.release_pool(department_ids=scope, limit=POOL_RELEASES_PER_VIEW),
                   keep=lambda released: not released)
    search = services.search_text(request.args.get("q"))
    query = services.pool_query(search, scope_clause(me, "pool.claim", department_column=Customer.department_id))
    page = paginate(query.options(db.joinedload(Customer.department)))
    settings = services.settings_for(me.department_id)
    return render_template("plans/pool.html", page=page, search=search, settings=settings,
                           claimed=services.claims_today(me),
                           claim_back=services.claim_back_times(me, [c.id for c in page.items]))


@bp.route("/customers/<int:customer_id>/claim", methods=["POST"])
@require("pool.claim")
def claim(customer_id):
    customer = _customer_or_404(customer_id)
    authorize("pool.claim", customer)
    try:
        services.claim_customer(customer, _me())
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(url_for("plans.pool")), 303
    flash(_("%(name)s is now yours.", name=customer.name), "success")
    return redirect(url_for("plans.customer", customer_id=customer.id))


# --- follow-ups -------------------------------------------------------------------------------------------------
def _activity_filters() -> dict:
    """The follow-up list's filters as its address says; a range typed backwards is read forwards."""
    kind = request.args.get("kind", "")
    since, until = _date_arg("since"), _date_arg("until")
    if since and until and since > until:
        since, until = until, since
    return {"kind": kind if kind in services.ACTIVITY_LABELS else "", "user_id": _int_arg("user_id"),
            "customer_id": _int_arg("customer_id"), "overdue": request.args.get("overdue") == "1",
            "since": since, "until": until, "sort": services.sort_param("activities", request.args.get("sort"))}


def _count_limit(per_page: int = 25) -> int:
    """Count follow-ups up to a limit, but always past the page asked for: page 41 never reads "of 40 or
    more". Reaching a page reads its rows anyway, so counting that far costs no more."""
    first_row = (page_number() - 1) * per_page + 1
    return SEARCH_COUNT_LIMIT * -(-first_row // SEARCH_COUNT_LIMIT)


@bp.route("/activities")
@require("customers.view")
def activities():
    me = _me()
    filters = _activity_filters()
    query = select(Activity).join(Customer).where(
        scope_clause(me, "customers.view", department_column=Activity.department_id,
                     owner_column=Activity.user_id), Customer.deleted_at.is_(None),
        *services.activity_conditions(filters))
    # A column the reader sorts by; else overdue next steps the oldest first, as they are to be caught up
    # with; otherwise the latest first.
    default_order = ((Activity.next_step_on, Activity.id) if filters["overdue"]
                     else (Activity.occurred_at.desc(), Activity.id.desc()))
    order = services.list_order("activities", filters["sort"]) or default_order
    # Hundreds of thousands of follow-ups: counted only up to a limit ("more than 1000").
    page = paginate(query.options(db.joinedload(Activity.customer), db.joinedload(Activity.user)).order_by(*order),
                    count_limit=_count_limit())
    people = _owner_choices(me, filters["user_id"])
    if all(row.id != me.id for row in people) and (people or filters["user_id"]):
        people = [SimpleNamespace(id=me.id, display_name=me.display_name)] + list(people)
    customer = db.session.get(Customer, filters["customer_id"]) if filters["customer_id"] else None
    if customer is not None and not can(me, "customers.view", customer):
        customer = None  # the filter still applies (and finds nothing): only the name is withheld
    # The filters in force (the sort is no filter: it stays on but does not count as one).
    args = {k: (v.isoformat() if isinstance(v, date) else 1 if v is True else v)
            for k, v in filters.items() if v and k != "sort"}
    sorted_by = {"sort": filters["sort"]} if filters["sort"] else {}
    return render_template("plans/activities.html", page=page, kind=filters["kind"], filters=filters, args=args,
                           people=people, customer=customer, overdue=services.overdue_next_steps(me),
                           without_customer={k: v for k, v in dict(args, **sorted_by).items() if k != "customer_id"},
                           sorted_by=sorted_by,
                           overdue_total=services.overdue_next_step_count(me), may_see_team=me.has_role("admin", "lead", "head"),
                           overdue_leads=services.overdue_handoffs(me), today=local_today())


@bp.route("/activities/<int:activity_id>/done", methods=["POST"])
@require("customers.edit")
def activity_done(activity_id):
    activity = db.get_or_404(Activity, activity_id)
    if activity.user_id != _me().id:
        authorize("customers.edit", activity.customer)
    services.update_activity(activity, is_next_step_done=True)
    flash(_("Next step marked done."), "success")
    return redirect_back("plans.activities")


# --- deals --------------------------------------------------------------------------------------------------------
@bp.route("/customers/<int:customer_id>/deals", methods=["POST"])
@require("deals.edit")
def new_deal(customer_id):
    customer = _customer_or_404(customer_id)
    authorize("customers.edit", customer)
    form = _deal_form(customer)
    if form.validate_on_submit():
        try:
            deal = services.create_opportunity(customer, _me(), form.name.data, form.amount.data,
                                               form.expected_close_on.data, owner=customer.owner,
                                               campaign_id=form.campaign_id.data or None)
        except ServiceError as error:
            _refused(form, error)
        else:
            flash(_("Deal opened."), "success")
            return redirect(url_for("plans.deal", deal_id=deal.id))
    return _render_customer(customer, "deals", 422, deal_form=form)


def _deal_filters() -> dict:
    """The deals list's filters as its address says (stage, campaign, owner, search), and its sort."""
    stage = request.args.get("stage", "")
    return {"stage": stage if stage in STAGES else "", "campaign_id": _int_arg("campaign_id"),
            "owner_id": _int_arg("owner_id"), "q": request.args.get("q", "").strip()[:100],
            "sort": services.sort_param("deals", request.args.get("sort"))}


def _deals_query(me, filters):
    """The deals the reader may see under the list's filters, in the list's order: (query, scope)."""
    scope = scope_clause(me, "deals.view", department_column=Opportunity.department_id,
                         owner_column=Opportunity.owner_id)
    query = select(Opportunity).where(scope, *services.deal_conditions(filters))
    if filters["stage"]:
        query = query.where(Opportunity.stage == filters["stage"])
    order = services.list_order("deals", filters["sort"]) or (Opportunity.stage_changed_at.desc(),
                                                               Opportunity.id.desc())
    return query.order_by(*order), scope


@bp.route("/deals/export")
@require("data.export")
def export_deals():
    me = _me()
    if not can(me, "deals.view"):
        abort(403)
    filters = _deal_filters()
    query, _scope = _deals_query(me, filters)
    rows = db.session.scalars(query.options(db.joinedload(Opportunity.customer), db.joinedload(Opportunity.owner),
                                            db.joinedload(Opportunity.campaign))).all()
    columns = [
        Column(_("Deal"), "name"), Column(_("Customer"), lambda d: d.customer.name),
        Column(_("Stage"), lambda d: str(services.STAGE_LABELS[d.stage])),
        Column(_("Amount"), "amount", "number"), Column(_("Expected close date"), "expected_close_on", "date"),
        Column(_("Closed on"), "closed_on", "date"), Column(_("Owner"), lambda d: d.owner.display_name),
        Column(_("Campaign"), lambda d: d.campaign.name if d.campaign else ""),
        Column(_("Created"), "created_at", "datetime"),
    ]
    return export_response(_("deals"), columns, rows, request.args.get("format", "xlsx"), entity="opportunities",
                           filters=filters)


def _owner_choices(me: User, owner_id: int | None) -> list:
    """The people whose deals or follow-ups the reader may pick (those they manage), plus the one the
    address names if they are not among them: rows of id and display_name."""
    owners = _people_i_manage(me) if me.has_role("admin", "lead", "head") else []
    if owner_id and all(row.id != owner_id for row in owners):
        named = db.session.get(User, owner_id)
        if named is not None:
            owners = [SimpleNamespace(id=named.id, display_name=named.display_name)] + list(owners)
    return owners


@bp.route("/deals")
@require("deals.view")
def deals():
    me = _me()
    filters = _deal_filters()
    query, scope = _deals_query(me, filters)
    page = paginate(query.options(db.joinedload(Opportunity.customer), db.joinedload(Opportunity.owner),
                                  db.joinedload(Opportunity.campaign)),
                    count_limit=SEARCH_COUNT_LIMIT if filters["q"] else None)
    # The stage cards count what the list shows under every filter but the stage.
    summary_query = select(Opportunity.stage, func.count(), func.sum(Opportunity.amount)).where(
        scope, *services.deal_conditions(filters))
    summary = {s: (c, a) for s, c, a in db.session.execute(summary_query.group_by(Opportunity.stage))}
    weighted = sum((services.Decimal(a or 0) * services.STAGE_PROBABILITY[s] / 100
                    for s, (c, a) in summary.items() if s in OPEN_STAGES), services.Decimal(0)).quantize(
        services.CENT)
    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.starts_on.desc())).all()
    owners = _owner_choices(me, filters["owner_id"])
    owner = next((row for row in owners if row.id == filters["owner_id"]), None) if filters["owner_id"] else None
    # What the stage cards and the export keep: every filter but the stage (the cards set it).
    kept = {k: v for k, v in filters.items() if k != "stage" and v}
    export_args = dict(kept, **({"stage": filters["stage"]} if filters["stage"] else {}))
    return render_template("plans/deals.html", page=page, stage=filters["stage"], summary=summary, weighted=weighted,
                           export_args=export_args, kept=kept, filters=filters, owners=owners, owner=owner,
                           without_owner={k: v for k, v in export_args.items() if k != "owner_id"},
                           campaigns=campaigns, campaign_id=filters["campaign_id"], stages=STAGES)


def _stage_form(deal) -> forms.StageForm:
    form = forms.StageForm(prefix="s")
    form.stage.choices = [(s, services.STAGE_LABELS[s]) for s in STAGES
                          if s in services.STAGE_TRANSITIONS[deal.stage]]
    form.lost_reason_id.choices = [(NONE, "—")] + [(r.id, r.name) for r in db.session.scalars(
        select(LostReason).where(LostReason.is_active.is_(True)).order_by(LostReason.position, LostReason.id))]
    return form


@bp.route("/deals/<int:deal_id>", methods=["GET", "POST"])
@require("deals.view")
def deal(deal_id):
    deal = db.get_or_404(Opportunity, deal_id)
    authorize("deals.view", deal)
    form = _stage_form(deal)
    status = 200
    if request.method == "POST":
        authorize("deals.edit", deal)
        if form.validate_on_submit():
            try:
                services.move_stage(deal, form.stage.data, _me(), form.lost_reason_id.data or None,
                                    form.note.data, form.amount.data)
            except ServiceError as error:
                _refused(form, error)
            else:
                flash(_("The deal is now: %(stage)s.", stage=services.STAGE_LABELS[deal.stage]), "success")
                return redirect(url_for("plans.deal", deal_id=deal.id))
        status = 422
    changes = db.session.scalars(select(StageChange).where(StageChange.opportunity_id == deal.id)
                                 .options(db.joinedload(StageChange.user)).order_by(StageChange.changed_at)).all()
    return render_template("plans/deal.html", deal=deal, form=form, changes=changes,
                           history=_history("opportunities", deal.id)), status


@bp.route("/deals/<int:deal_id>/edit", methods=["GET", "POST"])
@require("deals.edit")
def edit_deal(deal_id):
    deal = db.get_or_404(Opportunity, deal_id)
    authorize("deals.edit", deal)
    back = url_for("plans.deal", deal_id=deal.id)
    if deal.stage not in OPEN_STAGES:
        flash(_("A won or lost deal is kept as it closed."), "danger")
        return redirect(back, 303)
    form = forms.DealForm(obj=deal) if request.method == "GET" else forms.DealForm()
    _campaign_choices(form.campaign_id)
    if request.method == "GET":
        form.campaign_id.data = deal.campaign_id or NONE
        _amounts_as_text(form)
    if form.validate_on_submit():
        try:
            services.update_opportunity(deal, form.name.data, form.amount.data, form.expected_close_on.data,
                                        form.campaign_id.data or None)
        except ServiceError as error:
            _refused(form, error)
        else:
            flash(_("The deal is saved."), "success")
            return redirect(back)
    return render_template("plans/deal_form.html", deal=deal, form=form, back=back), \
        422 if form.errors else 200


# --- quotes ----------------------------------------------------------------------------------------------------------
@bp.route("/quotes")
@require("quotes.view")
def quotes():
    me = _me()
    awaiting_ids = services.quotes_awaiting(me)
    decided_ids = select(QuoteApprovalStep.quote_id).where(QuoteApprovalStep.decided_by_id == me.id)
    scope = or_(scope_clause(me, "quotes.edit", department_column=Quote.department_id, owner_column=Quote.owner_id),
                Quote.id.in_(awaiting_ids or [-1]), Quote.id.in_(decided_ids))
    view = request.args.get("view", "all")
    query = select(Quote).where(scope)
    if view == "awaiting":
        query = query.where(Quote.id.in_(awaiting_ids or [-1]))
    status = request.args.get("status", "")
    if status in services.QUOTE_STATUS_LABELS:
        query = query.where(Quote.status == status)
    page = paginate(query.options(db.joinedload(Quote.customer), db.joinedload(Quote.owner))
                    .order_by(Quote.created_at.desc(), Quote.id.desc()))
    return render_template("plans/quotes.html", page=page, view=view, status=status,
                           awaiting_count=len(awaiting_ids))


def _amounts_as_text(form) -> None:
    """Amount inputs are text (the services parse them); values loaded from a record are Decimal."""
    for field in form:
        if isinstance(field.data, services.Decimal):
            field.data = str(field.data)


def _quote_form(customer, quote=None) -> forms.QuoteForm:
    form = forms.QuoteForm(obj=quote)
    _amounts_as_text(form)
    form.opportunity_id.choices = [(NONE, "—")] + [(o.id, o.name) for o in db.session.scalars(
        select(Opportunity).where(Opportunity.customer_id == customer.id, Opportunity.stage.in_(OPEN_STAGES)))]
    return form


@bp.route("/customers/<int:customer_id>/quotes/new", methods=["GET", "POST"])
@require("quotes.edit")
def new_quote(customer_id):
    customer = _customer_or_404(customer_id)
    authorize("customers.edit", customer)
    form = _quote_form(customer)
    if request.method == "GET":
        form.opportunity_id.data = _int_arg("deal") or NONE
    if form.validate_on_submit():
        opportunity = db.session.get(Opportunity, form.opportunity_id.data) if form.opportunity_id.data else None
        try:
            quote = services.create_quote(customer, _me(), form.title.data, form.list_amount.data,
                                          form.discount_percent.data, opportunity, form.valid_until.data,
                                          form.note.data)
        except ServiceError as error:
            _refused(form, error)
        else:
            flash(_("The quote is saved as a draft."), "success")
            return redirect(url_for("plans.quote", quote_id=quote.id))
    return render_template("plans/quote_form.html", form=form, customer=customer, quote=None), \
        422 if form.errors else 200


@bp.route("/quotes/<int:quote_id>/edit", methods=["GET", "POST"])
@require("quotes.edit")
def edit_quote(quote_id):
    quote = db.get_or_404(Quote, quote_id)
    authorize("quotes.edit", quote)
    form = _quote_form(quote.customer, quote)
    if request.method == "GET":
        form.opportunity_id.data = quote.opportunity_id or NONE
    if quote.status not in ("draft", "rejected"):
        flash(_("This quote is locked while it is %(status)s.",
                status=services.QUOTE_STATUS_LABELS[quote.status]), "warning")
        return redirect(url_for("plans.quote", quote_id=quote.id))
    if form.validate_on_submit():
        try:
            services.update_quote(quote, form.title.data, form.list_amount.data, form.discount_percent.data,
                                  form.valid_until.data, form.note.data)
        except ServiceError as error:
            _refused(form, error)
        else:
            flash(_("Quote saved."), "success")
            return redirect(url_for("plans.quote", quote_id=quote.id))
    return render_template("plans/quote_form.html", form=form, customer=quote.customer, quote=quote), \
        422 if form.errors else 200


@bp.route("/quotes/<int:quote_id>")
@require("quotes.view")
def quote(quote_id):
    quote = db.get_or_404(Quote, quote_id)
    authorize("quotes.view", quote)
    me = _me()
    step = services.current_step(quote)
    can_decide = step is not None and services.may_decide(me, step)
    approvers = services.step_approvers(step) if step is not None else []
    return render_template("plans/quote.html", quote=quote, step=step, can_decide=can_decide, approvers=approvers,
                           decision_form=forms.DecisionForm(), history=_history("quotes", quote.id),
                           expired=services.has_expired(quote),
                           preview_rules=services.rules_for(quote) if quote.status in ("draft", "rejected") else [])


def _quote_action(quote_id, action):
    quote = db.get_or_404(Quote, quote_id)
    me = _me()
    try:
        if action in ("submit", "withdraw"):
            authorize("quotes.edit", quote)
            (services.submit_quote if action == "submit" else services.withdraw_quote)(quote, me)
        else:
            authorize("quotes.view", quote)
            form = forms.DecisionForm()
            form.validate_on_submit()
            if action == "approve":
                services.approve_step(quote, me, form.comment.data)
            else:
                services.reject_quote(quote, me, form.comment.data or "")
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect(url_for("plans.quote", quote_id=quote.id)), 303
    messages = {"submit": _("Quote status: %(status)s.", status=services.QUOTE_STATUS_LABELS[quote.status]),
                "withdraw": _("The quote is back in draft."), "approve": _("You approved the quote."),
                "reject": _("The quote is sent back for revision.")}
    flash(messages[action], "success")
    return redirect(url_for("plans.quote", quote_id=quote.id))


@bp.route("/quotes/<int:quote_id>/submit", methods=["POST"])
@require("quotes.edit")
def submit_quote(quote_id):
    return _quote_action(quote_id, "submit")


@bp.route("/quotes/<int:quote_id>/withdraw", methods=["POST"])
@require("quotes.edit")
def withdraw_quote(quote_id):
    return _quote_action(quote_id, "withdraw")


@bp.route("/quotes/<int:quote_id>/approve", methods=["POST"])
@require("quotes.approve")
def approve_quote(quote_id):
    return _quote_action(quote_id, "approve")


@bp.route("/quotes/<int:quote_id>/reject", methods=["POST"])
@require("quotes.approve")
def reject_quote(quote_id):
    return _quote_action(quote_id, "reject")


# --- campaigns and leads ---------------------------------------------------------------------------------------------
@bp.route("/campaigns")
@require("campaigns.view")
def campaigns():
    me = _me()
    return render_template("plans/campaigns.html", rows=services.campaign_report(),
                           may_create=can(me, "campaigns.manage"),
                           may_manage=lambda campaign: can(me, "campaigns.manage", campaign))


@bp.route("/campaigns/new", methods=["GET", "POST"])
@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@require("campaigns.manage")
def edit_campaign(campaign_id=None):
    campaign = db.get_or_404(Campaign, campaign_id) if campaign_id else None
    if campaign is not None:
        authorize("campaigns.manage", campaign)
    form = forms.CampaignForm(obj=campaign)
    _amounts_as_text(form)
    if form.validate_on_submit():
        try:
            campaign = services.save_campaign(campaign, _me(), form.name.data, form.channel.data,
                                              form.starts_on.data, form.ends_on.data, form.budget.data,
                                              form.description.data)
        except ServiceError as error:
            _refused(form, error)
        else:
            flash(_("Campaign %(name)s is saved.", name=campaign.name), "success")
            return redirect(url_for("plans.campaigns"))
    return render_template("plans/campaign_form.html", form=form, campaign=campaign), 422 if form.errors else 200


def _lead_scope(me: User):
    """Leads of my department, leads handed to me, and (heads) leads handed to the reps of the unit I head:
    the list of what ``access._lead_visible`` allows."""
    if me.has_role("admin", "lead"):
        return None
    conditions = [Lead.owner_id == me.id, Lead.department_id.in_(sorted(department_scope_ids(me)) or [-1])]
    if me.has_role("head"):
        headed = sorted(head_scope_ids(me)) or [-1]
        conditions.append(Lead.owner_id.in_(select(User.id).where(User.department_id.in_(headed))))
    return or_(*conditions)


@bp.route("/leads")
@require("leads.view")
def leads():
    me = _me()
    query = select(Lead)
    scope = _lead_scope(me)
    if scope is not None:
        query = query.where(scope)
    campaign_id = _int_arg("campaign_id")
    if campaign_id:
        query = query.where(Lead.campaign_id == campaign_id)
    status = request.args.get("status", "")
    if status == "overdue":
        query = query.where(Lead.status == "handed", Lead.respond_by < utcnow())
    elif status in services.LEAD_STATUS_LABELS:
        query = query.where(Lead.status == status)
    if request.args.get("mine"):
        query = query.where(Lead.owner_id == me.id)
    page = paginate(query.options(db.joinedload(Lead.campaign), db.joinedload(Lead.owner))
                    .order_by(Lead.created_at.desc(), Lead.id.desc()))
    hand_form = forms.HandLeadForm(prefix="h")
    hand_form.owner_id.choices = _hand_choices()
    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.starts_on.desc())).all()
    return render_template("plans/leads.html", page=page, campaigns=campaigns, campaign_id=campaign_id,
                           status=status, may_create=can(me, "campaigns.manage"),
                           may_manage=lambda lead: can(me, "campaigns.manage", lead), hand_form=hand_form, now=utcnow(),
                           decision_form=forms.DecisionForm())


def _hand_choices() -> list:
    """Whom a lead may be handed to; the list starts on "choose", so a click never hands it to whoever is first."""
    return [(NONE, _("— Choose a sales rep —"))] + [(u.id, u.display_name)
                                                    for u in _sales_people(_sales_department_ids())]


def _sales_department_ids():
    from rollout.access import subtree_ids
    sales = db.session.scalar(select(Department.id).where(Department.code == "sales"))
    return subtree_ids(sales) if sales else None


@bp.route("/leads/new", methods=["GET", "POST"])
@require("campaigns.manage")
def new_lead():
    form = forms.LeadForm()
    _campaign_choices(form.campaign_id)
    if request.method == "GET":
        form.campaign_id.data = _int_arg("campaign_id") or NONE
    if form.validate_on_submit():
        campaign = db.session.get(Campaign, form.campaign_id.data) if form.campaign_id.data else None
        if campaign is not None:
            authorize("campaigns.manage", campaign)
        try:
            services.create_lead(_me(), form.company_name.data, form.campaign_id.data or None,
                                 form.contact_name.data, form.phone.data, form.email.data, form.note.data)
        except ServiceError as error:
            _refused(form, error)
        else:
            flash(_("Lead recorded."), "success")
            return redirect(url_for("plans.leads"))
    return render_template("plans/lead_form.html", form=form), 422 if form.errors else 200


@bp.route("/leads/<int:lead_id>/hand", methods=["POST"])
@require("campaigns.manage")
def hand_lead(lead_id):
    lead = db.get_or_404(Lead, lead_id)
    authorize("campaigns.manage", lead)
    form = forms.HandLeadForm(prefix="h")
    form.owner_id.choices = _hand_choices()
    if not form.validate_on_submit() or not form.owner_id.data:
        if form.owner_id.errors or not form.owner_id.data:
            flash(_("Choose the sales rep to hand %(name)s to.", name=lead.company_name), "danger")
        elif form.respond_by.errors:
            flash(_("Choose the date and time by which the rep must respond."), "danger")
        else:
            flash(_("Choose a sales rep and a response deadline."), "danger")
        return redirect_back("plans.leads"), 303
    try:
        services.hand_lead(lead, db.session.get(User, form.owner_id.data), local_to_utc(form.respond_by.data),
                           _me())
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect_back("plans.leads"), 303
    flash(_("Lead handed to sales."), "success")
    return redirect_back("plans.leads")


@bp.route("/leads/<int:lead_id>/respond", methods=["POST"])
@require("leads.view")
def respond_lead(lead_id):
    lead = db.get_or_404(Lead, lead_id)
    authorize("leads.view", lead)
    me = _me()
    form = forms.DecisionForm()
    form.validate_on_submit()
    try:
        if request.form.get("action") == "accept":
            services.accept_lead(lead, me)
        else:
            services.reject_lead(lead, me, form.comment.data or "")
    except ServiceError as error:
        apply_service_error(None, error)
        return redirect_back("plans.leads"), 303
    if lead.customer_id:
        flash(_("The lead is now your customer."), "success")
        return redirect(url_for("plans.customer", customer_id=lead.customer_id))
    flash(_("The lead is sent back to marketing."), "success")
    return redirect_back("plans.leads")


# --- settings (admin) ---------------------------------------------------------------------------------------------------
@bp.route("/plans/settings", methods=["GET", "POST"])
@require("sales.configure")
def settings():
    field_form = forms.FieldForm(prefix="f")
    reason_form = forms.LostReasonForm(prefix="r")
    rule_form = forms.RuleForm(prefix="q")
    rule_form.approver_department_id.choices = [(NONE, _("The head of the quote's department"))] + \
        department_choices(include_company=False)
    settings_form = forms.SettingsForm(prefix="s")
    settings_form.department_id.choices = department_choices()
    status = 200
    which = request.form.get("form") if request.method == "POST" else None
    try:
        if which == "field" and field_form.validate_on_submit():
            existing = db.session.scalar(select(CustomerField).where(CustomerField.key == field_form.key.data))
            services.save_field(existing, field_form.key.data, field_form.label.data, field_form.kind.data,
                                field_form.choices.data, field_form.is_required.data, field_form.is_listed.data,
                                field_form.position.data, field_form.is_active.data)
            flash(_("Field saved."), "success")
            return redirect(url_for("plans.settings"))
        if which == "reason" and reason_form.validate_on_submit():
            services.save_lost_reason(None, reason_form.name.data, reason_form.is_churn.data,
                                      position=reason_form.position.data or 0)
            flash(_("Reason saved."), "success")
            return redirect(url_for("plans.settings"))
        if which == "rule" and rule_form.validate_on_submit():
            services.save_approval_rule(None, rule_form.name.data, rule_form.min_discount_percent.data,
                                        rule_form.min_amount.data, position=rule_form.position.data or 0,
                                        approver_department_id=rule_form.approver_department_id.data)
            flash(_("Approval rule saved."), "success")
            return redirect(url_for("plans.settings"))
        if which == "settings" and settings_form.validate_on_submit():
            services.save_settings(settings_form.department_id.data, settings_form.pool_release_days.data,
                                   settings_form.daily_claim_cap.data, settings_form.behind_margin_percent.data)
            flash(_("Settings saved."), "success")
            return redirect(url_for("plans.settings"))
        if which:
            status = 422
    except ServiceError as error:
        form = {"field": field_form, "reason": reason_form, "rule": rule_form, "settings": settings_form}[which]
        _refused(form, error)
        status = 422
    fields = db.session.scalars(select(CustomerField).order_by(CustomerField.position, CustomerField.id)).all()
    reasons = db.session.scalars(select(LostReason).order_by(LostReason.position, LostReason.id)).all()
    rules = db.session.scalars(select(QuoteApprovalRule).order_by(QuoteApprovalRule.position)).all()
    # Rules name their department by code: the table shows its name (one statement for all rules).
    approver_names = dict(db.session.execute(select(Department.code, Department.name).where(
        Department.code.in_(sorted({r.approver_department_code for r in rules if r.approver_department_code})))).all())
    department_settings = db.session.scalars(select(SalesSetting).options(
        db.joinedload(SalesSetting.department))).all()
    return render_template("plans/settings.html", field_form=field_form, reason_form=reason_form,
                           rule_form=rule_form, settings_form=settings_form, fields=fields, reasons=reasons,
                           rules=rules, approver_names=approver_names, department_settings=department_settings,
                           defaults=services.settings_for(None)), status


@bp.route("/plans/settings/rules/<int:rule_id>/toggle", methods=["POST"])
@require("sales.configure")
def toggle_rule(rule_id):
    rule = db.get_or_404(QuoteApprovalRule, rule_id)
    rule.is_active = not rule.is_active
    return redirect(url_for("plans.settings"))


@bp.route("/plans/settings/reasons/<int:reason_id>/toggle", methods=["POST"])
@require("sales.configure")
def toggle_reason(reason_id):
    reason = db.get_or_404(LostReason, reason_id)
    reason.is_active = not reason.is_active
    return redirect(url_for("plans.settings"))
