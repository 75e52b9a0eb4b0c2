"""Drawing a process version with Graphviz: swimlane clusters, owners in nodes, CJK labels.

Output is cached in ``process_renders`` under the sha256 of the DOT source:
the DOT holds everything drawn (names, owners, lanes, links, highlights), so
the same content is never laid out twice and viewing a map costs one query.
"""
from __future__ import annotations

import hashlib
import html
import json
import math
import re
import unicodedata
from collections.abc import Callable

import graphviz
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from processmaps.models import (
    CONTROL_KINDS, DECISION, END, EXCEPTION, LANE_BY_DEPARTMENT, PARALLEL, START, SUBPROCESS, ProcessNode,
    ProcessRender, ProcessVersion,
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
PARALLEL_MARK = '<FONT POINT-SIZE="22"><B>+</B></FONT>'
#: Sizes (inches) of the symbols drawn with their name underneath.
SYMBOL_SIZES = {START: 0.45, END: 0.42, PARALLEL: 0.6}


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


#: Widest line of a label, in half-width characters (a Chinese character counts two): long names and
#: roles wrap instead of stretching a step, a lane or a flow across the page.
NAME_WIDTH = 26
DETAIL_WIDTH = 32
EDGE_LABEL_WIDTH = 22
LANE_LABEL_WIDTH = 36
_WIDE = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
#: One wide character, a run of other characters, or a space: where a line may break.
_TOKENS = re.compile(f"[{_WIDE}]|[^\\s{_WIDE}]+| ")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def wrap_text(text: str, width: int) -> list[str]:
    """``text`` in lines at most ``width`` wide: Chinese breaks between characters, other text between
    words, and a word wider than a line is cut."""
    lines, current = [], ""
    for token in _TOKENS.findall(" ".join((text or "").split())):
        if token == " ":
            current += " " if current else ""
            continue
        if current.strip() and _width(current) + _width(token) > width:
            lines.append(current.rstrip())
            current = ""
        while _width(current) + _width(token) > width:
            cut = 1
            while cut < len(token) and _width(current) + _width(token[:cut + 1]) <= width:
                cut += 1
            lines.append(current + token[:cut])
            current, token = "", token[cut:]
        current += token
    if current.strip():
        lines.append(current.rstrip())
    return lines or [""]


def _wrapped(text: str, width: int) -> str:
    """Escaped HTML-label text with a line break wherever ``wrap_text`` breaks it."""
    return "<BR/>".join(html.escape(line) for line in wrap_text(text, width))


def _rows(text: str, width: int, style: str = "", bold: bool = False) -> list[str]:
    """One table row per wrapped line (rows keep CJK lines apart better than line breaks do); ``style``
    holds FONT attributes."""
    rows = []
    for line in wrap_text(text, width):
        line = html.escape(line)
        if bold:
            line = f"<B>{line}</B>"
        if style:
            line = f"<FONT {style}>{line}</FONT>"
        rows.append(f"<TR><TD>{line}</TD></TR>")
    return rows


def _label_table(node: ProcessNode, words: dict[str, str], hidden: bool = False) -> str:
    """The name, owner and time limit as an HTML-like table (all in transparent ink when ``hidden``)."""
    owner = owner_text(node)
    owner_color = "#555555" if owner else PROBLEM_COLOR
    detail_color = "#777777"
    if hidden:
        owner_color = detail_color = "transparent"
    rows = _rows(node.name, NAME_WIDTH, 'COLOR="transparent"' if hidden else "", bold=True)
    if node.kind not in CONTROL_KINDS or owner:
        rows += _rows(owner or words["no_owner"], DETAIL_WIDTH, f'POINT-SIZE="9" COLOR="{owner_color}"')
    if node.time_limit:
        rows += _rows(words["time_limit"] % {"limit": node.time_limit}, DETAIL_WIDTH,
                      f'POINT-SIZE="8" COLOR="{detail_color}"')
    return '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows) + "</TABLE>"


def _html_label(node: ProcessNode, words: dict[str, str]) -> HtmlLabel:
    return HtmlLabel(f"<{_label_table(node, words)}>")


def _symbol_label(node: ProcessNode, words: dict[str, str], size: float, mark: str = "") -> HtmlLabel:
    """The label of a small fixed symbol (an event, a parallel split/join), as in BPMN: its mark in the
    symbol and its name underneath. Graphviz centres a label on its node, so a transparent copy of
    the text above the symbol balances the visible text below it."""
    points = round(size * 72) + 10  # the symbol, its outer ring and a little air above and below
    return HtmlLabel(
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">'
        f"<TR><TD>{_label_table(node, words, hidden=True)}</TD></TR>"
        f'<TR><TD FIXEDSIZE="TRUE" WIDTH="{points}" HEIGHT="{points}">{mark}</TD></TR>'
        f"<TR><TD>{_label_table(node, words)}</TD></TR></TABLE>>")


def _plain_label(text: str, width: int) -> HtmlLabel:
    """A flow's condition or a lane's name as a wrapped label."""
    return HtmlLabel(f"<{_wrapped(text, width)}>")


def _node_style(node: ProcessNode) -> dict:
    # Events and parallel splits/joins are small symbols of a fixed size as in BPMN, their name underneath
    # (see _symbol_label): "shape" sizes the symbol alone, the label around it still takes room.
    if node.kind in SYMBOL_SIZES:
        size = str(SYMBOL_SIZES[node.kind])
        symbol = {"fixedsize": "shape", "width": size, "height": size}
    if node.kind == START:
        return {"shape": "circle", "style": "filled", "fillcolor": "#e8f5e9", "color": "#2e7d32", **symbol}
    if node.kind == END:
        return {"shape": "doublecircle", "style": "filled", "fillcolor": "#fdecea", "color": "#8e2a20",
                "penwidth": "1.6", **symbol}
    if node.kind == DECISION:
        return {"shape": "diamond", "style": "filled", "fillcolor": "#fff8e1", "color": "#b07d00"}
    if node.kind == PARALLEL:
        # Like BPMN's parallel gateway: a small diamond with a "+".
        return {"shape": "diamond", "style": "filled", "fillcolor": "#e8f0fe", "color": "#1f4e79", **symbol}
    if node.kind == EXCEPTION:
        return {"shape": "box", "style": "rounded,filled", "fillcolor": "#fdecea", "color": EXCEPTION_COLOR}
    if node.kind == SUBPROCESS:
        return {"shape": "box", "style": "rounded,filled", "fillcolor": "#eef3fb", "color": "#1f4e79",
                "peripheries": "2"}
    return {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff", "color": "#1f4e79"}


def unassigned_lane(version: ProcessVersion) -> str:
    """The lane of work steps with no owner role and no named owner (or, per department, no department)."""
    return _("No department") if version.lane_by == LANE_BY_DEPARTMENT else _("Unassigned")


def effective_lanes(version: ProcessVersion) -> dict[int, str]:
    """Node id → swimlane. A work step sits in its own role's (or department's) lane, its named owner's lane
    when it has no role, else in the unassigned lane: never in someone else's. Start, end and parallel
    splits/joins without one join a neighbour's lane, so every connected node sits in one."""
    unassigned = unassigned_lane(version)
    lanes = {}
    for node in version.nodes:
        lanes[node.id] = lane_of(node, version.lane_by) or ("" if node.kind in CONTROL_KINDS else unassigned)
    neighbours: dict[int, list[int]] = {}
    for edge in version.edges:
        neighbours.setdefault(edge.source_id, []).append(edge.target_id)
        neighbours.setdefault(edge.target_id, []).append(edge.source_id)
    for _round in range(3):  # a start → split → owned chain settles within a few rounds
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
        # decorate: a condition is underlined and tied to its flow, so two labels side by side (two "yes"
        # exits crossing) cannot be read as each other's.
        f"  edge {_attrs(fontname=FONT, fontsize='9', color='#4a5a6a', arrowsize='0.8', decorate='true')};",
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
        if node.kind in SYMBOL_SIZES:
            label = _symbol_label(node, words, SYMBOL_SIZES[node.kind], PARALLEL_MARK if node.kind == PARALLEL else "")
        else:
            label = _html_label(node, words)
        return f"    {_quote(node_name(node))} {_attrs(label=label, tooltip=tooltip, URL=url, target='_top' if url else None, id=f'node-{node.key}', **style)};"

    for index, lane in enumerate(lane_names):
        members = [node for node in version.nodes if lanes[node.id] == lane]
        if lane:
            lines.append(f"  subgraph {_quote(f'cluster_{index}')} {{")
            lines.append(f"    graph {_attrs(label=_plain_label(lane, LANE_LABEL_WIDTH), style='filled,rounded', fillcolor=LANE_FILLS[index % len(LANE_FILLS)], color='#c9d3dd', fontsize='12', fontcolor='#34495e')};")
            lines.extend(node_line(node) for node in members)
            lines.append("  }")
        else:
            lines.extend(node_line(node) for node in members)
    keys = {node.id: node.key for node in version.nodes}
    for edge in version.edges:
        attributes = {"label": _plain_label(edge.label, EDGE_LABEL_WIDTH) if edge.label else None}
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


#: How Graphviz writes "transparent" ink in SVG (a near-white, which shows on a coloured lane).
SVG_TRANSPARENT_TEXT = re.compile(r'<text [^>]*fill="#fffffe"[^>]*>[^<]*</text>\n?')


def run_graphviz(source: str, fmt: str) -> bytes:
    """Lay out and draw DOT with Graphviz's dot (the only place that runs it)."""
    output = graphviz.pipe("dot", fmt, source.encode("utf-8"))
    if fmt == "svg":
        # The transparent text that only balances a symbol's label (see _symbol_label) is left out.
        output = SVG_TRANSPARENT_TEXT.sub("", output.decode("utf-8")).encode("utf-8")
    return output


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


#: The smallest share of its drawn size a map is shown at on a page (its 11 pt text stays about 7 pt).
MIN_MAP_SCALE = 0.65


def inline_svg(svg: bytes, min_scale: float | None = MIN_MAP_SCALE) -> str:
    """The SVG element alone (no XML prolog or doctype), with a font stack browsers can fall back on.

    ``min_scale`` keeps a page's map readable (None: a printed map is fitted to its page whatever its width)."""
    text = svg.decode("utf-8")
    start = text.find("<svg")
    text = text[start:] if start >= 0 else text
    text = text.replace(f'font-family="{FONT}"', f'font-family="{SVG_FONT_STACK}"')
    # Graphviz titles every element with its internal id (step keys, "cluster_0", "quote->approve"); browsers
    # show those as hover text. Steps carry their own readable tooltip, so the raw ids go.
    text = re.sub(r"<title>[^<]*</title>\n?", "", text)
    # CSS shrinks a wide map to its container (the viewBox keeps proportions); small maps keep their size.
    # Never below MIN_MAP_SCALE of its drawn size: past that its text is unreadable, so it scrolls instead.
    width = re.search(r'<svg[^>]*\swidth="([\d.]+)pt"', text)
    style = f' style="min-width: {float(width.group(1)) * min_scale:.0f}pt"' if width and min_scale else ""
    text = text.replace("<svg ", f'<svg class="process-map-svg"{style} ', 1)
    return text


#: The width a printed map has on a landscape A4 page (its margins taken off), in points.
PRINTED_WIDTH_PT = 760


def printed_slices(svg: str, min_scale: float = MIN_MAP_SCALE) -> list[str]:
    """A map (``inline_svg`` output) cut into strips that each fill the printed width at ``min_scale`` or more.

    A map wider than that would print as an unreadable strip: each part shows a window of the same
    drawing (its viewBox), a little overlapping the next, so the parts read left to right."""
    match = re.search(r'viewBox="([\d.\-]+) ([\d.\-]+) ([\d.]+) ([\d.]+)"', svg)
    if match is None:
        return [svg]
    x, y, width, height = (float(value) for value in match.groups())
    parts = math.ceil(width * min_scale / PRINTED_WIDTH_PT)
    if parts <= 1:
        return [svg]
    overlap = width * 0.02
    step = width / parts
    slices = []
    for index in range(parts):
        left = max(x, x + index * step - overlap)
        right = min(x + width, x + (index + 1) * step + overlap)
        box = f'viewBox="{left:.2f} {y:.2f} {right - left:.2f} {height:.2f}"'
        part = svg.replace(match.group(0), box, 1)
        part = re.sub(r'(<svg[^>]*?)\swidth="[\d.]+pt"', rf'\1 width="{right - left:.0f}pt"', part, count=1)
        slices.append(part)
    return slices


def layout(version: ProcessVersion) -> dict:
    """Graphviz's layout of a version (``dot -Tjson``): node boxes, edge points, lane boxes, in points."""
    return json.loads(render(version, "json").decode("utf-8"))
