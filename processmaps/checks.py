"""Structural checks of a process version, listed beside the map.

Loops back to earlier steps are allowed (rework is real); the checks flag what
makes a map unusable: steps nobody owns, decisions without labelled exits,
steps cut off from the start or from every end, a quote approval that cannot
say no, and a process that pretends nothing ever goes wrong. Warnings point at
what confuses readers: steps sharing a name, flows drawn twice or onto their
own step, time limits that are not a number and a unit, tasks that record no
data items and RACI rows naming nobody Responsible.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask_babel import gettext as _

from processmaps.models import CONTROL_KINDS, DECISION, END, EXCEPTION, START, SUBPROCESS, TASK, ProcessVersion
from processmaps.services import flow_order, parse_time_limit, step_names, step_numbers

#: Words in a step's name that mark a quote approval.
QUOTE_APPROVAL = re.compile(r"报价.*(审批|审核|批准)|quot\w*.*approv|approv\w*.*quot", re.IGNORECASE)
#: Words in a flow's label that mark a rejection.
REJECTION = re.compile(r"不通过|驳回|拒绝|否决|退回|不批准|未通过|reject|declin|denied|not approved", re.IGNORECASE)


@dataclass
class Problem:
    """One failed check: a code, a message for people, the nodes it concerns, and whether it blocks approval."""
    code: str
    message: str
    node_keys: list[str] = field(default_factory=list)
    is_blocking: bool = True


def _reachable(starts, successors) -> set[int]:
    seen, stack = set(), list(starts)
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(successors.get(current, ()))
    return seen


def run_checks(version: ProcessVersion) -> list[Problem]:
    """Every failed check of a version, blocking ones first."""
    order = flow_order(version)  # messages name steps in the order of the steps table
    nodes = {node.id: node for node in order}
    edges = list(version.edges)
    outgoing: dict[int, list] = {}
    incoming: dict[int, list] = {}
    for edge in edges:
        outgoing.setdefault(edge.source_id, []).append(edge)
        incoming.setdefault(edge.target_id, []).append(edge)
    problems: list[Problem] = []
    labels = step_names(version, step_numbers(version, order))

    def names(ids):
        return "、".join(labels[i] for i in ids)

    # Start, end and parallel splits/joins only steer the flow; every other step needs someone who does it.
    unowned = [n.id for n in nodes.values() if n.kind not in CONTROL_KINDS
               and not n.owner_role and n.owner_user_id is None]
    if unowned:
        problems.append(Problem("no_owner", _("Steps without an owner: %(names)s", names=names(unowned)),
                                [nodes[i].key for i in unowned]))

    # Only a decision picks one exit; a parallel split takes them all, so its exits need no labels.
    weak_decisions = [n.id for n in nodes.values() if n.kind == DECISION
                      and sum(1 for e in outgoing.get(n.id, []) if e.label.strip()) < 2]
    if weak_decisions:
        problems.append(Problem("decision_exits",
                                _("Decisions with fewer than two labelled exits: %(names)s",
                                  names=names(weak_decisions)),
                                [nodes[i].key for i in weak_decisions]))

    starts = [n.id for n in nodes.values() if n.kind == START]
    ends = [n.id for n in nodes.values() if n.kind == END]
    if not starts:
        problems.append(Problem("no_start", _("The process has no start node.")))
    if not ends:
        problems.append(Problem("no_end", _("The process has no end node.")))
    if starts:
        successors = {source: [e.target_id for e in out] for source, out in outgoing.items()}
        reachable = _reachable(starts, successors)  # once, not once per node: 200-node maps stay linear
        unreachable = [i for i in nodes if i not in reachable]
        if unreachable:
            problems.append(Problem("unreachable", _("Not reachable from the start: %(names)s",
                                                     names=names(unreachable)),
                                    [nodes[i].key for i in unreachable]))
    if ends:
        predecessors = {target: [e.source_id for e in into] for target, into in incoming.items()}
        leads_to_end = _reachable(ends, predecessors)
        dead_ends = [i for i in nodes if i not in leads_to_end]
        if dead_ends:
            problems.append(Problem("no_path_to_end", _("No path to an end: %(names)s", names=names(dead_ends)),
                                    [nodes[i].key for i in dead_ends]))

    def has_rejection_path(node_id: int) -> bool:
        # The approval step itself, or the decision right after it, must lead somewhere on "no".
        exits = list(outgoing.get(node_id, []))
        for edge in list(exits):
            if nodes[edge.target_id].kind == DECISION:
                exits.extend(outgoing.get(edge.target_id, []))
        return any(e.is_exception or REJECTION.search(e.label or "") for e in exits)

    unguarded = [n.id for n in nodes.values() if n.kind in (TASK, DECISION) and QUOTE_APPROVAL.search(n.name)
                 and not has_rejection_path(n.id)]
    if unguarded:
        problems.append(Problem("quote_rejection", _("Quote approval without a rejection path: %(names)s",
                                                     names=names(unguarded)),
                                [nodes[i].key for i in unguarded]))

    missing_links = [n.id for n in nodes.values() if n.kind == SUBPROCESS and n.subprocess_id is None]
    if missing_links:
        problems.append(Problem("subprocess_link", _("Subprocess steps not linked to a process: %(names)s",
                                                     names=names(missing_links)),
                                [nodes[i].key for i in missing_links], is_blocking=False))

    # Two steps of one name cannot be told apart on the pages that pick steps (requirements, change requests).
    by_name: dict[str, list[int]] = {}
    for node in nodes.values():
        by_name.setdefault(node.name.lower(), []).append(node.id)
    repeated = [ids for ids in by_name.values() if len(ids) > 1]
    if repeated:
        problems.append(Problem("duplicate_names", _("Steps sharing a name (give each its own): %(names)s",
                                                     names="; ".join(names(ids) for ids in repeated)),
                                [nodes[i].key for ids in repeated for i in ids], is_blocking=False))

    # The editor refuses these; maps from before that or from elsewhere may still hold them.
    loops = [e.source_id for e in edges if e.source_id == e.target_id]
    if loops:
        problems.append(Problem("self_loop", _("Flows from a step back to itself: %(names)s", names=names(loops)),
                                [nodes[i].key for i in loops], is_blocking=False))
    seen_flows, twins = set(), []
    for edge in edges:
        flow = (edge.source_id, edge.target_id, edge.label.strip().lower())
        if flow in seen_flows:
            twins.append(f"{labels[edge.source_id]} → {labels[edge.target_id]}")
        seen_flows.add(flow)
    if twins:
        problems.append(Problem("duplicate_flow", _("Flows drawn twice: %(flows)s", flows="、".join(twins)),
                                is_blocking=False))
    odd_limits = [n.id for n in nodes.values() if n.time_limit and parse_time_limit(n.time_limit) is None]
    if odd_limits:
        problems.append(Problem("time_limit", _("Time limits that are not a number and a unit: %(names)s",
                                                names=names(odd_limits)),
                                [nodes[i].key for i in odd_limits], is_blocking=False))

    # Every step says what it records and who does it: a task recording nothing, or a RACI naming nobody
    # Responsible, is usually a step not thought through yet.
    silent = [n.id for n in nodes.values() if n.kind == TASK and not (n.data_items or "").strip()]
    if silent:
        problems.append(Problem("no_data_items", _("Tasks that record no data items: %(names)s", names=names(silent)),
                                [nodes[i].key for i in silent], is_blocking=False))
    nobody_responsible = [n.id for n in nodes.values() if n.raci and not any(r.kind == "R" for r in n.raci)]
    if nobody_responsible:
        problems.append(Problem("raci_no_responsible", _("Steps whose RACI names nobody Responsible (R): %(names)s",
                                                         names=names(nobody_responsible)),
                                [nodes[i].key for i in nobody_responsible], is_blocking=False))

    if nodes and not any(e.is_exception for e in edges) and not any(n.kind == EXCEPTION for n in nodes.values()):
        problems.append(Problem("no_exception", _("The process has no exception branch at all (what happens "
                                                  "when something goes wrong?)."), is_blocking=False))
    problems.sort(key=lambda problem: not problem.is_blocking)
    return problems
