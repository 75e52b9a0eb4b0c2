"""Training rules: tracks and courses, sessions (clashes, status), who must complete what by
when, the completion matrix, reminders, after-change drafts and the dashboard's figures."""
from __future__ import annotations

import logging
import math
import os
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import case, func, select

from rollout import uploads
from rollout.accounts.models import ROLES, Department, User, UserRole
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.i18n import language_of
from rollout.timeutil import local_today, to_local, utcnow
from training.models import (ATTENDED, ENROLLED, SESSION_CANCELLED, SESSION_DRAFT, SESSION_KINDS, SESSION_SCHEDULED,
                             TIERS, Course, CourseAttachment, CourseCompletion, Enrolment, OverdueReminder,
                             QuizQuestion, Track, TrainingSession)


logger = logging.getLogger(__name__)


# --- the department tree, loaded once per call --------------------------------------
class DepartmentTree:
    """Departments in memory: home department, subtree and go-live date without further queries."""

    def __init__(self):
        rows = db.session.execute(select(Department.id, Department.parent_id, Department.kind,
                                         Department.name, Department.go_live_on)).all()
        self.by_id = {row.id: row for row in rows}
        self.children: dict[int | None, list[int]] = {}
        for row in rows:
            self.children.setdefault(row.parent_id, []).append(row.id)
        self._subtrees: dict[int, frozenset[int]] = {}
        self._go_live: dict[int | None, date | None] = {}

    def home(self, department_id: int | None) -> int | None:
        """The department-level ancestor (a team belongs to its department)."""
        current = self.by_id.get(department_id)
        while current is not None:
            parent = self.by_id.get(current.parent_id)
            if current.kind == "department" or parent is None or parent.kind == "company":
                return current.id
            current = parent
        return department_id

    def subtree(self, department_id: int) -> frozenset[int]:
        """A department and every department below it (worked out once per department)."""
        if department_id not in self._subtrees:
            found, stack = set(), [department_id]
            while stack:
                current = stack.pop()
                if current not in found:
                    found.add(current)
                    stack.extend(self.children.get(current, []))
            self._subtrees[department_id] = frozenset(found)
        return self._subtrees[department_id]

    def go_live_on(self, department_id: int | None) -> date | None:
        """The nearest go-live date up the tree (teams inherit their department's)."""
        if department_id not in self._go_live:
            found, current = None, self.by_id.get(department_id)
            while current is not None and found is None:
                found = current.go_live_on or None
                current = self.by_id.get(current.parent_id)
            self._go_live[department_id] = found
        return self._go_live[department_id]

    def departments(self) -> list:
        """Department-level rows (not the company, not teams), by name."""
        return sorted((row for row in self.by_id.values() if row.kind == "department"), key=lambda r: r.name)


# --- tracks and courses -------------------------------------------------------------------
def save_track(track: Track | None, name: str, tier: str, role: str, department_id: int | None,
               description: str = "", is_required: bool = True, due_days_before_go_live: int = 7,
               seed_lead_days: int = 7) -> Track:
    """Create or update a track; names are unique."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("A name is required."), "name")
    if tier not in TIERS:
        raise ServiceError(_("Choose a tier."), "tier")
    if role not in ROLES:
        raise ServiceError(_("Choose a role."), "role")
    if department_id and db.session.get(Department, department_id) is None:
        raise ServiceError(_("The department does not exist."), "department_id")
    if due_days_before_go_live < 0 or seed_lead_days < 0:
        raise ServiceError(_("Days cannot be negative."), "due_days_before_go_live")
    duplicate = select(Track.id).where(Track.name == name)
    if track is not None:
        duplicate = duplicate.where(Track.id != track.id)
    if db.session.scalar(duplicate):
        raise ServiceError(_("A track with this name exists."), "name")
    if track is None:
        track = Track()
        db.session.add(track)
    track.name, track.tier, track.role = name, tier, role
    track.department_id = department_id or None
    track.description = description or ""
    track.is_required = bool(is_required)
    track.due_days_before_go_live, track.seed_lead_days = due_days_before_go_live, seed_lead_days
    db.session.flush()
    return track


def save_course(course: Course | None, track: Track, title: str, material_markdown: str = "",
                duration_minutes: int = 60, prerequisite_id: int | None = None,
                pass_mark: int | None = None) -> Course:
    """Create (appended at the end of the track) or update a course."""
    title = (title or "").strip()
    if not title:
        raise ServiceError(_("A title is required."), "title")
    if duration_minutes is None or duration_minutes <= 0:
        raise ServiceError(_("The duration must be positive."), "duration_minutes")
    if pass_mark is not None and not 0 <= pass_mark <= 100:
        raise ServiceError(_("The pass mark is a percentage from 0 to 100."), "pass_mark")
    if prerequisite_id:
        prerequisite = db.session.get(Course, prerequisite_id)
        if prerequisite is None:
            raise ServiceError(_("The prerequisite does not exist."), "prerequisite_id")
        if course is not None and _requires(prerequisite, course.id):
            raise ServiceError(_("A course cannot require itself, directly or indirectly."), "prerequisite_id")
    if course is None:
        last = db.session.scalar(select(func.max(Course.position)).where(Course.track_id == track.id)) or 0
        course = Course(track=track, position=last + 1)
        db.session.add(course)
    course.title, course.material_markdown = title, material_markdown or ""
    course.duration_minutes, course.prerequisite_id, course.pass_mark = duration_minutes, prerequisite_id or None, pass_mark
    db.session.flush()
    return course


def _requires(course: Course, course_id: int) -> bool:
    seen = set()
    while course is not None and course.id not in seen:
        if course.id == course_id:
            return True
        seen.add(course.id)
        course = course.prerequisite
    return False


def add_question(course: Course, prompt: str, options_text: str, correct_option: int) -> QuizQuestion:
    """Add a multiple-choice question; ``correct_option`` counts from 1 as people type it."""
    prompt = (prompt or "").strip()
    options = [line.strip() for line in (options_text or "").splitlines() if line.strip()]
    if not prompt:
        raise ServiceError(_("A question is required."), "prompt")
    if len(options) < 2:
        raise ServiceError(_("Give at least two options, one per line."), "options_text")
    if correct_option is None or not 1 <= correct_option <= len(options):
        raise ServiceError(_("The right answer must be one of the options (1 to %(n)d).", n=len(options)),
                           "correct_option")
    position = len(course.questions) + 1
    question = QuizQuestion(course=course, position=position, prompt=prompt, options_text="\n".join(options),
                            correct_option=correct_option - 1)
    db.session.add(question)
    if course.pass_mark is None:
        course.pass_mark = 80
    db.session.flush()
    return question


def missing_prerequisite(user: User, course: Course) -> Course | None:
    """The prerequisite the user has not completed yet, if any."""
    if course.prerequisite_id is None:
        return None
    done = db.session.scalar(select(CourseCompletion.id).where(CourseCompletion.user_id == user.id,
                                                               CourseCompletion.course_id == course.prerequisite_id))
    return None if done else course.prerequisite


# --- course attachments ---------------------------------------------------------------------
#: What a file's first bytes say it is → the names such a file may have. The name must agree with
#: the content, so a program or a web page dressed up as slides is refused.
DEFAULT_ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024


def attachment_folder() -> str:
    """UPLOAD_FOLDER/training, outside the static folder."""
    return uploads.folder("training")


def add_attachment(course: Course, filename: str, stream, uploader: User) -> CourseAttachment:
    """Store an uploaded file under a random name after checking its size and sniffing its content."""
    limit = int(current_app.config.get("TRAINING_ATTACHMENT_MAX_BYTES", DEFAULT_ATTACHMENT_MAX_BYTES))
    data = stream.read(limit + 1)
    if not data:
        raise ServiceError(_("The file is empty."), "file")
    if len(data) > limit:
        raise ServiceError(_("The file is larger than %(mb)s MB.", mb=round(limit / 1024 / 1024, 1)), "file")
    name = uploads.clean_filename(filename)
    if uploads.sniff(data[:4096], name) is None:
        raise ServiceError(_("Only PDF, images, Office documents, ZIP and text files may be attached, "
                             "and the file name must match the content."), "file")
    stored_name = secrets.token_hex(16)
    with open(os.path.join(attachment_folder(), stored_name), "wb") as handle:
        handle.write(data)
    attachment = CourseAttachment(course_id=course.id, filename=name, stored_name=stored_name, size=len(data),
                                  uploaded_by_id=uploader.id)
    db.session.add(attachment)
    db.session.flush()
    return attachment


# --- sessions ------------------------------------------------------------------------------
SESSION_TRANSITIONS = {
    (SESSION_DRAFT, "schedule"): SESSION_SCHEDULED,
    (SESSION_DRAFT, "discard"): SESSION_CANCELLED,
    (SESSION_SCHEDULED, "cancel"): SESSION_CANCELLED,
}


@dataclass
class SessionData:
    """What a trainer types for a session."""
    title: str
    kind: str
    starts_at: datetime | None
    ends_at: datetime | None
    capacity: int
    trainer_id: int | None = None
    course_id: int | None = None
    location: str = ""
    online_url: str = ""
    signup_deadline_at: datetime | None = None
    cancel_deadline_at: datetime | None = None
    target_roles: list[str] = field(default_factory=list)
    department_ids: list[int] = field(default_factory=list)
    is_audience_only: bool = False
    description_markdown: str = ""


def enrolled_count(session_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Enrolment).where(
        Enrolment.session_id == session_id, Enrolment.status == ENROLLED)) or 0


def find_clashes(starts_at: datetime | None, ends_at: datetime | None, trainer_id: int | None, location: str,
                 exclude_id: int | None = None) -> list[TrainingSession]:
    """Scheduled sessions overlapping in time that share the trainer or the room."""
    if not starts_at or not ends_at or ends_at <= starts_at:
        return []
    room = (location or "").strip().lower()
    conditions = []
    if trainer_id:
        conditions.append(TrainingSession.trainer_id == trainer_id)
    if room:
        conditions.append(func.lower(TrainingSession.location) == room)
    if not conditions:
        return []
    query = select(TrainingSession).where(
        TrainingSession.status == SESSION_SCHEDULED, TrainingSession.starts_at < ends_at,
        TrainingSession.ends_at > starts_at, db.or_(*conditions)).order_by(TrainingSession.starts_at)
    if exclude_id:
        query = query.where(TrainingSession.id != exclude_id)
    return list(db.session.scalars(query).all())


def _validate_session(data: SessionData, session: TrainingSession | None, scheduling: bool) -> None:
    if not (data.title or "").strip():
        raise ServiceError(_("A title is required."), "title")
    if data.kind not in SESSION_KINDS:
        raise ServiceError(_("Choose a kind of session."), "kind")
    if data.capacity is None or data.capacity < 1:
        raise ServiceError(_("The capacity must be at least 1."), "capacity")
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        raise ServiceError(_("A session cannot end before it starts."), "ends_at")
    if scheduling:
        if not data.starts_at:
            raise ServiceError(_("A start time is required."), "starts_at")
        moved = session is None or session.status != SESSION_SCHEDULED or session.starts_at != data.starts_at
        if moved and data.starts_at < utcnow():
            # A session that took place keeps its time; a new or moved one cannot start in the past.
            raise ServiceError(_("A session cannot be scheduled to start in the past."), "starts_at")
        if not data.ends_at:
            raise ServiceError(_("An end time is required."), "ends_at")
        if not data.trainer_id:
            raise ServiceError(_("Choose a trainer."), "trainer_id")
    if data.starts_at and data.signup_deadline_at and data.signup_deadline_at > data.starts_at:
        raise ServiceError(_("The sign-up deadline must be before the start."), "signup_deadline_at")
    if data.starts_at and data.cancel_deadline_at and data.cancel_deadline_at > data.starts_at:
        raise ServiceError(_("The cancellation deadline must be before the start."), "cancel_deadline_at")
    unknown = set(data.target_roles) - set(ROLES)
    if unknown:
        raise ServiceError(_("Unknown role."), "target_roles")
    if data.trainer_id and db.session.get(User, data.trainer_id) is None:
        raise ServiceError(_("The trainer does not exist."), "trainer_id")
    if data.course_id and db.session.get(Course, data.course_id) is None:
        raise ServiceError(_("The course does not exist."), "course_id")
    if session is not None and session.id is not None:
        taken = enrolled_count(session.id)
        if data.capacity < taken:
            raise ServiceError(ngettext("The capacity cannot be below the %(num)d person already enrolled.",
                                        "The capacity cannot be below the %(num)d people already enrolled.", taken),
                               "capacity")


def save_session(session: TrainingSession | None, data: SessionData) -> TrainingSession:
    """Create or update a session; a draft stays a draft, a new session is scheduled.

    A change of time or place raises the calendar sequence so subscribed calendars update;
    more capacity moves people up from the waitlist.
    """
    is_new = session is None
    moved = False
    if not is_new:
        # Capacity is checked against the enrolled count under the same lock sign-ups take.
        from training.enrolment import lock_session
        lock_session(session.id)
    scheduling = is_new or session.status == SESSION_SCHEDULED
    if session is not None and session.status == SESSION_CANCELLED:
        raise NotAllowed(_("A cancelled session cannot be changed."))
    _validate_session(data, session, scheduling)
    old_capacity = session.capacity if session is not None else None
    if is_new:
        session = TrainingSession(status=SESSION_SCHEDULED)
        db.session.add(session)
    elif (session.starts_at, session.ends_at, session.location, session.title) != (
            data.starts_at, data.ends_at, (data.location or "").strip(), data.title.strip()):
        session.sequence = (session.sequence or 0) + 1
        moved = session.status == SESSION_SCHEDULED and (session.starts_at, session.ends_at, session.location) != (
            data.starts_at, data.ends_at, (data.location or "").strip())
    session.title = data.title.strip()
    session.kind, session.capacity = data.kind, data.capacity
    if session.starts_at != data.starts_at:
        session.reminded_at = None  # a new time gets its own reminder the day before
    session.starts_at, session.ends_at = data.starts_at, data.ends_at
    session.trainer_id, session.course_id = data.trainer_id or None, data.course_id or None
    session.location, session.online_url = (data.location or "").strip(), (data.online_url or "").strip()
    session.signup_deadline_at = data.signup_deadline_at
    session.cancel_deadline_at = data.cancel_deadline_at
    session.target_roles = ",".join(role for role in ROLES if role in data.target_roles)
    session.is_audience_only = data.is_audience_only
    session.description_markdown = data.description_markdown or ""
    session.departments = list(db.session.scalars(select(Department).where(
        Department.id.in_(data.department_ids or [-1]))).all())
    db.session.flush()
    if old_capacity is not None and data.capacity > old_capacity:
        from training.enrolment import promote_from_waitlist
        promote_from_waitlist(session)
    if is_new:
        _invite_audience(session)
    elif moved:
        _tell_signed_up(session, "training.session_moved", _l("Training moved: %(title)s", title=session.title),
                        _l("It now takes place %(when)s.", when=when_and_where(session)))
    return session


def session_time(session: TrainingSession) -> str:
    """"2026-12-03 10:00–11:30": the session's local date and time, for a notification."""
    starts, ends = to_local(session.starts_at), to_local(session.ends_at) if session.ends_at else None
    return starts.strftime("%Y-%m-%d %H:%M") + (ends.strftime("–%H:%M") if ends else "")


def session_place(session: TrainingSession) -> str:
    """The room, else the meeting link; empty when neither is set."""
    return session.location or session.online_url or ""


def when_and_where(session: TrainingSession) -> str:
    """"2026-12-03 10:00–11:30 · 3楼培训室": the session's local time and place, for a notification."""
    return " · ".join(part for part in (session_time(session), session_place(session)) if part)


def session_audience(session: TrainingSession) -> list[User]:
    """The people a session is meant for: its roles within its departments (and their teams); nobody
    when it names neither (a session open to all invites no one)."""
    from rollout.access import subtree_ids
    from rollout.accounts.services import users_with_roles
    if not session.target_role_list and not session.departments:
        return []
    departments = set()
    for department in session.departments:
        departments |= subtree_ids(department.id)
    return users_with_roles(session.target_role_list or ROLES, sorted(departments) if departments else None)


def in_audience(session: TrainingSession, user: User) -> bool:
    """Is ``user`` one of the people the session is for (everyone, when it names neither roles nor departments)?"""
    from rollout.access import subtree_ids
    if session.target_role_list and not set(session.target_role_list) & set(user.roles):
        return False
    if session.departments:
        return any(user.department_id in subtree_ids(department.id) for department in session.departments)
    return True


def sign_up_refusal(session: TrainingSession, user: User) -> str | None:
    """Why ``user`` may not sign themselves up for the session's audience, if they may not."""
    if session.is_audience_only and not in_audience(session, user):
        return _("Only the people this session is for may sign up; ask the trainer if it is for you too.")
    return None


def _invite_audience(session: TrainingSession) -> None:
    """Tell the people a newly scheduled session is for, except those already on it."""
    from rollout.notify.services import notify
    already = set(db.session.scalars(select(Enrolment.user_id).where(Enrolment.session_id == session.id)))
    people = [user for user in session_audience(session) if user.id not in already]
    notify(people, "training.session_scheduled", _l("Training for you: %(title)s", title=session.title),
           _l("%(when)s. Sign up on the session's page while there are seats.", when=when_and_where(session)),
           link=f"/training/sessions/{session.id}")


def _tell_signed_up(session: TrainingSession, event: str, subject, body) -> None:
    """Tell everyone enrolled or waiting for a session."""
    from rollout.notify.services import notify
    people = db.session.scalars(select(User).join(Enrolment, Enrolment.user_id == User.id).where(
        Enrolment.session_id == session.id, Enrolment.status.in_([ENROLLED, "waitlisted"]))).all()
    notify(people, event, subject, body, link=f"/training/sessions/{session.id}")


#: Shown, never stored: a scheduled session under way or over, as its start and end times say.
SESSION_IN_PROGRESS = "in_progress"
SESSION_HELD = "held"


def has_attendance(session: TrainingSession) -> bool:
    """Whether attendance is recorded for anyone in the session."""
    return db.session.scalar(select(Enrolment.id).where(Enrolment.session_id == session.id,
                                                        Enrolment.attendance.is_not(None)).limit(1)) is not None


def shown_status(session: TrainingSession, now: datetime | None = None) -> str:
    """The stored status, or for a scheduled session that has started: in progress, then held."""
    now = now or utcnow()
    if session.status != SESSION_SCHEDULED or session.starts_at is None or session.starts_at > now:
        return session.status
    return SESSION_HELD if session.ends_at is not None and session.ends_at <= now else SESSION_IN_PROGRESS


def cancel_refusal(session: TrainingSession, now: datetime | None = None) -> str | None:
    """Why the session can no longer be cancelled (it took place), or None."""
    if session.status != SESSION_SCHEDULED:
        return None  # the transition table answers for the other statuses
    if shown_status(session, now) == SESSION_HELD:
        return _("This session has taken place and cannot be cancelled.")
    if has_attendance(session):
        return _("Attendance is recorded for this session, so it took place and cannot be cancelled.")
    return None


def transition_session(session: TrainingSession, action: str, now: datetime | None = None) -> TrainingSession:
    """Apply a status change from SESSION_TRANSITIONS (schedule a draft, cancel, discard)."""
    target = SESSION_TRANSITIONS.get((session.status, action))
    if target is None:
        raise NotAllowed(_("A %(status)s session cannot be changed that way (%(action)s).",
                           status=session.status, action=action))
    refusal = cancel_refusal(session, now) if action == "cancel" else None
    if refusal:
        raise NotAllowed(refusal)
    if target == SESSION_SCHEDULED:
        data = SessionData(title=session.title, kind=session.kind, starts_at=session.starts_at,
                           ends_at=session.ends_at, capacity=session.capacity, trainer_id=session.trainer_id,
                           course_id=session.course_id, location=session.location,
                           signup_deadline_at=session.signup_deadline_at,
                           cancel_deadline_at=session.cancel_deadline_at)
        _validate_session(data, session, scheduling=True)
    session.status = target
    session.sequence = (session.sequence or 0) + 1
    db.session.flush()
    if action == "cancel":
        _tell_signed_up(session, "training.session_cancelled", _l("Training cancelled: %(title)s", title=session.title),
                        _l("The session you signed up for was cancelled: %(when)s.", when=when_and_where(session)))
    elif action == "schedule":
        _invite_audience(session)
    from rollout.audit.services import record_event
    record_event(f"session_{action}", entity="training_sessions", entity_id=str(session.id))
    return session


def draft_after_change_session(release, affected_roles, affected_department_ids, processes) -> TrainingSession | None:
    """A short draft session for the roles a release changed; a trainer completes and schedules it."""
    release_id = getattr(release, "id", None)
    if release_id is not None and db.session.scalar(
            select(TrainingSession.id).where(TrainingSession.release_id == release_id)):
        return None  # one draft per release, however often the signal fires
    name = getattr(release, "name", None) or str(release)
    changes = [f"{request.reference} {request.title}" for request in getattr(release, "requests", [])
               if request.state != "cancelled"]
    # Stored text is read by everyone: write it in the company's language, not the clicker's.
    with force_locale(language_of(None)):
        title = _("After-change training: %(name)s", name=name)[:200]
        heading = _("What changed in release %(name)s:", name=name)
    return _draft_session(title, heading, changes, processes, affected_roles, affected_department_ids, release_id,
                          _l("Release %(name)s changed processes; complete and schedule a short session.", name=name))


def draft_after_lone_change_session(request, affected_roles, affected_department_ids,
                                    processes) -> TrainingSession | None:
    """The same short draft session for a change implemented on its own (an emergency fixed at once)."""
    name = f"{request.reference} {request.title}"
    with force_locale(language_of(None)):
        title = _("After-change training: %(name)s", name=name)[:200]
        heading = _("What changed in %(ref)s:", ref=request.reference)
    if db.session.scalar(select(TrainingSession.id).where(TrainingSession.release_id.is_(None),
                                                          TrainingSession.title == title)):
        return None  # one draft per change, however often the signal fires
    link = f"[{name}](/changes/{request.id})"
    return _draft_session(title, heading, [link], processes, affected_roles, affected_department_ids, None,
                          _l("%(name)s went live on its own; complete and schedule a short session.", name=name))


def _draft_session(title: str, heading: str, changes: list[str], processes, affected_roles, affected_department_ids,
                   release_id: int | None, body) -> TrainingSession:
    """A draft lecture of the changes for the affected roles in the affected departments; trainers are told."""
    process_names = [getattr(process, "name", None) or str(process) for process in processes or []]
    with force_locale(language_of(None)):
        description = "\n\n".join(
            [heading, "\n".join(f"- {change}" for change in changes)]
            + ([_("Processes changed:"), "\n".join(f"- {process}" for process in process_names)]
               if process_names else []))
    roles = [role for role in ROLES if role in set(affected_roles or [])]
    session = TrainingSession(status=SESSION_DRAFT, kind="lecture", title=title, description_markdown=description,
                              capacity=30, target_roles=",".join(roles), release_id=release_id)
    if affected_department_ids:
        session.departments = list(db.session.scalars(select(Department).where(
            Department.id.in_(list(affected_department_ids)))).all())
    db.session.add(session)
    db.session.flush()
    from rollout.accounts.services import users_with_roles
    from rollout.notify.services import notify
    notify(users_with_roles(["trainer"]), "training.draft_session",
           _l("A training session to schedule: %(title)s", title=session.title), body,
           link=f"/training/sessions/{session.id}")
    return session


@dataclass
class AfterChangeTraining:
    """Who of the people an after-change session is for attended it (for a release: any of the release's
    sessions) — they are trained on the change — and who still needs it."""
    #: (person, when the session they attended started), by name.
    trained: list[tuple[User, datetime | None]]
    #: The people it is for who have not attended, by name.
    to_train: list[User]

    @property
    def total(self) -> int:
        return len(self.trained) + len(self.to_train)


def after_change_training(session: TrainingSession, department_ids: set[int] | None = None
                          ) -> AfterChangeTraining | None:
    """For a session of no course (the after-change sessions drafted for a release or a lone change), who of
    its audience is trained on that change: attended (present or late) it or another session of the same
    release. None for a course's session (attending completes the course instead) or one with no audience.
    ``department_ids`` limits the people listed to those departments (a head's view)."""
    if session.course_id is not None:
        return None
    audience = session_audience(session)
    if not audience:
        return None
    if department_ids is not None:
        audience = [user for user in audience if user.department_id in department_ids]
        if not audience:
            return None
    if session.release_id is not None:
        session_ids = select(TrainingSession.id).where(TrainingSession.release_id == session.release_id)
    else:
        session_ids = [session.id]
    attended = dict(db.session.execute(
        select(Enrolment.user_id, func.min(TrainingSession.starts_at))
        .join(TrainingSession, TrainingSession.id == Enrolment.session_id)
        .where(Enrolment.session_id.in_(session_ids), Enrolment.status == ENROLLED,
               Enrolment.attendance.in_(ATTENDED))
        .group_by(Enrolment.user_id)).all())
    audience = sorted(audience, key=lambda user: (user.display_name, user.id))
    # Their departments into the session at once: the page names each person's department.
    db.session.scalars(select(Department).where(
        Department.id.in_(sorted({user.department_id for user in audience} - {None})))).all()
    trained = [(user, attended[user.id]) for user in audience if user.id in attended]
    to_train = [user for user in audience if user.id not in attended]
    return AfterChangeTraining(trained=trained, to_train=to_train)


def release_sessions(release) -> list[tuple[str, str]]:
    """The training sessions drafted for a release, as (label, link) for the release's pages: each with how
    many of the people it is for are trained on the release."""
    from training.forms import STATUS_LABELS
    sessions = db.session.scalars(select(TrainingSession).where(TrainingSession.release_id == release.id)
                                  .order_by(TrainingSession.id)).all()
    links = []
    for session in sessions:
        status = STATUS_LABELS[shown_status(session)]
        figures = after_change_training(session)
        if figures is not None:
            label = ngettext("Training: %(title)s (%(status)s, %(trained)d of %(num)d person trained)",
                             "Training: %(title)s (%(status)s, %(trained)d of %(num)d people trained)",
                             figures.total, title=session.title, status=status, trained=len(figures.trained))
        else:
            label = _("Training: %(title)s (%(status)s)", title=session.title, status=status)
        links.append((label, f"/training/sessions/{session.id}"))
    return links


def on_release_implemented(release, **kwargs) -> None:
    """Receiver of changes.signals.release_implemented.

    Runs in a savepoint: a failure here is logged and must not undo implementing the release.
    """
    try:
        with db.session.begin_nested():
            draft_after_change_session(release, kwargs.get("affected_roles") or [],
                                       kwargs.get("affected_department_ids") or [], kwargs.get("processes") or [])
    except Exception:  # noqa: BLE001 - reported, never silently lost
        logger.exception("Could not draft the after-change training session for release %s",
                         getattr(release, "id", release))


def on_change_implemented(request, **kwargs) -> None:
    """Receiver of changes.signals.change_implemented (a change implemented outside any release).

    Runs in a savepoint: a failure here is logged and must not undo implementing the change.
    """
    try:
        with db.session.begin_nested():
            draft_after_lone_change_session(request, kwargs.get("affected_roles") or [],
                                            kwargs.get("affected_department_ids") or [],
                                            kwargs.get("processes") or [])
    except Exception:  # noqa: BLE001 - reported, never silently lost
        logger.exception("Could not draft the after-change training session for change request %s",
                         getattr(request, "id", request))


# --- who must complete what, by when -----------------------------------------------------
NOT_DUE = "pending"
COMPLETE = "complete"
OVERDUE = "overdue"


class Person(NamedTuple):
    """What the training figures show of a person, read as plain columns (loading thousands of
    ``User`` objects with their roles and departments was most of the matrix's and readiness's time)."""
    id: int
    username: str
    display_name: str
    department_id: int | None
    is_seed_user: bool
    roles: frozenset[str]
    #: The person's department row from the DepartmentTree (``.name``), or None.
    department: object | None = None


def _active_in(department_ids: set[int] | None):
    """The condition selecting active users, optionally only those in ``department_ids``."""
    condition = User.is_active_account.is_(True)
    if department_ids is not None:
        condition = db.and_(condition, User.department_id.in_(sorted(department_ids)))
    return condition


def active_people(tree: DepartmentTree, department_ids: set[int] | None = None) -> list[Person]:
    """Active users (optionally only those in ``department_ids``) by name, with their roles: two statements."""
    condition = _active_in(department_ids)
    roles: dict[int, set[str]] = {}
    for user_id, role in db.session.execute(select(UserRole.user_id, UserRole.role).join(User).where(condition)):
        roles.setdefault(user_id, set()).add(role)
    rows = db.session.execute(select(User.id, User.username, User.display_name, User.department_id,
                                     User.is_seed_user).where(condition).order_by(User.display_name, User.id))
    return [Person(user_id, username, name, department_id, bool(is_seed_user), frozenset(roles.get(user_id, ())),
                   tree.by_id.get(department_id)) for user_id, username, name, department_id, is_seed_user in rows]


@dataclass
class Obligation:
    """One person's required track, with its due date and state."""
    user: User | Person
    track: Track
    due_on: date | None
    completed_courses: int
    total_courses: int

    @property
    def is_complete(self) -> bool:
        return self.total_courses > 0 and self.completed_courses >= self.total_courses

    def state(self, today: date) -> str:
        if self.is_complete:
            return COMPLETE
        if self.due_on is not None and self.due_on < today:
            return OVERDUE
        return NOT_DUE


def due_on(track: Track, user: User | Person, tree: DepartmentTree) -> date | None:
    """Due relative to the department's go-live; seed users are due earlier than everyone else."""
    go_live = tree.go_live_on(user.department_id)
    if go_live is None:
        return None
    days = track.due_days_before_go_live + (track.seed_lead_days if user.is_seed_user else 0)
    return go_live - timedelta(days=days)


def obligations(users: list[User] | None = None, department_id: int | None = None,
                tree: DepartmentTree | None = None) -> list[Obligation]:
    """Required tracks of each active user (all users, some users or one department's), a fixed number of queries.

    With ``users`` given, each obligation's ``user`` is one of them; otherwise it is a ``Person``.
    """
    tree = tree or DepartmentTree()
    if users is not None:
        users = list(users)
        return _obligations_of(users, [user.id for user in users], tree)
    units = tree.subtree(department_id) if department_id is not None else None
    return _people_obligations(tree, units)


def _people_obligations(tree: DepartmentTree, units: set[int] | None) -> list[Obligation]:
    """Obligations of the active users in ``units`` (None: everyone)."""
    return _obligations_of(active_people(tree, units), select(User.id).where(_active_in(units)), tree)


def _obligations_of(people: list, whose, tree: DepartmentTree) -> list[Obligation]:
    """Obligations of ``people``; ``whose`` selects their ids (a list or a subquery) for the completions."""
    tracks = list(db.session.scalars(select(Track).where(Track.is_required.is_(True)).order_by(Track.name)).all())
    if not people or not tracks:
        return []
    track_ids = [track.id for track in tracks]
    course_counts = dict(db.session.execute(select(Course.track_id, func.count()).where(Course.track_id.in_(track_ids))
                                            .group_by(Course.track_id)).all())
    # Completed courses per person and track, counted by the database (a completion is unique per course).
    completed = {(user_id, track_id): count for user_id, track_id, count in db.session.execute(
        select(CourseCompletion.user_id, Course.track_id, func.count())
        .join(Course, Course.id == CourseCompletion.course_id)
        .where(Course.track_id.in_(track_ids), CourseCompletion.user_id.in_(whose))
        .group_by(CourseCompletion.user_id, Course.track_id))}
    # A track's audience: its role, within its department (and the teams below) when it names one.
    audiences = [(track, track.id, track.role, None if track.department_id is None else tree.subtree(track.department_id))
                 for track in tracks]
    result = []
    for person in people:
        roles, unit = person.roles, person.department_id
        for track, track_id, role, units in audiences:
            if role in roles and (units is None or unit in units):
                result.append(Obligation(user=person, track=track, due_on=due_on(track, person, tree),
                                         completed_courses=completed.get((person.id, track_id), 0),
                                         total_courses=course_counts.get(track_id, 0)))
    return result


@dataclass
class MatrixCell:
    completed: int = 0
    required: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.completed / self.required) if self.required else 0


@dataclass
class CompletionMatrix:
    departments: list
    tracks: list[Track]
    cells: dict[tuple[int, int], MatrixCell]
    totals: dict[int, MatrixCell]
    overdue: list[Obligation]


def completion_matrix(department_ids: set[int] | None = None, today: date | None = None) -> CompletionMatrix:
    """Departments × required tracks with completion counts, and everyone overdue."""
    today = today or local_today()
    tree = DepartmentTree()
    departments = [row for row in tree.departments() if department_ids is None or row.id in department_ids]
    allowed_ids = {row.id for row in departments}
    cells: dict[tuple[int, int], MatrixCell] = {}
    totals: dict[int, MatrixCell] = {}
    overdue: list[Obligation] = []
    seen_tracks: dict[int, Track] = {}
    # Only the people of the departments shown are read (a head's matrix needs a fortieth of them).
    units = set().union(*(tree.subtree(department_id) for department_id in allowed_ids))
    for item in _people_obligations(tree, units):
        home = tree.home(item.user.department_id)
        if home not in allowed_ids:
            continue
        seen_tracks[item.track.id] = item.track
        cell = cells.setdefault((home, item.track.id), MatrixCell())
        total = totals.setdefault(home, MatrixCell())
        cell.required += 1
        total.required += 1
        if item.is_complete:
            cell.completed += 1
            total.completed += 1
        elif item.state(today) == OVERDUE:
            overdue.append(item)
    overdue.sort(key=lambda o: (o.due_on, o.user.display_name))
    tracks = sorted(seen_tracks.values(), key=lambda t: (TIERS.index(t.tier), t.name))
    return CompletionMatrix(departments=departments, tracks=tracks, cells=cells, totals=totals, overdue=overdue)


# --- reminders -----------------------------------------------------------------------------
def send_reminders(now: datetime | None = None, today: date | None = None) -> tuple[int, int]:
    """Remind people of sessions starting soon and of overdue training; returns (sessions, overdue)."""
    from rollout.notify.services import notify
    now = now or utcnow()
    today = today or local_today()
    hours = current_app.config.get("TRAINING_REMINDER_HOURS", 24)
    soon = db.session.scalars(select(TrainingSession).where(
        TrainingSession.status == SESSION_SCHEDULED, TrainingSession.reminded_at.is_(None),
        TrainingSession.starts_at > now, TrainingSession.starts_at <= now + timedelta(hours=hours))).all()
    for session in soon:
        people = db.session.scalars(select(User).join(Enrolment, Enrolment.user_id == User.id).where(
            Enrolment.session_id == session.id, Enrolment.status == ENROLLED)).all()
        notify(people, "training.reminder", _l("Training soon: %(title)s", title=session.title),
               _l("Your training session starts soon: %(when)s.", when=when_and_where(session)),
               link=f"/training/sessions/{session.id}")
        session.reminded_at = now
    repeat_days = current_app.config.get("TRAINING_OVERDUE_REMINDER_DAYS", 7)
    reminded = {(r.user_id, r.track_id): r for r in db.session.scalars(select(OverdueReminder))}
    to_remind = []
    for item in obligations():
        if item.state(today) != OVERDUE:
            continue
        previous = reminded.get((item.user.id, item.track.id))
        if previous is not None and previous.reminded_on > today - timedelta(days=repeat_days):
            continue
        to_remind.append((item, previous))
    users = _users_by_id({item.user.id for item, _previous in to_remind})
    overdue_count = 0
    for item, previous in to_remind:
        notify([users[item.user.id]], "training.overdue", _l("Training overdue: %(track)s", track=item.track.name),
               _l("This training was due on %(date)s. Please sign up for a session.", date=item.due_on.isoformat()),
               link="/training/")
        if previous is None:
            db.session.add(OverdueReminder(user_id=item.user.id, track_id=item.track.id, reminded_on=today))
        else:
            previous.reminded_on = today
        overdue_count += 1
    db.session.flush()
    return len(soon), overdue_count


def _users_by_id(user_ids) -> dict[int, User]:
    """The users with these ids, loaded 500 at a time."""
    ids, found = sorted(user_ids), {}
    for start in range(0, len(ids), 500):
        for user in db.session.scalars(select(User).where(User.id.in_(ids[start:start + 500]))):
            found[user.id] = user
    return found


# --- figures for the dashboard ---------------------------------------------------------------
#: What "trained" means wherever a figure counts it (readiness, adoption, their pages): the person has
#: completed every course of every required track meant for their role (and department). The day they
#: became trained is the day the last of those courses was completed.
TRAINED_DEFINITION = _l("Trained: has completed every course of each required track for their role and department "
                        "(as in the training matrix); trained on the day the last of those courses was completed. "
                        "Someone with no required track is not counted.")


class PersonTraining(NamedTuple):
    """One active person's required training: tracks meant for them, tracks completed, when the last
    needed course was completed (None until every track is complete)."""
    user_id: int
    department_id: int | None
    required: int
    completed: int
    trained_at: datetime | None

    @property
    def is_trained(self) -> bool:
        return self.required > 0 and self.completed >= self.required


def training_by_person(units: set[int] | None = None, tree: DepartmentTree | None = None) -> dict[int, PersonTraining]:
    """The one definition of trained (TRAINED_DEFINITION), for the active people in ``units`` (None: everyone),
    counted by the database in one grouped statement plus one for the tracks.
    People with no required track are left out: they have nothing to be trained on."""
    tracks = db.session.execute(select(Track.id, Track.department_id).where(Track.is_required.is_(True))).all()
    if not tracks or (units is not None and not units):
        return {}
    if tree is None and any(department_id is not None for _id, department_id in tracks):
        tree = DepartmentTree()
    # A track's audience: its role, within its department (and the teams below) when it names one.
    audience = [Track.department_id.is_(None)] + [
        db.and_(Track.id == track_id, User.department_id.in_(sorted(tree.subtree(department_id))))
        for track_id, department_id in tracks if department_id is not None]
    courses = select(Course.track_id, func.count().label("total")).group_by(Course.track_id).subquery()
    done = (select(CourseCompletion.user_id, Course.track_id, func.count().label("completed"),
                   func.max(CourseCompletion.completed_at).label("last_at"))
            .join(Course, Course.id == CourseCompletion.course_id)
            .group_by(CourseCompletion.user_id, Course.track_id).subquery())
    is_complete = case((db.and_(courses.c.total > 0, done.c.completed >= courses.c.total), 1), else_=0)
    conditions = [_active_in(units), db.or_(*audience)]
    rows = db.session.execute(
        select(User.id, User.department_id, func.count(), func.sum(is_complete), func.max(done.c.last_at))
        .join(UserRole, UserRole.user_id == User.id)
        .join(Track, db.and_(Track.role == UserRole.role, Track.is_required.is_(True)))
        .outerjoin(courses, courses.c.track_id == Track.id)
        .outerjoin(done, db.and_(done.c.user_id == User.id, done.c.track_id == Track.id))
        .where(*conditions)
        .group_by(User.id, User.department_id))
    result = {}
    for user_id, department_id, required, completed, last_at in rows:
        completed = int(completed or 0)
        result[user_id] = PersonTraining(user_id, department_id, required, completed,
                                         last_at if required and completed >= required else None)
    return result


def trained_on_by_person(units: set[int] | None = None) -> dict[int, date]:
    """The local day each trained person in ``units`` (None: everyone) became trained (training_by_person)."""
    return {user_id: to_local(person.trained_at).date()
            for user_id, person in training_by_person(units).items() if person.is_trained}


def required_completion(department_id: int) -> tuple[int, int, int]:
    """(trained, people with required training, percent) in a department and its teams."""
    return required_completion_by_department([department_id])[department_id]


def required_completion_by_department(department_ids) -> dict[int, tuple[int, int, int]]:
    """required_completion for several departments with a fixed number of statements (the readiness page
    lists them all): people read as grouped rows, never as objects."""
    tree = DepartmentTree()
    subtrees = {department_id: tree.subtree(department_id) for department_id in department_ids}
    trained_by_unit: dict[int | None, int] = {}
    people_by_unit: dict[int | None, int] = {}
    for person in training_by_person(set().union(*subtrees.values()) if subtrees else set(), tree).values():
        people_by_unit[person.department_id] = people_by_unit.get(person.department_id, 0) + 1
        if person.is_trained:
            trained_by_unit[person.department_id] = trained_by_unit.get(person.department_id, 0) + 1
    result = {}
    for department_id, units in subtrees.items():
        trained = sum(trained_by_unit.get(unit, 0) for unit in units)
        people = sum(people_by_unit.get(unit, 0) for unit in units)
        result[department_id] = (trained, people, round(100 * trained / people) if people else 0)
    return result


def seed_coverage_by_department(department_ids) -> dict[int, tuple[int, int, bool]]:
    """seed_coverage for several departments with three queries in all (measured: three per department)."""
    tree = DepartmentTree()
    units = {department_id: tree.subtree(department_id) for department_id in department_ids}
    staff_by_unit = dict(db.session.execute(
        select(User.department_id, func.count(func.distinct(User.id))).join(UserRole)
        .where(User.is_active_account.is_(True), UserRole.role == "staff").group_by(User.department_id)).all())
    seeds_by_unit = dict(db.session.execute(
        select(User.department_id, func.count()).where(User.is_active_account.is_(True), User.is_seed_user.is_(True))
        .group_by(User.department_id)).all())
    result = {}
    for department_id, ids in units.items():
        staff = sum(staff_by_unit.get(unit_id, 0) for unit_id in ids)
        seeds = sum(seeds_by_unit.get(unit_id, 0) for unit_id in ids)
        result[department_id] = (seeds, staff, seeds >= seeds_needed(staff))
    return result


def seed_ratio() -> int:
    """One seed user per this many staff (config TRAINING_SEED_RATIO)."""
    return max(1, int(current_app.config.get("TRAINING_SEED_RATIO", 10)))


def seed_coverage(department_id: int) -> tuple[int, int, bool]:
    """(seed users, staff, ok) for a department and its teams; ok when there is one seed user per N staff."""
    tree = DepartmentTree()
    ids = sorted(tree.subtree(department_id))
    staff = db.session.scalar(select(func.count(func.distinct(User.id))).join(UserRole).where(
        User.department_id.in_(ids), User.is_active_account.is_(True), UserRole.role == "staff")) or 0
    seeds = db.session.scalar(select(func.count()).select_from(User).where(
        User.department_id.in_(ids), User.is_active_account.is_(True), User.is_seed_user.is_(True))) or 0
    return seeds, staff, seeds >= seeds_needed(staff)


def seeds_needed(staff: int) -> int:
    return math.ceil(staff / seed_ratio()) if staff else 0


def faq_article_count() -> int:
    """Number of articles in the knowledge base."""
    from training.faq import article_count
    return article_count()


def open_support_requests_for(user) -> list:
    """Unanswered support requests waiting for ``user`` (as seed user or, when escalated, as lead)."""
    from training.support import waiting_for
    return waiting_for(user)
