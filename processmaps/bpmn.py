"""BPMN 2.0 export (one lane per swimlane, diagram interchange from the Graphviz layout) and import.

Export writes our own fields (owner role, named owner, department, time limit,
data items, exception flows) as attributes in the ``rd`` namespace, so an
export read back keeps everything; other tools ignore them. Import parses with
defusedxml (no DTD, no entities, no network) and names every element it
cannot map instead of dropping it silently.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from processmaps import render, services
from processmaps.models import (
    DECISION, END, EXCEPTION, LANE_BY_DEPARTMENT, LANE_BY_ROLE, PARALLEL, START, SUBPROCESS, TASK, Process,
    ProcessVersion,
)
from rollout.accounts.models import Department, User
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.i18n import language_of

MODEL = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: Our own attributes (ignored by other tools, read back by import).
RD = "https://rollout-desk.org/schema/bpmn/1"
#: BPMN in Color (bpmn.io, Camunda Modeler): exception flows and steps drawn red as on our map.
COLOR = "http://www.omg.org/spec/BPMN/non-normative/color/1.0"
PREFIXES = (("bpmn", MODEL), ("bpmndi", BPMNDI), ("dc", DC), ("di", DI), ("xsi", XSI), ("rd", RD),
            ("color", COLOR))

#: Largest BPMN file accepted (bytes).
MAX_BPMN_BYTES = 5 * 1024 * 1024
POINTS_PER_INCH = 72.0
LANE_HEADER = 30.0
LANE_PADDING = 20.0
#: BPMN's usual sizes for events and gateways, whose names are drawn outside the symbol. Our map draws
#: names inside, so Graphviz's circles and diamonds are much larger; the export keeps their centres.
EVENT_SIZE = 36.0
GATEWAY_SIZE = 50.0
EXCEPTION_FILL = "#fdecea"

TASK_TAGS = {"task", "userTask", "manualTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask",
             "receiveTask"}
SUBPROCESS_TAGS = {"subProcess", "callActivity", "transaction", "adHocSubProcess"}
#: Elements that describe, decorate or lay out and need no mapping.
IGNORED_TAGS = {"documentation", "extensionElements", "laneSet", "incoming", "outgoing", "property",
                "ioSpecification", "BPMNDiagram"}


class BpmnError(ServiceError):
    """A BPMN file that cannot be read at all (not XML, not BPMN, entities, duplicate ids)."""


def q(tag: str, ns: str = MODEL) -> str:
    return f"{{{ns}}}{tag}"


# --- export ----------------------------------------------------------------------
def _bpmn_tag(kind: str) -> str:
    return {START: "startEvent", END: "endEvent", DECISION: "exclusiveGateway", PARALLEL: "parallelGateway",
            SUBPROCESS: "callActivity", EXCEPTION: "userTask", TASK: "userTask"}[kind]


def _parse_points(pos: str) -> tuple[tuple[float, float] | None, list[tuple[float, float]]]:
    """Graphviz edge 'pos': optional 'e,x,y' arrow tip and the B-spline control points."""
    tip, points = None, []
    for part in pos.split():
        bits = part.split(",")
        if bits[0] == "e":
            tip = (float(bits[1]), float(bits[2]))
        elif bits[0] == "s":
            continue
        else:
            points.append((float(bits[0]), float(bits[1])))
    return tip, points


@dataclass
class Box:
    x: float
    y: float
    width: float
    height: float

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2

    def resized(self, size: float) -> "Box":
        cx, cy = self.center
        return Box(cx - size / 2, cy - size / 2, size, size)


def _symbol_size(kind: str) -> float | None:
    if kind in (START, END):
        return EVENT_SIZE
    if kind in (DECISION, PARALLEL):
        return GATEWAY_SIZE
    return None


def _border_point(box: Box, kind: str, toward: tuple[float, float]) -> tuple[float, float]:
    """Where a line from the centre of an event (circle) or gateway (diamond) toward a point leaves it."""
    cx, cy = box.center
    dx, dy = toward[0] - cx, toward[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    rx, ry = box.width / 2, box.height / 2
    if kind in (START, END):
        scale = 1 / ((dx / rx) ** 2 + (dy / ry) ** 2) ** 0.5
    else:
        scale = 1 / (abs(dx) / rx + abs(dy) / ry)
    return cx + dx * scale, cy + dy * scale


def diagram_geometry(version: ProcessVersion, lanes: dict[int, str], lane_order: list[str]) -> tuple:
    """Node boxes, lane boxes and edge waypoints in BPMN coordinates (y down) from Graphviz's layout.

    Lanes become horizontal bands: when Graphviz put two lane clusters side by
    side, the lower one is shifted down; otherwise positions are Graphviz's own.
    """
    data = render.layout(version)
    height = float(data["bb"].split(",")[3])
    objects = data.get("objects", [])
    by_name = {obj["name"]: obj for obj in objects if "pos" in obj}
    boxes: dict[int, Box] = {}
    for node in version.nodes:
        obj = by_name[render.node_name(node)]
        x, y = (float(v) for v in obj["pos"].split(","))
        w, h = float(obj["width"]) * POINTS_PER_INCH, float(obj["height"]) * POINTS_PER_INCH
        boxes[node.id] = Box(x - w / 2, (height - y) - h / 2, w, h)
        if _symbol_size(node.kind):
            boxes[node.id] = boxes[node.id].resized(_symbol_size(node.kind))
    # Stack lanes as bands in the order of their top edge; a lane Graphviz placed beside another
    # (their steps overlap vertically) moves down below it.
    spans = {}
    for lane in lane_order:
        members = [boxes[i] for i in boxes if lanes[i] == lane]
        spans[lane] = (min(b.y for b in members), max(b.y + b.height for b in members))
    ordered = sorted(lane_order, key=lambda lane: spans[lane][0])
    shifts, bands, cursor = {}, {}, None
    for lane in ordered:
        top, bottom = spans[lane]
        shift = max(0.0, cursor + LANE_PADDING - top) if cursor is not None else 0.0
        shifts[lane] = shift
        bands[lane] = [top + shift - LANE_PADDING, bottom + shift + LANE_PADDING]
        cursor = bottom + shift
    for previous, following in zip(ordered, ordered[1:]):  # bands touch halfway between their steps
        middle = (bands[previous][1] - LANE_PADDING + bands[following][0] + LANE_PADDING) / 2
        bands[previous][1] = bands[following][0] = middle
    for node_id, box in boxes.items():
        box.y += shifts[lanes[node_id]]
    # Move everything right and down so the pool starts near the origin. The pool and each lane draw
    # their name in a header band on their left, which steps stay clear of.
    dx = 2 * LANE_HEADER + LANE_PADDING + 10 - min(b.x for b in boxes.values())
    dy = 10 - min(band[0] for band in bands.values())
    for box in boxes.values():
        box.x += dx
        box.y += dy
    for band in bands.values():
        band[0] += dy
        band[1] += dy
    shifts = {lane: shift + dy for lane, shift in shifts.items()}
    left = min(b.x for b in boxes.values()) - LANE_PADDING - LANE_HEADER
    right = max(b.x + b.width for b in boxes.values()) + LANE_PADDING
    lane_boxes = {lane: Box(left, bands[lane][0], right - left, bands[lane][1] - bands[lane][0]) for lane in ordered}

    edge_points: dict[int, list[tuple[float, float]]] = {}
    label_points: dict[int, tuple[float, float]] = {}
    gv_edges = data.get("edges", [])
    gv_by_id = {}
    detours = {node.id: 0 for node in version.nodes}
    for gv_edge in gv_edges:
        match = re.fullmatch(r"edge-(\d+)", gv_edge.get("id", ""))
        if match:
            gv_by_id[int(match.group(1))] = gv_edge
    for edge in version.edges:
        source, target = boxes[edge.source_id], boxes[edge.target_id]
        source_shift = shifts.get(lanes[edge.source_id], 0.0)
        target_shift = shifts.get(lanes[edge.target_id], 0.0)
        gv_edge = gv_by_id.get(edge.id)
        if gv_edge is not None and "pos" in gv_edge and source_shift == target_shift:
            tip, points = _parse_points(gv_edge["pos"])
            on_curve = points[::3] + ([tip] if tip else ([points[-1]] if len(points) % 3 != 1 else []))
            points = [(x + dx, height - y + source_shift) for x, y in on_curve]
            # Graphviz ends the flow on its own, larger symbol: move the ends onto the BPMN-sized one.
            kinds = {node.id: node.kind for node in (edge.source, edge.target)}
            if _symbol_size(kinds[edge.source_id]) and len(points) >= 2:
                points[0] = _border_point(source, kinds[edge.source_id], points[1])
            if _symbol_size(kinds[edge.target_id]) and len(points) >= 2:
                points[-1] = _border_point(target, kinds[edge.target_id], points[-2])
            edge_points[edge.id] = points
            if "lp" in gv_edge:
                lx, ly = (float(v) for v in gv_edge["lp"].split(","))
                label_points[edge.id] = (lx + dx, height - ly + source_shift)
        else:
            edge_points[edge.id], label_points[edge.id] = _orthogonal_route(source, target, detours[edge.source_id])
            detours[edge.source_id] += 1
    return boxes, lane_boxes, edge_points, label_points


def _orthogonal_route(source: Box, target: Box, detour: int) -> tuple[list, tuple[float, float]]:
    """Waypoints and a label point for a flow between lanes Graphviz did not draw one above the other.

    Forward flows leave the source's right side and enter the target's left side. Flows back (rework)
    would cross their target, so they turn just past the source, run beside the target and enter it
    from above or below. ``detour`` spreads several such flows from one source apart.
    """
    sx, sy = source.x + source.width, source.center[1]
    if target.x > sx + 10:
        middle, ty = (sx + target.x) / 2, target.center[1]
        return [(sx, sy), (middle, sy), (middle, ty), (target.x, ty)], ((middle + target.x) / 2, ty - 10)
    middle, tx = sx + 20 + 12 * detour, target.center[0]
    if target.center[1] < sy:  # the target is higher up: come in from below
        side = target.y + target.height
        runway, label_y = side + 15 + 8 * detour, side + 25 + 8 * detour
    else:
        side = target.y
        runway, label_y = side - 15 - 8 * detour, side - 25 - 8 * detour
    return [(sx, sy), (middle, sy), (middle, runway), (tx, runway), (tx, side)], ((middle + tx) / 2, label_y)


def export_bpmn(version: ProcessVersion) -> bytes:
    """The version as BPMN 2.0 XML with a lane per swimlane and diagram interchange."""
    process = version.process
    lanes = render.effective_lanes(version)
    lane_order: list[str] = []
    for node in version.nodes:
        if lanes[node.id] not in lane_order:
            lane_order.append(lanes[node.id])
    taken = {node.key for node in version.nodes}

    def fresh(base: str) -> str:
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}_{number}"
        taken.add(candidate)
        return candidate

    process_id = fresh(f"Process_{process.id}")
    collaboration_id = fresh("Collaboration_1")
    participant_id = fresh("Participant_1")
    edge_ids = {edge.id: fresh(f"Flow_{edge.id}") for edge in version.edges}
    lane_ids = {lane: fresh(f"Lane_{index + 1}") for index, lane in enumerate(lane_order)}

    root = ET.Element(q("definitions"), {
        "id": fresh("Definitions_1"), "targetNamespace": "https://rollout-desk.org/bpmn",
        "exporter": "Rollout Desk", "exporterVersion": "1",
    })
    collaboration = ET.SubElement(root, q("collaboration"), {"id": collaboration_id})
    ET.SubElement(collaboration, q("participant"), {"id": participant_id, "name": process.name,
                                                   "processRef": process_id})
    process_el = ET.SubElement(root, q("process"), {
        "id": process_id, "name": process.name, "isExecutable": "false", q("laneBy", RD): version.lane_by,
        q("version", RD): str(version.number)})
    if process.description:
        ET.SubElement(process_el, q("documentation")).text = process.description
    if any(lane_order):
        lane_set = ET.SubElement(process_el, q("laneSet"), {"id": fresh("LaneSet_1")})
        for lane in lane_order:
            lane_el = ET.SubElement(lane_set, q("lane"), {"id": lane_ids[lane], "name": lane})
            for node in version.nodes:
                if lanes[node.id] == lane:
                    ET.SubElement(lane_el, q("flowNodeRef")).text = node.key
    incoming: dict[int, list[str]] = {}
    outgoing: dict[int, list[str]] = {}
    for edge in version.edges:
        outgoing.setdefault(edge.source_id, []).append(edge_ids[edge.id])
        incoming.setdefault(edge.target_id, []).append(edge_ids[edge.id])
    for node in version.nodes:
        # rd:ownerRole is always written (even empty): import then trusts it over the lane.
        attributes = {"id": node.key, "name": node.name, q("kind", RD): node.kind,
                      q("ownerRole", RD): node.owner_role or ""}
        extra = {"timeLimit": node.time_limit, "dataItems": node.data_items,
                 "ownerUser": node.owner_user.username if node.owner_user else "",
                 "department": node.department.name if node.department else ""}
        attributes.update({q(name, RD): value for name, value in extra.items() if value})
        if node.kind == SUBPROCESS and node.subprocess_id:
            attributes["calledElement"] = f"Process_{node.subprocess_id}"
            attributes[q("subprocess", RD)] = str(node.subprocess_id)
        element = ET.SubElement(process_el, q(_bpmn_tag(node.kind)), attributes)
        if node.notes:
            ET.SubElement(element, q("documentation")).text = node.notes
        for ref in incoming.get(node.id, []):
            ET.SubElement(element, q("incoming")).text = ref
        for ref in outgoing.get(node.id, []):
            ET.SubElement(element, q("outgoing")).text = ref
    keys = {node.id: node.key for node in version.nodes}
    for edge in version.edges:
        attributes = {"id": edge_ids[edge.id], "sourceRef": keys[edge.source_id], "targetRef": keys[edge.target_id]}
        if edge.label:
            attributes["name"] = edge.label
        if edge.is_exception:
            attributes[q("exception", RD)] = "true"
        ET.SubElement(process_el, q("sequenceFlow"), attributes)

    # Diagram interchange: the same layout as the Graphviz map.
    diagram = ET.SubElement(root, q("BPMNDiagram", BPMNDI), {"id": fresh("BPMNDiagram_1")})
    plane = ET.SubElement(diagram, q("BPMNPlane", BPMNDI), {"id": fresh("BPMNPlane_1"),
                                                            "bpmnElement": collaboration_id})
    if not version.nodes:
        return _serialise(root)
    boxes, lane_boxes, edge_points, label_points = diagram_geometry(version, lanes, lane_order)

    def bounds(parent, box: Box):
        ET.SubElement(parent, q("Bounds", DC), {"x": f"{box.x:.0f}", "y": f"{box.y:.0f}",
                                                "width": f"{box.width:.0f}", "height": f"{box.height:.0f}"})

    pool = Box(min(b.x for b in lane_boxes.values()) - LANE_HEADER, min(b.y for b in lane_boxes.values()),
               max(b.x + b.width for b in lane_boxes.values()) - min(b.x for b in lane_boxes.values()) + LANE_HEADER,
               max(b.y + b.height for b in lane_boxes.values()) - min(b.y for b in lane_boxes.values()))
    shape = ET.SubElement(plane, q("BPMNShape", BPMNDI), {"id": fresh(f"{participant_id}_di"),
                                                          "bpmnElement": participant_id, "isHorizontal": "true"})
    bounds(shape, pool)
    if any(lane_order):
        for lane, box in lane_boxes.items():
            shape = ET.SubElement(plane, q("BPMNShape", BPMNDI), {"id": fresh(f"{lane_ids[lane]}_di"),
                                                                  "bpmnElement": lane_ids[lane], "isHorizontal": "true"})
            bounds(shape, box)
    for node in version.nodes:
        attributes = {"id": fresh(f"{node.key}_di"), "bpmnElement": node.key}
        if node.kind == DECISION:
            attributes["isMarkerVisible"] = "true"
        if node.kind == EXCEPTION:
            attributes.update({q("border-color", COLOR): render.EXCEPTION_COLOR,
                               q("background-color", COLOR): EXCEPTION_FILL})
        shape = ET.SubElement(plane, q("BPMNShape", BPMNDI), attributes)
        bounds(shape, boxes[node.id])
    for edge in version.edges:
        attributes = {"id": fresh(f"{edge_ids[edge.id]}_di"), "bpmnElement": edge_ids[edge.id]}
        if edge.is_exception:
            attributes[q("border-color", COLOR)] = render.EXCEPTION_COLOR
        shape = ET.SubElement(plane, q("BPMNEdge", BPMNDI), attributes)
        for x, y in edge_points[edge.id]:
            ET.SubElement(shape, q("waypoint", DI), {"x": f"{x:.0f}", "y": f"{y:.0f}"})
        if edge.label and edge.id in label_points:
            lx, ly = label_points[edge.id]
            width = 12.0 * len(edge.label) + 4
            label = ET.SubElement(shape, q("BPMNLabel", BPMNDI),
                                  {q("color", COLOR): render.EXCEPTION_COLOR} if edge.is_exception else {})
            bounds(label, Box(lx - width / 2, ly - 8, width, 16))
    return _serialise(root)


def _serialise(root: ET.Element) -> bytes:
    # Registered here, not at import: other libraries claim "dc" for Dublin Core.
    for prefix, uri in PREFIXES:
        ET.register_namespace(prefix, uri)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# --- import ----------------------------------------------------------------------
@dataclass
class ImportResult:
    """The draft version made for each process of the file (version 1 of a new process, or the next
    version of the process of that name), their processes, and every element that could not be mapped."""
    processes: list[Process] = field(default_factory=list)
    versions: list[ProcessVersion] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)


def _local(tag) -> str:
    return tag.split("}", 1)[1] if isinstance(tag, str) and "}" in tag else str(tag)


def _ns(tag) -> str:
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _clean_text(value: str | None) -> str:
    return re.sub(r"\s+", " ", value or "").strip()


def _describe(element) -> str:
    name = _clean_text(element.get("name"))
    identifier = element.get("id") or "?"
    return f"{_local(element.tag)} '{name}' ({identifier})" if name else f"{_local(element.tag)} {identifier}"


def parse_bpmn(data: bytes):
    """The root element of a BPMN 2.0 file, refusing DTDs, entities and anything that is not BPMN."""
    if len(data) > MAX_BPMN_BYTES:
        raise BpmnError(_("The file is too large (at most %(mb)d MB).", mb=MAX_BPMN_BYTES // (1024 * 1024)))
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise BpmnError(_("The file declares a DTD or entities, which are not accepted.")) from None
    except ET.ParseError as error:
        line, column = getattr(error, "position", (0, 0))
        raise BpmnError(_("The file is not well-formed XML (line %(line)d, column %(column)d).",
                          line=line, column=column)) from None
    if root.tag != q("definitions"):
        raise BpmnError(_("This is not a BPMN 2.0 file: the root element must be 'definitions' in the "
                          "namespace %(ns)s.", ns=MODEL))
    seen: set[str] = set()
    for element in root.iter():
        identifier = element.get("id")
        if identifier is None:
            continue
        if identifier in seen:
            raise BpmnError(_("The id %(id)s is used by more than one element.", id=identifier))
        seen.add(identifier)
    return root


def _innermost_lanes(process_el) -> dict[str, str]:
    """Flow node id → the name of the innermost lane listing it."""
    result: dict[str, str] = {}

    def walk(lane_set, depth):
        for lane in lane_set.findall(q("lane")):
            name = _clean_text(lane.get("name")) or lane.get("id", "")
            for ref in lane.findall(q("flowNodeRef")):
                result[(ref.text or "").strip()] = name
            for child in lane.findall(q("childLaneSet")):
                walk(child, depth + 1)  # deeper lanes overwrite: innermost wins

    for lane_set in process_el.findall(q("laneSet")):
        walk(lane_set, 0)
    return result


def _lane_refs(process_el) -> list[tuple[str, str]]:
    refs = []
    for lane in process_el.iter(q("lane")):
        for ref in lane.findall(q("flowNodeRef")):
            refs.append((_clean_text(lane.get("name")) or lane.get("id", ""), (ref.text or "").strip()))
    return refs


def select_one(model, condition):
    return db.session.scalars(select(model).where(condition).limit(1)).first()


def _department_named(name: str) -> Department | None:
    return select_one(Department, or_(Department.name == name, Department.code == name))


def _node_key(identifier: str, used: set[str]) -> str | None:
    if identifier and re.fullmatch(r"[A-Za-z_][\w.\-]{0,63}", identifier) and identifier not in used:
        return identifier
    return None


def _draft_for(name: str, department_id, description: str, actor, lane_by: str) -> ProcessVersion:
    """The draft a file's process goes into: the next version of the process of that name in that
    department (as re-uploading a diagram does in other modelling tools), else a new process."""
    existing = services.process_named(name, department_id)
    if existing is not None:
        version = services.new_imported_version(existing, actor=actor, lane_by=lane_by)
    else:
        version = services.create_process(name, department_id=department_id, description=description, actor=actor,
                                          lane_by=lane_by, with_start_and_end=False).versions[0]
    with force_locale(language_of(None)):  # stored text, read by everyone: the company's language
        version.summary = _("Imported from BPMN.")
    return version


def _import_process(process_el, name: str, department_id, actor, result: ImportResult) -> ProcessVersion | None:
    elements = list(process_el)
    steps = [e for e in elements if _ns(e.tag) == MODEL and _local(e.tag) in
             TASK_TAGS | SUBPROCESS_TAGS | {"startEvent", "endEvent", "exclusiveGateway", "parallelGateway"}]
    if not steps:
        return None
    lane_by = process_el.get(q("laneBy", RD))
    lane_by = lane_by if lane_by in (LANE_BY_ROLE, LANE_BY_DEPARTMENT) else LANE_BY_ROLE
    description = "\n".join(_clean_text(d.text) for d in process_el.findall(q("documentation")) if d.text)
    version = _draft_for(name, department_id, description, actor, lane_by)
    lanes = _innermost_lanes(process_el)
    step_ids = {e.get("id") for e in steps}
    for lane_name, ref in _lane_refs(process_el):
        if ref not in step_ids and ref not in {e.get("id") for e in elements if _local(e.tag) == "boundaryEvent"}:
            result.unmapped.append(_("Lane '%(lane)s' lists %(ref)s, which is not a step.", lane=lane_name, ref=ref))
    nodes = {}
    used_keys: set[str] = set()
    for element in steps:
        tag = _local(element.tag)
        identifier = element.get("id") or ""
        kind = {"startEvent": START, "endEvent": END, "exclusiveGateway": DECISION,
                "parallelGateway": PARALLEL}.get(tag, SUBPROCESS if tag in SUBPROCESS_TAGS else TASK)
        kind = element.get(q("kind", RD)) if element.get(q("kind", RD)) in (TASK, EXCEPTION) and kind == TASK else kind
        lane = lanes.get(identifier, "")
        owner_role = element.get(q("ownerRole", RD))
        department_name = element.get(q("department", RD)) or ""
        # Our own export states owners in rd: attributes; other tools' files state them as lanes.
        if owner_role is None:
            owner_role = lane if lane_by == LANE_BY_ROLE else ""
            if lane_by == LANE_BY_DEPARTMENT and not department_name:
                department_name = lane
        department = _department_named(department_name) if department_name else None
        if department_name and department is None:
            result.unmapped.append(_("Department '%(name)s' of %(element)s does not exist here.",
                                     name=department_name, element=_describe(element)))
        username = element.get(q("ownerUser", RD)) or ""
        user = select_one(User, func.lower(User.username) == username.lower()) if username else None
        if username and user is None:
            result.unmapped.append(_("User '%(name)s' of %(element)s does not exist here.",
                                     name=username, element=_describe(element)))
        notes = "\n".join(_clean_text(d.text) for d in element.findall(q("documentation")) if d.text)
        subprocess_id = None
        if kind == SUBPROCESS:
            reference = element.get(q("subprocess", RD))
            if reference and reference.isdigit() and select_one(Process, Process.id == int(reference)):
                subprocess_id = int(reference)
            for inner in element.iter():
                if inner is not element and inner.get("id") and _local(inner.tag) not in IGNORED_TAGS:
                    result.unmapped.append(_("%(element)s inside the subprocess %(parent)s is not mapped.",
                                             element=_describe(inner), parent=_describe(element)))
        time_limit = _clean_text(element.get(q("timeLimit", RD)))[:60]
        if time_limit and services.parse_time_limit(time_limit) is None:
            result.unmapped.append(_("Time limit '%(limit)s' of %(element)s is not a number and a unit; it was "
                                     "left out.", limit=time_limit, element=_describe(element)))
            time_limit = ""
        key = _node_key(identifier, used_keys) or services._new_key(version)
        used_keys.add(key)
        nodes[identifier] = services.add_node(
            version, key=key, kind=kind, name=(_clean_text(element.get("name")) or identifier or key)[:120],
            owner_role=(owner_role or "")[:60], owner_user_id=user.id if user else None,
            department_id=department.id if department else None, time_limit=time_limit,
            data_items=element.get(q("dataItems", RD)) or "", notes=notes, subprocess_id=subprocess_id)

    boundary = {e.get("id"): e for e in elements if _local(e.tag) == "boundaryEvent"}
    flows = [e for e in elements if _local(e.tag) == "sequenceFlow"]
    flow_sources = {f.get("sourceRef") for f in flows}
    for event_id, event in boundary.items():
        if event_id not in flow_sources:
            result.unmapped.append(_("%(element)s has no outgoing flow, so it is no exception branch.",
                                     element=_describe(event)))
        elif event.get("attachedToRef") not in nodes:
            result.unmapped.append(_("%(element)s is attached to an element that is not mapped.",
                                     element=_describe(event)))
    for flow in flows:
        source_ref, target_ref = flow.get("sourceRef"), flow.get("targetRef")
        label = _clean_text(flow.get("name"))
        is_exception = flow.get(q("exception", RD)) == "true"
        if source_ref in boundary:
            event = boundary[source_ref]
            source_ref = event.get("attachedToRef")
            is_exception = True
            label = label or _clean_text(event.get("name")) or _event_type(event)
        if not label:
            condition = flow.find(q("conditionExpression"))
            if condition is not None and condition.text:
                label = _clean_text(condition.text)
        source, target = nodes.get(source_ref), nodes.get(target_ref)
        if source is None or target is None:
            result.unmapped.append(_("%(element)s from %(source)s to %(target)s: an end is not mapped.",
                                     element=_describe(flow), source=source_ref, target=target_ref))
            continue
        try:
            services.add_edge(version, source_id=source.id, target_id=target.id, label=label[:120],
                              is_exception=is_exception)
        except ServiceError as error:
            result.unmapped.append(f"{_describe(flow)}: {error.message}")
    known = TASK_TAGS | SUBPROCESS_TAGS | IGNORED_TAGS | {"startEvent", "endEvent", "exclusiveGateway",
                                                          "parallelGateway", "sequenceFlow", "boundaryEvent"}
    for element in elements:
        if _local(element.tag) not in known:
            result.unmapped.append(_("%(element)s is not mapped.", element=_describe(element)))
    services.keep_raci_of_base(version)
    return version


def _event_type(event) -> str:
    for child in event:
        tag = _local(child.tag)
        if tag.endswith("EventDefinition"):
            return tag[: -len("EventDefinition")]
    return _("exception")


def _given_name(element) -> str:
    """An element's name, unless it merely repeats its technical id (as some modellers write)."""
    name = _clean_text(element.get("name"))
    return "" if name == element.get("id") else name


def _file_title(file_name: str) -> str:
    """The file name without folder or extension (invoice-2024.bpmn → invoice-2024)."""
    return _clean_text(re.sub(r"\.(bpmn2?|xml)$", "", re.split(r"[\\/]", file_name or "")[-1], flags=re.IGNORECASE))


def import_bpmn(data: bytes, actor: User | None = None, department_id: int | None = None,
                file_name: str = "") -> ImportResult:
    """A draft per BPMN process that has steps: a new process, or the next version of the process of
    that name in the department. Unnamed processes are named after the file."""
    root = parse_bpmn(data)
    result = ImportResult()
    participant_names = {}
    for collaboration in root.findall(q("collaboration")):
        for child in collaboration:
            if _local(child.tag) == "participant" and child.get("processRef"):
                participant_names[child.get("processRef")] = _given_name(child)
            elif _local(child.tag) not in IGNORED_TAGS:
                result.unmapped.append(_("%(element)s is not mapped.", element=_describe(child)))
    used_names: set[str] = set()
    for child in root:
        tag = _local(child.tag)
        if tag == "process":
            given = participant_names.get(child.get("id")) or _given_name(child) or _file_title(file_name)
            base = (given or _("Imported process"))[:120]
            name, number = base, 1
            # Two processes of one file never land in one process; nor do nameless ones in an older one.
            while name.lower() in used_names or (not given and services.process_named(name, department_id)):
                number += 1
                suffix = f" ({number})"
                name = base[:120 - len(suffix)] + suffix
            version = _import_process(child, name, department_id, actor, result)
            if version is not None:
                used_names.add(name.lower())
                result.versions.append(version)
                result.processes.append(version.process)
            elif len(child):
                result.unmapped.append(_("%(element)s has no steps and was skipped.", element=_describe(child)))
        elif tag not in ("collaboration", "BPMNDiagram") and _ns(child.tag) != BPMNDI:
            result.unmapped.append(_("%(element)s is not mapped.", element=_describe(child)))
    if not result.processes:
        raise BpmnError(_("The file holds no process with any steps."))
    return result
