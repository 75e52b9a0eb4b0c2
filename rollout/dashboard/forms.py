"""Rollout plan, readiness settings and adoption forms."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from rollout.dashboard.models import PHASE_KINDS


class PhaseForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    kind = SelectField(_l("Kind"), choices=[(k, k) for k in PHASE_KINDS])
    starts_on = DateField(_l("First day"), validators=[DataRequired()])
    ends_on = DateField(_l("Last day"), validators=[DataRequired()])
    department_ids = SelectMultipleField(_l("Departments"), coerce=int, validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])


class MilestoneForm(FlaskForm):
    title = StringField(_l("Milestone"), validators=[DataRequired(), Length(max=200)])
    due_on = DateField(_l("Date"), validators=[DataRequired()])
    phase_id = SelectField(_l("Phase"), coerce=int, validators=[Optional()])


class GoLiveForm(FlaskForm):
    go_live_on = DateField(_l("Go-live date"), validators=[DataRequired()])


class TargetForm(FlaskForm):
    entries_per_week = IntegerField(_l("Expected entries per rep per week"),
                                    validators=[DataRequired(), NumberRange(0, 1000)])
