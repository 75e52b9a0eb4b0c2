"""The audit page's "Changes" column in the reader's words.

Stored changes are raw column names and values (``owner_id: 12 → 15``).  Here
they become translated field labels, the names of the users and departments
behind ids, Yes/No for booleans, local times for ``*_at`` columns, and long
values shortened with the full text kept for a tooltip.  All ids of one page
are resolved with a single query, so the page costs the same number of SQL
statements whatever the number of rows.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, Numeric, String, literal_column, select, union_all

from rollout.accounts.models import User
from rollout.audit.services import REDACTED
from rollout.extensions import db
from rollout.timeutil import to_local

#: Values longer than this are shortened on the page; the full value goes into the title attribute.
MAX_VALUE_LENGTH = 60
EMPTY = "—"

#: Readable names of columns that many tables share; a model names its own in ``__field_labels__``.
#: Columns named nowhere get a humanised English name (a test keeps the audited ones named).
FIELD_LABELS = {
    "name": _l("Name"), "title": _l("Title"), "status": _l("Status"), "state": _l("Status"),
    "kind": _l("Kind"), "role": _l("Role"), "roles": _l("Roles"), "code": _l("Code"),
    "department_id": _l("Department"), "team_id": _l("Team"), "parent_id": _l("Parent"),
    "user_id": _l("User"), "owner_id": _l("Owner"), "owner_user_id": _l("Owner"),
    "created_by_id": _l("Created by"), "approved_by_id": _l("Approved by"), "author_id": _l("Author"),
    "requester_id": _l("Requester"), "trainer_id": _l("Trainer"), "facilitator_id": _l("Facilitator"),
    "closed_by_id": _l("Closed by"), "decided_by_id": _l("Decided by"), "published_by_id": _l("Published by"),
    "implemented_by_id": _l("Implemented by"), "uploaded_by_id": _l("Uploaded by"),
    "seed_user_id": _l("Seed user"), "interviewer_id": _l("Interviewer"), "interviewee_id": _l("Interviewee"),
    "approver_department_id": _l("Approving department"),
    "username": _l("Username"), "display_name": _l("Display name"), "email": _l("Email"), "phone": _l("Phone"),
    "password_hash": _l("Password"), "locale": _l("Language"), "session_token": _l("Sign-in session key"),
    "calendar_token": _l("Calendar feed key"), "label": _l("Label"), "source": _l("Source"),
    "version": _l("Version"), "notes_markdown": _l("Notes"), "content": _l("Content"), "tag": _l("Tag"),
    "is_active": _l("Active"), "is_active_account": _l("Account active"), "is_seed_user": _l("Seed user"),
    "is_enabled": _l("Enabled"), "is_required": _l("Required"), "is_blocking": _l("Blocking"),
    "description": _l("Description"), "note": _l("Note"), "notes": _l("Notes"), "comment": _l("Comment"),
    "reason": _l("Reason"), "subject": _l("Subject"), "body_markdown": _l("Text"), "message": _l("Message"),
    "priority": _l("Priority"), "amount": _l("Amount"), "target": _l("Target"), "position": _l("Order"),
    "created_at": _l("Created at"), "updated_at": _l("Updated at"), "submitted_at": _l("Submitted at"),
    "approved_at": _l("Approved at"), "decided_at": _l("Decided at"), "closed_at": _l("Closed at"),
    "last_login_at": _l("Last login"), "roles_reviewed_at": _l("Roles reviewed at"),
    "starts_on": _l("Starts on"), "ends_on": _l("Ends on"), "due_on": _l("Due on"),
    "planned_on": _l("Planned on"), "held_on": _l("Held on"), "go_live_on": _l("Go-live date"),
    "customer_id": _l("Customer"),
}

#: Columns whose meaning depends on the table.
TABLE_FIELD_LABELS = {
    ("departments", "parent_id"): _l("Parent department"),
    # A contact's title is the position they hold, not a headline.
    ("contacts", "title"): _l("Job title"),
}

#: Audited tables, downloads and pages in words; a model may name its table in ``__entity_label__`` instead.
#: Others are shown by their machine name (a test keeps every audited table named).
ENTITY_NAMES = {
    "users": _l("User"), "departments": _l("Department"), "audit_entries": _l("Audit trail"),
    "audit-summary": _l("Audit summary"), "customers": _l("Customer"), "sales_plans": _l("Sales plan"),
    "surveys": _l("Survey"), "requirements": _l("Requirement"), "processes": _l("Process map"),
    "process_versions": _l("Process map version"), "change_requests": _l("Change request"),
    "change_attachments": _l("Change request attachment"), "retros": _l("Retrospective"),
    "training_sessions": _l("Training session"), "import_batches": _l("Data import"),
    "outbox_messages": _l("Outgoing message"), "dashboard": _l("Rollout status report"),
    # Not "Session": training translates that word as a class (场次) and one catalogue wins.
    "session": _l("Sign-in session"), "route": _l("Page"),
    "survey_responses": _l("Survey responses"), "training_overdue": _l("Overdue training"),
    "training_matrix": _l("Training completion"),
}

#: Audit actions in words (others are shown by their machine name).
ACTION_NAMES = {
    "create": _l("Records created"), "update": _l("Records changed"), "delete": _l("Records deleted"),
    "login": _l("Logins"), "login_failed": _l("Failed logins"), "logout": _l("Logouts"),
    "denied": _l("Access denied"), "export": _l("Exports"), "download": _l("Downloads"),
    "import": _l("Imports"), "transition": _l("Status changes"), "retry": _l("Message retries"),
    "survey.status": _l("Survey status changes"), "survey.invite": _l("Survey invitations"),
    "survey.remind": _l("Survey reminders"), "process_draft_created": _l("Process map drafts started"),
    "process_approved": _l("Process maps approved"), "post_review": _l("Change post-implementation reviews"),
    "plan.changed_after_approval": _l("Plans changed after approval"), "import_failed": _l("Failed imports"),
    "import_undone": _l("Imports undone"), "process_submitted": _l("Process maps submitted for review"),
    "process_sent_back": _l("Process maps sent back"), "process_review_withdrawn": _l("Process maps taken back to draft"),
    "process_step_removed": _l("Process steps removed"), "process_flow_removed": _l("Process flows removed"),
    "roles.change_requested": _l("Role changes asked for"), "session_schedule": _l("Training sessions scheduled"),
    "session_discard": _l("Training drafts discarded"), "session_cancel": _l("Training sessions cancelled"),
    "sign_in_link.issued": _l("Sign-in links issued"), "password.set_by_link": _l("Passwords set by sign-in link"),
}


#: One audit row's action in words (the filter and the summary count them with ACTION_NAMES, in the plural).
ACTION_ROW_NAMES = {
    "create": _l("Record created"), "update": _l("Record changed"), "delete": _l("Record deleted"),
    "login": _l("Login"), "login_failed": _l("Failed login"), "logout": _l("Logout"),
    "denied": _l("Access denied"), "export": _l("Export"), "download": _l("Download"),
    "import": _l("Import"), "transition": _l("Status change"), "retry": _l("Message retry"),
    "survey.status": _l("Survey status change"), "survey.invite": _l("Survey invitation"),
    "survey.remind": _l("Survey reminder"), "process_draft_created": _l("Process map draft started"),
    "process_approved": _l("Process map approved"), "post_review": _l("Change post-implementation review"),
    "plan.changed_after_approval": _l("Plan changed after approval"), "import_failed": _l("Failed import"),
    "import_undone": _l("Import undone"), "process_submitted": _l("Process map submitted for review"),
    "process_sent_back": _l("Process map sent back"), "process_review_withdrawn": _l("Process map taken back to draft"),
    "process_step_removed": _l("Process step removed"), "process_flow_removed": _l("Process flow removed"),
    "roles.change_requested": _l("Role change asked for"), "session_schedule": _l("Training session scheduled"),
    "session_discard": _l("Training draft discarded"), "session_cancel": _l("Training session cancelled"),
    "sign_in_link.issued": _l("Sign-in link issued"), "password.set_by_link": _l("Password set by sign-in link"),
}

#: Pages by endpoint, for "access denied" rows (a page not named here shows by its area).
PAGE_NAMES = {
    "dashboard.home": _l("Home"), "dashboard.adoption": _l("Adoption"), "dashboard.readiness": _l("Go-live readiness"),
    "dashboard.department_adoption": _l("Adoption of a department"), "dashboard.plan": _l("Rollout plan"),
    "dashboard.ranking": _l("Usage ranking"), "dashboard.go_live": _l("Go-live overview"),
    "dashboard.readiness_settings": _l("Readiness settings"), "dashboard.report_pdf": _l("Rollout status report"),
    "plans.index": _l("Plans"), "plans.customers": _l("Customers"), "plans.customer": _l("Customer"),
    "plans.deals": _l("Deals"), "plans.deal": _l("Deal"), "plans.leads": _l("Leads"), "plans.quotes": _l("Quotes"),
    "plans.quote": _l("Quote"), "plans.pool": _l("Customer pool"), "plans.campaigns": _l("Campaigns"),
    "plans.activities": _l("Activities"), "plans.settings": _l("Sales settings"), "plans.plan": _l("Sales plan"),
    "surveys.index": _l("Requirements"), "surveys.survey_list": _l("Surveys"), "surveys.survey": _l("Survey"),
    "surveys.results": _l("Survey results"), "surveys.coverage": _l("Coverage"),
    "surveys.requirements": _l("Requirements backlog"), "surveys.requirement": _l("Requirement"),
    "surveys.interviews": _l("Interviews"), "surveys.interview": _l("Interview"),
    "processmaps.index": _l("Process maps"), "processmaps.process": _l("Process map"),
    "processmaps.version": _l("Process map version"), "processmaps.raci": _l("RACI matrix"),
    "changes.index": _l("Changes"), "changes.all_requests": _l("All change requests"),
    "changes.detail": _l("Change request"), "changes.board": _l("Change board"), "changes.windows": _l("Review windows"),
    "changes.window": _l("Review window"), "changes.releases": _l("Releases"), "changes.release": _l("Release"),
    "changes.cadences": _l("Review cadences"), "changes.calendar": _l("Change calendar"),
    "changes.metrics": _l("Change metrics"),
    "training.index": _l("Training"), "training.tracks": _l("Training tracks"), "training.track": _l("Training track"),
    "training.course": _l("Course"), "training.sessions": _l("Training sessions"),
    "training.session": _l("Training session"), "training.matrix": _l("Training completion"),
    "training.seeds": _l("Seed users"), "training.support_requests": _l("Support requests"),
    "training.support_request": _l("Support request"), "training.faq_index": _l("FAQ"),
    "training.faq_insights": _l("FAQ insights"), "training.attendance": _l("Attendance"),
    "retros.index": _l("Retros"), "retros.board": _l("Retro board"), "retros.summary": _l("Retro summary"),
    "accounts.users": _l("Users"), "accounts.edit_user": _l("User"), "accounts.departments": _l("Departments"),
    "accounts.role_review": _l("Role review"), "accounts.review_roles": _l("Role review"),
    "accounts.my_role_review": _l("Role review"), "imports.index": _l("Imports"), "imports.batch": _l("Data import"),
    "imports.templates": _l("Import templates"), "audit.index": _l("Audit trail"), "audit.export": _l("Audit trail"),
    "reports.audit_summary_page": _l("Audit summary"), "notify.outbox": _l("Outbox"),
    "notify.robots": _l("Chat robots"), "notify.channels": _l("Notification channels"),
}

#: The area of a page not named in PAGE_NAMES, by the first part of its endpoint.
PAGE_AREAS = {
    "dashboard": _l("Rollout"), "plans": _l("Plans"), "surveys": _l("Requirements"),
    "processmaps": _l("Process maps"), "changes": _l("Changes"), "training": _l("Training"), "retros": _l("Retros"),
    "accounts": _l("Users"), "imports": _l("Imports"), "audit": _l("Audit trail"), "reports": _l("Reports"),
    "notify": _l("Notifications"),
}

#: Notifications by their event (a notification row's ``event`` column).
NOTIFICATION_EVENTS = {
    "changes.agenda": _l("Review agenda"), "changes.assessed": _l("Change request assessed"),
    "changes.carried_over": _l("Change request carried over"), "changes.deferred": _l("Change request deferred"),
    "changes.emergency": _l("Emergency change"), "changes.release_overdue": _l("Release overdue"),
    "changes.release": _l("Release announced"), "changes.scheduled": _l("Change request scheduled"),
    "changes.submitted": _l("Change request submitted"), "changes.approved": _l("Change request approved"),
    "changes.rejected": _l("Change request rejected"), "customer.released": _l("Customer released to the pool"),
    "customer.transferred": _l("Customer transferred to you"), "customer.transferred_away": _l("Customer transferred away"),
    "customer.pool_warning": _l("Customer returning to the pool soon"), "lead.handed": _l("Lead handed over"),
    "lead.due_soon": _l("Lead response due soon"), "lead.overdue": _l("Lead response overdue"),
    "lead.escalated": _l("Overdue lead reported"), "plan.behind": _l("Plan behind target"), "plan.changed": _l("Plan changed"),
    "plan.submitted": _l("Plan awaiting approval"), "plan.approve": _l("Plan approved"),
    "plan.return": _l("Plan returned for changes"), "quote.approved": _l("Quote approved"),
    "quote.rejected": _l("Quote rejected"), "deal.won": _l("Deal won"), "deal.lost": _l("Deal lost"),
    "lead.accepted": _l("Lead taken over"), "lead.rejected": _l("Lead declined"),
    "retros.action_assigned": _l("Retro action item assigned to you"),
    "processmaps.review_asked": _l("Process map review asked"), "processmaps.sent_back": _l("Process map sent back"),
    "processmaps.approved": _l("Process map approved"),
    "quote.pending": _l("Quote awaiting approval"), "quote.step_approved": _l("Quote approval step passed"),
    "requirements.status": _l("Requirement status changed"), "retro.change_decided": _l("Change from a retro decided"),
    "rollout.milestone_overdue": _l("Rollout milestone overdue"), "retros.action_closed": _l("Retro action item closed"), "retros.action_due": _l("Retro action item due"),
    "retros.action_reassigned": _l("Retro action item reassigned"), "retros.opened": _l("Retro opened"),
    "retros.question_asked": _l("Question in a retro"), "roles.change_requested": _l("Role change asked for"),
    "survey.closed": _l("Survey closed"), "survey.invited": _l("Survey invitation"), "survey.reminder": _l("Survey reminder"),
    "training.assigned": _l("Training assigned"), "training.attendance_due": _l("Attendance to record"),
    "training.attendance_still_due": _l("Attendance still not recorded"),
    "training.waitlist_closed": _l("No seat from the waitlist"), "training.no_sign_ups": _l("Training with no sign-ups"), "training.draft_session": _l("Training draft to schedule"),
    "training.overdue": _l("Training overdue"), "training.promoted": _l("Moved up from the waitlist"),
    "training.reminder": _l("Training reminder"), "training.session_scheduled": _l("Training scheduled"),
    "training.session_moved": _l("Training moved"), "training.session_cancelled": _l("Training cancelled"),
    "training.support_request": _l("Support request"), "training.support_answered": _l("Support request answered"),
    "training.support_answer_edited": _l("Support answer edited"),
    "training.support_escalated": _l("Support request escalated"),
    "training.support_escalated_asker": _l("Your support request escalated"),
    "training.support_reply": _l("Reply to a support request"),
}


class _NotificationEvents(Mapping):
    """Every event has words: those named in NOTIFICATION_EVENTS, others by their area ("Training
    notification"), so a dotted code never shows on the audit page."""

    def __getitem__(self, event):
        label = NOTIFICATION_EVENTS.get(event)
        if label is not None:
            return label
        area = event.split(".")[0].rstrip("s")
        areas = {"change": _l("Changes"), "training": _l("Training"), "survey": _l("Surveys"), "plan": _l("Plans"),
                 "deal": _l("Deals"), "quote": _l("Quotes"), "retro": _l("Retros"), "process": _l("Process maps"),
                 "customer": _l("Customers"), "lead": _l("Leads"), "requirement": _l("Requirements"),
                 "import": _l("Imports")}
        return _("%(area)s notification", area=areas.get(area, _("Other")))

    def __contains__(self, event):
        return isinstance(event, str) and bool(event)

    def __iter__(self):
        return iter(NOTIFICATION_EVENTS)

    def __len__(self):
        return len(NOTIFICATION_EVENTS)


#: Labels of the codes a column stores, by (table, column); each module registers its own with label_codes().
CODE_LABELS: dict[tuple[str, str], Mapping] = {("notifications", "event"): _NotificationEvents()}


def label_codes(labels_by_column: dict[tuple[str, str], Mapping]) -> None:
    """Show the codes stored in each (table, column) by their labels: ``awaiting_window`` → 待排期."""
    CODE_LABELS.update(labels_by_column)


@dataclass(frozen=True)
class ShownValue:
    """One side of a change as shown: the (possibly shortened) text and, when shortened, the full text."""
    text: str
    full: str | None = None


@dataclass(frozen=True)
class ChangeLine:
    """One changed field: its label, the old and the new value; ``figure`` when the event recorded
    only a value (an import's counts), which shows without an arrow."""
    field: str
    label: str
    old: ShownValue
    new: ShownValue
    figure: bool = False


def humanise(column: str) -> str:
    """``planned_on`` → "Planned on", ``approver_department_id`` → "Approver department"."""
    words = column.removesuffix("_id").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else column


@cache
def model_field_labels() -> dict[str, dict]:
    """{table: {column: label}} from each model's ``__field_labels__``, where its module names its own columns."""
    return {mapper.local_table.name: getattr(mapper.class_, "__field_labels__", {})
            for mapper in db.Model.registry.mappers}


@cache
def model_entity_labels() -> dict[str, object]:
    """{table: label} from each model's ``__entity_label__``."""
    return {mapper.local_table.name: mapper.class_.__entity_label__ for mapper in db.Model.registry.mappers
            if getattr(mapper.class_, "__entity_label__", None)}


def entity_name(entity: str | None) -> str:
    """An audited table or download in the reader's words: ``retro_cards`` → 复盘卡片."""
    if not entity:
        return ""
    label = ENTITY_NAMES.get(entity) or model_entity_labels().get(entity)
    return str(label) if label is not None else entity


def action_name(action: str) -> str:
    """An audit action in the reader's words, or its machine name when it has none."""
    label = ACTION_NAMES.get(action)
    return str(label) if label is not None else action


def action_row_name(action: str) -> str:
    """One audit row's action in the reader's words ("Login", not the filter's "Logins")."""
    label = ACTION_ROW_NAMES.get(action) or ACTION_NAMES.get(action)
    return str(label) if label is not None else action


def page_name(endpoint: str) -> str:
    """A page by its endpoint in words: ``dashboard.adoption`` → "Adoption"; a page not named by its area."""
    label = PAGE_NAMES.get(endpoint)
    if label is not None:
        return str(label)
    area = PAGE_AREAS.get(endpoint.split(".")[0])
    return _("A page of %(area)s", area=area) if area is not None else endpoint


def subject(row, record_names: dict[int, str] | None = None) -> str:
    """What an audit row is about, in words: "Customer “华信科技”", "Page “Adoption”", "Sign-in session of rep";
    ``record_names`` (audit row id → the record's name, from ``describe_rows``) names records that have one."""
    name = entity_name(row.entity)
    if not row.entity_id:
        return name
    if row.entity == "route":
        return _("Page “%(page)s”", page=page_name(row.entity_id))
    if row.entity == "session":
        return _("Sign-in session of %(username)s", username=row.entity_id)
    # A row keyed by a code (a readiness item) is named by the code's label.
    code_label = CODE_LABELS.get((row.entity, "key"), {}).get(row.entity_id)
    if code_label is not None:
        return f"{name} “{code_label}”"
    record_name = (record_names or {}).get(row.id)
    if record_name:
        return f"{name} “{record_name}”"
    return f"{name} #{row.entity_id}"


def entity_choices() -> list[tuple[str, str]]:
    """(entity, name) of every audited table and named subject, by name in the reader's language,
    for the audit page's filter."""
    entities = set(ENTITY_NAMES) | {mapper.local_table.name for mapper in db.Model.registry.mappers
                                    if getattr(mapper.class_, "__audit__", True)}
    return sorted(((entity, entity_name(entity)) for entity in entities), key=lambda choice: choice[1])


def field_label(entity: str | None, column: str) -> str:
    """The translated label of a column, or its humanised name when none is registered."""
    label = (TABLE_FIELD_LABELS.get((entity, column)) or model_field_labels().get(entity or "", {}).get(column)
             or FIELD_LABELS.get(column))
    return str(label) if label is not None else humanise(column)


#: The column that names a row of a referenced table, by preference (a notification or a support
#: request by its subject).
_NAME_COLUMNS = ("display_name", "name", "title", "subject")


@cache
def column_kinds() -> dict[str, dict[str, str]]:
    """{table: {column: kind}}: "datetime", "number" for decimals, or for a reference the referenced table
    whose rows have a name (users by display name, departments, lost reasons …), from the models' metadata."""
    kinds: dict[str, dict[str, str]] = {}
    for table in db.metadata.tables.values():
        for column in table.columns:
            targets = [fk.column.table for fk in column.foreign_keys if fk.column.name == "id"]
            if targets and _name_column(targets[0]) is not None:
                kinds.setdefault(table.name, {})[column.name] = targets[0].name
            elif not targets and isinstance(column.type, DateTime):
                kinds.setdefault(table.name, {})[column.name] = "datetime"
            elif not targets and isinstance(column.type, Numeric):
                kinds.setdefault(table.name, {})[column.name] = "number"
    return kinds


def _name_column(table):
    return next((table.columns[name] for name in _NAME_COLUMNS if name in table.columns), None)


def _record_id(row) -> int | None:
    """The id of the record an audit row is about, when its table names its rows (a name or title column)."""
    table = db.metadata.tables.get(row.entity or "")
    if table is None or _name_column(table) is None or not str(row.entity_id or "").isdigit():
        return None
    return int(row.entity_id)


def _ids_to_resolve(rows) -> dict[str, set[int]]:
    kinds = column_kinds()
    wanted: dict[str, set[int]] = {}
    for row in rows:
        record_id = _record_id(row)
        if record_id is not None:
            wanted.setdefault(row.entity, set()).add(record_id)
        table_kinds = kinds.get(row.entity or "", {})
        for column, pair in (row.changes or {}).items():
            kind = table_kinds.get(column)
            if kind is not None and kind not in ("datetime", "number"):
                wanted.setdefault(kind, set()).update(
                    v for v in pair if isinstance(v, int) and not isinstance(v, bool))
    return wanted


def _recorded_name(row) -> str | None:
    """The name a record had when this row was written (a deleted record is named by its last name)."""
    for column in _NAME_COLUMNS:
        pair = (row.changes or {}).get(column)
        values = pair if isinstance(pair, list) else [pair]
        name = next((value for value in reversed(values) if isinstance(value, str) and value.strip()), None)
        if name:
            return name
    return None


def resolve_names(ids_by_table: dict[str, set[int]]) -> dict[tuple[str, int], str]:
    """Names of referenced rows by (table, id), all tables in one query; none when nothing to look up."""
    selects = []
    for table_name, ids in ids_by_table.items():
        if not ids:
            continue
        table = db.metadata.tables[table_name]
        selects.append(select(literal_column(f"'{table_name}'", String).label("kind"), table.c.id.label("id"),
                              _name_column(table).label("name")).where(table.c.id.in_(ids)))
    if not selects:
        return {}
    return {(kind, id_): name for kind, id_, name in db.session.execute(union_all(*selects))}


def _shorten(text: str, max_length: int | None = MAX_VALUE_LENGTH) -> ShownValue:
    if max_length is None:  # a download keeps every value whole
        return ShownValue(text)
    flat = " ".join(text.split())
    if len(flat) <= max_length and flat == text:
        return ShownValue(text)
    if len(flat) <= max_length:
        return ShownValue(flat, text)
    return ShownValue(flat[:max_length - 1].rstrip() + "…", text)


def _local_time(value: str) -> str | None:
    try:
        return to_local(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return None


def _number(value) -> str | None:
    """A stored decimal with thousands separators, without the cents a whole figure does not have:
    "3.00" → "3", "12500.50" → "12,500.50"."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    return f"{number:,.0f}" if number == number.to_integral_value() else f"{number:,.2f}"


def _coded(value: str | list, codes: Mapping) -> str | None:
    """The label of a code, or of each code in a list (or comma-separated text) of them; None if any is unknown."""
    parts = value.split(",") if isinstance(value, str) else value
    if parts and all(isinstance(part, str) and part in codes for part in parts):
        separator = "、" if get_locale().language == "zh" else ", "
        return separator.join(str(codes[part]) for part in parts)
    return None


def show_value(value, kind: str | None, names: dict[tuple[str, int], str],
               codes: Mapping | None = None, max_length: int | None = MAX_VALUE_LENGTH) -> ShownValue:
    """A stored value as the reader should see it; ``codes`` labels the codes its column stores; values
    longer than ``max_length`` are shortened (None: never)."""
    if value is None or value == "" or value == [] or value == {}:
        return ShownValue(EMPTY)
    if codes and isinstance(value, (str, list)):
        label = _coded(value, codes)
        if label is not None:
            return ShownValue(label, value if isinstance(value, str) else ",".join(value))
    if isinstance(value, bool):
        return ShownValue(_("Yes") if value else _("No"))
    if value == REDACTED:
        return ShownValue(REDACTED, _("Secret values are never recorded."))
    if kind == "number" and isinstance(value, (str, int, float)):
        shown = _number(value)
        if shown is not None:
            return ShownValue(shown)
    if kind not in (None, "datetime", "number") and isinstance(value, int) and not isinstance(value, bool):
        name = names.get((kind, value))
        return ShownValue(name, f"#{value}") if name else ShownValue(f"#{value}")
    if kind == "datetime" and isinstance(value, str):
        local = _local_time(value)
        if local:
            return ShownValue(local)
    if isinstance(value, (list, dict)):
        return _shorten(json.dumps(value, ensure_ascii=False), max_length)
    return _shorten(str(value), max_length)


def describe_rows(rows, max_length: int | None = MAX_VALUE_LENGTH
                  ) -> tuple[dict[int, list[ChangeLine]], dict[int, str]]:
    """The Changes column of each audit row by row id, and the name of the record each row is about
    (its current name, or the one the row recorded), with every referenced name resolved in one query;
    ``max_length=None`` keeps long values whole (a download)."""
    names = resolve_names(_ids_to_resolve(rows))
    kinds = column_kinds()
    labels: dict[tuple, str] = {}
    result, record_names = {}, {}
    for row in rows:
        record_id = _record_id(row)
        record_name = names.get((row.entity, record_id)) if record_id is not None else None
        record_name = record_name or _recorded_name(row)
        if record_name:
            record_names[row.id] = " ".join(str(record_name).split())[:80]
        table_kinds = kinds.get(row.entity or "", {})
        lines = []
        for column, pair in (row.changes or {}).items():
            if column == "id" and row.action in ("create", "delete"):
                continue  # the entity column already shows the record's id
            key = (row.entity, column)
            if key not in labels:
                labels[key] = field_label(row.entity, column)
            old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
            kind, codes = table_kinds.get(column), CODE_LABELS.get(key)
            lines.append(ChangeLine(column, labels[key], show_value(old, kind, names, codes, max_length),
                                    show_value(new, kind, names, codes, max_length),
                                    figure=not isinstance(pair, list)))
        result[row.id] = lines
    return result, record_names


def describe_changes(rows, max_length: int | None = MAX_VALUE_LENGTH) -> dict[int, list[ChangeLine]]:
    """The Changes column of each audit row by row id (see ``describe_rows``)."""
    return describe_rows(rows, max_length)[0]


def actor_names(rows) -> dict[int, str]:
    """Display names of the users who made these audit rows by user id, in one query (a record's
    history names people as the rest of the page does, not by login name)."""
    user_ids = {row.user_id for row in rows if row.user_id}
    return {id_: name for (_kind, id_), name in resolve_names({User.__tablename__: user_ids}).items()}
