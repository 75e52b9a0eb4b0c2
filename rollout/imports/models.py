"""Import batches (one per uploaded file), their chunks for undo, rejected rows and saved mappings."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (JSON, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollout.accounts.models import Department, User
from rollout.database import one_of
from rollout.extensions import db
from rollout.timeutil import utcnow

DRAFT, RUNNING, COMPLETED, FAILED, UNDONE = "draft", "running", "completed", "failed", "undone"
STATUSES = (DRAFT, RUNNING, COMPLETED, FAILED, UNDONE)


class ImportBatch(db.Model):
    """One uploaded file on its way in: settings, counts, and what it changed (for undo)."""
    __tablename__ = "import_batches"
    __table_args__ = (
        CheckConstraint(one_of("status", STATUSES), name="ck_import_batch_status"),
        Index("ix_import_batches_created", "created_at", "id"),
        Index("ix_import_batches_status_department", "status", "department_id"),
    )
    __field_labels__ = {
        "original_filename": _l("File name"), "stored_name": _l("Stored file name"), "file_size": _l("File size"),
        "settings": _l("Import settings"), "total_rows": _l("Data rows"), "created_count": _l("Records created"),
        "updated_count": _l("Records updated"), "skipped_count": _l("Rows skipped"), "error_count": _l("Rows rejected"),
        "department_ids": _l("Departments of imported records"), "started_at": _l("Started at"),
        "finished_at": _l("Finished at"), "undone_at": _l("Undone at"),
        "errors_resolved_at": _l("Rejected rows resolved"), "target": _l("Import as"),
        # Not columns: the counts an undo records in the audit trail.
        "removed_count": _l("Records removed"), "restored_count": _l("Records restored"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What the rows become: customers, contacts, users, departments, ...
    target: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    #: The name the file had on the user's computer.
    original_filename: Mapped[str] = mapped_column(String(255))
    #: Random name of the kept original under UPLOAD_FOLDER/imports/.
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    file_size: Mapped[int] = mapped_column(Integer, default=0)
    #: What inspection detected (readers.SourceInfo.as_dict()).
    source: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Mapping, keep-as-is columns, duplicate decisions, defaults chosen by the user.
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Default department of imported records; also whose import this is for department views.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    #: Departments the imported records landed in.
    department_ids: Mapped[list | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: When someone confirmed the rejected rows were fixed (re-imported or dropped on purpose).
    errors_resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Why a run failed or stopped: JSON of imports.messages.stored, shown in each reader's language.
    message: Mapped[str | None] = mapped_column(Text)

    department: Mapped[Department | None] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def access_owner_id(self) -> int | None:
        return self.created_by_id

    @property
    def has_unresolved_errors(self) -> bool:
        return bool(self.error_count) and self.errors_resolved_at is None


class ImportChunk(db.Model):
    """One committed batch of rows: the ids it created and the before/after of what it updated."""
    __tablename__ = "import_chunks"
    __audit__ = False
    __table_args__ = (UniqueConstraint("batch_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    #: {entity table: [ids]} created by this chunk.
    created_ids: Mapped[dict] = mapped_column(JSON, default=dict)
    #: [{"entity", "id", "before": {...}, "after": {...}}] for records this chunk updated.
    updates: Mapped[list] = mapped_column(JSON, default=list)
    #: The rows it left out as duplicates: [[row number, id of the existing record or null, kept message of
    #: why]]; null for chunks written before skipped rows were recorded.
    skipped_rows: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ImportRowError(db.Model):
    """A rejected row: its cells as read and why, for the error report."""
    __tablename__ = "import_row_errors"
    __audit__ = False
    __table_args__ = (Index("ix_import_row_errors_batch_row", "batch_id", "row_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    cells: Mapped[list] = mapped_column(JSON, default=list)
    #: Why: JSON of imports.messages.stored (message ids, shown in each reader's language); plain text in
    #: rows written before.
    message: Mapped[str] = mapped_column(Text)


class MappingTemplate(db.Model):
    """A named, reusable mapping of column names to target fields."""
    __tablename__ = "import_mapping_templates"
    __entity_label__ = _l("Mapping template")
    __table_args__ = (UniqueConstraint("target", "name"),)
    __field_labels__ = {"columns": _l("Column mapping"), "keep_as_is": _l("Columns kept as is")}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(32))
    #: {column name as in the file: field name}
    columns: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Column names whose values are imported exactly as they are.
    keep_as_is: Mapped[list] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    created_by: Mapped[User | None] = relationship()
