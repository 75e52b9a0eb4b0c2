"""Forms of the sales-plan pages. Amounts are text fields: the services parse them into Decimal."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, DateTimeLocalField, EmailField, IntegerField, SelectField,
                     SelectMultipleField, StringField, TelField, TextAreaField)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from rollout.plans.models import ACTIVITY_KINDS, FIELD_KINDS, METRICS, PERIOD_KINDS, PLAN_LEVELS

NONE = 0



class AmountField(StringField):
    """Text input for money: a Decimal from the record is shown as text, never handed to validators.
    A phone shows its number keypad with the decimal point."""

    def __init__(self, *args, **kwargs):
        kwargs["render_kw"] = {"inputmode": "decimal", **(kwargs.get("render_kw") or {})}
        super().__init__(*args, **kwargs)

    def process_data(self, value):
        self.data = None if value is None else str(value)


#: A phone's dial pad for a phone input, its keyboard with "@" for an email input. These are a customer's or
#: a contact's numbers, never the rep's own: the browser must not fill in the rep's saved number or address.
#: The services still check what is typed (a tel input accepts anything).
PHONE_INPUT = {"inputmode": "tel", "autocomplete": "off"}
EMAIL_INPUT = {"inputmode": "email", "autocomplete": "off"}


def phone_field(label, **kwargs):
    return TelField(label, validators=[Optional(), Length(max=40)], render_kw=dict(PHONE_INPUT), **kwargs)


def email_field(label, **kwargs):
    return EmailField(label, validators=[Optional(), Length(max=254)], render_kw=dict(EMAIL_INPUT), **kwargs)


class CustomerForm(FlaskForm):
    name = StringField(_l("Customer name"), validators=[DataRequired(), Length(max=200)])
    phone = phone_field(_l("Phone"))
    email = email_field(_l("Email"))
    industry = StringField(_l("Industry"), validators=[Optional(), Length(max=60)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=60)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    source = StringField(_l("Source"), validators=[Optional(), Length(max=40)])
    campaign_id = SelectField(_l("Campaign"), coerce=int, default=NONE)


def customer_form_class(fields):
    """The customer form with one input per admin-defined field (named ``x_<key>``)."""

    class Form(CustomerForm):
        pass

    for definition in fields:
        name = f"x_{definition.key}"
        label = definition.label
        if definition.kind == "choice":
            field = SelectField(label, choices=[("", "—")] + [(c, c) for c in definition.choices],
                                validate_choice=False)
        elif definition.kind == "multi_choice":
            field = SelectMultipleField(label, choices=[(c, c) for c in definition.choices], validate_choice=False)
        elif definition.kind == "date":
            field = StringField(label, render_kw={"type": "date"})
        elif definition.kind == "number":
            field = StringField(label, render_kw={"inputmode": "decimal"})
        elif definition.kind == "phone":
            field = TelField(label, validators=[Optional(), Length(max=500)], render_kw=dict(PHONE_INPUT))
        elif definition.kind == "email":
            field = EmailField(label, validators=[Optional(), Length(max=500)], render_kw=dict(EMAIL_INPUT))
        else:
            field = StringField(label, validators=[Optional(), Length(max=500)])
        if definition.is_required:
            field.kwargs["validators"] = [DataRequired()] + [v for v in field.kwargs.get("validators", [])
                                                             if not isinstance(v, Optional)]
        setattr(Form, name, field)
    return Form


class ContactForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=100)])
    title = StringField(_l("Job title"), validators=[Optional(), Length(max=100)])
    phone = phone_field(_l("Phone"))
    email = email_field(_l("Email"))
    is_primary = BooleanField(_l("Primary contact"))


ACTIVITY_CHOICES = [("visit", _l("Visit")), ("call", _l("Call")), ("meeting", _l("Meeting")),
                    ("message", _l("Message"))]
assert [c for c, _ in ACTIVITY_CHOICES] == list(ACTIVITY_KINDS)


class ActivityForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=ACTIVITY_CHOICES)
    occurred_at = DateTimeLocalField(_l("When"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    opportunity_id = SelectField(_l("Deal"), coerce=int, default=NONE)
    outcome = TextAreaField(_l("Outcome"), validators=[DataRequired(), Length(max=5000)])
    next_step = StringField(_l("Next step"), validators=[Optional(), Length(max=300)])
    next_step_on = DateField(_l("Next step date"), validators=[Optional()])
    #: Earlier next steps on this customer that this follow-up took (ticked by the rep).
    done_step_ids = SelectMultipleField(_l("Planned steps this follow-up took"), coerce=int, choices=[],
                                        validators=[Optional()])


class DealForm(FlaskForm):
    name = StringField(_l("Deal name"), validators=[DataRequired(), Length(max=200)])
    amount = AmountField(_l("Expected amount (¥)"), validators=[DataRequired(), Length(max=30)])
    expected_close_on = DateField(_l("Expected close date"), validators=[Optional()])
    campaign_id = SelectField(_l("Campaign"), coerce=int, default=NONE)


class StageForm(FlaskForm):
    stage = SelectField(_l("Move to"), choices=[])
    amount = AmountField(_l("Signed amount (¥)"), validators=[Optional(), Length(max=30)],
                         description=_l("When won: the contract amount, if it differs."))
    lost_reason_id = SelectField(_l("Reason lost"), coerce=int, default=NONE)
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class QuoteForm(FlaskForm):
    title = StringField(_l("Quote title"), validators=[DataRequired(), Length(max=200)])
    opportunity_id = SelectField(_l("Deal"), coerce=int, default=NONE)
    list_amount = AmountField(_l("List price (¥)"), validators=[DataRequired(), Length(max=30)])
    discount_percent = StringField(_l("Discount (%)"), default="0", validators=[Optional(), Length(max=10)],
                                   render_kw={"inputmode": "decimal"})
    valid_until = DateField(_l("Valid until"), validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=5000)])


class DecisionForm(FlaskForm):
    comment = TextAreaField(_l("Comment or reason"), validators=[Optional(), Length(max=2000)])


class TransferForm(FlaskForm):
    owner_id = SelectField(_l("New owner"), coerce=int)
    note = StringField(_l("Note"), validators=[Optional(), Length(max=300)])


PERIOD_CHOICES = [("month", _l("Month")), ("quarter", _l("Quarter")), ("year", _l("Year"))]
LEVEL_CHOICES = [("company", _l("Company")), ("department", _l("Department")), ("team", _l("Team")),
                 ("rep", _l("Individual"))]
assert [c for c, _ in PERIOD_CHOICES] == list(PERIOD_KINDS) and [c for c, _ in LEVEL_CHOICES] == list(PLAN_LEVELS)


class TargetFields:
    signed_amount = AmountField(_l("Signed amount (¥)"), validators=[Optional(), Length(max=30)])
    new_customers = StringField(_l("New customers"), validators=[Optional(), Length(max=12)])
    visits = StringField(_l("Visits"), validators=[Optional(), Length(max=12)])
    quotes = StringField(_l("Quotes"), validators=[Optional(), Length(max=12)])
    won_deals = StringField(_l("Won deals"), validators=[Optional(), Length(max=12)])


assert all(hasattr(TargetFields, m) for m in METRICS)


class PlanForm(FlaskForm, TargetFields):
    period_kind = SelectField(_l("Period"), choices=PERIOD_CHOICES)
    starts_on = DateField(_l("Any day in the period"), validators=[InputRequired()])
    level = SelectField(_l("Level"), choices=LEVEL_CHOICES)
    department_id = SelectField(_l("Department or team"), coerce=int, default=NONE)
    user_id = SelectField(_l("Rep"), coerce=int, default=NONE)
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class TargetsForm(FlaskForm, TargetFields):
    reason = TextAreaField(_l("Reason for the change"), validators=[Optional(), Length(max=2000)],
                           description=_l("Required once the plan is approved."))


class PlanDecisionForm(FlaskForm):
    action = SelectField(_l("Decision"), choices=[("approve", _l("Approve")), ("return", _l("Return for changes")),
                                                  ("close", _l("Close the period"))])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class CampaignForm(FlaskForm):
    name = StringField(_l("Campaign name"), validators=[DataRequired(), Length(max=120)])
    channel = StringField(_l("Channel"), validators=[DataRequired(), Length(max=60)],
                          description=_l("e.g. trade fair, live stream, industry salon"))
    starts_on = DateField(_l("Starts on"), validators=[InputRequired()])
    ends_on = DateField(_l("Ends on"), validators=[InputRequired()])
    budget = AmountField(_l("Budget (¥)"), validators=[DataRequired(), Length(max=30)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])


class LeadForm(FlaskForm):
    company_name = StringField(_l("Company"), validators=[DataRequired(), Length(max=200)])
    campaign_id = SelectField(_l("Campaign"), coerce=int, default=NONE)
    contact_name = StringField(_l("Contact"), validators=[Optional(), Length(max=100)])
    phone = phone_field(_l("Phone"))
    email = email_field(_l("Email"))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=5000)])


class HandLeadForm(FlaskForm):
    owner_id = SelectField(_l("Sales rep"), coerce=int, default=NONE)
    respond_by = DateTimeLocalField(_l("Respond by"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()])


FIELD_KIND_CHOICES = [("text", _l("Text")), ("number", _l("Number")), ("date", _l("Date")),
                      ("choice", _l("Single-select")), ("multi_choice", _l("Multi-select")),
                      ("phone", _l("Phone")), ("email", _l("Email"))]
assert [c for c, _ in FIELD_KIND_CHOICES] == list(FIELD_KINDS)


class FieldForm(FlaskForm):
    key = StringField(_l("Key"), validators=[Optional(), Length(max=40)],
                      description=_l("Lowercase letters, digits and _; fixed once created. Import columns use it."))
    label = StringField(_l("Label"), validators=[DataRequired(), Length(max=80)])
    kind = SelectField(_l("Field type"), choices=FIELD_KIND_CHOICES)
    choices = TextAreaField(_l("Options"), validators=[Optional(), Length(max=2000)],
                            description=_l("For choice fields: one option per line."))
    is_required = BooleanField(_l("Required field"))
    is_listed = BooleanField(_l("Show in the customer list and filters"))
    is_active = BooleanField(_l("Active"), default=True)
    position = IntegerField(_l("Position"), default=0, validators=[Optional(), NumberRange(0, 1000)])


class LostReasonForm(FlaskForm):
    name = StringField(_l("Reason"), validators=[DataRequired(), Length(max=80)])
    is_churn = BooleanField(_l("Customer churn (marks the customer lost)"))
    position = IntegerField(_l("Position"), default=0, validators=[Optional(), NumberRange(0, 1000)])


class RuleForm(FlaskForm):
    name = StringField(_l("Rule name"), validators=[DataRequired(), Length(max=100)])
    min_discount_percent = StringField(_l("Discount over (%)"), validators=[Optional(), Length(max=10)])
    min_amount = AmountField(_l("Amount from (¥)"), validators=[Optional(), Length(max=30)])
    #: Choices are set by the view (departments in tree order); 0: the head of the quote's department.
    #: The service checks the department exists: a stale or typed-in id gets a message, not a choice error.
    approver_department_id = SelectField(
        _l("Approving department"), coerce=lambda value: int(value) if str(value).isdigit() else -1,
        default=NONE, validate_choice=False,
        description=_l("Everyone in the chosen department and its teams may decide this step."))
    position = IntegerField(_l("Step order"), default=1, validators=[Optional(), NumberRange(0, 1000)])


class SettingsForm(FlaskForm):
    department_id = SelectField(_l("Department"), coerce=int)
    pool_release_days = IntegerField(_l("Return to the pool after (days without follow-up)"), default=30,
                                     validators=[InputRequired(), NumberRange(1, 3650)])
    daily_claim_cap = IntegerField(_l("Daily claim limit per rep"), default=5,
                                   validators=[InputRequired(), NumberRange(0, 1000)])
    behind_margin_percent = IntegerField(_l("Behind-plan margin (percentage points)"), default=10,
                                         validators=[InputRequired(), NumberRange(0, 100)])
