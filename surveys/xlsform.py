"""Survey definitions as XLSForm spreadsheets (sheets survey, choices, settings).

Mapping of our question types to XLSForm:
single → select_one, multiple → select_multiple, text → text, long_text → text with
appearance multiline, integer, decimal, date, note, rating 1–5/1–10 → range with
parameters, ranking → rank, Likert matrix → a begin_group with appearance table-list
holding one select_one per statement, sections → begin_group/end_group.
Import is all or nothing: every unusable row is reported with its sheet and row number.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import ngettext
from openpyxl import Workbook, load_workbook

from rollout.errors import ServiceError
from rollout.extensions import db
from surveys import services
from surveys.models import (DATE, DECIMAL, INTEGER, LIKERT, LONG_TEXT, MULTIPLE, NOTE, RANKING, RATING5, RATING10,
                            SINGLE, TEXT, Survey)

SURVEY_COLUMNS = ["type", "name", "label", "label::zh", "label::en", "hint", "required", "relevant",
                  "appearance", "parameters"]
CHOICE_COLUMNS = ["list_name", "name", "label", "label::zh", "label::en"]
SETTINGS_COLUMNS = ["form_title", "form_id", "version", "description", "anonymous"]
SIMPLE_TYPES = {"text": TEXT, "integer": INTEGER, "decimal": DECIMAL, "date": DATE, "note": NOTE}
LIKERT_SEPARATOR = "__"


@dataclass
class RowError:
    """A problem of one row of a sheet, or of the whole file (``sheet`` None)."""
    sheet: str | None
    row: int | None
    message: str

    def __str__(self) -> str:
        if self.sheet is None:
            return self.message
        return _("%(sheet)s row %(row)d: %(message)s", sheet=self.sheet, row=self.row, message=self.message)


#: The order problems are listed in: the file's own, then sheet by sheet, row by row.
SHEET_ORDER = {None: 0, "survey": 1, "choices": 2, "settings": 3}


class XLSFormErrors(ServiceError):
    """The spreadsheet has rows that cannot be used; nothing was imported."""

    def __init__(self, errors: list[RowError]):
        errors = sorted(errors, key=lambda error: (SHEET_ORDER.get(error.sheet, 9), error.row or 0))
        super().__init__(ngettext("The file has %(num)d problem; nothing was imported.", "The file has %(num)d problems; nothing was imported.", len(errors)))
        self.errors = errors


# --- export ----------------------------------------------------------------------
def _relevant(question) -> str:
    parts = []
    for rule in question.conditions or []:
        value = str(rule["value"]).replace("'", "")
        if rule["op"] == "selected":
            parts.append(f"selected(${{{rule['question']}}}, '{value}')")
        else:
            operator = "!=" if rule["op"] == "not_equals" else "="
            parts.append(f"${{{rule['question']}}} {operator} '{value}'")
    return f" {question.condition_join} ".join(parts)


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


def export_xlsform(survey: Survey) -> bytes:
    """The survey's definition as an XLSForm workbook."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    choices = workbook.create_sheet("choices")
    settings = workbook.create_sheet("settings")
    _append(sheet, SURVEY_COLUMNS)
    _append(choices, CHOICE_COLUMNS)
    _append(settings, SETTINGS_COLUMNS)
    _append(settings, [survey.title, f"survey_{survey.id}", str(survey.version), survey.description or "",
                       _yes(survey.is_anonymous)])

    def row(**values):
        _append(sheet, [values.get(c.replace("::", "_"), "") or "" for c in SURVEY_COLUMNS])

    def choice_rows(list_name, options):
        for option in options:
            _append(choices, [list_name, option.value, option.label, option.label_zh or "", option.label_en or ""])

    open_section = None
    sections = {s.id: s for s in survey.sections}
    for question in survey.questions:
        if question.section_id != (open_section.id if open_section else None):
            if open_section is not None:
                row(type="end_group", name=open_section.name)
            open_section = sections.get(question.section_id)
            if open_section is not None:
                row(type="begin_group", name=open_section.name, label=open_section.title,
                    label_zh=open_section.title_zh, label_en=open_section.title_en)
        common = dict(name=question.name, label=question.label, label_zh=question.label_zh,
                      label_en=question.label_en, hint=question.hint, required=_yes(question.is_required),
                      relevant=_relevant(question))
        kind = question.type
        if kind in (SINGLE, MULTIPLE, RANKING):
            prefix = {SINGLE: "select_one", MULTIPLE: "select_multiple", RANKING: "rank"}[kind]
            row(type=f"{prefix} {question.name}", **common)
            choice_rows(question.name, question.choices)
        elif kind == LONG_TEXT:
            row(type="text", appearance="multiline", **common)
        elif kind in (RATING5, RATING10):
            row(type="range", parameters=f"start=1 end={services.RATING_MAX[kind]} step=1", **common)
        elif kind == LIKERT:
            row(type="begin_group", appearance="table-list", **common)
            for statement in question.rows:
                row(type=f"select_one {question.name}", name=f"{question.name}{LIKERT_SEPARATOR}{statement.value}",
                    label=statement.label, label_zh=statement.label_zh, label_en=statement.label_en,
                    required=_yes(question.is_required))
            row(type="end_group", name=question.name)
            choice_rows(question.name, question.choices)
        else:
            row(type=kind, **common)
    if open_section is not None:
        row(type="end_group", name=open_section.name)
    for section in survey.sections:  # sections without questions still round-trip
        if not any(q.section_id == section.id for q in survey.questions):
            row(type="begin_group", name=section.name, label=section.title, label_zh=section.title_zh,
                label_en=section.title_en)
            row(type="end_group", name=section.name)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _append(sheet, values) -> None:
    sheet.append([str(v) for v in values])
    for cell in sheet[sheet.max_row]:
        cell.data_type = "s"  # text stays text: a label starting with = is not a formula


# --- import ------------------------------------------------------------------------------
_CONDITION = re.compile(
    r"\s*(?:selected\(\s*\$\{(?P<sq>\w+)\}\s*,\s*'(?P<sv>[^']*)'\s*\)"
    r"|\$\{(?P<q>\w+)\}\s*(?P<op>!=|=)\s*(?:'(?P<v>[^']*)'|(?P<n>-?\d+(?:\.\d+)?)))\s*")
_JOIN = re.compile(r"(and|or)\b", re.IGNORECASE)


def parse_relevant(text: str) -> tuple[list[dict], str]:
    """``${q} = 'a' and selected(${r}, 'b')`` → (conditions, join). Raises ValueError."""
    text = (text or "").strip()
    if not text:
        return [], "and"
    conditions, joins, position = [], set(), 0
    while True:
        match = _CONDITION.match(text, position)
        if match is None:
            raise ValueError(_("cannot read the relevant expression near “%(text)s”", text=text[position:][:30]))
        if match.group("sq"):
            conditions.append({"question": match.group("sq"), "op": "selected", "value": match.group("sv")})
        else:
            value = match.group("v") if match.group("v") is not None else match.group("n")
            conditions.append({"question": match.group("q"), "op": "not_equals" if match.group("op") == "!=" else
                               "equals", "value": value})
        position = match.end()
        if position >= len(text):
            break
        join = _JOIN.match(text, position)
        if join is None:
            raise ValueError(_("expected “and” or “or” near “%(text)s”", text=text[position:][:30]))
        joins.add(join.group(1).lower())
        position = join.end()
    if len(joins) > 1:
        raise ValueError(_("mixing “and” with “or” is not supported"))
    return conditions, (joins.pop() if joins else "and")


#: How a translated column's language is written after ``label::`` or ``hint::``, besides a code
#: (zh, zh-CN, zh_Hans, en, en-US, ...), alone or in brackets as XLSForm writes it: ``Chinese (zh)``.
LANGUAGE_NAMES = {
    "zh": ("zho", "chi", "chinese", "simplified chinese", "chinese simplified", "mandarin", "中文", "简体中文",
           "简体", "繁体中文", "繁體中文", "汉语", "漢語", "华语", "中文简体", "中文(简体)"),
    "en": ("eng", "english", "英文", "英语", "英語"),
}
_BRACKETED = re.compile(r"^(?P<name>[^(（]*)[(（](?P<code>[^)）]*)[)）]\s*$")


def _language(text: str) -> str | None:
    """"zh" or "en" for the language part of a translated column's header; None for any other language."""
    text = re.sub(r"\s+", " ", text.strip().lower())
    match = _BRACKETED.match(text)
    candidates = [match.group("code"), match.group("name"), text] if match else [text]
    for candidate in (c.strip() for c in candidates):
        for language, names in LANGUAGE_NAMES.items():
            if candidate in names or re.split(r"[-_ ]", candidate)[0] == language:
                return language
    return None


def _header_key(value) -> str:
    """A column's key: the header in lower case, with a translated label or hint column under
    ``label::zh`` / ``label::en`` however the language is spelt (label::中文, label::zh-CN,
    label::Chinese (zh), label::English (en), ...)."""
    key = str(value or "").strip().lower()
    column, sep, language = key.partition("::")
    if sep and column.strip() in ("label", "hint"):
        code = _language(language)
        key = f"{column.strip()}::{code}" if code else f"{column.strip()}::{language.strip()}"
    return key


def _read_sheet(workbook, name: str) -> list[tuple[int, dict]]:
    if name not in workbook.sheetnames:
        return []
    rows = list(workbook[name].iter_rows(values_only=True))
    if not rows:
        return []
    header = [_header_key(v) for v in rows[0]]
    result = []
    for number, values in enumerate(rows[1:], start=2):
        record = {}
        for key, value in zip(header, values, strict=False):
            # Two columns in one language (label::zh-CN and label::中文): the first one filled in counts.
            if key and not record.get(key):
                text = "" if value is None else str(value).strip()
                if isinstance(value, float) and value.is_integer():
                    text = str(int(value))
                record[key] = text
        if any(record.values()):
            result.append((number, record))
    return result


def _flag(text: str) -> bool | None:
    text = (text or "").strip().lower()
    if text in ("", "no", "false", "false()", "0", "否"):
        return False
    if text in ("yes", "true", "true()", "1", "是"):
        return True
    return None


def _question_type(base: str, list_name: str, record: dict, choice_lists: dict, problems: list[str]) -> str | None:
    """Our question type for an XLSForm type; None, with the reason added to ``problems``, when there is none."""
    if base in ("select_one", "select_multiple", "rank"):
        if list_name not in choice_lists:
            problems.append(_("unknown choice list %(list)s", list=list_name or "—"))
        return {"select_one": SINGLE, "select_multiple": MULTIPLE, "rank": RANKING}[base]
    if base == "text":
        return LONG_TEXT if "multiline" in record.get("appearance", "").lower() else TEXT
    if base in SIMPLE_TYPES:
        return SIMPLE_TYPES[base]
    if base == "range":
        parameters = dict(re.findall(r"(\w+)\s*=\s*([-\d.]+)", record.get("parameters", "")))
        span = (parameters.get("start", "1"), parameters.get("end"), parameters.get("step", "1"))
        if span in (("1", "5", "1"), ("1", "10", "1")):
            return RATING5 if span[1] == "5" else RATING10
        problems.append(_("only ranges start=1 end=5 or end=10 step=1 are supported"))
        return None
    problems.append(_("type %(type)s is not supported", type=re.sub(r"\s+", " ", record.get("type", "")).strip() or "—"))
    return None


@dataclass
class _Pending:
    row: int
    kwargs: dict
    section_key: str | None = None
    likert_rows: list = field(default_factory=list)


#: How an Excel 97–2003 (.xls) file begins: an OLE2 compound document.
OLD_EXCEL_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_sheets(data: bytes) -> dict[str, list[tuple[int, dict]]]:
    """The rows of the survey, choices and settings sheets; an XLSFormErrors saying, in plain words,
    why a file that is not a usable workbook cannot be read."""
    def refuse(message: str):
        return XLSFormErrors([RowError(None, None, message)])

    if not data.strip():
        raise refuse(_("The file is empty."))
    if data.startswith(OLD_EXCEL_SIGNATURE):
        raise refuse(_("The file is an old Excel workbook (.xls): open it in Excel or WPS and save it as .xlsx."))
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        if "survey" not in workbook.sheetnames:
            raise refuse(_("The workbook has no sheet named survey."))
        return {name: _read_sheet(workbook, name) for name in ("survey", "choices", "settings")}
    except XLSFormErrors:
        raise
    except Exception:  # whatever openpyxl trips over, the upload is not a workbook it can read, not a crash
        raise refuse(_("The file is not an Excel workbook (.xlsx).")) from None


def import_xlsform(data: bytes, owner, fallback_title: str = "") -> Survey:
    """Create a draft survey from an XLSForm workbook; raise XLSFormErrors listing every problem
    of the file at once."""
    sheets = read_sheets(data)
    errors: list[RowError] = []
    choice_lists: dict[str, list[services.OptionSpec]] = {}
    for number, record in sheets["choices"]:
        list_name, name, label = record.get("list_name", ""), record.get("name", ""), record.get("label", "")
        label = label or record.get("label::zh", "") or record.get("label::en", "")
        if not list_name or not name or not label:
            errors.append(RowError("choices", number, _("list_name, name and label are all needed")))
            continue
        if not services.OPTION_VALUE_PATTERN.match(name):
            errors.append(RowError("choices", number, _("choice name %(name)s may only use letters, digits, _ . and -",
                                                        name=name)))
            continue
        if any(o.value == name for o in choice_lists.get(list_name, [])):
            errors.append(RowError("choices", number, _("choice %(name)s appears twice in list %(list)s",
                                                        name=name, list=list_name)))
            continue
        choice_lists.setdefault(list_name, []).append(services.OptionSpec(
            value=name, label=label, label_zh=record.get("label::zh") or None,
            label_en=record.get("label::en") or None))
    settings = dict(sheets["settings"][0][1]) if sheets["settings"] else {}
    anonymous = _flag(settings.get("anonymous", ""))
    if anonymous is None:
        errors.append(RowError("settings", 2, _("anonymous must be yes or no")))

    sections: list[tuple[int, dict]] = []
    pending: list[_Pending] = []
    # ("section", key, row) or ("likert", _Pending, row): the groups open at this row.
    stack: list[tuple[str, object, int]] = []
    used_names: set[str] = set()
    #: Names of questions whose rows have problems: a condition on them is not checked again later.
    failed_names: set[str] = set()
    for number, record in sheets["survey"]:
        # Every problem of the row is listed, and the row still opens or closes its group and claims its
        # name, so that the rest of the file is checked as it will be once the row is fixed.
        problems: list[str] = []
        type_text = re.sub(r"\s+", " ", record.get("type", "")).strip()
        base, _sep, list_name = type_text.partition(" ")
        base = base.lower()
        name = record.get("name", "")
        label = record.get("label", "") or record.get("label::zh", "") or record.get("label::en", "")
        required = _flag(record.get("required", ""))
        if required is None:
            problems.append(_("required must be yes or no"))
        try:
            conditions, join = parse_relevant(record.get("relevant", ""))
        except ValueError as error:
            problems.append(str(error))
            conditions, join = [], "and"
        later = [rule["question"] for rule in conditions if rule["question"] not in used_names]
        if later:
            problems.append(_("a condition can only refer to an earlier question, not %(name)s", name=later[0]))
        common = dict(name=name, label=label, label_zh=record.get("label::zh") or None,
                      label_en=record.get("label::en") or None, hint=record.get("hint", ""),
                      is_required=bool(required), conditions=conditions, condition_join=join)
        section_key = next((key for kind, key, _row in reversed(stack) if kind == "section"), None)
        if base == "end_group":
            if stack:
                stack.pop()
            else:
                problems.append(_("end_group without a matching begin_group"))
        elif stack and stack[-1][0] == "likert":
            parent: _Pending = stack[-1][1]
            prefix = parent.kwargs["name"] + LIKERT_SEPARATOR
            options = choice_lists.get(list_name)
            if base != "select_one" or not name.startswith(prefix):
                problems.append(_("a table-list group may only hold select_one rows named %(prefix)s…",
                                  prefix=prefix))
            elif options is None:
                problems.append(_("unknown choice list %(list)s", list=list_name))
            elif parent.kwargs.get("options") is None:
                parent.kwargs["options"] = options
            elif [o.value for o in parent.kwargs["options"]] != [o.value for o in options]:
                problems.append(_("all statements of a matrix must use the same list"))
            if not problems:
                parent.likert_rows.append(services.OptionSpec(value=name[len(prefix):], label=label,
                                                              label_zh=common["label_zh"],
                                                              label_en=common["label_en"]))
        else:
            is_section = base == "begin_group" and "table-list" not in record.get("appearance", "").lower()
            if not name or not services.NAME_PATTERN.match(name):
                problems.append(_("a name starts with a letter and uses only letters, digits and _"))
            elif not is_section and name in used_names:
                problems.append(_("the name %(name)s is used twice", name=name))
            elif not is_section:
                used_names.add(name)
            if is_section:
                nested = any(kind == "section" for kind, _key, _row in stack)
                if nested:
                    problems.append(_("groups inside groups are not supported"))
                if not label:
                    problems.append(_("a group needs a label"))
                stack.append(("section", None if nested else name, number))
                if not problems:
                    sections.append((number, dict(name=name, title=label, title_zh=common["label_zh"],
                                                  title_en=common["label_en"])))
            elif base == "begin_group":  # a table-list group is a Likert matrix
                item = _Pending(row=number, kwargs=dict(common, type=LIKERT), section_key=section_key)
                stack.append(("likert", item, number))
                if not problems:
                    pending.append(item)
            else:
                kwargs = dict(common, type=_question_type(base, list_name, record, choice_lists, problems))
                if not label:
                    problems.append(_("a question needs a label"))
                if base in ("select_one", "select_multiple", "rank") and list_name in choice_lists:
                    kwargs["options"] = choice_lists[list_name]
                if not problems:
                    pending.append(_Pending(row=number, kwargs=kwargs, section_key=section_key))
        errors.extend(RowError("survey", number, problem) for problem in problems)
        if problems and name:
            failed_names.add(name)
    for kind, _item, number in stack:
        errors.append(RowError("survey", number, _("a begin_group is never closed")))

    # The survey is built even when rows were refused, in a savepoint undone at the end: the checks made
    # while saving questions are reported with the rest.
    savepoint = db.session.begin_nested()
    try:
        survey = services.create_survey(settings.get("form_title") or fallback_title or _("Imported survey"), owner,
                                        description=settings.get("description", ""), is_anonymous=bool(anonymous))
        section_by_name = {}
        for number, section in sections:
            try:
                section_by_name[section["name"]] = services.add_section(survey, section["title"], section["title_zh"],
                                                                        section["title_en"], name=section["name"])
            except ServiceError as error:
                errors.append(RowError("survey", number, error.message))
        for item in pending:
            kwargs = {k: v for k, v in item.kwargs.items() if k != "options"}
            kwargs["conditions"] = [rule for rule in kwargs["conditions"] if rule["question"] not in failed_names]
            try:
                services.save_question(survey, section=section_by_name.get(item.section_key),
                                       rows=item.likert_rows, options=item.kwargs.get("options") or [], **kwargs)
            except ServiceError as error:
                errors.append(RowError("survey", item.row, error.message))
                failed_names.add(item.kwargs["name"])
        if errors:
            raise XLSFormErrors(errors)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return survey


def definition(survey: Survey) -> dict:
    """A survey's definition as plain data (what an export → import round trip must keep)."""
    sections = {s.id: s.name for s in survey.sections}
    return {
        "title": survey.title, "description": survey.description or "", "is_anonymous": survey.is_anonymous,
        "sections": [(s.name, s.title, s.title_zh, s.title_en) for s in survey.sections],
        "questions": [
            (q.name, q.type, q.label, q.label_zh, q.label_en, q.hint or "", q.is_required, sections.get(q.section_id),
             q.conditions or [], q.condition_join if q.conditions else "and",
             [(o.is_row, o.value, o.label, o.label_zh, o.label_en) for o in q.options])
            for q in survey.questions],
    }
