"""Forms of the process-map pages: process, node, edge, RACI row, compare, BPMN import."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from processmaps.models import LANE_BY_DEPARTMENT, LANE_BY_ROLE
from rollout.database import MAX_ID


def optional_int(value):
    """Select values: '' → None, digits → int, anything else (or beyond any id) → -1 (rejected
    by the service)."""
    if value in (None, "", "None"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return -1
    return number if -MAX_ID <= number <= MAX_ID else -1


def kind_choices():
    return [("task", _l("Task")), ("decision", _l("Decision point")), ("parallel", _l("Parallel split/join")),
            ("exception", _l("Exception")), ("subprocess", _l("Subprocess")), ("start", _l("Start")),
            ("end", _l("End"))]


def lane_choices():
    return [(LANE_BY_ROLE, _l("Owner role")), (LANE_BY_DEPARTMENT, _l("Department"))]


class ProcessForm(FlaskForm):
    name = StringField(_l("Process name"), validators=[DataRequired(), Length(max=120)])
    department_id = SelectField(_l("Owning department"), coerce=optional_int, validate_choice=False)
    lane_by = SelectField(_l("Swimlanes per"), choices=lane_choices(), validate_choice=False)
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])


class NodeForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=kind_choices(), validate_choice=False)
    name = StringField(_l("Step name"), validators=[DataRequired(), Length(max=120)])
    owner_role = StringField(_l("Owner role"), validators=[Optional(), Length(max=60)])
    owner_user_id = SelectField(_l("Named owner"), coerce=optional_int, validate_choice=False)
    department_id = SelectField(_l("Department"), coerce=optional_int, validate_choice=False)
    time_limit = StringField(_l("Time limit"), validators=[Optional(), Length(max=60)],
                             render_kw={"placeholder": _l("e.g. 2 working days")})
    data_items = TextAreaField(_l("Data items (one per line)"), validators=[Optional(), Length(max=4000)])
    notes = TextAreaField(_l("Remarks"), validators=[Optional(), Length(max=4000)])
    subprocess_id = SelectField(_l("Runs process"), coerce=optional_int, validate_choice=False)

    def service_values(self) -> dict:
        return {name: getattr(self, name).data for name in (
            "kind", "name", "owner_role", "owner_user_id", "department_id", "time_limit", "data_items", "notes",
            "subprocess_id")}


class EdgeForm(FlaskForm):
    source_id = SelectField(_l("From step"), coerce=optional_int, validate_choice=False)
    target_id = SelectField(_l("To step"), coerce=optional_int, validate_choice=False)
    label = StringField(_l("Condition"), validators=[Optional(), Length(max=120)])
    is_exception = BooleanField(_l("Exception branch"))

    def service_values(self) -> dict:
        return {"source_id": self.source_id.data, "target_id": self.target_id.data, "label": self.label.data,
                "is_exception": self.is_exception.data}


class RaciForm(FlaskForm):
    node_id = SelectField(_l("Step"), coerce=optional_int, validate_choice=False)
    role = StringField(_l("Role"), validators=[DataRequired(), Length(max=60)])
    kind = SelectField(_l("Letter"), choices=[("R", _l("R · responsible")), ("A", _l("A · accountable")),
                                              ("C", _l("C · consulted")), ("I", _l("I · informed")),
                                              ("", _l("— remove"))], validate_choice=False)


class ImportForm(FlaskForm):
    file = FileField(_l("BPMN 2.0 file"), validators=[FileRequired()])
    department_id = SelectField(_l("Owning department"), coerce=optional_int, validate_choice=False)


