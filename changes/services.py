"""Change requests: the transition table, risk rules, review windows, freezes and releases.

Every state change goes through ``transition`` (one table, ``TRANSITIONS``).
Higher-level steps (submit, decide, schedule, implement a release) check
every precondition before they change anything, so a refused step leaves
nothing behind; services flush, the request's single commit point commits.
"""
from __future__ import annotations

import os
import re
import secrets
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, time, timedelta
from functools import partial

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased, selectinload

from rollout import uploads
from rollout.accounts.models import ADMIN, LEAD, ROLES, TRAINER, Department, User
from rollout.accounts.services import users_with_roles
from rollout.audit.services import record_event
from rollout.database import MAX_ID, contains_text
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.i18n import language_of
from rollout.timeutil import local_to_utc, local_today, to_local, utcnow

from processmaps.models import Process, ProcessNode
from processmaps.services import approved_version
from surveys.models import Requirement

from changes import signals
from changes.labels import KIND_LABELS, RISK_LABELS, STATE_LABELS, WEEKDAY_LABELS, risk_reason_text
from changes.models import (IMPACTS, change_request_nodes, KINDS, RISK_LEVELS, URGENCIES, ChangeAttachment, ChangeRequest,
                            ChangeTransition, FreezePeriod, Release, ReviewCadence, ReviewWindow)

# --- the transition table ----------------------------------------------------------
#: Pseudo-roles in the table besides the system roles.
REQUESTER = "requester"
SYSTEM = "system"
REVIEWERS = frozenset({ADMIN, LEAD})


@dataclass(frozen=True)
class Move:
    """Who may make one move, for which kinds of request, and whether a comment is required."""
    roles: frozenset
    kinds: frozenset = frozenset(KINDS)
    needs_comment: bool = False


_ANYONE_INVOLVED = frozenset({REQUESTER, ADMIN, LEAD})
#: States from which a request may still be cancelled (everything before implementing).
CANCELLABLE = ("draft", "submitted", "assessed", "awaiting_window", "approved", "deferred", "scheduled")

TRANSITIONS: dict[tuple[str, str], Move] = {
    ("draft", "submitted"): Move(_ANYONE_INVOLVED),
    ("submitted", "assessed"): Move(REVIEWERS, kinds=frozenset({"normal"})),
    ("assessed", "awaiting_window"): Move(REVIEWERS | {SYSTEM}, kinds=frozenset({"normal"})),
    # Window decisions (normal changes); a deferred request is decided again at its next window.
    ("awaiting_window", "approved"): Move(REVIEWERS, kinds=frozenset({"normal"}), needs_comment=True),
    ("awaiting_window", "rejected"): Move(REVIEWERS, kinds=frozenset({"normal"}), needs_comment=True),
    ("awaiting_window", "deferred"): Move(REVIEWERS, kinds=frozenset({"normal"}), needs_comment=True),
    ("deferred", "approved"): Move(REVIEWERS, kinds=frozenset({"normal"}), needs_comment=True),
    ("deferred", "rejected"): Move(REVIEWERS, kinds=frozenset({"normal"}), needs_comment=True),
    ("deferred", "deferred"): Move(REVIEWERS, kinds=frozenset({"normal"}), needs_comment=True),
    # Standard changes are pre-approved; emergencies are decided at once by a lead or admin.
    ("submitted", "approved"): Move(REVIEWERS | {SYSTEM}, kinds=frozenset({"standard", "emergency"})),
    ("submitted", "rejected"): Move(REVIEWERS, kinds=frozenset({"emergency"}), needs_comment=True),
    ("approved", "scheduled"): Move(REVIEWERS),
    ("approved", "implementing"): Move(REVIEWERS, kinds=frozenset({"emergency"})),
    ("scheduled", "implementing"): Move(REVIEWERS | {SYSTEM}),
    ("implementing", "implemented"): Move(REVIEWERS | {SYSTEM}),
    ("implemented", "reviewed"): Move(REVIEWERS, needs_comment=True),
    ("reviewed", "closed"): Move(REVIEWERS | {REQUESTER}),
    **{(state, "cancelled"): Move(_ANYONE_INVOLVED) for state in CANCELLABLE},
}
#: States in which a normal request waits on a window's agenda.
PENDING_DECISION = ("submitted", "assessed", "awaiting_window", "deferred")
DECISIONS = ("approved", "rejected", "deferred")
OPEN_STATES = ("draft", "submitted", "assessed", "awaiting_window", "approved", "deferred", "scheduled",
               "implementing")


def _label(state: str) -> str:
    return str(STATE_LABELS.get(state, state))


def roles_for(request: ChangeRequest, actor: User | None, system: bool = False) -> set[str]:
    """The table roles ``actor`` holds for ``request`` (their system roles, requester, system)."""
    if system:
        return {SYSTEM}
    if actor is None:
        return set()
    roles = set(actor.roles)
    if request.requester_id == actor.id:
        roles.add(REQUESTER)
    return roles


def check_move(request: ChangeRequest, from_state: str, to_state: str, roles: set[str], comment: str = "") -> Move:
    """Return the table entry for a move, or raise NotAllowed saying why it is refused."""
    move = TRANSITIONS.get((from_state, to_state))
    if move is None:
        raise NotAllowed(_("A request that is “%(from)s” cannot become “%(to)s”.",
                           **{"from": _label(from_state), "to": _label(to_state)}))
    if request.kind not in move.kinds:
        raise NotAllowed(_("A %(kind)s change cannot go from “%(from)s” to “%(to)s”.",
                           kind=str(KIND_LABELS[request.kind]).lower(), **{"from": _label(from_state),
                                                                          "to": _label(to_state)}))
    if not roles & move.roles:
        raise NotAllowed(_("You may not move this request from “%(from)s” to “%(to)s”.",
                           **{"from": _label(from_state), "to": _label(to_state)}))
    if move.needs_comment and not (comment or "").strip():
        raise ServiceError(_("Give a reason for this step."), "comment")
    return move


def allowed_moves(request: ChangeRequest, actor: User) -> list[str]:
    """Target states ``actor`` may move ``request`` to now (for the buttons on its page)."""
    roles = roles_for(request, actor)
    return [to for (frm, to), move in TRANSITIONS.items()
            if frm == request.state and request.kind in move.kinds and roles & move.roles]


def transition(request: ChangeRequest, to_state: str, actor: User | None, comment: str = "", *,
               system: bool = False, window: ReviewWindow | None = None) -> ChangeTransition:
    """Apply one move from the table, recording who, when and why; refuse anything else."""
    from_state = request.state
    check_move(request, from_state, to_state, roles_for(request, actor, system), comment)
    now = utcnow()
    request.state = to_state
    if to_state == "submitted":
        request.submitted_at = now
    elif to_state in ("approved", "rejected"):
        request.decided_at = now
    elif to_state == "implemented":
        request.implemented_at = now
    row = ChangeTransition(request=request, from_state=from_state, to_state=to_state,
                           actor_id=None if system or actor is None else actor.id,
                           comment=(comment or "").strip(), window=window, created_at=now)
    db.session.add(row)
    db.session.flush()
    return row


# --- creating and editing ------------------------------------------------------------
def _clean_text(value, field: str, required: bool, max_length: int | None = None) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ServiceError(_("This field is required."), field)
    if max_length and len(text) > max_length:
        raise ServiceError(_("At most %(n)d characters.", n=max_length), field)
    return text


def _departments(ids) -> list[Department]:
    ids = sorted({int(i) for i in ids or ()})
    if not ids:
        return []
    found = db.session.scalars(select(Department).where(Department.id.in_(ids))).all()
    if len(found) != len(ids):
        raise ServiceError(_("An affected department does not exist."), "affected_department_ids")
    return list(found)


def _check_wanted_on(wanted_on: date | None, field: str | None) -> None:
    """A wanted go-live date is today or later (a past one says nothing about notice or freezes)."""
    if wanted_on is not None and wanted_on < local_today():
        raise ServiceError(_("The wanted date %(date)s has passed; choose today or a later day.",
                             date=wanted_on.isoformat()), field)


def _apply_fields(request: ChangeRequest, *, title, description, reason, kind, urgency, impact, wanted_on,
                  affected_roles, affected_department_ids, has_permission_change, has_data_field_change,
                  node_ids, requirement_ids) -> None:
    title = _clean_text(title, "title", True, 200)
    description = _clean_text(description, "description", True)
    reason = _clean_text(reason, "reason", True)
    if kind not in KINDS:
        raise ServiceError(_("Choose a valid type."), "kind")
    if urgency not in URGENCIES:
        raise ServiceError(_("Choose a valid urgency."), "urgency")
    if impact not in IMPACTS:
        raise ServiceError(_("Choose a valid impact."), "impact")
    roles = sorted(set(affected_roles or ()))
    if set(roles) - set(ROLES):
        raise ServiceError(_("Choose valid roles."), "affected_roles")
    _check_wanted_on(wanted_on, "wanted_on")
    departments = _departments(affected_department_ids)
    links = _link_objects(node_ids, requirement_ids)
    request.title, request.description, request.reason = title, description, reason
    request.kind, request.urgency, request.impact = kind, urgency, impact
    request.wanted_on = wanted_on
    request.affected_roles = roles
    request.has_permission_change = bool(has_permission_change)
    request.has_data_field_change = bool(has_data_field_change)
    request.affected_departments = departments
    _set_links(request, links)


def create_change_request(requester: User, title: str, description: str, reason: str, kind: str = "normal", *,
                          urgency: str = "medium", impact: str = "medium", wanted_on: date | None = None,
                          affected_roles=(), affected_department_ids=(), has_permission_change: bool = False,
                          has_data_field_change: bool = False, node_ids=(), requirement_ids=()) -> ChangeRequest:
    """Create a draft change request after validating it; flushes and returns it."""
    request = ChangeRequest(requester=requester, department_id=requester.department_id, state="draft")
    _apply_fields(request, title=title, description=description, reason=reason, kind=kind, urgency=urgency,
                  impact=impact, wanted_on=wanted_on, affected_roles=affected_roles,
                  affected_department_ids=affected_department_ids, has_permission_change=has_permission_change,
                  has_data_field_change=has_data_field_change, node_ids=node_ids, requirement_ids=requirement_ids)
    db.session.add(request)
    refresh_risk(request)
    db.session.flush()
    return request


def update_change_request(request: ChangeRequest, **fields) -> ChangeRequest:
    """Change a draft's fields (same arguments as create_change_request, all required)."""
    if request.state != "draft":
        raise ServiceError(_("Only a draft can be edited; this request is “%(state)s”.",
                             state=_label(request.state)))
    _apply_fields(request, **fields)
    refresh_risk(request)
    db.session.flush()
    return request


# --- links to process nodes and requirements --------------------------------------------
def _link_objects(node_ids, requirement_ids) -> tuple[list, list]:
    node_ids = sorted({int(i) for i in node_ids or ()})
    requirement_ids = sorted({int(i) for i in requirement_ids or ()})
    nodes = list(db.session.scalars(select(ProcessNode).where(
        ProcessNode.id.in_([i for i in node_ids if 0 < i <= MAX_ID])))) if node_ids else []
    if len(nodes) != len(node_ids):
        raise ServiceError(_("A process node does not exist."), "node_ids")
    requirements = list(db.session.scalars(select(Requirement).where(
        Requirement.id.in_([i for i in requirement_ids if 0 < i <= MAX_ID])))) if requirement_ids else []
    if len(requirements) != len(requirement_ids):
        raise ServiceError(_("A requirement does not exist."), "requirement_ids")
    return nodes, requirements


def _set_links(request: ChangeRequest, links: tuple[list, list]) -> None:
    request.nodes, request.requirements = links


def linked_processes(request: ChangeRequest) -> list[Process]:
    """The processes whose steps the request touches."""
    processes = {}
    for node in request.nodes:
        process = node.version.process
        processes[process.id] = process
    return list(processes.values())


def requirement_choices() -> list[tuple[int, str]]:
    """Open and accepted requirements (not merged or rejected) as (id, title)."""
    rows = db.session.execute(select(Requirement.id, Requirement.title)
                              .where(Requirement.status.not_in(("merged", "rejected")))
                              .order_by(Requirement.id.desc())).all()
    return [(row[0], f"#{row[0]} {row[1]}") for row in rows]


def requests_touching_node(node: ProcessNode) -> list[ChangeRequest]:
    """Requests linked to this step in any version of its process (steps keep their key)."""
    from processmaps.services import node_lineage_ids
    linked = select(change_request_nodes.c.change_request_id).where(
        change_request_nodes.c.node_id.in_(node_lineage_ids(node)))
    return list(db.session.scalars(select(ChangeRequest).where(ChangeRequest.id.in_(linked))
                                   .order_by(ChangeRequest.id.desc())))


# --- risk -----------------------------------------------------------------------------
def _risk_settings() -> tuple[int, int]:
    config = current_app.config
    return int(config.get("CHANGE_RISK_MAX_ROLES", 2)), int(config.get("CHANGE_RISK_MIN_NOTICE_DAYS", 7))


def freezes_covering(day: date) -> list[FreezePeriod]:
    """Freeze periods that include ``day``."""
    return list(db.session.scalars(select(FreezePeriod).where(
        FreezePeriod.starts_on <= day, FreezePeriod.ends_on >= day).order_by(FreezePeriod.starts_on)))


def compute_risk(request: ChangeRequest) -> tuple[str, list[dict]]:
    """The risk level from the rules, and each rule that fired with its detail and weight."""
    max_roles, min_notice = _risk_settings()
    reasons = []
    approved = [p for p in linked_processes(request) if approved_version(p) is not None]
    if approved:
        reasons.append({"rule": "approved_process", "detail": "、".join(p.name for p in approved),
                        "points": 2})
    if len(request.affected_roles or []) > max_roles:
        reasons.append({"rule": "many_roles", "detail": len(request.affected_roles), "limit": max_roles,
                        "points": 1})
    if request.has_permission_change:
        reasons.append({"rule": "permissions", "points": 2})
    if request.has_data_field_change:
        reasons.append({"rule": "data_fields", "points": 1})
    if request.wanted_on is not None:
        submitted_on = to_local(request.submitted_at).date() if request.submitted_at else local_today()
        notice = (request.wanted_on - submitted_on).days
        if notice < min_notice:
            reasons.append({"rule": "short_notice", "detail": max(notice, 0), "limit": min_notice, "points": 1})
        freezes = freezes_covering(request.wanted_on)
        if freezes:
            reasons.append({"rule": "freeze", "detail": "、".join(f.title for f in freezes), "points": 2})
    score = sum(reason["points"] for reason in reasons)
    level = "low" if score == 0 else "medium" if score <= 2 else "high" if score <= 4 else "critical"
    return level, reasons


def refresh_risk(request: ChangeRequest) -> None:
    """Recompute the rule-based risk; a reviewer's raise still holds if it is higher."""
    level, reasons = compute_risk(request)
    request.risk_level, request.risk_reasons = level, reasons
    raised = RISK_LEVELS.index(request.risk_raised_level) if request.risk_raised_level else 0
    request.risk_rank = max(RISK_LEVELS.index(level), raised)


def risk_reasons_text(request: ChangeRequest) -> list[str]:
    return [risk_reason_text(reason) for reason in request.risk_reasons or []]


def raise_risk(request: ChangeRequest, level: str, reason: str, actor: User) -> None:
    """A reviewer raises the risk with a reason; a lower or equal level is refused, never applied."""
    if not REVIEWERS & set(actor.roles):
        raise NotAllowed(_("Only reviewers may change the risk."))
    if level not in RISK_LEVELS:
        raise ServiceError(_("Choose a valid risk level."), "risk_level")
    if RISK_LEVELS.index(level) <= request.risk_rank:
        raise ServiceError(_("Risk can only be raised: it is already %(level)s.",
                             level=str(RISK_LABELS[request.effective_risk]).lower()), "risk_level")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Say why the risk is higher."), "risk_reason")
    request.risk_raised_level = level
    request.risk_raise_reason = reason
    request.risk_rank = RISK_LEVELS.index(level)
    db.session.flush()


# --- the main steps -------------------------------------------------------------------
def submit(request: ChangeRequest, actor: User, comment: str = "") -> ChangeRequest:
    """Submit a draft: a normal one goes on the next window whose cutoff has not passed;
    a standard one is approved at once; an emergency goes to the leads for an immediate decision."""
    check_move(request, request.state, "submitted", roles_for(request, actor), comment)
    _check_wanted_on(request.wanted_on, None)
    if request.kind == "standard":
        # Validate the whole chain before the first step, so nothing is half-applied.
        check_move(request, "submitted", "approved", {SYSTEM})
        _check_standard(request)
    now = utcnow()
    window = window_for_submission(now) if request.kind == "normal" else None
    transition(request, "submitted", actor, comment)
    request.window = window
    refresh_risk(request)
    if request.kind == "standard":
        # No stored text: the page explains a standard approval in the reader's language.
        transition(request, "approved", None, system=True)
        _notify_decision(request, "approved")
    elif request.kind == "emergency":
        _notify_emergency(request)
    else:
        _notify_submitted(request, actor)
    db.session.flush()
    return request


def _check_standard(request: ChangeRequest) -> None:
    """A standard change is approved without review, so only a routine one may be standard (as ITIL's
    pre-authorised changes): no permission change, and low risk by the rules."""
    if request.has_permission_change:
        raise ServiceError(_("A standard change is approved without review, so it cannot change permissions. "
                             "Submit it as a normal change."), "kind")
    level, _reasons = compute_risk(request)
    if level != "low":
        from changes.labels import RISK_LABELS
        raise ServiceError(_("A standard change is approved without review, so it must be low risk; this one is "
                             "%(risk)s. Submit it as a normal change.", risk=RISK_LABELS[level]), "kind")


def assess(request: ChangeRequest, actor: User, comment: str = "", raise_to: str | None = None,
           raise_reason: str = "") -> ChangeRequest:
    """A reviewer assesses a submitted normal request (optionally raising its risk) and puts it
    on its window's agenda."""
    check_move(request, request.state, "assessed", roles_for(request, actor), comment)
    if raise_to and raise_to != request.effective_risk:
        raise_risk(request, raise_to, raise_reason, actor)
    transition(request, "assessed", actor, comment)
    if request.window is None or request.window.is_closed:
        request.window = window_for_submission(request.submitted_at or utcnow()) or window_for_submission(utcnow())
    if request.window is not None:
        transition(request, "awaiting_window", None, system=True, window=request.window)
    if request.requester_id != actor.id:
        from rollout.notify.services import notify
        body = (_l("%(actor)s assessed it; it is on the agenda of %(window)s.", actor=actor.display_name,
                   window=window_name(request.window)) if request.window is not None
                else _l("%(actor)s assessed it; it waits for the next review window.", actor=actor.display_name))
        notify([request.requester], "changes.assessed",
               _l("%(ref)s %(title)s: assessed", ref=request.reference, title=request.title), body,
               link=_url("changes.detail", request_id=request.id))
    return request


def decide(request: ChangeRequest, outcome: str, reason: str, actor: User,
           window: ReviewWindow | None = None) -> ChangeRequest:
    """Approve, reject or defer a request. Normal requests are decided on their window's agenda;
    a deferred one moves to the next window, keeping its history. The requester is told."""
    if outcome not in DECISIONS:
        raise ServiceError(_("Choose approve, reject or defer."), "outcome")
    check_move(request, request.state, outcome, roles_for(request, actor), reason)
    next_window = None
    if request.kind == "normal":
        window = window or request.window
        if window is None or request.window_id != window.id:
            raise ServiceError(_("%(ref)s is not on the agenda of this window.", ref=request.reference))
        if window.is_closed:
            raise ServiceError(_("%(window)s is closed.", window=window_name(window)))
        if outcome == "deferred":
            next_window = next_window_after(window)
            if next_window is None:
                raise ServiceError(_("There is no review window after %(window)s to defer to: extend the "
                                     "cadence first.", window=window_name(window)))
    transition(request, outcome, actor, reason, window=window)
    request.decision_reason = reason.strip()
    if outcome == "deferred":
        request.deferral_count += 1
        request.window = next_window
    elif request.kind == "emergency":
        # Decided at once; the next window reviews the decision again.
        request.window = window_for_submission(utcnow())
    _notify_decision(request, outcome)
    signals.change_decided.send(request, outcome=outcome, reason=request.decision_reason)
    db.session.flush()
    return request


def post_review(request: ChangeRequest, window: ReviewWindow, comment: str, actor: User) -> None:
    """The window after an emergency decision reviews it again and records what it found."""
    if not REVIEWERS & set(actor.roles):
        raise NotAllowed(_("Only reviewers may review an emergency decision."))
    if request.kind != "emergency" or request.decided_at is None:
        raise ServiceError(_("Only decided emergency changes are reviewed again."))
    if request.post_reviewed_at is not None:
        raise ServiceError(_("This emergency decision was already reviewed."))
    if window.is_closed or request.window_id != window.id:
        raise ServiceError(_("%(ref)s is not on the agenda of this window.", ref=request.reference))
    comment = (comment or "").strip()
    if not comment:
        raise ServiceError(_("Give a reason for this step."), "comment")
    request.post_reviewed_at = utcnow()
    request.post_review_comment = comment
    record_event("post_review", entity="change_requests", entity_id=request.id, detail=comment[:1000])
    db.session.flush()


def schedule(request: ChangeRequest, release: Release, actor: User, comment: str = "") -> ChangeRequest:
    """Put an approved request into a planned release (never a normal one into a freeze)."""
    check_move(request, request.state, "scheduled", roles_for(request, actor), comment)
    if release is None:
        raise ServiceError(_("Choose a release."), "release_id")
    if release.is_implemented:
        raise ServiceError(_("%(release)s is already implemented.", release=release.name), "release_id")
    freezes = freezes_covering(release.planned_on)
    if freezes and request.kind != "emergency":
        raise ServiceError(_("%(release)s falls in the freeze %(freezes)s: only emergency changes may be "
                             "scheduled then.", release=release.name,
                             freezes="、".join(f.title for f in freezes)), "release_id")
    transition(request, "scheduled", actor, comment)
    request.release = release
    release.sequence += 1
    db.session.flush()
    if request.requester_id != actor.id:
        from rollout.notify.services import notify
        notify([request.requester], "changes.scheduled",
               _l("%(ref)s is scheduled into %(release)s", ref=request.reference, release=release.name),
               _l("The release is planned for %(date)s.", date=release.planned_on.isoformat()),
               link=_url("changes.detail", request_id=request.id))
    return request


def cancel(request: ChangeRequest, actor: User, comment: str = "") -> ChangeRequest:
    """Cancel a request that has not started implementing; it leaves its window and release."""
    transition(request, "cancelled", actor, comment)
    request.release = None
    db.session.flush()
    return request


def move(request: ChangeRequest, to_state: str, actor: User, comment: str = "", release: Release | None = None,
         window: ReviewWindow | None = None) -> ChangeRequest:
    """The one entry point for the buttons on a request: route each move to its step."""
    if to_state == "submitted":
        return submit(request, actor, comment)
    if to_state == "assessed":
        return assess(request, actor, comment)
    if to_state in DECISIONS:
        return decide(request, to_state, comment, actor, window)
    if to_state == "scheduled":
        return schedule(request, release, actor, comment)
    if to_state == "cancelled":
        return cancel(request, actor, comment)
    if to_state == "implemented":
        return implement_request(request, actor, comment)
    transition(request, to_state, actor, comment)
    return request


def implement_request(request: ChangeRequest, actor: User, comment: str = "") -> ChangeRequest:
    """Mark one request implemented.  In a release, the release's implementation tells everyone; alone
    (an emergency fixed at once) it does the same itself: drafts of the processes it touches, an
    announcement to the roles it affects, and word to its requester."""
    transition(request, "implemented", actor, comment)
    if request.release is not None:
        return request
    with force_locale(language_of(None)):  # stored text, read by everyone
        summary = _("Changes from %(ref)s %(title)s.", ref=request.reference, title=request.title)
    processes = linked_processes(request)
    _new_process_versions(processes, summary, actor)
    roles = list(request.affected_roles or [])
    department_ids = sorted(d.id for d in request.affected_departments)
    _announce(_l("%(ref)s %(title)s is live", ref=request.reference, title=request.title),
              partial(_request_announcement, request), roles, department_ids,
              _url("changes.detail", request_id=request.id), also=[request.requester], actor=actor)
    db.session.flush()
    # As for a release: subscribers (training drafts a short session for the affected roles) act on it.
    signals.change_implemented.send(request, affected_roles=roles, affected_department_ids=department_ids,
                                    processes=processes)
    return request


def _request_announcement(request: ChangeRequest) -> str:
    """A lone change's announcement in the reader's language: what changed, for whom."""
    departments = "、".join(d.name for d in request.affected_departments) or _("All departments")
    lines = [_("Live since %(date)s.", date=local_today().isoformat()), "",
             f"**{request.reference} {request.title}** — {departments}"]
    if request.description:
        lines.append(request.description.splitlines()[0][:300])
    return "\n".join(lines)


# --- review windows -------------------------------------------------------------------
WINDOW_HORIZON_WEEKS = 8


def window_name(window: ReviewWindow) -> str:
    return f"{window.title} {to_local(window.starts_at):%Y-%m-%d %H:%M}"


def cadence_dates(cadence: ReviewCadence, until: date) -> list[date]:
    """The dates a cadence yields from its first day up to ``until`` (and its own end)."""
    first = cadence.starts_on + timedelta(days=(cadence.weekday - cadence.starts_on.weekday()) % 7)
    last = min(until, cadence.ends_on) if cadence.ends_on else until
    dates, day = [], first
    while day <= last:
        dates.append(day)
        day += timedelta(weeks=cadence.every_n_weeks)
    return dates


def describe_cadence(cadence: ReviewCadence) -> str:
    weekday = str(WEEKDAY_LABELS[cadence.weekday])
    if cadence.every_n_weeks == 1:
        return _("Every %(weekday)s at %(time)s", weekday=weekday, time=cadence.start_time.strftime("%H:%M"))
    return _("Every %(n)d weeks on %(weekday)s at %(time)s", n=cadence.every_n_weeks, weekday=weekday,
             time=cadence.start_time.strftime("%H:%M"))


@dataclass
class WindowChanges:
    """What creating, changing or switching a cadence did to its coming windows."""
    created: list = dataclass_field(default_factory=list)
    #: Coming windows moved to a new date or time (their calendar entries update).
    moved: list = dataclass_field(default_factory=list)
    #: Names of coming windows removed because the cadence no longer yields them.
    removed: list = dataclass_field(default_factory=list)
    #: Names of coming windows kept although surplus, because decisions were already taken in them.
    kept: list = dataclass_field(default_factory=list)
    #: Requests (and emergency reviews) that moved from a removed window to another one.
    requests_moved: int = 0


def _checked_cadence(name: str, weekday: int, every_n_weeks: int, starts_on: date, start_time: time,
                     duration_minutes: int, cutoff_hours: int, ends_on: date | None) -> ReviewCadence:
    """An unsaved cadence with the given rule, or ServiceError naming the field that is wrong."""
    name = _clean_text(name, "name", True, 100)
    if weekday not in range(7):
        raise ServiceError(_("Choose a weekday."), "weekday")
    if not 1 <= (every_n_weeks or 0) <= 12:
        raise ServiceError(_("Between 1 and 12 weeks."), "every_n_weeks")
    if starts_on is None:
        raise ServiceError(_("This field is required."), "starts_on")
    if start_time is None:
        raise ServiceError(_("This field is required."), "start_time")
    if not 15 <= (duration_minutes or 0) <= 480:
        raise ServiceError(_("Between 15 and 480 minutes."), "duration_minutes")
    if not 0 <= (cutoff_hours if cutoff_hours is not None else -1) <= 336:
        raise ServiceError(_("Between 0 and 336 hours."), "cutoff_hours")
    if ends_on is not None and ends_on < starts_on:
        raise ServiceError(_("The end is before the start."), "ends_on")
    candidate = ReviewCadence(name=name, weekday=weekday, every_n_weeks=every_n_weeks, starts_on=starts_on,
                              ends_on=ends_on, start_time=start_time, duration_minutes=duration_minutes,
                              cutoff_hours=cutoff_hours)
    if ends_on is not None and not cadence_dates(candidate, ends_on):
        raise ServiceError(_("“%(name)s” (%(rule)s) yields no date between %(start)s and %(end)s.",
                             name=name, rule=describe_cadence(candidate), start=starts_on.isoformat(),
                             end=ends_on.isoformat()), "weekday")
    return candidate


CADENCE_FIELDS = ("name", "weekday", "every_n_weeks", "starts_on", "ends_on", "start_time", "duration_minutes",
                  "cutoff_hours")


def save_cadence(name: str, weekday: int, every_n_weeks: int, starts_on: date, start_time: time,
                 duration_minutes: int = 60, cutoff_hours: int = 24, ends_on: date | None = None,
                 cadence: ReviewCadence | None = None) -> tuple[ReviewCadence, list[ReviewWindow]]:
    """Create (or change) a cadence and its coming windows; refuse one that yields no date or
    whose windows would clash with existing ones, naming them."""
    candidate = _checked_cadence(name, weekday, every_n_weeks, starts_on, start_time, duration_minutes,
                                 cutoff_hours, ends_on)
    if cadence is not None:
        changes = update_cadence(cadence, **{field: getattr(candidate, field) for field in CADENCE_FIELDS})
        return cadence, changes.created
    db.session.add(candidate)
    db.session.flush()
    return candidate, generate_windows(candidate)


def update_cadence(cadence: ReviewCadence, **fields) -> WindowChanges:
    """Change a cadence's rule and fit its coming windows to it: windows on a date the rule still
    yields stay, the others move to the new dates (calendars update), surplus ones are removed and
    their requests move to the next window. Windows already started or closed are never touched."""
    candidate = _checked_cadence(**{field: fields.get(field, getattr(cadence, field)) for field in CADENCE_FIELDS})
    if cadence.is_active:
        # Check the new rule's dates before changing anything, so a refusal leaves everything as it was.
        _refuse_clashes(cadence.id, _planned_slots(candidate))
    for field in CADENCE_FIELDS:
        setattr(cadence, field, getattr(candidate, field))
    db.session.flush()
    if not cadence.is_active:
        return WindowChanges()
    return _fit_coming_windows(cadence)


def set_cadence_active(cadence: ReviewCadence, active: bool) -> WindowChanges:
    """Switch a cadence on (its coming windows are generated) or off (it generates none, and its
    coming windows are removed; their requests move to the next window of another cadence)."""
    if cadence.is_active == active:
        return WindowChanges()
    if active:
        _refuse_clashes(cadence.id, _planned_slots(cadence))
    cadence.is_active = active
    db.session.flush()
    if active:
        return WindowChanges(created=generate_windows(cadence))
    changes = WindowChanges()
    _retire_windows(_coming_windows(cadence), changes)
    return changes


def _coming_windows(cadence: ReviewCadence) -> list[ReviewWindow]:
    """The cadence's windows that have neither started nor been closed, soonest first."""
    return list(db.session.scalars(select(ReviewWindow).where(
        ReviewWindow.cadence_id == cadence.id, ReviewWindow.closed_at.is_(None), ReviewWindow.starts_at > utcnow())
        .order_by(ReviewWindow.starts_at)))


def _set_window_times(window: ReviewWindow, slot: tuple[datetime, datetime, datetime], title: str) -> None:
    start, end, cutoff = slot
    if (window.starts_at, window.ends_at, window.cutoff_at, window.title) == (start, end, cutoff, title):
        return
    if window.starts_at != start:
        # Reviewers were sent the old time: the agenda goes out again before the new one.
        window.agenda_sent_at = None
    window.starts_at, window.ends_at, window.cutoff_at, window.title = start, end, cutoff, title
    # Calendars replace an event only when its SEQUENCE goes up.
    window.sequence += 1


def _fit_coming_windows(cadence: ReviewCadence) -> WindowChanges:
    now = utcnow()
    planned = [slot for slot in _planned_slots(cadence) if slot[0] > now]
    coming = _coming_windows(cadence)
    slot_at = {slot[0]: slot for slot in planned}
    taken = set(db.session.scalars(select(ReviewWindow.starts_at).where(ReviewWindow.cadence_id == cadence.id)))
    free_slots = [slot for slot in planned if slot[0] not in taken]
    unmatched = [window for window in coming if window.starts_at not in slot_at]
    changes = WindowChanges()
    for window in coming:
        if window.starts_at in slot_at:
            _set_window_times(window, slot_at[window.starts_at], cadence.name)
    for window, slot in zip(unmatched, free_slots):
        _set_window_times(window, slot, cadence.name)
        changes.moved.append(window)
    db.session.flush()
    _retire_windows(unmatched[len(free_slots):], changes)
    changes.created = generate_windows(cadence)
    return changes


def _retire_windows(windows: list[ReviewWindow], changes: WindowChanges) -> None:
    """Remove coming windows; the requests on them move to the first open window whose cutoff is
    still ahead (or wait for the next window generated). A window in which decisions were already
    taken is kept: its decisions belong to its minutes."""
    if not windows:
        return
    ids = [window.id for window in windows]
    decided = set(db.session.scalars(select(ChangeTransition.window_id).where(
        ChangeTransition.window_id.in_(ids), ChangeTransition.to_state.in_(DECISIONS))))
    retired = [window for window in windows if window.id not in decided]
    changes.kept.extend(window_name(window) for window in windows if window.id in decided)
    if not retired:
        return
    retired_ids = [window.id for window in retired]
    moving = list(db.session.scalars(select(ChangeRequest).where(ChangeRequest.window_id.in_(retired_ids))))
    placements = db.session.scalars(select(ChangeTransition).where(ChangeTransition.window_id.in_(retired_ids)))
    for item in [*moving, *placements]:
        item.window = None
    for window in retired:
        changes.removed.append(window_name(window))
        db.session.delete(window)
    db.session.flush()
    following = _first_open_window(ReviewWindow.cutoff_at >= utcnow())
    for request in moving:
        request.window = following
    changes.requests_moved += len(moving)
    db.session.flush()


def _window_times(cadence: ReviewCadence, day: date) -> tuple[datetime, datetime, datetime]:
    starts_at = local_to_utc(datetime.combine(day, cadence.start_time))
    return (starts_at, starts_at + timedelta(minutes=cadence.duration_minutes),
            starts_at - timedelta(hours=cadence.cutoff_hours))


def _planned_slots(cadence: ReviewCadence, until: date | None = None) -> list[tuple[datetime, datetime, datetime]]:
    """(start, end, cutoff) of each window the cadence yields up to the horizon that has not ended yet
    (a meeting earlier today is not created after the fact)."""
    today, now = local_today(), utcnow()
    until = until or max(today, cadence.starts_on) + timedelta(weeks=WINDOW_HORIZON_WEEKS)
    slots = [_window_times(cadence, day) for day in cadence_dates(cadence, until) if day >= today]
    return [slot for slot in slots if slot[1] > now]


def _refuse_clashes(cadence_id: int | None, planned: list) -> None:
    """Refuse planned slots that overlap another cadence's (or a one-off) window, naming those windows."""
    if not planned:
        return
    others = db.session.scalars(select(ReviewWindow).where(
        ReviewWindow.starts_at < planned[-1][1], ReviewWindow.ends_at > planned[0][0],
        or_(ReviewWindow.cadence_id.is_(None), ReviewWindow.cadence_id != cadence_id))).all()
    clashes = [w for w in others for start, end, _cut in planned if w.starts_at < end and w.ends_at > start]
    if clashes:
        raise ServiceError(_("The cadence's windows would overlap %(windows)s.",
                             windows="、".join(sorted({window_name(w) for w in clashes}))), "start_time")


def generate_windows(cadence: ReviewCadence, until: date | None = None) -> list[ReviewWindow]:
    """Create the cadence's missing windows from today up to the horizon; refuse clashes by name.
    A cadence that is switched off generates none."""
    if not cadence.is_active:
        return []
    planned = _planned_slots(cadence, until)
    if not planned:
        return []
    _refuse_clashes(cadence.id, planned)
    own = set(db.session.scalars(select(ReviewWindow.starts_at).where(
        ReviewWindow.cadence_id == cadence.id, ReviewWindow.starts_at >= planned[0][0],
        ReviewWindow.starts_at <= planned[-1][0])))
    created = []
    for start, end, cutoff in planned:
        if start in own:
            continue
        window = ReviewWindow(cadence=cadence, title=cadence.name, starts_at=start, ends_at=end, cutoff_at=cutoff)
        db.session.add(window)
        created.append(window)
    db.session.flush()
    if created:
        place_unplaced_requests()
    return created


def cadences_overview() -> list[tuple[ReviewCadence, datetime | None]]:
    """Every cadence (active ones first) with the start of its next window that has not begun."""
    next_starts = dict(db.session.execute(
        select(ReviewWindow.cadence_id, func.min(ReviewWindow.starts_at)).where(
            ReviewWindow.cadence_id.is_not(None), ReviewWindow.closed_at.is_(None),
            ReviewWindow.starts_at > utcnow()).group_by(ReviewWindow.cadence_id)).all())
    cadences = db.session.scalars(select(ReviewCadence).order_by(
        ReviewCadence.is_active.desc(), ReviewCadence.name, ReviewCadence.id)).all()
    return [(cadence, next_starts.get(cadence.id)) for cadence in cadences]


def extend_all_cadences() -> list[ReviewWindow]:
    """Generate the coming windows of every active cadence (a daily job does this too)."""
    created = []
    for cadence in db.session.scalars(select(ReviewCadence).where(ReviewCadence.is_active.is_(True))):
        created.extend(generate_windows(cadence))
    return created


def _first_open_window(*conditions) -> ReviewWindow | None:
    return db.session.scalar(select(ReviewWindow).where(ReviewWindow.closed_at.is_(None), *conditions)
                             .order_by(ReviewWindow.starts_at, ReviewWindow.id).limit(1))


def window_for_submission(at: datetime) -> ReviewWindow | None:
    """The first open window whose cutoff is not yet past at ``at``: after a cutoff, the following one."""
    window = _first_open_window(ReviewWindow.cutoff_at >= at)
    if window is None and extend_all_cadences():
        window = _first_open_window(ReviewWindow.cutoff_at >= at)
    return window


def next_window_after(window: ReviewWindow) -> ReviewWindow | None:
    """The open window that follows ``window``."""
    following = _first_open_window(ReviewWindow.starts_at > window.starts_at, ReviewWindow.id != window.id)
    if following is None and extend_all_cadences():
        following = _first_open_window(ReviewWindow.starts_at > window.starts_at, ReviewWindow.id != window.id)
    return following


def place_unplaced_requests() -> int:
    """Put pending normal requests that had no window yet on the window their submission time allows."""
    waiting = db.session.scalars(select(ChangeRequest).where(
        ChangeRequest.kind == "normal", ChangeRequest.window_id.is_(None),
        ChangeRequest.state.in_(PENDING_DECISION))).all()
    for request in waiting:
        window = _first_open_window(ReviewWindow.cutoff_at >= (request.submitted_at or utcnow())) \
            or _first_open_window(ReviewWindow.cutoff_at >= utcnow())
        request.window = window
        if window is not None and request.state == "assessed":
            transition(request, "awaiting_window", None, system=True, window=window)
    db.session.flush()
    return len(waiting)


def agenda_query(window: ReviewWindow):
    """The requests awaiting a decision in ``window``: highest risk first, then oldest first."""
    return (select(ChangeRequest)
            .where(ChangeRequest.window_id == window.id, ChangeRequest.state.in_(PENDING_DECISION))
            .options(selectinload(ChangeRequest.requester))
            .order_by(ChangeRequest.risk_rank.desc(), ChangeRequest.submitted_at, ChangeRequest.id))


def agenda(window: ReviewWindow) -> list[ChangeRequest]:
    return list(db.session.scalars(agenda_query(window)))


def emergencies_to_review(window: ReviewWindow) -> list[ChangeRequest]:
    """Emergency decisions this window reviews again."""
    return list(db.session.scalars(select(ChangeRequest).where(
        ChangeRequest.window_id == window.id, ChangeRequest.kind == "emergency",
        ChangeRequest.decided_at.is_not(None)).order_by(ChangeRequest.decided_at)))


def decisions_in(window: ReviewWindow) -> list[ChangeTransition]:
    """Decisions taken in ``window`` (approvals, rejections, deferrals) with their reasons."""
    return list(db.session.scalars(select(ChangeTransition).where(
        ChangeTransition.window_id == window.id, ChangeTransition.to_state.in_(DECISIONS))
        .options(selectinload(ChangeTransition.request), selectinload(ChangeTransition.actor))
        .order_by(ChangeTransition.id)))


def agenda_markdown(window: ReviewWindow) -> str:
    """The agenda as Markdown, for the reviewers' notification."""
    lines = [f"**{window_name(window)}**", ""]
    items = agenda(window)
    for number, request in enumerate(items, 1):
        # A request deferred at an earlier window is back, not new: say so, as the window's page does.
        again = (" · " + ngettext("deferred %(num)d time", "deferred %(num)d times", request.deferral_count)
                 if request.deferral_count else "")
        lines.append(f"{number}. {request.reference} {request.title} — {RISK_LABELS[request.effective_risk]}"
                     f" · {request.requester.display_name}{again}")
    for request in emergencies_to_review(window):
        if request.post_reviewed_at is None:
            label = _("Emergency decision to review again")
            lines.append(f"- {label}: {request.reference} {request.title}")
    if len(lines) == 2:
        lines.append(_("Nothing on the agenda yet."))
    return "\n".join(lines)


def reviewers() -> list[User]:
    return users_with_roles(sorted(REVIEWERS))


def send_agenda(window: ReviewWindow) -> int:
    """Send the reviewers the window's agenda; returns how many were notified."""
    if window.is_closed:
        raise ServiceError(_("%(window)s is closed.", window=window_name(window)))
    people = reviewers()
    from rollout.notify.services import notify
    notify(people, "changes.agenda", _l("Agenda for %(window)s", window=window_name(window)),
           partial(agenda_markdown, window), link=_url("changes.window", window_id=window.id))
    window.agenda_sent_at = utcnow()
    db.session.flush()
    return len(people)


def send_due_agendas(within_hours: int = 48) -> int:
    """Send the agenda of every open window starting soon whose agenda has not gone out and whose submission
    cutoff has passed: before it, a request may still join the agenda and reviewers would never see it."""
    now = utcnow()
    windows = db.session.scalars(select(ReviewWindow).where(
        ReviewWindow.closed_at.is_(None), ReviewWindow.agenda_sent_at.is_(None), ReviewWindow.cutoff_at <= now,
        ReviewWindow.starts_at > now, ReviewWindow.starts_at <= now + timedelta(hours=within_hours))).all()
    for window in windows:
        send_agenda(window)
    return len(windows)


def close_window(window: ReviewWindow, minutes: str, actor: User) -> list[ChangeRequest]:
    """Close a window with its minutes. Undecided items and emergency decisions not yet reviewed
    again roll to the next window; returns them."""
    if window.is_closed:
        raise ServiceError(_("%(window)s is closed.", window=window_name(window)))
    minutes = (minutes or "").strip()
    if not minutes:
        raise ServiceError(_("Write the minutes before closing the window."), "minutes")
    carried = agenda(window) + [request for request in emergencies_to_review(window)
                                if request.post_reviewed_at is None]
    following = next_window_after(window) if carried else None
    if carried and following is None:
        raise ServiceError(_("These requests are undecided or still to review and there is no later window: "
                             "%(refs)s.", refs="、".join(r.reference for r in carried)), "minutes")
    for request in carried:
        request.window = following
    window.minutes_markdown = minutes
    window.closed_at = utcnow()
    window.closed_by_id = actor.id
    window.sequence += 1
    db.session.flush()
    from rollout.notify.services import notify
    for request in carried:  # each requester learns when their request will be looked at now
        notify([request.requester], "changes.carried_over",
               _l("%(ref)s moves to the next review window", ref=request.reference),
               _l("%(window)s closed before it was dealt with; it is on the agenda of %(next)s.",
                  window=window_name(window), next=window_name(following)),
               link=_url("changes.detail", request_id=request.id))
    return carried


def windows_overview(scope, limit: int = 12) -> dict:
    """The windows page: coming and past windows with their counts, cadences and freezes ahead."""
    upcoming = db.session.scalars(select(ReviewWindow).where(ReviewWindow.closed_at.is_(None))
                                  .order_by(ReviewWindow.starts_at).limit(limit)).all()
    past = db.session.scalars(select(ReviewWindow).where(ReviewWindow.closed_at.is_not(None))
                              .order_by(ReviewWindow.starts_at.desc()).limit(limit)).all()
    counts = dict(db.session.execute(
        select(ChangeRequest.window_id, func.count()).where(
            ChangeRequest.window_id.in_([w.id for w in upcoming] or [-1]),
            ChangeRequest.state.in_(PENDING_DECISION), scope)
        .group_by(ChangeRequest.window_id)).all())
    decided = dict(db.session.execute(
        select(ChangeTransition.window_id, func.count()).where(
            ChangeTransition.window_id.in_([w.id for w in past] or [-1]), ChangeTransition.to_state.in_(DECISIONS))
        .group_by(ChangeTransition.window_id)).all())
    cadences = db.session.scalars(select(ReviewCadence).order_by(ReviewCadence.id)).all()
    freezes = db.session.scalars(select(FreezePeriod).where(FreezePeriod.ends_on >= local_today())
                                 .order_by(FreezePeriod.starts_on)).all()
    return {"upcoming": upcoming, "past": past, "counts": counts, "decided": decided, "cadences": cadences,
            "freezes": freezes}


def has_review_window(department_id: int | None = None) -> bool:
    """Is a review rhythm defined? Windows are company-wide, so every department shares them."""
    if db.session.scalar(select(ReviewCadence.id).where(ReviewCadence.is_active.is_(True)).limit(1)):
        return True
    return db.session.scalar(select(ReviewWindow.id).where(
        ReviewWindow.closed_at.is_(None), ReviewWindow.starts_at >= utcnow()).limit(1)) is not None


# --- freezes ----------------------------------------------------------------------------
def save_freeze(title: str, starts_on: date, ends_on: date, reason: str = "", actor: User | None = None,
                freeze: FreezePeriod | None = None) -> FreezePeriod:
    """Create or change a freeze; refuse one that would cover a planned release, naming it."""
    title = _clean_text(title, "title", True, 120)
    if starts_on is None:
        raise ServiceError(_("This field is required."), "starts_on")
    if ends_on is None or ends_on < starts_on:
        raise ServiceError(_("The end is before the start."), "ends_on")
    conflicts = db.session.scalars(select(Release).where(
        Release.state == "planned", Release.planned_on >= starts_on, Release.planned_on <= ends_on)
        .order_by(Release.planned_on)).all()
    if conflicts:
        raise ServiceError(_("The freeze overlaps scheduled releases: %(releases)s.",
                             releases="、".join(f"{r.name} ({r.planned_on.isoformat()})" for r in conflicts)),
                           "starts_on")
    if freeze is None:
        freeze = FreezePeriod(created_by_id=actor.id if actor else None)
        db.session.add(freeze)
    else:
        freeze.sequence += 1
    freeze.title, freeze.starts_on, freeze.ends_on, freeze.reason = title, starts_on, ends_on, (reason or "").strip()
    db.session.flush()
    return freeze


# --- releases ----------------------------------------------------------------------------
def save_release(name: str, planned_on: date, actor: User | None = None, release: Release | None = None) -> Release:
    """Create or re-date a release; refuse a date inside a freeze, naming the freeze."""
    name = _clean_text(name, "name", True, 120)
    if planned_on is None:
        raise ServiceError(_("This field is required."), "planned_on")
    if release is not None and release.is_implemented:
        raise ServiceError(_("%(release)s is already implemented.", release=release.name))
    duplicate = select(Release.id).where(Release.name == name)
    if release is not None:
        duplicate = duplicate.where(Release.id != release.id)
    if db.session.scalar(duplicate):
        raise ServiceError(_("A release with this name already exists."), "name")
    if planned_on < local_today() and (release is None or release.planned_on != planned_on):
        raise ServiceError(_("A release cannot be planned for a day that has passed."), "planned_on")
    freezes = freezes_covering(planned_on)
    if freezes:
        raise ServiceError(_("%(date)s falls in the freeze %(freezes)s.", date=planned_on.isoformat(),
                             freezes="、".join(f"{f.title} ({f.starts_on.isoformat()} – {f.ends_on.isoformat()})"
                                              for f in freezes)), "planned_on")
    if release is None:
        release = Release(created_by_id=actor.id if actor else None)
        db.session.add(release)
    elif release.planned_on != planned_on or release.name != name:
        release.sequence += 1
    moved = release.planned_on is not None and release.planned_on != planned_on
    release.name, release.planned_on = name, planned_on
    if moved:
        _restate_when(release)
    db.session.flush()
    return release


#: Functions ``release -> list[(label, url)]`` contributed by packages that act on an implemented release
#: (training drafts a session for it); the release and request pages link to what they return.
RELEASE_FOLLOW_UP_PROVIDERS: list = []


def release_follow_ups(release: Release | None) -> list[tuple[str, str]]:
    """What followed a release: the drafts of the processes it changed, and what other packages made."""
    from processmaps.services import open_version, status_label
    if release is None or not release.is_implemented:
        return []
    links = []
    processes = {p.id: p for r in release_requests(release) for p in linked_processes(r)}
    for process in processes.values():
        version = open_version(process)
        if version is not None:
            links.append((_("Process map %(name)s v%(number)d (%(status)s)", name=process.name, number=version.number,
                            status=status_label(version.status)),
                          _url("processmaps.version", process_id=process.id, number=version.number)))
    for provider in RELEASE_FOLLOW_UP_PROVIDERS:
        links += provider(release)
    return [(label, url) for label, url in links if url]


def _when_line(release: Release) -> str:
    """The notes' line saying when the release ships: the day it went live once it has, else its planned day."""
    if release.implemented_at:
        return _("Live since %(date)s.", date=to_local(release.implemented_at).date().isoformat())
    return _("Planned for %(date)s.", date=release.planned_on.isoformat())


def _planned_line_pattern() -> re.Pattern:
    """The generated "Planned for <day>." line in either language the notes may have been written in."""
    marker, texts = "\x00", []
    for locale in ("en", "zh_CN"):
        with force_locale(locale):
            texts.append(re.escape(_("Planned for %(date)s.", date=marker)).replace(re.escape(marker),
                                                                                     r"\d{4}-\d{2}-\d{2}"))
    return re.compile(r"^[ \t]*(?:" + "|".join(texts) + r")[ \t]*$", re.MULTILINE)


def _restate_when(release: Release) -> None:
    """Bring the stored notes' "Planned for <day>." line up to date: the new day when a release is moved, the
    day it went live once it has (so the announcement never says it is planned for a day already past).
    Words a writer put in place of that line are theirs and stay as written."""
    if not release.notes_markdown:
        return
    with force_locale(language_of(None)):
        when = _when_line(release)
    release.notes_markdown = _planned_line_pattern().sub(lambda _match: when, release.notes_markdown)


def release_notes(release: Release) -> str:
    """Release notes (Markdown) generated from the release's requests, in the company's language:
    they are stored and sent to everyone."""
    with force_locale(language_of(None)):
        lines = [f"### {release.name}", "", _when_line(release), ""]
        requests = release_requests(release)
        if not requests:
            lines.append(_("No changes in this release yet."))
        for kind in KINDS:
            group = [r for r in requests if r.kind == kind]
            if group:
                lines += [f"#### {KIND_LABELS[kind]}", "", *_note_lines(group), ""]
        return "\n".join(lines).strip() + "\n"


def release_requests(release: Release) -> list[ChangeRequest]:
    return [r for r in release.requests if r.state != "cancelled"]


def _note_lines(requests: list[ChangeRequest]) -> list[str]:
    lines = []
    for request in requests:
        departments = "、".join(d.name for d in request.affected_departments) or _("All departments")
        lines.append(f"- **{request.reference} {request.title}** — {departments}")
        if request.description:
            lines.append(f"  {request.description.splitlines()[0][:300]}")
    return lines


def missing_from_notes(release: Release) -> list[ChangeRequest]:
    """Requests of the release that its saved notes do not mention (scheduled after they were written)."""
    if not release.notes_markdown:
        return []
    return [r for r in release_requests(release) if r.reference not in release.notes_markdown]


def regenerate_notes(release: Release) -> Release:
    release.notes_markdown = release_notes(release)
    db.session.flush()
    return release


def implement_release(release: Release, actor: User) -> dict:
    """Mark a release implemented: its requests become implemented; each affected process gets a
    new draft version; the affected roles get an announcement; subscribers (training) are signalled."""
    if not REVIEWERS & set(actor.roles):
        raise NotAllowed(_("Only project leads and admins may implement a release."))
    if release.is_implemented:
        raise ServiceError(_("%(release)s is already implemented.", release=release.name))
    requests = [r for r in release.requests if r.state != "cancelled"]
    if not requests:
        raise ServiceError(_("%(release)s has no changes to implement.", release=release.name))
    not_ready = [r for r in requests if r.state not in ("scheduled", "implementing", "implemented")]
    if not_ready:
        raise ServiceError(_("These requests are not scheduled: %(refs)s.",
                             refs="、".join(f"{r.reference} ({_label(r.state)})" for r in not_ready)))
    for request in requests:
        if request.state == "scheduled":
            transition(request, "implementing", None, system=True)
        if request.state == "implementing":
            transition(request, "implemented", None, system=True)
    release.state = "implemented"
    release.implemented_at = utcnow()
    release.implemented_by_id = actor.id
    release.sequence += 1
    if not release.notes_markdown:
        release.notes_markdown = release_notes(release)
    else:
        _restate_when(release)
        missing = missing_from_notes(release)
        if missing:  # scheduled after the notes were written: the announcement names every change
            with force_locale(language_of(None)):
                release.notes_markdown = "\n".join([release.notes_markdown.rstrip(), "", *_note_lines(missing)]) + "\n"
    roles = sorted({role for r in requests for role in r.affected_roles or []})
    department_ids = sorted({d.id for r in requests for d in r.affected_departments})
    processes = {p.id: p for r in requests for p in linked_processes(r)}
    with force_locale(language_of(None)):
        summary = _("Changes from release %(release)s.", release=release.name)
    versions = _new_process_versions(list(processes.values()), summary, actor)
    announced = _announce(_l("Release %(release)s is live", release=release.name), release.notes_markdown,
                          roles, department_ids, _url("changes.release", release_id=release.id), actor=actor)
    db.session.flush()
    signals.release_implemented.send(release, affected_roles=roles, affected_department_ids=department_ids,
                                     processes=list(processes.values()))
    return {"requests": len(requests), "versions": versions, "announced": announced}


# --- overdue releases ------------------------------------------------------------------------
#: Event of the reminder that a release's planned day passed without it going live.
RELEASE_OVERDUE_EVENT = "changes.release_overdue"
#: An overdue release is recalled the day after its planned day, then once a week while it stays overdue.
OVERDUE_REMINDER_DAYS = 7


def _day_start(day: date) -> datetime:
    """The UTC instant a local calendar day begins."""
    return local_to_utc(datetime.combine(day, time()))


def overdue_clause(today: date | None = None):
    """SQL condition on Release: planned for a day before ``today``, not live, and still holding a change
    to ship (a release whose requests were all cancelled has nothing to be late with)."""
    today = today or local_today()
    held = aliased(ChangeRequest)  # apart from any requests the outer query joins
    holds_changes = select(held.id).where(held.release_id == Release.id, held.state != "cancelled") \
        .correlate(Release).exists()
    return (Release.state == "planned") & (Release.planned_on < today) & holds_changes


def is_overdue(release: Release, today: date | None = None) -> bool:
    """Has the release's planned day passed without it going live (see overdue_clause)?"""
    today = today or local_today()
    return not release.is_implemented and release.planned_on < today and bool(release_requests(release))


def release_owners(release: Release) -> list[User]:
    """Who answers for a release going live: whoever planned it, while they may still mark it live;
    otherwise the project leads (the admins when there is no lead)."""
    from rollout.access import can
    creator = db.session.get(User, release.created_by_id) if release.created_by_id else None
    if creator is not None and creator.is_active_account and can(creator, "changes.plan"):
        return [creator]
    for role in (LEAD, ADMIN):
        people = [person for person in users_with_roles([role]) if can(person, "changes.plan")]
        if people:
            return sorted(people, key=lambda person: person.id)
    return []


def _overdue_body(release: Release, today: date) -> str:
    """The reminder's text in the reader's language: how late, what waits, what to do."""
    late = (today - release.planned_on).days
    lines = [ngettext("It was planned for %(date)s, %(num)d day ago, and is not marked live.",
                      "It was planned for %(date)s, %(num)d days ago, and is not marked live.", late,
                      date=release.planned_on.isoformat()), ""]
    lines += [f"- {request.reference} {request.title}" for request in release_requests(release)]
    lines += ["", _("Once it is live, mark it implemented on its page; if it is postponed, change its date there.")]
    return "\n".join(lines)


def remind_overdue_releases(today: date | None = None) -> int:
    """Tell the owner of each overdue release (release_owners) the day after its planned day, then weekly
    while it stays overdue; returns how many releases were recalled. Run daily: a release recalled in the
    last week (since it became overdue) is not recalled again, so a second run tells nobody twice."""
    from rollout.notify.models import Notification
    from rollout.notify.services import notify
    today = today or local_today()
    releases = db.session.scalars(select(Release).where(overdue_clause(today))
                                  .options(selectinload(Release.requests)).order_by(Release.planned_on, Release.id)).all()
    if not releases:
        return 0
    links = {release.id: _url("changes.release", release_id=release.id) for release in releases}
    last_told = dict(db.session.execute(
        select(Notification.link, func.max(Notification.created_at)).where(
            Notification.event == RELEASE_OVERDUE_EVENT, Notification.link.in_(list(links.values())),
            Notification.created_at >= _day_start(today - timedelta(days=OVERDUE_REMINDER_DAYS - 1)),
            Notification.created_at < _day_start(today + timedelta(days=1)))
        .group_by(Notification.link)).all())
    recalled = 0
    for release in releases:
        told_at = last_told.get(links[release.id])
        # Told since it became overdue (a release moved and late again is told afresh).
        if told_at is not None and told_at >= _day_start(release.planned_on + timedelta(days=1)):
            continue
        owners = release_owners(release)
        if not owners:
            continue
        notify(owners, RELEASE_OVERDUE_EVENT,
               _l("Release %(release)s is overdue: planned for %(date)s, not live yet", release=release.name,
                  date=release.planned_on.isoformat()),
               partial(_overdue_body, release, today), link=links[release.id])
        recalled += 1
    db.session.flush()
    return recalled


def _new_process_versions(processes: list, summary: str, actor: User) -> list:
    """The draft of each process a change touched, noting the change (new drafts, or the open version)."""
    from processmaps.services import new_draft_version
    return [new_draft_version(process, actor=actor, summary=summary) for process in processes]


def _announce(subject, body, roles: list[str], department_ids: list[int], link: str | None, also=(),
              actor: User | None = None) -> int:
    """Tell the affected roles in the affected departments (everyone, when none are named) that a change is
    live, and post it to those departments' robots; ``also`` adds people told whatever their role, and
    ``actor``, who made it live, is not told. Project leads, admins and trainers work for every department:
    named, they are told wherever they sit."""
    from rollout.access import subtree_ids
    from rollout.notify.services import notify
    departments = set()
    for department_id in department_ids:
        departments |= subtree_ids(department_id)
    roles = list(roles or ROLES)
    people = users_with_roles(roles, sorted(departments) if departments else None)
    company_wide = [role for role in roles if role in (ADMIN, LEAD, TRAINER)]
    if departments and company_wide:
        people += [person for person in users_with_roles(company_wide) if person not in people]
    people += [person for person in also if person is not None and person not in people]
    people = [person for person in people if actor is None or person.id != actor.id]
    notify(people, "changes.release", subject, body, link=link, department_ids=department_ids)
    return len(people)


# --- notifications ------------------------------------------------------------------------
def _url(endpoint: str, **values) -> str:
    """The page's path, also outside a request (scheduled jobs, demo data), so a notification links to it."""
    try:
        return url_for(endpoint, **values)
    except RuntimeError:  # no request, so no URL adapter: the app's URL map builds the path
        return current_app.url_map.bind("").build(endpoint, values)


def _notify_decision(request: ChangeRequest, outcome: str) -> None:
    from rollout.notify.services import notify
    subject = _l("%(ref)s %(title)s: %(outcome)s", ref=request.reference, title=request.title,
                 outcome=STATE_LABELS.get(outcome, outcome))
    notify([request.requester], f"changes.{outcome}", subject, partial(_decision_body, request, outcome),
           link=_url("changes.detail", request_id=request.id))


def _decision_body(request: ChangeRequest, outcome: str) -> str:
    body = request.decision_reason or (_("Standard change: pre-approved.") if request.kind == "standard" else "")
    if outcome == "deferred" and request.window is not None:
        body += "\n\n" + _("It moves to %(window)s.", window=window_name(request.window))
    return body


def _notify_emergency(request: ChangeRequest) -> None:
    from rollout.notify.services import notify
    notify(reviewers(), "changes.emergency",
           _l("Emergency change %(ref)s needs a decision now", ref=request.reference),
           f"**{request.title}**\n\n{request.reason}", link=_url("changes.detail", request_id=request.id))


def _notify_submitted(request: ChangeRequest, actor: User) -> None:
    """Tell the reviewers a normal request waits to be assessed, and on which window it is heading."""
    from rollout.notify.services import notify
    window = request.window

    def body() -> str:  # written in each reviewer's language
        where = _("It goes on the agenda of %(window)s once assessed.", window=window_name(window)) \
            if window is not None else _("No review window is open for it yet.")
        return f"**{request.title}**\n\n{where}"
    notify([user for user in reviewers() if user.id != actor.id], "changes.submitted",
           _l("%(ref)s %(title)s is submitted and waits to be assessed", ref=request.reference,
              title=request.title), body,
           link=_url("changes.detail", request_id=request.id))


# --- attachments -------------------------------------------------------------------------
def upload_folder() -> str:
    """UPLOAD_FOLDER/changes, outside the static folder."""
    return uploads.folder("changes")


def add_attachment(request: ChangeRequest, filename: str, stream, actor: User) -> ChangeAttachment:
    """Store an uploaded file under a random name outside the static folder, after checking its
    size and sniffing its content."""
    limit = int(current_app.config.get("CHANGE_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))
    data = stream.read(limit + 1)
    if not data:
        raise ServiceError(_("The file is empty."), "file")
    if len(data) > limit:
        raise ServiceError(_("The file is larger than %(mb)s MB.", mb=round(limit / 1024 / 1024, 1)), "file")
    name = uploads.clean_filename(filename, default="attachment")
    content_type = uploads.sniff(data[:4096], name)
    if content_type is None:
        raise ServiceError(_("Only PDF, images, Office documents, ZIP and text files may be attached, "
                             "and the file name must match the content."), "file")
    stored_name = secrets.token_hex(20)
    with open(os.path.join(upload_folder(), stored_name), "wb") as handle:
        handle.write(data)
    attachment = ChangeAttachment(request=request, original_name=name, stored_name=stored_name,
                                  content_type=content_type, size_bytes=len(data), uploaded_by_id=actor.id)
    db.session.add(attachment)
    db.session.flush()
    return attachment


def attachment_bytes(attachment: ChangeAttachment) -> bytes:
    path = os.path.join(upload_folder(), os.path.basename(attachment.stored_name))
    with open(path, "rb") as handle:
        return handle.read()


# --- metrics --------------------------------------------------------------------------------
def metrics(scope) -> dict:
    """Lead time submission → decision, requests per window, deferrals and overdue implementations,
    over the requests matching ``scope`` (a SQL condition from scope_clause)."""
    decided = db.session.execute(select(ChangeRequest.submitted_at, ChangeRequest.decided_at).where(
        scope, ChangeRequest.submitted_at.is_not(None), ChangeRequest.decided_at.is_not(None))).all()
    lead_days = [(decided_at - submitted_at).total_seconds() / 86400 for submitted_at, decided_at in decided]
    per_window_rows = db.session.execute(
        select(ReviewWindow.id, ReviewWindow.title, ReviewWindow.starts_at, ChangeTransition.to_state,
               func.count(func.distinct(ChangeTransition.request_id)))
        .join(ChangeTransition, ChangeTransition.window_id == ReviewWindow.id)
        .join(ChangeRequest, ChangeRequest.id == ChangeTransition.request_id)
        .where(scope, ChangeTransition.to_state.in_(DECISIONS))
        .group_by(ReviewWindow.id, ReviewWindow.title, ReviewWindow.starts_at, ChangeTransition.to_state)
        .order_by(ReviewWindow.starts_at)).all()
    windows: dict[int, dict] = {}
    for window_id, title, starts_at, outcome, count in per_window_rows:
        entry = windows.setdefault(window_id, {"id": window_id, "title": title, "starts_at": starts_at,
                                               **{d: 0 for d in DECISIONS}})
        entry[outcome] = count
    deferred = db.session.scalars(select(ChangeRequest).where(scope, ChangeRequest.deferral_count > 0)
                                  .order_by(ChangeRequest.deferral_count.desc(), ChangeRequest.id).limit(20)).all()
    total_deferrals = db.session.scalar(select(func.coalesce(func.sum(ChangeRequest.deferral_count), 0))
                                        .where(scope)) or 0
    overdue = db.session.scalars(
        select(ChangeRequest).join(Release, Release.id == ChangeRequest.release_id)
        .where(scope, ChangeRequest.state.in_(("scheduled", "implementing")), Release.planned_on < local_today())
        .options(selectinload(ChangeRequest.release)).order_by(Release.planned_on, ChangeRequest.id)).all()
    by_state = Counter(dict(db.session.execute(select(ChangeRequest.state, func.count()).where(scope)
                                               .group_by(ChangeRequest.state)).all()))
    return {
        "decided_count": len(lead_days),
        "lead_time_mean": round(statistics.fmean(lead_days), 1) if lead_days else None,
        "lead_time_median": round(statistics.median(lead_days), 1) if lead_days else None,
        "per_window": list(windows.values()),
        "deferred": list(deferred),
        "total_deferrals": int(total_deferrals),
        "overdue": list(overdue),
        "by_state": by_state,
    }


# --- calendar ---------------------------------------------------------------------------------
def _day_span(first: date, last: date) -> tuple[datetime, datetime]:
    return (local_to_utc(datetime.combine(first, time())),
            local_to_utc(datetime.combine(last + timedelta(days=1), time())))


def calendar_items(windows=None, freezes=None, releases=None) -> list:
    """Windows, freezes and releases as CalendarItems with stable UIDs and their sequences."""
    from rollout.reports.calendar import CalendarItem
    if windows is None:
        windows = db.session.scalars(select(ReviewWindow).order_by(ReviewWindow.starts_at)).all()
    if freezes is None:
        freezes = db.session.scalars(select(FreezePeriod).order_by(FreezePeriod.starts_on)).all()
    if releases is None:
        releases = db.session.scalars(select(Release).order_by(Release.planned_on)).all()
    items = []
    for window in windows:
        cutoff = to_local(window.cutoff_at).strftime("%Y-%m-%d %H:%M")
        items.append(CalendarItem(uid=f"change-window-{window.id}@rollout-desk",
                                  summary=_("Review window: %(title)s", title=window.title),
                                  start_at=window.starts_at, end_at=window.ends_at, sequence=window.sequence,
                                  description=_("Submission cutoff: %(at)s", at=cutoff),
                                  url=_url("changes.window", window_id=window.id)))
    # Freezes and releases are whole days: all-day events, not midnight appointments.
    for freeze in freezes:
        items.append(CalendarItem(uid=f"change-freeze-{freeze.id}@rollout-desk",
                                  summary=_("Change freeze: %(title)s", title=freeze.title), start_at=freeze.starts_on,
                                  end_at=freeze.ends_on, sequence=freeze.sequence, description=freeze.reason or None))
    for release in releases:
        items.append(CalendarItem(uid=f"change-release-{release.id}@rollout-desk",
                                  summary=_("Release: %(name)s", name=release.name), start_at=release.planned_on,
                                  sequence=release.sequence, url=_url("changes.release", release_id=release.id)))
    return items


def personal_feed(user: User) -> list:
    """A user's feed: reviewers get every window; others the windows holding their requests;
    everyone gets freezes and releases."""
    from rollout.access import can
    if not can(user, "changes.view"):
        return []
    since = utcnow() - timedelta(days=90)
    query = select(ReviewWindow).where(ReviewWindow.starts_at >= since)
    if not REVIEWERS & set(user.roles):
        query = query.where(ReviewWindow.id.in_(select(ChangeRequest.window_id).where(
            ChangeRequest.requester_id == user.id)))
    windows = db.session.scalars(query.order_by(ReviewWindow.starts_at)).all()
    freezes = db.session.scalars(select(FreezePeriod).where(FreezePeriod.ends_on >= since.date())).all()
    releases = db.session.scalars(select(Release).where(Release.planned_on >= since.date())).all()
    return calendar_items(windows, freezes, releases)


def month_grid(year: int, month: int) -> dict:
    """A month as weeks of days, each with the windows, freezes and releases on it."""
    import calendar as calendar_module
    weeks = calendar_module.Calendar(firstweekday=0).monthdatescalendar(year, month)
    first, last = weeks[0][0], weeks[-1][-1]
    start_at, end_at = _day_span(first, last)
    windows = db.session.scalars(select(ReviewWindow).where(
        ReviewWindow.starts_at >= start_at, ReviewWindow.starts_at < end_at).order_by(ReviewWindow.starts_at)).all()
    freezes = db.session.scalars(select(FreezePeriod).where(
        FreezePeriod.starts_on <= last, FreezePeriod.ends_on >= first)).all()
    releases = db.session.scalars(select(Release).where(
        Release.planned_on >= first, Release.planned_on <= last)).all()
    days: dict[date, dict] = {}
    for week in weeks:
        for day in week:
            days[day] = {"windows": [], "freezes": [f for f in freezes if f.starts_on <= day <= f.ends_on],
                         "releases": [r for r in releases if r.planned_on == day]}
    for window in windows:
        day = to_local(window.starts_at).date()
        if day in days:
            days[day]["windows"].append(window)
    return {"weeks": weeks, "days": days, "year": year, "month": month}


def visible_requests_query(scope):
    """Requests in ``scope``, newest first, with what list pages show loaded up front."""
    return (select(ChangeRequest).where(scope)
            .options(selectinload(ChangeRequest.requester), selectinload(ChangeRequest.window))
            .order_by(ChangeRequest.id.desc()))


#: A request's key as the lists show it ("CR-0513"), typed loosely: "cr 513", "CR513", "#513".
REFERENCE_PATTERN = re.compile(r"(?:CR[-\s]*|#)(\d{1,10})", re.IGNORECASE)


def search_condition(text: str):
    """Requests whose title or description contains ``text``; a key ("CR-0513", full-width too) finds that
    request, and a bare number finds the request with that number as well as texts that contain it."""
    words = unicodedata.normalize("NFKC", text).strip()
    reference = REFERENCE_PATTERN.fullmatch(words)
    if reference is not None:
        number = int(reference.group(1))
        return ChangeRequest.id == number if 0 < number <= MAX_ID else ChangeRequest.id.is_(None)
    condition = or_(contains_text(ChangeRequest.title, text), contains_text(ChangeRequest.description, text))
    if words.isascii() and words.isdigit() and len(words) <= 10 and 0 < int(words) <= MAX_ID:
        condition = or_(condition, ChangeRequest.id == int(words))
    return condition
