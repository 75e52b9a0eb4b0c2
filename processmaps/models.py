"""Process maps: processes, their versions, nodes with owners, edges, RACI rows, render cache."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text,
    UniqueConstraint, and_, or_, select, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollout.accounts.models import Department, User
from rollout.audit.models import AuditEntry
from rollout.database import one_of
from rollout.extensions import db
from rollout.timeutil import utcnow

DRAFT = "draft"
#: Submitted by its editors: locked, waiting for an approver to approve it or send it back.
IN_REVIEW = "in_review"
APPROVED = "approved"
SUPERSEDED = "superseded"
#: Version states in lifecycle order.
VERSION_STATUSES = (DRAFT, IN_REVIEW, APPROVED, SUPERSEDED)
#: The states of the version being worked on; a process has at most one.
OPEN_STATUSES = (DRAFT, IN_REVIEW)
#: Columns and audit events of the review: writing or causing them does not make someone an author of the version.
REVIEW_COLUMNS = frozenset({"status", "submitted_at", "submitted_by_id", "review_note", "sent_back_by_id",
                            "approved_at", "approved_by_id", "superseded_at"})
REVIEW_EVENTS = frozenset({"process_submitted", "process_sent_back", "process_review_withdrawn", "process_approved"})

START = "start"
END = "end"
TASK = "task"
DECISION = "decision"
EXCEPTION = "exception"
SUBPROCESS = "subprocess"
#: A parallel split or join (BPMN parallel gateway): every exit is taken, every entry awaited.
PARALLEL = "parallel"
NODE_KINDS = (START, END, TASK, DECISION, EXCEPTION, SUBPROCESS, PARALLEL)
#: Kinds that only steer the flow: nobody works in them, so they need no owner.
CONTROL_KINDS = (START, END, PARALLEL)

#: Swimlanes group nodes by their department or by their owner role.
LANE_BY_DEPARTMENT = "department"
LANE_BY_ROLE = "role"
LANE_MODES = (LANE_BY_ROLE, LANE_BY_DEPARTMENT)

RESPONSIBLE = "R"
ACCOUNTABLE = "A"
CONSULTED = "C"
INFORMED = "I"
RACI_KINDS = (RESPONSIBLE, ACCOUNTABLE, CONSULTED, INFORMED)


class Process(db.Model):
    """A business process (e.g. 销售流程); its content lives in versions."""
    __tablename__ = "processes"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Display name, e.g. 销售机会跟进流程.
    name: Mapped[str] = mapped_column(String(120))
    #: What the process is for and where it starts and stops.
    description: Mapped[str] = mapped_column(Text, default="")
    #: The department that owns the process (access scope).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    department: Mapped[Department | None] = relationship()
    created_by: Mapped[User | None] = relationship()
    versions: Mapped[list["ProcessVersion"]] = relationship(
        back_populates="process", order_by="ProcessVersion.number", cascade="all, delete-orphan")

    @property
    def access_owner_id(self) -> int | None:
        return self.created_by_id

    def __str__(self) -> str:
        return self.name


class ProcessVersion(db.Model):
    """One numbered version of a process: draft → in review → approved → superseded (the transition table
    is processmaps.services.VERSION_TRANSITIONS)."""
    __tablename__ = "process_versions"
    __table_args__ = (
        UniqueConstraint("process_id", "number"),
        CheckConstraint(one_of("status", VERSION_STATUSES), name="ck_process_versions_status"),
        CheckConstraint(one_of("lane_by", LANE_MODES), name="ck_process_versions_lane_by"),
        CheckConstraint("number >= 1", name="ck_process_versions_number"),
        # At most one open (draft or in review) and one approved version per process at any time.
        Index("uq_process_versions_one_open", "process_id", unique=True,
              sqlite_where=text("status IN ('draft', 'in_review')"),
              postgresql_where=text("status IN ('draft', 'in_review')")),
        Index("uq_process_versions_one_approved", "process_id", unique=True,
              sqlite_where=text("status = 'approved'"), postgresql_where=text("status = 'approved'")),
    )
    __field_labels__ = {
        "process_id": _l("Process"), "number": _l("Version number"), "lane_by": _l("Swimlanes per"),
        "summary": _l("Change summary"), "based_on_id": _l("Based on version"), "superseded_at": _l("Superseded at"),
        "submitted_at": _l("Submitted for review at"), "submitted_by_id": _l("Submitted for review by"),
        "review_note": _l("Reviewer's note"), "sent_back_by_id": _l("Sent back by"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id", ondelete="CASCADE"), index=True)
    #: 1, 2, 3 … within the process.
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=DRAFT, index=True)
    #: Swimlanes per owner role or per department.
    lane_by: Mapped[str] = mapped_column(String(20), default=LANE_BY_ROLE)
    #: What changed in this version and why.
    summary: Mapped[str] = mapped_column(Text, default="")
    #: The version this one was copied from, if any.
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: When and by whom it was last submitted for review.
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Why it was last sent back to draft, and by whom: shown on the draft until it is submitted again.
    review_note: Mapped[str] = mapped_column(Text, default="")
    sent_back_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime)

    process: Mapped[Process] = relationship(back_populates="versions")
    based_on: Mapped["ProcessVersion | None"] = relationship(remote_side=[id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    sent_back_by: Mapped[User | None] = relationship(foreign_keys=[sent_back_by_id])
    nodes: Mapped[list["ProcessNode"]] = relationship(
        back_populates="version", order_by="ProcessNode.position, ProcessNode.id",
        cascade="all, delete-orphan")
    edges: Mapped[list["ProcessEdge"]] = relationship(
        back_populates="version", order_by="ProcessEdge.position, ProcessEdge.id",
        cascade="all, delete-orphan")

    @property
    def access_department_id(self) -> int | None:
        return self.process.department_id if self.process else None

    @property
    def access_owner_id(self) -> int | None:
        return self.process.created_by_id if self.process else None

    @property
    def is_editable(self) -> bool:
        return self.status == DRAFT

    @property
    def is_open(self) -> bool:
        """A draft or a version in review: the next version, not yet approved."""
        return self.status in OPEN_STATUSES

    @property
    def author_ids(self) -> set[int]:
        """Who created this version or changed it, its steps, flows or RACI rows (from the audit trail):
        rollout/access.py keeps them from approving it themselves.  Reviewing it (submitting, sending
        back) changes only review columns and makes nobody an author."""
        def rows_of(entity: str, ids):
            return and_(AuditEntry.entity == entity, AuditEntry.entity_id.in_(sorted(str(i) for i in ids)))

        raci_ids = [row.id for node in self.nodes for row in node.raci]
        written = db.session.scalars(select(AuditEntry.user_id).distinct().where(
            AuditEntry.user_id.is_not(None),
            or_(rows_of("process_nodes", [n.id for n in self.nodes]),
                rows_of("process_edges", [e.id for e in self.edges]), rows_of("process_raci", raci_ids))))
        version_rows = db.session.execute(select(AuditEntry.user_id, AuditEntry.action, AuditEntry.changes).where(
            AuditEntry.user_id.is_not(None), rows_of("process_versions", [self.id])))
        edited = {user_id for user_id, action, changes in version_rows
                  if action not in REVIEW_EVENTS and not (changes and set(changes) <= REVIEW_COLUMNS)}
        return set(written) | edited | ({self.created_by_id} if self.created_by_id else set())

    def __str__(self) -> str:
        return f"{self.process.name} v{self.number}" if self.process else f"v{self.number}"


class ProcessNode(db.Model):
    """A step of a process version, with its owner, department, data items and time limit."""
    __tablename__ = "process_nodes"
    __entity_label__ = _l("Process step")
    __table_args__ = (
        UniqueConstraint("version_id", "key"),
        CheckConstraint(one_of("kind", NODE_KINDS), name="ck_process_nodes_kind"),
    )
    __field_labels__ = {
        "version_id": _l("Process version"), "key": _l("Step key"), "owner_role": _l("Owner role"),
        "data_items": _l("Data items"), "time_limit": _l("Time limit"), "subprocess_id": _l("Subprocess"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id", ondelete="CASCADE"), index=True)
    #: Stable identifier within the process, kept across versions (compare matches nodes by it).
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20), default=TASK)
    name: Mapped[str] = mapped_column(String(120))
    #: The business role that owns the step, e.g. 销售代表 or 销售经理.
    owner_role: Mapped[str] = mapped_column(String(60), default="")
    #: Optionally a named person filling that role.
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"), index=True)
    #: Data items the step records, one per line (e.g. 客户名称, 预计金额).
    data_items: Mapped[str] = mapped_column(Text, default="")
    #: How long the step may take, as people say it (e.g. 2个工作日, 24小时).
    time_limit: Mapped[str] = mapped_column(String(60), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    #: For kind 'subprocess': the process this step runs.
    subprocess_id: Mapped[int | None] = mapped_column(ForeignKey("processes.id", ondelete="SET NULL"))
    #: Order in the editor table.
    position: Mapped[int] = mapped_column(Integer, default=0)

    version: Mapped[ProcessVersion] = relationship(back_populates="nodes")
    owner_user: Mapped[User | None] = relationship()
    department: Mapped[Department | None] = relationship()
    subprocess: Mapped[Process | None] = relationship()
    raci: Mapped[list["RaciAssignment"]] = relationship(
        back_populates="node", cascade="all, delete-orphan", order_by="RaciAssignment.kind, RaciAssignment.role")

    @property
    def access_department_id(self) -> int | None:
        return self.version.access_department_id if self.version else None

    @property
    def data_item_list(self) -> list[str]:
        return [line.strip() for line in (self.data_items or "").splitlines() if line.strip()]

    def __str__(self) -> str:
        return self.name


class ProcessEdge(db.Model):
    """A flow from one node to another, with its condition; exception flows are drawn distinctly."""
    __tablename__ = "process_edges"
    __entity_label__ = _l("Process flow line")
    __field_labels__ = {
        "version_id": _l("Process version"), "source_id": _l("From step"), "target_id": _l("To step"),
        "is_exception": _l("Exception branch"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("process_nodes.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("process_nodes.id", ondelete="CASCADE"), index=True)
    #: Condition label, e.g. 审批通过 / 不通过.
    label: Mapped[str] = mapped_column(String(120), default="")
    #: An exception branch (e.g. 报价审批不通过, 客户流失).
    is_exception: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)

    version: Mapped[ProcessVersion] = relationship(back_populates="edges")
    source: Mapped[ProcessNode] = relationship(foreign_keys=[source_id])
    target: Mapped[ProcessNode] = relationship(foreign_keys=[target_id])


class RaciAssignment(db.Model):
    """One role's RACI letter on one node (responsible, accountable, consulted, informed)."""
    __tablename__ = "process_raci"
    __entity_label__ = _l("RACI assignment")
    __table_args__ = (
        UniqueConstraint("node_id", "role"),
        CheckConstraint(one_of("kind", RACI_KINDS), name="ck_process_raci_kind"),
    )
    __field_labels__ = {"node_id": _l("Step")}

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("process_nodes.id", ondelete="CASCADE"), index=True)
    #: A business role, e.g. 销售经理.
    role: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(1))

    node: Mapped[ProcessNode] = relationship(back_populates="raci")


class ProcessRender(db.Model):
    """Graphviz output cached by the sha256 of what was drawn, so viewing never re-runs Graphviz."""
    __tablename__ = "process_renders"
    #: A cache, not business data: not written to the audit trail.
    __audit__ = False
    __table_args__ = (UniqueConstraint("digest", "fmt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: sha256 of the DOT source (which holds the whole version content drawn).
    digest: Mapped[str] = mapped_column(String(64))
    #: svg, png, pdf or json (layout positions for BPMN diagram interchange).
    fmt: Mapped[str] = mapped_column(String(10))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
