"""The import pipeline: upload → inspect → map → clean → find duplicates → dry run → run in batches → undo.

Why this module commits (unlike other services): a migration of 100,000 rows
must not be one transaction that a single bad row or a lock timeout throws
away, nor hold SQLite's write lock for the whole run.  ``run_import`` commits
each chunk of rows explicitly (all of a chunk or nothing of it) and records in
an ``ImportChunk`` what the chunk created and updated, so a failed or finished
import can be undone completely.  Everything else here only flushes, like any
other service.

A large file for a target that plans in memory (customers) is cleaned and planned in a
forked process while this one writes the chunks (``imports.forking``): on two cores the
two halves of the work overlap instead of taking turns.
"""
from __future__ import annotations

import gc
import io
import itertools
import json
import os
import random
import secrets
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from itertools import starmap
from pathlib import Path

from flask import current_app, has_request_context
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from rollout.access import ALL, DEPT, RULES, department_scope_ids
from rollout.accounts.models import User
from rollout.audit.display import label_codes
from rollout.audit.models import AuditEntry
from rollout.audit.services import record_event
from rollout.cleaning import CLEANERS, Cleaned, name_key
from rollout.database import bulk_writes, use_bulk_page_cache
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.i18n import language_of
from rollout.imports import forking, readers
from rollout.imports.mapping import auto_map, is_known_header, mapping_from_template
from rollout.imports.messages import in_words, kept, shown, stored
from rollout.imports.models import (COMPLETED, DRAFT, FAILED, RUNNING, UNDONE, ImportBatch, ImportChunk,
                                    ImportRowError, MappingTemplate)
from rollout.imports.targets import (USES, ImportContext, RowError, Target, TargetField, all_targets,
                                     choice_value, get_target)
from rollout.timeutil import utcnow

#: Rows per committed chunk of a real run.
CHUNK_SIZE = 2000
#: Rows shown in the preview table.
PREVIEW_ROWS = 20
#: At most this many duplicate groups / near-duplicates / errors are listed on a page.
LISTED = 200
#: Files with at least this many data rows are planned in a second process while this one writes
#: (targets that plan in memory, on machines with a second core): below it, forking costs more
#: than it saves.
PLAN_APART_ROWS = 10000
#: Rows per message from the planning process.
SENT_ROWS = 1000
#: Allocations between the collector's young-generation passes during a run (Python's default: 700).
RUN_GC_THRESHOLD = 20000
#: Distinct cells remembered per column, so repeated values are cleaned once.
CLEANED_CACHE_SIZE = 4096
SKIP, UPDATE, CREATE = "skip", "update", "create"
_EMPTY = Cleaned(None)
DECISIONS = (SKIP, UPDATE, CREATE)

#: Messages of the cleaning rules (rollout.cleaning reports plain codes).
CLEANING_ERRORS = {
    "invalid phone number": _l("invalid phone number"),
    "two phone numbers": _l("two phone numbers in one cell; keep one, or put the other in a column of its own"),
    "invalid email address": _l("invalid email address"),
    "not a real date": _l("not a real date"),
    "date out of range": _l("date out of range"),
    "unrecognised date": _l("unrecognised date"),
    "not an amount": _l("not an amount"),
    "amount out of range": _l("amount out of range"),
    "not a whole number": _l("not a whole number"),
    "not yes or no": _l("not yes or no"),
}
#: What two rows share, by the kind of their duplicate key.
#: Skipped rows the batch page lists.
SKIPPED_LISTED = 200
KEY_LABELS = {"name": _l("name"), "phone": _l("phone"), "email": _l("email"), "username": _l("username"),
              "code": _l("code"), "department": _l("name"), "contact": _l("contact"), "deal": _l("deal"),
              "activity": _l("follow-up"), "plan": _l("plan")}
#: The field whose value a key is made of, where its name does not say.
KEY_FIELDS = {"contact": "name", "deal": "name", "department": "name", "activity": "customer", "plan": "starts_on"}
RULE_LABELS = {"trim": _l("trimmed"), "nfkc": _l("full-width → half-width"), "phone": _l("phone normalised"),
               "email": _l("email lower-cased"), "date": _l("date converted"), "amount": _l("amount converted"),
               "number": _l("number converted")}

# --- the batch state machine -------------------------------------------------------------
#: (from status, event) → to status
TRANSITIONS = {
    (DRAFT, "start"): RUNNING,
    (RUNNING, "finish"): COMPLETED,
    (RUNNING, "fail"): FAILED,
    # A run whose process died (killed, machine restarted) never reaches finish or fail.
    (RUNNING, "interrupt"): FAILED,
    (COMPLETED, "undo"): UNDONE,
    (FAILED, "undo"): UNDONE,
}
STATUS_LABELS = {DRAFT: _l("Draft"), RUNNING: _l("Running"), COMPLETED: _l("Completed"), FAILED: _l("Failed"),
                 UNDONE: _l("Undone")}
label_codes({("import_batches", "status"): STATUS_LABELS,
             ("import_batches", "target"): {name: target.label for name, target in all_targets().items()}})


def transition(batch: ImportBatch, event: str) -> None:
    """Move a batch along the state machine, refusing any move not in TRANSITIONS."""
    target_status = TRANSITIONS.get((batch.status, event))
    if target_status is None:
        raise NotAllowed(_("An import that is %(status)s cannot be %(event)s.",
                           status=STATUS_LABELS.get(batch.status, batch.status), event=_event_label(event)))
    batch.status = target_status


def _event_label(event: str) -> str:
    return {"start": _("started"), "finish": _("finished"), "fail": _("failed"), "undo": _("undone"),
            "interrupt": _("marked interrupted")}.get(event, event)


def last_progress_at(batch: ImportBatch):
    """When a running import last committed a chunk (or started)."""
    latest_chunk = db.session.scalar(select(func.max(ImportChunk.created_at)).where(ImportChunk.batch_id == batch.id))
    moments = [t for t in (batch.created_at, batch.started_at, latest_chunk) if t is not None]
    return max(moments)


def mark_interrupted(batch: ImportBatch, user: User, now=None) -> None:
    """End a run that stopped without finishing, so its committed chunks can be undone.

    Refused while the run may still be alive: it must have made no progress for
    IMPORT_STALE_MINUTES (default 10).
    """
    now = now or utcnow()
    stale_after = timedelta(minutes=current_app.config.get("IMPORT_STALE_MINUTES", 10))
    if batch.status == RUNNING and now - last_progress_at(batch) < stale_after:
        raise ServiceError(_("This import made progress in the last %(minutes)d minutes; it may still be running.",
                             minutes=int(stale_after.total_seconds() // 60)))
    transition(batch, "interrupt")
    batch.finished_at = now
    batch.message = stored([kept(_l("The run stopped without finishing; the chunks written before it stopped "
                                    "are kept and can be undone."))])
    _record_run("import_failed", batch, RUNNING, user)


# --- permissions ------------------------------------------------------------------------
def writable_department_ids(user: User) -> set[int] | None:
    """Departments the user may import records into (None: all), from the data.import rule."""
    rule = RULES["data.import"]
    scopes = {rule.get(role) for role in user.roles}
    if ALL in scopes:
        return None
    if DEPT in scopes:
        return department_scope_ids(user)
    return set()


def check_may_import(user: User, target: Target) -> None:
    from rollout.access import can
    if not can(user, "data.import") or (target.permission != "data.import" and not can(user, target.permission)):
        raise ServiceError(_("You may not import %(what)s.", what=target.label), "target")


def available_targets(user: User) -> list[Target]:
    from rollout.access import can
    return [t for t in all_targets().values() if t.permission == "data.import" or can(user, t.permission)]


# --- files ---------------------------------------------------------------------------------
def upload_folder() -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stored_path(batch: ImportBatch) -> Path:
    return upload_folder() / batch.stored_name


def web_size_limit() -> int:
    return int(current_app.config.get("IMPORT_WEB_MAX_BYTES", 20 * 1024 * 1024))


def save_upload(stream, filename: str, max_bytes: int | None = None) -> Path:
    """Copy an uploaded stream under a random name, refusing files larger than ``max_bytes``."""
    suffix = Path(filename or "").suffix.lower()[:8]
    path = upload_folder() / (secrets.token_hex(16) + suffix)
    written = 0
    with path.open("wb") as out:
        while True:
            chunk = stream.read(1024 * 1024)
            if not chunk:
                break
            written += len(chunk)
            if max_bytes is not None and written > max_bytes:
                out.close()
                path.unlink(missing_ok=True)
                raise readers.ImportFileError(_l(
                    "The file is larger than %(mb)d MB, the limit for imports in the browser. "
                    "Split it, or ask an administrator to import it on the server with “rollout import”.",
                    mb=max_bytes // 1024 // 1024))
            out.write(chunk)
    return path


def keep_file(source: Path) -> Path:
    """Copy a local file (CLI) under a random name in the upload folder: the original is kept."""
    path = upload_folder() / (secrets.token_hex(16) + source.suffix.lower()[:8])
    shutil.copyfile(source, path)
    return path


def create_batch(user: User, target_name: str, path: Path, filename: str, encoding: str | None = None,
                 department_id: int | None = None, template: MappingTemplate | None = None,
                 sheet: str | None = None, header_row: int | None = None) -> ImportBatch:
    """Inspect a stored file completely and record a draft batch; a bad file is deleted and refused."""
    target = get_target(target_name)
    if target is None:
        readers.remove_kept_file(path)
        raise ServiceError(_("Unknown import target."), "target")
    try:
        check_may_import(user, target)
        fields = target.fields()
        if sheet and Path(filename or "").suffix.lower() == ".xlsx" and sheet not in readers.sheet_names(path):
            raise ServiceError(_("The workbook has no sheet %(name)s.", name=sheet), "sheet")
        info = readers.inspect_file(path, filename, encoding=encoding or None, sheet=sheet or None,
                                    header_row=header_row or None,
                                    score_header=lambda text: is_known_header(text, fields))
    except ServiceError:
        readers.remove_kept_file(path)
        raise
    allowed = writable_department_ids(user)
    if department_id is not None and allowed is not None and department_id not in allowed:
        readers.remove_kept_file(path)
        raise ServiceError(_("You may not import into that department."), "department_id")
    if template is not None:
        mapping = mapping_from_template(info.headers, template.columns, fields)
        keep = [i for i, h in enumerate(info.headers) if h in (template.keep_as_is or [])]
    else:
        mapping, keep = auto_map(info.headers, fields), []
    batch = ImportBatch(target=target.name, original_filename=(filename or path.name)[:255],
                        stored_name=path.name, file_size=path.stat().st_size, source=info.as_dict(),
                        total_rows=info.row_count, created_by_id=user.id, department_id=department_id,
                        settings={"mapping": {str(k): v for k, v in mapping.items()}, "keep": keep,
                                  "decisions": {}, "default_existing": SKIP, "default_file": SKIP,
                                  "template_id": template.id if template else None})
    db.session.add(batch)
    db.session.flush()
    return batch


def source_info(batch: ImportBatch) -> readers.SourceInfo:
    return readers.SourceInfo.from_dict(batch.source)


def reread(batch: ImportBatch, encoding: str | None, separator: str | None, header_row: int | None,
           sheet: str | None = None) -> None:
    """Inspect the kept file again with the user's encoding, separator, header row or sheet."""
    require_draft(batch)
    target = get_target(batch.target)
    fields = target.fields()
    info = readers.inspect_file(stored_path(batch), batch.original_filename, encoding=encoding or None,
                                separator=separator or None, header_row=header_row or None, sheet=sheet or None,
                                score_header=lambda text: is_known_header(text, fields))
    old_headers = batch.source.get("headers", [])
    batch.source = info.as_dict()
    batch.total_rows = info.row_count
    forget_dry_run(batch)
    if info.headers != old_headers:
        batch.settings = {**batch.settings, "mapping": {str(k): v for k, v in auto_map(info.headers, fields).items()},
                          "keep": [], "decisions": {}}


def require_draft(batch: ImportBatch) -> None:
    if batch.status != DRAFT:
        raise NotAllowed(_("This import has already run; upload the file again to change its settings."))


def set_mapping(batch: ImportBatch, mapping: dict[int, str], keep: list[int], department_id: int | None,
                user: User) -> None:
    """Save the column → field mapping and keep-as-is columns; each field at most once, required ones mapped."""
    require_draft(batch)
    target = get_target(batch.target)
    fields = {f.name: f for f in target.fields()}
    headers = batch.source.get("headers", [])
    clean_mapping: dict[str, str] = {}
    for index, field_name in mapping.items():
        if not field_name:
            continue
        if field_name not in fields or not 0 <= int(index) < len(headers):
            raise ServiceError(_("Unknown field in the mapping."), "mapping")
        if field_name in clean_mapping.values():
            raise ServiceError(_("The field %(field)s is mapped to two columns.", field=fields[field_name].label),
                               "mapping")
        clean_mapping[str(int(index))] = field_name
    missing = [str(f.label) for f in fields.values() if f.required and f.name not in clean_mapping.values()]
    if missing:
        raise ServiceError(_("Map a column to every required field: %(fields)s.", fields="、".join(missing)),
                           "mapping")
    allowed = writable_department_ids(user)
    if department_id is not None and allowed is not None and department_id not in allowed:
        raise ServiceError(_("You may not import into that department."), "department_id")
    batch.department_id = department_id
    batch.settings = {**batch.settings, "mapping": clean_mapping,
                      "keep": sorted({int(i) for i in keep if 0 <= int(i) < len(headers)})}
    forget_dry_run(batch)


def set_decisions(batch: ImportBatch, decisions: dict[str, str], default_existing: str, default_file: str) -> None:
    """Save what to do with each duplicate group (skip, update the existing record, create anyway; "" for the
    default, whatever it is when the import runs)."""
    require_draft(batch)
    if default_existing not in DECISIONS or default_file not in (SKIP, CREATE):
        raise ServiceError(_("Choose skip, update or create."), "decisions")
    unique = get_target(batch.target).unique_key_kinds
    kept_decisions = dict(batch.settings.get("decisions", {}))
    cleaned = {}
    for group, decision in decisions.items():
        if decision == "":
            kept_decisions.pop(group[:300], None)
            continue
        if decision not in DECISIONS or (group.startswith("file:") and decision == UPDATE):
            raise ServiceError(_("Choose skip, update or create."), "decisions")
        key_kind = group.partition(":")[2].partition(":")[0]  # "existing:username:zhangsan" → username
        if decision == CREATE and key_kind in unique:
            raise ServiceError(_("No two records may share a %(key)s: skip these rows or update the existing "
                                 "record.", key=KEY_LABELS[key_kind]), "decisions")
        cleaned[group[:300]] = decision
    batch.settings = {**batch.settings, "decisions": {**kept_decisions, **cleaned},
                      "default_existing": default_existing, "default_file": default_file}
    forget_dry_run(batch)


def ignored_columns(batch: ImportBatch) -> list[tuple[int, str]]:
    """(index, name) of the file's columns that no field takes: their cells are not imported."""
    mapping = batch.settings.get("mapping", {})
    return [(index, header) for index, header in enumerate(batch.source.get("headers", []))
            if not mapping.get(str(index))]


# --- mapping templates -----------------------------------------------------------------------
def save_template(batch: ImportBatch, name: str, user: User) -> MappingTemplate:
    """Save the batch's mapping under a name (replacing a template of the same name and target)."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("Give the template a name."), "template_name")
    headers = batch.source.get("headers", [])
    # Every column, the skipped ones as "": a file of the same layout skips them again instead of matching them.
    mapping = batch.settings.get("mapping", {})
    columns = {header: mapping.get(str(index), "") for index, header in enumerate(headers) if header}
    keep = [headers[i] for i in batch.settings.get("keep", []) if i < len(headers)]
    template = db.session.scalar(select(MappingTemplate).where(MappingTemplate.target == batch.target,
                                                               MappingTemplate.name == name[:100]))
    if template is None:
        template = MappingTemplate(name=name[:100], target=batch.target, created_by_id=user.id)
        db.session.add(template)
    template.columns, template.keep_as_is = columns, keep
    db.session.flush()
    return template


def apply_template(batch: ImportBatch, template: MappingTemplate) -> None:
    require_draft(batch)
    if template.target != batch.target:
        raise ServiceError(_("This template is for another kind of record."), "template_id")
    target = get_target(batch.target)
    headers = batch.source.get("headers", [])
    mapping = mapping_from_template(headers, template.columns, target.fields())
    batch.settings = {**batch.settings, "mapping": {str(k): v for k, v in mapping.items()},
                      "keep": [i for i, h in enumerate(headers) if h in (template.keep_as_is or [])],
                      "template_id": template.id}
    forget_dry_run(batch)


def find_template(target_name: str, name: str) -> MappingTemplate | None:
    return db.session.scalar(select(MappingTemplate).where(MappingTemplate.target == target_name,
                                                           MappingTemplate.name == name))


# --- planning: clean, check, find duplicates ---------------------------------------------------
@dataclass
class CellPreview:
    before: str
    after: object
    rules: tuple[str, ...] = ()
    #: The cleaning rule's error code.
    error: str | None = None
    kept: bool = False
    field: str = ""
    #: Why the cell cannot be imported as it is, in words (a cleaning error or a failed lookup).
    problem: str | None = None


@dataclass(slots=True)
class Outcome:
    """What a row would become (slots: a run makes one per row)."""
    action: str  # create, update, skip, error
    number: int
    row: dict | None = None
    entity_id: int | None = None
    #: A rejected row's reasons, kept messages (imports.messages); a skipped row's note.
    message: list | str | None = None
    group: str | None = None
    cells: list | None = None

    @property
    def text(self) -> str:
        """The message in the current language."""
        return in_words(self.message)


@dataclass
class Group:
    """Rows that are the same record by a key: among themselves ('file') or with an existing one ('existing')."""
    id: str
    kind: str
    key_kind: str
    label: str
    existing_id: int | None = None
    existing_label: str | None = None
    rows: list[int] = field(default_factory=list)
    count: int = 0
    decision: str = SKIP


@dataclass
class Analysis:
    """A dry run's findings: nothing is written.  Kept with the batch until its settings change."""
    sample: str
    rows_read: int = 0
    counts: Counter = field(default_factory=Counter)
    errors: list[Outcome] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    group_count: int = 0
    #: (row, name in the file, the similar name: an existing record's, or a kept message naming an earlier row)
    near: list[tuple[int, str, object]] = field(default_factory=list)
    #: (row, what it would create) of the first rows that would create a record
    creates: list[tuple[int, str]] = field(default_factory=list)
    first_n: int = 100
    checked_at: datetime | None = None

    def as_dict(self) -> dict:
        """Plain data to keep (JSON); the rejected rows' reasons stay message ids."""
        return {"sample": self.sample, "rows_read": self.rows_read, "counts": dict(self.counts),
                "errors": [[outcome.number, outcome.message] for outcome in self.errors],
                "groups": [asdict(group) for group in self.groups], "group_count": self.group_count,
                "near": self.near, "creates": self.creates, "first_n": self.first_n,
                "checked_at": self.checked_at.isoformat() if self.checked_at else None}

    @classmethod
    def from_dict(cls, data: dict) -> Analysis:
        return cls(sample=data["sample"], rows_read=data["rows_read"], counts=Counter(data["counts"]),
                   errors=[Outcome("error", number, message=message) for number, message in data["errors"]],
                   groups=[Group(**group) for group in data["groups"]], group_count=data["group_count"],
                   near=[tuple(item) for item in data["near"]], creates=[tuple(item) for item in data["creates"]],
                   first_n=data["first_n"],
                   checked_at=datetime.fromisoformat(data["checked_at"]) if data["checked_at"] else None)


class Planner:
    """Cleans each row, checks it, and decides create / update / skip with in-memory key sets."""

    def __init__(self, batch: ImportBatch, target: Target, ctx: ImportContext):
        self.batch, self.target, self.ctx = batch, target, ctx
        self.fields = {f.name: f for f in target.fields()}
        settings = batch.settings or {}
        keep = set(settings.get("keep", []))
        # Kept messages (plain data): a skipped row's reason is recorded with the run and shown in each
        # reader's language.
        self.already_exists = kept(_l("already exists"))
        self.same_as_row = kept(_l("same as row %(row)d", row=0))
        # Per mapped column: (index, field name, keep as is, how a cell is settled, cache of settled
        # cells).  Columns such as city, industry or status repeat a few values on every row; the
        # rules are pure functions of the cell, so each distinct cell is settled once (up to
        # CLEANED_CACHE_SIZE), the empty cell before the first row.
        self._row_columns: list[tuple[int, str, bool, Callable, dict]] = []
        for index, field_name in sorted(((int(i), f) for i, f in settings.get("mapping", {}).items())):
            target_field = self.fields.get(field_name)
            if target_field is not None:
                settle = self._settler(target_field, index in keep)
                self._row_columns.append((index, field_name, index in keep, settle, {"": settle("")}))
        self.required = [name for name, f in self.fields.items() if f.required]
        self.choice_fields = [f for f in self.fields.values() if f.choices is not None]
        self.decisions = settings.get("decisions", {})
        self.default_existing = settings.get("default_existing", SKIP)
        self.default_file = settings.get("default_file", SKIP)
        # Rows the write may still refuse (updates, and new records written through a service's rules) keep
        # their cells for the error report; the others need not carry them (nor send them from a planning process).
        self.keeps_created_cells = target.per_row
        self.existing, self.existing_near = target.begin(ctx)
        self.file_keys: dict[str, int] = {}
        self.file_near: dict[str, tuple[int, str]] = {}
        self.groups: dict[str, Group] = {}
        self.near: list[tuple[int, str, str]] = []

    def _settler(self, target_field: TargetField, keep: bool) -> Callable[[str], tuple]:
        """How one column's cell becomes (value, its problem as a kept message or None, Cleaned)."""
        cleaner = CLEANERS.get(target_field.kind, CLEANERS["text"])
        field_label, max_length = target_field.label, target_field.max_length

        def settle(raw: str) -> tuple:
            if keep:
                result = Cleaned(raw if raw != "" else None)
            else:
                result = cleaner(raw) if raw else _EMPTY
            value, error = result.value, result.error
            if error:
                problem = kept(_l("%(field)s: %(problem)s (%(value)s)", field=field_label,
                                  problem=CLEANING_ERRORS.get(error, error), value=raw))
                return value, problem, result
            if max_length and isinstance(value, str) and len(value) > max_length:
                problem = kept(_l("%(field)s: longer than %(n)d characters", field=field_label, n=max_length))
                return value, problem, result
            return value, None, result
        return settle

    def clean(self, cells: list[str], with_previews: bool = True) -> tuple[dict, list[tuple], list[CellPreview]]:
        """Cleaned values by field, problems as (field name, kept message), and (for the preview) each cell
        before → after."""
        values, errors, previews = {}, [], []
        width = len(cells)
        for index, name, keep, settle, settled in self._row_columns:
            raw = cells[index] if index < width else ""
            cell = settled.get(raw)
            if cell is None:
                cell = settle(raw)
                if len(settled) < CLEANED_CACHE_SIZE:
                    settled[raw] = cell
            value, problem, result = cell
            if problem:
                errors.append((name, problem))
            values[name] = value
            if with_previews:
                previews.append(CellPreview(raw, value, result.rules, result.error, keep, name,
                                            in_words(problem) if problem else None))
        for name in self.required:
            if values.get(name) in (None, ""):
                errors.append((name, kept(_l("%(field)s is required", field=self.fields[name].label))))
        return values, errors, previews

    def cell_problems(self, values: dict, skip=()) -> dict[str, object]:
        """{field name: kept message} of the cells that a lookup finds wrong: a value outside a field's
        options, an unknown owner or department.  Fields in ``skip`` (already refused) are left out."""
        problems = {}
        for target_field in self.choice_fields:
            if target_field.name not in skip and values.get(target_field.name) is not None:
                try:
                    choice_value(target_field, values[target_field.name])
                except RowError as error:
                    problems[target_field.name] = error.reason
        for name, problem in self.target.check_cells(values, self.ctx).items():
            if name not in skip:
                problems.setdefault(name, problem)
        return problems

    def _rejected(self, number: int, cells: list[str], values: dict, errors: list[tuple]) -> Outcome:
        """A rejected row with all its problems, not only the first found (only rejected rows pay for this)."""
        reasons = [problem for _name, problem in errors]
        for problem in self.cell_problems(values, skip={name for name, _problem in errors}).values():
            if problem not in reasons:
                reasons.append(problem)
        return Outcome("error", number, message=reasons, cells=cells)

    def plan(self, number: int, cells: list[str]) -> Outcome:
        values, errors, _previews = self.clean(cells, with_previews=False)
        if errors:
            return self._rejected(number, cells, values, errors)
        try:
            for target_field in self.choice_fields:
                if values.get(target_field.name) is not None:
                    values[target_field.name] = choice_value(target_field, values[target_field.name])
            row = self.target.build(values, self.ctx)
            keys = self.target.keys(values)
        except RowError as error:
            return self._rejected(number, cells, values, [(None, error.reason)])
        for key in keys:
            existing_id = self.existing.get(key)
            if existing_id is not None:
                decision = self.decisions.get(f"existing:{key}", self.default_existing)
                self._note_group(f"existing:{key}", "existing", key, number, existing_id, decision, values)
                if decision == UPDATE:
                    return Outcome("update", number, row, entity_id=existing_id, group=f"existing:{key}",
                                   cells=cells)
                if decision == SKIP:
                    return Outcome("skip", number, row, entity_id=existing_id, group=f"existing:{key}",
                                   message=self.already_exists)
                if self._is_unique(key):
                    return self._rejected(number, cells, values, [(None, kept(_l(
                        "%(key)s “%(value)s” belongs to an existing record and no two records may share it: "
                        "skip this row or update that record.", key=self._key_label(key),
                        value=self._key_value(key, values))))])
                break
        else:
            for key in keys:
                first = self.file_keys.get(key)
                if first is not None:
                    decision = self.decisions.get(f"file:{key}", self.default_file)
                    group = self._note_group(f"file:{key}", "file", key, number, None, decision, values)
                    if first not in group.rows:
                        group.rows.insert(0, first)
                        group.count += 1
                    if decision != CREATE:
                        return Outcome("skip", number, row, group=f"file:{key}",
                                       message={**self.same_as_row, "values": {"row": first}})
                    if self._is_unique(key):
                        return self._rejected(number, cells, values, [(None, kept(_l(
                            "%(key)s “%(value)s” is also in row %(row)d and no two records may share it.",
                            key=self._key_label(key), value=self._key_value(key, values), row=first)))])
                    break
        for key in keys:
            self.file_keys.setdefault(key, number)
        self._check_near(number, values)
        return Outcome("create", number, row, cells=cells if self.keeps_created_cells else None)

    def _is_unique(self, key: str) -> bool:
        return key.partition(":")[0] in self.target.unique_key_kinds

    @staticmethod
    def _key_label(key: str):
        kind = key.partition(":")[0]
        return KEY_LABELS.get(kind, kind)

    @staticmethod
    def _key_value(key: str, values: dict) -> str:
        """What the row has for a key, as the file has it (cleaned), not its normalised form."""
        kind = key.partition(":")[0]
        shown = values.get(KEY_FIELDS.get(kind, kind))
        return str(shown) if shown not in (None, "") else key.split(":")[-1]

    def _note_group(self, group_id, kind, key, number, existing_id, decision, values) -> Group:
        group = self.groups.get(group_id)
        if group is None:
            group = self.groups[group_id] = Group(group_id, kind, key.partition(":")[0], self._key_value(key, values),
                                                  existing_id, decision=decision)
        group.count += 1
        if len(group.rows) < 10:
            group.rows.append(number)
        return group

    def _check_near(self, number: int, values: dict) -> None:
        near_key = self.target.near_key(values)
        if not near_key or len(self.near) >= LISTED:
            return
        name = values.get("name") or ""
        existing = self.existing_near.get(near_key)
        if existing is not None and name_key(existing[1]) != name_key(name):
            self.near.append((number, name, existing[1]))
        earlier = self.file_near.get(near_key)
        if earlier is not None and name_key(earlier[1]) != name_key(name):
            self.near.append((number, name, kept(_l("row %(row)d: %(name)s", row=earlier[0], name=earlier[1]))))
        self.file_near.setdefault(near_key, (number, name))


def make_context(batch: ImportBatch, user: User) -> ImportContext:
    ctx = ImportContext(user=user, default_department_id=batch.department_id,
                        allowed_department_ids=writable_department_ids(user),
                        default_owner_id=batch.settings.get("owner_id"))
    ctx.load_lookups()
    return ctx


def preview(batch: ImportBatch, user: User, limit: int = PREVIEW_ROWS) -> list[tuple[int, list[CellPreview], str | None, list]]:
    """The first rows: (row number, each mapped cell before → after with its rules and problem, the row's
    problems in words, raw cells).  A cell is flagged for what its cleaning finds (a bad phone number)
    and for what only a lookup finds (an unknown owner, a value outside a field's options); the row's
    problems are what the dry run would say."""
    target = get_target(batch.target)
    planner = Planner(batch, target, make_context(batch, user))
    rows = []
    for number, cells in readers.iter_rows(stored_path(batch), source_info(batch)):
        values, errors, previews = planner.clean(cells)
        found = planner.cell_problems(values, skip={name for name, _problem in errors})
        for cell in previews:
            if cell.field in found:
                cell.problem = in_words(found[cell.field])
        # Planned too: later rows then see what this one makes (a department they name as parent).
        outcome = planner.plan(number, cells)
        rows.append((number, previews, outcome.text if outcome.action == "error" else None, cells))
        if len(rows) >= limit:
            break
    return rows


def sample_rows(batch: ImportBatch, sample: str, first_n: int = 100):
    """The rows a dry run looks at: the first N, a random 10% (repeatable per batch) or all."""
    rows = readers.iter_rows(stored_path(batch), source_info(batch))
    if sample == "first":
        for index, item in enumerate(rows):
            if index >= first_n:
                return
            yield item
    elif sample == "random":
        chooser = random.Random(batch.id)
        first, chosen = None, 0
        for item in rows:
            first = first or item
            if chooser.random() < 0.1:
                chosen += 1
                yield item
        if not chosen and first is not None:  # a small file: check at least one row
            yield first
    else:
        yield from rows


def dry_run(batch: ImportBatch, user: User, sample: str = "all", first_n: int = 100) -> Analysis:
    """Everything a real run would do, for a sample or the whole file, without writing anything.

    The findings are kept with the batch (``last_dry_run``) until its settings change.
    """
    target = get_target(batch.target)
    check_may_import(user, target)
    planner = Planner(batch, target, make_context(batch, user))
    analysis = Analysis(sample=sample, first_n=first_n, checked_at=utcnow())
    for number, cells in sample_rows(batch, sample, first_n):
        outcome = planner.plan(number, cells)
        analysis.rows_read += 1
        analysis.counts[outcome.action] += 1
        if outcome.action == "error" and len(analysis.errors) < LISTED:
            analysis.errors.append(outcome)
        elif outcome.action == "create" and len(analysis.creates) < 20:
            analysis.creates.append((outcome.number, target.summary(outcome.row)))
    analysis.group_count = len(planner.groups)
    analysis.groups = list(planner.groups.values())[:LISTED]
    _label_existing(target, analysis.groups)
    analysis.near = planner.near
    _keep_dry_run(batch, analysis)
    return analysis


def _keep_dry_run(batch: ImportBatch, analysis: Analysis) -> None:
    """Keep a dry run's findings beside the batch's kept file (written whole, then renamed into place)."""
    path = readers.dry_run_path(stored_path(batch))
    partial = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
    try:
        partial.write_text(json.dumps(analysis.as_dict(), ensure_ascii=False), encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def last_dry_run(batch: ImportBatch) -> Analysis | None:
    """The findings of the batch's last dry run, unless its settings changed since."""
    try:
        return Analysis.from_dict(json.loads(readers.dry_run_path(stored_path(batch)).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or unreadable: as if there were none
        return None


def forget_dry_run(batch: ImportBatch) -> None:
    """Drop the kept findings: the mapping, the way the file is read or the decisions changed."""
    readers.dry_run_path(stored_path(batch)).unlink(missing_ok=True)


def _label_existing(target: Target, groups: list[Group]) -> None:
    ids = [g.existing_id for g in groups if g.existing_id]
    if not ids:
        return
    labels = target.names(ids)
    for group in groups:
        if group.existing_id:
            group.existing_label = labels.get(group.existing_id)


# --- the real run ---------------------------------------------------------------------------------
def run_import(batch: ImportBatch, user: User, chunk_size: int = CHUNK_SIZE, progress=None,
               commit: bool = True) -> ImportBatch:
    """Import every row in chunks, each chunk all or nothing, recording each for undo.

    With ``commit`` (web and CLI) every chunk is its own committed transaction; without it
    (demo data, callers that own the transaction) every chunk is a savepoint.  Returns the
    batch, completed or failed; a failed chunk is rolled back whole and the chunks before it
    stay (and can be undone).
    """
    # The rejected rows' reasons are kept as message ids, shown in each reader's language; beside them
    # goes their text for anyone reading the table: outside a request (CLI, demo data) in the language
    # the importing user reads.
    with nullcontext() if has_request_context() else force_locale(language_of(user)):
        return _run_import(batch, user, chunk_size, progress, commit)


def _run_import(batch: ImportBatch, user: User, chunk_size: int, progress, commit: bool) -> ImportBatch:
    target = get_target(batch.target)
    check_may_import(user, target)
    path = stored_path(batch)
    if not path.exists():
        raise ServiceError(_("The uploaded file is no longer on the server; upload it again."))
    transition(batch, "start")
    batch.started_at = utcnow()
    batch.created_count = batch.updated_count = batch.skipped_count = batch.error_count = 0
    batch_id = batch.id
    if commit:
        db.session.commit()  # the batch is visibly running before the first chunk
    ctx = make_context(batch, user)
    planner = Planner(batch, target, ctx)
    counts: Counter = Counter()
    departments: set[int] = set()
    written = 0  # chunks committed
    info = source_info(batch)
    rows = readers.iter_rows(path, info)
    if target.plans_in_memory and info.row_count >= PLAN_APART_ROWS and forking.available():
        chunks = _chunks_planned_apart(planner, rows, chunk_size)
    else:
        chunks = _planned_chunks(planner, rows, chunk_size)
    # The collector's full passes would walk every object the application already holds, again
    # and again, while a run allocates a few objects per row: leave those out until the run ends
    # (measured: 1.5 s → 0.9 s of collection per 100,000 rows), and collect the young objects
    # every RUN_GC_THRESHOLD allocations instead of every 700 (0.3 s → almost none; the rows'
    # objects are freed by reference counting as each chunk is written).
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(RUN_GC_THRESHOLD, *thresholds[1:])
    try:
        with bulk_writes(), closing(chunks):
            for pending in chunks:
                _write_chunk(batch_id, written + 1, target, ctx, pending, counts, departments, commit)
                written += 1
                if progress:
                    progress(sum(counts.values()))
    except Exception as error:  # any failure ends the run; the failing chunk was rolled back
        if commit:
            db.session.rollback()
        batch = db.session.get(ImportBatch, batch_id)
        _store_counts(batch, counts, departments)
        transition(batch, "fail")
        batch.finished_at = utcnow()
        if isinstance(error, ServiceError):
            reason = error.given if not isinstance(error.given, str) else error.given[:1000]
        else:  # its text may hold SQL and values: for the log, never for the page
            reason = _l("an unexpected error (the details are in the server log)")
        batch.message = stored([kept(_l("Stopped at chunk %(seq)d (rows before it are imported and can be undone): "
                                        "%(error)s", seq=written + 1, error=kept(reason)))])
        _record_run("import_failed", batch, RUNNING, user)
        if commit:
            db.session.commit()
        if not isinstance(error, ServiceError):
            current_app.logger.exception("import %s failed", batch_id)
        return batch
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    batch = db.session.get(ImportBatch, batch_id)
    _store_counts(batch, counts, departments)
    transition(batch, "finish")
    batch.finished_at = utcnow()
    _record_run("import", batch, RUNNING, user)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return batch


def _planned_chunks(planner: Planner, rows, chunk_size: int) -> Iterator[list[Outcome]]:
    """The file's rows planned, in chunks of ``chunk_size`` in file order."""
    pending: list[Outcome] = []
    for number, cells in rows:
        pending.append(planner.plan(number, cells))
        if len(pending) >= chunk_size:
            yield pending
            pending = []
    if pending:
        yield pending


def _chunks_planned_apart(planner: Planner, rows, chunk_size: int) -> Iterator[list[Outcome]]:
    """The same chunks as _planned_chunks, planned in a forked process while this one writes.

    The child sends every SENT_ROWS rows, so writing starts sooner; here they are regrouped
    into chunks of ``chunk_size``.  When planning fails, the rows planned before the failing
    one arrive first, so the same whole chunks are written as in one process.
    """
    def planned_fields():
        fields = []
        try:
            for number, cells in rows:
                outcome = planner.plan(number, cells)
                # Sent as plain tuples: pickling slotted dataclasses costs ten times as much.
                fields.append((outcome.action, outcome.number, outcome.row, outcome.entity_id, outcome.message,
                               outcome.group, outcome.cells))
                if len(fields) >= SENT_ROWS:
                    yield fields
                    fields = []
        except Exception:
            if fields:
                yield fields
            raise
        if fields:
            yield fields

    pending: list[Outcome] = []
    with closing(forking.items_from_child(planned_fields)) as received:
        for fields in received:
            pending.extend(starmap(Outcome, fields))
            while len(pending) >= chunk_size:
                yield pending[:chunk_size]
                del pending[:chunk_size]
    if pending:
        yield pending


def _store_counts(batch, counts, departments):
    batch.created_count, batch.updated_count = counts["create"], counts["update"]
    batch.skipped_count, batch.error_count = counts["skip"], counts["error"]
    batch.department_ids = sorted(departments)


def _record_run(action: str, batch: ImportBatch, was: str, user: User) -> None:
    """An import's end in the audit trail: its file, status change and counts, as columns of the batch,
    so that the audit page names them in its reader's language.  Counts are figures, not old → new pairs."""
    changes: dict = {"status": [was, batch.status]}
    for column in ("created_count", "updated_count", "skipped_count", "error_count"):
        changes[column] = getattr(batch, column)
    record_event(action, entity="import_batches", entity_id=batch.id, detail=batch.original_filename, user=user,
                 changes=changes)


def _write_chunk(batch_id, seq, target: Target, ctx, outcomes: list[Outcome], counts, departments,
                 commit: bool) -> None:
    """Write one chunk in its own transaction (or savepoint): inserts, updates, rejected rows, undo record."""
    chunk_counts: Counter = Counter()
    savepoint = None if commit else db.session.begin_nested()
    try:
        use_bulk_page_cache(db.session)  # each chunk: the pool may hand out another connection
        ids = _insert_creates(target, ctx, outcomes)
        updates = []
        for outcome in outcomes:
            if outcome.action == "update":
                try:
                    before, after = target.update(outcome.entity_id, outcome.row, ctx)
                except RowError as error:
                    outcome.action, outcome.message = "error", [error.reason]
                    continue
                if after:
                    updates.append({"entity": target.table, "id": outcome.entity_id,
                                    "before": _json_values(before), "after": _json_values(after)})
        errors = [{"batch_id": batch_id, "row_number": o.number, "cells": o.cells or [], "message": stored(o.message)}
                  for o in outcomes if o.action == "error"]
        if errors:
            db.session.execute(ImportRowError.__table__.insert(), errors)
        skipped = [[o.number, o.entity_id, o.message] for o in outcomes if o.action == "skip"]
        db.session.add(ImportChunk(batch_id=batch_id, seq=seq, created_ids={target.table: ids}, updates=updates,
                                   skipped_rows=skipped))
        chunk_counts.update(outcome.action for outcome in outcomes)
        for outcome in outcomes:
            if outcome.row and outcome.action in ("create", "update"):
                department = target.department_of(outcome.row)
                if department:
                    departments.add(department)
        batch = db.session.get(ImportBatch, batch_id)
        batch.created_count = counts["create"] + chunk_counts["create"]
        batch.updated_count = counts["update"] + chunk_counts["update"]
        batch.skipped_count = counts["skip"] + chunk_counts["skip"]
        batch.error_count = counts["error"] + chunk_counts["error"]
        if commit:
            db.session.commit()
        else:
            savepoint.commit()
    except Exception:
        if commit:
            db.session.rollback()
        else:
            savepoint.rollback()
        raise
    counts.update(chunk_counts)


def _insert_creates(target: Target, ctx, outcomes: list[Outcome]) -> list[int]:
    """Insert the chunk's new records: one executemany, or row by row in savepoints for service-backed targets."""
    creates = [o for o in outcomes if o.action == "create"]
    if not target.per_row:
        return target.insert([o.row for o in creates], ctx)
    ids = []
    for outcome in creates:
        try:
            with db.session.begin_nested():
                ids.append(target.insert_one(outcome.row, ctx))
        except RowError as error:
            outcome.action, outcome.message = "error", [error.reason]
        except ServiceError as error:  # a plan-tracking service's refusal, kept to be shown in each reader's language
            outcome.action, outcome.message = "error", [kept(error.given)]
    return ids


def _json_values(values: dict) -> dict:
    from rollout.audit.services import _plain
    return {key: _plain(value) for key, value in values.items()}


@dataclass
class SkippedRow:
    """A row the run left out as a duplicate: its number and what it duplicates."""
    number: int
    #: The record it matched, or None when it repeats an earlier row of the file.
    existing_id: int | None
    existing_label: str | None
    #: Why, in the current language.
    reason: str


def skipped_rows(batch: ImportBatch, limit: int = SKIPPED_LISTED) -> tuple[list[SkippedRow], bool]:
    """The first ``limit`` rows the run skipped, in file order, and whether it recorded them (runs before
    skipped rows were recorded only counted them)."""
    if not batch.skipped_count:
        return [], True
    found: list[list] = []
    recorded = False
    for (entries,) in db.session.execute(select(ImportChunk.skipped_rows).where(ImportChunk.batch_id == batch.id)
                                         .order_by(ImportChunk.seq)):
        if entries is not None:
            recorded = True
            found += entries[:limit - len(found)]
        if len(found) >= limit:
            break
    target = get_target(batch.target)
    ids = sorted({entry[1] for entry in found if entry[1]})
    names = target.names(ids) if target and ids else {}
    rows = []
    for number, existing_id, message in found:
        if existing_id:
            label = names.get(existing_id, f"#{existing_id}")
            reason = _("Duplicate of the existing record %(name)s", name=label)
        else:
            label = None
            first = (message.get("values") or {}).get("row") if isinstance(message, dict) else None
            reason = _("Duplicate of row %(row)d of the file", row=first) if isinstance(first, int) \
                else in_words(message)
        rows.append(SkippedRow(number, existing_id, label, reason))
    return rows, recorded


# --- undo --------------------------------------------------------------------------------------
#: Records a refusal to undo names at most; the others are counted.
NAMED = 5
#: Ids per statement of the undo's checks (within SQLite's oldest parameter limit).
IDS_PER_STATEMENT = 900


def _parts(ids: list) -> Iterator[list]:
    for start in range(0, len(ids), IDS_PER_STATEMENT):
        yield ids[start:start + IDS_PER_STATEMENT]


def _chunks_of(batch: ImportBatch) -> list[ImportChunk]:
    return db.session.scalars(select(ImportChunk).where(ImportChunk.batch_id == batch.id)
                              .order_by(ImportChunk.seq.desc())).all()


def undo_blocker(batch: ImportBatch, chunks: list[ImportChunk] | None = None) -> dict | None:
    """Why the import cannot be undone now, as plain data for ``blocker_text``; None when it can.

    Undo removes what the import created and restores what it updated, so each of these refuses it:
    a created record changed since ("changed"), one that records made since use ("in_use", which
    would lose them), an updated record changed since ("updated"). Each names its first records.
    """
    target = get_target(batch.target)
    chunks = _chunks_of(batch) if chunks is None else chunks
    created = [i for chunk in chunks for i in chunk.created_ids.get(target.table, [])]
    since = batch.started_at or batch.created_at
    changed: list[int] = []
    for part in _parts(created):
        changed += [int(i) for i in db.session.scalars(select(AuditEntry.entity_id).distinct().where(
            AuditEntry.entity == target.table, AuditEntry.entity_id.in_([str(i) for i in part]),
            AuditEntry.action.in_(("update", "delete")), AuditEntry.created_at >= since))]
    in_use = target.in_use(created) if created else {}
    restores = [update for chunk in chunks for update in chunk.updates]
    keys = {key for update in restores for key in update["after"]}
    current: dict[int, dict] = {}
    for part in _parts(sorted({update["id"] for update in restores})):
        current.update(target.current_values(part, keys))
    updated = [update["id"] for update in restores if update["id"] not in current or _json_values(
        {key: current[update["id"]][key] for key in update["after"]}) != update["after"]]
    found = {"changed": sorted(set(changed)), "in_use": sorted(in_use), "updated": sorted(set(updated))}
    named = sorted({i for ids in found.values() for i in ids[:NAMED]})
    names = target.names(named) if named else {}
    blocker = {}
    for kind, ids in found.items():
        if ids:
            listed = [names.get(i, f"#{i}") for i in ids[:NAMED]]
            if kind == "in_use":  # with what uses each
                listed = [[name, in_use[i]] for name, i in zip(listed, ids)]
            blocker[kind] = {"count": len(ids), "names": listed}
    return blocker or None


def _listed(items: list[str], count: int) -> str:
    """The first items in the reader's way of listing, and how many more there are."""
    listed = ("、" if get_locale().language == "zh" else ", ").join(items)
    more = count - len(items)
    return ngettext("%(names)s and %(num)d more", "%(names)s and %(num)d more", more, names=listed) if more > 0 \
        else listed


def blocker_text(blocker: dict) -> str:
    """``undo_blocker``'s findings in the current language: what blocks the undo and what to do instead."""
    sentences = [_("This import can no longer be undone.")]
    if "in_use" in blocker:
        found = blocker["in_use"]
        separator = "、" if get_locale().language == "zh" else ", "
        records = [_("%(name)s (%(uses)s)", name=name,
                     uses=separator.join(str(USES[use](count)) for use, count in uses.items()))
                   for name, uses in found["names"]]
        sentences.append(ngettext("%(num)d record it created is now used by other records: %(records)s.",
                                  "%(num)d records it created are now used by other records: %(records)s.",
                                  found["count"], records=_listed(records, found["count"])))
        sentences.append(_("To undo it, first delete what uses these records or move it to other records; "
                           "otherwise keep the import and correct single records by hand."))
    if "changed" in blocker:
        found = blocker["changed"]
        sentences.append(ngettext("%(num)d record it created has been changed since: %(names)s.",
                                  "%(num)d records it created have been changed since: %(names)s.",
                                  found["count"], names=_listed(found["names"], found["count"])))
    if "updated" in blocker:
        found = blocker["updated"]
        sentences.append(ngettext("%(num)d record it updated has been changed since: %(names)s.",
                                  "%(num)d records it updated have been changed since: %(names)s.",
                                  found["count"], names=_listed(found["names"], found["count"])))
    if "changed" in blocker or "updated" in blocker:
        sentences.append(_("Undoing would throw those changes away: correct the records by hand instead."))
    return ("" if get_locale().language == "zh" else " ").join(sentences)


def undo_import(batch: ImportBatch, user: User) -> dict:
    """Remove what the import created and restore what it updated, unless any of it changed since.

    All or nothing: anything ``undo_blocker`` finds refuses the whole undo, naming the records.
    """
    target = get_target(batch.target)
    check_may_import(user, target)
    if (batch.status, "undo") not in TRANSITIONS:
        transition(batch, "undo")  # raises the refusal
    chunks = _chunks_of(batch)
    blocker = undo_blocker(batch, chunks)
    if blocker:
        raise ServiceError(blocker_text(blocker))
    created = [i for chunk in chunks for i in chunk.created_ids.get(target.table, [])]
    restores = [update for chunk in chunks for update in chunk.updates]
    for update in reversed(restores):
        target.restore(update["id"], _typed_values(target, update["before"]), user)
    for part in _parts(created):
        target.remove(part)
    was = batch.status
    transition(batch, "undo")
    batch.undone_at = utcnow()
    record_event("import_undone", entity="import_batches", entity_id=batch.id, detail=batch.original_filename,
                 user=user, changes={"status": [was, batch.status], "removed_count": len(created),
                                     "restored_count": len(restores)})
    db.session.flush()
    return {"removed": len(created), "restored": len(restores)}


def _typed_values(target: Target, values: dict) -> dict:
    """JSON values back to the column types (dates, decimals) before restoring them."""
    from datetime import date, datetime
    from decimal import Decimal

    from sqlalchemy import Date, DateTime, Numeric
    columns = target.model.__table__.columns
    typed = {}
    for key, value in values.items():
        column = columns.get(key)
        if value is not None and column is not None:
            if isinstance(column.type, DateTime):
                value = datetime.fromisoformat(value)
            elif isinstance(column.type, Date):
                value = date.fromisoformat(value)
            elif isinstance(column.type, Numeric):
                value = Decimal(value)
        typed[key] = value
    return typed


def resolve_errors(batch: ImportBatch) -> None:
    """Confirm that the rejected rows were fixed and re-imported (or dropped on purpose)."""
    if batch.status != COMPLETED or not batch.error_count:
        raise ServiceError(_("Only a completed import with rejected rows can be marked resolved."))
    batch.errors_resolved_at = utcnow()


def _error_column_names() -> set[str]:
    """The error report's last column in each language the pages speak."""
    names = set()
    for language in ("en", "zh_CN"):
        with force_locale(language):
            names.add(_("Error").strip().casefold())
    return names


def reimports_of(batch: ImportBatch) -> list[ImportBatch]:
    """Later completed imports of the same target that read this batch's error report: its columns plus
    the error column, or the report's file name.  A hint that the rejected rows were fixed and imported
    again, for the user to confirm (a report imported only in part is still that report).  One statement."""
    if not batch.has_unresolved_errors or batch.status != COMPLETED:
        return []
    headers = [str(h) for h in batch.source.get("headers", [])]
    report_name = f"{batch.original_filename.rsplit('.', 1)[0]}-errors.xlsx".casefold()
    error_names = _error_column_names()
    since = batch.finished_at or batch.created_at
    found = []
    for later in db.session.scalars(select(ImportBatch).where(
            ImportBatch.target == batch.target, ImportBatch.status == COMPLETED, ImportBatch.id != batch.id,
            ImportBatch.created_at >= since).order_by(ImportBatch.id)):
        later_headers = [str(h) for h in later.source.get("headers", [])]
        same_columns = (len(later_headers) == len(headers) + 1 and later_headers[:-1] == headers
                        and later_headers[-1].strip().casefold() in error_names)
        if same_columns or later.original_filename.casefold() == report_name:
            found.append(later)
    return found


# --- error report ------------------------------------------------------------------------------
def error_report(batch: ImportBatch) -> bytes:
    """The rejected rows as XLSX, original columns plus an error column (in the current language), ready to
    fix and re-import."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    from rollout.reports.exports import WIDTH_SAMPLE, Column, column_widths
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="errors")
    sheet.freeze_panes = "A2"
    headers = list(batch.source.get("headers", [])) + [_("Error")]
    query = select(ImportRowError).where(ImportRowError.batch_id == batch.id).order_by(ImportRowError.row_number)
    rows = ([*list(error.cells)[: len(headers) - 1], *[""] * max(0, len(headers) - 1 - len(error.cells)),
             _("Row %(row)d: %(message)s", row=error.row_number, message=shown(error.message))]
            for error in db.session.scalars(query.execution_options(yield_per=1000)))
    # A write-only sheet takes its widths before its rows: size them on the first rows.
    sample = list(itertools.islice(rows, WIDTH_SAMPLE))
    for index, width in enumerate(column_widths([Column(name, "") for name in headers], sample), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    header_cells = []
    for name in headers:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = Font(bold=True)
        header_cells.append(cell)
    sheet.append(header_cells)
    fill = PatternFill("solid", fgColor="FDE2E1")
    for values in itertools.chain(sample, rows):
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # text stays text: leading zeros and long numbers survive the round trip
            cells.append(cell)
        cells[-1].fill = fill
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- readiness --------------------------------------------------------------------------------
@dataclass
class ImportStatus:
    """Whether a department's data has been brought in: a completed import without unresolved errors."""
    completed: int
    unresolved_errors: int
    last_completed_at: object = None

    @property
    def ready(self) -> bool:
        return self.completed > 0 and self.unresolved_errors == 0

    def __bool__(self) -> bool:
        return self.ready


#: Imports that set the tool up (accounts, the department tree) rather than bring a department's data in.
SET_UP_TARGETS = ("users", "departments")


def _completed_batches() -> list[ImportBatch]:
    """Completed imports of business data, read once per request: readiness asks for every department in
    turn. Accounts and the department tree are set-up, not the data a department migrates."""
    from flask import g, has_request_context
    if has_request_context() and "_completed_import_batches" in g:
        return g._completed_import_batches
    query = (select(ImportBatch).where(ImportBatch.status == COMPLETED, ImportBatch.target.not_in(SET_UP_TARGETS))
             .order_by(ImportBatch.finished_at))
    batches = list(db.session.scalars(query))
    if has_request_context():
        g._completed_import_batches = batches
    return batches


def department_import_status(department_id: int) -> ImportStatus:
    """Imports whose records landed in this department (or its teams), for the readiness dashboard.

    A rejected row is not written anywhere, so it has no department of its own: an import's unresolved
    errors count for the department it was run for, else for every department its records landed in.
    """
    from rollout.access import subtree_ids
    wanted = subtree_ids(department_id)
    completed, unresolved, last = 0, 0, None
    for batch in _completed_batches():
        touched = set(batch.department_ids or []) | ({batch.department_id} if batch.department_id else set())
        if not touched & wanted:
            continue
        completed += 1
        last = batch.finished_at
        errors_belong_here = batch.department_id in wanted if batch.department_id else True
        if batch.has_unresolved_errors and errors_belong_here:
            unresolved += batch.error_count
    return ImportStatus(completed=completed, unresolved_errors=unresolved, last_completed_at=last)


def imported_id_runs(tables: tuple[str, ...], since: datetime) -> dict[str, list[tuple[int, int]]]:
    """{table: [(first id, last id), ...]} of the records imports created in chunks written since ``since``
    (imports not undone), as runs of consecutive ids: migrated history, which figures of real use leave out.

    Neither follow-ups nor deals carry a mark of their own (an imported open deal or follow-up is
    written as any other, at the time of the import): the batches' own record of what they created is the
    one marker that holds for both.  Runs keep the conditions short: a chunk's records are consecutive
    unless someone saved a record of the same kind meanwhile, which then splits the run exactly.
    One statement."""
    names = [name for name, target in all_targets().items() if target.table in tables]
    ids: dict[str, list[int]] = {table: [] for table in tables}
    if not names:
        return {table: [] for table in tables}
    for (created,) in db.session.execute(
            select(ImportChunk.created_ids).join(ImportBatch, ImportBatch.id == ImportChunk.batch_id)
            .where(ImportBatch.target.in_(names), ImportBatch.status != UNDONE, ImportChunk.created_at >= since)):
        for table in tables:
            ids[table] += (created or {}).get(table, [])
    runs: dict[str, list[tuple[int, int]]] = {}
    for table, found in ids.items():
        table_runs: list[list[int]] = []
        for record_id in sorted(set(found)):
            if table_runs and record_id == table_runs[-1][1] + 1:
                table_runs[-1][1] = record_id
            else:
                table_runs.append([record_id, record_id])
        runs[table] = [(first, last) for first, last in table_runs]
    return runs


def batches_query():
    return select(ImportBatch).order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())


def delete_draft(batch: ImportBatch) -> None:
    """Discard a draft that was never run, with its kept file."""
    require_draft(batch)
    path = stored_path(batch)
    db.session.delete(batch)
    db.session.flush()
    readers.remove_kept_file(path)

