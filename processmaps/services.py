"""Process-map rules: creating processes, editing draft versions, approving, comparing, RACI.

Other packages attach things to nodes without this package importing them:
they append a function ``node -> list[(label, url)]`` to ``NODE_LINK_PROVIDERS``
and the node page lists what every provider returns.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from processmaps.forms import lane_choices
from processmaps.models import (
    APPROVED, DECISION, DRAFT, END, EXCEPTION, LANE_BY_DEPARTMENT, LANE_MODES, NODE_KINDS, PARALLEL, RACI_KINDS,
    START, SUBPROCESS, SUPERSEDED, TASK, Process, ProcessEdge, ProcessNode, ProcessVersion, RaciAssignment,
)
from rollout.accounts.models import Department, User
from rollout.audit.display import label_codes
from rollout.audit.services import record_event
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.timeutil import utcnow

#: Functions ``node -> list[(label, url)]`` contributed by packages that attach records to nodes
#: (requirements, change requests). The node page shows every link they return.
NODE_LINK_PROVIDERS: list[Callable[[ProcessNode], list[tuple[str, str]]]] = []

#: The one transition table of the version lifecycle: action → {from status: to status}.
VERSION_TRANSITIONS: dict[str, dict[str, str]] = {
    "approve": {DRAFT: APPROVED},
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
    if department_id is not None and db.session.get(Department, department_id) is None:
        raise ServiceError(_("The department does not exist."), "department_id")
    process.name, process.department_id, process.description = name, department_id, description or ""
    db.session.flush()
    return process


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


def current_version(process: Process) -> ProcessVersion | None:
    """What people should follow: the approved version, else the draft, else the newest."""
    return approved_version(process) or draft_version(process) or (process.versions[-1] if process.versions else None)


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

    A process has at most one draft, so a change implemented while someone is
    already editing lands in that same draft.
    """
    existing = draft_version(process)
    if existing is not None:
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


def _apply_transition(version: ProcessVersion, action: str) -> None:
    allowed = VERSION_TRANSITIONS.get(action, {})
    if version.status not in allowed:
        raise NotAllowed(_("Version %(number)d is %(status)s: it cannot be %(action)s.", number=version.number,
                           status=status_label(version.status), action=action_label(action)))
    version.status = allowed[version.status]


def approve_version(version: ProcessVersion, actor: User | None = None) -> ProcessVersion:
    """Approve a draft when no blocking check fails; the previously approved version is superseded."""
    if version.status != DRAFT:
        _apply_transition(version, "approve")  # raises the refusal message
    problems = blocking_problems(version)
    if problems:
        raise ServiceError(_("This version cannot be approved: %(problems)s",
                             problems="; ".join(p.message for p in problems)))
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


STATUS_LABELS = {DRAFT: _l("draft"), APPROVED: _l("approved"), SUPERSEDED: _l("superseded")}
NODE_KIND_LABELS = {START: _l("Start"), END: _l("End"), TASK: _l("Task"), DECISION: _l("Decision point"),
                    EXCEPTION: _l("Exception"), SUBPROCESS: _l("Subprocess"), PARALLEL: _l("Parallel split/join")}
label_codes({("process_versions", "status"): STATUS_LABELS, ("process_nodes", "kind"): NODE_KIND_LABELS,
             ("process_versions", "lane_by"): dict(lane_choices())})


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def action_label(action: str) -> str:
    return {"approve": _("approve"), "supersede": _("supersede")}.get(action, action)


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


def _clean_edge_fields(version: ProcessVersion, values: dict) -> dict:
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
    label = (values.get("label") or "").strip()
    if len(label) > 120:
        raise ServiceError(_("Too long (at most %(n)d characters).", n=120), "label")
    return {"source_id": source_id, "target_id": target_id, "label": label,
            "is_exception": bool(values.get("is_exception"))}


def add_edge(version: ProcessVersion, **values) -> ProcessEdge:
    """Add a flow between two nodes of a draft version (loops are allowed: rework is real)."""
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
    for name, value in _clean_edge_fields(edge.version, values).items():
        setattr(edge, name, value)
    db.session.flush()
    return edge


def delete_edge(edge: ProcessEdge) -> None:
    """Remove a flow from a draft version."""
    version = edge.version
    _require_draft(version)
    db.session.delete(edge)
    db.session.flush()
    db.session.expire(version, ["edges"])


def set_lane_mode(version: ProcessVersion, lane_by: str) -> None:
    """Group a draft's swimlanes per owner role or per department."""
    _require_draft(version)
    if lane_by not in LANE_MODES:
        raise ServiceError(_("Choose how to group swimlanes."), "lane_by")
    version.lane_by = lane_by
    db.session.flush()


def lane_of(node: ProcessNode, lane_by: str) -> str:
    """The swimlane a node is drawn in: its department's or its owner role's name ('' for none)."""
    if lane_by == LANE_BY_DEPARTMENT:
        return node.department.name if node.department is not None else ""
    return node.owner_role or ""


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
    role = (role or "").strip()
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


def raci_roles(version: ProcessVersion) -> list[str]:
    """Every role named in a version's RACI rows or as a node owner, in first-seen order."""
    roles: list[str] = []
    for node in version.nodes:
        for role in [node.owner_role] + [row.role for row in node.raci]:
            if role and role not in roles:
                roles.append(role)
    return roles


def raci_matrix(version: ProcessVersion) -> tuple[list[str], list[tuple[ProcessNode, dict[str, str]]]]:
    """Roles (columns) and, per node, role → letter. A node's owner counts as responsible if unset."""
    roles = raci_roles(version)
    rows = []
    for node in version.nodes:
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


# --- choosing steps on other packages' forms ------------------------------------
def processes_to_choose_from() -> list[tuple[int, str]]:
    """(id, name) of every process with an approved or draft version, by name: the first choice
    of the step picker (a company's maps hold thousands of steps; one process's are a short list)."""
    return [tuple(row) for row in db.session.execute(
        select(Process.id, Process.name).where(select(ProcessVersion.id).where(
            ProcessVersion.process_id == Process.id, ProcessVersion.status.in_((APPROVED, DRAFT))).exists())
        .order_by(Process.name, Process.id))]


def step_groups(process_id: int | None, leave_out=()) -> list[tuple[str, list[tuple[int, str]]]]:
    """The steps of a process's approved version and of its draft, as (version heading,
    [(node id, step name)]) in map order; start and end events and ``leave_out`` ids are left out."""
    if not process_id:
        return []
    rows = db.session.execute(
        select(ProcessVersion.number, ProcessVersion.status, ProcessNode.id, ProcessNode.name)
        .join(ProcessNode, ProcessNode.version_id == ProcessVersion.id)
        .where(ProcessVersion.process_id == process_id, ProcessVersion.status.in_((APPROVED, DRAFT)),
               ProcessNode.kind.not_in((START, END)), ProcessNode.id.not_in(sorted(leave_out) or [-1]))
        .order_by(ProcessVersion.number, ProcessNode.position, ProcessNode.id))
    groups: dict[str, list[tuple[int, str]]] = {}
    for number, status, node_id, name in rows:
        heading = _("v%(number)d · %(status)s", number=number, status=status_label(status))
        groups.setdefault(heading, []).append((node_id, name))
    return list(groups.items())


def step_labels(node_ids: list[int]) -> list[tuple[int, str]]:
    """(id, "process vN › step") of the given steps, those that exist, by process and map order."""
    ids = sorted(set(node_ids))
    if not ids:
        return []
    rows = db.session.execute(
        select(ProcessNode.id, ProcessNode.name, Process.name, ProcessVersion.number)
        .join(ProcessVersion, ProcessNode.version_id == ProcessVersion.id)
        .join(Process, ProcessVersion.process_id == Process.id)
        .where(ProcessNode.id.in_(ids))
        .order_by(Process.name, ProcessVersion.number, ProcessNode.position, ProcessNode.id))
    return [(node_id, f"{process_name} v{number} › {node_name}") for node_id, node_name, process_name, number in rows]


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
