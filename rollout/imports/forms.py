"""Import forms: the upload form is static; mapping and decisions are per file and read by the view."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from rollout.imports.readers import ENCODINGS, SEPARATORS

NO_CHOICE = 0


def encoding_choices(auto_label=None):
    return [("", auto_label or _l("Detect automatically"))] + [(name, name.upper()) for name in ENCODINGS]


class UploadForm(FlaskForm):
    target = SelectField(_l("Import as"), validate_choice=True)
    file = FileField(_l("File (.xlsx, .csv or .txt)"), validators=[FileRequired(_l("Choose a file."))])
    department_id = SelectField(_l("Default department"), coerce=int, validate_choice=True,
                                description=_l("Imported records go to this department when their row does not name one."))
    template_id = SelectField(_l("Mapping template"), coerce=int, validate_choice=True)
    encoding = SelectField(_l("Encoding"), choices=encoding_choices(), validate_choice=True,
                           description=_l("Leave on automatic unless the preview shows garbled text."))


class SourceForm(FlaskForm):
    # A workbook's form has no encoding or separator: they default to "detect" instead of failing validation.
    encoding = SelectField(_l("Encoding"), choices=encoding_choices(), validate_choice=True, default="")
    separator = SelectField(_l("Separator"), validate_choice=True, default="",
                            choices=[("", _l("Detect automatically"))] + [(k, v) for k, v in SEPARATORS.items()])
    header_row = IntegerField(_l("Header row"), validators=[Optional(), NumberRange(min=1, max=10)])
    sheet = SelectField(_l("Sheet"), validate_choice=False)


class CheckForm(FlaskForm):
    sample = SelectField(_l("Rows to check"), validate_choice=True,
                         choices=[("first", _l("The first rows")), ("random", _l("A random 10%")),
                                  ("all", _l("Every row"))])
    first_n = IntegerField(_l("How many first rows"), default=100, validators=[Optional(), NumberRange(min=1, max=100000)])


class ConfirmForm(FlaskForm):
    """A POST with only the CSRF token (run, undo, resolve, discard, mapping and decisions tables)."""
