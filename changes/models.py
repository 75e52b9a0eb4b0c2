"""Change requests, their transitions and attachments; review cadences, windows, freezes, releases."""
from __future__ import annotations

from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import (JSON, Boolean, CheckConstraint, Column, Date, DateTime, ForeignKey, Index, Integer,
                        String, Table, Text, Time, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from processmaps.models import ProcessNode
from rollout.accounts.models import Department, User
from surveys.models import Requirement
from rollout.database import one_of
from rollout.extensions import db
from rollout.timeutil import utcnow

KINDS = ("standard", "normal", "emergency")
URGENCIES = ("low", "medium", "high", "critical")
IMPACTS = ("low", "medium", "high")
#: Risk levels, lowest first; a request's risk_rank is the index here.
RISK_LEVELS = ("low", "medium", "high", "critical")
STATES = ("draft", "submitted", "assessed", "awaiting_window", "approved", "rejected", "deferred",
          "scheduled", "implementing", "implemented", "reviewed", "closed", "cancelled")
RELEASE_STATES = ("planned", "implemented")


change_request_departments = Table(
    "change_request_departments", db.metadata,
    Column("change_request_id", ForeignKey("change_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True, index=True),
)

change_request_nodes = Table(
    "change_request_nodes", db.metadata,
    Column("change_request_id", ForeignKey("change_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("node_id", ForeignKey("process_nodes.id", ondelete="CASCADE"), primary_key=True, index=True),
)

change_request_requirements = Table(
    "change_request_requirements", db.metadata,
    Column("change_request_id", ForeignKey("change_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("requirement_id", ForeignKey("requirements.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class ReviewCadence(db.Model):
    """A rule that produces review windows: every N weeks on a weekday, with a submission cutoff."""

    __tablename__ = "review_cadences"
    __entity_label__ = _l("Review cadence")
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="ck_review_cadences_weekday"),
        CheckConstraint("every_n_weeks BETWEEN 1 AND 12", name="ck_review_cadences_every"),
        CheckConstraint("cutoff_hours BETWEEN 0 AND 336", name="ck_review_cadences_cutoff"),
        CheckConstraint("duration_minutes BETWEEN 15 AND 480", name="ck_review_cadences_duration"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ck_review_cadences_range"),
    )
    __field_labels__ = {
        "weekday": _l("Weekday"), "every_n_weeks": _l("Every N weeks"), "start_time": _l("Start time"),
        "duration_minutes": _l("Duration (minutes)"), "cutoff_hours": _l("Submission cutoff (hours before)"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Shown on each window, e.g. 变更评审会.
    name: Mapped[str] = mapped_column(String(100))
    #: 0 = Monday … 6 = Sunday.
    weekday: Mapped[int] = mapped_column(Integer)
    every_n_weeks: Mapped[int] = mapped_column(Integer, default=1)
    #: First day the cadence may produce a window.
    starts_on: Mapped[date] = mapped_column(Date)
    #: Last day it may produce one (None: open-ended).
    ends_on: Mapped[date | None] = mapped_column(Date)
    #: Local start time of each window (display timezone).
    start_time: Mapped[time] = mapped_column(Time)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    #: Requests must be submitted this many hours before a window to be on its agenda.
    cutoff_hours: Mapped[int] = mapped_column(Integer, default=24)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ReviewWindow(db.Model):
    """One review meeting: its agenda is the requests placed on it."""

    __tablename__ = "review_windows"
    __entity_label__ = _l("Review window")
    __table_args__ = (
        UniqueConstraint("cadence_id", "starts_at"),
        CheckConstraint("ends_at > starts_at", name="ck_review_windows_times"),
        CheckConstraint("cutoff_at <= starts_at", name="ck_review_windows_cutoff"),
        Index("ix_review_windows_open", "closed_at", "starts_at"),
    )
    __field_labels__ = {
        "cadence_id": _l("Review cadence"), "starts_at": _l("Starts at"), "ends_at": _l("Ends at"),
        "cutoff_at": _l("Submission cutoff"), "agenda_sent_at": _l("Agenda sent at"), "minutes_markdown": _l("Minutes"),
        "sequence": _l("Calendar sequence"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    cadence_id: Mapped[int | None] = mapped_column(ForeignKey("review_cadences.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    #: UTC start and end of the meeting.
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    #: Requests submitted after this go to the following window.
    cutoff_at: Mapped[datetime] = mapped_column(DateTime)
    #: When reviewers were sent the agenda.
    agenda_sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Minutes recorded when the window is closed (Markdown).
    minutes_markdown: Mapped[str | None] = mapped_column(Text)
    #: iCalendar SEQUENCE: raised on every change so calendars update the event.
    sequence: Mapped[int] = mapped_column(Integer, default=0)

    cadence: Mapped[ReviewCadence | None] = relationship()
    closed_by: Mapped[User | None] = relationship()

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class FreezePeriod(db.Model):
    """Days (inclusive) in which no normal change may be scheduled, e.g. around a go-live."""

    __tablename__ = "freeze_periods"
    __entity_label__ = _l("Freeze period")
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="ck_freeze_periods_range"),
        Index("ix_freeze_periods_range", "starts_on", "ends_on"),
    )
    __field_labels__ = {"sequence": _l("Calendar sequence")}

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sequence: Mapped[int] = mapped_column(Integer, default=0)


class Release(db.Model):
    """One phased rollout iteration: approved requests shipped together on a date outside any freeze."""

    __tablename__ = "releases"
    __entity_label__ = _l("Release")
    __table_args__ = (
        CheckConstraint(one_of("state", RELEASE_STATES), name="ck_releases_state"),
        Index("ix_releases_state_planned", "state", "planned_on"),
    )
    __field_labels__ = {"implemented_at": _l("Implemented at"), "sequence": _l("Calendar sequence")}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    planned_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default="planned")
    #: Release notes (Markdown), generated from its requests and editable.
    notes_markdown: Mapped[str] = mapped_column(Text, default="")
    implemented_at: Mapped[datetime | None] = mapped_column(DateTime)
    implemented_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sequence: Mapped[int] = mapped_column(Integer, default=0)

    requests: Mapped[list["ChangeRequest"]] = relationship(back_populates="release", order_by="ChangeRequest.id")

    @property
    def is_implemented(self) -> bool:
        return self.state == "implemented"


class ChangeRequest(db.Model):
    """A wish to change the rolled-out system or its processes, with its risk and place in the rhythm."""

    __tablename__ = "change_requests"
    __table_args__ = (
        CheckConstraint(one_of("kind", KINDS), name="ck_change_requests_kind"),
        CheckConstraint(one_of("urgency", URGENCIES), name="ck_change_requests_urgency"),
        CheckConstraint(one_of("impact", IMPACTS), name="ck_change_requests_impact"),
        CheckConstraint(one_of("state", STATES), name="ck_change_requests_state"),
        CheckConstraint(one_of("risk_level", RISK_LEVELS), name="ck_change_requests_risk"),
        CheckConstraint("risk_raised_level IS NULL OR " + one_of("risk_raised_level", RISK_LEVELS),
                        name="ck_change_requests_raised"),
        CheckConstraint("risk_rank BETWEEN 0 AND 3", name="ck_change_requests_rank"),
        CheckConstraint("deferral_count >= 0", name="ck_change_requests_deferrals"),
        Index("ix_change_requests_window_agenda", "window_id", "risk_rank", "submitted_at"),
        Index("ix_change_requests_state", "state", "id"),
        Index("ix_change_requests_department_state", "department_id", "state"),
        Index("ix_change_requests_requester", "requester_id", "created_at"),
    )
    __field_labels__ = {
        "urgency": _l("Urgency"), "impact": _l("Impact"), "wanted_on": _l("Wanted by"),
        "affected_roles": _l("Affected roles"), "has_permission_change": _l("Changes permissions"),
        "has_data_field_change": _l("Changes data fields"), "risk_level": _l("Computed risk"),
        "risk_reasons": _l("Risk reasons"), "risk_raised_level": _l("Raised risk"),
        "risk_raise_reason": _l("Reason for raising the risk"), "risk_rank": _l("Effective risk rank"),
        "window_id": _l("Review window"), "release_id": _l("Release"), "deferral_count": _l("Deferrals"),
        "decision_reason": _l("Decision reason"), "post_reviewed_at": _l("Reviewed again at"),
        "post_review_comment": _l("Review finding"), "implemented_at": _l("Implemented at"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Why the business needs it.
    reason: Mapped[str] = mapped_column(Text, default="")
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The requester's department when filed; decides who may see it.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    #: standard (pre-approved), normal (waits for a window) or emergency (decided at once).
    kind: Mapped[str] = mapped_column(String(20), default="normal")
    urgency: Mapped[str] = mapped_column(String(20), default="medium")
    impact: Mapped[str] = mapped_column(String(20), default="medium")
    state: Mapped[str] = mapped_column(String(20), default="draft")
    #: When the requester would like it live.
    wanted_on: Mapped[date | None] = mapped_column(Date)
    #: System roles (admin, lead, trainer, head, staff) whose work changes.
    affected_roles: Mapped[list] = mapped_column(JSON, default=list)
    has_permission_change: Mapped[bool] = mapped_column(Boolean, default=False)
    has_data_field_change: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Risk from the rules, and the rules that fired as [{"rule": ..., "detail": ...}].
    risk_level: Mapped[str] = mapped_column(String(20), default="low")
    risk_reasons: Mapped[list] = mapped_column(JSON, default=list)
    #: A reviewer's higher risk and why; never below the computed level when shown.
    risk_raised_level: Mapped[str | None] = mapped_column(String(20))
    risk_raise_reason: Mapped[str | None] = mapped_column(Text)
    #: Index of the effective (highest) risk level, kept for ordering agendas in SQL.
    risk_rank: Mapped[int] = mapped_column(Integer, default=0)
    #: The review window whose agenda holds it (or, for emergencies, that reviews it again).
    window_id: Mapped[int | None] = mapped_column(ForeignKey("review_windows.id", ondelete="SET NULL"))
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id", ondelete="SET NULL"), index=True)
    deferral_count: Mapped[int] = mapped_column(Integer, default=0)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    #: Emergencies: when a later window reviewed the decision again.
    post_reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    post_review_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    implemented_at: Mapped[datetime | None] = mapped_column(DateTime)

    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    department: Mapped[Department | None] = relationship()
    window: Mapped[ReviewWindow | None] = relationship()
    release: Mapped[Release | None] = relationship(back_populates="requests")
    affected_departments: Mapped[list[Department]] = relationship(
        secondary=change_request_departments, order_by="Department.name")
    #: Process-map steps the change touches.
    nodes: Mapped[list[ProcessNode]] = relationship(secondary=change_request_nodes, order_by="ProcessNode.id")
    requirements: Mapped[list[Requirement]] = relationship(secondary=change_request_requirements,
                                                           order_by="Requirement.id")
    transitions: Mapped[list["ChangeTransition"]] = relationship(
        back_populates="request", order_by="ChangeTransition.id", cascade="all, delete-orphan")
    attachments: Mapped[list["ChangeAttachment"]] = relationship(
        back_populates="request", order_by="ChangeAttachment.id", cascade="all, delete-orphan")

    @property
    def access_owner_id(self) -> int:
        return self.requester_id

    @property
    def effective_risk(self) -> str:
        return RISK_LEVELS[self.risk_rank]

    @property
    def reference(self) -> str:
        return f"CR-{self.id:04d}"


class ChangeTransition(db.Model):
    """One move of a request through its states: who, when, why."""

    __tablename__ = "change_transitions"
    __entity_label__ = _l("Change request status change")
    __table_args__ = (Index("ix_change_transitions_request", "request_id", "id"),
                      Index("ix_change_transitions_window", "window_id", "to_state"))
    __field_labels__ = {
        "request_id": _l("Change request"), "from_state": _l("Previous status"), "to_state": _l("New status"),
        "actor_id": _l("Handled by"), "window_id": _l("Review window"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id", ondelete="CASCADE"))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    #: None when the system moved it (cutoff roll-over, release implementation).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str] = mapped_column(Text, default="")
    #: The window in which a decision was taken, so deferrals keep their history.
    window_id: Mapped[int | None] = mapped_column(ForeignKey("review_windows.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    request: Mapped[ChangeRequest] = relationship(back_populates="transitions")
    actor: Mapped[User | None] = relationship()
    window: Mapped[ReviewWindow | None] = relationship()


class ChangeAttachment(db.Model):
    """A file attached to a request, stored outside the static folder under a random name."""

    __tablename__ = "change_attachments"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="ck_change_attachments_size"),
                      Index("ix_change_attachments_request", "request_id"))
    __field_labels__ = {
        "request_id": _l("Change request"), "original_name": _l("File name"), "stored_name": _l("Stored file name"),
        "content_type": _l("File type"), "size_bytes": _l("File size (bytes)"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id", ondelete="CASCADE"))
    #: The name the uploader's file had (shown and used for the download).
    original_name: Mapped[str] = mapped_column(String(255))
    #: Random file name inside UPLOAD_FOLDER/changes.
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    #: Type detected from the content, not from the browser's claim.
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    request: Mapped[ChangeRequest] = relationship(back_populates="attachments")

    @property
    def access_department_id(self) -> int | None:
        return self.request.department_id

    @property
    def access_owner_id(self) -> int:
        return self.request.requester_id
