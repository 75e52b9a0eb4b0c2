"""Process-map rules: creating processes, editing draft versions, approving, comparing, RACI.

Other packages attach things to nodes without this package importing them:
they append a function ``node -> list[(label, url)]`` to ``NODE_LINK_PROVIDERS``
and the node page lists what every provider returns.
"""
from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from processmaps.forms import lane_choices
from processmaps.models import (
    APPROVED, DECISION, DRAFT, END, EXCEPTION, IN_REVIEW, LANE_BY_DEPARTMENT, LANE_MODES, NODE_KINDS, OPEN_STATUSES,
    PARALLEL, RACI_KINDS, START, SUBPROCESS, SUPERSEDED, TASK, Process, ProcessEdge, ProcessNode, ProcessVersion,
    RaciAssignment,
)
from rollout.accounts.models import Department, User
from rollout.audit.display import label_codes
from rollout.audit.services import record_event
from rollout.cleaning import clean_note, clean_text, name_key
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.timeutil import utcnow

#: Functions ``node -> list[(label, url)]`` contributed by packages that attach records to nodes
#: (requirements, change requests). The node page shows every link they return.
NODE_LINK_PROVIDERS: list[Callable[[ProcessNode], list[tuple[str, str]]]] = []

#: The one transition table of the version lifecycle: action → {from status: to status}.
VERSION_TRANSITIONS: dict[str, dict[str, str]] = {
    "submit": {DRAFT: IN_REVIEW},
    "send_back": {IN_REVIEW: DRAFT},
    "withdraw": {IN_REVIEW: DRAFT},
    "approve": {IN_REVIEW: APPROVED},
    "supersede": {APPROVED: SUPERSEDED},
}

NODE_FIELDS = ("kind", "name", "owner_role", "owner_user_id", "department_id", "data_items", "time_limit",
               "notes", "subprocess_id")
EDGE_FIELDS = ("source_id", "target_id", "label", "is_exception")


# --- processes and versions ----------------------------------------------------
def create_process(name: str, department_id: int | None = None, description: str = "", actor: User | None = None,
                   lane_by: str = "role", with_start_and_end: bool = True) -> Process:
    """A new process with a first draft version (holding a start and an end node unless told not to)."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("A name is required."), "name")
    if len(name) > 120:
        raise ServiceError(_("The name is too long (at most %(n)d characters).", n=120), "name")
    if department_id is not None and db.session.get(Department, department_id) is None:
        raise ServiceError(_("The department does not exist."), "department_id")
    if lane_by not in LANE_MODES:
        raise ServiceError(_("Choose how to group swimlanes."), "lane_by")
    _refuse_duplicate_name(name, department_id)
    process = Process(name=name, description=description or "", department_id=department_id,
                      created_by_id=actor.id if actor else None)
    db.session.add(process)
    version = ProcessVersion(process=process, number=1, status=DRAFT, lane_by=lane_by,
                             created_by_id=actor.id if actor else None)
    db.session.add(version)
    db.session.flush()
    if with_start_and_end:
        add_node(version, kind=START, name=_("Start"))
        add_node(version, kind=END, name=_("End"))
    return process


def update_process(process: Process, name: str, department_id: int | None, description: str) -> Process:
    """Rename a process or change its owning department and description."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("A name is required."), "name")
    if len(name) > 120:
        raise ServiceError(_("The name is too long (at most %(n)d characters).", n=120), "name")
    if department_id is not None and db.session.get(Department, department_id) is None:
        raise ServiceError(_("The department does not exist."), "department_id")
    _refuse_duplicate_name(name, department_id, leave_out=process.id)
    process.name, process.department_id, process.description = name, department_id, description or ""
    db.session.flush()
    return process


def process_named(name: str, department_id: int | None, leave_out: int | None = None) -> Process | None:
    """The process of that name (ignoring case) in that department (or with none), if there is one."""
    same_department = (Process.department_id.is_(None) if department_id is None
                       else Process.department_id == department_id)
    statement = select(Process).where(func.lower(Process.name) == (name or "").strip().lower(), same_department)
    if leave_out is not None:
        statement = statement.where(Process.id != leave_out)
    return db.session.scalars(statement.order_by(Process.id).limit(1)).first()


def _refuse_duplicate_name(name: str, department_id: int | None, leave_out: int | None = None) -> None:
    # Pickers list processes by name: two of one name in one department could not be told apart.
    existing = process_named(name, department_id, leave_out)
    if existing is None:
        return
    if existing.department is not None:
        message = _("%(department)s already has a process named %(name)s: open it and start a new draft "
                    "version, or choose another name.", department=existing.department.name, name=existing.name)
    else:
        message = _("A process named %(name)s without a department already exists: open it and start a new "
                    "draft version, or choose another name.", name=existing.name)
    raise ServiceError(message, "name")


def version_query():
    """A SELECT of versions with everything a map page draws loaded up front (no query per node)."""
    return select(ProcessVersion).options(
        selectinload(ProcessVersion.process).selectinload(Process.versions),
        selectinload(ProcessVersion.nodes).selectinload(ProcessNode.owner_user),
        selectinload(ProcessVersion.nodes).selectinload(ProcessNode.department),
        selectinload(ProcessVersion.nodes).selectinload(ProcessNode.raci),
        selectinload(ProcessVersion.edges),
    )


def approved_version(process: Process) -> ProcessVersion | None:
    return next((v for v in process.versions if v.status == APPROVED), None)


def draft_version(process: Process) -> ProcessVersion | None:
    return next((v for v in process.versions if v.status == DRAFT), None)


def open_version(process: Process) -> ProcessVersion | None:
    """The next version being worked on: the draft or the version in review (a process has at most one)."""
    return next((v for v in process.versions if v.status in OPEN_STATUSES), None)


def current_version(process: Process) -> ProcessVersion | None:
    """What people should follow: the approved version, else the open one, else the newest."""
    return approved_version(process) or open_version(process) or (process.versions[-1] if process.versions else None)


def _next_number(process: Process) -> int:
    return (db.session.scalar(select(func.max(ProcessVersion.number))
                              .where(ProcessVersion.process_id == process.id)) or 0) + 1


def copy_version(source: ProcessVersion, actor: User | None = None, summary: str = "") -> ProcessVersion:
    """A new draft of the same process holding a copy of ``source``'s nodes, edges and RACI rows."""
    process = source.process
    version = ProcessVersion(process=process, number=_next_number(process), status=DRAFT, lane_by=source.lane_by,
                             based_on_id=source.id, summary=summary, created_by_id=actor.id if actor else None)
    db.session.add(version)
    db.session.flush()
    copies: dict[int, ProcessNode] = {}
    with db.session.no_autoflush:
        for node in source.nodes:
            copy = ProcessNode(version=version, key=node.key, position=node.position,
                               **{name: getattr(node, name) for name in NODE_FIELDS})
            db.session.add(copy)
            copy.raci = [RaciAssignment(role=row.role, kind=row.kind) for row in node.raci]
            copies[node.id] = copy
    db.session.flush()
    for edge in source.edges:
        db.session.add(ProcessEdge(version=version, source_id=copies[edge.source_id].id,
                                   target_id=copies[edge.target_id].id, label=edge.label,
                                   is_exception=edge.is_exception, position=edge.position))
    db.session.flush()
    return version


def new_draft_version(process: Process, actor: User | None = None, summary: str = "") -> ProcessVersion:
    """The process's draft: the existing one, or a new copy of the latest approved (else newest) version.

    A process has at most one open version, so a change implemented while someone is already
    editing lands in that same draft; a version in review is taken back to draft for it (its
    reviewers would otherwise approve a map without the change).
    """
    existing = open_version(process)
    if existing is not None:
        if existing.status == IN_REVIEW:
            _apply_transition(existing, "withdraw")
            existing.review_note = summary
            existing.sent_back_by_id = actor.id if actor else None
            record_event("process_review_withdrawn", "process_versions", existing.id,
                         detail=f"{process.name} v{existing.number}: {summary}"[:500])
        if summary and summary not in existing.summary:
            # Whoever approves the draft sees what it must now also take in.
            existing.summary = "\n".join(part for part in (existing.summary, summary) if part)
        return existing
    source = approved_version(process) or (process.versions[-1] if process.versions else None)
    if source is None:
        version = ProcessVersion(process=process, number=1, status=DRAFT, summary=summary,
                                 created_by_id=actor.id if actor else None)
        db.session.add(version)
        db.session.flush()
        return version
    version = copy_version(source, actor=actor, summary=summary)
    record_event("process_draft_created", "process_versions", version.id,
                 detail=f"{process.name} v{version.number} from v{source.number}")
    return version


def new_imported_version(process: Process, actor: User | None = None, lane_by: str = "role") -> ProcessVersion:
    """An empty draft version of an existing process, for a file imported over it; refused while the
    process already has a draft or a version in review (that work would otherwise be lost or forked)."""
    draft = open_version(process)
    if draft is not None:
        raise ServiceError(_("%(name)s already has a draft (v%(number)d): approve or discard it before importing "
                             "this file as its next version.", name=process.name, number=draft.number))
    if lane_by not in LANE_MODES:
        raise ServiceError(_("Choose how to group swimlanes."), "lane_by")
    source = approved_version(process) or (process.versions[-1] if process.versions else None)
    version = ProcessVersion(process=process, number=_next_number(process), status=DRAFT, lane_by=lane_by,
                             based_on_id=source.id if source else None, created_by_id=actor.id if actor else None)
    db.session.add(version)
    db.session.flush()
    return version


def keep_raci_of_base(version: ProcessVersion) -> None:
    """Give the steps of a version filled from a file the RACI rows their namesakes (same key) had in the
    version it is based on: BPMN files carry none, and a new version should not lose them."""
    if version.based_on is None:
        return
    before = {node.key: node for node in version.based_on.nodes}
    for node in version.nodes:
        if node.key in before and not node.raci:
            for row in before[node.key].raci:
                set_raci(node, row.role, row.kind)


def _apply_transition(version: ProcessVersion, action: str) -> None:
    allowed = VERSION_TRANSITIONS.get(action, {})
    if version.status not in allowed:
        raise NotAllowed(_("Version %(number)d is %(status)s: it cannot be %(action)s.", number=version.number,
                           status=status_label(version.status), action=action_label(action)))
    version.status = allowed[version.status]


def approvers(version: ProcessVersion) -> list[User]:
    """Who is asked to review a version: the heads of its department and of the departments above it
    who may approve it (not its authors), else the project leads."""
    from rollout.access import can
    from rollout.accounts.services import users_with_roles
    department_ids, department = [], version.process.department
    while department is not None:
        department_ids.append(department.id)
        department = department.parent
    heads = users_with_roles(["head"], department_ids) if department_ids else []
    chosen = [user for user in heads if can(user, "processes.approve", version)]
    return chosen or users_with_roles(["lead"])


def _refuse_blocking_problems(version: ProcessVersion, message: str) -> None:
    problems = blocking_problems(version)
    if problems:
        raise ServiceError(message % {"problems": "; ".join(p.message for p in problems)})


def submit_for_review(version: ProcessVersion, actor: User) -> ProcessVersion:
    """Lock a draft its editors consider ready and ask its approvers to review it."""
    if version.status != DRAFT:
        _apply_transition(version, "submit")  # raises the refusal message
    _refuse_blocking_problems(version, _("Fix what blocks approval before submitting: %(problems)s"))
    _apply_transition(version, "submit")
    version.submitted_at, version.submitted_by_id = utcnow(), actor.id
    version.review_note, version.sent_back_by_id = "", None
    db.session.flush()
    record_event("process_submitted", "process_versions", version.id, detail=f"{version.process.name} v{version.number}")
    _tell(approvers(version), version, "processmaps.review_asked",
          _l("Review asked: %(process)s v%(number)d", process=version.process.name, number=version.number),
          _l("%(actor)s submitted this version for review. Approve it, or send it back with what to change.",
             actor=actor.display_name))
    return version


def send_back(version: ProcessVersion, actor: User, note: str) -> ProcessVersion:
    """Return a version in review to draft with what its editors should change."""
    note = clean_note(note)
    if version.status != IN_REVIEW:
        _apply_transition(version, "send_back")  # raises the refusal message
    if not note:
        raise ServiceError(_("Say what should change before it is approved."), "note")
    _apply_transition(version, "send_back")
    version.review_note, version.sent_back_by_id = note[:2000], actor.id
    db.session.flush()
    record_event("process_sent_back", "process_versions", version.id,
                 detail=f"{version.process.name} v{version.number}: {note}"[:500])
    people = [user for user in (version.submitted_by, version.created_by) if user is not None and user.id != actor.id]
    _tell(people, version, "processmaps.sent_back",
          _l("Sent back: %(process)s v%(number)d", process=version.process.name, number=version.number),
          _l("%(actor)s sent this version back to draft: %(note)s", actor=actor.display_name, note=note))
    return version


def withdraw_from_review(version: ProcessVersion, actor: User) -> ProcessVersion:
    """Take a version out of review to edit it again."""
    _apply_transition(version, "withdraw")
    version.review_note, version.sent_back_by_id = "", None
    db.session.flush()
    record_event("process_review_withdrawn", "process_versions", version.id,
                 detail=f"{version.process.name} v{version.number}")
    return version


def _tell(users, version: ProcessVersion, event: str, subject, body) -> None:
    from rollout.notify.services import notify
    notify(users, event, subject, body,
           link=f"/processes/{version.process_id}/v/{version.number}")


def approve_version(version: ProcessVersion, actor: User | None = None) -> ProcessVersion:
    """Approve a version in review when no blocking check fails; the previously approved version is superseded."""
    if version.status != IN_REVIEW:
        _apply_transition(version, "approve")  # raises the refusal message
    _refuse_blocking_problems(version, _("This version cannot be approved: %(problems)s"))
    previous = approved_version(version.process)
    if previous is not None:
        _apply_transition(previous, "supersede")
        previous.superseded_at = utcnow()
        # The partial unique index allows one approved version: free the slot first.
        db.session.flush()
    _apply_transition(version, "approve")
    version.approved_at = utcnow()
    version.approved_by_id = actor.id if actor else None
    db.session.flush()
    record_event("process_approved", "process_versions", version.id,
                 detail=f"{version.process.name} v{version.number}")
    if version.submitted_by_id is not None:
        # Its editors hear it is current; the other approvers, that their review is no longer needed.
        people = [version.submitted_by, version.created_by] + approvers(version)
        _tell([person for person in dict.fromkeys(people) if person is not None and person != actor],
              version, "processmaps.approved",
              _l("Approved: %(process)s v%(number)d", process=version.process.name, number=version.number),
              _l("%(actor)s approved this version: it is now the process's current map.",
                 actor=actor.display_name if actor else _l("The system")))
    return version


def discard_draft(version: ProcessVersion) -> Process:
    """Delete a draft version (nothing else can be deleted: approved history stays)."""
    if version.status != DRAFT:
        raise NotAllowed(_("Only a draft can be discarded."))
    process = version.process
    db.session.delete(version)  # nodes, edges and RACI rows go with it (ORM cascade, edges first)
    db.session.flush()
    db.session.expire(process, ["versions"])
    return process


def blocking_problems(version: ProcessVersion) -> list:
    """The checks that fail and block approval (empty: the version may be approved)."""
    from processmaps.checks import run_checks
    return [problem for problem in run_checks(version) if problem.is_blocking]


STATUS_LABELS = {DRAFT: _l("draft"), IN_REVIEW: _l("in review"), APPROVED: _l("approved"),
                 SUPERSEDED: _l("superseded")}
NODE_KIND_LABELS = {START: _l("Start"), END: _l("End"), TASK: _l("Task"), DECISION: _l("Decision point"),
                    EXCEPTION: _l("Exception"), SUBPROCESS: _l("Subprocess"), PARALLEL: _l("Parallel split/join")}
label_codes({("process_versions", "status"): STATUS_LABELS, ("process_nodes", "kind"): NODE_KIND_LABELS,
             ("process_versions", "lane_by"): dict(lane_choices())})


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def action_label(action: str) -> str:
    """An action as the refusal "it cannot be …" names it."""
    return {"submit": pgettext("version action", "submitted for review"),
            "send_back": pgettext("version action", "sent back"),
            "withdraw": pgettext("version action", "withdrawn from review"),
            "approve": pgettext("version action", "approved"),
            "supersede": pgettext("version action", "superseded")}.get(action, action)


def kind_label(kind: str) -> str:
    return str(NODE_KIND_LABELS.get(kind, kind))


# --- nodes and edges -----------------------------------------------------------
def _require_draft(version: ProcessVersion) -> None:
    if not version.is_editable:
        raise NotAllowed(_("Only a draft version can be edited; start a new draft first."))


def _clean_node_fields(version: ProcessVersion, node: ProcessNode | None, values: dict) -> dict:
    cleaned = {}
    kind = values.get("kind", node.kind if node else TASK)
    if kind not in NODE_KINDS:
        raise ServiceError(_("Choose a valid node kind."), "kind")
    cleaned["kind"] = kind
    name = (values.get("name", node.name if node else "") or "").strip()
    if not name:
        raise ServiceError(_("A name is required."), "name")
    if len(name) > 120:
        raise ServiceError(_("The name is too long (at most %(n)d characters).", n=120), "name")
    cleaned["name"] = name
    for text_field, limit in (("owner_role", 60), ("time_limit", 60)):
        if text_field in values:
            value = (values[text_field] or "").strip()
            if len(value) > limit:
                raise ServiceError(_("Too long (at most %(n)d characters).", n=limit), text_field)
            cleaned[text_field] = value
    if cleaned.get("owner_role") and version is not None:
        cleaned["owner_role"] = role_as_written(version, cleaned["owner_role"], owner_of=node)
    if cleaned.get("time_limit") and parse_time_limit(cleaned["time_limit"]) is None:
        raise ServiceError(_("Give the time limit as a number and a unit, e.g. 2个工作日, 24小时 or 3 days."),
                           "time_limit")
    for text_field in ("data_items", "notes"):
        if text_field in values:
            cleaned[text_field] = (values[text_field] or "").strip()
    if "owner_user_id" in values:
        user_id = values["owner_user_id"] or None
        if user_id is not None and db.session.get(User, user_id) is None:
            raise ServiceError(_("The user does not exist."), "owner_user_id")
        cleaned["owner_user_id"] = user_id
    if "department_id" in values:
        department_id = values["department_id"] or None
        if department_id is not None and db.session.get(Department, department_id) is None:
            raise ServiceError(_("The department does not exist."), "department_id")
        cleaned["department_id"] = department_id
    subprocess_id = values.get("subprocess_id", node.subprocess_id if node else None) or None
    if kind != SUBPROCESS:
        subprocess_id = None
    elif subprocess_id is not None:
        if db.session.get(Process, subprocess_id) is None:
            raise ServiceError(_("The linked process does not exist."), "subprocess_id")
        if subprocess_id == version.process_id:
            raise ServiceError(_("A process cannot run itself as a subprocess."), "subprocess_id")
    cleaned["subprocess_id"] = subprocess_id
    if kind == START and any(e.target_id == node.id for e in version.edges if node is not None):
        raise ServiceError(_("A start node cannot have incoming flows; remove them first."), "kind")
    if kind == END and any(e.source_id == node.id for e in version.edges if node is not None):
        raise ServiceError(_("An end node cannot have outgoing flows; remove them first."), "kind")
    return cleaned


#: Units a time limit may be given in, as people write them, and the unit they stand for.
TIME_UNITS = {
    "分钟": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "小时": "hours", "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "天": "days", "日": "days", "自然日": "days", "d": "days", "day": "days", "days": "days",
    "工作日": "working days", "wd": "working days", "working day": "working days",
    "working days": "working days", "business day": "working days", "business days": "working days",
    "workday": "working days", "workdays": "working days",
    "周": "weeks", "星期": "weeks", "w": "weeks", "week": "weeks", "weeks": "weeks",
    "月": "months", "month": "months", "months": "months",
}
_TIME_LIMIT = re.compile(r"(\d{1,4}(?:\.\d{1,2})?)\s*个?\s*([^\d\s].*?)", re.IGNORECASE)


def parse_time_limit(text: str) -> tuple[float, str] | None:
    """(amount, unit) of a time limit such as 2个工作日, 24小时, 1.5 days or 3 working days; None if it is
    not a positive number followed by a known unit."""
    match = _TIME_LIMIT.fullmatch((text or "").strip())
    if match is None:
        return None
    amount = float(match.group(1))
    unit = TIME_UNITS.get(re.sub(r"\s+", " ", match.group(2)).lower())
    return (amount, unit) if unit and amount > 0 else None


def _new_key(version: ProcessVersion) -> str:
    taken = {node.key for node in version.nodes}
    number = len(taken) + 1
    while f"n{number}" in taken:
        number += 1
    return f"n{number}"


def add_node(version: ProcessVersion, key: str | None = None, **values) -> ProcessNode:
    """Add a node to a draft version."""
    _require_draft(version)
    cleaned = _clean_node_fields(version, None, values)
    key = (key or "").strip() or _new_key(version)
    if not re.fullmatch(r"[A-Za-z_][\w.\-]{0,63}", key):
        raise ServiceError(_("A node key starts with a letter and holds letters, digits, '_', '-' or '.'."), "key")
    if any(node.key == key for node in version.nodes):
        raise ServiceError(_("The key %(key)s is already used in this version.", key=key), "key")
    position = max((node.position for node in version.nodes), default=0) + 1
    node = ProcessNode(version=version, key=key, position=position, **cleaned)
    db.session.add(node)
    db.session.flush()
    return node


def update_node(node: ProcessNode, **values) -> ProcessNode:
    """Change a node of a draft version."""
    _require_draft(node.version)
    cleaned = _clean_node_fields(node.version, node, values)
    for name, value in cleaned.items():
        setattr(node, name, value)
    db.session.flush()
    return node


def delete_node(node: ProcessNode) -> None:
    """Remove a node and the flows touching it from a draft version."""
    version = node.version
    _require_draft(version)
    for edge in [e for e in version.edges if node.id in (e.source_id, e.target_id)]:
        db.session.delete(edge)
    db.session.flush()
    db.session.delete(node)
    db.session.flush()
    db.session.expire(version, ["nodes", "edges"])
    # Kept against the version too: who changed a draft decides who may not approve it.
    record_event("process_step_removed", "process_versions", version.id, detail=node.name)


def _clean_edge_fields(version: ProcessVersion, values: dict, edge: ProcessEdge | None = None) -> dict:
    nodes = {node.id: node for node in version.nodes}
    try:
        source_id = int(values.get("source_id") or 0)
        target_id = int(values.get("target_id") or 0)
    except (TypeError, ValueError):
        source_id = target_id = 0
    source, target = nodes.get(source_id), nodes.get(target_id)
    if source is None:
        raise ServiceError(_("Choose the step the flow starts from."), "source_id")
    if target is None:
        raise ServiceError(_("Choose the step the flow leads to."), "target_id")
    if source.kind == END:
        raise ServiceError(_("An end node cannot have outgoing flows."), "source_id")
    if target.kind == START:
        raise ServiceError(_("A start node cannot have incoming flows."), "target_id")
    if source_id == target_id:
        raise ServiceError(_("A flow cannot lead from a step back to itself. To show rework, lead it back to "
                             "an earlier step."), "target_id")
    label = (values.get("label") or "").strip()
    if len(label) > 120:
        raise ServiceError(_("Too long (at most %(n)d characters).", n=120), "label")
    twin = next((e for e in version.edges if e is not edge and (e.source_id, e.target_id) == (source_id, target_id)
                 and e.label.strip().lower() == label.lower()), None)
    if twin is not None:
        names = step_names(version)
        if label:
            message = _("The flow from %(source)s to %(target)s on %(label)s already exists.",
                        source=names[source_id], target=names[target_id], label=label)
        else:
            message = _("The flow from %(source)s to %(target)s already exists; give a second one its own "
                        "condition.", source=names[source_id], target=names[target_id])
        raise ServiceError(message, "target_id")
    return {"source_id": source_id, "target_id": target_id, "label": label,
            "is_exception": bool(values.get("is_exception"))}


def add_edge(version: ProcessVersion, **values) -> ProcessEdge:
    """Add a flow between two nodes of a draft version (loops back to earlier steps are allowed: rework
    is real; a step looping onto itself and a second identical flow are not)."""
    _require_draft(version)
    cleaned = _clean_edge_fields(version, values)
    position = max((edge.position for edge in version.edges), default=0) + 1
    edge = ProcessEdge(version=version, position=position, **cleaned)
    db.session.add(edge)
    db.session.flush()
    return edge


def update_edge(edge: ProcessEdge, **values) -> ProcessEdge:
    """Change a flow of a draft version."""
    _require_draft(edge.version)
    for name, value in _clean_edge_fields(edge.version, values, edge).items():
        setattr(edge, name, value)
    db.session.flush()
    return edge


def delete_edge(edge: ProcessEdge) -> None:
    """Remove a flow from a draft version."""
    version = edge.version
    _require_draft(version)
    detail = f"{edge.source.name} → {edge.target.name}"
    db.session.delete(edge)
    db.session.flush()
    db.session.expire(version, ["edges"])
    record_event("process_flow_removed", "process_versions", version.id, detail=detail)


def set_lane_mode(version: ProcessVersion, lane_by: str) -> None:
    """Group a draft's swimlanes per owner role or per department."""
    _require_draft(version)
    if lane_by not in LANE_MODES:
        raise ServiceError(_("Choose how to group swimlanes."), "lane_by")
    version.lane_by = lane_by
    db.session.flush()


def lane_of(node: ProcessNode, lane_by: str) -> str:
    """The swimlane a node is drawn in: its department's name, or its owner role (else the named
    owner, who then has a lane of their own); '' for none."""
    if lane_by == LANE_BY_DEPARTMENT:
        return node.department.name if node.department is not None else ""
    if node.owner_role:
        return node.owner_role
    return node.owner_user.display_name if node.owner_user is not None else ""


def owner_text(node: ProcessNode) -> str:
    """The owner as people read it: role, and the named person when there is one."""
    parts = [node.owner_role] if node.owner_role else []
    if node.owner_user is not None:
        parts.append(node.owner_user.display_name)
    return " · ".join(parts)


# --- RACI ----------------------------------------------------------------------
def set_raci(node: ProcessNode, role: str, kind: str | None) -> RaciAssignment | None:
    """Give ``role`` the RACI letter ``kind`` on a draft's node (None removes it)."""
    _require_draft(node.version)
    role = role_as_written(node.version, role or "")
    if not role:
        raise ServiceError(_("A role is required."), "role")
    if len(role) > 60:
        raise ServiceError(_("Too long (at most %(n)d characters).", n=60), "role")
    existing = next((row for row in node.raci if row.role == role), None)
    if not kind:
        if existing is not None:
            db.session.delete(existing)
            db.session.flush()
            db.session.expire(node, ["raci"])
        return None
    if kind not in RACI_KINDS:
        raise ServiceError(_("Choose R, A, C or I."), "kind")
    if existing is None:
        existing = RaciAssignment(node=node, role=role, kind=kind)
        db.session.add(existing)
    else:
        existing.kind = kind
    db.session.flush()
    return existing


def role_as_written(version: ProcessVersion, role: str, owner_of: ProcessNode | None = None) -> str:
    """A role as this version already spells it: "销售代表 " or "ＩＴ 专员" typed again joins the column of
    "销售代表" or "IT专员" instead of opening a second one that differs only in spaces, width or case.
    ``owner_of``'s own owner role does not count, so its spelling can still be corrected."""
    role = clean_text(role)
    key = name_key(role)
    if not key:
        return role
    known = [row.role for node in version.nodes for row in node.raci]
    known += [node.owner_role for node in version.nodes if node.owner_role and node is not owner_of]
    return next((spelling for spelling in known if name_key(spelling) == key), role)


def raci_roles(version: ProcessVersion) -> list[str]:
    """Every role named in a version's RACI rows or as a node owner, in first-seen order."""
    roles: list[str] = []
    for node in flow_order(version):
        for role in [node.owner_role] + [row.role for row in node.raci]:
            if role and role not in roles:
                roles.append(role)
    return roles


def raci_matrix(version: ProcessVersion) -> tuple[list[str], list[tuple[ProcessNode, dict[str, str]]]]:
    """Roles (columns) and, per node, role → letter. A node's owner counts as responsible if unset."""
    roles = raci_roles(version)
    rows = []
    for node in flow_order(version):
        if node.kind in (START, END):
            continue
        # A parallel split or join only steers the flow: it gets a row once someone is named on it.
        if node.kind == PARALLEL and not node.owner_role and not node.raci:
            continue
        letters = {row.role: row.kind for row in node.raci}
        if node.owner_role and node.owner_role not in letters:
            letters[node.owner_role] = "R"
        rows.append((node, letters))
    return roles, rows


# --- links from other packages -------------------------------------------------
def node_links(node: ProcessNode) -> list[tuple[str, str]]:
    """Everything other packages attached to this node, as (label, url)."""
    links: list[tuple[str, str]] = []
    for provider in NODE_LINK_PROVIDERS:
        links.extend(provider(node))
    return links


def node_lineage_ids(node: ProcessNode) -> list[int]:
    """Ids of this node in every version of its process (nodes keep their key across versions)."""
    return list(db.session.scalars(
        select(ProcessNode.id).join(ProcessVersion, ProcessNode.version_id == ProcessVersion.id)
        .where(ProcessVersion.process_id == node.version.process_id, ProcessNode.key == node.key)))


def current_steps(nodes: list[ProcessNode]) -> dict[int, ProcessNode]:
    """For each node of an older version, the same step (same key) in its process's current version
    (approved, else open), by the node's id; nodes already current, or gone since, are left out."""
    found = {}
    for node in nodes:
        current = current_version(node.version.process)
        if current is None or current.id == node.version_id:
            continue
        same = next((n for n in current.nodes if n.key == node.key), None)
        if same is not None:
            found[node.id] = same
    return found


# --- choosing steps on other packages' forms ------------------------------------
def process_labels(rows) -> list[tuple[int, str]]:
    """(id, label) from (id, name, department name) rows: a name several processes share is followed by
    the department (销售流程 · 销售部), and by the id where even that repeats."""
    rows = list(rows)
    by_name = Counter(name.lower() for _id, name, _department in rows)
    by_name_and_department = Counter((name.lower(), department) for _id, name, department in rows)
    labels = []
    for process_id, name, department in rows:
        label = name
        if by_name[name.lower()] > 1:
            label = f"{name} · {_department_text(department)}"
            if by_name_and_department[(name.lower(), department)] > 1:
                label = f"{label} · #{process_id}"
        labels.append((process_id, label))
    return labels


def _department_text(name: str | None) -> str:
    return name or _("no department")


def _process_rows(statement):
    return db.session.execute(statement.add_columns(Department.name)
                              .outerjoin(Department, Process.department_id == Department.id)
                              .order_by(Process.name, Department.name, Process.id)).all()


def process_choices(leave_out: int | None = None) -> list[tuple[int, str]]:
    """(id, label) of every process by name, for choosing the process a step runs."""
    rows = _process_rows(select(Process.id, Process.name))
    return [(i, label) for i, label in process_labels(rows) if i != leave_out]


def processes_to_choose_from() -> list[tuple[int, str]]:
    """(id, label) of every process with an approved or open version, by name: the first choice
    of the step picker (a company's maps hold thousands of steps; one process's are a short list)."""
    return process_labels(_process_rows(select(Process.id, Process.name).where(select(ProcessVersion.id).where(
        ProcessVersion.process_id == Process.id, ProcessVersion.status.in_((APPROVED, *OPEN_STATUSES))).exists())))


def step_groups(process_id: int | None, leave_out=()) -> list[tuple[str, list[tuple[int, str]]]]:
    """The steps of a process's approved version and of its open one (draft or in review), as (version heading,
    [(node id, step name)]) in flow order; start and end events and ``leave_out`` ids are left out.
    Names two steps of a version share carry the step's number, as on the map page."""
    if not process_id:
        return []
    versions = db.session.scalars(
        select(ProcessVersion).options(selectinload(ProcessVersion.nodes), selectinload(ProcessVersion.edges))
        .where(ProcessVersion.process_id == process_id, ProcessVersion.status.in_((APPROVED, *OPEN_STATUSES)))
        .order_by(ProcessVersion.number)).all()
    groups = []
    for version in versions:
        names = step_names(version)
        steps = [(node.id, names[node.id]) for node in flow_order(version)
                 if node.kind not in (START, END) and node.id not in leave_out]
        if steps:
            heading = _("v%(number)d · %(status)s", number=version.number, status=status_label(version.status))
            groups.append((heading, steps))
    return groups


def step_labels(node_ids: list[int]) -> list[tuple[int, str]]:
    """(id, "process vN › step") of the given steps, those that exist, by process and map order
    (with the department after a process name that several processes share)."""
    ids = sorted(set(node_ids))
    if not ids:
        return []
    rows = db.session.execute(
        select(ProcessNode.id, ProcessNode.name, Process.name, Department.name, ProcessVersion.number)
        .join(ProcessVersion, ProcessNode.version_id == ProcessVersion.id)
        .join(Process, ProcessVersion.process_id == Process.id)
        .outerjoin(Department, Process.department_id == Department.id)
        .where(ProcessNode.id.in_(ids))
        .order_by(Process.name, ProcessVersion.number, ProcessNode.position, ProcessNode.id)).all()
    shared = _shared_process_names({row[2] for row in rows})
    labels = []
    for node_id, node_name, process_name, department, number in rows:
        if process_name.lower() in shared:
            process_name = f"{process_name} · {_department_text(department)}"
        labels.append((node_id, f"{process_name} v{number} › {node_name}"))
    return labels


def _shared_process_names(names: set[str]) -> set[str]:
    """Which of ``names`` (lower case) more than one process bears."""
    if not names:
        return set()
    lowered = func.lower(Process.name)
    return set(db.session.scalars(select(lowered).where(lowered.in_(sorted(n.lower() for n in names)))
                                  .group_by(lowered).having(func.count() > 1)))


# --- flow order and telling steps apart -------------------------------------------------
def flow_order(version: ProcessVersion) -> list[ProcessNode]:
    """The steps in the order the flow reaches them: from the start events on, each step after every
    step leading to it (flows back to earlier steps, i.e. rework, aside); ties by name, end events
    last among equals; steps the flow never reaches come at the end."""
    nodes = {node.id: node for node in version.nodes}

    def rank(node_id):
        node = nodes[node_id]
        return (node.kind == END, node.name, node.position, node.id)

    successors: dict[int, list[int]] = {node_id: [] for node_id in nodes}
    for edge in version.edges:
        if edge.source_id in nodes and edge.target_id in nodes:
            successors[edge.source_id].append(edge.target_id)
    for targets in successors.values():
        targets.sort(key=rank)
    starts = sorted((i for i, node in nodes.items() if node.kind == START), key=rank)
    # A depth-first walk finds the flows back to a step still open on the walk (loops); without
    # them what the starts reach has no cycle and can be ordered.
    back, seen, on_path = set(), set(), set()
    for start in starts:
        if start in seen:
            continue
        stack = [(start, iter(successors[start]))]
        seen.add(start)
        on_path.add(start)
        while stack:
            current, pending = stack[-1]
            following = next(pending, None)
            if following is None:
                stack.pop()
                on_path.discard(current)
            elif following in on_path:
                back.add((current, following))
            elif following not in seen:
                seen.add(following)
                on_path.add(following)
                stack.append((following, iter(successors[following])))
    waiting = {node_id: 0 for node_id in seen}
    for source in seen:
        for target in successors[source]:
            if (source, target) not in back:
                waiting[target] += 1
    ready = [(rank(i), i) for i in seen if waiting[i] == 0]
    heapq.heapify(ready)
    ordered: list[int] = []
    while ready:
        _rank, current = heapq.heappop(ready)
        ordered.append(current)
        for target in successors[current]:
            if (current, target) in back:
                continue
            waiting[target] -= 1
            if waiting[target] == 0:
                heapq.heappush(ready, (rank(target), target))
    ordered += sorted((i for i in nodes if i not in seen), key=rank)
    return [nodes[i] for i in ordered]


def step_numbers(version: ProcessVersion, order: list[ProcessNode] | None = None) -> dict[int, int]:
    """Node id → its number in the steps table (1, 2, … in flow order)."""
    return {node.id: index for index, node in enumerate(order or flow_order(version), start=1)}


def step_names(version: ProcessVersion, numbers: dict[int, int] | None = None) -> dict[int, str]:
    """Node id → the step's name as messages and choices show it: a name two steps share is followed
    by the step's number in the steps table, e.g. 法务审核 (#4)."""
    counts: dict[str, int] = {}
    for node in version.nodes:
        counts[node.name.lower()] = counts.get(node.name.lower(), 0) + 1
    if any(count > 1 for count in counts.values()) and numbers is None:
        numbers = step_numbers(version)
    return {node.id: f"{node.name} (#{numbers[node.id]})" if counts[node.name.lower()] > 1 else node.name
            for node in version.nodes}


# --- comparing versions ----------------------------------------------------------
@dataclass
class Comparison:
    """What changed from ``old`` to ``new`` (nodes matched by key, edges by their end keys)."""
    old: ProcessVersion
    new: ProcessVersion
    added_nodes: list[ProcessNode] = field(default_factory=list)
    removed_nodes: list[ProcessNode] = field(default_factory=list)
    #: (new node, {field: (old value, new value)})
    changed_nodes: list[tuple[ProcessNode, dict[str, tuple]]] = field(default_factory=list)
    #: (new node, old owner text, new owner text)
    owner_changes: list[tuple[ProcessNode, str, str]] = field(default_factory=list)
    added_edges: list[ProcessEdge] = field(default_factory=list)
    removed_edges: list[ProcessEdge] = field(default_factory=list)
    changed_edges: list[tuple[ProcessEdge, dict[str, tuple]]] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added_nodes or self.removed_nodes or self.changed_nodes or self.added_edges
                    or self.removed_edges or self.changed_edges)

    def highlight(self) -> dict[str, set[str]]:
        """Keys to highlight on the new version's map: added/changed nodes and added/changed edges."""
        return {
            "added_nodes": {node.key for node in self.added_nodes},
            "changed_nodes": {node.key for node, _changes in self.changed_nodes},
            "added_edges": {_edge_key(edge) for edge in self.added_edges},
            "changed_edges": {_edge_key(edge) for edge, _changes in self.changed_edges},
        }


def _edge_key(edge: ProcessEdge) -> tuple[str, str]:
    return (edge.source.key, edge.target.key)


COMPARED_NODE_FIELDS = ("kind", "name", "owner_role", "owner_user_id", "department_id", "data_items", "time_limit",
                        "notes", "subprocess_id")


def compare_versions(old: ProcessVersion, new: ProcessVersion) -> Comparison:
    """Nodes and edges added, removed or changed between two versions of a process, and owner changes."""
    if old.process_id != new.process_id:
        raise ServiceError(_("Only versions of the same process can be compared."))
    result = Comparison(old=old, new=new)
    old_nodes = {node.key: node for node in old.nodes}
    new_nodes = {node.key: node for node in new.nodes}
    for key, node in new_nodes.items():
        before = old_nodes.get(key)
        if before is None:
            result.added_nodes.append(node)
            continue
        changes = {name: (getattr(before, name), getattr(node, name)) for name in COMPARED_NODE_FIELDS
                   if (getattr(before, name) or None) != (getattr(node, name) or None)}
        before_raci = sorted((row.role, row.kind) for row in before.raci)
        after_raci = sorted((row.role, row.kind) for row in node.raci)
        if before_raci != after_raci:
            changes["raci"] = (", ".join(f"{r}:{k}" for r, k in before_raci),
                               ", ".join(f"{r}:{k}" for r, k in after_raci))
        if changes:
            result.changed_nodes.append((node, changes))
        if "owner_role" in changes or "owner_user_id" in changes:
            result.owner_changes.append((node, owner_text(before), owner_text(node)))
    result.removed_nodes = [node for key, node in old_nodes.items() if key not in new_nodes]

    def grouped(version):
        groups: dict[tuple[str, str], list[ProcessEdge]] = {}
        for edge in version.edges:
            groups.setdefault(_edge_key(edge), []).append(edge)
        return groups

    old_edges, new_edges = grouped(old), grouped(new)
    for key in list(new_edges) + [k for k in old_edges if k not in new_edges]:
        before, after = old_edges.get(key, []), new_edges.get(key, [])
        # Parallel flows between the same two nodes pair up by label first, then in order.
        unmatched_before = list(before)
        pairs, unmatched_after = [], []
        for edge in after:
            twin = next((b for b in unmatched_before if b.label == edge.label), None)
            if twin is not None:
                unmatched_before.remove(twin)
                pairs.append((twin, edge))
            else:
                unmatched_after.append(edge)
        while unmatched_before and unmatched_after:
            pairs.append((unmatched_before.pop(0), unmatched_after.pop(0)))
        for b, a in pairs:
            changes = {name: (getattr(b, name), getattr(a, name)) for name in ("label", "is_exception")
                       if getattr(b, name) != getattr(a, name)}
            if changes:
                result.changed_edges.append((a, changes))
        result.added_edges.extend(unmatched_after)
        result.removed_edges.extend(unmatched_before)
    return result
