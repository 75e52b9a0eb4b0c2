"""Forms for surveys, questions, interviews, highlights and requirements."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from rollout.accounts.forms import ROLE_LABELS
from rollout.audit.display import label_codes
from rollout.fields import DateField
from surveys.models import (INTERVIEW_METHODS, PRIORITIES, QUESTION_TYPES, REQUIREMENT_STATUS_LABELS,
                            SURVEY_STATUS_LABELS)

QUESTION_TYPE_LABELS = {
    "single": _l("Single choice"),
    "multiple": _l("Multiple choice"),
    "text": _l("Short text"),
    "long_text": _l("Long text"),
    "integer": _l("Whole number"),
    "decimal": _l("Number"),
    "date": _l("Date"),
    "rating5": _l("Rating 1–5"),
    "rating10": _l("Rating 1–10"),
    "likert": _l("Likert matrix"),
    "ranking": _l("Ranking"),
    "note": _l("Note (no answer)"),
}
METHOD_LABELS = {"interview": _l("Interview"), "workshop": _l("Workshop"), "observation": _l("Field observation")}
PRIORITY_LABELS = {"must": _l("Must have"), "should": _l("Should have"), "could": _l("Could have"),
                   "wont": _l("Won't have (this time)")}
CONDITION_OP_LABELS = {"equals": _l("equals"), "not_equals": _l("does not equal"), "selected": _l("includes")}
BUSINESS_ROLE_CHOICES = [("head", _l("Department head")), ("staff", _l("Staff"))]
AUDIENCE_ROLE_CHOICES = [("head", _l("Department head")), ("staff", _l("Staff")), ("trainer", _l("Trainer")),
                         ("lead", _l("Project lead")), ("admin", _l("Administrator"))]
#: How many skip-logic rows the question form offers.
CONDITION_ROWS = 3

label_codes({
    ("surveys", "status"): SURVEY_STATUS_LABELS, ("surveys", "audience_roles"): ROLE_LABELS,
    ("surveys", "recurrence"): {"monthly": _l("Every month")}, ("survey_questions", "type"): QUESTION_TYPE_LABELS,
    ("survey_invitations", "role"): ROLE_LABELS, ("survey_responses", "role"): ROLE_LABELS,
    ("interviews", "role"): ROLE_LABELS, ("interviews", "method"): METHOD_LABELS,
    ("interview_interviewees", "role"): ROLE_LABELS,
    ("requirements", "priority"): PRIORITY_LABELS, ("requirements", "status"): REQUIREMENT_STATUS_LABELS,
    ("requirements", "roles"): ROLE_LABELS,
})


def strip_nul(value):
    """Drop NUL characters: PostgreSQL refuses them in text, and no person types one."""
    return value.replace("\x00", "") if isinstance(value, str) else value


def account_id(value) -> int:
    """An account id from the form; anything else becomes 0 (no one), never an error page."""
    text = str(value).strip()
    return int(text) if text.isdigit() and len(text) < 12 else 0


class CleanForm(FlaskForm):
    """Every field of these forms loses NUL characters before validation."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            filters = [*unbound_field.kwargs.get("filters", ()), strip_nul]
            return unbound_field.bind(form=form, **dict(options, filters=filters))


class SurveyForm(CleanForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Introduction"), validators=[Optional(), Length(max=5000)],
                                description=_l("Shown at the top of the survey. Markdown."))
    department_id = SelectField(_l("Owning department"), coerce=int, validators=[Optional()],
                                description=_l("Its head may manage the survey. Leave empty for company-wide."))
    audience_departments = SelectMultipleField(_l("Target departments"), coerce=int, validators=[Optional()],
                                               description=_l("Teams below a department are included."))
    audience_roles = SelectMultipleField(_l("Target roles"), choices=AUDIENCE_ROLE_CHOICES,
                                         validators=[Optional()], description=_l("Leave empty for every role."))
    is_anonymous = BooleanField(_l("Anonymous: never store who gave which answers"))
    opens_on = DateField(_l("Opens on"), validators=[Optional()])
    closes_on = DateField(_l("Closes on"), validators=[Optional()])
    recurrence = SelectField(_l("Repeats"), choices=[("", _l("Does not repeat")), ("monthly", _l("Every month"))],
                             validators=[Optional()])


class SectionForm(CleanForm):
    title = StringField(_l("Section title"), validators=[DataRequired(), Length(max=200)])
    title_zh = StringField(_l("Chinese title"), validators=[Optional(), Length(max=200)])
    title_en = StringField(_l("English title"), validators=[Optional(), Length(max=200)])


class QuestionForm(CleanForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)],
                       description=_l("Short code used in skip logic and exports, e.g. q_pain_points."))
    type = SelectField(_l("Type"), choices=[(t, QUESTION_TYPE_LABELS[t]) for t in QUESTION_TYPES])
    label = TextAreaField(_l("Question"), validators=[DataRequired(), Length(max=2000)])
    label_zh = TextAreaField(_l("Chinese wording"), validators=[Optional(), Length(max=2000)])
    label_en = TextAreaField(_l("English wording"), validators=[Optional(), Length(max=2000)])
    hint = StringField(_l("Help text"), validators=[Optional(), Length(max=1000)])
    is_required = BooleanField(_l("Required"))
    section_id = SelectField(_l("Section"), coerce=int, validators=[Optional()])
    choices_text = TextAreaField(_l("Options (scale for a Likert matrix)"), validators=[Optional(), Length(max=10000)],
                            description=_l("One per line: value | label | 中文 | English, or just the label."))
    rows_text = TextAreaField(_l("Statements (Likert matrix only)"), validators=[Optional(), Length(max=10000)],
                         description=_l("One per line, same layout as the options."))
    condition_join = SelectField(_l("Show this question when"),
                                 choices=[("and", _l("all conditions hold (AND)")),
                                          ("or", _l("any condition holds (OR)"))])


class ImportForm(CleanForm):
    file = FileField(_l("XLSForm file (.xlsx)"), validators=[FileRequired()])


class InterviewForm(CleanForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    method = SelectField(_l("Method"), choices=[(m, METHOD_LABELS[m]) for m in INTERVIEW_METHODS])
    held_on = DateField(_l("Date"), validators=[DataRequired()])
    department_id = SelectField(_l("Department"), coerce=int, validators=[DataRequired()])
    interviewee = StringField(_l("Interviewee(s)"), validators=[Optional(), Length(max=200)],
                              description=_l("As you would write them; left empty, the picked accounts' names."))
    #: One select per person on the page (all named interviewee_ids); the service checks each pick.
    interviewee_ids = SelectMultipleField(_l("People heard (accounts)"), coerce=account_id, validate_choice=False,
                                          description=_l("Pick each person who spoke, up to 10: only a picked "
                                                         "account counts as heard in the coverage matrix; a name "
                                                         "typed alone counts for nobody."))
    role = SelectField(_l("Role"), choices=[("", _l("Own role / several roles"))] + BUSINESS_ROLE_CHOICES,
                       validators=[Optional()],
                       description=_l("With accounts picked, each person counts in their own role; a role "
                                      "chosen here must be everyone's."))
    notes_markdown = TextAreaField(_l("Interview notes"), validators=[Optional(), Length(max=100000)],
                                   description=_l("Markdown."))


class HighlightForm(CleanForm):
    quote = TextAreaField(_l("Passage from the notes"), validators=[DataRequired(), Length(max=5000)])
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=300)],
                       description=_l("Separated by commas or spaces."))


class RequirementForm(CleanForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)],
                                description=_l("Markdown."))
    priority = SelectField(_l("Priority"), choices=[(p, PRIORITY_LABELS[p]) for p in PRIORITIES], default="should")
    department_ids = SelectMultipleField(_l("Departments"), coerce=int, validators=[Optional()])
    roles = SelectMultipleField(_l("Roles"), choices=BUSINESS_ROLE_CHOICES, validators=[Optional()])
    owner_id = SelectField(_l("Owner"), coerce=int, validators=[Optional()])
