"""Rollout plan, readiness settings and adoption forms."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, StopValidation

from rollout.dashboard.models import PHASE_KINDS
from rollout.fields import DateField


class WholeNumberField(IntegerField):
    """A whole number: anything else is refused with one clear message.

    (DataRequired would call 0 "missing", and IntegerField would add a range error to "abc".)"""

    def process_formdata(self, valuelist):
        self.data = None
        text = valuelist[0].strip() if valuelist else ""
        if text:
            try:
                self.data = int(text)
            except ValueError:
                raise ValueError(_("Enter a whole number.")) from None

    def pre_validate(self, form):
        if self.process_errors:  # not a number: a range check would only repeat the problem
            raise StopValidation()


class PhaseForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    kind = SelectField(_l("Kind"), choices=[(k, k) for k in PHASE_KINDS])
    # InputRequired, not DataRequired: a date that cannot be read is reported as such, not as missing.
    starts_on = DateField(_l("First day"), validators=[InputRequired()])
    ends_on = DateField(_l("Last day"), validators=[InputRequired()])
    department_ids = SelectMultipleField(_l("Departments"), coerce=int, validators=[Optional()],
                                         description=_l("Hold Ctrl (⌘ on a Mac) and click to choose several."))
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])


class MilestoneForm(FlaskForm):
    title = StringField(_l("Milestone"), validators=[DataRequired(), Length(max=200)])
    due_on = DateField(_l("Date"), validators=[InputRequired()])
    phase_id = SelectField(_l("Phase"), coerce=int, validators=[Optional()])


class GoLiveForm(FlaskForm):
    go_live_on = DateField(_l("Go-live date"), validators=[InputRequired()])


class TargetForm(FlaskForm):
    entries_per_week = WholeNumberField(_l("Expected entries per rep per week"), validators=[
        InputRequired(), NumberRange(0, 1000, message=_l("Give between 0 and 1000 entries per week."))])
