"""Rollout plan, go-live readiness and adoption, computed from the other modules' data.

The dashboard sits at the end of the dependency chain: it may read every
module. Functions a module has not (yet) installed make their readiness item
"not available" instead of failing the page.
"""
from __future__ import annotations

import importlib
import unicodedata
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from math import ceil

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from markupsafe import Markup
from sqlalchemy import and_, case, func, literal_column, or_, select, union_all
from werkzeug.routing import BuildError

from rollout.access import home_department_id
from rollout.accounts.models import Department, User, UserRole
from rollout.audit.display import label_codes
from rollout.audit.models import AuditEntry
from rollout.dashboard.models import (EVERYONE, PHASE_KINDS, PILOT, WAVE, AdoptionTarget, RankingPublication,
                                      ReadinessSetting, RolloutMilestone, RolloutPhase, RolloutPhaseDepartment)
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.timeutil import local_to_utc, local_today, utcnow

PHASE_KIND_LABELS = {PILOT: _l("Pilot"), WAVE: _l("Wave"), EVERYONE: _l("Everyone")}
label_codes({("rollout_phases", "kind"): PHASE_KIND_LABELS})


def optional_function(module: str, name: str):
    """A function another module exposes, or None when it is not installed."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _url(endpoint: str, **values) -> str | None:
    from flask import url_for
    try:
        return url_for(endpoint, **values)
    except (BuildError, RuntimeError):  # module not installed, or no request (scripts)
        return None


def business_departments() -> list[Department]:
    """Departments that go live (kind 'department'), by name."""
    return list(db.session.scalars(select(Department).where(Department.kind == "department")
                                   .order_by(Department.name)))


def plan_units() -> list[tuple[int, str]]:
    """Departments and teams a phase can hold, as (id, indented name) in tree order."""
    from rollout.accounts.services import department_choices
    return department_choices(include_company=False)


# --- rollout plan ----------------------------------------------------------------------------
def phases() -> list[RolloutPhase]:
    return list(db.session.scalars(select(RolloutPhase).options(db.selectinload(RolloutPhase.milestones))
                                   .order_by(RolloutPhase.starts_on, RolloutPhase.id)))


def _check_phase_order(candidate: RolloutPhase, others: list[RolloutPhase]) -> None:
    for other in others:
        if candidate.kind in (PILOT, EVERYONE) and other.kind == candidate.kind:
            raise ServiceError(_("The plan already has a phase of this kind: %(name)s.", name=other.name), "kind")
    pilot = [p for p in others + [candidate] if p.kind == PILOT]
    everyone = [p for p in others + [candidate] if p.kind == EVERYONE]
    waves = [p for p in others + [candidate] if p.kind == WAVE]
    if pilot and any(w.starts_on < pilot[0].starts_on for w in waves + everyone):
        raise ServiceError(_("The pilot must start before the waves and the company-wide phase."), "starts_on")
    if everyone and any(w.starts_on > everyone[0].starts_on for w in waves):
        raise ServiceError(_("The company-wide phase must start after every wave."), "starts_on")


PHASE_NAME_MAX = 100


@dataclass(frozen=True)
class GoLiveMove:
    """A department's go-live date moved into its phase (``old_on`` None: it had none)."""
    department: Department
    old_on: date | None
    new_on: date


def go_live_moves(departments, starts_on: date, ends_on: date) -> list[GoLiveMove]:
    """The go-live dates that must change for ``departments`` to go live between the two days: a missing
    date becomes the first day, a date outside the nearest day inside (never earlier than needed)."""
    moves = []
    for department in departments:
        old_on = department.go_live_on
        new_on = starts_on if old_on is None else min(max(old_on, starts_on), ends_on)
        if new_on != old_on:
            moves.append(GoLiveMove(department, old_on, new_on))
    return moves


class GoLiveMovesToConfirm(ServiceError):
    """Saving the phase would move go-live dates someone chose: the user confirms the moves first."""

    def __init__(self, moves: list[GoLiveMove]):
        super().__init__(ngettext("Saving the phase moves a go-live date: confirm the move or change the date first.",
                                  "Saving the phase moves %(num)d go-live dates: confirm the moves or change the "
                                  "dates first.", len(moves)), "ends_on")
        self.moves = moves
        self.token = self.token_of(moves)

    @staticmethod
    def token_of(moves: list[GoLiveMove]) -> str:
        """What a confirmation sends back: it confirms exactly these moves, not whatever a later edit moves."""
        return ",".join(f"{move.department.id}:{move.new_on.isoformat()}"
                        for move in sorted(moves, key=lambda move: move.department.id))


def save_phase(phase: RolloutPhase | None, name: str, kind: str, starts_on: date | None, ends_on: date | None,
               department_ids, notes: str = "", confirmed_moves: str | None = None
               ) -> tuple[RolloutPhase, list[GoLiveMove]]:
    """Create or change a phase and return it with the go-live dates that changed.

    Its departments' go-live dates stay inside the phase: a department without one gets the first day;
    a date that would fall outside moves to the nearest day inside, but only once the user has seen
    and confirmed these moves (``confirmed_moves`` is the token of GoLiveMovesToConfirm)."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("A name is required."), "name")
    if len(name) > PHASE_NAME_MAX:
        raise ServiceError(_("A name has at most %(max)d characters.", max=PHASE_NAME_MAX), "name")
    if kind not in PHASE_KINDS:
        raise ServiceError(_("Unknown phase kind."), "kind")
    if starts_on is None or ends_on is None:
        raise ServiceError(_("Give the first and the last day."), "starts_on")
    if ends_on < starts_on:
        raise ServiceError(_("The phase cannot end before it starts."), "ends_on")
    wanted = {int(i) for i in department_ids or ()}
    departments = list(db.session.scalars(select(Department).where(Department.id.in_(sorted(wanted) or [-1]))
                                          .order_by(Department.name)))
    if len(departments) != len(wanted) or any(d.kind == "company" for d in departments):
        raise ServiceError(_("Choose departments or teams (not the whole company)."), "department_ids")
    taken = db.session.execute(select(RolloutPhaseDepartment.department_id, RolloutPhase.name)
                               .join(RolloutPhase).where(RolloutPhaseDepartment.department_id.in_(wanted or [-1]),
                                                         RolloutPhase.id != (phase.id if phase else -1))).first()
    if taken is not None:
        department = next(d for d in departments if d.id == taken[0])
        raise ServiceError(_("%(department)s is already in the phase %(phase)s.", department=department.name,
                             phase=taken[1]), "department_ids")
    others = [p for p in phases() if phase is None or p.id != phase.id]
    moves = go_live_moves(departments, starts_on, ends_on)
    to_confirm = [move for move in moves if move.old_on is not None]
    if phase is None:
        phase = RolloutPhase()
    phase.name, phase.kind, phase.starts_on, phase.ends_on = name, kind, starts_on, ends_on
    phase.notes = (notes or "").strip()
    _check_phase_order(phase, others)
    # Asked only once the phase itself is valid, so a confirmation is never followed by another refusal.
    if to_confirm and confirmed_moves != GoLiveMovesToConfirm.token_of(to_confirm):
        raise GoLiveMovesToConfirm(to_confirm)
    if phase.id is None:
        db.session.add(phase)
    phase.department_rows = [row for row in phase.department_rows if row.department_id in wanted] + [
        RolloutPhaseDepartment(department_id=d) for d in sorted(wanted - phase.department_ids)]
    for move in moves:
        move.department.go_live_on = move.new_on
    db.session.flush()
    return phase, moves


def delete_phase(phase: RolloutPhase) -> None:
    db.session.delete(phase)
    db.session.flush()


def phase_of(department_id: int | None) -> RolloutPhase | None:
    """The phase a department goes live in, if any."""
    if department_id is None:  # not saved yet: in no phase
        return None
    return db.session.scalar(select(RolloutPhase).join(RolloutPhaseDepartment)
                             .where(RolloutPhaseDepartment.department_id == department_id))


def check_go_live(department: Department, day: date | None) -> None:
    """Refuse a go-live date the plan does not allow, with a ServiceError on the field 'go_live_on':
    any date for the whole company, and for a department or team in a phase no date or a date outside
    the phase. Every form that sets a go-live date calls this."""
    if department.kind == "company":
        if day is not None:
            raise ServiceError(_("Go-live dates are set per department or team."), "go_live_on")
        return
    phase = phase_of(department.id)
    if phase is None:
        return
    if day is None:
        raise ServiceError(_("%(department)s is in the phase %(phase)s and needs a go-live date.",
                             department=department.name, phase=phase.name), "go_live_on")
    if not phase.starts_on <= day <= phase.ends_on:
        raise ServiceError(_("The go-live date must lie within the phase %(phase)s (%(start)s – %(end)s).",
                             phase=phase.name, start=phase.starts_on, end=phase.ends_on), "go_live_on")


class PastGoLiveToConfirm(ServiceError):
    """The new go-live date has passed: most often a mistyped year, sometimes a go-live being recorded
    after the fact. The user confirms that date (``token``) before it is saved."""

    def __init__(self, department: Department, day: date, today: date):
        days = (today - day).days
        super().__init__(ngettext("%(date)s was yesterday. Save it only if %(department)s already went live on "
                                  "that day; for a go-live still to come, choose a later date.",
                                  "%(date)s was %(num)d days ago. Save it only if %(department)s already went "
                                  "live on that day; for a go-live still to come, choose a later date.",
                                  days, date=day.isoformat(), department=department.name), "go_live_on")
        self.token = day.isoformat()


def set_go_live(department: Department, go_live_on: date | None, confirmed_past: str | None = None,
                today: date | None = None) -> None:
    """Set a department's go-live date (see check_go_live). A date before ``today`` that is not already
    the department's is saved only once the user confirmed it (``confirmed_past``: its ISO form, the
    token of PastGoLiveToConfirm); an unchanged date is kept without asking."""
    check_go_live(department, go_live_on)
    today = today or local_today()
    if (go_live_on is not None and go_live_on < today and go_live_on != department.go_live_on
            and confirmed_past != go_live_on.isoformat()):
        raise PastGoLiveToConfirm(department, go_live_on, today)
    department.go_live_on = go_live_on
    db.session.flush()


def plan_problems() -> list[str]:
    """Where departments' go-live dates or milestones disagree with their phase (e.g. edited elsewhere)."""
    problems = []
    for phase in phases():
        for row in phase.department_rows:
            department = row.department
            if department.go_live_on is None:
                problems.append(_("%(department)s has no go-live date but is in the phase %(phase)s.",
                                  department=department.name, phase=phase.name))
            elif not phase.starts_on <= department.go_live_on <= phase.ends_on:
                problems.append(_("%(department)s goes live on %(date)s, outside its phase %(phase)s.",
                                  department=department.name, date=department.go_live_on, phase=phase.name))
        for milestone in phase.milestones:
            if not phase.starts_on <= milestone.due_on <= phase.ends_on:
                problems.append(_("The milestone “%(title)s” is due on %(date)s, outside its phase %(phase)s.",
                                  title=milestone.title, date=milestone.due_on, phase=phase.name))
    return problems


MILESTONE_TITLE_MAX = 200


def save_milestone(milestone: RolloutMilestone | None, title: str, due_on: date | None,
                   phase_id: int | None = None) -> RolloutMilestone:
    """Add or change a milestone: its date lies inside its phase (if it has one), and the plan holds no
    other milestone with the same title, date and phase."""
    title = (title or "").strip()
    if not title:
        raise ServiceError(_("A title is required."), "title")
    if len(title) > MILESTONE_TITLE_MAX:
        raise ServiceError(_("A title has at most %(max)d characters.", max=MILESTONE_TITLE_MAX), "title")
    if due_on is None:
        raise ServiceError(_("A date is required."), "due_on")
    phase = db.session.get(RolloutPhase, phase_id) if phase_id else None
    if phase_id and phase is None:
        raise ServiceError(_("Unknown phase."), "phase_id")
    if phase is not None and not phase.starts_on <= due_on <= phase.ends_on:
        raise ServiceError(_("The date must lie within the phase %(phase)s (%(start)s – %(end)s).",
                             phase=phase.name, start=phase.starts_on, end=phase.ends_on), "due_on")
    same = select(RolloutMilestone.id).where(
        RolloutMilestone.title == title, RolloutMilestone.due_on == due_on,
        RolloutMilestone.phase_id == phase.id if phase else RolloutMilestone.phase_id.is_(None))
    if milestone is not None:
        same = same.where(RolloutMilestone.id != milestone.id)
    if db.session.scalar(same.limit(1)) is not None:
        raise ServiceError(_("The plan already has this milestone on this date."), "title")
    if milestone is None:
        milestone = RolloutMilestone()
        db.session.add(milestone)
    # The key, not the relationship: leaving a phase's list would make the milestone a deleted orphan.
    milestone.title, milestone.due_on, milestone.phase_id = title, due_on, phase.id if phase else None
    db.session.flush()
    return milestone


def set_milestone_done(milestone: RolloutMilestone, is_done: bool) -> None:
    """Mark a milestone done today, or not done. Stating the wanted state (rather than flipping it) keeps
    two people who click at once from undoing each other."""
    if is_done and milestone.done_on is None:
        milestone.done_on = local_today()
    elif not is_done:
        milestone.done_on = None
    db.session.flush()


def delete_milestone(milestone: RolloutMilestone) -> None:
    db.session.delete(milestone)
    db.session.flush()


def overdue_milestones(today: date | None = None, limit: int | None = None) -> tuple[list[RolloutMilestone], int]:
    """Milestones not done whose date has passed, the longest overdue first (at most ``limit``), and how many
    there are in all. Two statements at most."""
    today = today or local_today()
    overdue = select(RolloutMilestone).where(RolloutMilestone.done_on.is_(None), RolloutMilestone.due_on < today)
    rows = list(db.session.scalars(overdue.options(db.joinedload(RolloutMilestone.phase))
                                   .order_by(RolloutMilestone.due_on, RolloutMilestone.id).limit(limit)))
    if limit is None or len(rows) < limit:
        return rows, len(rows)
    return rows, db.session.scalar(select(func.count()).select_from(overdue.subquery())) or 0


#: Event code of the reminder about an overdue rollout milestone.
MILESTONE_OVERDUE_EVENT = "rollout.milestone_overdue"
#: Days between two reminders about the same overdue milestone.
MILESTONE_REMINDER_DAYS = 7


def _plan_keepers() -> list[User]:
    """Who is told about the plan: the active project leads, or the administrators where there is no lead."""
    for role in ("lead", "admin"):
        users = list(db.session.scalars(select(User).join(UserRole, UserRole.user_id == User.id).where(
            UserRole.role == role, User.is_active_account.is_(True)).order_by(User.id)))
        if users:
            return users
    return []


def remind_overdue_milestones(today: date | None = None) -> int:
    """Tell the project leads about each rollout milestone not done by its date: the day after it, then
    weekly while it stays overdue. Safe to run more than once a day: whoever was told about a milestone in
    the last week (a notification with its link) is not told again. Returns the notifications sent."""
    from rollout.notify.models import Notification
    from rollout.notify.services import notify
    today = today or local_today()
    milestones, _total = overdue_milestones(today)
    keepers = _plan_keepers()
    if not milestones or not keepers:
        return 0
    since = local_to_utc(datetime.combine(today - timedelta(days=MILESTONE_REMINDER_DAYS - 1), time.min))
    until = local_to_utc(datetime.combine(today + timedelta(days=1), time.min))
    told = set(db.session.execute(select(Notification.user_id, Notification.link).where(
        Notification.event == MILESTONE_OVERDUE_EVENT, Notification.created_at >= since,
        Notification.created_at < until)).all())
    sent = 0
    for milestone in milestones:
        link = f"/rollout/plan#milestone-{milestone.id}"
        users = [user for user in keepers if (user.id, link) not in told]
        if not users:
            continue
        notify(users, MILESTONE_OVERDUE_EVENT,
               _l("Rollout milestone overdue since %(day)s: %(title)s", day=milestone.due_on.isoformat(),
                  title=milestone.title),
               _l("Mark it done on the rollout plan once it is reached, or give it a new date."), link=link)
        sent += len(users)
    return sent


def unplanned_milestones() -> list[RolloutMilestone]:
    """Milestones of no phase, by date."""
    return list(db.session.scalars(select(RolloutMilestone).where(RolloutMilestone.phase_id.is_(None))
                                   .order_by(RolloutMilestone.due_on, RolloutMilestone.id)))


# --- readiness settings -------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemDefinition:
    key: str
    label: object
    threshold: int
    unit: str  # "%", "days", "count" or "" (no threshold)
    is_blocking: bool


READINESS_ITEMS = (
    ItemDefinition("coverage", _l("Requirements coverage (every role heard)"), 100, "%", True),
    ItemDefinition("process_maps", _l("Process maps approved, no blocking check"), 1, "count", True),
    ItemDefinition("review_window", _l("Change review window defined"), 0, "", True),
    ItemDefinition("data_import", _l("Data import validated"), 0, "", True),
    ItemDefinition("permissions", _l("Permissions reviewed"), 30, "days", True),
    ItemDefinition("training", _l("People trained (required training completed)"), 90, "%", True),
    ItemDefinition("seed_users", _l("Seed-user coverage"), 100, "%", True),
    ItemDefinition("faq", _l("FAQ seeded"), 10, "count", False),
    ItemDefinition("retro", _l("Retro held recently"), 14, "days", False),
)
ITEMS_BY_KEY = {item.key: item for item in READINESS_ITEMS}
# A threshold's row is keyed by its item: the audit trail names the item, not "#faq".
label_codes({("readiness_settings", "key"): {item.key: item.label for item in READINESS_ITEMS}})
UNIT_HELP = {"%": _l("percent at least"), "days": _l("within days"), "count": _l("at least")}


@dataclass
class EffectiveSetting:
    definition: ItemDefinition
    threshold: int
    is_blocking: bool


def readiness_settings() -> dict[str, EffectiveSetting]:
    """Every item's threshold and blocking flag: stored values over the defaults. One statement."""
    stored = {row.key: row for row in db.session.scalars(select(ReadinessSetting))}
    result = {}
    for item in READINESS_ITEMS:
        row = stored.get(item.key)
        result[item.key] = EffectiveSetting(item, row.threshold if row else item.threshold,
                                            row.is_blocking if row else item.is_blocking)
    return result


def save_readiness_setting(key: str, threshold: int | None, is_blocking: bool) -> ReadinessSetting:
    item = ITEMS_BY_KEY.get(key)
    if item is None:
        raise ServiceError(_("Unknown readiness item."))
    threshold = item.threshold if threshold is None else threshold
    limit = 100 if item.unit == "%" else 3650
    if not 0 <= threshold <= limit:
        raise ServiceError(_("%(item)s: the threshold must be between 0 and %(max)s.", item=item.label, max=limit),
                           f"threshold_{key}")
    row = db.session.get(ReadinessSetting, key)
    if row is None:
        row = ReadinessSetting(key=key)
        db.session.add(row)
    row.threshold, row.is_blocking = threshold, bool(is_blocking)
    db.session.flush()
    return row


# --- readiness --------------------------------------------------------------------------------------
PASS, FAIL, UNAVAILABLE = "pass", "fail", "unavailable"


@dataclass
class ReadinessItem:
    key: str
    label: str
    status: str
    detail: str
    evidence_url: str | None
    is_blocking: bool


@dataclass
class DepartmentReadiness:
    department: Department
    items: list[ReadinessItem] = field(default_factory=list)

    @property
    def is_ready(self) -> bool:
        return all(item.status == PASS for item in self.items if item.is_blocking)

    @property
    def blocking_open(self) -> list[ReadinessItem]:
        return [item for item in self.items if item.is_blocking and item.status != PASS]

    @property
    def passed(self) -> int:
        return sum(1 for item in self.items if item.status == PASS)


def _unavailable(_department) -> tuple[str, str, str | None]:
    return UNAVAILABLE, _("not available: the module does not provide this yet"), None


class _ReadinessData:
    """Everything readiness needs, loaded once for all departments."""

    def __init__(self, departments: list[Department], settings: dict[str, EffectiveSetting], today: date):
        self.departments, self.settings, self.today = departments, settings, today
        self.now = utcnow()
        ids = {d.id for d in departments}
        coverage_matrix = optional_function("surveys.services", "coverage_matrix")
        self.coverage = coverage_matrix(ids) if coverage_matrix else None
        has_review_window = optional_function("changes.services", "has_review_window")
        self.review_window = has_review_window() if has_review_window else None
        faq_count = optional_function("training.services", "faq_article_count")
        self.faq_count = faq_count() if faq_count else None
        completion_by_department = optional_function("training.services", "required_completion_by_department")
        self.training_completion = completion_by_department(ids) if completion_by_department else None
        seeds_by_department = optional_function("training.services", "seed_coverage_by_department")
        self.seed_coverage = seeds_by_department(ids) if seeds_by_department else None
        from rollout.retros.services import last_retro_on_by_team
        self.last_retro: dict[int, date] = {}
        for team_id, held_on in last_retro_on_by_team().items():
            home = home_department_id(team_id)
            if home is not None and (home not in self.last_retro or held_on > self.last_retro[home]):
                self.last_retro[home] = held_on
        self.review_by_department: dict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
        cutoff = self.now - timedelta(days=settings["permissions"].threshold)
        rows = db.session.execute(select(User.department_id, func.count(),
                                         func.sum(case((User.roles_reviewed_at >= cutoff, 1), else_=0)))
                                  .where(User.is_active_account.is_(True), User.department_id.is_not(None))
                                  .group_by(User.department_id)).all()
        for department_id, total, reviewed in rows:
            home = home_department_id(department_id)
            old_total, old_reviewed = self.review_by_department[home]
            self.review_by_department[home] = (old_total + total, old_reviewed + int(reviewed or 0))
        self.process_rows = self._process_rows(ids)

    def _process_rows(self, ids) -> dict[int, list] | None:
        try:
            from processmaps.models import APPROVED, Process, ProcessVersion
        except ImportError:
            return None
        rows = db.session.execute(
            select(Process.id, Process.department_id, ProcessVersion)
            .outerjoin(ProcessVersion, and_(ProcessVersion.process_id == Process.id,
                                            ProcessVersion.status == APPROVED))
            .where(Process.department_id.is_not(None))).all()
        result: dict[int, list] = defaultdict(list)
        for _process_id, department_id, version in rows:
            result[home_department_id(department_id)].append(version)
        _check_approved_maps([version for _p, _d, version in rows if version is not None])
        return result


#: Whether an approved map version has no blocking problems, by (id, approved_at). Only drafts can be
#: edited, so an approved version's result never changes; a new approval has a new key. Each worker
#: keeps its own copy (nothing another instance needs). Measured: without it the readiness page loaded
#: and checked every node and edge of every map on each request (200 maps of up to 200 nodes).
_APPROVED_MAP_IS_CLEAN: dict[tuple, bool] = {}
_MAP_CACHE_LIMIT = 20_000


def _map_key(version) -> tuple:
    return version.id, version.approved_at


def _check_approved_maps(versions) -> None:
    """Run the blocking checks of approved versions not checked yet, loading their nodes and edges in bulk."""
    blocking_problems = optional_function("processmaps.services", "blocking_problems")
    unchecked = [v.id for v in versions if _map_key(v) not in _APPROVED_MAP_IS_CLEAN]
    if blocking_problems is None or not unchecked:
        return
    from processmaps.models import ProcessVersion
    if len(_APPROVED_MAP_IS_CLEAN) + len(unchecked) > _MAP_CACHE_LIMIT:
        _APPROVED_MAP_IS_CLEAN.clear()
    for start in range(0, len(unchecked), 500):
        loaded = db.session.scalars(
            select(ProcessVersion).where(ProcessVersion.id.in_(unchecked[start:start + 500]))
            .options(db.selectinload(ProcessVersion.nodes), db.selectinload(ProcessVersion.edges))
            .execution_options(populate_existing=True)).all()
        for version in loaded:
            _APPROVED_MAP_IS_CLEAN[_map_key(version)] = not blocking_problems(version)


def _coverage(data: _ReadinessData, department):
    if data.coverage is None:
        return _unavailable(department)
    cells = [cell for (department_id, _role), cell in data.coverage.cells.items() if department_id == department.id]
    url = _url("surveys.coverage")
    if not cells:
        return FAIL, _("nobody in a business role"), url
    heard = sum(1 for c in cells if c.is_heard)
    percent = round(100 * heard / len(cells))
    status = PASS if percent >= data.settings["coverage"].threshold else FAIL
    return status, ngettext("%(heard)d of %(num)d role heard (%(percent)d%%)",
                            "%(heard)d of %(num)d roles heard (%(percent)d%%)", len(cells), heard=heard,
                            percent=percent), url


def _process_maps(data: _ReadinessData, department):
    blocking_problems = optional_function("processmaps.services", "blocking_problems")
    if data.process_rows is None or blocking_problems is None:
        return _unavailable(department)
    versions = data.process_rows.get(department.id, [])
    url = _url("processmaps.index")
    if not versions:
        return FAIL, _("no process maps yet"), url
    approved = [v for v in versions if v is not None]
    clean = [v for v in approved if _APPROVED_MAP_IS_CLEAN.get(_map_key(v), False)]
    needed = max(1, data.settings["process_maps"].threshold)
    status = PASS if len(clean) >= needed and len(clean) == len(versions) else FAIL
    return status, ngettext("%(clean)d of %(num)d process map approved without blocking problems",
                            "%(clean)d of %(num)d process maps approved without blocking problems",
                            len(versions), clean=len(clean)), url


def _review_window(data: _ReadinessData, department):
    if data.review_window is None:
        return _unavailable(department)
    url = _url("changes.windows")
    return (PASS, _("a review rhythm is set"), url) if data.review_window else (
        FAIL, _("no review window or cadence"), url)


def _data_import(data: _ReadinessData, department):
    status_of = optional_function("rollout.imports.services", "department_import_status")
    if status_of is None:
        return _unavailable(department)
    result = status_of(department.id)
    url = _url("imports.index")
    if result.completed == 0:
        return FAIL, _("no completed import"), url
    if result.unresolved_errors:
        return FAIL, ngettext("%(num)d unresolved import error", "%(num)d unresolved import errors",
                              result.unresolved_errors), url
    return PASS, ngettext("%(num)d completed import, no unresolved errors",
                          "%(num)d completed imports, no unresolved errors", result.completed), url


def _permissions(data: _ReadinessData, department):
    total, reviewed = data.review_by_department.get(department.id, (0, 0))
    url = _url("accounts.role_review", department_id=department.id)
    days = data.settings["permissions"].threshold
    if total == 0:
        return FAIL, _("no users"), url
    status = PASS if reviewed == total else FAIL
    return status, ngettext("%(reviewed)d of %(num)d user's roles confirmed in the last %(days)d days",
                            "%(reviewed)d of %(num)d users' roles confirmed in the last %(days)d days",
                            total, reviewed=reviewed, days=days), url


def _training(data: _ReadinessData, department):
    required_completion = optional_function("training.services", "required_completion")
    if required_completion is None:
        return _unavailable(department)
    if data.training_completion is not None:  # all departments at once, when training offers it
        completed, required, percent = data.training_completion.get(department.id, (0, 0, 0))
    else:
        completed, required, percent = required_completion(department.id)
    url = _url("training.matrix")
    if required == 0:
        return FAIL, _("no required training assigned"), url
    # Counted in people, as the adoption figures count them (training.services.training_by_person).
    status = PASS if percent >= data.settings["training"].threshold else FAIL
    return status, ngettext("%(trained)d of %(num)d person trained (%(percent)d%%)",
                            "%(trained)d of %(num)d people trained (%(percent)d%%)",
                            required, trained=completed, percent=percent), url


def _seed_users(data: _ReadinessData, department):
    seed_coverage = optional_function("training.services", "seed_coverage")
    seeds_needed = optional_function("training.services", "seeds_needed")
    if seed_coverage is None:
        return _unavailable(department)
    if data.seed_coverage is not None:  # all departments at once, when training offers it
        seeds, staff, ok = data.seed_coverage.get(department.id, (0, 0, True))
    else:
        seeds, staff, ok = seed_coverage(department.id)
    needed = seeds_needed(staff) if seeds_needed else 0
    url = _url("training.seeds")
    if not staff:  # nobody to help yet: not ready, and not "0 of 0 needed"
        return FAIL, _("no staff yet"), url
    percent = 100 if not needed else round(100 * min(seeds, needed) / needed)
    status = PASS if (ok or percent >= data.settings["seed_users"].threshold) and staff else FAIL
    return status, ngettext("%(num)d seed user for %(staff)d staff (%(needed)d needed)",
                            "%(num)d seed users for %(staff)d staff (%(needed)d needed)", seeds, staff=staff,
                            needed=needed), url


def _faq(data: _ReadinessData, department):
    if data.faq_count is None:
        return _unavailable(department)
    needed = data.settings["faq"].threshold
    status = PASS if data.faq_count >= needed else FAIL
    return status, ngettext("%(num)d FAQ article (%(needed)d wanted)", "%(num)d FAQ articles (%(needed)d wanted)",
                            data.faq_count, needed=needed), \
        _url("training.faq_index")


def _retro(data: _ReadinessData, department):
    last = data.last_retro.get(department.id)
    days = data.settings["retro"].threshold
    url = _url("retros.index")
    if last is None:
        return FAIL, _("no retro yet"), url
    status = PASS if (data.today - last).days <= days else FAIL
    return status, _("last retro on %(date)s", date=last), url


CHECKS = {"coverage": _coverage, "process_maps": _process_maps, "review_window": _review_window,
          "data_import": _data_import, "permissions": _permissions, "training": _training,
          "seed_users": _seed_users, "faq": _faq, "retro": _retro}


def readiness(department_ids=None, today: date | None = None) -> list[DepartmentReadiness]:
    """Go-live readiness of each department (optionally only some), every item with its evidence link."""
    departments = business_departments()
    if department_ids is not None:
        departments = [d for d in departments if d.id in set(department_ids)]
    settings = readiness_settings()
    data = _ReadinessData(departments, settings, today or local_today())
    result = []
    for department in departments:
        entry = DepartmentReadiness(department)
        for item in READINESS_ITEMS:
            status, detail, url = CHECKS[item.key](data, department)
            entry.items.append(ReadinessItem(item.key, str(item.label), status, detail, url,
                                             settings[item.key].is_blocking))
        result.append(entry)
    return result


# --- adoption ----------------------------------------------------------------------------------------
WEEKS_SHOWN = 8
RANKING_WEEKS = 4
DEFAULT_ENTRIES_PER_WEEK = 10


def this_weeks_share(today: date) -> float:
    """The part of the current week (Monday to Sunday) that has been lived, today included."""
    return (today.weekday() + 1) / 7


def week_starts(today: date, weeks: int) -> list[date]:
    """Mondays of the last ``weeks`` weeks, oldest first (the last one is this week)."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def _week_parts(column, starts: list[date], count_in) -> list:
    """``count_in(week_index, condition)`` for each week (the condition keeps ``column``, a naive-UTC
    datetime, inside that week; the last week is open-ended): parts to join into one statement with UNION ALL.

    Measured at 500,000 activities: a range read per week is 2.5 times faster than grouping every
    recent row by a CASE expression that works out its week."""
    bounds = [local_to_utc(datetime.combine(start, time.min)) for start in starts]
    parts = []
    for index, low in enumerate(bounds):
        condition = column >= low if index == len(bounds) - 1 else and_(column >= low, column < bounds[index + 1])
        parts.append(count_in(literal_column(str(index)).label("week"), condition))
    return parts


@dataclass
class RepUsage:
    user_id: int
    name: str
    department_id: int
    weekly: list[int]
    trained_on: date | None = None
    last_login_at: datetime | None = None
    #: The go-live date that applies to this person (their team's or their department's).
    go_live_on: date | None = None
    #: The weeks the recent entries were made in: this week counts for the days it has had.
    recent_weeks: float = RANKING_WEEKS

    @property
    def recent_entries(self) -> int:
        return sum(self.weekly[-RANKING_WEEKS:])

    @property
    def per_week(self) -> float:
        return round(self.recent_entries / self.recent_weeks, 1)


@dataclass
class DepartmentAdoption:
    department: Department
    active_users: list[int]
    people: int
    reps: list[RepUsage]
    expected_per_week: int
    not_logged_in: list[RepUsage]
    before_after: tuple[float | None, float | None]
    publication: RankingPublication | None = None
    #: As RepUsage.recent_weeks: a Monday morning is not a whole week without entries.
    recent_weeks: float = RANKING_WEEKS

    @property
    def entries_per_rep_per_week(self) -> float:
        if not self.reps:
            return 0.0
        return round(sum(r.recent_entries for r in self.reps) / len(self.reps) / self.recent_weeks, 1)

    @property
    def ranking(self) -> list[RepUsage]:
        return sorted(self.reps, key=lambda r: (-r.recent_entries, r.name))

    @property
    def is_on_target(self) -> bool:
        return self.entries_per_rep_per_week >= self.expected_per_week

    @property
    def training_comparison(self) -> tuple[float | None, float | None]:
        """Before/after training as the table and the chart show them: nothing on either side (None) when
        there is nothing to compare — no trained reps, or trained reps without a single entry in the weeks
        shown — as the chart, which draws no bar for them and says "no data yet" when no department has any."""
        if not any(self.before_after):
            return None, None
        return self.before_after


@dataclass
class Adoption:
    weeks: list[date]
    departments: list[DepartmentAdoption]

    @property
    def lacks_a_comparison(self) -> bool:
        """Whether a department shows "—" before or after training (the page then says what it means)."""
        return any(value is None for d in self.departments for value in d.training_comparison)


def _entry_sources() -> list[tuple]:
    """(created-at column, person column, id column, table) of each kind of plan-tracking entry: follow-ups,
    deals and quotes."""
    try:
        from rollout.plans.models import Activity, Opportunity, Quote
    except ImportError:
        return []
    # "+ 0": grouped or filtered by the bare column, SQLite may walk activities in user order
    # instead of the recent ones by date (seconds at 500,000 activities).
    return [(Activity.created_at, Activity.user_id + literal_column("0"), Activity.id, Activity.__tablename__),
            (Opportunity.created_at, Opportunity.owner_id + literal_column("0"), Opportunity.id,
             Opportunity.__tablename__),
            (Quote.created_at, Quote.owner_id + literal_column("0"), Quote.id, Quote.__tablename__)]


def _imported_runs(tables: tuple[str, ...], since: datetime) -> dict[str, list[tuple[int, int]]]:
    """Id runs of the entries imports brought in (migrated history, not use of the tool) — one statement."""
    try:
        from rollout.imports.services import imported_id_runs
    except ImportError:
        return {}
    return imported_id_runs(tables, since)


def _trained_on(units: set[int] | None) -> dict[int, date]:
    """The day each person in ``units`` (None: everyone) became trained, by the same definition readiness
    counts (training.services.training_by_person); nothing when training is not installed."""
    trained_on_by_person = optional_function("training.services", "trained_on_by_person")
    return trained_on_by_person(units) if trained_on_by_person else {}


def trained_definition():
    """What counts as trained, for the readiness and adoption pages (None when training is not installed)."""
    try:
        from training.services import TRAINED_DEFINITION
    except ImportError:
        return None
    return TRAINED_DEFINITION


def adoption(department_ids=None, today: date | None = None, weeks: int = WEEKS_SHOWN) -> Adoption:
    """Weekly active users, entries per rep against the expected rate, use before/after training,
    rankings and who has not logged in since go-live — for every department, in a fixed number of statements."""
    today = today or local_today()
    starts = week_starts(today, weeks)
    departments = business_departments()
    if department_ids is not None:
        departments = [d for d in departments if d.id in set(department_ids)]
    wanted = {d.id for d in departments}

    # 1. people (with whether they are staff) — one statement
    staff_ids = select(UserRole.user_id).where(UserRole.role == "staff")
    people = db.session.execute(select(User.id, User.display_name, User.department_id, User.last_login_at,
                                       User.id.in_(staff_ids))
                                .where(User.is_active_account.is_(True), User.department_id.is_not(None))
                                .order_by(User.display_name)).all()
    home_of_unit = {unit: home_department_id(unit) for unit in {row.department_id for row in people}}
    home_of = {row.id: home_of_unit[row.department_id] for row in people}
    # A head's dashboard covers one department: only its people's logins and entries are read.
    in_scope = User.department_id.is_not(None)
    if department_ids is not None:
        in_scope = User.department_id.in_(sorted(unit for unit, home in home_of_unit.items() if home in wanted))

    # 2. weekly active users from login audit rows, counted per department and week by the database
    # (a person belongs to one department) — one statement
    active = defaultdict(lambda: [0] * weeks)
    logins = union_all(*_week_parts(AuditEntry.created_at, starts, lambda week, in_week: (
        select(week, User.department_id, func.count(func.distinct(AuditEntry.user_id)))
        .select_from(AuditEntry).join(User, User.id == AuditEntry.user_id)
        .where(AuditEntry.action == "login", in_week, User.is_active_account.is_(True), in_scope)
        .group_by(User.department_id))))
    for index, unit, count in db.session.execute(logins):
        home = home_of_unit.get(unit)
        if home is not None:
            active[home][index] += count

    # 3. plan-tracking entries (follow-ups, deals, quotes) per person and week, less those an import brought
    # in (old records are not use of the tool) — two statements
    weekly = defaultdict(lambda: [0] * weeks)
    parts = []
    sources = _entry_sources()
    imported = _imported_runs(tuple(table for *_columns, table in sources),
                              local_to_utc(datetime.combine(starts[0], time.min)))
    for created_at, person, id_column, table in sources:
        scope = [] if department_ids is None else [person.in_(select(User.id).where(in_scope))]
        parts += _week_parts(created_at, starts, lambda week, in_week, person=person, scope=scope: (
            select(week, person, func.count()).where(in_week, *scope).group_by(person)))
        runs = imported.get(table)
        if runs:
            # Subtracted rather than excluded: the count above stays a read of its covering index, and
            # these read id ranges of the primary key.
            # Ids written into the statement (integers from the database): a migration of many chunks
            # would otherwise bind more parameters than SQLite takes.
            from_import = or_(*(id_column.between(literal_column(str(int(first))), literal_column(str(int(last))))
                                if first != last else id_column == literal_column(str(int(first)))
                                for first, last in runs))
            parts += _week_parts(created_at, starts, lambda week, in_week, person=person, scope=scope,
                                 from_import=from_import: (
                select(week, person, -func.count()).where(from_import, in_week, *scope).group_by(person)))
    if parts:
        for index, entry_user_id, count in db.session.execute(union_all(*parts)):
            weekly[entry_user_id][index] += count

    # 4. the day each person became trained, targets, publications, go-live dates — five statements
    trained = _trained_on(None if department_ids is None else
                          {unit for unit, home in home_of_unit.items() if home in wanted})
    targets = dict(db.session.execute(select(AdoptionTarget.department_id, AdoptionTarget.entries_per_week)).all())
    publications = {}
    for publication in db.session.scalars(select(RankingPublication).order_by(RankingPublication.published_at)):
        publications[publication.department_id] = publication
    go_live_of = dict(db.session.execute(select(Department.id, Department.go_live_on)
                                         .where(Department.go_live_on.is_not(None))).all())
    default_rate = current_app.config.get("ADOPTION_ENTRIES_PER_WEEK", DEFAULT_ENTRIES_PER_WEEK)

    by_department: dict[int, list] = defaultdict(list)
    for row in people:
        if home_of[row.id] in wanted:
            by_department[home_of[row.id]].append(row)
    go_live_cutoffs: dict[date, datetime] = {}
    share = this_weeks_share(today)
    recent_weeks = min(RANKING_WEEKS, weeks) - 1 + share
    result = []
    for department in departments:
        rows = by_department.get(department.id, [])
        reps = [RepUsage(r.id, r.display_name, department.id, weekly[r.id],
                         trained.get(r.id), r.last_login_at,
                         recent_weeks=recent_weeks)
                for r in rows if r[4]]
        not_logged_in = []
        for r in rows:
            # A team that went live before its department (a pilot) counts from its own date.
            go_live_on = go_live_of.get(r.department_id) or department.go_live_on
            if go_live_on is None or go_live_on > today:
                continue
            if go_live_on not in go_live_cutoffs:
                go_live_cutoffs[go_live_on] = local_to_utc(datetime.combine(go_live_on, time.min))
            if r.last_login_at is None or r.last_login_at < go_live_cutoffs[go_live_on]:
                not_logged_in.append(RepUsage(r.id, r.display_name, department.id, [], None, r.last_login_at,
                                              go_live_on=go_live_on))
        result.append(DepartmentAdoption(
            department=department, active_users=active[department.id], people=len(rows), reps=reps,
            expected_per_week=targets.get(department.id, default_rate), not_logged_in=not_logged_in,
            before_after=_before_after(reps, starts, share), publication=publications.get(department.id),
            recent_weeks=recent_weeks))
    return Adoption(weeks=starts, departments=result)


def _before_after(reps: list[RepUsage], starts: list[date], share: float = 1.0) -> tuple[float | None, float | None]:
    """Average weekly entries per trained rep in the weeks before their training and the weeks after.

    The last week is the current one, counted for the ``share`` of it that has been lived."""
    ends = [start + timedelta(days=7) for start in starts]
    before, after = [], []
    for rep in reps:
        if rep.trained_on is None:
            continue
        # Weeks are in date order: those ended by the training day are a prefix, those begun after it a suffix.
        weeks_before = rep.weekly[:bisect_right(ends, rep.trained_on)]
        weeks_after = rep.weekly[bisect_right(starts, rep.trained_on):]
        if weeks_before:
            before.append(sum(weeks_before) / len(weeks_before))
        if weeks_after:
            after.append(sum(weeks_after) / (len(weeks_after) - 1 + share))
    average = lambda values: round(sum(values) / len(values), 1) if values else None  # noqa: E731
    return average(before), average(after)


def set_adoption_target(department: Department, entries_per_week: int) -> AdoptionTarget:
    if not 0 <= entries_per_week <= 1000:
        raise ServiceError(_("Give between 0 and 1000 entries per week."), "entries_per_week")
    target = db.session.get(AdoptionTarget, department.id)
    if target is None:
        target = AdoptionTarget(department_id=department.id)
        db.session.add(target)
    target.entries_per_week = entries_per_week
    db.session.flush()
    return target


def publish_ranking(department: Department, publisher: User, today: date | None = None) -> RankingPublication:
    """Freeze the department's current usage ranking so its staff can see it."""
    today = today or local_today()
    usage = adoption({department.id}, today).departments
    if not usage or not usage[0].reps:
        raise ServiceError(_("%(department)s has no reps to rank.", department=department.name))
    entry = usage[0]
    start = week_starts(today, RANKING_WEEKS)[0]
    existing = db.session.scalar(select(RankingPublication).where(
        RankingPublication.department_id == department.id, RankingPublication.period_end_on == today))
    publication = existing or RankingPublication(department_id=department.id, period_end_on=today)
    publication.period_start_on = start
    publication.entries = [{"rank": rank, "user_id": rep.user_id, "name": rep.name, "entries": rep.recent_entries}
                           for rank, rep in enumerate(entry.ranking, start=1)]
    publication.published_by_id = publisher.id
    publication.published_at = utcnow()
    if existing is None:
        db.session.add(publication)
    db.session.flush()
    return publication


def latest_publication(department_id: int) -> RankingPublication | None:
    return db.session.scalar(select(RankingPublication).where(RankingPublication.department_id == department_id)
                             .order_by(RankingPublication.published_at.desc()).limit(1))


# --- charts ----------------------------------------------------------------------------------------------
def _has_figures(series: dict) -> bool:
    """Whether any value is more than nothing: all zeros would draw a meaningless 0–1 axis."""
    return any(value for values in series.values() for value in values)


def _no_departments(title: str) -> Markup:
    from rollout.reports.charts import no_data_yet
    return no_data_yet(title, _("No data yet: there are no departments to show."))


def active_users_chart(data: Adoption):
    from rollout.reports.charts import no_data_yet, svg_chart, whole_ticks
    title = _("Weekly active users")
    if not data.departments:
        return _no_departments(title)
    series = {d.department.name: d.active_users for d in data.departments}
    if not _has_figures(series):
        return no_data_yet(title, _("No data yet: nobody in these departments has signed in during these weeks."))
    labels = [d.strftime("%m-%d") for d in data.weeks]
    if labels:  # the last week is this one, which has only begun: its figure is not a drop
        labels[-1] = _("%(day)s (this week)", day=labels[-1])
    # People are counted whole, from zero: pygal's own axis would start at the lowest week and show 1.2 people.
    top = max(value for values in series.values() for value in values)
    # The last label is centred on the chart's right edge: room for its half, and no "…" cutting it short.
    return svg_chart("line", title, labels, series, height=320, y_labels=whole_ticks(top),
                     truncate_label=-1, margin_right=max(20, ceil(_label_width(labels[-1]) / 2) + 4))


def _label_width(text: str, font_size: int = 12) -> float:
    """The width an axis label takes: a Chinese character is a whole em, Latin text about 0.6 of one
    (pygal's own estimate counts every character at 0.6 and so leaves Chinese labels too little room)."""
    return sum(font_size if unicodedata.east_asian_width(char) in "WF" else 0.6 * font_size for char in text)


def entries_chart(data: Adoption):
    from rollout.reports.charts import no_data_yet, svg_chart
    title = _("Plan-tracking entries per rep per week (last 4 weeks)")
    if not data.departments:
        return _no_departments(title)
    series = {_("Actual"): [d.entries_per_rep_per_week for d in data.departments],
              _("Expected"): [d.expected_per_week for d in data.departments]}
    if not _has_figures(series):
        return no_data_yet(title, _("No data yet: no entries recorded and no expected rate set."))
    labels = [d.department.name for d in data.departments]
    return svg_chart("bar", title, labels, series, height=320)


def training_effect_chart(data: Adoption):
    from rollout.reports.charts import no_data_yet, svg_chart
    title = _("Entries per rep per week, before and after training")
    if not data.departments:
        return _no_departments(title)
    series = {_("Before training"): [d.training_comparison[0] for d in data.departments],
              _("After training"): [d.training_comparison[1] for d in data.departments]}
    if not _has_figures(series):
        return no_data_yet(title, _("No data yet: the comparison appears once trained reps have recorded "
                                    "plan-tracking entries."))
    labels = [d.department.name for d in data.departments]
    return svg_chart("bar", title, labels, series, height=320)


def department_ids_for(user) -> set[int] | None:
    """Departments a user's dashboard covers: None (all) for leads, admins and trainers."""
    if user.has_role("admin", "lead", "trainer"):
        return None
    home = home_department_id(user.department_id)
    return {home} if home is not None else set()



# --- cached figures for the pages ------------------------------------------------------------------------
# Readiness and adoption aggregate every module's data and draw charts; the home page of every lead,
# head and admin shows them. The pages read them through rollout.figures, recomputed only after a
# write (or after a minute), with ORM objects replaced by snapshots so they can outlive a session.
@dataclass(frozen=True)
class DepartmentSnapshot:
    """What the dashboard pages show of a department."""
    id: int
    name: str
    code: str | None
    go_live_on: date | None


@dataclass(frozen=True)
class PublicationSnapshot:
    """What the adoption pages show of a published ranking."""
    id: int
    published_at: datetime


def _snapshot(department: Department) -> DepartmentSnapshot:
    return DepartmentSnapshot(department.id, department.name, department.code, department.go_live_on)


def _figures_key(name: str, department_ids) -> tuple:
    from flask_babel import get_locale
    scope = None if department_ids is None else frozenset(department_ids)
    return name, scope, local_today(), str(get_locale())


def cached_readiness(department_ids=None) -> list[DepartmentReadiness]:
    """readiness() for the pages, computed once per data version in this worker."""
    from rollout import figures

    def compute():
        return [replace(entry, department=_snapshot(entry.department)) for entry in readiness(department_ids)]
    return figures.cached(_figures_key("readiness", department_ids), compute)


def cached_adoption(department_ids=None, with_charts: bool = False,
                    weeks: int = WEEKS_SHOWN) -> tuple[Adoption, dict]:
    """adoption() over ``weeks`` weeks for the pages and, on request, its three charts, computed once per
    data version."""
    from rollout import figures

    def compute():
        data = adoption(department_ids, weeks=weeks)
        charts = {}
        if with_charts:
            charts = {"active_chart": active_users_chart(data), "entries_chart": entries_chart(data),
                      "training_chart": training_effect_chart(data)}
        departments = [replace(entry, department=_snapshot(entry.department),
                               publication=entry.publication and PublicationSnapshot(
                                   entry.publication.id, entry.publication.published_at))
                       for entry in data.departments]
        return Adoption(weeks=data.weeks, departments=departments), charts
    name = "adoption+charts" if with_charts else "adoption"
    return figures.cached(_figures_key(f"{name}/{weeks}", department_ids), compute)
