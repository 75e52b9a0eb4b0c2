"""Requirements capture: survey definitions, skip logic, answers, invitations, results,
recurring surveys, interviews, the requirements backlog and the coverage matrix."""
from __future__ import annotations

import calendar
import html
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import NamedTuple

from flask import g, has_request_context, url_for
from babel.lists import format_list
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import case, exists, func, or_, select, true, update
from sqlalchemy.orm import contains_eager

from rollout.access import can, home_department_id, subtree_ids
from rollout.accounts.forms import ROLE_LABELS
from rollout.accounts.models import HEAD, STAFF, Department, User, UserRole
from rollout.audit.models import AuditEntry
from rollout.audit.services import record_event
from rollout.cleaning import character_pairs, pair_similarity
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.notify.services import notify
from rollout.timeutil import local_to_utc, local_today, to_local, utcnow
from surveys import signals
from surveys.models import (ACCEPTED, CHOICE_TYPES, CLOSED, DATE, DECIMAL, DRAFT, IMPLEMENTED, INTEGER, LIKERT,
                            LONG_TEXT, MERGED, MULTIPLE, NOTE, OPEN, PRIORITIES, PROPOSED, QUESTION_TYPES,
                            RANKING, RATING5, RATING10, REJECTED, REQUIREMENT_STATUS_LABELS, SINGLE,
                            SURVEY_STATUS_LABELS, TEXT, Highlight, HighlightTag,
                            Interview, INTERVIEW_METHODS, InterviewInterviewee, Question, QuestionOption, Requirement,
                            RequirementEvidence, Survey, SurveyAnswer, SurveyInvitation, SurveyResponse,
                            SurveySection, requirement_departments, requirement_nodes)

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
OPTION_VALUE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CONDITION_OPS = ("equals", "not_equals", "selected")
#: Business roles whose voice the coverage matrix looks for.
COVERAGE_ROLES = (HEAD, STAFF)
TEXT_LIMITS = {TEXT: 1000, LONG_TEXT: 10000}
RATING_MAX = {RATING5: 5, RATING10: 10}
#: Numbers beyond this are typing accidents (and would lose precision as JSON numbers).
NUMBER_LIMIT = 10 ** 12


def localized(obj, attribute: str = "label") -> str:
    """The Chinese or English variant of a label for the current language, else the default."""
    language = "en"
    if has_request_context():
        locale = get_locale()
        language = "zh" if locale is not None and locale.language == "zh" else "en"
    return getattr(obj, f"{attribute}_{language}", None) or getattr(obj, attribute)


def business_role(user) -> str | None:
    """The role a person speaks for in coverage: head before staff; None for project roles only."""
    roles = user.roles
    for role in COVERAGE_ROLES:
        if role in roles:
            return role
    return None


# --- survey definitions ------------------------------------------------------------
SURVEY_TRANSITIONS = {DRAFT: {OPEN}, OPEN: {CLOSED}, CLOSED: {OPEN}}
#: Shown at the closing-date field when that day has passed.
PAST_CLOSING_DAY = _l("This day has passed: choose today or a later day, or leave it empty.")


def closing_day_passed(survey: Survey, today: date | None = None) -> bool:
    """Whether the survey's closing date lies before ``today``: it then takes no answers."""
    return survey.closes_on is not None and survey.closes_on < (today or local_today())


def check_closing_day(survey: Survey, today: date | None = None) -> None:
    """Refuse to send people to a survey past its closing date (opening, inviting, reminding)."""
    if closing_day_passed(survey, today):
        raise ServiceError(_("The closing date %(day)s has passed, so nobody could answer: set a new closing "
                             "date first.", day=survey.closes_on.isoformat()), "closes_on")


def create_survey(title: str, owner: User | None, *, description: str = "", department: Department | None = None,
                  is_anonymous: bool = False, opens_on: date | None = None, closes_on: date | None = None,
                  audience_departments=(), audience_roles=(), recurrence: str | None = None) -> Survey:
    """A new draft survey."""
    survey = Survey(owner=owner, status=DRAFT, version=1)
    db.session.add(survey)
    update_survey(survey, title=title, description=description, department=department,
                  is_anonymous=is_anonymous, opens_on=opens_on, closes_on=closes_on,
                  audience_departments=audience_departments, audience_roles=audience_roles, recurrence=recurrence)
    if recurrence:
        survey.occurrence_on = opens_on or local_today()
    db.session.flush()
    if recurrence:
        survey.series_id = survey.id
    return survey


def update_survey(survey: Survey, *, title: str, description: str = "", department: Department | None = None,
                  is_anonymous: bool = False, opens_on: date | None = None, closes_on: date | None = None,
                  audience_departments=(), audience_roles=(), recurrence: str | None = None) -> Survey:
    """Change a survey's settings; anonymity is fixed once anyone has answered."""
    title = (title or "").strip()
    if not title:
        raise ServiceError(_("A title is required."), "title")
    if opens_on and closes_on and closes_on < opens_on:
        raise ServiceError(_("The survey cannot close before it opens."), "closes_on")
    # A closed survey may record the day it really closed; any other survey would take no answers.
    if closes_on != survey.closes_on and survey.status != CLOSED and closes_on and closes_on < local_today():
        raise ServiceError(PAST_CLOSING_DAY, "closes_on")
    if survey.id is not None and bool(is_anonymous) != bool(survey.is_anonymous) and has_responses(survey):
        raise ServiceError(_("Anonymity cannot change once people have answered; make a new version."),
                           "is_anonymous")
    unknown_roles = set(audience_roles) - {"admin", "lead", "trainer", HEAD, STAFF}
    if unknown_roles:
        raise ServiceError(_("Unknown role."), "audience_roles")
    if recurrence not in (None, "", "monthly"):
        raise ServiceError(_("Unknown schedule."), "recurrence")
    survey.title = title[:200]
    survey.description = description or ""
    survey.department = department
    survey.is_anonymous = bool(is_anonymous)
    survey.opens_on, survey.closes_on = opens_on, closes_on
    survey.audience_departments = list(audience_departments)
    survey.audience_roles = sorted(set(audience_roles))
    survey.recurrence = recurrence or None
    if survey.recurrence and survey.id is not None and survey.series_id is None:
        survey.series_id = survey.id
        survey.occurrence_on = survey.occurrence_on or opens_on or local_today()
    return survey


def has_responses(survey: Survey) -> bool:
    return bool(db.session.scalar(select(exists().where(SurveyResponse.survey_id == survey.id))))


def change_survey_status(survey: Survey, status: str, today: date | None = None,
                         actor: User | None = None) -> Survey:
    """Open, close or reopen a survey, refusing moves outside SURVEY_TRANSITIONS and opening one
    past its closing date.  On closing, its managers other than ``actor`` are told how it went."""
    if status not in SURVEY_TRANSITIONS.get(survey.status, set()):
        raise NotAllowed(_("A survey cannot go from %(old)s to %(new)s.", old=SURVEY_STATUS_LABELS[survey.status],
                           new=SURVEY_STATUS_LABELS.get(status, status)))
    if status == OPEN and not any(q.type != NOTE for q in survey.questions):
        raise ServiceError(_("Add at least one question before opening the survey."))
    if status == OPEN:
        check_closing_day(survey, today)
    survey.status = status
    record_event("survey.status", entity="surveys", entity_id=survey.id, detail=status)
    if status == CLOSED:
        tell_closed(survey, actor, today)
    return survey


def add_section(survey: Survey, title: str, title_zh: str | None = None, title_en: str | None = None,
                name: str | None = None) -> SurveySection:
    """Append a section; later questions can be placed in it."""
    title = (title or "").strip()
    if not title:
        raise ServiceError(_("A title is required."), "title")
    names = {s.name for s in survey.sections}
    name = name or f"section_{len(survey.sections) + 1}"
    while name in names:
        name += "_"
    section = SurveySection(name=name, title=title[:200], title_zh=title_zh or None, title_en=title_en or None,
                            position=len(survey.sections))
    survey.sections.append(section)
    db.session.flush()
    return section


@dataclass
class OptionSpec:
    value: str
    label: str
    label_zh: str | None = None
    label_en: str | None = None


def parse_option_lines(text: str) -> list[OptionSpec]:
    """Options typed one per line as ``value | label | 中文 | English`` (only the label is needed)."""
    options = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 1:
            options.append(OptionSpec(value=str(len(options) + 1), label=parts[0]))
        else:
            parts += [""] * (4 - len(parts))
            options.append(OptionSpec(value=parts[0], label=parts[1] or parts[0], label_zh=parts[2] or None,
                                      label_en=parts[3] or None))
    return options


def option_lines(options) -> str:
    return "\n".join(" | ".join([o.value, o.label, o.label_zh or "", o.label_en or ""]).rstrip(" |")
                     for o in options)


def _check_options(question_type: str, choices: list[OptionSpec], rows: list[OptionSpec]) -> None:
    if question_type in CHOICE_TYPES and len(choices) < 2:
        raise ServiceError(_("This question type needs at least two options."), "options")
    if question_type == LIKERT and not rows:
        raise ServiceError(_("A Likert matrix needs at least one statement."), "rows")
    for field_name, specs in (("options", choices), ("rows", rows)):
        values = [o.value for o in specs]
        if len(values) != len(set(values)):
            raise ServiceError(_("Option value %(value)s is used twice; values must be unique.",
                                 value=next(v for v in values if values.count(v) > 1)), field_name)
        for spec in specs:
            if not OPTION_VALUE_PATTERN.match(spec.value):
                raise ServiceError(_("Option value %(value)s may only use letters, digits, _ . and -.",
                                     value=spec.value), field_name)
            if not spec.label.strip():
                raise ServiceError(_("Every option needs a label."), field_name)
        duplicate = _repeated_wording(specs)
        if duplicate:
            # Two options worded alike cannot be told apart by the person answering, nor in the results.
            message = (_("The statement “%(label)s” is listed twice.", label=duplicate) if field_name == "rows"
                       else _("The option “%(label)s” is listed twice.", label=duplicate))
            raise ServiceError(message, field_name)


def _repeated_wording(specs: list[OptionSpec]) -> str | None:
    """The first wording (in any language, ignoring case) that two of ``specs`` share."""
    for attribute in ("label", "label_zh", "label_en"):
        seen = set()
        for spec in specs:
            wording = (getattr(spec, attribute) or "").strip()
            if wording and wording.casefold() in seen:
                return wording
            seen.add(wording.casefold())
    return None


def check_conditions(survey: Survey, position: int, conditions: list[dict], join: str) -> list[dict]:
    """Validate skip-logic rules: each refers to an earlier question and a value it can have.

    A rule gives its value typed (``value``: an option's value or wording, a number, a date, a text)
    or picked from a list of options (``option``: "question:value"). Returns the rules as stored,
    with option values rather than wordings.
    """
    if join not in ("and", "or"):
        raise ServiceError(_("Conditions are joined with AND or OR."), "condition_join")
    earlier = {q.name: q for q in survey.questions if q.position < position}
    cleaned = []
    for rule in conditions:
        name, op = (rule.get("question") or "").strip(), rule.get("op", "equals")
        typed = str(rule.get("value") or "").strip()
        picked_from, _sep, picked = str(rule.get("option") or "").partition(":")
        name = name or picked_from
        if not name:
            raise ServiceError(_("Choose the question a condition looks at."), "conditions")
        if name not in earlier:
            if any(q.name == name for q in survey.questions):
                raise ServiceError(_("A condition can only refer to an earlier question (%(name)s comes later).",
                                     name=name), "conditions")
            raise ServiceError(_("A condition refers to an unknown question %(name)s.", name=name), "conditions")
        target = earlier[name]
        if target.type in (NOTE, LIKERT, RANKING):
            raise ServiceError(_("Conditions cannot refer to question %(name)s of this type.", name=name),
                               "conditions")
        if op not in CONDITION_OPS:
            raise ServiceError(_("Unknown condition operator %(op)s.", op=op), "conditions")
        if op == "selected" and target.type not in (SINGLE, MULTIPLE):
            raise ServiceError(_("“selected” only applies to choice questions."), "conditions")
        if picked_from and picked_from != name:
            raise ServiceError(_("The answer picked belongs to question %(other)s, not to %(name)s.",
                                 other=picked_from, name=name), "conditions")
        if picked and typed:
            raise ServiceError(_("Pick an answer from the list or type one, not both."), "conditions")
        value = picked or typed
        if not value:
            raise ServiceError(_("A condition needs a value."), "conditions")
        cleaned.append({"question": name, "op": op, "value": condition_value(target, value)})
    return cleaned


def _wordings(option: QuestionOption) -> set[str]:
    """An option's wordings in every language, compared without case."""
    return {label.strip().casefold() for label in (option.label, option.label_zh, option.label_en) if label}


def condition_value(target: Question, text: str) -> str:
    """The stored form of a value a condition compares ``target``'s answer with, or a ServiceError
    saying why the question can never give that answer."""
    if target.type in (SINGLE, MULTIPLE):
        for option in target.choices:
            if option.value == text:
                return option.value
        for option in target.choices:
            if text.casefold() in _wordings(option):
                return option.value
        raise ServiceError(_("Question %(name)s has no option %(value)s. Its options: %(options)s.",
                             name=target.name, value=text,
                             options=" · ".join(localized(o) for o in target.choices)), "conditions")
    if target.type in (TEXT, LONG_TEXT):
        return text
    try:
        value = clean_value(target, text)
    except ServiceError as error:
        raise ServiceError(_("Question %(name)s never gives the answer “%(value)s”: %(reason)s",
                             name=target.name, value=text, reason=error.message), "conditions") from None
    if isinstance(value, float):  # 1.50 and 1,500.0 are stored as people write them: 1.5, 1500
        return format(Decimal(str(value)).normalize(), "f")
    return str(value)


def save_question(survey: Survey, question: Question | None = None, *, name: str, type: str, label: str,
                  label_zh: str | None = None, label_en: str | None = None, hint: str = "",
                  is_required: bool = False, section: SurveySection | None = None,
                  options: list[OptionSpec] = (), rows: list[OptionSpec] = (), conditions: list[dict] = (),
                  condition_join: str = "and") -> Question:
    """Create or change a question. Once the survey has answers, questions keep their type,
    name and options (a new version is needed for that)."""
    name = (name or "").strip()
    if not NAME_PATTERN.match(name):
        raise ServiceError(_("A name starts with a letter and uses only letters, digits and _."), "name")
    if type not in QUESTION_TYPES:
        raise ServiceError(_("Unknown question type."), "type")
    if not (label or "").strip():
        raise ServiceError(_("A label is required."), "label")
    if any(q.name == name and q is not question for q in survey.questions):
        raise ServiceError(_("Another question is already named %(name)s.", name=name), "name")
    if section is not None and section.survey_id != survey.id:
        raise ServiceError(_("Unknown section."), "section_id")
    choices = list(options) if type in CHOICE_TYPES else []
    statement_rows = list(rows) if type == LIKERT else []
    _check_options(type, choices, statement_rows)
    answered = question is not None and has_responses(survey)
    if answered:
        if type != question.type:
            raise ServiceError(_("The survey has answers: a question's type cannot change. Make a new version."),
                               "type")
        if name != question.name:
            raise ServiceError(_("The survey has answers: a question's name cannot change. Make a new version."),
                               "name")
        kept = {(o.is_row, o.value) for o in question.options}
        given = {(False, o.value) for o in choices} | {(True, o.value) for o in statement_rows}
        if kept - given:
            raise ServiceError(_("The survey has answers: options cannot be removed. Make a new version."),
                               "options")
    if question is not None and name != question.name and _referring_questions(survey, question):
        raise ServiceError(_("Later questions refer to this name in their conditions."), "name")
    position = question.position if question is not None else (max((q.position for q in survey.questions),
                                                                    default=-1) + 1)
    cleaned_conditions = check_conditions(survey, position, list(conditions), condition_join)
    if question is None:
        question = Question(position=position)
        survey.questions.append(question)
    question.name, question.type = name, type
    question.label, question.label_zh, question.label_en = label.strip(), label_zh or None, label_en or None
    question.hint = hint or ""
    question.is_required = bool(is_required) and type != NOTE
    question.section = section
    question.conditions, question.condition_join = cleaned_conditions, condition_join
    _replace_options(question, choices, statement_rows)
    db.session.flush()
    return question


def _replace_options(question: Question, choices: list[OptionSpec], rows: list[OptionSpec]) -> None:
    existing = {(o.is_row, o.value): o for o in question.options}
    wanted = []
    for is_row, specs in ((False, choices), (True, rows)):
        for position, spec in enumerate(specs):
            option = existing.get((is_row, spec.value)) or QuestionOption(is_row=is_row, value=spec.value)
            option.position, option.label = position, spec.label.strip()[:300]
            option.label_zh, option.label_en = spec.label_zh or None, spec.label_en or None
            wanted.append(option)
    question.options = wanted


def _referring_questions(survey: Survey, question: Question) -> list[Question]:
    return [q for q in survey.questions if any(r.get("question") == question.name for r in (q.conditions or []))]


def delete_question(question: Question) -> None:
    """Remove a question that nothing depends on, from a survey without answers."""
    survey = question.survey
    if has_responses(survey):
        raise ServiceError(_("The survey has answers: questions cannot be removed. Make a new version."))
    if _referring_questions(survey, question):
        raise ServiceError(_("Later questions refer to this one in their conditions."))
    survey.questions.remove(question)
    db.session.flush()


def clone_survey(survey: Survey, **overrides) -> Survey:
    """A copy of a survey's definition and audience (used for new versions and occurrences)."""
    copy = Survey(title=survey.title, description=survey.description, status=DRAFT,
                  is_anonymous=survey.is_anonymous, opens_on=survey.opens_on, closes_on=survey.closes_on,
                  department_id=survey.department_id, owner_id=survey.owner_id,
                  audience_roles=list(survey.audience_roles or []), version=survey.version,
                  recurrence=survey.recurrence, series_id=survey.series_id, occurrence_on=survey.occurrence_on)
    copy.audience_departments = list(survey.audience_departments)
    for key, value in overrides.items():
        setattr(copy, key, value)
    sections = {}
    for section in survey.sections:
        sections[section.id] = SurveySection(name=section.name, title=section.title, title_zh=section.title_zh,
                                             title_en=section.title_en, position=section.position)
        copy.sections.append(sections[section.id])
    for question in survey.questions:
        new = Question(name=question.name, type=question.type, label=question.label, label_zh=question.label_zh,
                       label_en=question.label_en, hint=question.hint, is_required=question.is_required,
                       position=question.position, conditions=list(question.conditions or []),
                       condition_join=question.condition_join, section=sections.get(question.section_id))
        new.options = [QuestionOption(is_row=o.is_row, value=o.value, label=o.label, label_zh=o.label_zh,
                                      label_en=o.label_en, position=o.position) for o in question.options]
        copy.questions.append(new)
    db.session.add(copy)
    db.session.flush()
    return copy


def new_version(survey: Survey, owner: User | None = None) -> Survey:
    """A draft copy with the next version number, free to change questions and types. A closing
    date that has passed is left out: the copy could not be opened with it."""
    return clone_survey(survey, version=survey.version + 1, previous_version_id=survey.id,
                        owner_id=owner.id if owner else survey.owner_id, recurrence=None, series_id=None,
                        occurrence_on=None, closes_on=None if closing_day_passed(survey) else survey.closes_on)


# --- skip logic -------------------------------------------------------------------------
def _same(answer, expected: str) -> bool:
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        try:
            return Decimal(str(answer)) == Decimal(expected)
        except InvalidOperation:
            return False
    if isinstance(answer, list):
        return answer == [expected]
    return answer is not None and str(answer) == expected


def rule_holds(rule: dict, answer) -> bool:
    if rule["op"] == "selected":
        return expected_in(answer, rule["value"])
    if rule["op"] == "not_equals":
        return not _same(answer, rule["value"])
    return _same(answer, rule["value"])


def expected_in(answer, value: str) -> bool:
    if isinstance(answer, list):
        return value in answer
    return answer is not None and str(answer) == value


def is_visible(question: Question, values: dict) -> bool:
    """Whether ``question`` is shown given the answers so far (by question name)."""
    rules = question.conditions or []
    if not rules:
        return True
    results = [rule_holds(rule, values.get(rule["question"])) for rule in rules]
    return all(results) if question.condition_join == "and" else any(results)


# --- answers ---------------------------------------------------------------------------------
def _blank(raw) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, (list, dict)):
        return not any(not _blank(v) for v in (raw.values() if isinstance(raw, dict) else raw))
    return False


#: A number as people type it: digits, or digits in thousands grouped by commas (1,500 · 12,345,678),
#: then an optional fraction after a point.
NUMBER_TEXT = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?")


def parse_number(raw) -> Decimal | None:
    """A typed number, or None when the text is not one. A comma only groups thousands: "1,5" is
    neither 15 nor 1.5 but a question back to the person."""
    text = str(raw).strip()
    if not NUMBER_TEXT.fullmatch(text):
        return None
    return Decimal(text.replace(",", ""))


def clean_value(question: Question, raw):
    """Check one raw answer against its question's type; return the stored value or raise ServiceError."""
    kind = question.type
    choice_values = [o.value for o in question.choices]
    if kind == SINGLE:
        if str(raw) not in choice_values:
            raise ServiceError(_("Choose one of the options."))
        return str(raw)
    if kind == MULTIPLE:
        picked = [str(v) for v in (raw if isinstance(raw, list) else [raw]) if not _blank(v)]
        if any(v not in choice_values for v in picked) or len(picked) != len(set(picked)):
            raise ServiceError(_("Choose among the options."))
        return [v for v in choice_values if v in picked]
    if kind in (TEXT, LONG_TEXT):
        text = str(raw).strip()
        if len(text) > TEXT_LIMITS[kind]:
            raise ServiceError(_("At most %(count)d characters.", count=TEXT_LIMITS[kind]))
        return text
    if kind in (INTEGER, DECIMAL):
        # Whole numbers take digits only, as the answer form's script reads them for skip logic.
        if kind == INTEGER and not re.fullmatch(r"[+-]?\d+", str(raw).strip()):
            raise ServiceError(_("Enter a whole number."))
        number = parse_number(raw)
        if number is None:
            if "," in str(raw):
                raise ServiceError(_("Enter a number, with “.” as the decimal point (1.5); a comma only "
                                     "separates thousands (1,500)."))
            raise ServiceError(_("Enter a number."))
        if abs(number) > NUMBER_LIMIT:
            raise ServiceError(_("Enter a smaller number."))
        return int(number) if kind == INTEGER else float(number)
    if kind == DATE:
        try:
            return date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError:
            raise ServiceError(_("Enter a date as YYYY-MM-DD.")) from None
    if kind in RATING_MAX:
        try:
            rating = int(str(raw).strip())
        except ValueError:
            rating = 0
        if not 1 <= rating <= RATING_MAX[kind]:
            raise ServiceError(_("Choose a rating from 1 to %(max)d.", max=RATING_MAX[kind]))
        return rating
    if kind == LIKERT:
        given = raw if isinstance(raw, dict) else {}
        rows = [o.value for o in question.rows]
        if set(given) - set(rows):
            raise ServiceError(_("Unknown statement."))
        result = {}
        for row in rows:
            value = given.get(row)
            if _blank(value):
                continue
            if str(value) not in choice_values:
                raise ServiceError(_("Choose one of the options."))
            result[row] = str(value)
        return result
    if kind == RANKING:
        order = [str(v) for v in (raw if isinstance(raw, list) else []) if not _blank(v)]
        if sorted(order) != sorted(choice_values):
            raise ServiceError(_("Give every option a different rank."))
        return order
    raise ServiceError(_("This question takes no answer."))


def _complete(question: Question, value) -> bool:
    if question.type == LIKERT:
        return len(value or {}) == len(question.rows)
    return not _blank(value)


def clean_answers(survey: Survey, raw: dict, check_required: bool = True) -> tuple[dict, dict]:
    """Validate raw answers (by question name) in order; skip hidden questions.

    Returns (values by name, errors by name). Answers to questions hidden by
    skip logic are dropped, and hidden questions are never required.
    """
    values, errors = {}, {}
    for question in survey.questions:
        if question.type == NOTE or not is_visible(question, values):
            continue
        given = raw.get(question.name)
        if _blank(given):
            if check_required and question.is_required:
                errors[question.name] = _("This question is required.")
            continue
        try:
            value = clean_value(question, given)
        except ServiceError as error:
            errors[question.name] = error.message
            continue
        if check_required and question.is_required and not _complete(question, value):
            errors[question.name] = _("This question is required.")
            continue
        values[question.name] = value
    return values, errors


class AnswerErrors(ServiceError):
    """Answers that fail their questions' rules, by question name."""

    def __init__(self, errors: dict):
        super().__init__(_("Some answers need attention."))
        self.errors = errors


# --- invitations and responses --------------------------------------------------------------
def respond_link(token: str) -> str:
    if has_request_context():
        return url_for("surveys.respond", token=token)
    return f"/surveys/respond/{token}"


def audience_users(survey: Survey) -> list[User]:
    """Active users in the survey's target departments (and their teams) with a target role."""
    department_ids: set[int] = set()
    for department in survey.audience_departments:
        department_ids |= subtree_ids(department.id)
    query = select(User).where(User.is_active_account.is_(True))
    if department_ids:
        query = query.where(User.department_id.in_(sorted(department_ids)))
    else:
        query = query.where(User.department_id.is_not(None))
    users = db.session.scalars(query.options(db.subqueryload(User.role_rows)).order_by(User.id)).all()
    wanted_roles = set(survey.audience_roles or [])
    return [u for u in users if not wanted_roles or u.roles & wanted_roles]


def invite(survey: Survey, users, send: bool = True, today: date | None = None) -> list[SurveyInvitation]:
    """Give each user not yet invited a personal link and tell them about it."""
    if survey.status == CLOSED:
        raise ServiceError(_("The survey is closed."))
    today = today or local_today()
    check_closing_day(survey, today)
    already = set(db.session.scalars(select(SurveyInvitation.user_id).where(
        SurveyInvitation.survey_id == survey.id)))
    created = []
    for user in users:
        if user.id in already:
            continue
        already.add(user.id)
        created.append(SurveyInvitation(survey=survey, user=user, invited_on=today,
                                        department_id=home_department_id(user.department_id),
                                        role=business_role(user)))
    db.session.add_all(created)
    db.session.flush()
    if send and survey.status == OPEN:
        for invitation in created:
            _send_invitation(invitation, "survey.invited",
                             _l("Please answer the survey “%(title)s”", title=survey.title))
    record_event("survey.invite", entity="surveys", entity_id=survey.id, detail=f"invited={len(created)}")
    return created


def _send_invitation(invitation: SurveyInvitation, event: str, subject) -> None:
    """Notify the invited person; ``subject`` is a lazy translation, written in their language."""
    notify([invitation.user], event, subject, partial(_invitation_body, invitation.survey),
           link=respond_link(invitation.token))


def _invitation_body(survey: Survey) -> str:
    body = survey.description or ""
    if survey.opens_on and survey.opens_on > local_today():
        # Invited ahead of the opening day: the link answers from then on, not now.
        body += "\n\n" + (_("Open from %(start)s to %(end)s.", start=survey.opens_on.isoformat(),
                               end=survey.closes_on.isoformat()) if survey.closes_on else
                             _("Open from %(start)s.", start=survey.opens_on.isoformat()))
    elif survey.closes_on:
        body += "\n\n" + _("Open until %(day)s.", day=survey.closes_on.isoformat())
    if survey.is_anonymous:
        body += "\n\n" + _("This survey is anonymous: your name is not stored with your answers.")
    return body.strip()


def invite_audience(survey: Survey, today: date | None = None) -> list[SurveyInvitation]:
    return invite(survey, audience_users(survey), today=today)


def publish(survey: Survey) -> int:
    """Open a draft survey and tell people: everyone invited while it was a draft, or, when nobody was
    invited and it names an audience (departments or roles), that audience.  Returns how many were told."""
    change_survey_status(survey, OPEN)
    sent = send_pending_invitations(survey)
    invited_before = db.session.scalar(select(exists().where(SurveyInvitation.survey_id == survey.id)))
    if not invited_before and (survey.audience_departments or survey.audience_roles):
        sent = len(invite_audience(survey))
    return sent


def send_pending_invitations(survey: Survey) -> int:
    """On opening a survey: notify everyone invited while it was a draft."""
    invitations = db.session.scalars(select(SurveyInvitation).where(
        SurveyInvitation.survey_id == survey.id, SurveyInvitation.has_responded.is_(False))).all()
    for invitation in invitations:
        _send_invitation(invitation, "survey.invited", _l("Please answer the survey “%(title)s”", title=survey.title))
    return len(invitations)


def _waiting(survey_ids) -> list[SurveyInvitation]:
    """Invitations to these surveys that wait for an answer from an active account (a deactivated one
    is not reminded of anything)."""
    return db.session.scalars(
        select(SurveyInvitation).join(User, User.id == SurveyInvitation.user_id)
        .where(SurveyInvitation.survey_id.in_(list(survey_ids)), SurveyInvitation.has_responded.is_(False),
               User.is_active_account.is_(True))
        .options(contains_eager(SurveyInvitation.user)).order_by(SurveyInvitation.id)).all()


def remind(survey: Survey) -> int:
    """Remind every invitee who has not answered yet, at most once a day (nor on the day they were
    invited); return how many were reminded."""
    if survey.status != OPEN:
        raise ServiceError(_("Only an open survey can send reminders."))
    check_closing_day(survey)
    today = local_today()
    waiting = _waiting([survey.id])
    pending = [i for i in waiting if i.invited_on < today and (i.last_reminded_on is None or i.last_reminded_on < today)]
    if waiting and not pending:
        raise ServiceError(_("Everyone who has not answered was invited or reminded today: remind them again "
                             "tomorrow."))
    for invitation in pending:
        invitation.reminder_count += 1
        invitation.last_reminded_on = today
        _send_invitation(invitation, "survey.reminder", _l("Reminder: the survey “%(title)s” waits for you",
                                                           title=survey.title))
    record_event("survey.remind", entity="surveys", entity_id=survey.id, detail=f"reminded={len(pending)}")
    return len(pending)


# --- automatic reminders and closing notices (`rollout surveys run-schedules`, daily) ---------------
#: Automatic reminders go out this many days before the closing date: 3 days before, and on the closing day.
AUTO_REMINDER_DAYS_BEFORE = (3, 0)
AUTO_REMINDER_LABELS = {3: _l("3 days before closing"), 0: _l("on the closing day")}
#: Whoever was invited or reminded (by hand or automatically) on a reminder day or the day before is not
#: reminded again that day: the reminders do not double up.
QUIET_DAYS = 1
#: A survey whose closing date passed longer ago than this is not announced any more (say, when the
#: daily job first runs on an old database): its news is stale.
CLOSING_NOTICE_DAYS = 7


def automatic_reminder_days(survey: Survey) -> list[tuple[date, object]]:
    """The days automatic reminders go to those who have not answered, with words for each; none without
    a closing date, and none before the survey opens."""
    if survey.closes_on is None:
        return []
    days = [(survey.closes_on - timedelta(days=before), AUTO_REMINDER_LABELS[before])
            for before in AUTO_REMINDER_DAYS_BEFORE]
    return [(day, label) for day, label in days if survey.opens_on is None or day >= survey.opens_on]


def _reminder_day(survey: Survey, today: date) -> date | None:
    """The latest automatic reminder day on or before ``today`` (a missed day is made up for until the
    next one), or None."""
    passed = [day for day, _label in automatic_reminder_days(survey) if day <= today]
    return max(passed) if passed else None


def _out_of_quiet(invitation: SurveyInvitation, due: date) -> bool:
    """Was the invitee last invited or reminded before the day before ``due`` (QUIET_DAYS), so that the
    reminder of ``due`` goes to them?"""
    last_told = max(filter(None, (invitation.invited_on, invitation.last_reminded_on)))
    return last_told < due - timedelta(days=QUIET_DAYS)


@dataclass
class ReminderDay:
    """One automatic reminder day of a survey, and what became of it (reminder_schedule)."""
    day: date
    label: object
    #: "sent" (``count`` people reminded, on ``sent_on``), "missed" (a past day nobody was reminded),
    #: "due" (the daily job reminds ``count`` people today), "quiet" (today: the ``count`` people waiting
    #: were all invited or reminded that day or the day before), "everyone_answered" (today: nobody waits),
    #: "not_open" (today: the survey takes no answers, so no reminder) or "coming".
    state: str
    count: int = 0
    sent_on: date | None = None


def reminder_schedule(survey: Survey, today: date | None = None) -> list[ReminderDay]:
    """The survey's automatic reminder days (automatic_reminder_days) with what happened on each that has
    come: sent, and to how many (the daily job's runs in the audit trail, read in one query; a run made up
    on a later day counts for the day it made up), or why nobody was reminded; for the day due now, whom the
    daily job will remind."""
    today = today or local_today()
    days = automatic_reminder_days(survey)
    passed = [day for day, _label in days if day <= today]
    if not passed:
        return [ReminderDay(day, label, "coming") for day, label in days]
    sent: dict[date, tuple[int, date]] = {}
    prefix, suffix = AUTOMATIC_REMINDER_DETAIL_PREFIX, AUTOMATIC_REMINDER_DETAIL_SUFFIX
    runs = db.session.execute(select(AuditEntry.created_at, AuditEntry.detail).where(
        AuditEntry.action == "survey.remind", AuditEntry.entity == "surveys",
        AuditEntry.entity_id == str(survey.id), AuditEntry.detail.like(f"{prefix}%{suffix}"),
        AuditEntry.created_at >= local_to_utc(datetime.combine(min(passed), time.min)))).all()
    for created_at, detail in runs:
        run_day = to_local(created_at).date()
        covered = _reminder_day(survey, run_day)
        try:
            number = int(detail[len(prefix):-len(suffix)])
        except ValueError:
            continue
        if covered is not None:
            count, first = sent.get(covered, (0, run_day))
            sent[covered] = (count + number, min(first, run_day))
    due = max(passed)
    schedule = []
    for day, label in days:
        if day in sent:
            count, sent_on = sent[day]
            schedule.append(ReminderDay(day, label, "sent", count, sent_on))
        elif day == due:
            schedule.append(_due_reminder(survey, day, label, today))
        elif day < today:
            schedule.append(ReminderDay(day, label, "missed"))
        else:
            schedule.append(ReminderDay(day, label, "coming"))
    return schedule


def _due_reminder(survey: Survey, day: date, label, today: date) -> ReminderDay:
    """The reminder due today (or made up today for ``day``) and not sent yet: whom the daily job reminds."""
    if not accepting_answers(survey, today):
        return ReminderDay(day, label, "not_open")
    waiting = _waiting([survey.id])
    if not waiting:
        return ReminderDay(day, label, "everyone_answered")
    pending = [invitation for invitation in waiting if _out_of_quiet(invitation, day)]
    if not pending:
        return ReminderDay(day, label, "quiet", len(waiting))
    return ReminderDay(day, label, "due", len(pending))


def send_automatic_reminders(today: date | None = None) -> list[tuple[Survey, int]]:
    """Remind the invitees of every survey taking answers today who have not answered, on the days of
    ``automatic_reminder_days``: once each, not deactivated accounts, and not whoever was invited or
    reminded on that day or the day before.  Returns (survey, people reminded) for each survey that
    reminded anyone.  Running it twice a day reminds nobody twice."""
    today = today or local_today()
    surveys = db.session.scalars(select(Survey).where(
        *answering_today(today), Survey.closes_on.is_not(None),
        Survey.closes_on <= today + timedelta(days=max(AUTO_REMINDER_DAYS_BEFORE))).order_by(Survey.id)).all()
    due_on = {survey.id: _reminder_day(survey, today) for survey in surveys}
    due_on = {survey_id: day for survey_id, day in due_on.items() if day is not None}
    by_survey: dict[int, list[SurveyInvitation]] = defaultdict(list)
    for invitation in (_waiting(due_on) if due_on else []):
        if _out_of_quiet(invitation, due_on[invitation.survey_id]):
            by_survey[invitation.survey_id].append(invitation)
    sent = []
    for survey in surveys:
        invitations = by_survey.get(survey.id)
        if not invitations:
            continue
        remind_automatically(survey, invitations, today)
        record_event("survey.remind", entity="surveys", entity_id=survey.id,
                     detail=f"{AUTOMATIC_REMINDER_DETAIL_PREFIX}{len(invitations)}{AUTOMATIC_REMINDER_DETAIL_SUFFIX}")
        sent.append((survey, len(invitations)))
    return sent


#: The audit detail of an automatic reminder run: ``reminded=N automatic``.
AUTOMATIC_REMINDER_DETAIL_PREFIX, AUTOMATIC_REMINDER_DETAIL_SUFFIX = "reminded=", " automatic"


def remind_automatically(survey: Survey, invitations: list[SurveyInvitation], today: date) -> None:
    """Send the automatic reminder of ``today`` to these invitees (send_automatic_reminders chooses them and
    records the run in the audit trail)."""
    if survey.closes_on == today:
        subject = _l("Last day: the survey “%(title)s” closes today", title=survey.title)
    else:
        subject = _l("Reminder: the survey “%(title)s” closes on %(day)s", title=survey.title,
                     day=survey.closes_on.isoformat())
    for invitation in invitations:
        invitation.reminder_count += 1
        invitation.last_reminded_on = today
        _send_invitation(invitation, "survey.reminder", subject)


def results_link(survey: Survey) -> str:
    return f"/surveys/{survey.id}/results"


def survey_managers(survey: Survey) -> list[User]:
    """Who hears how a survey went: its owner and the heads who manage it as their department's (the
    project leads when it has neither), among active accounts that may open its results."""
    from rollout.accounts.services import users_with_roles
    people = [survey.owner] if survey.owner is not None and survey.owner.is_active_account else []
    if survey.department_id is not None:
        heads = users_with_roles(["head"], sorted(subtree_ids(home_department_id(survey.department_id))))
        people += sorted((h for h in heads if can(h, "surveys.manage", survey)), key=lambda h: h.id)
    if not people:
        people = sorted(users_with_roles(["lead"]), key=lambda u: u.id)
    unique = {person.id: person for person in people}
    return [person for person in unique.values() if can(person, "surveys.results", survey)]


def _response_figures(survey: Survey) -> tuple[int, int]:
    """(invited, answered) of a survey."""
    invited, answered = db.session.execute(
        select(func.count(), func.sum(case((SurveyInvitation.has_responded.is_(True), 1), else_=0)))
        .where(SurveyInvitation.survey_id == survey.id)).one()
    return invited, int(answered or 0)


def _closing_body(survey: Survey, invited: int, answered: int, actor_name: str | None, day: date) -> str:
    if survey.closes_on is not None and survey.closes_on < day:
        lines = [_("Its closing date %(day)s has passed: it takes no more answers.", day=survey.closes_on.isoformat())]
    elif actor_name:
        lines = [_("%(name)s closed it on %(day)s.", name=actor_name, day=day.isoformat())]
    else:
        lines = [_("It was closed on %(day)s.", day=day.isoformat())]
    if invited:
        lines.append(ngettext("%(done)d of %(num)d invitee answered (%(rate)d%%).",
                              "%(done)d of %(num)d invitees answered (%(rate)d%%).", invited,
                              done=answered, rate=round(100 * answered / invited)))
    else:
        lines.append(_("Nobody was invited to it."))
    lines.append(_("Open the link to see the results."))
    return "\n\n".join(lines)


def tell_closed(survey: Survey, actor: User | None = None, today: date | None = None) -> list[User]:
    """Tell the survey's managers (not ``actor``, who closed it) that it has closed, with its response count
    and rate and a link to its results.  Someone already told of this closing (since the closing date when
    it has passed, else today) is not told again.  Returns who was told."""
    today = today or local_today()
    since = survey.closes_on if survey.closes_on is not None and survey.closes_on <= today else today
    people = [p for p in survey_managers(survey) if actor is None or p.id != actor.id]
    if not people:
        return []
    told = set(db.session.scalars(select(Notification.user_id).where(
        Notification.user_id.in_([p.id for p in people]), Notification.event == "survey.closed",
        Notification.link == results_link(survey),
        Notification.created_at >= local_to_utc(datetime.combine(since, time.min)))))
    people = [p for p in people if p.id not in told]
    if people:
        invited, answered = _response_figures(survey)
        notify(people, "survey.closed", _l("The survey “%(title)s” has closed", title=survey.title),
               partial(_closing_body, survey, invited, answered,
                       actor.display_name if actor is not None else None, today),
               link=results_link(survey))
    return people


def tell_closed_surveys(today: date | None = None) -> list[tuple[Survey, int]]:
    """Tell the managers of every open survey whose closing date passed (in the last CLOSING_NOTICE_DAYS
    days) that it has closed.  Returns (survey, people told) for each survey that told anyone; running it
    again tells nobody twice."""
    today = today or local_today()
    surveys = db.session.scalars(select(Survey).where(
        Survey.status == OPEN, Survey.closes_on < today,
        Survey.closes_on >= today - timedelta(days=CLOSING_NOTICE_DAYS)).order_by(Survey.id)).all()
    told = []
    for survey in surveys:
        people = tell_closed(survey, today=today)
        if people:
            told.append((survey, len(people)))
    return told


def answering_today(today: date | None = None) -> list:
    """Conditions of the surveys taking answers today (``accepting_answers`` in SQL)."""
    today = today or local_today()
    return [Survey.status == OPEN, or_(Survey.opens_on.is_(None), Survey.opens_on <= today),
            or_(Survey.closes_on.is_(None), Survey.closes_on >= today)]


def accepting_answers(survey: Survey, today: date | None = None) -> bool:
    today = today or local_today()
    return (survey.status == OPEN and (survey.opens_on is None or survey.opens_on <= today)
            and (survey.closes_on is None or today <= survey.closes_on))


def why_not_answering(survey: Survey, today: date | None = None) -> str | None:
    """Why a survey takes no answers today, in words (when it opens, when it closed); None when it does."""
    today = today or local_today()
    if survey.status == OPEN and survey.opens_on is not None and survey.opens_on > today:
        return _("This survey opens on %(date)s; your link works from that day.", date=survey.opens_on.isoformat())
    if survey.status in (OPEN, CLOSED) and survey.closes_on is not None and survey.closes_on < today:
        return _("This survey closed on %(date)s and takes no more answers.", date=survey.closes_on.isoformat())
    if survey.status == CLOSED:
        return _("This survey is closed and takes no more answers.")
    if survey.status != OPEN:
        return _("This survey is not open for answers.")
    return None


def _check_can_answer(invitation: SurveyInvitation) -> None:
    survey = invitation.survey
    if invitation.has_responded:
        raise ServiceError(_("You have already answered this survey. Thank you!"))
    if not accepting_answers(survey):
        raise ServiceError(why_not_answering(survey) or _("This survey is not open for answers."))


def save_draft(invitation: SurveyInvitation, raw: dict) -> dict:
    """Keep unfinished answers on the invitation so the invitee can resume later."""
    _check_can_answer(invitation)
    values, errors = clean_answers(invitation.survey, raw, check_required=False)
    if errors:
        raise AnswerErrors(errors)
    invitation.draft_answers = values
    invitation.draft_saved_on = local_today()
    return values


def submit_response(invitation: SurveyInvitation, raw: dict) -> SurveyResponse:
    """Store a complete response once per invitee. Anonymous surveys keep no link to the person
    and only the day."""
    _check_can_answer(invitation)
    survey = invitation.survey
    values, errors = clean_answers(survey, raw)
    if errors:
        raise AnswerErrors(errors)
    today = local_today()
    # Claim the invitation atomically: a second concurrent submit finds nothing to claim.
    claimed = db.session.execute(
        update(SurveyInvitation)
        .where(SurveyInvitation.id == invitation.id, SurveyInvitation.has_responded.is_(False))
        .values(has_responded=True, responded_on=today, draft_answers=None, draft_saved_on=None)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise ServiceError(_("You have already answered this survey. Thank you!"))
    db.session.refresh(invitation)
    response = SurveyResponse(survey_id=survey.id, department_id=invitation.department_id, submitted_on=today)
    if not survey.is_anonymous:
        response.invitation_id = invitation.id
        response.respondent_id = invitation.user_id
        response.role = invitation.role
        response.submitted_at = utcnow()
    by_name = {q.name: q for q in survey.questions}
    response.answers = [SurveyAnswer(question_id=by_name[name].id, value=value) for name, value in values.items()]
    db.session.add(response)
    # The invitation and its reminders are done with: they leave the person's unread notifications.
    db.session.execute(update(Notification).where(
        Notification.user_id == invitation.user_id, Notification.read_at.is_(None),
        Notification.link == respond_link(invitation.token)).values(read_at=utcnow())
        .execution_options(synchronize_session=False))
    db.session.flush()
    return response


def invitations_for(user: User) -> list[SurveyInvitation]:
    """A user's invitations that wait for an answer, to surveys taking answers today (as accepting_answers)."""
    today = local_today()
    return db.session.scalars(
        select(SurveyInvitation).join(Survey).where(
            SurveyInvitation.user_id == user.id, SurveyInvitation.has_responded.is_(False), Survey.status == OPEN,
            Survey.opens_on.is_(None) | (Survey.opens_on <= today),
            Survey.closes_on.is_(None) | (Survey.closes_on >= today))
        .order_by(SurveyInvitation.id.desc())).all()


# --- results --------------------------------------------------------------------------------
#: An anonymous survey names no group (a department) with fewer answers, or progress rows with fewer
#: people invited, than this: in a smaller group people can tell whose answer is whose.
MIN_GROUP_SIZE = 5
SMALL_ANSWER_GROUPS = _l("Departments not named (fewer than %(num)d answers)", num=MIN_GROUP_SIZE)
SMALL_INVITED_GROUPS = _l("Departments with fewer than %(num)d people invited", num=MIN_GROUP_SIZE)


def groups_to_name(sizes: dict) -> set:
    """The groups of an anonymous survey that may be named, from their sizes: those of at least
    MIN_GROUP_SIZE. While the rest, pooled, would hold 1 to MIN_GROUP_SIZE - 1, the smallest named
    group joins the pool too: otherwise the pool could be worked out from the named groups."""
    named = sorted((key for key, size in sizes.items() if size >= MIN_GROUP_SIZE),
                   key=lambda key: (sizes[key], str(key)))
    pooled = sum(sizes.values()) - sum(sizes[key] for key in named)
    while named and 0 < pooled < MIN_GROUP_SIZE:
        pooled += sizes[named.pop(0)]
    return set(named)


def _homes(department_ids: set[int]) -> list[int]:
    return sorted({home_department_id(i) for i in department_ids} - {None}) or [-1]


def _given_in(department_column, person_column, department_ids: set[int] | None):
    """A condition limiting responses (or invitations) to those of people in some departments or teams
    (None: all). A response keeps its respondent's department, not their team: a team's own are found
    through the person, whom only a named survey keeps. An anonymous survey's answers are never split
    by team: a team is too few people to hide one among them."""
    if department_ids is None:
        return true()
    ids = sorted(department_ids) or [-1]
    return or_(department_column.in_(ids),
               (department_column.in_(_homes(department_ids)) &
                person_column.in_(select(User.id).where(User.department_id.in_(ids)))))


def _responses_in(department_ids: set[int] | None):
    return _given_in(SurveyResponse.department_id, SurveyResponse.respondent_id, department_ids)


def _response_in(response: SurveyResponse, department_ids: set[int] | None) -> bool:
    """Python twin of ``_responses_in`` for one response."""
    if department_ids is None or response.department_id in department_ids:
        return True
    respondent = response.respondent
    return respondent is not None and respondent.department_id in department_ids and \
        response.department_id in _homes(department_ids)


def results_scope(user, survey: Survey) -> set[int] | None:
    """Whose answers to ``survey`` its results show ``user``: None for every answer (leads, admins,
    heads who run the survey: "surveys.results.all"); a department's head their department's and its
    teams'; a team's head their own team's only (in an anonymous survey, none: answers carry no team)."""
    if can(user, "surveys.results.all", survey):
        return None
    own = getattr(user, "department_id", None)
    if own is not None and home_department_id(own) != own:
        return subtree_ids(own)  # a team and the teams below it
    return subtree_ids(home_department_id(own)) if own is not None else set()


def results_scope_is_team(user, scope: set[int] | None) -> bool:
    """Whether ``scope`` (from ``results_scope``) is a team's rather than a whole department's."""
    own = getattr(user, "department_id", None)
    return scope is not None and own is not None and home_department_id(own) != own


@dataclass
class ProgressRow:
    department: str
    role: str | None
    invited: int = 0
    responded: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.responded / self.invited) if self.invited else 0


def progress(survey: Survey, department_ids: set[int] | None = None) -> list[ProgressRow]:
    """Invited and answered per department and role (from invitations: works for anonymous surveys).

    An anonymous survey gives departments only, and merges those with fewer than MIN_GROUP_SIZE
    people invited into one row. ``department_ids`` limits it to some departments; limited to teams only
    (a team's head's results), the rows name the invitees' teams.
    """
    groups = [Department.name] if survey.is_anonymous else [Department.name, SurveyInvitation.role]
    by_team = bool(department_ids) and all(home_department_id(i) != i for i in department_ids)
    query = select(*groups, func.count(), func.sum(case((SurveyInvitation.has_responded.is_(True), 1), else_=0)))
    if by_team:
        query = query.select_from(SurveyInvitation).join(User, User.id == SurveyInvitation.user_id) \
            .outerjoin(Department, Department.id == User.department_id)
    else:
        query = query.select_from(SurveyInvitation).outerjoin(Department,
                                                              Department.id == SurveyInvitation.department_id)
    rows = db.session.execute(
        query.where(SurveyInvitation.survey_id == survey.id,
               _given_in(SurveyInvitation.department_id, SurveyInvitation.user_id, department_ids))
        .group_by(*groups).order_by(*groups)).all()
    if not survey.is_anonymous:
        return [ProgressRow(department=name or "—", role=role, invited=count, responded=int(done or 0))
                for name, role, count, done in rows]
    found = [ProgressRow(department=name or "—", role=None, invited=count, responded=int(done or 0))
             for name, count, done in rows]
    named = {row.department for row in found if row.invited >= MIN_GROUP_SIZE}
    merged = ProgressRow(department=str(SMALL_INVITED_GROUPS), role=None)
    for row in found:
        if row.department not in named:
            merged.invited += row.invited
            merged.responded += row.responded
    return [row for row in found if row.department in named] + ([merged] if merged.invited else [])


def survey_answers(survey: Survey, department_ids: set[int] | None = None) -> list[SurveyAnswer]:
    return db.session.scalars(select(SurveyAnswer).join(SurveyResponse).where(
        SurveyResponse.survey_id == survey.id, _responses_in(department_ids))
        .order_by(SurveyAnswer.id)).all()


def _group_labels(survey: Survey, responses: list[tuple[int, int | None, str | None]]) -> dict[int, str]:
    """The department each response is shown with, by response id, from (id, department id, name).
    An anonymous survey names only the departments ``groups_to_name`` allows."""
    if not survey.is_anonymous:
        return {response_id: name or "" for response_id, _department_id, name in responses}
    named = groups_to_name(Counter(department_id for _id, department_id, _name in responses))
    return {response_id: (name or "") if department_id in named else str(SMALL_ANSWER_GROUPS)
            for response_id, department_id, name in responses}


def response_groups(survey: Survey, department_ids: set[int] | None = None) -> dict[int, str]:
    """The department each response of the survey is shown with, by response id (see ``_group_labels``)."""
    return _group_labels(survey, db.session.execute(
        select(SurveyResponse.id, SurveyResponse.department_id, Department.name)
        .outerjoin(Department, Department.id == SurveyResponse.department_id)
        .where(SurveyResponse.survey_id == survey.id,
               _responses_in(department_ids))).all())


@dataclass
class QuestionSummary:
    """One question's results. A text question shows only its latest TEXT_SAMPLE answers:
    ``answered`` says how many there are in all."""
    question: Question
    answered: int = 0
    #: (label, count) for choice and rating questions
    counts: list = field(default_factory=list)
    average: float | None = None
    #: recent text answers (answer objects)
    texts: list = field(default_factory=list)
    #: Likert: {row label: [(choice label, count)]}; ranking: [(label, average rank)]
    matrix: dict = field(default_factory=dict)
    ranks: list = field(default_factory=list)
    #: Choice questions: (option value, label, count), to make a requirement of those who chose an option
    options: list = field(default_factory=list)


#: How many of a text question's answers the results page shows (the newest); a page of their own and
#: the export have them all.
TEXT_SAMPLE = 20
#: Questions whose answers the results list as texts.
TEXT_TYPES = (TEXT, LONG_TEXT, DATE)


def summarise(survey: Survey, department_ids: set[int] | None = None,
              text_limit: int | None = TEXT_SAMPLE) -> list[QuestionSummary]:
    """Per-question counts, averages and recent text answers (the newest ``text_limit``; None: all), in
    two queries; ``department_ids`` limits them to the answers of some departments."""
    by_question = defaultdict(list)
    for answer in survey_answers(survey, department_ids):
        by_question[answer.question_id].append(answer)
    summaries = []
    for question in survey.questions:
        if question.type == NOTE:
            continue
        answers = by_question.get(question.id, [])
        summary = QuestionSummary(question=question, answered=len(answers))
        values = [a.value for a in answers]
        labels = {o.value: localized(o) for o in question.choices}
        if question.type in (SINGLE, MULTIPLE):
            counter = Counter(v for value in values for v in (value if isinstance(value, list) else [value]))
            summary.counts = [(labels[o.value], counter.get(o.value, 0)) for o in question.choices]
            summary.options = [(o.value, labels[o.value], counter.get(o.value, 0)) for o in question.choices]
        elif question.type in RATING_MAX:
            counter = Counter(values)
            summary.counts = [(str(n), counter.get(n, 0)) for n in range(1, RATING_MAX[question.type] + 1)]
            summary.average = round(sum(values) / len(values), 2) if values else None
        elif question.type in (INTEGER, DECIMAL):
            summary.average = round(sum(values) / len(values), 2) if values else None
            summary.counts = [(_("Lowest"), min(values)), (_("Highest"), max(values))] if values else []
        elif question.type == LIKERT:
            for row in question.rows:
                counter = Counter(v.get(row.value) for v in values if isinstance(v, dict))
                summary.matrix[localized(row)] = [(labels[o.value], counter.get(o.value, 0))
                                                  for o in question.choices]
        elif question.type == RANKING:
            totals = defaultdict(list)
            for order in values:
                for rank, value in enumerate(order, start=1):
                    totals[value].append(rank)
            summary.ranks = sorted(((labels[o.value], round(sum(totals[o.value]) / len(totals[o.value]), 2))
                                    for o in question.choices if totals[o.value]), key=lambda pair: pair[1])
        else:
            summary.texts = (answers[-text_limit:] if text_limit is not None else answers)[::-1]
        summaries.append(summary)
    return summaries


@dataclass
class SurveyResults:
    """What a results page shows, of the whole survey or of some departments' answers."""
    progress: list[ProgressRow]
    summaries: list[QuestionSummary]
    #: the department each response is shown with, by response id (``response_groups``)
    groups: dict[int, str]
    #: how many responses the figures count
    responses: int
    #: the answers are not shown: too few of them for an anonymous survey (``survey_results``)
    is_withheld: bool = False


def survey_results(survey: Survey, department_ids: set[int] | None = None,
                   text_limit: int | None = TEXT_SAMPLE) -> SurveyResults:
    """Progress, per-question figures and the department of each answer, for the whole survey or
    limited to some departments (``survey_results_withheld`` says when they are not shown); a text
    question lists its newest ``text_limit`` answers (None: every one)."""
    groups = response_groups(survey, department_ids)
    withheld = _withheld(survey, department_ids, len(groups))
    return SurveyResults(progress=progress(survey, department_ids),
                         summaries=[] if withheld else summarise(survey, department_ids, text_limit),
                         groups={} if withheld else groups, responses=len(groups), is_withheld=withheld)


def _withheld(survey: Survey, department_ids: set[int] | None, responses: int) -> bool:
    return survey.is_anonymous and department_ids is not None and responses < MIN_GROUP_SIZE


def survey_results_withheld(survey: Survey, department_ids: set[int] | None) -> bool:
    """Whether the answers of an anonymous survey, limited to some departments, are not shown: while
    there are fewer than MIN_GROUP_SIZE of them, they would be those of a few known people."""
    if not survey.is_anonymous or department_ids is None:
        return False
    return _withheld(survey, department_ids, db.session.scalar(
        select(func.count()).select_from(SurveyResponse).where(
            SurveyResponse.survey_id == survey.id, _responses_in(department_ids))))


def answer_in_results(answer: SurveyAnswer, department_ids: set[int] | None) -> bool:
    """Whether the results limited to ``department_ids`` show ``answer``."""
    response = answer.response
    if department_ids is None:
        return True
    return _response_in(response, department_ids) and not survey_results_withheld(response.survey, department_ids)


@dataclass
class ChosenOption:
    """Everyone who chose one option of a choice question: the evidence of a requirement made from a result."""
    question: Question
    value: str
    label: str
    answers: list
    #: How many answered the question at all.
    total: int

    @property
    def department_ids(self) -> set[int]:
        """The departments these answers may be credited to (``answer_department_id``)."""
        return {department_id for department_id in map(answer_department_id, self.answers) if department_id}


def chosen_option(question: Question, option_value: str,
                  department_ids: set[int] | None = None) -> ChosenOption | None:
    """The answers to a single or multiple choice question that chose ``option_value`` (None: nobody did),
    among those the results show for ``department_ids`` (see ``survey_results``)."""
    option = next((o for o in question.choices if o.value == option_value), None)
    if question.type not in (SINGLE, MULTIPLE) or option is None or \
            survey_results_withheld(question.survey, department_ids):
        return None
    answers = db.session.scalars(select(SurveyAnswer).join(SurveyResponse).where(
        SurveyAnswer.question_id == question.id, _responses_in(department_ids))
        .options(db.joinedload(SurveyAnswer.response)).order_by(SurveyAnswer.id)).all()
    chose = [answer for answer in answers
             if option_value == answer.value or (isinstance(answer.value, list) and option_value in answer.value)]
    return ChosenOption(question, option_value, localized(option), chose, len(answers)) if chose else None


def display_value(question: Question, value) -> str:
    """An answer as people read it: option labels instead of values."""
    if value is None:
        return ""
    labels = {o.value: localized(o) for o in question.choices}
    if question.type == SINGLE:
        return labels.get(value, str(value))
    if question.type == MULTIPLE:
        return "; ".join(labels.get(v, v) for v in value)
    if question.type == RANKING:
        return " > ".join(labels.get(v, v) for v in value)
    if question.type == LIKERT:
        rows = {o.value: localized(o) for o in question.rows}
        return "; ".join(f"{rows.get(r, r)}: {labels.get(v, v)}" for r, v in value.items())
    return str(value)


class ExportColumn(NamedTuple):
    key: str
    header: str
    #: text, number or date (rollout.reports.exports kinds)
    kind: str = "text"


def answer_key(question: Question, row: QuestionOption | None = None) -> str:
    """The row key of a question's export column. Question names cannot hold ":", so these never
    meet the respondent's own columns (a question may well be named ``role``)."""
    return f"q:{question.name}" if row is None else f"q:{question.name}.{row.value}"


def export_table(survey: Survey) -> tuple[list[ExportColumn], list[dict]]:
    """Columns and one row per response: the respondent's columns, then a column per question
    (Likert rows as columns); option and role codes are given as their labels.

    An anonymous survey's rows come in a random order, numbered for this export only, without the
    day they were given, and with departments named as ``response_groups`` allows: an id or a day
    would order the answers by when people gave them.
    """
    if survey.is_anonymous:
        columns = [ExportColumn("row", _("Row"), "number"), ExportColumn("department", _("Department"))]
    else:
        columns = [ExportColumn("response", _("Response"), "number"), ExportColumn("respondent", _("Respondent")),
                   ExportColumn("role", _("Role")), ExportColumn("department", _("Department")),
                   ExportColumn("submitted", _("Submitted on"), "date")]
    questions = [q for q in survey.questions if q.type != NOTE]
    for question in questions:
        if question.type == LIKERT:
            columns += [ExportColumn(answer_key(question, row), f"{localized(question)}: {localized(row)}")
                        for row in question.rows]
        else:
            kind = "number" if question.type in (INTEGER, DECIMAL, RATING5, RATING10) else "text"
            columns.append(ExportColumn(answer_key(question), localized(question), kind))
    responses = db.session.scalars(
        select(SurveyResponse).where(SurveyResponse.survey_id == survey.id)
        .options(db.selectinload(SurveyResponse.answers), db.joinedload(SurveyResponse.department),
                 db.joinedload(SurveyResponse.respondent))
        .order_by(SurveyResponse.id)).unique().all()
    groups = _group_labels(survey, [(r.id, r.department_id, r.department.name if r.department else None)
                                    for r in responses])
    if survey.is_anonymous:
        random.SystemRandom().shuffle(responses)
    by_id = {q.id: q for q in questions}
    rows = []
    for number, response in enumerate(responses, start=1):
        row = {"department": groups[response.id]}
        if survey.is_anonymous:
            row["row"] = number
        else:
            row.update(response=response.id, submitted=response.submitted_on,
                       respondent=response.respondent.display_name if response.respondent else "",
                       role=str(ROLE_LABELS.get(response.role, response.role or "")))
        for answer in response.answers:
            question = by_id.get(answer.question_id)
            if question is None:
                continue
            if question.type == LIKERT:
                labels = {o.value: localized(o) for o in question.choices}
                rows_by_value = {o.value: o for o in question.rows}
                for row_value, choice in (answer.value or {}).items():
                    if row_value in rows_by_value:
                        row[answer_key(question, rows_by_value[row_value])] = labels.get(choice, choice)
            elif question.type in (INTEGER, DECIMAL, RATING5, RATING10):
                row[answer_key(question)] = answer.value
            else:
                row[answer_key(question)] = display_value(question, answer.value)
        rows.append(row)
    return columns, rows


# --- recurring surveys ----------------------------------------------------------------------
def add_months(day: date, months: int = 1, keep_month_end: bool = False) -> date:
    """The same day ``months`` later (the month's last day when it has fewer days); with ``keep_month_end``
    a month's last day stays the last day: a survey open to 30 November runs to 31 December."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    if keep_month_end and day.day == calendar.monthrange(day.year, day.month)[1]:
        return date(year, month, last)
    return date(year, month, min(day.day, last))


def run_schedules(today: date | None = None) -> list[Survey]:
    """Open the current occurrence of every recurring survey that is due, close the previous one
    and invite the same audience. Safe to run as often as you like."""
    today = today or local_today()
    latest = (select(Survey.series_id, func.max(Survey.occurrence_on).label("last_on"))
              .where(Survey.recurrence.is_not(None), Survey.series_id.is_not(None))
              .group_by(Survey.series_id).subquery())
    due = db.session.scalars(select(Survey).join(
        latest, (Survey.series_id == latest.c.series_id) & (Survey.occurrence_on == latest.c.last_on))
        .where(Survey.status != DRAFT).order_by(Survey.id)).all()
    opened = []
    for previous in due:
        next_on = add_months(previous.occurrence_on)
        if next_on > today:
            continue
        while add_months(next_on) <= today:
            next_on = add_months(next_on)
        # The closing day moves by calendar months, as the opening does: a fixed number of days would
        # close December's occurrence on the 30th and February's in March.
        months = (next_on.year - previous.occurrence_on.year) * 12 + next_on.month - previous.occurrence_on.month
        closes_on = (add_months(previous.closes_on, months, keep_month_end=True)
                     if previous.opens_on and previous.closes_on else None)
        if closes_on is not None and closes_on < today:
            continue  # this period's answering days are over already: nobody could answer it
        occurrence = clone_survey(previous, occurrence_on=next_on, opens_on=next_on, closes_on=closes_on)
        if previous.status == OPEN:
            change_survey_status(previous, CLOSED, today)
        change_survey_status(occurrence, OPEN, today)
        invite_audience(occurrence, today)
        opened.append(occurrence)
    return opened


def series_occurrences(survey: Survey) -> list[Survey]:
    if survey.series_id is None:
        return [survey]
    return db.session.scalars(select(Survey).where(Survey.series_id == survey.series_id)
                              .order_by(Survey.occurrence_on)).all()


def score_question_name(survey: Survey) -> str | None:
    """The question a trend follows: the first rating question (else the first number)."""
    for kinds in ((RATING5, RATING10), (INTEGER, DECIMAL)):
        for question in survey.questions:
            if question.type in kinds:
                return question.name
    return None


def trend(survey: Survey, department_ids: set[int] | None = None) -> tuple[list[str], dict[str, list], str | None]:
    """Average score per department for each occurrence of a recurring survey; ``department_ids``
    limits it to some departments. An anonymous survey averages a department only in the months
    ``groups_to_name`` names it, and the other departments together when they gave at least
    MIN_GROUP_SIZE answers."""
    occurrences = series_occurrences(survey)
    name = score_question_name(survey)
    labels = [(o.occurrence_on or o.created_at.date()).strftime("%Y-%m") for o in occurrences]
    if name is None:
        return labels, {}, None
    rows = db.session.execute(
        select(SurveyResponse.survey_id, Department.name, SurveyAnswer.value)
        .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
        .join(Question, Question.id == SurveyAnswer.question_id)
        .outerjoin(Department, Department.id == SurveyResponse.department_id)
        .where(SurveyResponse.survey_id.in_([o.id for o in occurrences]), Question.name == name,
               _responses_in(department_ids))).all()
    scores = defaultdict(lambda: defaultdict(list))
    for survey_id, department, value in rows:
        if isinstance(value, (int, float)):
            scores[survey_id][department or "—"].append(value)
    averages = defaultdict(lambda: [None] * len(occurrences))
    pooled_label = str(SMALL_ANSWER_GROUPS)
    for index, occurrence in enumerate(occurrences):
        by_department = scores.get(occurrence.id, {})
        named = groups_to_name({d: len(v) for d, v in by_department.items()}) if survey.is_anonymous \
            else set(by_department)
        pooled = [value for d, values in by_department.items() if d not in named for value in values]
        for department in named:
            averages[department][index] = _average(by_department[department])
        if len(pooled) >= MIN_GROUP_SIZE:
            averages[pooled_label][index] = _average(pooled)
    # Departments by name, then the pooled ones: they are not one more department.
    order = sorted(averages, key=lambda department: (department == pooled_label, department))
    return labels, {department: averages[department] for department in order}, name


def _average(values: list) -> float:
    return round(sum(values) / len(values), 2)


# --- interviews -------------------------------------------------------------------------------
#: Most accounts one session records; a bigger group is a workshop whose other people are named as text.
MAX_INTERVIEWEES = 10


def save_interview(interview: Interview | None, *, title: str, interviewee: str = "", department: Department,
                   method: str, held_on: date, interviewer: User | None, notes_markdown: str = "",
                   role: str | None = None, interviewees=(), recorded_by: User | None = None) -> Interview:
    """Create or update an interview, workshop or observation record.

    ``interviewees`` are the accounts heard, the first listed first (up to ten, each once, each active;
    ``recorded_by``, the person saving, may add only people they may record interviews of). Each
    counts as heard in the coverage matrix (``heard_clause``) in their own business role: a ``role``
    given must be every one's. A session that names people only as text is kept as evidence, its
    role as a description. Nothing is written when anything is wrong.
    """
    people = list(interviewees or ())
    if not (title or "").strip():
        raise ServiceError(_("A title is required."), "title")
    if not (interviewee or "").strip() and not people:
        raise ServiceError(_("Say who was interviewed or observed."), "interviewee")
    if method not in INTERVIEW_METHODS:
        raise ServiceError(_("Unknown method."), "method")
    if department is None:
        raise ServiceError(_("Choose a department."), "department_id")
    if held_on is None:
        raise ServiceError(_("Give the date of the session."), "held_on")
    if held_on > local_today():
        raise ServiceError(_("The session cannot be dated in the future."), "held_on")
    if role not in (None, "", *COVERAGE_ROLES):
        raise ServiceError(_("Unknown role."), "role")
    roles = _interviewee_roles(interview, people, role or None, recorded_by)
    if people:
        shared = set(roles.values())
        role = shared.pop() if len(shared) == 1 else None
    if interview is None:
        interview = Interview()
        db.session.add(interview)
    elif interview.highlights and notes_markdown is not None:
        lost = [h for h in interview.highlights if not _in_notes(h.quote, notes_markdown)]
        if lost:
            raise ServiceError(_("The notes no longer contain a highlighted passage: “%(quote)s”.",
                                 quote=lost[0].quote[:60]), "notes_markdown")
    written = (interviewee or "").strip() or "、".join(person.display_name for person in people)
    interview.title, interview.interviewee = title.strip()[:200], written[:200]
    interview.department = department
    interview.method, interview.held_on, interview.interviewer = method, held_on, interviewer
    interview.notes_markdown = notes_markdown or ""
    interview.role = role or None
    interview.interviewee_id = people[0].id if people else None
    kept = {row.user_id: row for row in interview.interviewees}
    rows = []
    for person in people:
        row = kept.get(person.id) or InterviewInterviewee(user=person)
        if row.role != roles[person.id]:
            row.role = roles[person.id]
        rows.append(row)
    interview.interviewees = rows
    db.session.flush()
    return interview


def _interviewee_roles(interview: Interview | None, people: list[User], role: str | None,
                       recorded_by: User | None) -> dict[int, str | None]:
    """Each interviewee's business role in the session by account id; a ServiceError names the first
    person who cannot be recorded (too many, twice, inactive, out of reach, or in another role)."""
    if len(people) > MAX_INTERVIEWEES:
        raise ServiceError(_("Pick at most %(num)d accounts; name the others in the interviewee(s) text.",
                             num=MAX_INTERVIEWEES), "interviewee_ids")
    already = {row.user_id for row in interview.interviewees} if interview is not None else set()
    seen, roles = set(), {}
    for person in people:
        if person.id in seen:
            raise ServiceError(_("%(name)s is picked twice.", name=person.display_name), "interviewee_ids")
        seen.add(person.id)
        if person.id not in already:
            if not person.is_active_account:
                raise ServiceError(_("%(name)s's account is switched off; pick someone who can be heard.",
                                     name=person.display_name), "interviewee_ids")
            if recorded_by is not None and not can(recorded_by, "interviews.manage", person):
                raise ServiceError(_("%(name)s works outside the departments whose sessions you record.",
                                     name=person.display_name), "interviewee_ids")
        # Coverage counts each person in their own role: another role would claim a voice not heard.
        own_role = business_role(person)
        if role and own_role is None:
            raise ServiceError(_("%(name)s is neither a department head nor staff; leave the role empty.",
                                 name=person.display_name), "role")
        if role and role != own_role:
            raise ServiceError(_("%(name)s is counted as %(role)s; leave the role empty or choose that one.",
                                 name=person.display_name, role=ROLE_LABELS[own_role]), "role")
        roles[person.id] = own_role
    return roles


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _in_notes(quote: str, notes: str | None) -> bool:
    """Whether ``quote`` is in the notes as written (Markdown) or as the page shows them: a passage
    copied from the page has no ** or list marks."""
    wanted = _normalise(quote)
    if wanted in _normalise(notes):
        return True
    from rollout.markdown import render_markdown
    shown = html.unescape(re.sub(r"<[^>]+>", "", str(render_markdown(notes or ""))))
    return wanted in _normalise(shown)


def parse_tags(text: str) -> list[str]:
    parts = re.split(r"[,，;；\s]+", text or "")
    return sorted({p.strip().lstrip("#＃")[:50] for p in parts if p.strip().lstrip("#＃")})


def add_highlight(interview: Interview, quote: str, tags=()) -> Highlight:
    """Mark a passage of the notes as a highlight; the quote must be in the notes."""
    quote = (quote or "").strip()
    if not quote:
        raise ServiceError(_("Paste the passage to highlight."), "quote")
    if not _in_notes(quote, interview.notes_markdown):
        raise ServiceError(_("The passage is not in the notes; copy it exactly."), "quote")
    highlight = Highlight(quote=quote, tag_rows=[HighlightTag(tag=t) for t in sorted(set(tags))])
    interview.highlights.append(highlight)
    db.session.flush()
    return highlight


def tag_counts(department_ids: set[int] | None = None) -> list[tuple[str, int]]:
    """Every highlight tag with how many highlights carry it, most used first."""
    query = (select(HighlightTag.tag, func.count()).join(Highlight, Highlight.id == HighlightTag.highlight_id)
             .join(Interview, Interview.id == Highlight.interview_id))
    if department_ids is not None:
        query = query.where(Interview.department_id.in_(sorted(department_ids) or [-1]))
    return [(tag, count) for tag, count in db.session.execute(
        query.group_by(HighlightTag.tag).order_by(func.count().desc(), HighlightTag.tag)).all()]


# --- requirements ---------------------------------------------------------------------------
REQUIREMENT_TRANSITIONS = {
    PROPOSED: {ACCEPTED, REJECTED},
    ACCEPTED: {IMPLEMENTED, REJECTED},
    REJECTED: {PROPOSED},
    IMPLEMENTED: set(),
    MERGED: set(),
}


#: Where an anonymous survey's answer came from when its department may not be named.
ANONYMOUS_ANSWER = _l("Anonymous answer")


def named_departments(survey: Survey) -> set[int | None]:
    """The departments an anonymous survey's answers may be credited to, by ``groups_to_name`` over all
    its answers (as its results name them); one query per survey and request."""
    cache = None
    if has_request_context():
        cache = g.setdefault("_named_survey_departments", {})
        if survey.id in cache:
            return cache[survey.id]
    named = groups_to_name(Counter(db.session.scalars(
        select(SurveyResponse.department_id).where(SurveyResponse.survey_id == survey.id))))
    if cache is not None:
        cache[survey.id] = named
    return named


def answer_department_id(answer: SurveyAnswer) -> int | None:
    """The department a survey answer may be said to come from, as evidence of a requirement.

    A named survey's answer keeps its respondent's department. An anonymous survey's answer keeps it only
    while the survey's results name that department (at least MIN_GROUP_SIZE answers from it, and the
    others not few enough to be worked out: ``groups_to_name``): in a smaller group the department would
    point at the person. Otherwise the answer is only an “anonymous answer”, of no department.
    """
    response = answer.response
    if response.department_id is None or not response.survey.is_anonymous:
        return response.department_id
    return response.department_id if response.department_id in named_departments(response.survey) else None


def answer_source(answer: SurveyAnswer) -> str:
    """Who a survey answer came from, as the requirement pages and the specification say it: the
    department (and role, in a named survey), or “Anonymous answer”."""
    response = answer.response
    department_id = answer_department_id(answer)
    if department_id is None:
        return str(ANONYMOUS_ANSWER) if response.survey.is_anonymous else ""
    parts = [response.department.name if response.department else ""]
    if response.role and not response.survey.is_anonymous:
        parts.append(str(ROLE_LABELS.get(response.role, response.role)))
    return " · ".join(part for part in parts if part)


def person_heard(row: InterviewInterviewee) -> str:
    """One interviewee as the pages list them: the name, with the role they speak for when they have one."""
    if not row.role:
        return row.user.display_name
    return _("%(name)s (%(role)s)", name=row.user.display_name, role=ROLE_LABELS.get(row.role, row.role))


def interviewees_text(interview: Interview) -> str:
    """Everyone a session heard, as the reader's language lists them: its accounts with their roles,
    or, when it names people only as text, that text with the role described."""
    if interview.interviewees:
        return format_list([person_heard(row) for row in interview.people], locale=get_locale() or "en")
    if interview.role:
        return _("%(name)s (%(role)s)", name=interview.interviewee, role=ROLE_LABELS.get(interview.role, interview.role))
    return interview.interviewee


def _evidence_origin(answer: SurveyAnswer | None, highlight: Highlight | None) -> tuple[set[int], set[str]]:
    departments, roles = set(), set()
    if answer is not None:
        department_id = answer_department_id(answer)
        if department_id:
            departments.add(department_id)
        if answer.response.role:
            roles.add(answer.response.role)
    if highlight is not None:
        departments.add(highlight.interview.department_id)
        roles.update(highlight.interview.roles)
    return departments, roles


def create_requirement(title: str, description: str = "", *, priority: str = "should", departments=(),
                       roles=(), owner: User | None = None, answer: SurveyAnswer | None = None,
                       highlight: Highlight | None = None, note: str = "", answers=()) -> Requirement:
    """A proposed requirement, optionally with its first evidence: an answer, a highlight, or the answers
    of everyone who chose one option of a question.

    The departments and roles of the evidence are added to those given.
    """
    title = (title or "").strip()
    if not title:
        raise ServiceError(_("A title is required."), "title")
    if priority not in PRIORITIES:
        raise ServiceError(_("Unknown priority."), "priority")
    if set(roles) - set(COVERAGE_ROLES):
        raise ServiceError(_("Unknown role."), "roles")
    requirement = Requirement(title=title[:200], description=description or "", priority=priority,
                              status=PROPOSED, owner=owner, roles=sorted(set(roles)))
    requirement.departments = list(departments)
    db.session.add(requirement)
    if answer is not None or highlight is not None:
        add_evidence(requirement, answer=answer, highlight=highlight, note=note)
    for chosen in answers:
        add_evidence(requirement, answer=chosen, note=note)
    db.session.flush()
    signals.requirement_created.send(requirement)
    return requirement


def update_requirement(requirement: Requirement, *, title: str, description: str, priority: str,
                       departments, roles, owner: User | None) -> Requirement:
    if requirement.status == MERGED:
        raise ServiceError(_("A merged requirement cannot change; edit the one it was merged into."))
    if not (title or "").strip():
        raise ServiceError(_("A title is required."), "title")
    if priority not in PRIORITIES:
        raise ServiceError(_("Unknown priority."), "priority")
    if set(roles) - set(COVERAGE_ROLES):
        raise ServiceError(_("Unknown role."), "roles")
    requirement.title, requirement.description = title.strip()[:200], description or ""
    requirement.priority, requirement.owner = priority, owner
    requirement.departments = list(departments)
    requirement.roles = sorted(set(roles))
    db.session.flush()
    return requirement


def add_evidence(requirement: Requirement, *, answer: SurveyAnswer | None = None,
                 highlight: Highlight | None = None, note: str = "") -> RequirementEvidence | None:
    """Link an answer or a highlight; its departments and roles join the requirement's."""
    if (answer is None) == (highlight is None):
        raise ServiceError(_("Evidence is one survey answer or one interview highlight."))
    if requirement.status == MERGED:
        raise ServiceError(_("This requirement was merged into another: add the evidence there."))
    for existing in requirement.evidence:
        if (answer is not None and existing.answer_id == answer.id) or \
                (highlight is not None and existing.highlight_id == highlight.id):
            return None
    evidence = RequirementEvidence(answer=answer, highlight=highlight, note=(note or "")[:500])
    requirement.evidence.append(evidence)
    departments, roles = _evidence_origin(answer, highlight)
    known = requirement.department_ids
    for department_id in departments - known:
        requirement.departments.append(db.session.get(Department, department_id))
    requirement.roles = sorted(set(requirement.roles or []) | roles)
    return evidence


def evidence_candidates(text: str, department_ids: set[int] | None, limit: int = 300) -> list[Requirement]:
    """Open requirements (proposed or accepted) of these departments that new evidence could join,
    the ones most like ``text`` first."""
    requirements = db.session.scalars(
        select(Requirement).where(Requirement.status.in_((PROPOSED, ACCEPTED)), requirements_in_scope(department_ids))
        .order_by(Requirement.id.desc()).limit(limit)).all()
    pairs = character_pairs(text)
    return sorted(requirements, key=lambda r: -pair_similarity(pairs, character_pairs(f"{r.title} {r.description}")))


def change_requirement_status(requirement: Requirement, status: str, actor: User | None = None) -> Requirement:
    """Move a requirement along REQUIREMENT_TRANSITIONS or refuse; its owner and the heads of the
    departments it came from hear of it (not ``actor``)."""
    if status not in REQUIREMENT_TRANSITIONS.get(requirement.status, set()):
        raise NotAllowed(_("A requirement cannot go from %(old)s to %(new)s.",
                           old=REQUIREMENT_STATUS_LABELS[requirement.status],
                           new=REQUIREMENT_STATUS_LABELS.get(status, status)))
    old, requirement.status = requirement.status, status
    signals.requirement_status_changed.send(requirement, old=old, new=status)
    _tell_requirement_status(requirement, actor)
    return requirement


def _tell_requirement_status(requirement: Requirement, actor: User | None) -> None:
    from rollout.accounts.services import users_with_roles
    from rollout.notify.services import notify
    heads = users_with_roles(["head"], [d.id for d in requirement.departments]) if requirement.departments else []
    people = [p for p in dict.fromkeys([requirement.owner, *heads]) if p is not None and p != actor]
    notify(people, "requirements.status",
           _l("Requirement %(title)s: %(status)s", title=requirement.title,
              status=REQUIREMENT_STATUS_LABELS[requirement.status]),
           _l("%(actor)s moved it to “%(status)s”.", actor=actor.display_name if actor else _l("The system"),
              status=REQUIREMENT_STATUS_LABELS[requirement.status]),
           link=f"/surveys/requirements/{requirement.id}")


def merge_requirements(target: Requirement, duplicates) -> Requirement:
    """Fold duplicates into ``target``: evidence, departments and roles move over; the duplicates
    become 'merged' and point at the target."""
    if target.status in (MERGED,):
        raise ServiceError(_("Cannot merge into a requirement that was itself merged."))
    duplicates = [d for d in duplicates if d is not None]
    if not duplicates:
        raise ServiceError(_("Choose the duplicates to merge."), "duplicates")
    for duplicate in duplicates:
        if duplicate.id == target.id:
            raise ServiceError(_("A requirement cannot be merged into itself."), "duplicates")
        if duplicate.status in (MERGED, IMPLEMENTED):
            raise ServiceError(_("“%(title)s” is %(status)s and cannot be merged.", title=duplicate.title,
                                 status=REQUIREMENT_STATUS_LABELS[duplicate.status]), "duplicates")
    for duplicate in duplicates:
        known_answers = {e.answer_id for e in target.evidence if e.answer_id}
        known_highlights = {e.highlight_id for e in target.evidence if e.highlight_id}
        for evidence in list(duplicate.evidence):
            if evidence.answer_id in known_answers or evidence.highlight_id in known_highlights:
                continue  # the same evidence is already on the target
            target.evidence.append(RequirementEvidence(answer_id=evidence.answer_id,
                                                       highlight_id=evidence.highlight_id, note=evidence.note))
        for department in duplicate.departments:
            if department.id not in target.department_ids:
                target.departments.append(department)
        target.roles = sorted(set(target.roles or []) | set(duplicate.roles or []))
        if requirement_nodes is not None:
            for node_id in node_ids_of(duplicate) - node_ids_of(target):
                db.session.execute(requirement_nodes.insert().values(requirement_id=target.id, node_id=node_id))
        duplicate.status, duplicate.merged_into = MERGED, target
        if duplicate.description and duplicate.description not in (target.description or ""):
            target.description = (target.description + "\n\n" if target.description else "") + \
                _("From merged duplicate “%(title)s”:", title=duplicate.title) + "\n" + duplicate.description
    db.session.flush()
    signals.requirements_merged.send(target, duplicates=duplicates)
    return target


def node_ids_of(requirement: Requirement) -> set[int]:
    if requirement_nodes is None or requirement.id is None:
        return set()
    return set(db.session.scalars(select(requirement_nodes.c.node_id).where(
        requirement_nodes.c.requirement_id == requirement.id)))


def set_requirement_nodes(requirement: Requirement, node_ids) -> None:
    """Attach the requirement to exactly these process-map nodes."""
    if requirement_nodes is None:
        raise ServiceError(_("Process maps are not available."))
    from processmaps.models import ProcessNode
    wanted = {int(n) for n in node_ids}
    found = set(db.session.scalars(select(ProcessNode.id).where(ProcessNode.id.in_(sorted(wanted) or [-1]))))
    if wanted - found:
        raise ServiceError(_("Unknown process node."), "node_ids")
    current = node_ids_of(requirement)
    if current - wanted:
        db.session.execute(requirement_nodes.delete().where(
            requirement_nodes.c.requirement_id == requirement.id,
            requirement_nodes.c.node_id.in_(sorted(current - wanted))))
    for node_id in sorted(wanted - current):
        db.session.execute(requirement_nodes.insert().values(requirement_id=requirement.id, node_id=node_id))


def requirements_for_nodes(node_ids) -> list[Requirement]:
    """Requirements attached to any of these process nodes (merged ones left out)."""
    if requirement_nodes is None:
        return []
    return db.session.scalars(select(Requirement).where(Requirement.status != MERGED, Requirement.id.in_(
        select(requirement_nodes.c.requirement_id).where(requirement_nodes.c.node_id.in_(list(node_ids) or [-1]))))
        .order_by(Requirement.id)).all()


def requirements_in_scope(department_ids: set[int] | None):
    """A condition limiting requirements to those of some departments (None: all)."""
    if department_ids is None:
        return true()
    return exists().where(requirement_departments.c.requirement_id == Requirement.id,
                          requirement_departments.c.department_id.in_(sorted(department_ids) or [-1]))


PRIORITY_ORDER = {p: i for i, p in enumerate(PRIORITIES)}


def specification(department_ids: set[int] | None = None) -> list[tuple[str, list[tuple[str, list]]]]:
    """Open requirements grouped by department, then priority (for the specification PDF)."""
    query = (select(Requirement).where(Requirement.status.in_((PROPOSED, ACCEPTED, IMPLEMENTED)),
                                       requirements_in_scope(department_ids))
             .options(db.selectinload(Requirement.departments), db.selectinload(Requirement.evidence)
                      .joinedload(RequirementEvidence.highlight).joinedload(Highlight.interview)
                      .options(db.joinedload(Interview.department),
                               db.selectinload(Interview.interviewees).joinedload(InterviewInterviewee.user)),
                      db.selectinload(Requirement.evidence).joinedload(RequirementEvidence.answer)
                      .joinedload(SurveyAnswer.question),
                      db.selectinload(Requirement.evidence).joinedload(RequirementEvidence.answer)
                      .joinedload(SurveyAnswer.response).options(db.joinedload(SurveyResponse.department),
                                                                 db.joinedload(SurveyResponse.survey)))
             .order_by(Requirement.id))
    groups: dict[str | None, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for requirement in db.session.scalars(query).unique():
        for name in [d.name for d in requirement.departments] or [None]:
            groups[name][requirement.priority].append(requirement)
    # Departments by name, then the requirements that name none: they are not one more department.
    order = sorted(groups, key=lambda name: (name is None, name or ""))
    return [(name or _("No department"), [(p, groups[name][p]) for p in PRIORITIES if groups[name].get(p)])
            for name in order]


# --- coverage --------------------------------------------------------------------------------
@dataclass
class CoverageCell:
    """One department × business role of the coverage matrix, counted by person."""
    people: int = 0
    #: people invited to any survey, and how many of them answered at least one
    invitees: int = 0
    responses: int = 0
    #: sessions that list one of these people among their interviewees (a session per person heard in it)
    interviews: int = 0
    requirements: int = 0
    #: people heard (see ``heard_clause``)
    heard: int = 0

    @property
    def is_heard(self) -> bool:
        return self.heard > 0

    @property
    def unheard(self) -> int:
        return self.people - self.heard


@dataclass
class Coverage:
    departments: list[Department]
    roles: tuple[str, ...]
    cells: dict
    #: sessions in these departments that name no account, so count for nobody
    unlinked_sessions: int = 0

    @property
    def people(self) -> int:
        """Everyone the matrix counts (no one yet in a new company)."""
        return sum(cell.people for cell in self.cells.values())

    def cell(self, department_id: int, role: str) -> CoverageCell | None:
        return self.cells.get((department_id, role))

    @property
    def percent(self) -> float:
        if not self.cells:
            return 0.0
        return round(100 * sum(c.is_heard for c in self.cells.values()) / len(self.cells), 1)


def heard_clause():
    """The one rule of coverage, as SQL on ``User``: a person is heard once they answered a survey or
    were picked as one of a session's interviewees (everyone of a group interview is heard). A session
    with only a typed name counts for nobody: it cannot say which people spoke, and the matrix, its
    percentage and the unheard list must agree."""
    return exists().where(SurveyInvitation.user_id == User.id, SurveyInvitation.has_responded.is_(True)) | \
        exists().where(InterviewInterviewee.user_id == User.id)


class DepartmentName(NamedTuple):
    id: int
    name: str


class CoveragePerson(NamedTuple):
    """A person on the coverage page, read as plain columns (not a ``User``: the page lists thousands)."""
    id: int
    username: str
    display_name: str
    department_id: int
    department: DepartmentName
    roles: frozenset[str]
    #: The department whose row of the coverage matrix counts this person.
    home_id: int

    @property
    def business_role(self) -> str | None:
        """The matrix column that counts this person: head before staff."""
        return next((role for role in COVERAGE_ROLES if role in self.roles), None)


def _business_role_column():
    """SQL for business_role(): the first of COVERAGE_ROLES the user holds, else NULL."""
    return case(*[(exists().where(UserRole.user_id == User.id, UserRole.role == role), role)
                  for role in COVERAGE_ROLES], else_=None)


def _home_departments() -> dict[int, int | None]:
    """Every department's and team's home department, worked out once per call."""
    return {department_id: home_department_id(department_id)
            for department_id in db.session.scalars(select(Department.id))}


def _people_cells(department_ids: set[int] | None,
                  home_of: dict[int, int | None]) -> dict[tuple[int, str], CoverageCell]:
    """Active people per (home department, business role) with how many of them were invited, answered,
    interviewed and heard: one grouped statement, each person counted where they work now."""
    def flag(condition):
        return case((condition, 1), else_=0)

    # Grouped outside the subquery: PostgreSQL does not treat two copies of a CASE with bound
    # parameters as the same expression.
    people = (select(User.department_id.label("department_id"), _business_role_column().label("role"),
                     flag(exists().where(SurveyInvitation.user_id == User.id)).label("invited"),
                     flag(exists().where(SurveyInvitation.user_id == User.id,
                                         SurveyInvitation.has_responded.is_(True))).label("responded"),
                     select(func.count()).select_from(InterviewInterviewee)
                     .where(InterviewInterviewee.user_id == User.id).scalar_subquery().label("interviews"),
                     flag(heard_clause()).label("heard"))
              .where(User.is_active_account.is_(True), User.department_id.is_not(None)).subquery())
    cells: dict[tuple[int, str], CoverageCell] = defaultdict(CoverageCell)
    for department_id, role, count, invited, responded, interviews, heard in db.session.execute(
            select(people.c.department_id, people.c.role, func.count(), func.sum(people.c.invited),
                   func.sum(people.c.responded), func.sum(people.c.interviews), func.sum(people.c.heard))
            .where(people.c.role.is_not(None)).group_by(people.c.department_id, people.c.role)):
        home = home_of.get(department_id)
        if home is not None and (department_ids is None or home in department_ids):
            cell = cells[(home, role)]
            cell.people += count
            cell.invitees += int(invited or 0)
            cell.responses += int(responded or 0)
            cell.interviews += int(interviews or 0)
            cell.heard += int(heard or 0)
    return dict(cells)


def coverage_matrix(department_ids: set[int] | None = None) -> Coverage:
    """Departments × business roles with invitees, responses, interviews and requirements.

    A cell exists where the department has people in that role; it is heard once one of them is
    (``heard_clause``). ``department_ids`` limits it to some departments.
    """
    departments = db.session.scalars(select(Department).where(Department.kind == "department")
                                     .order_by(Department.name)).all()
    if department_ids is not None:
        departments = [d for d in departments if d.id in department_ids]
    wanted = {d.id for d in departments}
    home_of = _home_departments()
    cells = _people_cells(wanted, home_of)
    requirement_rows = db.session.execute(
        select(requirement_departments.c.department_id, Requirement.roles)
        .join(Requirement, Requirement.id == requirement_departments.c.requirement_id)
        .where(Requirement.status != MERGED)).all()
    for department_id, roles in requirement_rows:
        home = home_of.get(department_id)
        for role in (roles or COVERAGE_ROLES):
            if (home, role) in cells:
                cells[(home, role)].requirements += 1
    unlinked = sum(count for department_id, count in db.session.execute(
        select(Interview.department_id, func.count())
        .where(~exists().where(InterviewInterviewee.interview_id == Interview.id))
        .group_by(Interview.department_id)) if home_of.get(department_id) in wanted)
    return Coverage(departments=departments, roles=COVERAGE_ROLES, cells=cells, unlinked_sessions=unlinked)


def coverage_percent(department_id: int | None = None) -> float:
    """Share (0–100) of department × role cells that have been heard, company-wide or for one department."""
    scope = subtree_ids(department_id) if department_id is not None else None
    return coverage_matrix(scope).percent


def unheard_people(department_ids: set[int] | None = None, home_id: int | None = None,
                   role: str | None = None) -> list[CoveragePerson]:
    """People in business roles not heard yet (``heard_clause``), by department and name.

    ``home_id`` and ``role`` narrow it to one cell of the coverage matrix (a department's row and a
    business role's column).
    """
    home_of = _home_departments()
    conditions = [User.is_active_account.is_(True), User.department_id.is_not(None),
                  exists().where(UserRole.user_id == User.id, UserRole.role.in_(COVERAGE_ROLES)),
                  ~heard_clause()]
    if department_ids is not None:
        units = sorted(unit for unit, home in home_of.items() if home in department_ids)
        conditions.append(User.department_id.in_(units))
    roles: dict[int, set[str]] = defaultdict(set)
    for user_id, user_role in db.session.execute(select(UserRole.user_id, UserRole.role).where(
            UserRole.user_id.in_(select(User.id).where(*conditions)))):
        roles[user_id].add(user_role)
    rows = db.session.execute(select(User.id, User.username, User.display_name, User.department_id, Department.name)
                              .join(Department, Department.id == User.department_id).where(*conditions)
                              .order_by(User.id))
    people = [CoveragePerson(user_id, username, display_name, department_id,
                             DepartmentName(department_id, department_name), frozenset(roles[user_id]),
                             home_of[department_id])
              for user_id, username, display_name, department_id, department_name in rows
              if home_of.get(department_id) is not None]
    return in_cell(sorted(people, key=lambda person: (person.department.name, person.display_name)), home_id, role)


def in_cell(people: list[CoveragePerson], home_id: int | None = None, role: str | None = None) -> list[CoveragePerson]:
    """Those of ``people`` that one cell, row (``role`` None) or column (``home_id`` None) of the
    coverage matrix counts."""
    return [person for person in people if home_id in (None, person.home_id) and role in (None, person.business_role)]


def unheard_counts(people: list[CoveragePerson]) -> Counter:
    """How many of ``people`` each cell of the coverage matrix counts, by (home department, role)."""
    return Counter((person.home_id, person.business_role) for person in people)


def invite_unheard(survey: Survey, department_ids: set[int] | None = None, home_id: int | None = None,
                   role: str | None = None) -> list[SurveyInvitation]:
    """One action from the coverage page: invite everyone not heard yet (or those of one cell) to an open survey."""
    if survey.status != OPEN:
        raise ServiceError(_("Choose an open survey."), "survey_id")
    ids = [person.id for person in unheard_people(department_ids, home_id, role)]
    users: dict[int, User] = {}
    for start in range(0, len(ids), 500):
        users.update((user.id, user) for user in db.session.scalars(select(User).where(User.id.in_(ids[start:start + 500]))))
    return invite(survey, [users[user_id] for user_id in ids])


def requirements_from(answer_ids=(), highlight_ids=()) -> dict[tuple[str, int], list[Requirement]]:
    """The requirements each survey answer or interview highlight became, by ("answer"|"highlight", id),
    in one query: the results and interview pages show them beside their evidence."""
    conditions = []
    if answer_ids:
        conditions.append(RequirementEvidence.answer_id.in_(list(answer_ids)))
    if highlight_ids:
        conditions.append(RequirementEvidence.highlight_id.in_(list(highlight_ids)))
    if not conditions:
        return {}
    rows = db.session.execute(select(RequirementEvidence.answer_id, RequirementEvidence.highlight_id, Requirement)
                              .join(Requirement, Requirement.id == RequirementEvidence.requirement_id)
                              .where(or_(*conditions)).order_by(Requirement.id))
    found: dict[tuple[str, int], list[Requirement]] = {}
    for answer_id, highlight_id, requirement in rows:
        key = ("answer", answer_id) if answer_id is not None else ("highlight", highlight_id)
        found.setdefault(key, []).append(requirement)
    return found
