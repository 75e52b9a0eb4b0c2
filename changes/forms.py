"""Forms for change requests, reviews, windows, freezes and releases."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, HiddenField, IntegerField, SelectField, SelectMultipleField, StringField,
                     TextAreaField, TimeField)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional

from rollout.accounts.forms import ROLE_LABELS
from rollout.accounts.models import ROLES
from rollout.fields import DateField

from changes.labels import IMPACT_LABELS, KIND_LABELS, RISK_LABELS, URGENCY_LABELS, WEEKDAY_LABELS
from changes.models import IMPACTS, KINDS, RISK_LEVELS, URGENCIES


class ChangeRequestForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("What should change"), validators=[DataRequired(), Length(max=20000)],
                                render_kw={"rows": 5})
    reason = TextAreaField(_l("Why the business needs it"), validators=[DataRequired(), Length(max=10000)],
                           render_kw={"rows": 3})
    kind = SelectField(_l("Type"), choices=[(k, KIND_LABELS[k]) for k in KINDS], default="normal")
    urgency = SelectField(_l("Urgency"), choices=[(u, URGENCY_LABELS[u]) for u in URGENCIES], default="medium")
    impact = SelectField(_l("Impact"), choices=[(i, IMPACT_LABELS[i]) for i in IMPACTS], default="medium")
    wanted_on = DateField(_l("Wanted by"), validators=[Optional()])
    affected_roles = SelectMultipleField(_l("Affected roles"), choices=[(r, ROLE_LABELS[r]) for r in ROLES],
                                         validators=[Optional()])
    affected_department_ids = SelectMultipleField(_l("Affected departments"), coerce=int, validators=[Optional()])
    # Chosen through the step picker (a process, then its steps); the service checks the ids exist.
    node_ids = SelectMultipleField(_l("Process steps"), coerce=int, validators=[Optional()], validate_choice=False)
    requirement_ids = SelectMultipleField(_l("Requirements"), coerce=int, validators=[Optional()])
    has_permission_change = BooleanField(_l("Changes permissions"))
    has_data_field_change = BooleanField(_l("Changes data fields"))


class CommentForm(FlaskForm):
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 2})
    release_id = SelectField(_l("Release"), coerce=int, validators=[Optional()], validate_choice=False)


class AssessForm(FlaskForm):
    comment = TextAreaField(_l("Assessment"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 2})
    raise_to = SelectField(_l("Risk"), choices=[(r, RISK_LABELS[r]) for r in RISK_LEVELS])
    raise_reason = StringField(_l("Why the risk is higher"), validators=[Optional(), Length(max=1000)])


class RaiseRiskForm(FlaskForm):
    risk_level = SelectField(_l("Raise risk to"), choices=[(r, RISK_LABELS[r]) for r in RISK_LEVELS])
    risk_reason = StringField(_l("Why"), validators=[DataRequired(), Length(max=1000)])


class DecisionForm(FlaskForm):
    outcome = SelectField(_l("Decision"), choices=[("approved", _l("Approve")), ("rejected", _l("Reject")),
                                                   ("deferred", _l("Defer"))])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class PostReviewForm(FlaskForm):
    comment = StringField(_l("Review finding"), validators=[DataRequired(), Length(max=2000)])


class CloseWindowForm(FlaskForm):
    minutes = TextAreaField(_l("Minutes"), validators=[DataRequired(), Length(max=20000)], render_kw={"rows": 6},
                            description=_l("Markdown. Undecided requests move to the next window."))


class CadenceForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)],
                       default=_l("Change review meeting"))
    weekday = SelectField(_l("Weekday"), coerce=int, choices=[(i, label) for i, label in enumerate(WEEKDAY_LABELS)],
                          default=2)
    every_n_weeks = IntegerField(_l("Every N weeks"), default=1, validators=[InputRequired(), NumberRange(1, 12)])
    start_time = TimeField(_l("Start time"), validators=[InputRequired()])
    duration_minutes = IntegerField(_l("Duration (minutes)"), default=60,
                                    validators=[InputRequired(), NumberRange(15, 480)])
    cutoff_hours = IntegerField(_l("Submission cutoff (hours before)"), default=24,
                                validators=[InputRequired(), NumberRange(0, 336)])
    starts_on = DateField(_l("First day"), validators=[InputRequired()])
    ends_on = DateField(_l("Last day"), validators=[Optional()])


class CadenceSwitchForm(FlaskForm):
    #: "on" or "off".
    active = HiddenField(validators=[AnyOf(("on", "off"))])


class FreezeForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    starts_on = DateField(_l("From"), validators=[InputRequired()])
    ends_on = DateField(_l("To"), validators=[InputRequired()])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})


class ReleaseForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    planned_on = DateField(_l("Planned date"), validators=[InputRequired()])


class ReleaseNotesForm(FlaskForm):
    notes_markdown = TextAreaField(_l("Release notes"), validators=[Optional(), Length(max=50000)],
                                   render_kw={"rows": 12})


class AttachmentForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired()])
