"""Sales-plan tracking rules: customers and the public pool, follow-ups, opportunities,
quotes and their approval, plans and plan vs actual, campaigns and lead hand-offs.

Every write function validates, changes ORM objects (so the audit trail sees
old → new) and flushes; the caller commits.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial

from flask import current_app, g, has_app_context, has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import force_locale, lazy_ngettext, ngettext
# "Created" is also a column heading (创建时间) elsewhere: the ownership event carries a context.
from flask_babel import lazy_pgettext as pgettext
from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlalchemy.orm import aliased

from rollout import figures
from rollout.access import (ancestor_ids, can, department_scope_ids, head_scope_ids, home_department_id, scope_clause,
                            subtree_ids)
from rollout.accounts.models import Department, User, UserRole
from rollout.accounts.services import ensure_department_code
from rollout.audit.display import label_codes
from rollout.audit.services import as_system, record_event
from rollout.cleaning import (PLAIN_NUMBER, clean_line, clean_note, clean_phone, clean_text, company_key, email_key,
                              names_nothing, phone_key)
from rollout.database import contains_text
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.notify.services import notify
from rollout.plans.models import (ACTIVITY_KINDS, FIELD_KINDS, METRIC_LABELS, METRICS, OPEN_STAGES, PERIOD_KINDS,
                                  PLAN_LEVELS, STAGES, Activity, Campaign, Contact, Customer, CustomerAssignment, CustomerField,
                                  Lead, LostReason, Opportunity, PlanRevision, PlanTarget, Quote,
                                  QuoteApprovalRule, QuoteApprovalStep, SalesPlan, SalesSetting, StageChange)
from rollout.timeutil import EARLIEST, LATEST, local_to_utc, local_today, to_local, utcnow

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")

DEFAULT_RELEASE_DAYS = 30
DEFAULT_CLAIM_CAP = 5
DEFAULT_BEHIND_MARGIN = 10

#: Win probability (%) per opportunity stage, for the weighted pipeline.
STAGE_PROBABILITY = {"lead": 10, "visited": 25, "quoted": 50, "negotiating": 75, "won": 100, "lost": 0}

STAGE_LABELS = {
    "lead": _l("Lead"), "visited": _l("Visited"), "quoted": _l("Quoted"), "negotiating": _l("Negotiating"),
    "won": _l("Won"), "lost": _l("Lost"),
}
ACTIVITY_LABELS = {"visit": _l("Visit"), "call": _l("Call"), "meeting": _l("Meeting"), "message": _l("Message")}
PERIOD_LABELS = {"month": _l("Month"), "quarter": _l("Quarter"), "year": _l("Year")}
LEVEL_LABELS = {"company": _l("Company"), "department": _l("Department"), "team": _l("Team"), "rep": _l("Individual")}
PLAN_STATUS_LABELS = {"draft": _l("Draft"), "submitted": _l("Submitted"), "approved": _l("Approved"),
                      "locked": _l("Archived")}
QUOTE_STATUS_LABELS = {"draft": _l("Draft"), "pending": _l("Pending approval"), "approved": _l("Approved"),
                       "rejected": _l("Rejected"), "withdrawn": _l("Withdrawn")}
STEP_STATUS_LABELS = {"waiting": _l("Waiting"), "pending": _l("Pending"), "approved": _l("Approved"),
                      "rejected": _l("Rejected"), "cancelled": _l("Cancelled")}
LEAD_STATUS_LABELS = {"new": _l("New"), "handed": _l("Handed to sales"), "accepted": _l("Accepted"),
                      "converted": _l("Converted"), "rejected": _l("Rejected")}
ASSIGNMENT_LABELS = {"create": pgettext("ownership", "Created"), "claim": _l("Claimed from the pool"),
                     "release": _l("Returned to the pool"), "transfer": _l("Transferred"),
                     "handoff": _l("Lead handed over")}
#: Words the system itself writes into free-text fields (a note, a customer's source), shown translated.
SYSTEM_TEXT_LABELS = {"import": _l("Imported from a file"), "campaign": _l("Marketing campaign")}
FIELD_KIND_LABELS = {"text": _l("Text"), "number": _l("Number"), "date": _l("Date"), "choice": _l("Single-select"),
                     "multi_choice": _l("Multi-select"), "phone": _l("Phone"), "email": _l("Email")}
label_codes({
    ("customer_fields", "kind"): FIELD_KIND_LABELS, ("activities", "kind"): ACTIVITY_LABELS,
    ("opportunities", "stage"): STAGE_LABELS, ("opportunity_stage_changes", "from_stage"): STAGE_LABELS,
    ("opportunity_stage_changes", "to_stage"): STAGE_LABELS, ("quotes", "status"): QUOTE_STATUS_LABELS,
    ("quote_approval_steps", "status"): STEP_STATUS_LABELS, ("sales_plans", "period_kind"): PERIOD_LABELS,
    ("sales_plans", "level"): LEVEL_LABELS, ("sales_plans", "status"): PLAN_STATUS_LABELS,
    ("plan_targets", "metric"): METRIC_LABELS, ("customer_assignments", "kind"): ASSIGNMENT_LABELS,
    ("leads", "status"): LEAD_STATUS_LABELS, ("customers", "source"): SYSTEM_TEXT_LABELS,
})

# --- state machines: one transition table each ------------------------------
#: Plan approval: action → (allowed from, to).
PLAN_TRANSITIONS = {
    "submit": ({"draft"}, "submitted"),
    "return": ({"submitted"}, "draft"),
    "approve": ({"submitted"}, "approved"),
    "close": ({"approved"}, "locked"),
    # Targets changed after approval by someone who could not approve them: approved again.
    "resubmit": ({"approved"}, "submitted"),
}
#: Quote approval: action → (allowed from, to).
QUOTE_TRANSITIONS = {
    "submit": ({"draft", "rejected"}, "pending"),
    "approve": ({"pending"}, "approved"),
    "reject": ({"pending"}, "rejected"),
    "withdraw": ({"pending"}, "draft"),
}
#: Opportunity stages: stage → stages it may move to.
STAGE_TRANSITIONS = {
    "lead": {"visited", "quoted", "negotiating", "lost"},
    "visited": {"quoted", "negotiating", "lost"},
    "quoted": {"visited", "negotiating", "won", "lost"},
    "negotiating": {"quoted", "won", "lost"},
    "won": set(),
    "lost": {"lead"},
}


def _apply(table: dict, obj, action: str, label: str, status_labels: dict) -> str:
    """Move ``obj.status`` by ``action`` of ``table`` or refuse without changing anything."""
    allowed_from, target = table.get(action, (set(), None))
    if obj.status not in allowed_from:
        raise NotAllowed(_("Not possible while the %(thing)s is “%(status)s”.",
                           thing=label, status=status_labels.get(obj.status, obj.status)))
    obj.status = target
    return target


# --- small validators ----------------------------------------------------------
class InvalidFields(ServiceError):
    """Several fields refused at once, so that a form marks them all: ``errors`` maps field → message."""

    def __init__(self, errors: dict[str, str], given=None):
        field_name, message = next(iter(errors.items()))
        super().__init__(message, field_name)
        self.errors = errors
        if given is not None:  # the first message as raised, so an import keeps its id
            self.given = given


class _Refusals:
    """Runs the checks of a form's fields and keeps each field's refusal instead of stopping at the first."""

    def __init__(self):
        self.errors: dict[str, str] = {}
        self.first_given = None

    def check(self, function, *args, **kwargs):
        """``function(*args, **kwargs)``; None when it refuses a field (the refusal waits for ``raise_any``)."""
        try:
            return function(*args, **kwargs)
        except ServiceError as error:
            if error.field is None or isinstance(error, NotAllowed):
                raise
            if not self.errors:
                self.first_given = error.given
            for field_name, message in getattr(error, "errors", {error.field: error.message}).items():
                self.errors.setdefault(field_name, message)
            return None

    def raise_any(self) -> None:
        if self.errors:
            raise InvalidFields(self.errors, self.first_given)


def parse_amount(value, field_name: str = "amount", allow_none: bool = False) -> Decimal | None:
    """A non-negative amount with at most two decimal places, as Decimal; refuses floats' noise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_none:
            return None
        raise ServiceError(_l("An amount is required."), field_name)
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, Decimal):
        text = clean_text(str(value)).replace(",", "").replace("，", "")
        if not PLAIN_NUMBER.fullmatch(text.removeprefix("-")):
            raise ServiceError(_l("“%(value)s” is not an amount.", value=value), field_name)
    try:
        amount = Decimal(text) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ServiceError(_l("“%(value)s” is not an amount.", value=value), field_name) from None
    if not amount.is_finite():
        raise ServiceError(_l("“%(value)s” is not an amount.", value=value), field_name)
    if amount < 0:
        raise ServiceError(_l("An amount cannot be negative."), field_name)
    # Size first: quantizing "1E+30" to cents needs more digits than Decimal keeps and raises.
    if amount > MAX_AMOUNT:
        raise ServiceError(_l("The amount is too large."), field_name)
    if amount != amount.quantize(CENT):
        raise ServiceError(_l("An amount has at most two decimal places."), field_name)
    return amount.quantize(CENT)


def parse_percent(value, field_name: str = "discount_percent") -> Decimal:
    """A percentage from 0 to 100 with at most two decimal places; empty is 0, a trailing % is allowed."""
    text = clean_text(str(value)).rstrip("%％").strip() if value is not None else ""
    try:
        percent = parse_amount(text or "0", field_name)
    except ServiceError:
        percent = None
    if percent is None or percent > 100:
        raise ServiceError(_l("Enter a percentage between 0 and 100 (at most two decimal places)."), field_name)
    return percent


def check_date(value: date | None, field_name: str, required: bool = False) -> date | None:
    if value is None:
        if required:
            raise ServiceError(_l("A date is required."), field_name)
        return None
    if isinstance(value, datetime):
        value = value.date()
    if not (EARLIEST <= value <= LATEST):
        raise ServiceError(_l("The date must be between %(start)s and %(end)s.", start=EARLIEST, end=LATEST),
                           field_name)
    return value


def _required_text(value, field_name: str, max_length: int) -> str:
    text = clean_line(value)
    if not text:
        raise ServiceError(_l("This field is required."), field_name)
    if len(text) > max_length:
        raise ServiceError(_l("At most %(n)d characters.", n=max_length), field_name)
    return text


def _optional_text(value, field_name: str, max_length: int) -> str | None:
    text = clean_line(value)
    if len(text) > max_length:
        raise ServiceError(_l("At most %(n)d characters.", n=max_length), field_name)
    return text or None


def local_day_start(day: date) -> datetime:
    """The naive-UTC instant a local calendar day begins."""
    return local_to_utc(datetime.combine(day, time.min))


def _department_name(department_id: int | None) -> str:
    department = db.session.get(Department, department_id) if department_id else None
    return department.name if department else _("no department")


# --- settings -----------------------------------------------------------------------
@dataclass
class EffectiveSettings:
    pool_release_days: int
    daily_claim_cap: int
    behind_margin_percent: int


def _settings_rows() -> dict[int, EffectiveSettings]:
    """Every department's settings row (one small table), read once per request: plan vs actual asks for
    each department and team on the page (measured: 14 identical queries at 40 departments)."""
    cached = g.get("_sales_settings") if has_request_context() else None
    if cached is None:
        cached = {row.department_id: EffectiveSettings(row.pool_release_days, row.daily_claim_cap,
                                                       row.behind_margin_percent)
                  for row in db.session.scalars(select(SalesSetting))}
        if has_request_context():
            g._sales_settings = cached
    return cached


def settings_for(department_id: int | None) -> EffectiveSettings:
    """The department's sales settings, else its home department's, else the defaults."""
    candidates = [d for d in (department_id, home_department_id(department_id)) if d is not None]
    rows = _settings_rows()
    for candidate in candidates:
        if candidate in rows:
            return rows[candidate]
    config = current_app.config if has_app_context() else {}
    return EffectiveSettings(config.get("PLANS_POOL_RELEASE_DAYS", DEFAULT_RELEASE_DAYS),
                             config.get("PLANS_DAILY_CLAIM_CAP", DEFAULT_CLAIM_CAP),
                             config.get("PLANS_BEHIND_MARGIN_PERCENT", DEFAULT_BEHIND_MARGIN))


def save_settings(department_id: int, pool_release_days: int, daily_claim_cap: int,
                  behind_margin_percent: int) -> SalesSetting:
    """Create or update a department's pool and behind-plan settings."""
    if not (1 <= (pool_release_days or 0) <= 3650):
        raise ServiceError(_l("Between 1 and 3650 days."), "pool_release_days")
    if not (0 <= (daily_claim_cap if daily_claim_cap is not None else -1) <= 1000):
        raise ServiceError(_l("Between 0 and 1000."), "daily_claim_cap")
    if not (0 <= (behind_margin_percent if behind_margin_percent is not None else -1) <= 100):
        raise ServiceError(_l("Between 0 and 100."), "behind_margin_percent")
    if db.session.get(Department, department_id) is None:
        raise ServiceError(_l("Choose a department."), "department_id")
    row = db.session.scalar(select(SalesSetting).where(SalesSetting.department_id == department_id))
    if row is None:
        row = SalesSetting(department_id=department_id)
        db.session.add(row)
    row.pool_release_days, row.daily_claim_cap = pool_release_days, daily_claim_cap
    row.behind_margin_percent = behind_margin_percent
    if has_request_context():
        g.pop("_sales_settings", None)
    db.session.flush()
    return row


# --- custom customer fields --------------------------------------------------------------
_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def active_fields() -> list[CustomerField]:
    return list(db.session.scalars(select(CustomerField).where(CustomerField.is_active.is_(True))
                                   .order_by(CustomerField.position, CustomerField.id)))


def save_field(field_row: CustomerField | None, key: str, label: str, kind: str, choices, is_required: bool,
               is_listed: bool = False, position: int = 0, is_active: bool = True) -> CustomerField:
    """Create or update an admin-defined customer field (its key never changes once created)."""
    label = _required_text(label, "label", 80)
    if kind not in FIELD_KINDS:
        raise ServiceError(_l("Unknown field type."), "kind")
    if isinstance(choices, str):
        choices = [clean_text(c) for c in re.split(r"[\n,，;；]", choices)]
    choices = list(dict.fromkeys(c for c in (choices or []) if c))
    if kind in ("choice", "multi_choice") and not choices:
        raise ServiceError(_l("A choice field needs at least one option."), "choices")
    if field_row is None:
        key = clean_text(key).lower()
        if not _KEY_PATTERN.match(key):
            raise ServiceError(_l("Use lowercase letters, digits and underscores, starting with a letter."), "key")
        if db.session.scalar(select(CustomerField.id).where(CustomerField.key == key)):
            raise ServiceError(_l("A field with this key already exists."), "key")
        field_row = CustomerField(key=key)
        db.session.add(field_row)
    field_row.label, field_row.kind = label, kind
    field_row.choices = choices if kind in ("choice", "multi_choice") else []
    field_row.is_required, field_row.is_listed = bool(is_required), bool(is_listed)
    field_row.position, field_row.is_active = int(position or 0), bool(is_active)
    db.session.flush()
    return field_row


def _option(value: str, options: list) -> str | None:
    """The option ``value`` names: itself, else the one option equal to it but for case (``b`` → ``B``)."""
    if value in options:
        return value
    matches = [option for option in options if option.casefold() == value.casefold()]
    return matches[0] if len(matches) == 1 else None


def extra_value(definition, raw) -> tuple[object, object]:
    """(stored value, None) of one custom field's raw value (text or a list), or (None, why it is refused).

    The reason is a lazy message: the customer form shows it at once, an import keeps it to show
    in each reader's language. An empty value is (None, None) unless the field is required.
    """
    if isinstance(raw, (list, tuple)):
        items = [clean_text(v) for v in raw if clean_text(v)]
    else:
        items = [clean_text(raw)] if clean_text(raw) else []
    label, kind = definition.label, definition.kind
    if not items:
        return None, (_l("%(label)s is required.", label=label) if definition.is_required else None)
    value = items[0]
    if kind == "number":
        try:
            number = Decimal(value.replace(",", ""))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            return None, _l("%(label)s must be a number.", label=label)
        return str(number), None
    if kind == "date":
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return None, _l("%(label)s must be a date (YYYY-MM-DD).", label=label)
        if not EARLIEST <= day <= LATEST:
            return None, _l("%(label)s: the date must be between %(start)s and %(end)s.", label=label,
                            start=EARLIEST.isoformat(), end=LATEST.isoformat())
        return day.isoformat(), None
    if kind in ("choice", "multi_choice"):
        given = items if kind == "multi_choice" else [value]
        chosen = [_option(item, definition.choices) for item in given]
        unknown = [item for item, option in zip(given, chosen) if option is None]
        if unknown:
            return None, _l("%(label)s: “%(value)s” is not one of the options (%(options)s).", label=label,
                            value="、".join(unknown), options=" / ".join(definition.choices))
        return (chosen if kind == "multi_choice" else chosen[0]), None
    if kind == "phone":
        return (value, None) if phone_key(value) else (None, _l("%(label)s is not a phone number.", label=label))
    if kind == "email":
        if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            return None, _l("%(label)s is not an email address.", label=label)
        return email_key(value), None
    if len(value) > 500:
        return None, _l("%(label)s: at most %(n)d characters.", label=label, n=500)
    return value, None


def clean_extra(values: dict, fields: list[CustomerField] | None = None) -> dict:
    """Validate custom field values (raw strings or lists) into the stored form; every bad one is refused at once.

    An error's ``field`` is ``x_<key>``, the name the customer form gives the input.
    """
    fields = active_fields() if fields is None else fields
    result, errors = {}, {}
    for definition in fields:
        value, problem = extra_value(definition, values.get(definition.key))
        if problem is not None:
            errors[f"x_{definition.key}"] = str(problem)
        elif value is not None:
            result[definition.key] = value
    if errors:
        raise InvalidFields(errors)
    return result


def display_extra(value) -> str:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return "" if value is None else str(value)


# --- customers ----------------------------------------------------------------------------
def find_duplicate(name: str | None, phone: str | None, exclude_id: int | None = None) -> Customer | None:
    """A live customer with the same normalised name or phone (the 撞单 check)."""
    name_k, phone_k = company_key(name), phone_key(phone)
    conditions = []
    if name_k:
        conditions.append(Customer.name_key == name_k)
    if phone_k:
        conditions.append(Customer.phone_key == phone_k)
    if not conditions:
        return None
    query = select(Customer).where(or_(*conditions), Customer.deleted_at.is_(None))
    if exclude_id is not None:
        query = query.where(Customer.id != exclude_id)
    return db.session.scalars(query.order_by(Customer.is_in_pool, Customer.id).limit(1)).first()


def _checked_phone(value: str | None) -> str | None:
    """A typed phone number as imports store it (mobiles as 11 digits, landlines as 0AA-NNNNNNNN,
    extensions kept), or refused: "12345" is no customer's number."""
    phone = _optional_text(value, "phone", 40)
    if not phone:
        return phone
    cleaned = clean_phone(phone)
    if cleaned.error:
        raise ServiceError(_l("“%(value)s” is not a phone number.", value=phone), "phone")
    return cleaned.value


def duplicate_message(existing: Customer, asking: User | None = None) -> str:
    """Who already has this customer, by department (names the department, not the person), or that
    the one asking has it already."""
    if asking is not None and existing.owner_id == asking.id and not existing.is_in_pool:
        return _("You already have %(name)s (same name or phone): it is in your customers.", name=existing.name)
    if existing.is_in_pool:
        return _("%(name)s is already in the public pool of %(department)s; claim it there instead.",
                 name=existing.name, department=_department_name(existing.department_id))
    owner_department = existing.owner.department_id if existing.owner else existing.department_id
    return _("%(name)s is already followed by %(department)s (same name or phone); ask them before contacting it.",
             name=existing.name, department=_department_name(owner_department))


def _record_assignment(customer: Customer, kind: str, from_user_id, to_user_id, note=None) -> None:
    db.session.add(CustomerAssignment(customer_id=customer.id, kind=kind, from_user_id=from_user_id,
                                      to_user_id=to_user_id, note=note))


def create_customer(name: str, actor: User, owner: User | None = None, phone: str | None = None,
                    email: str | None = None, industry: str | None = None, city: str | None = None,
                    address: str | None = None, source: str | None = None, campaign_id: int | None = None,
                    extra: dict | None = None, in_pool: bool = False, department_id: int | None = None,
                    created_at: datetime | None = None, last_followup_at: datetime | None = None,
                    check_duplicates: bool = True) -> Customer:
    """Create a customer owned by ``owner`` (default: the actor), or in a department's pool.

    Refuses a duplicate (same normalised name or phone) naming the current owner's department.
    ``extra`` holds raw custom field values keyed by field key. Flushes.
    """
    name = _customer_name(name)
    phone = _checked_phone(phone)
    email = _optional_text(email, "email", 254)
    if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise ServiceError(_l("“%(value)s” is not an email address.", value=email), "email")
    if campaign_id is not None and db.session.get(Campaign, campaign_id) is None:
        raise ServiceError(_l("The campaign does not exist."), "campaign_id")
    if check_duplicates:
        existing = find_duplicate(name, phone)
        if existing is not None:
            raise ServiceError(duplicate_message(existing, actor), "name")
    cleaned_extra = clean_extra(extra or {})
    owner = None if in_pool else (owner or actor)
    now = utcnow()
    customer = Customer(
        name=name, name_key=company_key(name), phone=phone, phone_key=phone_key(phone), email=email_key(email) or None,
        industry=_optional_text(industry, "industry", 60), city=_optional_text(city, "city", 60),
        address=_optional_text(address, "address", 300), source=_optional_text(source, "source", 40),
        owner_id=owner.id if owner else None,
        department_id=department_id if department_id is not None else (
            owner.department_id if owner else actor.department_id),
        campaign_id=campaign_id, extra=cleaned_extra, is_in_pool=in_pool, pool_entered_at=now if in_pool else None,
        last_followup_at=last_followup_at or (created_at or now), created_by_id=actor.id, created_at=created_at or now,
    )
    db.session.add(customer)
    db.session.flush()
    _record_assignment(customer, "create", None, customer.owner_id)
    db.session.flush()
    return customer


def _customer_name(value) -> str:
    """A customer's name: required, and more than punctuation or a legal form (“有限公司”)."""
    name = _required_text(value, "name", 200)
    if names_nothing(name):
        raise ServiceError(_l("Give the customer's name, not only punctuation or a legal form."), "name")
    return name


def update_customer(customer: Customer, actor: User, **values) -> Customer:
    """Change a customer's details; the duplicate check runs when the name or phone changes."""
    if customer.deleted_at is not None:
        raise ServiceError(_l("This customer was deleted."))
    name = _customer_name(values.get("name", customer.name)) if values.get("name", customer.name) != customer.name \
        else customer.name
    phone = values.get("phone", customer.phone)
    if phone != customer.phone:  # a number stored before this check stays until someone changes it
        phone = _checked_phone(phone)
    email = _optional_text(values.get("email", customer.email), "email", 254)
    if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise ServiceError(_l("“%(value)s” is not an email address.", value=email), "email")
    if company_key(name) != customer.name_key or phone_key(phone) != customer.phone_key:
        existing = find_duplicate(name, phone, exclude_id=customer.id)
        if existing is not None:
            raise ServiceError(duplicate_message(existing, actor), "name")
    campaign_id = values.get("campaign_id", customer.campaign_id)
    if campaign_id is not None and db.session.get(Campaign, campaign_id) is None:
        raise ServiceError(_l("The campaign does not exist."), "campaign_id")
    if "extra" in values:
        customer.extra = clean_extra(values["extra"] or {})
    customer.name, customer.name_key = name, company_key(name)
    customer.phone, customer.phone_key = phone, phone_key(phone)
    customer.email = email_key(email) or None
    for key, limit in (("industry", 60), ("city", 60), ("address", 300), ("source", 40)):
        if key in values:
            setattr(customer, key, _optional_text(values[key], key, limit))
    customer.campaign_id = campaign_id
    db.session.flush()
    return customer


def delete_customer(customer: Customer, actor: User) -> None:
    """Soft-delete: the row stays for the audit trail but disappears from lists."""
    customer.deleted_at = utcnow()
    db.session.flush()


def transfer_customer(customer: Customer, new_owner: User, actor: User, note: str | None = None) -> None:
    """Give a customer to another rep (a head's or lead's decision)."""
    if customer.deleted_at is not None:
        raise ServiceError(_l("This customer was deleted."))
    old = customer.owner_id
    customer.owner_id, customer.department_id = new_owner.id, new_owner.department_id
    customer.is_in_pool, customer.pool_entered_at = False, None
    customer.last_followup_at = utcnow()
    _record_assignment(customer, "transfer", old, new_owner.id, note)
    db.session.flush()
    body = _l("%(actor)s gave it to you.", actor=actor.display_name) if not note else _l(
        "%(actor)s gave it to you: %(note)s", actor=actor.display_name, note=note)
    notify([new_owner], "customer.transferred", _l("Customer %(name)s is now yours", name=customer.name), body,
           link=f"/customers/{customer.id}")
    previous = db.session.get(User, old) if old else None
    if previous is not None and previous.id not in (new_owner.id, actor.id):
        notify([previous], "customer.transferred_away",
               _l("Customer %(name)s went to %(owner)s", name=customer.name, owner=new_owner.display_name),
               note or "", link="/customers")


def add_contact(customer: Customer, name: str, title=None, phone=None, email=None,
                is_primary: bool = False) -> Contact:
    """Add a person at a customer."""
    name = _required_text(name, "name", 100)
    phone = _checked_phone(phone)
    email = _optional_text(email, "email", 254)
    if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise ServiceError(_l("“%(value)s” is not an email address.", value=email), "email")
    if is_primary:
        for other in customer.contacts:
            other.is_primary = False
    contact = Contact(customer_id=customer.id, name=name, title=_optional_text(title, "title", 100), phone=phone,
                      phone_key=phone_key(phone), email=email_key(email) or None, is_primary=bool(is_primary))
    db.session.add(contact)
    db.session.flush()
    return contact


# --- public pool (公海) ------------------------------------------------------------------------
#: Days a rep waits before claiming back a customer they returned to the pool, so that returning and
#: claiming again cannot restart the follow-up clock, and colleagues get a fair chance at it.
CLAIM_BACK_DAYS = 7


def _has_open_deals(customer_id_column):
    """A condition: the customer has a deal still in progress."""
    return select(Opportunity.id).where(Opportunity.customer_id == customer_id_column,
                                        Opportunity.stage.in_(OPEN_STAGES)).exists()


def release_to_pool(customer: Customer, note: str | None = None) -> None:
    """Return a customer to the pool; one with a deal in progress stays with its rep."""
    if db.session.scalar(select(_has_open_deals(customer.id))):
        raise ServiceError(_l("%(name)s has a deal in progress: win, lose or hand over the deal before returning "
                              "the customer to the pool.", name=customer.name))
    old = customer.owner_id
    customer.owner_id, customer.is_in_pool, customer.pool_entered_at = None, True, utcnow()
    _record_assignment(customer, "release", old, None, note)


def release_pool(now: datetime | None = None, department_ids=None, limit: int | None = None) -> list[Customer]:
    """Return to the pool every owned customer without follow-up for its department's N days.

    ``department_ids`` limits the sweep (the pool page sweeps only the viewer's departments);
    ``limit`` releases at most that many, those idle longest first, so that a page view after a
    migration of years-old customers stays short and the nightly command does the rest.
    The releases are the system's doing, recorded so, whoever's page view ran the sweep.
    """
    with as_system():
        released = _release_idle_customers(now or utcnow(), department_ids, limit)
        db.session.flush()
    return released


def _release_idle_customers(now: datetime, department_ids, limit: int | None) -> list[Customer]:
    idle_since = func.coalesce(Customer.last_followup_at, Customer.created_at)
    departments_by_days: dict[int, list[int]] = defaultdict(list)
    for department_id in db.session.scalars(select(Department.id)):
        if department_ids is None or department_id in department_ids:
            departments_by_days[settings_for(department_id).pool_release_days].append(department_id)
    # Each department's own period in the statement itself, so that ``limit`` counts only the due.
    due = [and_(Customer.department_id.in_(ids), idle_since < now - timedelta(days=days))
           for days, ids in departments_by_days.items()]
    if department_ids is None:
        due.append(and_(Customer.department_id.is_(None),
                        idle_since < now - timedelta(days=settings_for(None).pool_release_days)))
    if not due:
        return []
    # A customer in negotiation is not idle, whatever the follow-ups say.
    query = (select(Customer).where(Customer.is_in_pool.is_(False), Customer.deleted_at.is_(None),
                                    Customer.is_lost.is_(False), or_(*due), ~_has_open_deals(Customer.id))
             .order_by(idle_since, Customer.id).limit(limit))
    released = list(db.session.scalars(query))
    owners: dict[int, list[Customer]] = defaultdict(list)
    for customer in released:
        owners[customer.owner_id].append(customer)
        days = settings_for(customer.department_id).pool_release_days
        # A stored note is read by everyone: written in the company's language, not the job's (English).
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            note = ngettext("No follow-up for %(num)d day", "No follow-up for %(num)d days", days)
        release_to_pool(customer, note=note)
    db.session.flush()
    for owner_id, customers in owners.items():
        owner = db.session.get(User, owner_id) if owner_id else None
        if owner is not None:
            names = "、".join(c.name for c in customers[:10])
            notify([owner], "customer.released",
                   lazy_ngettext("%(num)d customer returned to the public pool",
                                 "%(num)d customers returned to the public pool", len(customers)),
                   _l("No follow-up in time: %(names)s", names=names), link="/customers/pool")
    return released


def claim_back_times(user: User, customer_ids) -> dict[int, datetime]:
    """For customers ``user`` returned to the pool lately: when (UTC) they may claim each back, to the minute
    (one statement for a whole page)."""
    since = utcnow() - timedelta(days=CLAIM_BACK_DAYS)
    rows = db.session.execute(select(CustomerAssignment.customer_id, func.max(CustomerAssignment.created_at)).where(
        CustomerAssignment.customer_id.in_(sorted(customer_ids) or [-1]), CustomerAssignment.kind == "release",
        CustomerAssignment.from_user_id == user.id, CustomerAssignment.created_at > since)
        .group_by(CustomerAssignment.customer_id))
    return {customer_id: at + timedelta(days=CLAIM_BACK_DAYS) for customer_id, at in rows}


def claims_today(user: User) -> int:
    start = local_day_start(local_today())
    return db.session.scalar(select(func.count()).select_from(CustomerAssignment).where(
        CustomerAssignment.to_user_id == user.id, CustomerAssignment.kind == "claim",
        CustomerAssignment.created_at >= start)) or 0


def claim_customer(customer: Customer, user: User) -> Customer:
    """A rep takes a pool customer: daily cap and duplicate check first."""
    if customer.deleted_at is not None or not customer.is_in_pool:
        raise ServiceError(_l("This customer is not in the public pool any more."))
    cap = settings_for(user.department_id).daily_claim_cap
    if claims_today(user) >= cap:
        raise ServiceError(ngettext("You have reached today's limit of %(num)d claim from the pool.",
                                    "You have reached today's limit of %(num)d claims from the pool.", cap))
    existing = db.session.scalars(select(Customer).where(
        or_(Customer.name_key == customer.name_key,
            and_(Customer.phone_key != "", Customer.phone_key == customer.phone_key)),
        Customer.id != customer.id, Customer.deleted_at.is_(None), Customer.is_in_pool.is_(False)).limit(1)).first()
    if existing is not None:
        raise ServiceError(duplicate_message(existing, user))
    returned_on = db.session.scalar(select(func.max(CustomerAssignment.created_at)).where(
        CustomerAssignment.customer_id == customer.id, CustomerAssignment.kind == "release",
        CustomerAssignment.from_user_id == user.id))
    if returned_on is not None and returned_on > utcnow() - timedelta(days=CLAIM_BACK_DAYS):
        again_at = to_local(returned_on + timedelta(days=CLAIM_BACK_DAYS))
        raise ServiceError(_l("You returned this customer to the pool on %(day)s; you may claim it again from "
                              "%(again)s, unless a colleague takes it first.",
                              day=to_local(returned_on).date().isoformat(), again=again_at.strftime("%Y-%m-%d %H:%M")))
    customer.owner_id, customer.department_id = user.id, user.department_id
    customer.is_in_pool, customer.pool_entered_at = False, None
    customer.last_followup_at = utcnow()
    # Deals still open (a customer returned before deals kept it out of the pool) go with the customer.
    for deal in db.session.scalars(select(Opportunity).where(Opportunity.customer_id == customer.id,
                                                             Opportunity.stage.in_(OPEN_STAGES))):
        deal.owner_id, deal.department_id = user.id, user.department_id
    _record_assignment(customer, "claim", None, user.id)
    db.session.flush()
    return customer


# --- follow-up activities ---------------------------------------------------------------------
def _check_occurred(occurred_at: datetime | None) -> datetime:
    if occurred_at is None:
        raise ServiceError(_l("When did it happen?"), "occurred_at")
    check_date(occurred_at.date(), "occurred_at")
    if occurred_at > utcnow() + timedelta(hours=1):
        raise ServiceError(_l("A follow-up cannot be in the future."), "occurred_at")
    return occurred_at


#: How far ahead a follow-up's next step may be planned (2099 is a slip of the keyboard, not a plan).
NEXT_STEP_HORIZON_DAYS = 366


def log_activity(customer: Customer, actor: User, kind: str, occurred_at: datetime, outcome: str = "",
                 next_step: str | None = None, next_step_on: date | None = None,
                 opportunity: Opportunity | None = None, created_at: datetime | None = None,
                 is_history: bool = False, done_step_ids=()) -> Activity:
    """Record a follow-up; ``occurred_at`` is naive UTC. ``created_at`` is the server's clock.

    ``done_step_ids`` are the actor's earlier follow-ups on this customer whose next step this one took.

    A follow-up says what came of it. ``is_history`` marks one brought in from old records (imports,
    demo data), which may lack an outcome; only those give ``created_at``.
    """
    if kind not in ACTIVITY_KINDS:
        raise ServiceError(_l("Unknown kind of follow-up."), "kind")
    if customer.deleted_at is not None:
        raise ServiceError(_l("This customer was deleted."))
    occurred_at = _check_occurred(occurred_at)
    if not is_history and not clean_note(outcome):
        raise ServiceError(_l("Say what came of the follow-up."), "outcome")
    next_step = _optional_text(next_step, "next_step", 300)
    next_step_on = check_date(next_step_on, "next_step_on")
    if next_step_on and not next_step:
        raise ServiceError(_l("Say what the next step is."), "next_step")
    if next_step_on and next_step_on < to_local(occurred_at).date():
        raise ServiceError(_l("The next step cannot be due before the follow-up itself."), "next_step_on")
    if next_step_on and next_step_on > to_local(occurred_at).date() + timedelta(days=NEXT_STEP_HORIZON_DAYS):
        raise ServiceError(_l("A next step is planned within a year of the follow-up."), "next_step_on")
    if opportunity is not None and opportunity.customer_id != customer.id:
        raise ServiceError(_l("The deal belongs to another customer."), "opportunity_id")
    activity = Activity(kind=kind, user_id=actor.id, department_id=actor.department_id, customer_id=customer.id,
                        opportunity_id=opportunity.id if opportunity else None, occurred_at=occurred_at,
                        created_at=created_at or utcnow(), outcome=clean_note(outcome)[:5000] if outcome else "",
                        next_step=next_step, next_step_on=next_step_on)
    db.session.add(activity)
    # The steps this follow-up took, as the rep ticked them: a call about one thing does not do another.
    if done_step_ids:
        for step in db.session.scalars(select(Activity).where(
                Activity.id.in_(sorted(set(done_step_ids))), Activity.customer_id == customer.id,
                Activity.user_id == actor.id, Activity.is_next_step_done.is_(False))):
            step.is_next_step_done = True
    if customer.last_followup_at is None or occurred_at > customer.last_followup_at:
        customer.last_followup_at = occurred_at
    if opportunity is not None and opportunity.stage == "lead" and kind in ("visit", "meeting"):
        move_stage(opportunity, "visited", actor)
    db.session.flush()
    return activity


def update_activity(activity: Activity, outcome: str | None = None, next_step: str | None = None,
                    next_step_on: date | None = None, is_next_step_done: bool | None = None) -> Activity:
    """Edit what came of a follow-up; who, when and ``created_at`` never change."""
    if outcome is not None:
        if not clean_note(outcome) and activity.outcome:
            raise ServiceError(_l("Say what came of the follow-up."), "outcome")
        activity.outcome = clean_note(outcome)[:5000]
    if next_step is not None:
        activity.next_step = _optional_text(next_step, "next_step", 300)
    if next_step_on is not None:
        activity.next_step_on = check_date(next_step_on, "next_step_on")
    if is_next_step_done is not None:
        activity.is_next_step_done = bool(is_next_step_done)
    db.session.flush()
    return activity


def open_next_steps(customer: Customer, user: User) -> list[Activity]:
    """``user``'s next steps on a customer not yet done, soonest first: the ones a new follow-up may take."""
    return list(db.session.scalars(select(Activity).where(
        Activity.customer_id == customer.id, Activity.user_id == user.id, Activity.is_next_step_done.is_(False),
        Activity.next_step_on.is_not(None)).order_by(Activity.next_step_on, Activity.id)))


def _is_overdue_step():
    return and_(Activity.is_next_step_done.is_(False), Activity.next_step_on < local_today())


def overdue_next_steps(user: User, limit: int = 20) -> list[Activity]:
    """The user's next steps whose date has passed and that are not done, oldest first."""
    return list(db.session.scalars(
        select(Activity).where(Activity.user_id == user.id, _is_overdue_step())
        .options(db.joinedload(Activity.customer)).order_by(Activity.next_step_on, Activity.id).limit(limit)))


def overdue_next_step_count(user: User) -> int:
    """How many of the user's next steps are overdue (``overdue_next_steps`` shows the oldest of them)."""
    return db.session.scalar(select(func.count()).select_from(Activity).where(
        Activity.user_id == user.id, _is_overdue_step())) or 0


def activity_conditions(filters: dict) -> list:
    """The follow-up list's filters: kind, who recorded it, customer, only overdue next steps, and the
    local days it happened on (``since`` to ``until``, both included)."""
    conditions = []
    if filters.get("kind"):
        conditions.append(Activity.kind == filters["kind"])
    if filters.get("user_id"):
        conditions.append(Activity.user_id == filters["user_id"])
    if filters.get("customer_id"):
        conditions.append(Activity.customer_id == filters["customer_id"])
    if filters.get("overdue"):
        conditions.append(_is_overdue_step())
    if filters.get("since"):
        conditions.append(Activity.occurred_at >= local_to_utc(datetime.combine(filters["since"], time.min)))
    if filters.get("until"):
        conditions.append(Activity.occurred_at < local_to_utc(
            datetime.combine(filters["until"] + timedelta(days=1), time.min)))
    return conditions


def activity_counts_by_user(since: datetime, until: datetime) -> dict[int, int]:
    """Follow-ups recorded per user between two naive-UTC instants (by server time)."""
    rows = db.session.execute(select(Activity.user_id, func.count()).where(
        Activity.created_at >= since, Activity.created_at < until).group_by(Activity.user_id))
    return {user_id: count for user_id, count in rows}


# --- opportunities --------------------------------------------------------------------------------
def create_opportunity(customer: Customer, actor: User, name: str, amount, expected_close_on: date | None = None,
                       owner: User | None = None, campaign_id: int | None = None, stage: str = "lead",
                       created_at: datetime | None = None) -> Opportunity:
    """Open a deal for a customer; it starts at ``lead`` unless told otherwise."""
    if customer.deleted_at is not None:
        raise ServiceError(_l("This customer was deleted."))
    if stage not in OPEN_STAGES:
        raise ServiceError(_l("A new deal starts in an open stage."), "stage")
    owner = owner or actor
    refusals = _Refusals()
    name = refusals.check(_required_text, name, "name", 200)
    amount = refusals.check(parse_amount, amount, "amount")
    # Imports replay history (created_at given): their deals may have been expected in the past.
    expected_close_on = refusals.check(check_expected_close, expected_close_on, live=created_at is None)
    refusals.raise_any()
    opportunity = Opportunity(
        name=name, customer_id=customer.id, owner_id=owner.id,
        department_id=owner.department_id, campaign_id=campaign_id if campaign_id else customer.campaign_id,
        amount=amount, stage=stage, expected_close_on=expected_close_on,
        created_at=created_at or utcnow(), stage_changed_at=created_at or utcnow())
    db.session.add(opportunity)
    db.session.flush()
    db.session.add(StageChange(opportunity_id=opportunity.id, from_stage=None, to_stage=stage, user_id=actor.id,
                               changed_at=opportunity.created_at))
    db.session.flush()
    return opportunity


def check_expected_close(value: date | None, live: bool = True) -> date | None:
    value = check_date(value, "expected_close_on")
    if live and value is not None and value < local_today():
        raise ServiceError(_l("An open deal is expected to close today or later."), "expected_close_on")
    if live and value is not None and value > local_today() + timedelta(days=3 * 366):
        raise ServiceError(_l("A deal is expected to close within three years."), "expected_close_on")
    return value


def update_opportunity(opportunity: Opportunity, name: str, amount, expected_close_on: date | None,
                       campaign_id: int | None = None) -> Opportunity:
    """Correct an open deal's name, expected amount, expected close date or campaign; a closed deal is kept."""
    if opportunity.stage not in OPEN_STAGES:
        raise NotAllowed(_("A won or lost deal is kept as it closed."))
    refusals = _Refusals()
    name = refusals.check(_required_text, name, "name", 200)
    amount = refusals.check(parse_amount, amount, "amount")
    expected_close_on = refusals.check(check_expected_close, expected_close_on)
    refusals.raise_any()
    opportunity.name, opportunity.amount, opportunity.expected_close_on = name, amount, expected_close_on
    opportunity.campaign_id = campaign_id or None
    db.session.flush()
    return opportunity


def move_stage(opportunity: Opportunity, to_stage: str, actor: User, lost_reason_id: int | None = None,
               note: str | None = None, amount=None, when: datetime | None = None,
               is_history: bool = False) -> Opportunity:
    """Move a deal along ``STAGE_TRANSITIONS``; losing needs a reason, winning may fix the signed amount.
    ``is_history`` records a move brought in from old records (imports): its owner is not told."""
    if to_stage not in STAGES:
        raise NotAllowed(_("Unknown stage."))
    if to_stage not in STAGE_TRANSITIONS[opportunity.stage]:
        raise NotAllowed(_("A deal cannot move from %(from)s to %(to)s.",
                           **{"from": STAGE_LABELS[opportunity.stage], "to": STAGE_LABELS[to_stage]}))
    note = _optional_text(note, "note", 2000)
    reason = None
    if to_stage == "lost":
        reason = db.session.get(LostReason, lost_reason_id) if lost_reason_id else None
        if reason is None or not reason.is_active:
            raise ServiceError(_l("Choose why the deal was lost."), "lost_reason_id")
    new_amount = parse_amount(amount, "amount") if amount not in (None, "") else None
    if new_amount is not None and to_stage != "won":
        raise ServiceError(_l("The signed amount is given when the deal is won; change the expected amount "
                              "with “Edit”."), "amount")
    if to_stage == "won" and (new_amount if new_amount is not None else opportunity.amount) <= 0:
        raise ServiceError(_l("A won deal needs its signed amount."), "amount")
    when = when or utcnow()
    db.session.add(StageChange(opportunity_id=opportunity.id, from_stage=opportunity.stage, to_stage=to_stage,
                               user_id=actor.id, changed_at=when, note=note))
    opportunity.stage, opportunity.stage_changed_at = to_stage, when
    if new_amount is not None:
        opportunity.amount = new_amount
    if to_stage in ("won", "lost"):
        opportunity.closed_on = _local_date(when)
    else:
        opportunity.closed_on = None
    if to_stage == "lost":
        opportunity.lost_reason_id, opportunity.lost_note = reason.id, note
        if reason.is_churn:
            opportunity.customer.is_lost = True
    elif to_stage == "lead":
        opportunity.lost_reason_id, opportunity.lost_note = None, None
    db.session.flush()
    if to_stage in ("won", "lost") and opportunity.owner_id != actor.id and not is_history:
        notify([opportunity.owner], f"deal.{to_stage}",
               _l("Deal %(name)s: %(stage)s", name=opportunity.name, stage=STAGE_LABELS[to_stage]),
               link=f"/deals/{opportunity.id}")
    return opportunity


def _local_date(value: datetime) -> date:
    from rollout.timeutil import to_local
    return to_local(value).date()


def save_lost_reason(reason: LostReason | None, name: str, is_churn: bool, is_active: bool = True,
                     position: int = 0) -> LostReason:
    name = _required_text(name, "name", 80)
    duplicate = select(LostReason.id).where(LostReason.name == name)
    if reason is not None:
        duplicate = duplicate.where(LostReason.id != reason.id)
    if db.session.scalar(duplicate):
        raise ServiceError(_l("This reason already exists."), "name")
    if reason is None:
        reason = LostReason()
        db.session.add(reason)
    reason.name, reason.is_churn, reason.is_active, reason.position = name, bool(is_churn), bool(is_active), position
    db.session.flush()
    return reason


# --- quotes and their approval --------------------------------------------------------------------------
def net_amount(list_amount: Decimal, discount_percent: Decimal) -> Decimal:
    return (list_amount * (Decimal(100) - discount_percent) / Decimal(100)).quantize(CENT, ROUND_HALF_UP)


def _check_validity(valid_until: date | None) -> date | None:
    """A quote's last valid day: none, or today or later (a quote that has run out cannot go out)."""
    day = check_date(valid_until, "valid_until")
    if day is not None and day < local_today():
        raise ServiceError(_l("The validity date %(day)s has already passed; choose today or a later day.",
                             day=day.isoformat()), "valid_until")
    return day


def _quote_values(title, list_amount, discount_percent, valid_until) -> tuple:
    """(title, list price, discount, validity) checked together, so that a form marks every bad field."""
    refusals = _Refusals()
    values = (refusals.check(_required_text, title, "title", 200),
              refusals.check(parse_amount, list_amount, "list_amount"),
              refusals.check(parse_percent, discount_percent), refusals.check(_check_validity, valid_until))
    refusals.raise_any()
    return values


def has_expired(quote: Quote, today: date | None = None) -> bool:
    """Its validity date has passed."""
    return quote.valid_until is not None and quote.valid_until < (today or local_today())


def create_quote(customer: Customer, actor: User, title: str, list_amount, discount_percent=0,
                 opportunity: Opportunity | None = None, valid_until: date | None = None, note: str = "") -> Quote:
    """A draft quote for a customer (optionally for one of its deals)."""
    if customer.deleted_at is not None:
        raise ServiceError(_l("This customer was deleted."))
    if opportunity is not None and opportunity.customer_id != customer.id:
        raise ServiceError(_l("The deal belongs to another customer."), "opportunity_id")
    title, list_value, discount, valid_until = _quote_values(title, list_amount, discount_percent, valid_until)
    quote = Quote(title=title, customer_id=customer.id,
                  opportunity_id=opportunity.id if opportunity else None, owner_id=actor.id,
                  department_id=actor.department_id, list_amount=list_value, discount_percent=discount,
                  amount=net_amount(list_value, discount), valid_until=valid_until,
                  note=clean_note(note)[:5000] if note else "", status="draft")
    db.session.add(quote)
    db.session.flush()
    return quote


def update_quote(quote: Quote, title: str, list_amount, discount_percent, valid_until: date | None = None,
                 note: str = "") -> Quote:
    """Revise a draft or rejected quote; a pending or approved quote is locked."""
    if quote.status not in ("draft", "rejected"):
        raise NotAllowed(_("This quote is locked while it is %(status)s.", status=QUOTE_STATUS_LABELS[quote.status]))
    title, list_value, discount, valid_until = _quote_values(title, list_amount, discount_percent, valid_until)
    quote.title = title
    quote.list_amount, quote.discount_percent = list_value, discount
    quote.amount = net_amount(list_value, discount)
    quote.valid_until = valid_until
    quote.note = clean_note(note)[:5000] if note else ""
    db.session.flush()
    return quote


def save_approval_rule(rule: QuoteApprovalRule | None, name: str, min_discount_percent, min_amount,
                       approver_department_code: str | None = None, position: int = 0,
                       is_active: bool = True, approver_department_id: int | None = None) -> QuoteApprovalRule:
    """Create or update a quote approval rule; at least one threshold is needed.

    The approver is a department chosen by id (``approver_department_id``, as the settings form sends it) or by
    code; neither: the head of the quote's department. The rule keeps the department's code, so a department
    chosen without one is given one (see ensure_department_code)."""
    name = _required_text(name, "name", 100)
    discount = parse_percent(min_discount_percent, "min_discount_percent") if min_discount_percent not in (
        None, "") else None
    amount = parse_amount(min_amount, "min_amount", allow_none=True)
    if discount is None and amount is None:
        raise ServiceError(_l("Give a discount or an amount threshold."), "min_discount_percent")
    if approver_department_id:
        department = db.session.get(Department, approver_department_id) if approver_department_id > 0 else None
        if department is None:
            raise ServiceError(_l("That department does not exist (any more): choose the approving department "
                                  "from the list."), "approver_department_id")
        if department.kind == "company":
            raise ServiceError(_l("Choose a department or a team: the whole company cannot approve a quote."),
                               "approver_department_id")
        code = ensure_department_code(department)
    else:
        code = clean_text(approver_department_code) or None
    if code and not db.session.scalar(select(Department.id).where(Department.code == code)):
        raise ServiceError(_l("No department has the code %(code)s.", code=code), "approver_department_code")
    if rule is None:
        rule = QuoteApprovalRule()
        db.session.add(rule)
    rule.name, rule.min_discount_percent, rule.min_amount = name, discount, amount
    rule.approver_department_code, rule.position, rule.is_active = code, int(position or 0), bool(is_active)
    db.session.flush()
    return rule


def rules_for(quote: Quote) -> list[QuoteApprovalRule]:
    """The active rules a quote's discount or amount triggers, in step order."""
    rules = db.session.scalars(select(QuoteApprovalRule).where(QuoteApprovalRule.is_active.is_(True))
                               .order_by(QuoteApprovalRule.position, QuoteApprovalRule.id))
    return [rule for rule in rules
            if (rule.min_discount_percent is not None and quote.discount_percent > rule.min_discount_percent)
            or (rule.min_amount is not None and quote.amount >= rule.min_amount)]


def step_approvers(step: QuoteApprovalStep) -> list[User]:
    """Who may decide a step: the members of the named department, or the heads over the quote's department."""
    if step.approver_department_code:
        department = db.session.scalar(select(Department).where(Department.code == step.approver_department_code))
        if department is None:
            return []
        return list(db.session.scalars(select(User).where(
            User.department_id.in_(subtree_ids(department.id)), User.is_active_account.is_(True))))
    heads = db.session.scalars(select(User).join(UserRole).where(
        UserRole.role == "head", User.is_active_account.is_(True)))
    return [head for head in heads if step.approver_department_id in head_scope_ids(head)]


def may_decide(user: User, step: QuoteApprovalStep, department_ids_by_code: dict | None = None) -> bool:
    """May ``user`` decide this approval step? (``department_ids_by_code``: departments read once for many steps.)"""
    if step.status != "pending":
        return False
    return approves_for(user, step, department_ids_by_code)


def approves_for(user: User, step: QuoteApprovalStep, department_ids_by_code: dict | None = None) -> bool:
    """Is ``user`` among the approvers a step asks (whatever its state), never the quote's own owner?"""
    if user.id == step.quote.owner_id:
        return False
    if user.has_role("admin", "lead"):
        return True
    if step.approver_department_code:
        if department_ids_by_code is None:
            department_ids_by_code = dict(db.session.execute(select(Department.code, Department.id).where(
                Department.code == step.approver_department_code)).all())
        department_id = department_ids_by_code.get(step.approver_department_code)
        return department_id is not None and user.department_id in subtree_ids(department_id)
    return user.has_role("head") and step.approver_department_id in head_scope_ids(user)


def current_step(quote: Quote) -> QuoteApprovalStep | None:
    for step in quote.steps:
        if step.revision == quote.revision and step.status == "pending":
            return step
    return None


def _quote_link(quote: Quote) -> str:
    return f"/quotes/{quote.id}"


def submit_quote(quote: Quote, actor: User) -> Quote:
    """Send a quote for approval; steps come from the rules. Without a triggered rule it is approved at once."""
    if quote.status in QUOTE_TRANSITIONS["submit"][0] and has_expired(quote):
        raise ServiceError(_l("This quote was valid until %(day)s, which has passed: revise it with a new "
                             "validity date, then submit it.", day=quote.valid_until.isoformat()), "valid_until")
    if quote.status == "rejected":
        quote.revision += 1
    _apply(QUOTE_TRANSITIONS, quote, "submit", _("quote"), QUOTE_STATUS_LABELS)
    quote.submitted_at, quote.decided_at, quote.rejection_reason = utcnow(), None, None
    rules = rules_for(quote)
    for position, rule in enumerate(rules, start=1):
        db.session.add(QuoteApprovalStep(
            quote=quote, revision=quote.revision, position=position, rule_id=rule.id, rule_name=rule.name,
            approver_department_code=rule.approver_department_code,
            approver_department_id=None if rule.approver_department_code else quote.department_id,
            status="pending" if position == 1 else "waiting"))
    db.session.flush()
    db.session.refresh(quote, ["steps"])
    if not rules:
        _apply(QUOTE_TRANSITIONS, quote, "approve", _("quote"), QUOTE_STATUS_LABELS)
        quote.decided_at = utcnow()
        db.session.flush()
        return quote
    step = current_step(quote)
    amount, discount = format(quote.amount, ",.2f"), format(quote.discount_percent.normalize(), "f")
    notify(step_approvers(step), "quote.pending",
           _l("Quote to approve: %(title)s (¥%(amount)s, discount %(discount)s%%)",
              title=quote.title, amount=amount, discount=discount),
           _l("%(owner)s asks for approval: %(rule)s.", owner=quote.owner.display_name, rule=step.rule_name),
           link=_quote_link(quote))
    return quote


def _involved(quote: Quote, actor: User) -> list[User]:
    """Who hears of a quote's decision: its owner and those who decided a step, not the one deciding now."""
    people = [quote.owner] + [step.decided_by for step in quote.steps if step.decided_by is not None]
    return [person for person in people if person.id != actor.id]


def approve_step(quote: Quote, actor: User, comment: str | None = None) -> Quote:
    """The current approver agrees; the next step opens, or the quote is approved."""
    step = current_step(quote)
    if quote.status != "pending" or step is None:
        raise NotAllowed(_("This quote is not waiting for approval."))
    if not may_decide(actor, step):
        raise NotAllowed(_("You are not an approver of this step."))
    step.status, step.decided_by_id, step.decided_at = "approved", actor.id, utcnow()
    step.decided_by = actor
    step.comment = _optional_text(comment, "comment", 2000)
    following = [s for s in quote.steps if s.revision == quote.revision and s.status == "waiting"]
    if following:
        following[0].status = "pending"
        db.session.flush()
        notify(step_approvers(following[0]), "quote.pending",
               _l("Quote to approve: %(title)s (%(amount)s, discount %(discount)s%%)",
                  title=quote.title, amount=quote.amount, discount=quote.discount_percent),
               _l("Approved by %(name)s; now needs: %(rule)s.", name=actor.display_name, rule=following[0].rule_name),
               link=_quote_link(quote))
        notify([quote.owner], "quote.step_approved",
               _l("%(name)s approved your quote %(title)s; next: %(rule)s", name=actor.display_name,
                  title=quote.title, rule=following[0].rule_name), link=_quote_link(quote))
        return quote
    _apply(QUOTE_TRANSITIONS, quote, "approve", _("quote"), QUOTE_STATUS_LABELS)
    quote.decided_at = utcnow()
    db.session.flush()
    notify(_involved(quote, actor), "quote.approved", _l("Quote approved: %(title)s", title=quote.title),
           link=_quote_link(quote))
    if quote.opportunity is not None and quote.opportunity.stage in ("lead", "visited"):
        move_stage(quote.opportunity, "quoted", quote.owner)
    return quote


def reject_quote(quote: Quote, actor: User, reason: str) -> Quote:
    """The current approver refuses with a reason; the quote goes back to its owner for revision."""
    step = current_step(quote)
    if quote.status != "pending" or step is None:
        raise NotAllowed(_("This quote is not waiting for approval."))
    if not may_decide(actor, step):
        raise NotAllowed(_("You are not an approver of this step."))
    reason = clean_note(reason)
    if not reason:
        raise ServiceError(_l("Say why the quote is rejected, so it can be revised."), "reason")
    step.status, step.decided_by_id, step.decided_at, step.comment = "rejected", actor.id, utcnow(), reason[:2000]
    step.decided_by = actor
    for other in quote.steps:
        if other.revision == quote.revision and other.status == "waiting":
            other.status = "cancelled"
    _apply(QUOTE_TRANSITIONS, quote, "reject", _("quote"), QUOTE_STATUS_LABELS)
    quote.decided_at, quote.rejection_reason = utcnow(), reason[:2000]
    db.session.flush()
    notify(_involved(quote, actor), "quote.rejected", _l("Quote rejected: %(title)s", title=quote.title),
           _l("%(name)s: %(reason)s", name=actor.display_name, reason=reason), link=_quote_link(quote))
    return quote


def withdraw_quote(quote: Quote, actor: User) -> Quote:
    """The owner takes a pending quote back to draft (open steps are cancelled)."""
    _apply(QUOTE_TRANSITIONS, quote, "withdraw", _("quote"), QUOTE_STATUS_LABELS)
    for step in quote.steps:
        if step.revision == quote.revision and step.status in ("pending", "waiting"):
            step.status = "cancelled"
    quote.revision += 1
    db.session.flush()
    return quote


def plans_awaiting(user: User) -> list[SalesPlan]:
    """Submitted plans ``user`` may approve, oldest submission first."""
    if not user.has_role("lead", "admin", "head"):
        return []
    submitted = db.session.scalars(select(SalesPlan).where(SalesPlan.status == "submitted")
                                   .order_by(SalesPlan.submitted_at, SalesPlan.id)).all()
    return [plan for plan in submitted if can(user, "plans.approve", plan)]


def quotes_awaiting(user: User) -> list[int]:
    """Ids of the quotes whose current step this user may decide."""
    pending = select(QuoteApprovalStep).join(Quote).where(
        QuoteApprovalStep.status == "pending", Quote.status == "pending",
        QuoteApprovalStep.revision == Quote.revision)
    codes = dict(db.session.execute(select(Department.code, Department.id).where(Department.code.is_not(None))).all())
    ids = [step.quote_id for step in db.session.scalars(pending.options(db.joinedload(QuoteApprovalStep.quote)))
           if may_decide(user, step, codes)]
    return ids


# --- periods and plans ----------------------------------------------------------------------------------
def period_bounds(kind: str, day: date) -> tuple[date, date]:
    """The month, quarter or year containing ``day``."""
    if kind == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    elif kind == "quarter":
        first_month = 3 * ((day.month - 1) // 3) + 1
        start = date(day.year, first_month, 1)
        end = (date(day.year + (first_month + 3 > 12), (first_month + 2) % 12 + 1, 1)) - timedelta(days=1)
    elif kind == "year":
        start, end = date(day.year, 1, 1), date(day.year, 12, 31)
    else:
        raise ServiceError(_l("Unknown period."), "period_kind")
    return start, end


def period_label(kind: str, start: date) -> str:
    if kind == "month":
        return f"{start.year}-{start.month:02d}"
    if kind == "quarter":
        return f"{start.year} Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def _plan_owner_clause(level: str, department_id, user_id):
    if level == "rep":
        return and_(SalesPlan.level == "rep", SalesPlan.user_id == user_id)
    return and_(SalesPlan.level == level, SalesPlan.department_id == department_id)


def _target_value(metric: str, raw) -> Decimal:
    if metric != "signed_amount" and clean_text(str(raw)).startswith("-"):
        raise ServiceError(_l("A count cannot be negative."), metric)
    amount = parse_amount(raw, metric)
    if metric != "signed_amount" and amount != amount.to_integral_value():
        raise ServiceError(_l("A count is a whole number."), metric)
    return amount


def _targets_from(values: dict) -> dict[str, Decimal]:
    """Targets by metric (empty ones left out); every bad one is refused at once."""
    refusals = _Refusals()
    targets = {metric: refusals.check(_target_value, metric, values[metric]) for metric in METRICS
               if values.get(metric) not in (None, "")}
    refusals.raise_any()
    return targets


def _plan_owner(level: str, department_id, user_id) -> tuple[int | None, int | None]:
    """(department id, rep id) of a plan's owner; a rep plan belongs to the rep's department."""
    if level == "rep":
        rep = db.session.get(User, user_id) if user_id else None
        if rep is None:
            raise ServiceError(_l("Choose the rep."), "user_id")
        return rep.department_id, rep.id
    department = db.session.get(Department, department_id) if department_id else None
    if department is None:
        raise ServiceError(_l("Choose the department or team."), "department_id")
    expected_kind = {"company": "company", "department": "department", "team": "team"}[level]
    if department.kind != expected_kind:
        raise ServiceError(_l("%(name)s is not a %(kind)s.", name=department.name,
                             kind=LEVEL_LABELS[level]), "department_id")
    return department.id, None


def _check_period_free(period_kind: str, start: date, end: date, level: str, department_id, user_id) -> None:
    # Plans of one kind do not overlap; a month's plan inside the quarter's is how quarters are broken down.
    overlapping = db.session.scalars(select(SalesPlan).where(
        _plan_owner_clause(level, department_id, user_id), SalesPlan.period_kind == period_kind,
        SalesPlan.starts_on <= end, SalesPlan.ends_on >= start).limit(1)).first()
    if overlapping is not None:
        raise ServiceError(_l("This owner already has a plan for %(start)s – %(end)s, which overlaps %(period)s.",
                             start=overlapping.starts_on, end=overlapping.ends_on,
                             period=period_label(period_kind, start)), "starts_on")


def create_plan(actor: User, period_kind: str, day: date, level: str, targets: dict,
                department_id: int | None = None, user_id: int | None = None, note: str = "",
                status: str = "draft") -> SalesPlan:
    """A draft plan for the period containing ``day``; refuses a period overlapping the same owner's plan.

    Every bad field is refused at once (InvalidFields), the overlap among them.
    """
    if period_kind not in PERIOD_KINDS:
        raise ServiceError(_l("Unknown period."), "period_kind")
    if level not in PLAN_LEVELS:
        raise ServiceError(_l("Unknown level."), "level")
    refusals = _Refusals()
    day = refusals.check(check_date, day, "starts_on", required=True)
    owner = refusals.check(_plan_owner, level, department_id, user_id)
    values = refusals.check(_targets_from, targets)
    if day is not None and owner is not None:
        department_id, user_id = owner
        start, end = period_bounds(period_kind, day)
        refusals.check(_check_period_free, period_kind, start, end, level, department_id, user_id)
    refusals.raise_any()
    plan = SalesPlan(period_kind=period_kind, starts_on=start, ends_on=end, level=level,
                     department_id=department_id, user_id=user_id, status=status,
                     note=clean_note(note)[:2000] if note else "", created_by_id=actor.id)
    plan.targets = [PlanTarget(metric=m, target=v) for m, v in values.items()]
    db.session.add(plan)
    db.session.flush()
    return plan


def update_targets(plan: SalesPlan, actor: User, targets: dict, reason: str | None = None) -> SalesPlan:
    """Change a plan's targets. Draft: freely; approved: only with a recorded reason; submitted/closed: refused."""
    if plan.status == "submitted":
        raise NotAllowed(_("The plan is waiting for approval; ask the approver to return it first."))
    if plan.status == "locked":
        raise NotAllowed(_("The plan's period is closed; it can no longer change."))
    values = _targets_from(targets)
    current = {row.metric: row for row in plan.targets}
    changes = {}
    for metric in METRICS:
        old = current[metric].target if metric in current else None
        new = values.get(metric)
        if old != new:
            changes[metric] = [None if old is None else str(old), None if new is None else str(new)]
    if not changes:
        return plan
    reason = clean_note(reason)
    was_approved = plan.status == "approved"
    if was_approved:
        if not reason:
            raise ServiceError(_l("The plan is approved and locked: give a reason for the change."), "reason")
        db.session.add(PlanRevision(plan_id=plan.id, user_id=actor.id, reason=reason[:2000], changes=changes))
        record_event("plan.changed_after_approval", "sales_plans", plan.id, reason[:500],
                     department_id=plan.department_id, changes=changes)
    for metric, (old, new) in changes.items():
        if new is None:
            plan.targets.remove(current[metric])
        elif old is None:
            plan.targets.append(PlanTarget(metric=metric, target=values[metric]))
        else:
            current[metric].target = values[metric]
    if was_approved and not can(actor, "plans.approve", plan):
        # Changed by someone who could not have approved it: it waits for approval again.
        _apply(PLAN_TRANSITIONS, plan, "resubmit", _("plan"), PLAN_STATUS_LABELS)
        plan.submitted_at = utcnow()
        plan.approved_by_id = plan.approved_at = None
        notify(plan_approvers(plan, actor), "plan.submitted",
               _l("Plan changed after approval, to approve again: %(name)s", name=plan_title(plan)), reason,
               link=f"/plans/{plan.id}")
    if was_approved and plan.user is not None and plan.user_id != actor.id:
        notify([plan.user], "plan.changed", _l("Your plan was changed: %(name)s", name=plan_title(plan)), reason,
               link=f"/plans/{plan.id}")
    db.session.flush()
    return plan


def plan_approvers(plan: SalesPlan, actor: User | None = None) -> list[User]:
    """Who may approve a plan: the heads above its unit (not its owner or writer) and the project leads."""
    departments = ancestor_ids(plan.department_id) | {plan.department_id} if plan.department_id else set()
    candidates = db.session.scalars(select(User).join(UserRole).where(
        User.is_active_account.is_(True),
        or_(UserRole.role == "lead", and_(UserRole.role == "head", User.department_id.in_(sorted(departments)))))
        .distinct()).all()
    return [u for u in candidates if (actor is None or u.id != actor.id) and can(u, "plans.approve", plan)]


def transition_plan(plan: SalesPlan, action: str, actor: User, note: str | None = None) -> SalesPlan:
    """Submit, return, approve or close a plan along ``PLAN_TRANSITIONS``."""
    if action == "submit" and not plan.targets:
        raise ServiceError(_l("Set at least one target before submitting."))
    if action == "return" and not clean_note(note):
        raise ServiceError(_l("Say what needs to change."), "note")
    if action == "close" and plan.ends_on >= local_today():
        raise NotAllowed(_("A plan can be closed once its period has ended."))
    _apply(PLAN_TRANSITIONS, plan, action, _("plan"), PLAN_STATUS_LABELS)
    now = utcnow()
    if action == "submit":
        plan.submitted_at = now
        notify(plan_approvers(plan, actor), "plan.submitted", _l("Plan to approve: %(name)s", name=plan_title(plan)),
               link=f"/plans/{plan.id}")
    elif action == "approve":
        plan.approved_by_id, plan.approved_at = actor.id, now
    db.session.flush()
    if action in ("approve", "return"):
        # Its writer, and the rep whose targets they are.
        told = [db.session.get(User, plan.created_by_id) if plan.created_by_id else None, plan.user]
        subject = (_l("Plan approved: %(name)s", name=plan_title(plan)) if action == "approve" else
                   _l("Plan returned for changes by %(actor)s: %(name)s", actor=actor.display_name,
                      name=plan_title(plan)))
        notify([u for u in told if u is not None and u.id != actor.id], f"plan.{action}", subject,
               clean_note(note) if note else "", link=f"/plans/{plan.id}")
    return plan


def plan_title(plan: SalesPlan) -> str:
    owner = plan.user.display_name if plan.user else (plan.department.name if plan.department else "")
    return f"{owner} · {period_label(plan.period_kind, plan.starts_on)}"


def target_text(metric: str, value) -> str:
    """A target as people write it: an amount with thousands and cents, a count as a whole number."""
    return f"{value:,.2f}" if metric == "signed_amount" else f"{int(value)}"


#: The plans a period is broken down into, and how many of them make it whole.
PERIOD_PARTS = {"quarter": ("month", 3), "year": ("quarter", 4)}


def period_warnings(plan: SalesPlan) -> list[str]:
    """Where the shorter plans of the same owner inside this plan's period (its months, its quarters) add up
    to more than it, or, all there, to something else."""
    if plan.period_kind not in PERIOD_PARTS:
        return []
    part_kind, whole = PERIOD_PARTS[plan.period_kind]
    parts = db.session.scalars(select(SalesPlan).where(
        _plan_owner_clause(plan.level, plan.department_id, plan.user_id), SalesPlan.period_kind == part_kind,
        SalesPlan.starts_on >= plan.starts_on, SalesPlan.ends_on <= plan.ends_on)
        .options(db.selectinload(SalesPlan.targets))).all()
    warnings = []
    for metric in METRICS:
        own = plan.target(metric)
        if own is None or not any(part.target(metric) is not None for part in parts):
            continue  # a metric the shorter plans leave out is followed over the whole period only
        total = sum((part.target(metric) or Decimal(0) for part in parts), Decimal(0))
        if total > own or (len(parts) == whole and total != own):
            warnings.append(ngettext(
                "%(metric)s: this plan says %(own)s but the %(num)d shorter plan inside its period adds up to "
                "%(sum)s.",
                "%(metric)s: this plan says %(own)s but the %(num)d shorter plans inside its period add up to "
                "%(sum)s.", len(parts), metric=METRIC_LABELS[metric], own=target_text(metric, own),
                sum=target_text(metric, total)))
    return warnings


def rollup_warnings(plan: SalesPlan) -> list[str]:
    """Where a target differs from the sum of the plans it is made of: its members' plans for the same period
    (a team's reps, a department's teams), and its own shorter plans inside its period."""
    return _member_warnings(plan) + period_warnings(plan)


def _member_warnings(plan: SalesPlan) -> list[str]:
    if plan.level not in ("team", "department", "company"):
        return []
    if plan.level == "team":
        child_clause = and_(SalesPlan.level == "rep", SalesPlan.department_id.in_(subtree_ids(plan.department_id)))
    elif plan.level == "department":
        child_clause = and_(SalesPlan.level == "team",
                            SalesPlan.department_id.in_(subtree_ids(plan.department_id) - {plan.department_id}))
    else:
        child_clause = and_(SalesPlan.level == "department",
                            SalesPlan.department_id.in_(subtree_ids(plan.department_id)))
    children = db.session.scalars(select(SalesPlan).where(
        child_clause, SalesPlan.starts_on == plan.starts_on, SalesPlan.ends_on == plan.ends_on)
        .options(db.selectinload(SalesPlan.targets))).all()
    if not children:
        return []
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for child in children:
        for row in child.targets:
            sums[row.metric] += row.target
    warnings = []
    for metric in METRICS:
        own = plan.target(metric)
        total = sums.get(metric, Decimal("0.00"))
        if own is not None and own != total:
            warnings.append(ngettext(
                "%(metric)s: this plan says %(own)s but its %(num)d member plan adds up to %(sum)s.",
                "%(metric)s: this plan says %(own)s but its %(num)d member plans add up to %(sum)s.",
                len(children), metric=METRIC_LABELS[metric], own=target_text(metric, own),
                sum=target_text(metric, total)))
    return warnings


# --- plan vs actual ------------------------------------------------------------------------------------------
@dataclass
class Unit:
    """One row of plan vs actual: the company, a department, a team or a rep."""
    level: str
    name: str
    department_id: int | None = None
    user_id: int | None = None
    plan: SalesPlan | None = None
    actual: dict = field(default_factory=dict)
    forecast: Decimal = Decimal("0.00")
    behind: list = field(default_factory=list)
    has_children: bool = False

    def target(self, metric):
        return self.plan.target(metric) if self.plan else None

    def percent(self, metric):
        return percent_of(self.actual.get(metric, 0), self.target(metric))


def percent_of(actual, target) -> int | None:
    """``actual`` as a whole percentage of ``target`` (half up), None without a target: every page
    that shows a share of a target rounds it the same way."""
    if not target:
        return None
    return int((Decimal(actual) * 100 / Decimal(target)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def elapsed_share(start: date, end: date, today: date | None = None) -> Decimal:
    """How much of the period has passed, 0..1."""
    today = today or local_today()
    total = (end - start).days + 1
    done = min(max((today - start).days + 1, 0), total)
    return (Decimal(done) / Decimal(total)).quantize(Decimal("0.0001"))


def is_behind(actual, target, start: date, end: date, margin_percent: int, today: date | None = None) -> bool:
    """Behind plan: the achieved share trails the elapsed share by more than the margin."""
    if not target:
        return False
    achieved = Decimal(actual) / Decimal(target)
    return achieved < elapsed_share(start, end, today) - Decimal(margin_percent) / 100


def _utc_range(start: date, end: date) -> tuple[datetime, datetime]:
    return local_day_start(start), local_day_start(end + timedelta(days=1))


def _grouped_actuals(start: date, end: date, by: str, campaign_id: int | None = None,
                     only: set[int] | None = None) -> dict[str, dict]:
    """Actual value per metric grouped by user id (``by='user'``) or department id.

    ``only`` limits it to some users or departments (one rep's plan need not add up the company's).
    """
    since, until = _utc_range(start, end)
    user_or_dept = {
        "opp": Opportunity.owner_id if by == "user" else Opportunity.department_id,
        "cust": Customer.created_by_id if by == "user" else Customer.department_id,
        "act": Activity.user_id if by == "user" else Activity.department_id,
        "quote": Quote.owner_id if by == "user" else Quote.department_id,
    }
    won = [Opportunity.stage == "won", Opportunity.closed_on >= start, Opportunity.closed_on <= end]
    # Customers brought in from old files are not new, whatever source their file gave them: an import
    # starts a customer's ownership history with a "create" noted "import". A team's count is then the
    # sum of its people's.
    imported = select(CustomerAssignment.id).where(CustomerAssignment.customer_id == Customer.id,
                                                   CustomerAssignment.kind == "create",
                                                   CustomerAssignment.note == "import")
    customers = [Customer.created_at >= since, Customer.created_at < until, Customer.deleted_at.is_(None),
                 or_(Customer.source.is_(None), Customer.source != "import"), ~imported.exists()]
    visits = [Activity.kind == "visit", Activity.occurred_at >= since, Activity.occurred_at < until]
    # Quotes sent to the customer's side of the process: a refused or withdrawn one was never offered.
    quotes = [Quote.submitted_at >= since, Quote.submitted_at < until, Quote.status.in_(("pending", "approved"))]
    if campaign_id:
        won.append(Opportunity.campaign_id == campaign_id)
        customers.append(Customer.campaign_id == campaign_id)
    if only is not None:
        for conditions, name in ((won, "opp"), (customers, "cust"), (visits, "act"), (quotes, "quote")):
            conditions.append(user_or_dept[name].in_(sorted(only)))
    result: dict[str, dict] = {metric: {} for metric in METRICS}
    for key, amount, count in db.session.execute(
            select(user_or_dept["opp"], func.sum(Opportunity.amount), func.count()).where(*won)
            .group_by(user_or_dept["opp"])):
        result["signed_amount"][key] = Decimal(amount or 0).quantize(CENT)
        result["won_deals"][key] = count
    for key, count in db.session.execute(select(user_or_dept["cust"], func.count()).where(*customers)
                                         .group_by(user_or_dept["cust"])):
        result["new_customers"][key] = count
    for key, count in db.session.execute(select(user_or_dept["act"], func.count()).where(*visits)
                                         .group_by(user_or_dept["act"])):
        result["visits"][key] = count
    for key, count in db.session.execute(select(user_or_dept["quote"], func.count()).where(*quotes)
                                         .group_by(user_or_dept["quote"])):
        result["quotes"][key] = count
    return result


def _grouped_pipeline(start: date, end: date, by: str, only: set[int] | None = None) -> dict:
    """Weighted open pipeline expected to close in the period, grouped like the actuals."""
    column = Opportunity.owner_id if by == "user" else Opportunity.department_id
    weighted: dict = defaultdict(Decimal)
    conditions = [Opportunity.stage.in_(OPEN_STAGES), Opportunity.expected_close_on >= start,
                  Opportunity.expected_close_on <= end]
    if only is not None:
        conditions.append(column.in_(sorted(only)))
    rows = db.session.execute(select(column, Opportunity.stage, func.sum(Opportunity.amount)).where(*conditions)
                              .group_by(column, Opportunity.stage))
    for key, stage, amount in rows:
        weighted[key] += Decimal(amount or 0) * STAGE_PROBABILITY[stage] / 100
    return weighted


def _sum_over(values: dict, ids) -> Decimal | int:
    return sum((values.get(i, 0) for i in ids), 0)


def plan_vs_actual(period_kind: str, day: date, parent_level: str = "company", parent_id: int | None = None,
                   viewer: User | None = None, today: date | None = None) -> dict:
    """Plan vs actual for one period: the parent unit and its children one level down.

    ``parent_level`` company (``parent_id`` the company department), department, team.
    Children: company → departments, department → teams (or reps when it has no teams), team → reps.
    A fixed number of statements, whatever the number of units.
    """
    start, end = period_bounds(period_kind, day)
    departments = {d.id: d for d in db.session.scalars(select(Department))}
    if parent_id is None or parent_id not in departments:
        parent_id = next((d.id for d in departments.values() if d.kind == "company"), None)
        parent_level = "company"
    parent_department = departments.get(parent_id)
    plans = db.session.scalars(select(SalesPlan).where(SalesPlan.starts_on == start, SalesPlan.ends_on == end)
                               .options(db.selectinload(SalesPlan.targets))).all()
    plan_by_department = {(p.level, p.department_id): p for p in plans if p.level != "rep"}
    plan_by_user = {p.user_id: p for p in plans if p.level == "rep"}
    by_dept = _grouped_actuals(start, end, "department")
    pipeline_dept = _grouped_pipeline(start, end, "department")

    def department_unit(department: Department, level: str) -> Unit:
        ids = subtree_ids(department.id)
        unit = Unit(level=level, name=department.name, department_id=department.id,
                    plan=plan_by_department.get((level, department.id)))
        unit.actual = {metric: _sum_over(by_dept[metric], ids) for metric in METRICS}
        unit.forecast = (Decimal(unit.actual["signed_amount"]) + _sum_over(pipeline_dept, ids)).quantize(CENT)
        unit.has_children = True
        return unit

    parent = department_unit(parent_department, parent_level) if parent_department else None
    children: list[Unit] = []
    if parent_department is not None:
        child_departments = [d for d in departments.values() if d.parent_id == parent_department.id]
        if parent_level == "company":
            children = [department_unit(d, "department") for d in child_departments if d.kind == "department"]
        elif parent_level == "department" and any(d.kind == "team" for d in child_departments):
            children = [department_unit(d, "team") for d in child_departments if d.kind == "team"]
        else:
            reps = db.session.scalars(select(User).join(UserRole).where(
                User.department_id == parent_department.id, UserRole.role == "staff",
                User.is_active_account.is_(True)).order_by(User.display_name).distinct()).all()
            by_user = _grouped_actuals(start, end, "user")
            pipeline_user = _grouped_pipeline(start, end, "user")
            for rep in reps:
                unit = Unit(level="rep", name=rep.display_name, department_id=rep.department_id, user_id=rep.id,
                            plan=plan_by_user.get(rep.id))
                unit.actual = {metric: by_user[metric].get(rep.id, 0) for metric in METRICS}
                unit.forecast = (Decimal(unit.actual["signed_amount"]) + pipeline_user.get(rep.id, 0)).quantize(CENT)
                children.append(unit)
    settings_cache: dict = {}
    for unit in ([parent] if parent else []) + children:
        if unit.department_id not in settings_cache:
            settings_cache[unit.department_id] = settings_for(unit.department_id).behind_margin_percent
        margin = settings_cache[unit.department_id]
        unit.behind = [metric for metric in METRICS
                       if is_behind(unit.actual.get(metric, 0), unit.target(metric), start, end, margin, today)]
    if viewer is not None and not viewer.has_role("admin", "lead"):
        managed = head_scope_ids(viewer)
        children = [c for c in children if (c.user_id == viewer.id) or (
            viewer.has_role("head") and c.department_id in managed)]
    return {"start": start, "end": end, "parent": parent, "children": children,
            "elapsed": elapsed_share(start, end, today), "label": period_label(period_kind, start)}


def weekly_trend(start: date, end: date, department_id: int | None = None, user_id: int | None = None,
                 target: Decimal | None = None) -> tuple[list[str], dict[str, list]]:
    """Cumulative signed amount per week of the period, beside the straight line to the target."""
    # Summed per day in SQL: at most one row per day of the period, whatever the number of deals.
    query = select(Opportunity.closed_on, func.sum(Opportunity.amount)).where(
        Opportunity.stage == "won", Opportunity.closed_on >= start, Opportunity.closed_on <= end)
    if user_id is not None:
        query = query.where(Opportunity.owner_id == user_id)
    elif department_id is not None:
        query = query.where(Opportunity.department_id.in_(subtree_ids(department_id)))
    rows = [(closed, Decimal(amount or 0)) for closed, amount in
            db.session.execute(query.group_by(Opportunity.closed_on))]
    labels, actual, planned = [], [], []
    total_days = (end - start).days + 1
    week_end = start + timedelta(days=6)
    today = local_today()
    while True:
        week_end = min(week_end, end)
        labels.append(week_end.strftime("%m-%d"))
        if week_end - timedelta(days=6) <= today:
            actual.append(sum((amount for closed, amount in rows if closed <= week_end), Decimal(0)).quantize(CENT))
        else:
            actual.append(None)
        if target:
            planned.append((target * ((week_end - start).days + 1) / total_days).quantize(CENT))
        if week_end >= end:
            break
        week_end += timedelta(days=7)
    series = {str(_("Signed (cumulative)")): actual}
    if target:
        series[str(_("Target pace"))] = planned
    return labels, series


def plan_progress(user: User, today: date | None = None) -> list[dict]:
    """The user's current plans (their own rep plan; a head's department/team plans) with actual and flags."""
    today = today or local_today()
    query = select(SalesPlan).where(SalesPlan.starts_on <= today, SalesPlan.ends_on >= today,
                                    SalesPlan.status.in_(["approved", "locked"]))
    if user.has_role("head"):
        query = query.where(or_(SalesPlan.user_id == user.id, and_(
            SalesPlan.level != "rep", SalesPlan.department_id == user.department_id)))
    else:
        query = query.where(SalesPlan.user_id == user.id)
    plans = db.session.scalars(query.options(db.selectinload(SalesPlan.targets)).order_by(SalesPlan.starts_on))
    return [plan_progress_for(plan, today) for plan in plans]


def plan_progress_for(plan: SalesPlan, today: date | None = None) -> dict:
    """One plan's targets beside the actuals so far, with percentages and behind-plan flags."""
    today = today or local_today()
    if plan.level == "rep":
        only = {plan.user_id}
        actuals = _grouped_actuals(plan.starts_on, plan.ends_on, "user", only=only)
        actual = {m: actuals[m].get(plan.user_id, 0) for m in METRICS}
        pipeline = _grouped_pipeline(plan.starts_on, plan.ends_on, "user", only=only).get(plan.user_id, Decimal(0))
    else:
        ids = set(subtree_ids(plan.department_id))
        # Every department's figures, then this subtree's sum: the period drives the statements.
        # Limited to the subtree's ids, SQLite walked each department's whole history instead: at
        # 100,000 customers a company plan took 220 ms, now 45 ms (a small team's 25 ms, now 45 ms).
        # The figures are kept until the next write, for every plan of the same period.
        period = (plan.starts_on, plan.ends_on)
        actuals = figures.cached(("department actuals", *period), lambda: _grouped_actuals(*period, "department"))
        pipelines = figures.cached(("department pipeline", *period), lambda: _grouped_pipeline(*period, "department"))
        actual = {m: _sum_over(actuals[m], ids) for m in METRICS}
        pipeline = _sum_over(pipelines, ids)
    margin = settings_for(plan.department_id).behind_margin_percent
    metrics = []
    for row in plan.targets:
        value = actual.get(row.metric, 0)
        metrics.append({
            "metric": row.metric, "label": METRIC_LABELS[row.metric], "target": row.target, "actual": value,
            "percent": percent_of(value, row.target),
            "behind": is_behind(value, row.target, plan.starts_on, plan.ends_on, margin, today)})
    return {"plan": plan, "title": plan_title(plan), "metrics": metrics,
            "forecast": (Decimal(actual["signed_amount"]) + Decimal(pipeline)).quantize(CENT),
            "elapsed_percent": int(elapsed_share(plan.starts_on, plan.ends_on, today) * 100),
            "is_behind": any(m["behind"] for m in metrics)}


def _behind_body(behind: list[tuple[str, object, object]], share: int) -> str:
    """A behind-plan notice's text in the current language: the time passed and each metric behind."""
    lines = "\n".join(f"- {METRIC_LABELS[m]}: {target_text(m, actual)} / {target_text(m, target)}"
                      for m, actual, target in behind)
    return _("%(percent)d%% of the period has passed.", percent=share) + "\n\n" + lines


def notify_behind(today: date | None = None) -> int:
    """Tell every rep behind their current plan, and their heads; returns the number of reps told."""
    today = today or local_today()
    plans = db.session.scalars(select(SalesPlan).where(
        SalesPlan.level == "rep", SalesPlan.status.in_(["approved", "locked"]),
        SalesPlan.starts_on <= today, SalesPlan.ends_on >= today).options(db.selectinload(SalesPlan.targets))).all()
    if not plans:
        return 0
    # A weekly notice: a rep told in the last week (the job ran twice, or daily) is not told again.
    from rollout.notify.models import Notification
    told_lately = set(db.session.scalars(select(Notification.user_id).where(
        Notification.event == "plan.behind", Notification.created_at >= local_day_start(today - timedelta(days=6)),
        Notification.created_at < local_day_start(today + timedelta(days=1)))))
    told = 0
    cache: dict = {}
    heads_by_department: dict[int, list[User]] = defaultdict(list)
    for head in db.session.scalars(select(User).join(UserRole).where(UserRole.role == "head",
                                                                    User.is_active_account.is_(True))):
        for department_id in head_scope_ids(head):
            heads_by_department[department_id].append(head)
    for plan in plans:
        key = (plan.starts_on, plan.ends_on)
        if key not in cache:
            cache[key] = _grouped_actuals(plan.starts_on, plan.ends_on, "user")
        actuals = cache[key]
        margin = settings_for(plan.department_id).behind_margin_percent
        behind = [(row.metric, actuals[row.metric].get(plan.user_id, 0), row.target) for row in plan.targets
                  if is_behind(actuals[row.metric].get(plan.user_id, 0), row.target, plan.starts_on, plan.ends_on,
                               margin, today)]
        if not behind or plan.user_id in told_lately:
            continue
        share = int(elapsed_share(plan.starts_on, plan.ends_on, today) * 100)
        body = partial(_behind_body, behind, share)
        period, rep = period_label(plan.period_kind, plan.starts_on), plan.user
        notify([rep], "plan.behind", _l("You are behind plan for %(period)s", period=period), body,
               link="/plans/actual")
        notify([h for h in heads_by_department.get(plan.department_id, []) if h.id != rep.id], "plan.behind",
               _l("%(name)s is behind plan for %(period)s", name=rep.display_name, period=period), body,
               link="/plans/actual")
        told += 1
    return told


# --- campaigns and leads --------------------------------------------------------------------------------------
def save_campaign(campaign: Campaign | None, actor: User, name: str, channel: str, starts_on: date, ends_on: date,
                  budget, description: str = "") -> Campaign:
    """Create or update a marketing campaign."""
    name = _required_text(name, "name", 120)
    starts_on = check_date(starts_on, "starts_on", required=True)
    ends_on = check_date(ends_on, "ends_on", required=True)
    if ends_on < starts_on:
        raise ServiceError(_l("The campaign cannot end before it starts."), "ends_on")
    duplicate = select(Campaign.id).where(Campaign.name == name)
    if campaign is not None:
        duplicate = duplicate.where(Campaign.id != campaign.id)
    if db.session.scalar(duplicate):
        raise ServiceError(_l("A campaign with this name already exists."), "name")
    if campaign is None:
        campaign = Campaign(owner_id=actor.id, department_id=actor.department_id)
        db.session.add(campaign)
    campaign.name, campaign.channel = name, _required_text(channel, "channel", 60)
    campaign.starts_on, campaign.ends_on = starts_on, ends_on
    campaign.budget = parse_amount(budget, "budget")
    campaign.description = clean_note(description)[:5000] if description else ""
    db.session.flush()
    return campaign


def create_lead(actor: User, company_name: str, campaign_id: int | None = None, contact_name=None, phone=None,
                email=None, note: str = "") -> Lead:
    """Record a marketing lead."""
    if campaign_id is not None and db.session.get(Campaign, campaign_id) is None:
        raise ServiceError(_l("The campaign does not exist."), "campaign_id")
    phone = _checked_phone(phone)
    lead = Lead(company_name=_required_text(company_name, "company_name", 200), campaign_id=campaign_id,
                contact_name=_optional_text(contact_name, "contact_name", 100), phone=phone,
                email=_optional_text(email, "email", 254), note=clean_note(note)[:5000] if note else "",
                department_id=actor.department_id, created_by_id=actor.id, status="new")
    db.session.add(lead)
    db.session.flush()
    return lead


def hand_lead(lead: Lead, owner: User, respond_by: datetime, actor: User) -> Lead:
    """Hand a lead to a sales rep who must respond before ``respond_by`` (naive UTC)."""
    if lead.status not in ("new", "handed", "rejected"):
        raise NotAllowed(_("This lead was already taken over by sales."))
    if owner is None:
        raise ServiceError(_l("Choose the sales rep."), "owner_id")
    if respond_by is None or respond_by <= utcnow():
        raise ServiceError(_l("The response deadline must be in the future."), "respond_by")
    check_date(respond_by.date(), "respond_by")
    lead.owner_id, lead.respond_by, lead.handed_at, lead.status = owner.id, respond_by, utcnow(), "handed"
    lead.responded_at = None
    db.session.flush()
    notify([owner], "lead.handed", _l("New lead for you: %(name)s", name=lead.company_name),
           _l("Please respond by %(when)s.", when=_format_local(respond_by)), link="/leads?mine=1")
    return lead


def _format_local(value: datetime) -> str:
    from rollout.timeutil import to_local
    return to_local(value).strftime("%Y-%m-%d %H:%M")


def accept_lead(lead: Lead, actor: User) -> Lead:
    """The rep takes the lead: it becomes a customer (duplicate check included) with a deal at stage lead."""
    if lead.status != "handed" or lead.owner_id != actor.id:
        raise NotAllowed(_("Only the rep it was handed to can accept this lead."))
    customer = create_customer(lead.company_name, actor, phone=lead.phone, email=lead.email, source="campaign",
                               campaign_id=lead.campaign_id)
    if lead.contact_name:
        add_contact(customer, lead.contact_name, phone=lead.phone, email=lead.email, is_primary=True)
    opportunity = create_opportunity(customer, actor, lead.company_name, Decimal("0.00"),
                                     campaign_id=lead.campaign_id)
    lead.status, lead.responded_at = "converted", utcnow()
    lead.customer_id, lead.opportunity_id = customer.id, opportunity.id
    db.session.flush()
    if lead.created_by_id:
        notify([db.session.get(User, lead.created_by_id)], "lead.accepted",
               _l("%(rep)s took over the lead %(name)s", rep=actor.display_name, name=lead.company_name),
               link="/leads")
    return lead


def reject_lead(lead: Lead, actor: User, reason: str) -> Lead:
    """The rep sends a lead back to marketing with a reason."""
    if lead.status != "handed" or lead.owner_id != actor.id:
        raise NotAllowed(_("Only the rep it was handed to can respond to this lead."))
    reason = clean_note(reason)
    if not reason:
        raise ServiceError(_l("Say why the lead is sent back."), "reason")
    lead.status, lead.responded_at = "rejected", utcnow()
    lead.note = (lead.note + "\n" if lead.note else "") + _("Sent back by %(rep)s: %(reason)s",
                                                             rep=actor.display_name, reason=reason[:500])
    db.session.flush()
    if lead.created_by_id:
        notify([db.session.get(User, lead.created_by_id)], "lead.rejected",
               _l("Lead sent back: %(name)s", name=lead.company_name), reason, link="/leads")
    return lead


def is_overdue(lead: Lead, now: datetime | None = None) -> bool:
    return lead.status == "handed" and lead.respond_by is not None and lead.respond_by < (now or utcnow())


def overdue_handoffs(user: User) -> list[Lead]:
    """Leads handed to the user that are past their response deadline."""
    return list(db.session.scalars(select(Lead).where(Lead.owner_id == user.id, Lead.status == "handed",
                                                      Lead.respond_by < utcnow()).order_by(Lead.respond_by)))


def campaign_report(start: date | None = None, end: date | None = None, department_ids: set[int] | None = None,
                    owner_id: int | None = None) -> list[dict]:
    """Per campaign: budget, leads, converted leads, open pipeline, won deals and amount, cost per won deal.

    ``start``/``end`` limit leads to those created and wins to those closed in the period; ``department_ids`` or
    ``owner_id`` limit leads and deals to a unit or a rep (a slice of a campaign has no cost per won deal)."""
    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.starts_on.desc())).all()
    lead_scope, deal_scope = [], []
    if owner_id is not None:
        lead_scope, deal_scope = [Lead.owner_id == owner_id], [Opportunity.owner_id == owner_id]
    elif department_ids is not None:
        # A lead belongs to the department running its campaign; the unit's are those handed to its people.
        lead_scope = [Lead.owner_id.in_(select(User.id).where(User.department_id.in_(sorted(department_ids))))]
        deal_scope = [Opportunity.department_id.in_(sorted(department_ids))]
    if start and end:
        since, until = _utc_range(start, end)
        lead_scope += [Lead.created_at >= since, Lead.created_at < until]

    def leads_by_campaign(*conditions) -> dict:
        return dict(db.session.execute(select(Lead.campaign_id, func.count()).where(*lead_scope, *conditions)
                                       .group_by(Lead.campaign_id)).all())
    leads, converted = leads_by_campaign(), leads_by_campaign(Lead.status == "converted")
    overdue = leads_by_campaign(Lead.status == "handed", Lead.respond_by < utcnow())
    won_query = select(Opportunity.campaign_id, func.count(), func.sum(Opportunity.amount)).where(
        Opportunity.stage == "won", *deal_scope)
    if start and end:
        won_query = won_query.where(Opportunity.closed_on >= start, Opportunity.closed_on <= end)
    won = {cid: (count, Decimal(total or 0)) for cid, count, total in
           db.session.execute(won_query.group_by(Opportunity.campaign_id))}
    pipeline = {cid: Decimal(total or 0) for cid, total in db.session.execute(
        select(Opportunity.campaign_id, func.sum(Opportunity.amount)).where(Opportunity.stage.in_(OPEN_STAGES),
                                                                            *deal_scope)
        .group_by(Opportunity.campaign_id))}
    is_slice = owner_id is not None or department_ids is not None
    rows = []
    for campaign in campaigns:
        won_count, won_amount = won.get(campaign.id, (0, Decimal(0)))
        rows.append({
            "campaign": campaign, "leads": leads.get(campaign.id, 0), "converted": converted.get(campaign.id, 0),
            "overdue": overdue.get(campaign.id, 0), "pipeline": pipeline.get(campaign.id, Decimal(0)).quantize(CENT),
            "won_deals": won_count, "won_amount": won_amount.quantize(CENT),
            "cost_per_won": (campaign.budget / won_count).quantize(CENT) if won_count and not is_slice else None,
        })
    return rows


# --- list queries (shared by pages and exports) --------------------------------------------------------------------
#: The longest customer search, in characters (the search boxes say so with maxlength).
SEARCH_MAX_LENGTH = 100
#: Digits a search needs before it is also read as part of a phone number ("5396" finds 195 3155 5396).
SEARCH_PHONE_DIGITS = 4
# What people type for a phone number: digits, spaces, dashes, dots, brackets, a leading +.
_PHONE_TYPED = re.compile(r"\+?[0-9\s\-.()（）]+")


def search_text(raw: str | None) -> str:
    """A search as the lists compare it: NFKC like stored names (ＡＣＭＥ is ACME, １９５ is 195), spaces folded,
    at most SEARCH_MAX_LENGTH characters."""
    return clean_text(raw)[:SEARCH_MAX_LENGTH].strip()


def _phone_search_conditions(text: str, phone_key_column) -> list:
    """Conditions on a stored E.164 phone key for a search typed as (part of) a phone number: the whole number
    however it is written (195 3155 5396, +86 19531555396, 02185898706 for 021-85898706), or a run of at least
    SEARCH_PHONE_DIGITS of its digits; nothing for a search that is not a phone number."""
    if not _PHONE_TYPED.fullmatch(text):
        return []
    # A trunk 0 (021…) or an international 00 (0086…) is not in the E.164 key.
    digits = re.sub(r"[^0-9]", "", text).lstrip("0")
    if len(digits) < SEARCH_PHONE_DIGITS:
        return []
    conditions = [phone_key_column.like(f"%{digits}%")]  # digits only: nothing to escape, no case to ignore
    whole = phone_key(text)
    if whole:
        conditions.append(phone_key_column == whole)
    return conditions


def customer_search_condition(text: str):
    """Customers whose name, phone or email contains ``text`` (already search_text'ed), or one of whose contacts'
    does; a phone number matches however it is typed. Case is ignored; ``%`` and ``_`` are literal.

    The contacts are looked up through an EXISTS on contacts.customer_id (indexed) per customer.
    """
    has_digit = any(character.isdigit() for character in text)

    def own(name, phone, key, email) -> list:
        conditions = [contains_text(name, text), contains_text(email, text)]
        if has_digit:  # a search without a digit is no part of a phone number: spare the comparisons
            conditions += [contains_text(phone, text), *_phone_search_conditions(text, key)]
        return conditions
    contacts = select(Contact.id).where(Contact.customer_id == Customer.id, or_(
        *own(Contact.name, Contact.phone, Contact.phone_key, Contact.email))).exists()
    return or_(*own(Customer.name, Customer.phone, Customer.phone_key, Customer.email), contacts)


def pool_query(search: str, scope_condition):
    """The public pool's customers within the viewer's scope, latest released first; ``search`` as on the
    customer list (customer_search_condition)."""
    query = select(Customer).where(Customer.is_in_pool.is_(True), Customer.deleted_at.is_(None), scope_condition)
    if search:
        query = query.where(customer_search_condition(search))
    return query.order_by(Customer.pool_entered_at.desc(), Customer.id.desc())


_EXTENSION_MARK = re.compile(r"\s*(?:转|分机|ext\.?|x|#)\s*", re.IGNORECASE)


def dial_uri(phone: str | None) -> str | None:
    """A ``tel:`` link for a phone number as stored ("010-12345678 转801" dials 010-12345678, waits, then 801);
    None when there is nothing to dial."""
    if not phone:
        return None
    number, _mark, extension = _EXTENSION_MARK.sub("\x00", phone.strip(), count=1).partition("\x00")
    digits = re.sub(r"[^0-9]", "", number)
    if len(digits) < 3:
        return None
    plus = "+" if number.lstrip().startswith("+") else ""
    extension = re.sub(r"[^0-9]", "", extension)
    return f"tel:{plus}{digits}" + (f",{extension}" if extension else "")


# --- list order: the columns each list sorts by, in one place -----------------------------------------------------
def _display_name_of(user_id_column):
    """The named user's display name, looked up in the list's own statement (no query per row)."""
    person = aliased(User)
    return (select(func.lower(person.display_name)).where(person.id == user_id_column)
            .correlate_except(person).scalar_subquery())


def _name_of(model, id_column):
    """The name of the customer or campaign ``id_column`` points at, in the list's own statement."""
    named = aliased(model)
    return select(func.lower(named.name)).where(named.id == id_column).correlate_except(named).scalar_subquery()


#: What a list's column headings sort by: list → {sort key → SQL expression}. Only these keys sort; any other
#: ``sort`` value leaves the list in its default order. Text compares without regard to case; stages and kinds
#: go in their working order, not by their code.
LIST_SORTS = {
    "customers": {
        "name": func.lower(Customer.name),
        "owner": _display_name_of(Customer.owner_id),
        "campaign": _name_of(Campaign, Customer.campaign_id),
        "last_followup": Customer.last_followup_at,
    },
    "deals": {
        "name": func.lower(Opportunity.name),
        "customer": _name_of(Customer, Opportunity.customer_id),
        "stage": case({stage: position for position, stage in enumerate(STAGES)}, value=Opportunity.stage),
        "amount": Opportunity.amount,
        # The heading reads "Close date": the day it closed, else the day it is expected to.
        "close": func.coalesce(Opportunity.closed_on, Opportunity.expected_close_on),
        "owner": _display_name_of(Opportunity.owner_id),
        "campaign": _name_of(Campaign, Opportunity.campaign_id),
    },
    "activities": {
        "when": Activity.occurred_at,
        "kind": case({kind: position for position, kind in enumerate(ACTIVITY_KINDS)}, value=Activity.kind),
        "customer": _name_of(Customer, Activity.customer_id),
        "user": _display_name_of(Activity.user_id),
        "next_step": Activity.next_step_on,
    },
}
_LIST_IDS = {"customers": Customer.id, "deals": Opportunity.id, "activities": Activity.id}


def sort_param(list_name: str, raw: str | None) -> str:
    """A list's ``sort`` parameter as the list reads it: a key of LIST_SORTS[list_name], ascending, or the
    key after a ``-``, descending; "" (the default order) for anything else."""
    raw = (raw or "").strip()
    return raw if raw.removeprefix("-") in LIST_SORTS[list_name] else ""


def list_order(list_name: str, sort: str | None) -> tuple | None:
    """ORDER BY clauses for a list's ``sort`` parameter, or None when it names no sortable column.

    Empty values come last either way (alike on SQLite and PostgreSQL); equal values go by id, in the same
    direction, so that rows neither repeat nor go missing from one page to the next.
    """
    sort = sort_param(list_name, sort)
    if not sort:
        return None
    is_descending = sort.startswith("-")
    column, row_id = LIST_SORTS[list_name][sort.removeprefix("-")], _LIST_IDS[list_name]
    if is_descending:
        return column.desc().nulls_last(), row_id.desc()
    return column.asc().nulls_last(), row_id.asc()


def deal_conditions(filters: dict) -> list:
    """The deals list's filters other than the stage (the stage cards count each stage under them):
    one owner, one campaign, and a search on the deal's or the customer's name."""
    conditions = []
    if filters.get("owner_id"):
        conditions.append(Opportunity.owner_id == filters["owner_id"])
    if filters.get("campaign_id"):
        conditions.append(Opportunity.campaign_id == filters["campaign_id"])
    if filters.get("q"):
        conditions.append(or_(contains_text(Opportunity.name, filters["q"]), Opportunity.customer_id.in_(
            select(Customer.id).where(contains_text(Customer.name, filters["q"])))))
    return conditions


def customer_query(filters: dict, scope_condition):
    """The customers matching the list filters, within the viewer's scope; newest first, or in the order the
    filters' ``sort`` names (list_order)."""
    query = select(Customer).where(Customer.deleted_at.is_(None), Customer.is_in_pool.is_(False), scope_condition)
    if filters.get("q"):
        query = query.where(customer_search_condition(filters["q"]))
    if filters.get("owner_id"):
        query = query.where(Customer.owner_id == filters["owner_id"])
    if filters.get("campaign_id"):
        query = query.where(Customer.campaign_id == filters["campaign_id"])
    if filters.get("stage"):
        query = query.where(Customer.id.in_(select(Opportunity.customer_id).where(
            Opportunity.stage == filters["stage"])))
    for definition in filters.get("fields", []):
        value = filters.get(f"x_{definition.key}")
        if not value:
            continue
        if definition.kind == "multi_choice":
            # The list is stored as JSON text with non-ASCII escaped (json.dumps), on SQLite and PostgreSQL alike.
            needle = json.dumps(value)
            needle = needle.replace("!", "!!").replace("%", "!%").replace("_", "!_")
            query = query.where(cast(Customer.extra[definition.key], String).like(f"%{needle}%", escape="!"))
        elif definition.kind in ("choice", "date", "number"):
            query = query.where(Customer.extra[definition.key].as_string() == value)
        else:
            query = query.where(contains_text(Customer.extra[definition.key].as_string(), value))
    # The newest first unless the list's ``sort`` asks for a column.
    return query.order_by(*(list_order("customers", filters.get("sort"))
                            or (Customer.created_at.desc(), Customer.id.desc())))


# --- personal calendar feed -----------------------------------------------------------------------------------
def calendar_items(user) -> list:
    """The user's next steps (all-day, on their date) and lead response deadlines, for the personal feed.

    A next step marked done stays in the feed as cancelled (higher sequence), so calendars remove it.
    """
    from rollout.reports.calendar import CalendarItem
    since = local_today() - timedelta(days=30)
    items = []
    steps = db.session.scalars(select(Activity).where(
        Activity.user_id == user.id, Activity.next_step_on >= since, Activity.next_step.is_not(None))
        .options(db.joinedload(Activity.customer)).order_by(Activity.next_step_on).limit(500))
    for activity in steps:
        items.append(CalendarItem(
            uid=f"plans-next-step-{activity.id}@rollout-desk", summary=f"{activity.customer.name}：{activity.next_step}",
            start_at=activity.next_step_on, sequence=1 if activity.is_next_step_done else 0,
            is_cancelled=activity.is_next_step_done, url=f"/customers/{activity.customer_id}?tab=activities",
            updated_at=activity.created_at))
    leads = db.session.scalars(select(Lead).where(Lead.owner_id == user.id, Lead.status == "handed",
                                                  Lead.respond_by.is_not(None)).limit(200))
    for lead in leads:
        items.append(CalendarItem(
            uid=f"plans-lead-{lead.id}-{lead.handed_at:%Y%m%d%H%M%S}@rollout-desk",
            summary=_("Respond to lead: %(name)s", name=lead.company_name), start_at=lead.respond_by,
            url="/leads?mine=1"))
    return items


# --- the sales pages' tabs: what each person's work there is ---------------------------------------------------
#: The tabs of the sales pages, in order: (endpoint, action the page declares, label).
SALES_TABS = (
    ("plans.index", "plans.view", _l("Plans")),
    ("plans.actual", "plans.view", _l("Plan vs actual")),
    ("plans.customers", "customers.view", _l("Customers")),
    ("plans.pool", "pool.claim", _l("Public pool")),
    ("plans.activities", "customers.view", _l("Follow-ups")),
    ("plans.deals", "deals.view", _l("Deals")),
    ("plans.quotes", "quotes.view", _l("Quotes")),
    ("plans.campaigns", "campaigns.view", _l("Campaigns")),
    ("plans.leads", "leads.view", _l("Leads")),
    ("plans.settings", "sales.configure", _l("Settings")),
)
#: Departments whose people sell (with their teams), and those that run campaigns and hand leads over, by code.
#: A department with its own sales settings (pool, claim limit) sells too, whatever its code.
SELLING_CODES, CAMPAIGN_CODES = ("sales",), ("marketing",)


def sales_tabs(user: User) -> frozenset[str]:
    """The endpoints of the sales tabs that are ``user``'s work, in one statement.

    Access is unchanged (rollout/access.py decides who may open a page): this only keeps a finance or IT
    colleague from a row of tabs that would all show them empty lists. Project leads and admins see every tab;
    sales people (a selling department, or anyone holding plans, customers or deals) every sales tab; an
    approver of quotes (a department an approval rule names) Quotes; the department running campaigns
    (or with campaigns or leads) Campaigns and Leads; anyone else the pages where they have records.
    """
    everything = frozenset(endpoint for endpoint, _action, _label in SALES_TABS)
    if user.has_role("admin", "lead"):
        return everything
    # The menu and the tab bar both ask on one page: one statement per request.
    cached = g.get("sales_tabs") if has_request_context() else None
    if cached is not None and cached[0] == user.id:
        return cached[1]
    tabs = _sales_tabs(user, everything)
    if has_request_context():
        g.sales_tabs = (user.id, tabs)
    return tabs


def _sales_tabs(user: User, everything: frozenset[str]) -> frozenset[str]:
    own_and_above = ({user.department_id} | ancestor_ids(user.department_id)) if user.department_id else set()
    own_and_above = sorted(own_and_above) or [-1]
    department_scope = sorted(department_scope_ids(user)) or [-1]
    in_codes = lambda codes: select(Department.id).where(Department.id.in_(own_and_above),  # noqa: E731
                                                         Department.code.in_(codes)).exists()
    my_codes = select(Department.code).where(Department.id.in_(own_and_above), Department.code.is_not(None))
    flags = db.session.execute(select(
        or_(in_codes(SELLING_CODES),
            select(SalesSetting.id).where(SalesSetting.department_id.in_(own_and_above)).exists()),
        select(SalesPlan.id).where(scope_clause(user, "plans.view", department_column=SalesPlan.department_id,
                                                owner_column=SalesPlan.user_id)).exists(),
        select(Customer.id).where(Customer.deleted_at.is_(None), scope_clause(
            user, "customers.view", department_column=Customer.department_id, owner_column=Customer.owner_id)).exists(),
        select(Opportunity.id).where(scope_clause(user, "deals.view", department_column=Opportunity.department_id,
                                                  owner_column=Opportunity.owner_id)).exists(),
        or_(select(Quote.id).where(scope_clause(user, "quotes.edit", department_column=Quote.department_id,
                                                owner_column=Quote.owner_id)).exists(),
            select(QuoteApprovalRule.id).where(QuoteApprovalRule.is_active.is_(True),
                                               QuoteApprovalRule.approver_department_code.in_(my_codes)).exists(),
            select(QuoteApprovalStep.id).where(or_(QuoteApprovalStep.approver_department_code.in_(my_codes),
                                                   QuoteApprovalStep.decided_by_id == user.id)).exists()),
        or_(in_codes(CAMPAIGN_CODES),
            select(Campaign.id).where(Campaign.department_id.in_(department_scope)).exists()),
        select(Lead.id).where(or_(Lead.owner_id == user.id, Lead.department_id.in_(department_scope))).exists(),
    )).one()
    sells, plans, customers, deals, quotes, campaigns, leads = flags
    if sells or plans or customers or deals:
        return everything
    tabs = set()
    if quotes:
        tabs.add("plans.quotes")
    if campaigns:
        tabs |= {"plans.campaigns", "plans.leads"}
    if leads:
        tabs.add("plans.leads")
    return frozenset(tabs)


def sales_tab_bar(user: User, current: str | None) -> list[tuple[str, str]]:
    """The tabs (endpoint, label) of ``user``'s sales tab bar: those of their work that they may open, and the
    page they are on even if it is not (so a link followed there still shows where they are); none at all
    for someone none of the sales pages is the work of."""
    tabs = sales_tabs(user)
    if not tabs:
        return []
    return [(endpoint, label) for endpoint, action, label in SALES_TABS
            if can(user, action) and (endpoint in tabs or endpoint == current)]


def sales_menu_endpoint(user: User, endpoint: str) -> str | None:
    """Where the main menu's sales entry ``endpoint`` (plans.index, plans.customers) should lead ``user``:
    itself when it is their work, else their first sales tab (a finance approver's Plans menu opens Quotes);
    None when none of the sales pages is their work, so the entry is hidden."""
    tabs = sales_tabs(user)
    if endpoint in tabs:
        return endpoint
    if endpoint != "plans.index":
        return None
    return next((tab for tab, action, _label in SALES_TABS if tab in tabs and can(user, action)), None)
