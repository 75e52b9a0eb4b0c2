"""Retro forms."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from rollout.fields import DateField
from rollout.retros.models import MAX_VOTE_BUDGET


class RetroForm(FlaskForm):
    team_id = SelectField(_l("Team"), coerce=int, validators=[DataRequired()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    held_on = DateField(_l("Date"), validators=[DataRequired()])
    # InputRequired, not DataRequired: a 0 is answered with the allowed range, not "This field is required.".
    cadence_days = IntegerField(_l("Repeat every (days)"), default=7, validators=[InputRequired(), NumberRange(1, 90)])
    template = SelectField(_l("Template"))
    custom_columns = TextAreaField(_l("Custom columns"), validators=[Optional(), Length(max=600)],
                                   description=_l("Only for the custom template: one column title per line."))
    is_anonymous = BooleanField(_l("Anonymous cards (the writer is not stored)"))
    vote_budget = IntegerField(_l("Dots per person"), default=3,
                               validators=[InputRequired(), NumberRange(1, MAX_VOTE_BUDGET)])
    facilitator_id = SelectField(_l("Facilitator"), coerce=int, validators=[DataRequired()])


class CardForm(FlaskForm):
    column_id = SelectField(_l("Column"), coerce=int, validators=[DataRequired()])
    body = TextAreaField(_l("Card"), validators=[DataRequired(), Length(max=500)])
    tag = StringField(_l("Tag (optional)"), validators=[Optional(), Length(max=40)])


class NotesForm(FlaskForm):
    notes = TextAreaField(_l("Discussion notes"), validators=[Optional(), Length(max=20000)])


class ActionItemForm(FlaskForm):
    title = StringField(_l("Action item"), validators=[DataRequired(), Length(max=300)])
    owner_id = SelectField(_l("Owner"), coerce=int, validators=[Optional()])
    due_on = DateField(_l("Due"), validators=[Optional()])
    card_id = SelectField(_l("From card"), coerce=int, validators=[Optional()])


class FaqAnswerForm(FlaskForm):
    title = StringField(_l("The question"), validators=[DataRequired(), Length(max=200)],
                        description=_l("As staff would search for it."))
    answer = TextAreaField(_l("Answer (Markdown)"), validators=[DataRequired(), Length(max=100000)],
                           render_kw={"rows": 10})
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=300)], description=_l("Separated by commas"))
