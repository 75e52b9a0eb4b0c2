"""Sales-plan tracking: plans and targets, customers and their fields, contacts,
follow-up activities, opportunities, quotes with approval, campaigns and leads."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric,
                        String, Text, UniqueConstraint, column)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollout.accounts.models import Department, User
from rollout.database import one_of
from rollout.extensions import db
from rollout.timeutil import utcnow

Money = Numeric(14, 2)

# --- vocabularies (the state machines themselves live in services.py) -----
PERIOD_KINDS = ("month", "quarter", "year")
PLAN_LEVELS = ("company", "department", "team", "rep")
PLAN_STATUSES = ("draft", "submitted", "approved", "locked")
METRICS = ("signed_amount", "new_customers", "visits", "quotes", "won_deals")
METRIC_LABELS = {
    "signed_amount": _l("Signed amount"), "new_customers": _l("New customers"), "visits": _l("Visits"),
    "quotes": _l("Quotes"), "won_deals": _l("Won deals"),
}
FIELD_KINDS = ("text", "number", "date", "choice", "multi_choice", "phone", "email")
ACTIVITY_KINDS = ("visit", "call", "meeting", "message")
STAGES = ("lead", "visited", "quoted", "negotiating", "won", "lost")
OPEN_STAGES = ("lead", "visited", "quoted", "negotiating")
QUOTE_STATUSES = ("draft", "pending", "approved", "rejected", "withdrawn")
STEP_STATUSES = ("waiting", "pending", "approved", "rejected", "cancelled")
LEAD_STATUSES = ("new", "handed", "accepted", "converted", "rejected")
ASSIGNMENT_KINDS = ("create", "claim", "release", "transfer", "handoff")


class Campaign(db.Model):
    """A marketing campaign (市场活动) that leads and customers can come from."""

    __tablename__ = "campaigns"
    __entity_label__ = _l("Campaign")
    __table_args__ = (
        CheckConstraint("budget >= 0", name="budget_non_negative"),
        CheckConstraint("ends_on >= starts_on", name="dates_ordered"),
    )
    __field_labels__ = {"channel": _l("Channel"), "budget": _l("Budget")}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: exhibition, online, seminar, referral, ... (free text: channels change often)
    channel: Mapped[str] = mapped_column(String(60))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    budget: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    #: The marketing department that runs it.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    owner: Mapped[User | None] = relationship()

    def __str__(self) -> str:
        return self.name


class CustomerField(db.Model):
    """An admin-defined extra customer field; values live in ``Customer.extra[key]``."""

    __tablename__ = "customer_fields"
    __entity_label__ = _l("Customer field")
    __table_args__ = (CheckConstraint(one_of("kind", FIELD_KINDS), name="kind_known"),)
    __field_labels__ = {"key": _l("Key"), "choices": _l("Options"), "is_listed": _l("Shown in customer list")}

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable machine key (lowercase letters, digits, underscore); the key in ``Customer.extra``.
    key: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20), default="text")
    #: Options of a choice / multi_choice field.
    choices: Mapped[list] = mapped_column(JSON, default=list)
    is_required: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Shown in the customer list and offered as a filter.
    is_listed: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Customer(db.Model):
    """A customer company with exactly one owner, or none while it sits in the public pool (公海)."""

    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_dept_pool", "department_id", "is_in_pool", "deleted_at"),
        Index("ix_customers_owner_followup", "owner_id", "last_followup_at"),
        Index("ix_customers_created", "created_at", "id"),
        # The pool page's newest-first order. Partial, so that owned customers (nearly every
        # imported one) add no entry to it.
        Index("ix_customers_pool_queue", "pool_entered_at", "id",
              sqlite_where=column("is_in_pool").is_(True), postgresql_where=column("is_in_pool").is_(True)),
        CheckConstraint("is_in_pool OR owner_id IS NOT NULL", name="owned_or_pooled"),
    )
    __field_labels__ = {
        "name_key": _l("Normalised name"), "phone_key": _l("Normalised phone"), "industry": _l("Industry"),
        "city": _l("City"), "address": _l("Address"), "campaign_id": _l("Campaign"), "extra": _l("Custom fields"),
        "is_in_pool": _l("In public pool"), "pool_entered_at": _l("Entered pool at"),
        "last_followup_at": _l("Last follow-up"), "is_lost": _l("Churned"), "deleted_at": _l("Deleted at"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: rollout.cleaning.company_key(name): the duplicate (撞单) check compares this.
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    #: rollout.cleaning.phone_key(phone) (E.164) or '' when absent/unparseable.
    phone_key: Mapped[str] = mapped_column(String(40), default="", index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    industry: Mapped[str | None] = mapped_column(String(60))
    city: Mapped[str | None] = mapped_column(String(60))
    address: Mapped[str | None] = mapped_column(String(300))
    #: Where it came from, as typed (转介绍, 官网, …), or what the system writes: import, campaign.
    source: Mapped[str | None] = mapped_column(String(40))
    #: Indexed by ix_customers_owner_followup, which starts with it.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The owning sales department or team (kept while in the pool: it is that department's pool).
    #: Indexed by ix_customers_dept_pool, which starts with it.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    #: Values of admin-defined fields, keyed by CustomerField.key.
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    is_in_pool: Mapped[bool] = mapped_column(Boolean, default=False)
    pool_entered_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Latest follow-up activity (or claim/creation), the clock of the pool rule.
    last_followup_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Set when the customer is lost (churned); the reason comes from the lost opportunity.
    is_lost: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Soft delete: hidden everywhere but kept for the audit trail and duplicate history.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    department: Mapped[Department | None] = relationship()
    campaign: Mapped[Campaign | None] = relationship()
    contacts: Mapped[list["Contact"]] = relationship(back_populates="customer", order_by="Contact.id",
                                                     cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.name


class Contact(db.Model):
    """A person at a customer."""

    __tablename__ = "contacts"
    __entity_label__ = _l("Contact")
    __field_labels__ = {"phone_key": _l("Normalised phone"), "is_primary": _l("Primary contact")}

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    phone_key: Mapped[str] = mapped_column(String(40), default="", index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="contacts")

    @property
    def access_department_id(self):
        return self.customer.department_id

    @property
    def access_owner_id(self):
        return self.customer.owner_id


class Activity(db.Model):
    """A follow-up (跟进): visit, call, meeting or message. ``created_at`` is set by the server only."""

    __tablename__ = "activities"
    __entity_label__ = _l("Follow-up")
    __table_args__ = (
        CheckConstraint(one_of("kind", ACTIVITY_KINDS), name="kind_known"),
        Index("ix_activities_user_occurred", "user_id", "occurred_at"),
        Index("ix_activities_dept_occurred", "department_id", "occurred_at"),
        Index("ix_activities_customer_occurred", "customer_id", "occurred_at"),
        Index("ix_activities_next_step", "user_id", "is_next_step_done", "next_step_on"),
        # Plan vs actual counts visits in a period per department or rep, read from the index alone.
        Index("ix_activities_kind_occurred", "kind", "occurred_at", "department_id", "user_id"),
        # Adoption counts recent entries per rep and week: a range of created_at, covering user_id.
        Index("ix_activities_created_user", "created_at", "user_id"),
        # The follow-ups list, newest first, for those who see every department.
        Index("ix_activities_occurred", "occurred_at", "id"),
    )
    __field_labels__ = {
        "opportunity_id": _l("Deal"), "occurred_at": _l("Follow-up time"), "outcome": _l("Outcome"),
        "next_step": _l("Next step"), "next_step_on": _l("Next step date"), "is_next_step_done": _l("Next step done"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The user's department when the activity was logged (plan vs actual counts by it).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"),
                                                       index=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    #: Server time of recording; never editable (see services.update_activity).
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(Text, default="")
    next_step: Mapped[str | None] = mapped_column(String(300))
    next_step_on: Mapped[date | None] = mapped_column(Date)
    is_next_step_done: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()
    customer: Mapped[Customer] = relationship()


class LostReason(db.Model):
    """An admin-managed reason an opportunity was lost (customer churn is one of them)."""

    __tablename__ = "lost_reasons"
    __entity_label__ = _l("Lost reason")
    __field_labels__ = {"is_churn": _l("Customer churn")}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    #: Losing for this reason marks the customer itself as lost (churned).
    is_churn: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    def __str__(self) -> str:
        return self.name


class Opportunity(db.Model):
    """A deal (商机) moving through the stages lead → visited → quoted → negotiating → won / lost."""

    __tablename__ = "opportunities"
    __entity_label__ = _l("Deal")
    __table_args__ = (
        CheckConstraint(one_of("stage", STAGES), name="stage_known"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint("stage <> 'lost' OR lost_reason_id IS NOT NULL", name="lost_has_reason"),
        Index("ix_opportunities_owner_stage", "owner_id", "stage"),
        Index("ix_opportunities_dept_stage", "department_id", "stage"),
        # Plan vs actual and campaign results sum won and open deals of a period per department, rep
        # or campaign: both read from the index alone.
        Index("ix_opportunities_closed", "stage", "closed_on", "department_id", "owner_id", "campaign_id", "amount"),
        Index("ix_opportunities_open", "stage", "expected_close_on", "department_id", "owner_id", "campaign_id",
              "amount"),
        # The deals list, latest stage change first.
        Index("ix_opportunities_stage_changed", "stage_changed_at", "id"),
    )
    __field_labels__ = {
        "campaign_id": _l("Campaign"), "stage": _l("Stage"), "stage_changed_at": _l("Stage changed at"),
        "expected_close_on": _l("Expected close date"), "closed_on": _l("Close date"),
        "lost_reason_id": _l("Lost reason"), "lost_note": _l("Loss note"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    #: Expected (or, once won, signed) contract amount.
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    stage: Mapped[str] = mapped_column(String(20), default="lead")
    stage_changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expected_close_on: Mapped[date | None] = mapped_column(Date)
    #: Date won or lost.
    closed_on: Mapped[date | None] = mapped_column(Date)
    lost_reason_id: Mapped[int | None] = mapped_column(ForeignKey("lost_reasons.id"))
    lost_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    customer: Mapped[Customer] = relationship()
    owner: Mapped[User] = relationship()
    campaign: Mapped[Campaign | None] = relationship()
    lost_reason: Mapped[LostReason | None] = relationship()
    stage_changes: Mapped[list["StageChange"]] = relationship(
        back_populates="opportunity", order_by="StageChange.changed_at", cascade="all, delete-orphan")


class StageChange(db.Model):
    """One move of an opportunity from a stage to the next, with its time."""

    __tablename__ = "opportunity_stage_changes"
    __entity_label__ = _l("Stage change")
    __field_labels__ = {
        "opportunity_id": _l("Deal"), "from_stage": _l("Previous stage"), "to_stage": _l("New stage"),
        "changed_at": _l("Changed at"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)

    opportunity: Mapped[Opportunity] = relationship(back_populates="stage_changes")
    user: Mapped[User | None] = relationship()


class Quote(db.Model):
    """A quote (报价) to a customer; locked while its approval is pending."""

    __tablename__ = "quotes"
    __entity_label__ = _l("Quote")
    __table_args__ = (
        CheckConstraint(one_of("status", QUOTE_STATUSES), name="status_known"),
        CheckConstraint("list_amount >= 0", name="list_amount_non_negative"),
        CheckConstraint("discount_percent >= 0 AND discount_percent <= 100", name="discount_in_range"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        Index("ix_quotes_owner_status", "owner_id", "status"),
        Index("ix_quotes_dept_status", "department_id", "status"),
        # Plan vs actual counts submitted quotes in a period per department or rep, from the index alone.
        Index("ix_quotes_submitted", "submitted_at", "status", "department_id", "owner_id"),
        # The quotes list, newest first.
        Index("ix_quotes_created", "created_at", "id"),
    )
    __field_labels__ = {
        "opportunity_id": _l("Deal"), "list_amount": _l("List price"), "discount_percent": _l("Discount (%)"),
        "valid_until": _l("Valid until"), "revision": _l("Revision"), "rejection_reason": _l("Rejection reason"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"),
                                                       index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    #: Price before discount.
    list_amount: Mapped[Decimal] = mapped_column(Money)
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0.00"))
    #: Price after discount (list_amount × (1 − discount), rounded to cents).
    amount: Mapped[Decimal] = mapped_column(Money)
    valid_until: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="draft")
    #: Increases each time a rejected quote is revised and submitted again.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    customer: Mapped[Customer] = relationship()
    opportunity: Mapped[Opportunity | None] = relationship()
    owner: Mapped[User] = relationship()
    steps: Mapped[list["QuoteApprovalStep"]] = relationship(
        back_populates="quote", order_by="[QuoteApprovalStep.revision, QuoteApprovalStep.position]",
        cascade="all, delete-orphan")


class QuoteApprovalRule(db.Model):
    """When a quote needs whose approval: a discount over / an amount from → an approver.

    The approver is the quote department's head (``approver_department_code`` empty)
    or the members of the department with that code (e.g. ``finance``).
    """

    __tablename__ = "quote_approval_rules"
    __entity_label__ = _l("Quote approval rule")
    __table_args__ = (
        CheckConstraint("min_discount_percent IS NOT NULL OR min_amount IS NOT NULL", name="has_threshold"),
        CheckConstraint("min_discount_percent IS NULL OR (min_discount_percent >= 0 AND min_discount_percent <= 100)",
                        name="discount_in_range"),
        CheckConstraint("min_amount IS NULL OR min_amount >= 0", name="amount_non_negative"),
    )
    __field_labels__ = {
        "min_discount_percent": _l("Discount over (%)"), "min_amount": _l("Amount from"),
        "approver_department_code": _l("Approving department code"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    #: Applies when the discount is strictly greater than this percentage.
    min_discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    #: Applies when the quoted amount is at least this.
    min_amount: Mapped[Decimal | None] = mapped_column(Money)
    #: Empty: the head of the quote's department; else the department with this code.
    approver_department_code: Mapped[str | None] = mapped_column(String(40))
    #: Order of the approval steps (lower first).
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class QuoteApprovalStep(db.Model):
    """One approval a quote revision needs; steps are decided one after another."""

    __tablename__ = "quote_approval_steps"
    __entity_label__ = _l("Quote approval step")
    __table_args__ = (
        CheckConstraint(one_of("status", STEP_STATUSES), name="status_known"),
        Index("ix_quote_steps_status", "status", "approver_department_code"),
        UniqueConstraint("quote_id", "revision", "position"),
    )
    __field_labels__ = {
        "quote_id": _l("Quote"), "revision": _l("Revision"), "rule_id": _l("Approval rule"),
        "rule_name": _l("Rule name"), "approver_department_code": _l("Approving department code"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("quote_approval_rules.id", ondelete="SET NULL"))
    #: Copied from the rule so later rule edits do not change a running approval.
    rule_name: Mapped[str] = mapped_column(String(100))
    approver_department_code: Mapped[str | None] = mapped_column(String(40))
    #: The department whose head approves (rule without a department code).
    approver_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    comment: Mapped[str | None] = mapped_column(Text)

    quote: Mapped[Quote] = relationship(back_populates="steps")
    decided_by: Mapped[User | None] = relationship()


class SalesPlan(db.Model):
    """Targets for one period and one owner: the company, a department, a team or a rep."""

    __tablename__ = "sales_plans"
    __table_args__ = (
        CheckConstraint(one_of("period_kind", PERIOD_KINDS), name="period_kind_known"),
        CheckConstraint(one_of("level", PLAN_LEVELS), name="level_known"),
        CheckConstraint(one_of("status", PLAN_STATUSES), name="status_known"),
        CheckConstraint("ends_on >= starts_on", name="dates_ordered"),
        CheckConstraint("(level = 'rep') = (user_id IS NOT NULL)", name="rep_has_user"),
        CheckConstraint("level = 'rep' OR department_id IS NOT NULL", name="unit_has_department"),
        Index("ix_sales_plans_owner_period", "level", "department_id", "user_id", "starts_on"),
    )
    # A plan's history names its targets (changes after approval) by their metric.
    __field_labels__ = {"period_kind": _l("Period"), "level": _l("Level"), **METRIC_LABELS}

    id: Mapped[int] = mapped_column(primary_key=True)
    period_kind: Mapped[str] = mapped_column(String(10))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String(20))
    #: The company/department/team planned for; for a rep plan, the rep's department.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    #: The rep of a rep-level plan.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)

    department: Mapped[Department | None] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    targets: Mapped[list["PlanTarget"]] = relationship(back_populates="plan", cascade="all, delete-orphan",
                                                       order_by="PlanTarget.id")

    @property
    def access_owner_id(self):
        return self.user_id

    def target(self, metric: str) -> Decimal | None:
        for row in self.targets:
            if row.metric == metric:
                return row.target
        return None


class PlanTarget(db.Model):
    """One metric's target in a plan."""

    __tablename__ = "plan_targets"
    __entity_label__ = _l("Plan target")
    __table_args__ = (
        UniqueConstraint("plan_id", "metric"),
        CheckConstraint(one_of("metric", METRICS), name="metric_known"),
        CheckConstraint("target >= 0", name="target_non_negative"),
    )
    __field_labels__ = {"plan_id": _l("Plan"), "metric": _l("Metric")}

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("sales_plans.id", ondelete="CASCADE"), index=True)
    metric: Mapped[str] = mapped_column(String(30))
    #: Amount (signed_amount) or count (the others), two decimal places either way.
    target: Mapped[Decimal] = mapped_column(Numeric(14, 2))

    plan: Mapped[SalesPlan] = relationship(back_populates="targets")


class PlanRevision(db.Model):
    """A change to an approved plan: who, when, why, and the targets old → new."""

    __tablename__ = "plan_revisions"
    __entity_label__ = _l("Plan revision")
    __field_labels__ = {"plan_id": _l("Plan"), "changes": _l("Target changes")}

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("sales_plans.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    #: {"metric": [old, new]} as strings.
    changes: Mapped[dict] = mapped_column(JSON, default=dict)

    user: Mapped[User | None] = relationship()


class SalesSetting(db.Model):
    """Per-department rules of the public pool and the behind-plan flag."""

    __tablename__ = "sales_settings"
    __entity_label__ = _l("Sales settings")
    __table_args__ = (
        CheckConstraint("pool_release_days BETWEEN 1 AND 3650", name="release_days_sane"),
        CheckConstraint("daily_claim_cap BETWEEN 0 AND 1000", name="claim_cap_sane"),
        CheckConstraint("behind_margin_percent BETWEEN 0 AND 100", name="margin_sane"),
    )
    __field_labels__ = {
        "pool_release_days": _l("Return to the pool after (days without follow-up)"),
        "daily_claim_cap": _l("Daily claim limit per rep"),
        "behind_margin_percent": _l("Behind-plan margin (percentage points)"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), unique=True)
    #: Customers without follow-up for this many days return to the pool.
    pool_release_days: Mapped[int] = mapped_column(Integer, default=30)
    #: How many pool customers one rep may claim per day.
    daily_claim_cap: Mapped[int] = mapped_column(Integer, default=5)
    #: Behind plan when the achieved share trails the elapsed share by more than this (percentage points).
    behind_margin_percent: Mapped[int] = mapped_column(Integer, default=10)

    department: Mapped[Department] = relationship()


class CustomerAssignment(db.Model):
    """Who owned a customer from when: creation, claims from the pool, releases, transfers."""

    __tablename__ = "customer_assignments"
    __entity_label__ = _l("Customer owner change")
    __table_args__ = (
        CheckConstraint(one_of("kind", ASSIGNMENT_KINDS), name="kind_known"),
        Index("ix_customer_assignments_claims", "to_user_id", "kind", "created_at"),
    )
    __field_labels__ = {"from_user_id": _l("Previous owner"), "to_user_id": _l("New owner")}

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(String(300))


class Lead(db.Model):
    """A marketing lead (线索) from a campaign, handed to a sales rep with a response deadline."""

    __tablename__ = "leads"
    __entity_label__ = _l("Lead")
    __table_args__ = (
        CheckConstraint(one_of("status", LEAD_STATUSES), name="status_known"),
        Index("ix_leads_owner_status", "owner_id", "status", "respond_by"),
        Index("ix_leads_campaign_status", "campaign_id", "status"),
    )
    __field_labels__ = {
        "campaign_id": _l("Campaign"), "company_name": _l("Company"), "contact_name": _l("Contact"),
        "handed_at": _l("Handed over at"), "respond_by": _l("Respond by"), "responded_at": _l("Responded at"),
        "opportunity_id": _l("Deal"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    company_name: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="new")
    #: The marketing department that recorded it.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: The sales rep it was handed to.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handed_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The rep must respond (accept or reject) before this time, else the hand-off is overdue.
    respond_by: Mapped[datetime | None] = mapped_column(DateTime)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"))

    campaign: Mapped[Campaign | None] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    customer: Mapped[Customer | None] = relationship()
