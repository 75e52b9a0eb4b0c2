"""Surveys, invitations and responses; interviews with highlights; the requirements backlog."""
from __future__ import annotations

import importlib.util
import secrets
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (JSON, Boolean, CheckConstraint, Column, Date, DateTime, ForeignKey, Index, Integer,
                        String, Table, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollout.accounts.models import Department, User
from rollout.database import one_of
from rollout.extensions import db
from rollout.timeutil import utcnow

# --- survey definitions ---------------------------------------------------------
SINGLE, MULTIPLE, TEXT, LONG_TEXT = "single", "multiple", "text", "long_text"
INTEGER, DECIMAL, DATE = "integer", "decimal", "date"
RATING5, RATING10, LIKERT, RANKING, NOTE = "rating5", "rating10", "likert", "ranking", "note"
QUESTION_TYPES = (SINGLE, MULTIPLE, TEXT, LONG_TEXT, INTEGER, DECIMAL, DATE, RATING5, RATING10, LIKERT,
                  RANKING, NOTE)
#: Types whose answers pick from the question's options.
CHOICE_TYPES = (SINGLE, MULTIPLE, LIKERT, RANKING)

DRAFT, OPEN, CLOSED = "draft", "open", "closed"
SURVEY_STATUSES = (DRAFT, OPEN, CLOSED)
SURVEY_STATUS_LABELS = {DRAFT: _l("Draft"), OPEN: _l("Open"), CLOSED: _l("Closed")}
RECURRENCES = ("monthly",)


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Survey(db.Model):
    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint(one_of("status", SURVEY_STATUSES), name="status"),
        CheckConstraint("recurrence IS NULL OR " + one_of("recurrence", RECURRENCES), name="recurrence"),
        CheckConstraint("closes_on IS NULL OR opens_on IS NULL OR closes_on >= opens_on", name="dates"),
        UniqueConstraint("series_id", "occurrence_on"),
        Index("ix_surveys_status_created", "status", "created_at"),
    )
    __field_labels__ = {
        "is_anonymous": _l("Anonymous"), "opens_on": _l("Opens on"), "closes_on": _l("Closes on"),
        "audience_roles": _l("Target roles"), "previous_version_id": _l("Previous version"),
        "recurrence": _l("Recurrence"), "series_id": _l("Survey series"), "occurrence_on": _l("Period start"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: draft → open → closed (→ open again); see services.SURVEY_TRANSITIONS.
    status: Mapped[str] = mapped_column(String(20), default=DRAFT)
    #: Anonymous: the person ↔ response link is never stored, times only to the day.
    is_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    opens_on: Mapped[date | None] = mapped_column(Date)
    closes_on: Mapped[date | None] = mapped_column(Date)
    #: Department that owns the survey (its head may manage it); None for company-wide.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: Roles invited; empty means every role in the target departments.
    audience_roles: Mapped[list] = mapped_column(JSON, default=list)
    #: 1 for the first definition; a survey with answers that must change gets a new version.
    version: Mapped[int] = mapped_column(Integer, default=1)
    previous_version_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id"))
    #: "monthly" for a recurring survey (pulse); occurrences share series_id.
    recurrence: Mapped[str | None] = mapped_column(String(20))
    #: The first survey of a recurring series (itself for the first occurrence).
    series_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id"), index=True)
    #: Start of the period this occurrence covers (recurring surveys).
    occurrence_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    department: Mapped[Department | None] = relationship()
    owner: Mapped[User | None] = relationship()
    sections: Mapped[list[SurveySection]] = relationship(
        back_populates="survey", order_by="SurveySection.position", cascade="all, delete-orphan")
    questions: Mapped[list[Question]] = relationship(
        back_populates="survey", order_by="Question.position", cascade="all, delete-orphan")
    audience_departments: Mapped[list[Department]] = relationship(secondary="survey_audience_departments")

    @property
    def access_department_id(self) -> int | None:
        return self.department_id

    def __str__(self) -> str:
        return self.title


survey_audience_departments = Table(
    "survey_audience_departments", db.metadata,
    Column("survey_id", ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class SurveySection(db.Model):
    __tablename__ = "survey_sections"
    __entity_label__ = _l("Survey section")
    __field_labels__ = {"survey_id": _l("Survey"), "title_zh": _l("Chinese title"), "title_en": _l("English title")}

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: Machine name (XLSForm group name).
    name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    title_zh: Mapped[str | None] = mapped_column(String(200))
    title_en: Mapped[str | None] = mapped_column(String(200))

    survey: Mapped[Survey] = relationship(back_populates="sections")


class Question(db.Model):
    __tablename__ = "survey_questions"
    __entity_label__ = _l("Survey question")
    __table_args__ = (
        UniqueConstraint("survey_id", "name"),
        CheckConstraint(one_of("type", QUESTION_TYPES), name="type"),
        CheckConstraint(one_of("condition_join", ("and", "or")), name="condition_join"),
        Index("ix_survey_questions_survey_position", "survey_id", "position"),
    )
    __field_labels__ = {
        "survey_id": _l("Survey"), "section_id": _l("Section"), "type": _l("Question type"),
        "label_zh": _l("Chinese wording"), "label_en": _l("English wording"), "hint": _l("Help text"),
        "conditions": _l("Display conditions"), "condition_join": _l("Condition logic"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("survey_sections.id", ondelete="SET NULL"),
                                                   index=True)
    #: Order in the whole survey; skip logic may only look at lower positions.
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: Machine name, unique in the survey (XLSForm name, skip-logic reference).
    name: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(Text)
    label_zh: Mapped[str | None] = mapped_column(Text)
    label_en: Mapped[str | None] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(Text, default="")
    is_required: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Skip logic: [{"question": name, "op": "equals"|"not_equals"|"selected", "value": str}, ...]
    conditions: Mapped[list] = mapped_column(JSON, default=list)
    #: How conditions combine: "and" or "or".
    condition_join: Mapped[str] = mapped_column(String(3), default="and")

    survey: Mapped[Survey] = relationship(back_populates="questions")
    section: Mapped[SurveySection | None] = relationship()
    options: Mapped[list[QuestionOption]] = relationship(
        back_populates="question", order_by=lambda: (QuestionOption.is_row, QuestionOption.position),
        cascade="all, delete-orphan")

    @property
    def choices(self) -> list[QuestionOption]:
        return [o for o in self.options if not o.is_row]

    @property
    def rows(self) -> list[QuestionOption]:
        """The statements of a Likert matrix."""
        return [o for o in self.options if o.is_row]


class QuestionOption(db.Model):
    """A choice of a question, or (``is_row``) a statement of a Likert matrix."""

    __tablename__ = "survey_question_options"
    __entity_label__ = _l("Question option")
    __table_args__ = (UniqueConstraint("question_id", "is_row", "value"),)
    __field_labels__ = {
        "question_id": _l("Question"), "is_row": _l("Matrix statement"), "value": _l("Option value"),
        "label_zh": _l("Chinese wording"), "label_en": _l("English wording"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_questions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_row: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Stored in answers and in skip-logic conditions.
    value: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(300))
    label_zh: Mapped[str | None] = mapped_column(String(300))
    label_en: Mapped[str | None] = mapped_column(String(300))

    question: Mapped[Question] = relationship(back_populates="options")


# --- invitations and responses --------------------------------------------------------
class SurveyInvitation(db.Model):
    """One invitee's personal link. Not audited row by row: in anonymous surveys the
    trail would otherwise tie the moment someone answered to the response written then."""

    __tablename__ = "survey_invitations"
    __audit__ = False
    __table_args__ = (
        UniqueConstraint("survey_id", "user_id"),
        Index("ix_survey_invitations_survey_dept_role", "survey_id", "department_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: Secret in the personal link.
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    #: The invitee's home department and business role when invited (progress, coverage).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    role: Mapped[str | None] = mapped_column(String(20))
    invited_on: Mapped[date] = mapped_column(Date)
    reminder_count: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_on: Mapped[date | None] = mapped_column(Date)
    #: The only trace of answering in an anonymous survey.
    has_responded: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Day of the answer (never finer).
    responded_on: Mapped[date | None] = mapped_column(Date)
    #: Answers saved but not yet submitted (erased on submit).
    draft_answers: Mapped[dict | None] = mapped_column(JSON)
    draft_saved_on: Mapped[date | None] = mapped_column(Date)

    survey: Mapped[Survey] = relationship()
    user: Mapped[User] = relationship()
    department: Mapped[Department | None] = relationship()


class SurveyResponse(db.Model):
    """A submitted response. In anonymous surveys invitation_id and respondent_id stay NULL,
    role is not kept and only the day is stored."""

    __tablename__ = "survey_responses"
    __audit__ = False
    __table_args__ = (
        UniqueConstraint("invitation_id"),
        Index("ix_survey_responses_survey_dept", "survey_id", "department_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("survey_invitations.id", ondelete="SET NULL"))
    respondent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: Home department of the respondent (results per department, trends).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    role: Mapped[str | None] = mapped_column(String(20))
    submitted_on: Mapped[date] = mapped_column(Date)
    #: Exact time, only for named surveys.
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)

    survey: Mapped[Survey] = relationship()
    respondent: Mapped[User | None] = relationship()
    department: Mapped[Department | None] = relationship()
    answers: Mapped[list[SurveyAnswer]] = relationship(back_populates="response", cascade="all, delete-orphan")

    @property
    def access_department_id(self) -> int | None:
        return self.survey.department_id


class SurveyAnswer(db.Model):
    __tablename__ = "survey_answers"
    __audit__ = False
    __table_args__ = (UniqueConstraint("response_id", "question_id"),
                      Index("ix_survey_answers_question", "question_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_questions.id", ondelete="CASCADE"))
    #: The checked value: str, number, list of option values, or {row: option value} for Likert.
    value: Mapped[object] = mapped_column(JSON)

    response: Mapped[SurveyResponse] = relationship(back_populates="answers")
    question: Mapped[Question] = relationship()


# --- interviews ---------------------------------------------------------------------
INTERVIEW, WORKSHOP, OBSERVATION = "interview", "workshop", "observation"
INTERVIEW_METHODS = (INTERVIEW, WORKSHOP, OBSERVATION)


class Interview(db.Model):
    """An interview, workshop or field observation session."""

    __tablename__ = "interviews"
    __entity_label__ = _l("Interview")
    __table_args__ = (
        CheckConstraint(one_of("method", INTERVIEW_METHODS), name="method"),
        Index("ix_interviews_held_on", "held_on"),
    )
    __field_labels__ = {"interviewee": _l("Interviewee(s)"), "interviewee_id": _l("First interviewee"),
                        "method": _l("Method")}

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    #: Who was interviewed or observed, as written (may be several people).
    interviewee: Mapped[str] = mapped_column(String(200))
    #: The first listed interviewee's account. Who was heard is ``interviewees`` (one row per account);
    #: this copy of the first keeps a session readable by a release from before group interviews.
    interviewee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    #: The role the session speaks for: the one business role all its interviewees share, or, when no
    #: account is linked, the role as described; None for several roles.
    role: Mapped[str | None] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(20), default=INTERVIEW)
    held_on: Mapped[date] = mapped_column(Date)
    interviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    notes_markdown: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    department: Mapped[Department] = relationship()
    interviewer: Mapped[User | None] = relationship(foreign_keys=[interviewer_id])
    interviewee_user: Mapped[User | None] = relationship(foreign_keys=[interviewee_id])
    highlights: Mapped[list[Highlight]] = relationship(back_populates="interview", order_by="Highlight.id",
                                                       cascade="all, delete-orphan")
    #: The accounts heard in the session (a group interview has several); coverage counts each.
    interviewees: Mapped[list[InterviewInterviewee]] = relationship(
        back_populates="interview", order_by="InterviewInterviewee.user_id", cascade="all, delete-orphan")

    @property
    def access_owner_id(self) -> int | None:
        return self.interviewer_id

    @property
    def people(self) -> list[InterviewInterviewee]:
        """The linked interviewees, the first listed one first, then by name."""
        return sorted(self.interviewees, key=lambda row: (row.user_id != self.interviewee_id,
                                                          row.user.display_name if row.user else "", row.user_id))

    @property
    def roles(self) -> list[str]:
        """The business roles the session heard: each linked person's, else the role described."""
        if self.interviewees:
            return sorted({row.role for row in self.interviewees if row.role})
        return [self.role] if self.role else []


class InterviewInterviewee(db.Model):
    """One account heard in a session, with the business role it speaks for there."""

    __tablename__ = "interview_interviewees"
    __entity_label__ = _l("Interviewee")
    __field_labels__ = {"interview_id": _l("Interview"), "user_id": _l("Interviewee"), "role": _l("Role")}

    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    role: Mapped[str | None] = mapped_column(String(20))

    interview: Mapped[Interview] = relationship(back_populates="interviewees")
    user: Mapped[User] = relationship()

    @property
    def access_department_id(self) -> int | None:
        return self.interview.department_id if self.interview is not None else None


class Highlight(db.Model):
    """A quoted passage from an interview's notes, tagged."""

    __tablename__ = "interview_highlights"
    __entity_label__ = _l("Interview highlight")
    __field_labels__ = {"interview_id": _l("Interview"), "quote": _l("Quoted words")}

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"), index=True)
    quote: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    interview: Mapped[Interview] = relationship(back_populates="highlights")
    tag_rows: Mapped[list[HighlightTag]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                        order_by="HighlightTag.tag")

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]

    @property
    def access_department_id(self) -> int:
        return self.interview.department_id


class HighlightTag(db.Model):
    __tablename__ = "interview_highlight_tags"
    __entity_label__ = _l("Highlight tag")
    __field_labels__ = {"highlight_id": _l("Highlight")}

    highlight_id: Mapped[int] = mapped_column(ForeignKey("interview_highlights.id", ondelete="CASCADE"),
                                              primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True, index=True)


# --- requirements -----------------------------------------------------------------------
PRIORITIES = ("must", "should", "could", "wont")
PROPOSED, ACCEPTED, REJECTED, IMPLEMENTED, MERGED = "proposed", "accepted", "rejected", "implemented", "merged"
REQUIREMENT_STATUSES = (PROPOSED, ACCEPTED, REJECTED, IMPLEMENTED, MERGED)
REQUIREMENT_STATUS_LABELS = {PROPOSED: _l("Proposed"), ACCEPTED: _l("Accepted"), REJECTED: _l("Rejected"),
                             IMPLEMENTED: _l("Implemented"), MERGED: _l("Merged")}


requirement_departments = Table(
    "requirement_departments", db.metadata,
    Column("requirement_id", ForeignKey("requirements.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Requirement(db.Model):
    __tablename__ = "requirements"
    __table_args__ = (
        CheckConstraint(one_of("priority", PRIORITIES), name="priority"),
        CheckConstraint(one_of("status", REQUIREMENT_STATUSES), name="status"),
        CheckConstraint("(status = 'merged') = (merged_into_id IS NOT NULL)", name="merged"),
        Index("ix_requirements_status_priority", "status", "priority"),
    )
    __field_labels__ = {"merged_into_id": _l("Merged into")}

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: MoSCoW: must, should, could, wont.
    priority: Mapped[str] = mapped_column(String(10), default="should")
    #: proposed → accepted | rejected; accepted → implemented; any open one → merged.
    status: Mapped[str] = mapped_column(String(20), default=PROPOSED)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: Business roles the requirement came from (head, staff, ...).
    roles: Mapped[list] = mapped_column(JSON, default=list)
    #: The requirement this duplicate was merged into.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("requirements.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    owner: Mapped[User | None] = relationship()
    departments: Mapped[list[Department]] = relationship(secondary=requirement_departments,
                                                         order_by="Department.name")
    evidence: Mapped[list[RequirementEvidence]] = relationship(
        back_populates="requirement", order_by="RequirementEvidence.id", cascade="all, delete-orphan")
    merged_into: Mapped[Requirement | None] = relationship(remote_side=[id])

    @property
    def department_ids(self) -> set[int]:
        return {d.id for d in self.departments}

    @property
    def access_owner_id(self) -> int | None:
        return self.owner_id

    def __str__(self) -> str:
        return self.title


class RequirementEvidence(db.Model):
    """Where a requirement came from: a survey answer or an interview highlight."""

    __tablename__ = "requirement_evidence"
    __entity_label__ = _l("Requirement evidence")
    __table_args__ = (
        CheckConstraint("(answer_id IS NULL) <> (highlight_id IS NULL)", name="one_source"),
        UniqueConstraint("requirement_id", "answer_id"),
        UniqueConstraint("requirement_id", "highlight_id"),
    )
    __field_labels__ = {"requirement_id": _l("Requirement"), "answer_id": _l("Survey answer"),
                        "highlight_id": _l("Interview highlight")}

    id: Mapped[int] = mapped_column(primary_key=True)
    requirement_id: Mapped[int] = mapped_column(ForeignKey("requirements.id", ondelete="CASCADE"), index=True)
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("survey_answers.id", ondelete="CASCADE"), index=True)
    highlight_id: Mapped[int | None] = mapped_column(ForeignKey("interview_highlights.id", ondelete="CASCADE"),
                                                     index=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    requirement: Mapped[Requirement] = relationship(back_populates="evidence")
    answer: Mapped[SurveyAnswer | None] = relationship()
    highlight: Mapped[Highlight | None] = relationship()


#: Requirements ↔ process-map nodes; defined only once the process-map tables exist.
HAS_PROCESS_MAPS = importlib.util.find_spec("processmaps") is not None and \
    importlib.util.find_spec("processmaps.models") is not None

if HAS_PROCESS_MAPS:
    importlib.import_module("processmaps.models")
    requirement_nodes = Table(
        "requirement_nodes", db.metadata,
        Column("requirement_id", ForeignKey("requirements.id", ondelete="CASCADE"), primary_key=True),
        Column("node_id", ForeignKey("process_nodes.id", ondelete="CASCADE"), primary_key=True, index=True),
    )
else:
    requirement_nodes = None
