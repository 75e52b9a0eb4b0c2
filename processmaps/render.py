"""Drawing a process version with Graphviz: swimlane clusters, owners in nodes, CJK labels.

Output is cached in ``process_renders`` under the sha256 of the DOT source:
the DOT holds everything drawn (names, owners, lanes, links, highlights), so
the same content is never laid out twice and viewing a map costs one query.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable

import graphviz
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from processmaps.models import (
    CONTROL_KINDS, DECISION, END, EXCEPTION, PARALLEL, START, SUBPROCESS, ProcessNode, ProcessRender,
    ProcessVersion,
)
from processmaps.services import lane_of, owner_text
from rollout.extensions import db

#: The CJK font every format is drawn with (Debian fonts-noto-cjk).
FONT = "Noto Sans CJK SC"
#: What browsers fall back to when the viewer lacks the font (the SVG is shown in the page).
SVG_FONT_STACK = "Noto Sans CJK SC,Source Han Sans SC,PingFang SC,Microsoft YaHei,sans-serif"
FORMATS = ("svg", "png", "pdf", "json")
MIME_TYPES = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf", "json": "application/json"}

#: Largest map laid out with Graphviz's newrank (see dot_source).
NEWRANK_MAX_NODES = 80
LANE_FILLS = ("#f4f8fd", "#f6fbf4", "#fdf8f0", "#f8f5fc", "#f1f7f7", "#fcf4f4")
EXCEPTION_COLOR = "#c0392b"
ADDED_COLOR = "#198754"
CHANGED_COLOR = "#d39e00"
PROBLEM_COLOR = "#dc3545"


class HtmlLabel(str):
    """A Graphviz HTML-like label built here from escaped parts. Only these are written unquoted:
    user text that merely looks like ``<...>`` (an edge condition, an owner role) stays a quoted
    string, or Graphviz would parse it as markup, fail on it or draw its HREF as a live link."""


#: What a parallel split/join shows inside its diamond (BPMN's parallel gateway marker).
PARALLEL_MARK = HtmlLabel('<<FONT POINT-SIZE="22"><B>+</B></FONT>>')


def _quote(value: str) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _attrs(**values) -> str:
    parts = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, HtmlLabel):
            parts.append(f"{name}={value}")
        else:
            parts.append(f"{name}={_quote(value)}")
    return "[" + ", ".join(parts) + "]"


def _html_label(node: ProcessNode, words: dict[str, str]) -> str:
    rows = [f'<TR><TD><B>{html.escape(node.name)}</B></TD></TR>']
    owner = owner_text(node)
    if node.kind not in CONTROL_KINDS or owner:
        color = "#555555" if owner else PROBLEM_COLOR
        rows.append(f'<TR><TD><FONT POINT-SIZE="9" COLOR="{color}">{html.escape(owner or words["no_owner"])}</FONT></TD></TR>')
    if node.time_limit:
        limit = words["time_limit"] % {"limit": node.time_limit}
        rows.append(f'<TR><TD><FONT POINT-SIZE="8" COLOR="#777777">{html.escape(limit)}</FONT></TD></TR>')
    return HtmlLabel('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows)
                     + "</TABLE>>")


def _node_style(node: ProcessNode) -> dict:
    if node.kind == START:
        return {"shape": "circle", "style": "filled", "fillcolor": "#e8f5e9", "color": "#2e7d32"}
    if node.kind == END:
        return {"shape": "doublecircle", "style": "filled", "fillcolor": "#fdecea", "color": "#8e2a20"}
    if node.kind == DECISION:
        return {"shape": "diamond", "style": "filled", "fillcolor": "#fff8e1", "color": "#b07d00"}
    if node.kind == PARALLEL:
        # Like BPMN's parallel gateway: a small diamond with a "+", its name written beside it.
        return {"shape": "diamond", "style": "filled", "fillcolor": "#e8f0fe", "color": "#1f4e79",
                "fixedsize": "true", "width": "0.6", "height": "0.6"}
    if node.kind == EXCEPTION:
        return {"shape": "box", "style": "rounded,filled", "fillcolor": "#fdecea", "color": EXCEPTION_COLOR}
    if node.kind == SUBPROCESS:
        return {"shape": "box", "style": "rounded,filled", "fillcolor": "#eef3fb", "color": "#1f4e79",
                "peripheries": "2"}
    return {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff", "color": "#1f4e79"}


def effective_lanes(version: ProcessVersion) -> dict[int, str]:
    """Node id → swimlane. Start, end and unowned nodes join a neighbour's lane, so every node sits in one."""
    lanes = {node.id: lane_of(node, version.lane_by) for node in version.nodes}
    neighbours: dict[int, list[int]] = {}
    for edge in version.edges:
        neighbours.setdefault(edge.source_id, []).append(edge.target_id)
        neighbours.setdefault(edge.target_id, []).append(edge.source_id)
    for _round in range(3):  # a start → unowned → owned chain settles within a few rounds
        for node_id, lane in list(lanes.items()):
            if not lane:
                lanes[node_id] = next((lanes[n] for n in neighbours.get(node_id, []) if lanes.get(n)), "")
    return lanes


def node_name(node: ProcessNode) -> str:
    """The Graphviz node name (also the BPMN element id)."""
    return node.key


def dot_source(version: ProcessVersion, node_url: Callable[[ProcessNode], str] | None = None,
               highlight: dict | None = None, problem_keys=()) -> str:
    """The DOT text of a version: one cluster per swimlane, exception flows dashed red."""
    highlight = highlight or {}
    lanes = effective_lanes(version)
    # Translated once per map, not once per node.
    words = {"no_owner": _("no owner"), "time_limit": _("Time limit: %(limit)s")}
    # newrank keeps the main flow left-to-right across lanes, but its layout time grows steeply
    # (0.1 s at 60 nodes, seconds at 200): large maps use the classic ranking.
    newrank = "true" if len(version.nodes) <= NEWRANK_MAX_NODES else None
    lines = [
        "digraph process {",
        f"  graph {_attrs(rankdir='LR', fontname=FONT, fontsize='11', nodesep='0.35', ranksep='0.5', labeljust='l', pad='0.2', newrank=newrank)};",
        f"  node {_attrs(fontname=FONT, fontsize='11', margin='0.12,0.06')};",
        f"  edge {_attrs(fontname=FONT, fontsize='9', color='#4a5a6a', arrowsize='0.8')};",
    ]
    lane_names = []
    for node in version.nodes:
        if lanes[node.id] not in lane_names:
            lane_names.append(lanes[node.id])

    def node_line(node: ProcessNode) -> str:
        style = _node_style(node)
        if node.key in highlight.get("added_nodes", ()):
            style.update(color=ADDED_COLOR, fillcolor="#d1f2d9", penwidth="2.5")
        elif node.key in highlight.get("changed_nodes", ()):
            style.update(color=CHANGED_COLOR, fillcolor="#fff3cd", penwidth="2.5")
        elif node.key in problem_keys:
            style.update(color=PROBLEM_COLOR, penwidth="2")
        tooltip = " · ".join(filter(None, [node.name, owner_text(node)]))
        url = node_url(node) if node_url else None
        labels = {"label": _html_label(node, words)}
        if node.kind == PARALLEL:
            labels = {"label": PARALLEL_MARK, "xlabel": labels["label"]}
        return f"    {_quote(node_name(node))} {_attrs(**labels, tooltip=tooltip, URL=url, target='_top' if url else None, id=f'node-{node.key}', **style)};"

    for index, lane in enumerate(lane_names):
        members = [node for node in version.nodes if lanes[node.id] == lane]
        if lane:
            lines.append(f"  subgraph {_quote(f'cluster_{index}')} {{")
            lines.append(f"    graph {_attrs(label=lane, style='filled,rounded', fillcolor=LANE_FILLS[index % len(LANE_FILLS)], color='#c9d3dd', fontsize='12', fontcolor='#34495e')};")
            lines.extend(node_line(node) for node in members)
            lines.append("  }")
        else:
            lines.extend(node_line(node) for node in members)
    keys = {node.id: node.key for node in version.nodes}
    for edge in version.edges:
        attributes = {"label": edge.label or None}
        edge_key = (keys[edge.source_id], keys[edge.target_id])
        if edge.is_exception:
            attributes.update(color=EXCEPTION_COLOR, fontcolor=EXCEPTION_COLOR, style="dashed", penwidth="1.4")
        if edge_key in highlight.get("added_edges", ()):
            attributes.update(color=ADDED_COLOR, penwidth="2.5")
        elif edge_key in highlight.get("changed_edges", ()):
            attributes.update(color=CHANGED_COLOR, penwidth="2.5")
        attributes["id"] = f"edge-{edge.id}"
        lines.append(f"  {_quote(edge_key[0])} -> {_quote(edge_key[1])} {_attrs(**attributes)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def run_graphviz(source: str, fmt: str) -> bytes:
    """Lay out and draw DOT with Graphviz's dot (the only place that runs it)."""
    return graphviz.pipe("dot", fmt, source.encode("utf-8"))


def _digest(source: str, fmt: str) -> str:
    return hashlib.sha256(f"{fmt}\n{source}".encode()).hexdigest()


def cached_render(source: str, fmt: str) -> bytes:
    """Graphviz output for DOT ``source`` in ``fmt``, from the cache when this exact source was drawn before."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt}")
    digest = _digest(source, fmt)
    content = db.session.scalar(select(ProcessRender.content).where(ProcessRender.digest == digest,
                                                                     ProcessRender.fmt == fmt))
    if content is not None:
        return content
    content = run_graphviz(source, fmt)
    try:
        # A savepoint: two viewers drawing the same map at once must not fail the request.
        with db.session.begin_nested():
            db.session.add(ProcessRender(digest=digest, fmt=fmt, content=content))
    except IntegrityError:
        pass
    return content


def render(version: ProcessVersion, fmt: str, node_url: Callable[[ProcessNode], str] | None = None,
           highlight: dict | None = None, problem_keys=()) -> bytes:
    """A version drawn in svg, png, pdf or json (layout), cached by content."""
    # Links only make sense where a click can follow them.
    source = dot_source(version, node_url=node_url if fmt == "svg" else None, highlight=highlight,
                        problem_keys=problem_keys)
    return cached_render(source, fmt)


def inline_svg(svg: bytes) -> str:
    """The SVG element alone (no XML prolog or doctype), with a font stack browsers can fall back on."""
    text = svg.decode("utf-8")
    start = text.find("<svg")
    text = text[start:] if start >= 0 else text
    text = text.replace(f'font-family="{FONT}"', f'font-family="{SVG_FONT_STACK}"')
    # Graphviz titles every element with its internal id (step keys, "cluster_0", "quote->approve"); browsers
    # show those as hover text. Steps carry their own readable tooltip, so the raw ids go.
    text = re.sub(r"<title>[^<]*</title>\n?", "", text)
    # CSS shrinks a wide map to its container (the viewBox keeps proportions); small maps keep their size.
    text = text.replace("<svg ", '<svg class="process-map-svg" ', 1)
    return text


def layout(version: ProcessVersion) -> dict:
    """Graphviz's layout of a version (``dot -Tjson``): node boxes, edge points, lane boxes, in points."""
    return json.loads(render(version, "json").decode("utf-8"))
