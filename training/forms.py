"""Forms for tracks, courses, quiz questions, sessions, support requests and FAQ articles."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, HiddenField, IntegerField, SelectField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.validators import URL, DataRequired, InputRequired, Length, NumberRange, Optional

from rollout.accounts.forms import ROLE_LABELS
from rollout.accounts.models import ROLES
from rollout.audit.display import label_codes
from rollout.fields import DateTimeLocalField
from training.models import FAQ_MODULES, SESSION_KINDS, TIERS

TIER_LABELS = {"basic": _l("Basic"), "advanced": _l("Advanced"), "admin": _l("Administration")}
KIND_LABELS = {"lecture": _l("Lecture"), "hands_on": _l("Hands-on"), "drill": _l("Scenario drill"),
               "qa": _l("Q&A")}
MODULE_LABELS = {"customers": _l("Customers"), "opportunities": _l("Opportunities"), "quotes": _l("Quotes"),
                 "plans": _l("Sales plans"), "reports": _l("Reports"), "mobile": _l("Mobile app"),
                 "permissions": _l("Permissions"), "data": _l("Data and import")}
ATTENDANCE_LABELS = {"present": _l("Present"), "late": _l("Late"), "excused": _l("Excused"),
                     "absent": _l("Absent")}
STATUS_LABELS = {"draft": _l("Draft"), "scheduled": _l("Scheduled"), "cancelled": _l("Cancelled"),
                 "in_progress": _l("In progress"), "held": _l("Held"),
                 "enrolled": _l("Enrolled"), "waitlisted": _l("Waitlisted"),
                 "no_seat": _l("No seat (sign-up closed)"), "open": _l("Awaiting answer"),
                 "escalated": _l("Escalated"), "answered": _l("Replied"), "solved": _l("Solved"),
                 "complete": _l("Complete"), "overdue": _l("Overdue"), "pending": _l("Not yet done")}
label_codes({
    ("training_tracks", "tier"): TIER_LABELS, ("training_tracks", "role"): ROLE_LABELS,
    ("training_sessions", "kind"): KIND_LABELS, ("training_sessions", "status"): STATUS_LABELS,
    ("training_sessions", "target_roles"): ROLE_LABELS, ("training_enrolments", "status"): STATUS_LABELS,
    ("training_enrolments", "attendance"): ATTENDANCE_LABELS, ("training_support_requests", "module"): MODULE_LABELS,
    ("training_support_requests", "status"): STATUS_LABELS, ("training_faq_articles", "module"): MODULE_LABELS,
    ("training_faq_articles", "role"): ROLE_LABELS,
})
NONE = 0


def strip_nul(value):
    """PostgreSQL text cannot hold NUL characters; they never carry meaning in a form."""
    return value.replace("\x00", "") if isinstance(value, str) else value


class TrainingForm(FlaskForm):
    """Base of this package's forms: every field drops NUL characters."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            options["filters"] = [*unbound_field.kwargs.get("filters", ()), strip_nul]
            return unbound_field.bind(form=form, **options)


def role_choices(blank=None):
    return ([("", blank)] if blank is not None else []) + [(r, ROLE_LABELS[r]) for r in ROLES]


class TrackForm(TrainingForm):
    name = StringField(_l("Track name"), validators=[DataRequired(), Length(max=100)],
                       description=_l("For example Sales rep – basics"))
    tier = SelectField(_l("Tier"), choices=[(t, TIER_LABELS[t]) for t in TIERS])
    role = SelectField(_l("Role"), choices=role_choices())
    department_id = SelectField(_l("Department"), coerce=int, validators=[Optional()],
                                description=_l("Only people of this department; leave empty for everyone with the role."))
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    is_required = BooleanField(_l("Mandatory"), default=True)
    # InputRequired, not DataRequired: 0 (due on the go-live day) is a value, not a missing one.
    due_days_before_go_live = IntegerField(_l("Due days before go-live"), default=7,
                                           validators=[InputRequired(), NumberRange(min=0, max=365)])
    seed_lead_days = IntegerField(_l("Seed users due this many days earlier"), default=7,
                                  validators=[Optional(), NumberRange(min=0, max=365)])


class CourseForm(TrainingForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    material_markdown = TextAreaField(_l("Material (Markdown)"), validators=[Optional(), Length(max=100000)],
                                      render_kw={"rows": 12})
    duration_minutes = IntegerField(_l("Duration (minutes)"), default=60,
                                    validators=[InputRequired(), NumberRange(min=1, max=24 * 60)])
    prerequisite_id = SelectField(_l("Prerequisite"), coerce=int, validators=[Optional()])
    pass_mark = IntegerField(_l("Quiz pass mark (%)"), validators=[Optional(), NumberRange(min=0, max=100)])


class AttachmentForm(TrainingForm):
    file = FileField(_l("File"), validators=[FileRequired()])


class QuestionForm(TrainingForm):
    prompt = StringField(_l("Question"), validators=[DataRequired(), Length(max=500)])
    options_text = TextAreaField(_l("Options, one per line"), validators=[DataRequired(), Length(max=2000)],
                                 render_kw={"rows": 4})
    correct_option = IntegerField(_l("Number of the right option"), validators=[InputRequired(), NumberRange(min=1)])


class SessionForm(TrainingForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    course_id = SelectField(_l("Course"), coerce=int, validators=[Optional()])
    kind = SelectField(_l("Kind"), choices=[(k, KIND_LABELS[k]) for k in SESSION_KINDS])
    trainer_id = SelectField(_l("Trainer"), coerce=int, validators=[Optional()])
    starts_at = DateTimeLocalField(_l("Starts"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    ends_at = DateTimeLocalField(_l("Ends"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    location = StringField(_l("Room or place"), validators=[Optional(), Length(max=200)])
    online_url = StringField(_l("Online link"), validators=[Optional(), URL(require_tld=False), Length(max=500)])
    capacity = IntegerField(_l("Capacity"), default=20, validators=[InputRequired(), NumberRange(min=1, max=10000)])
    signup_deadline_at = DateTimeLocalField(_l("Sign-up deadline"), format="%Y-%m-%dT%H:%M",
                                            validators=[Optional()])
    cancel_deadline_at = DateTimeLocalField(_l("Cancellation deadline"), format="%Y-%m-%dT%H:%M",
                                            validators=[Optional()])
    target_roles = SelectMultipleField(_l("For roles"), choices=role_choices(), validators=[Optional()])
    department_ids = SelectMultipleField(_l("For departments"), coerce=int, validators=[Optional()])
    is_audience_only = BooleanField(_l("Only these roles and departments may sign up"),
                                    description=_l("Otherwise they are invited, and anyone may sign up."))
    description_markdown = TextAreaField(_l("Description (Markdown)"), validators=[Optional(), Length(max=20000)])
    confirm_clash = BooleanField(_l("Save despite the clash"))


class AssignForm(TrainingForm):
    user_id = SelectField(_l("Person"), coerce=int, validators=[DataRequired()])


class SupportForm(TrainingForm):
    subject = StringField(_l("What do you need help with?"), validators=[DataRequired(), Length(max=200)],
                          description=_l("For example: How do I submit a quote for approval?"))
    module = SelectField(_l("Module"), choices=[("", "—")] + [(m, MODULE_LABELS[m]) for m in FAQ_MODULES],
                         validators=[Optional()])
    body_markdown = TextAreaField(_l("Details"), validators=[Optional(), Length(max=20000)], render_kw={"rows": 5})
    #: The FAQ article the question is asked from (set by the article's "ask your seed user" link); an id
    #: that names no article (any more) is left out rather than refused: the question matters more.
    asked_from_article_id = HiddenField()


class ReplyForm(TrainingForm):
    body_markdown = TextAreaField(_l("Your reply (Markdown)"), validators=[DataRequired(), Length(max=20000)],
                                  render_kw={"rows": 4})


class AnswerEditForm(TrainingForm):
    answer_markdown = TextAreaField(_l("Answer (Markdown)"), validators=[DataRequired(), Length(max=20000)],
                                    render_kw={"rows": 8})


class AnswerForm(TrainingForm):
    answer_markdown = TextAreaField(_l("Answer (Markdown)"), validators=[DataRequired(), Length(max=20000)],
                                    render_kw={"rows": 6})
    publish_as_article = BooleanField(_l("Also publish as an FAQ article"))
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=300)],
                       description=_l("Separated by commas"))


class ArticleForm(TrainingForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body_markdown = TextAreaField(_l("Text (Markdown)"), validators=[DataRequired(), Length(max=100000)],
                                  render_kw={"rows": 14})
    module = SelectField(_l("Module"), choices=[("", "—")] + [(m, MODULE_LABELS[m]) for m in FAQ_MODULES],
                         validators=[Optional()])
    role = SelectField(_l("For role"), choices=role_choices("—"), validators=[Optional()])
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=300)], description=_l("Separated by commas"))
