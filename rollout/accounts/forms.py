"""Login, profile and user/department administration forms."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from rollout.accounts.models import DEPARTMENT_KINDS, ROLES
from rollout.accounts.passwords import MAX_LENGTH
from rollout.audit.display import label_codes
from rollout.fields import DateField

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "lead": _l("Project lead"),
    "trainer": _l("Trainer"),
    "head": _l("Department head"),
    "staff": _l("Staff"),
}
KIND_LABELS = {"company": _l("Company"), "department": _l("Department"), "team": _l("Team")}
label_codes({("user_roles", "role"): ROLE_LABELS, ("departments", "kind"): KIND_LABELS})
LANGUAGE_CHOICES = [("", _l("Browser default")), ("zh_CN", "简体中文"), ("en", "English")]
#: Our own words: WTForms' zh catalogue says "无效的 Email 地址", half in English.
EMAIL_MESSAGE = _l("Enter an email address such as name@example.com.")


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=100)])
    email = EmailField(_l("Email"), validators=[Optional(), Email(message=EMAIL_MESSAGE), Length(max=254)])
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, validate_choice=True)


class NewPasswordForm(FlaskForm):
    """Choosing a password through a sign-in link."""
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])
    # A typo in a new password would lock its owner out: it is typed twice.
    confirm_password = PasswordField(_l("New password again"), validators=[
        DataRequired(), EqualTo("new_password", message=_l("The two new passwords differ."))])


class PasswordForm(NewPasswordForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=100)])
    email = EmailField(_l("Email"), validators=[Optional(), Email(message=EMAIL_MESSAGE), Length(max=254)])
    department_id = SelectField(_l("Department"), coerce=int, validators=[Optional()])
    roles = SelectMultipleField(_l("Roles"), choices=[(r, ROLE_LABELS[r]) for r in ROLES],
                                validators=[DataRequired()])
    is_seed_user = BooleanField(_l("Seed user"))
    is_active_account = BooleanField(_l("Active"), default=True)
    password = PasswordField(_l("Password"), validators=[Optional(), Length(max=MAX_LENGTH)],
                             description=_l("Leave empty to keep the current password."))


class DepartmentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    code = StringField(_l("Code"), validators=[Optional(), Length(max=40)])
    kind = SelectField(_l("Kind"), choices=[(k, KIND_LABELS[k]) for k in DEPARTMENT_KINDS])
    parent_id = SelectField(_l("Parent"), coerce=int, validators=[Optional()])
    go_live_on = DateField(_l("Go-live date"), validators=[Optional()])
