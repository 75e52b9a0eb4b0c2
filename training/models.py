"""Training: tracks of courses per role and tier, sessions and enrolments, seed users'
support requests and the FAQ knowledge base."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (Boolean, CheckConstraint, Column, Date, DateTime, ForeignKey, Index, Integer, String, Table,
                        Text, UniqueConstraint)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollout.accounts.models import Department, User
from rollout.database import one_of
from rollout.extensions import db
from rollout.timeutil import utcnow

TIERS = ("basic", "advanced", "admin")
SESSION_KINDS = ("lecture", "hands_on", "drill", "qa")

SESSION_DRAFT = "draft"
SESSION_SCHEDULED = "scheduled"
SESSION_CANCELLED = "cancelled"
SESSION_STATUSES = (SESSION_DRAFT, SESSION_SCHEDULED, SESSION_CANCELLED)

ENROLLED = "enrolled"
WAITLISTED = "waitlisted"
CANCELLED = "cancelled"
ENROLMENT_STATUSES = (ENROLLED, WAITLISTED, CANCELLED)

ATTENDANCE = ("present", "late", "excused", "absent")
#: Attendance marks that count as having attended.
ATTENDED = ("present", "late")

SUPPORT_OPEN = "open"
SUPPORT_ESCALATED = "escalated"
SUPPORT_ANSWERED = "answered"
SUPPORT_SOLVED = "solved"
SUPPORT_STATUSES = (SUPPORT_OPEN, SUPPORT_ESCALATED, SUPPORT_ANSWERED, SUPPORT_SOLVED)
#: Statuses in which a request waits for an answer (from its seed user, or from the rollout team).
SUPPORT_WAITING = (SUPPORT_OPEN, SUPPORT_ESCALATED)

#: Modules of the sales-plan-tracking system an FAQ article can be filed under.
FAQ_MODULES = ("customers", "opportunities", "quotes", "plans", "reports", "mobile", "permissions", "data")


class Track(db.Model):
    """A learning path for one audience (a role, optionally within one department) and one tier."""

    __tablename__ = "training_tracks"
    __entity_label__ = _l("Track")
    __table_args__ = (
        CheckConstraint(one_of("tier", TIERS), name="tier_known"),
        CheckConstraint("due_days_before_go_live >= 0 AND seed_lead_days >= 0", name="due_days_positive"),
        Index("ix_training_tracks_audience", "role", "department_id"),
    )
    __field_labels__ = {
        "tier": _l("Tier"), "due_days_before_go_live": _l("Due days before go-live"),
        "seed_lead_days": _l("Seed user lead days"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    #: e.g. 销售代表-基础
    name: Mapped[str] = mapped_column(String(100), unique=True)
    tier: Mapped[str] = mapped_column(String(20), default="basic")
    description: Mapped[str] = mapped_column(Text, default="")
    #: The role this track is for (admin, lead, trainer, head, staff).
    role: Mapped[str] = mapped_column(String(20))
    #: Only people of this department (and its teams); None means everyone with the role.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    #: Required tracks count in the completion matrix and have a due date.
    is_required: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Due this many days before the department's go-live date.
    due_days_before_go_live: Mapped[int] = mapped_column(Integer, default=7)
    #: Seed users are due this many days earlier still: they help the others.
    seed_lead_days: Mapped[int] = mapped_column(Integer, default=7)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    department: Mapped[Department | None] = relationship()
    courses: Mapped[list[Course]] = relationship(back_populates="track", order_by="Course.position",
                                                 cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.name


class Course(db.Model):
    """One course of a track, in order; may require an earlier course first and may have a quiz."""

    __tablename__ = "training_courses"
    __entity_label__ = _l("Course")
    __table_args__ = (
        UniqueConstraint("track_id", "position"),
        CheckConstraint("pass_mark IS NULL OR (pass_mark >= 0 AND pass_mark <= 100)", name="pass_mark_percent"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
    )
    __field_labels__ = {
        "track_id": _l("Track"), "material_markdown": _l("Course material"),
        "duration_minutes": _l("Duration (minutes)"), "prerequisite_id": _l("Prerequisite"),
        "pass_mark": _l("Quiz pass mark (%)"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("training_tracks.id", ondelete="CASCADE"))
    #: Order within the track, from 1.
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    #: Course material in Markdown (rendered sanitised).
    material_markdown: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    #: A course that must be completed before this one.
    prerequisite_id: Mapped[int | None] = mapped_column(ForeignKey("training_courses.id", ondelete="SET NULL"))
    #: Percentage of right answers needed to pass the quiz (when there are questions).
    pass_mark: Mapped[int | None] = mapped_column(Integer)

    track: Mapped[Track] = relationship(back_populates="courses")
    prerequisite: Mapped[Course | None] = relationship(remote_side=[id])
    questions: Mapped[list[QuizQuestion]] = relationship(order_by="QuizQuestion.position",
                                                         cascade="all, delete-orphan", back_populates="course")
    attachments: Mapped[list[CourseAttachment]] = relationship(cascade="all, delete-orphan",
                                                               order_by="CourseAttachment.id")

    def __str__(self) -> str:
        return self.title


class CourseAttachment(db.Model):
    __tablename__ = "training_course_attachments"
    __entity_label__ = _l("Course attachment")
    __field_labels__ = {
        "course_id": _l("Course"), "filename": _l("File name"), "stored_name": _l("Stored file name"),
        "size": _l("File size (bytes)"), "uploaded_at": _l("Uploaded at"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("training_courses.id", ondelete="CASCADE"), index=True)
    #: The name the uploader gave the file (shown and used for the download).
    filename: Mapped[str] = mapped_column(String(255))
    #: Random name on disk under UPLOAD_FOLDER/training.
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class QuizQuestion(db.Model):
    __tablename__ = "training_quiz_questions"
    __entity_label__ = _l("Quiz question")
    __table_args__ = (CheckConstraint("correct_option >= 0", name="correct_option_positive"),)
    __field_labels__ = {
        "course_id": _l("Course"), "prompt": _l("Question"), "options_text": _l("Options"),
        "correct_option": _l("Correct option"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("training_courses.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=1)
    prompt: Mapped[str] = mapped_column(String(500))
    #: Answer options, one per line.
    options_text: Mapped[str] = mapped_column(Text)
    #: Index (from 0) of the right option.
    correct_option: Mapped[int] = mapped_column(Integer)

    course: Mapped[Course] = relationship(back_populates="questions")

    @property
    def options(self) -> list[str]:
        return [line.strip() for line in self.options_text.splitlines() if line.strip()]


class QuizAttempt(db.Model):
    __tablename__ = "training_quiz_attempts"
    __entity_label__ = _l("Quiz attempt")
    __table_args__ = (Index("ix_training_quiz_attempts_user_course", "user_id", "course_id"),)
    __field_labels__ = {"course_id": _l("Course"), "score": _l("Score (%)"), "is_passed": _l("Passed")}

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("training_courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: Percentage of right answers.
    score: Mapped[int] = mapped_column(Integer)
    is_passed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


session_departments = Table(
    "training_session_departments", db.metadata,
    Column("session_id", ForeignKey("training_sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)


class TrainingSession(db.Model):
    """A dated session of a course (or, for an after-change draft, of a release's changes)."""

    __tablename__ = "training_sessions"
    __table_args__ = (
        CheckConstraint(one_of("status", SESSION_STATUSES), name="status_known"),
        CheckConstraint(one_of("kind", SESSION_KINDS), name="kind_known"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("starts_at IS NULL OR ends_at IS NULL OR ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("status = 'draft' OR (starts_at IS NOT NULL AND ends_at IS NOT NULL)",
                        name="scheduled_has_times"),
        Index("ix_training_sessions_status_start", "status", "starts_at"),
        Index("ix_training_sessions_trainer_start", "trainer_id", "starts_at"),
    )
    __field_labels__ = {
        "course_id": _l("Course"), "description_markdown": _l("Description"), "starts_at": _l("Starts at"),
        "ends_at": _l("Ends at"), "location": _l("Location"), "online_url": _l("Online link"),
        "capacity": _l("Capacity"), "signup_deadline_at": _l("Sign-up deadline"),
        "cancel_deadline_at": _l("Cancellation deadline"), "target_roles": _l("Target roles"),
        "is_audience_only": _l("Only its audience may sign up"),
        "release_id": _l("Release"), "sequence": _l("Calendar sequence"), "reminded_at": _l("Reminder sent at"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("training_courses.id", ondelete="SET NULL"),
                                                  index=True)
    title: Mapped[str] = mapped_column(String(200))
    description_markdown: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20), default="lecture")
    status: Mapped[str] = mapped_column(String(20), default=SESSION_SCHEDULED)
    trainer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime | None] = mapped_column(DateTime)
    ends_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Room or place; sessions in the same room must not overlap.
    location: Mapped[str] = mapped_column(String(200), default="")
    online_url: Mapped[str] = mapped_column(String(500), default="")
    capacity: Mapped[int] = mapped_column(Integer, default=20)
    #: No self sign-up and no waitlist promotion after this moment.
    signup_deadline_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Participants cannot withdraw themselves after this moment.
    cancel_deadline_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Roles the session is meant for, comma-separated (empty: anyone).
    target_roles: Mapped[str] = mapped_column(String(100), default="")
    #: Only its audience (roles and departments) may sign up; otherwise the audience is whom it invites.
    is_audience_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    #: The release (changes package) this after-change session was drafted for.
    release_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: Rises on every change calendar clients must pick up (iCalendar SEQUENCE).
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    #: When the reminder before the session went out.
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    course: Mapped[Course | None] = relationship()
    trainer: Mapped[User | None] = relationship()
    departments: Mapped[list[Department]] = relationship(secondary=session_departments, order_by="Department.name")

    @property
    def target_role_list(self) -> list[str]:
        return [role for role in self.target_roles.split(",") if role]

    def takes_sign_ups(self, now: datetime) -> bool:
        """Whether anyone may still be signed up (as training.enrolment.enrol checks): not started,
        sign-up deadline not passed."""
        return (self.starts_at is not None and self.starts_at > now
                and (self.signup_deadline_at is None or self.signup_deadline_at >= now))

    def takes_withdrawals(self, now: datetime) -> bool:
        """Whether participants may still withdraw themselves (before the start and the cancellation deadline)."""
        return (self.starts_at is not None and self.starts_at > now
                and (self.cancel_deadline_at is None or self.cancel_deadline_at >= now))

    def __str__(self) -> str:
        return self.title


class Enrolment(db.Model):
    """A person's place in a session: enrolled, on the waitlist or cancelled; attendance once held."""

    __tablename__ = "training_enrolments"
    __entity_label__ = _l("Enrolment")
    __table_args__ = (
        UniqueConstraint("session_id", "user_id"),
        CheckConstraint(one_of("status", ENROLMENT_STATUSES), name="status_known"),
        CheckConstraint("attendance IS NULL OR " + one_of("attendance", ATTENDANCE),
                        name="attendance_known"),
        Index("ix_training_enrolments_session_status", "session_id", "status", "waitlisted_at"),
        Index("ix_training_enrolments_user_status", "user_id", "status"),
    )
    __field_labels__ = {
        "session_id": _l("Session"), "attendance": _l("Attendance"), "assigned_by_id": _l("Assigned by"),
        "waitlisted_at": _l("Waitlisted at"), "promoted_at": _l("Moved up from waitlist at"),
        "cancelled_at": _l("Cancelled at"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    attendance: Mapped[str | None] = mapped_column(String(20))
    #: The department head (or trainer) who assigned the person; None for self sign-up.
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Position on the waitlist: earlier first.
    waitlisted_at: Mapped[datetime | None] = mapped_column(DateTime)
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)

    session: Mapped[TrainingSession] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])

    @property
    def access_department_id(self) -> int | None:
        return self.user.department_id if self.user else None

    @property
    def access_owner_id(self) -> int:
        return self.user_id


class CourseCompletion(db.Model):
    """A person completed a course: attended a session and (where there is a quiz) passed it."""

    __tablename__ = "training_course_completions"
    __entity_label__ = _l("Course completion")
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)
    __field_labels__ = {"course_id": _l("Course"), "completed_at": _l("Completed at")}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("training_courses.id", ondelete="CASCADE"), index=True)
    completed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class OverdueReminder(db.Model):
    """When a person was last reminded of an overdue track (reminders are not repeated daily)."""

    __tablename__ = "training_overdue_reminders"
    __entity_label__ = _l("Overdue training reminder")
    __table_args__ = (UniqueConstraint("user_id", "track_id"),)
    __field_labels__ = {"track_id": _l("Track"), "reminded_on": _l("Reminded on")}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    track_id: Mapped[int] = mapped_column(ForeignKey("training_tracks.id", ondelete="CASCADE"))
    reminded_on: Mapped[date] = mapped_column(Date)


class SupportRequest(db.Model):
    """A "how do I …" question: to the department's seed user first, then the rollout team; after the first
    answer a conversation (``replies``) until the requester marks it solved."""

    __tablename__ = "training_support_requests"
    __entity_label__ = _l("Support request")
    __table_args__ = (
        CheckConstraint(one_of("status", SUPPORT_STATUSES), name="status_known"),
        Index("ix_training_support_status_created", "status", "created_at"),
        Index("ix_training_support_seed_status", "seed_user_id", "status"),
        Index("ix_training_support_department", "department_id", "status"),
        Index("ix_training_support_requester", "requester_id", "created_at"),
    )
    __field_labels__ = {
        "module": _l("Module"), "escalated_at": _l("Escalated at"), "answered_at": _l("Answered at"),
        "answered_by_id": _l("Answered by"), "answer_markdown": _l("Answer text"), "article_id": _l("FAQ article"),
        "asked_from_article_id": _l("Asked from FAQ article"), "reopened_at": _l("Reopened at"),
        "solved_at": _l("Solved at"), "answer_edited_at": _l("Answer edited at"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The requester's department (its department level, where seed users are counted).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    #: The seed user it went to first (None when the department has none).
    seed_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    #: FAQ module the question is about (optional).
    module: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(20), default=SUPPORT_OPEN)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answer_markdown: Mapped[str] = mapped_column(Text, default="")
    #: Last change of the answer by its author (the audit trail keeps the earlier text).
    answer_edited_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The FAQ article this answer became.
    article_id: Mapped[int | None] = mapped_column(ForeignKey("training_faq_articles.id", ondelete="SET NULL"))
    #: The FAQ article the requester read before asking (it did not answer the question).
    asked_from_article_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_faq_articles.id", ondelete="SET NULL"))
    #: When a reply from the requester last reopened it: the time to answer runs from here again.
    reopened_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: When the requester marked it solved (None while it is not).
    solved_at: Mapped[datetime | None] = mapped_column(DateTime)

    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    seed_user: Mapped[User | None] = relationship(foreign_keys=[seed_user_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])
    department: Mapped[Department | None] = relationship()
    asked_from_article: Mapped[FaqArticle | None] = relationship(foreign_keys=[asked_from_article_id])
    replies: Mapped[list[SupportReply]] = relationship(back_populates="request", order_by="SupportReply.id",
                                                       cascade="all, delete-orphan")

    @property
    def access_owner_id(self) -> int:
        return self.requester_id


class SupportReply(db.Model):
    """A message in a support request's conversation: from the requester, or from a seed user or the rollout team."""

    __tablename__ = "training_support_replies"
    __entity_label__ = _l("Support reply")
    __table_args__ = (Index("ix_training_support_replies_request", "request_id", "created_at"),)
    __field_labels__ = {"request_id": _l("Support request"), "body_markdown": _l("Reply text")}

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("training_support_requests.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body_markdown: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    request: Mapped[SupportRequest] = relationship(back_populates="replies")
    author: Mapped[User] = relationship()


class FaqArticle(db.Model):
    __tablename__ = "training_faq_articles"
    __entity_label__ = _l("FAQ article")
    __table_args__ = (
        Index("ix_training_faq_module_role", "module", "role"),
        Index("ix_training_faq_views", "view_count"),
    )
    __field_labels__ = {
        "module": _l("Module"), "view_count": _l("View count"), "helpful_count": _l("Helpful votes"),
        "unhelpful_count": _l("Unhelpful votes"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    #: Module of the system the article is about (one of FAQ_MODULES, or empty).
    module: Mapped[str] = mapped_column(String(40), default="")
    #: Role the article is mainly for (empty: everyone).
    role: Mapped[str] = mapped_column(String(20), default="")
    #: manual, support (from an answered request) or retro (from a retro action item).
    source: Mapped[str] = mapped_column(String(20), default="manual")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    helpful_count: Mapped[int] = mapped_column(Integer, default=0)
    unhelpful_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Last edit of the text (views and votes do not count as edits).
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    author: Mapped[User | None] = relationship()
    tag_rows: Mapped[list[FaqTag]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                  order_by="FaqTag.tag")

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]

    def __str__(self) -> str:
        return self.title


class FaqTag(db.Model):
    __tablename__ = "training_faq_tags"
    __entity_label__ = _l("FAQ tag")
    __field_labels__ = {"article_id": _l("FAQ article")}

    article_id: Mapped[int] = mapped_column(ForeignKey("training_faq_articles.id", ondelete="CASCADE"),
                                            primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class FaqVote(db.Model):
    """One "was this helpful" vote per person and article (a later vote replaces the earlier)."""

    __tablename__ = "training_faq_votes"
    __entity_label__ = _l("FAQ vote")
    __table_args__ = (UniqueConstraint("article_id", "user_id"),)
    __field_labels__ = {"article_id": _l("FAQ article"), "is_helpful": _l("Helpful")}

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("training_faq_articles.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    is_helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FaqSearch(db.Model):
    """A search of the knowledge base, kept so searches that found nothing show what is missing."""

    __tablename__ = "training_faq_searches"
    __entity_label__ = _l("FAQ search")
    __table_args__ = (Index("ix_training_faq_searches_results", "result_count", "created_at"),)
    __field_labels__ = {"query": _l("Search terms"), "result_count": _l("Results found")}

    id: Mapped[int] = mapped_column(primary_key=True)
    query: Mapped[str] = mapped_column(String(200))
    result_count: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
