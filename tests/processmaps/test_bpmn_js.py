"""Our BPMN export opened by bpmn.io's own viewer (bpmn-js) in Chromium: no errors or warnings,
every step and flow drawn where our diagram interchange puts it.

`make install` puts bpmn-js into .cache/bpmn-js when npm is present and `make test` then sets
RUN_BPMN_JS, so a missing viewer fails the run instead of skipping the check unnoticed.
"""
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from processmaps import bpmn
from processmaps.bpmn import BPMNDI, DC, DI, MODEL
from tests.processmaps.helpers import demo_processes, large_process

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
BPMN_JS_DIST = ROOT / ".cache" / "bpmn-js" / "node_modules" / "bpmn-js" / "dist"
VIEWER = BPMN_JS_DIST / "bpmn-navigated-viewer.production.min.js"
BPMN_TYPES = {"start": "bpmn:StartEvent", "end": "bpmn:EndEvent", "task": "bpmn:UserTask",
              "exception": "bpmn:UserTask", "decision": "bpmn:ExclusiveGateway",
              "parallel": "bpmn:ParallelGateway", "subprocess": "bpmn:CallActivity"}

#: Imports the XML into a fresh viewer and reports what bpmn-js made of every element.
IMPORT_AND_DESCRIBE = """
async (xml) => {
  document.getElementById('canvas').innerHTML = '';
  const viewer = new BpmnJS({ container: '#canvas' });
  let warnings;
  try {
    ({ warnings } = await viewer.importXML(xml));
  } catch (error) {
    return { error: String(error), warnings: (error.warnings || []).map(w => w.message) };
  }
  const registry = viewer.get('elementRegistry');
  const elements = {};
  registry.forEach(element => {
    if (element.type === 'label') return;
    const gfx = registry.getGraphics(element);
    const path = gfx && gfx.querySelector('.djs-visual path');
    elements[element.id] = {
      type: element.type,
      name: element.businessObject.name || '',
      bounds: element.waypoints ? null : [element.x, element.y, element.width, element.height],
      waypoints: element.waypoints ? element.waypoints.map(p => [p.x, p.y]) : null,
      drawn: !!gfx && (!element.waypoints || (!!path && (path.getAttribute('d') || '').length > 0)),
    };
  });
  viewer.get('canvas').zoom('fit-viewport');
  return { warnings: warnings.map(w => w.message), elements };
}
"""


def q(tag, ns=MODEL):
    return f"{{{ns}}}{tag}"


@pytest.fixture
def bpmn_js(page):
    """A blank page with the bpmn-js viewer loaded from the npm package."""
    if not VIEWER.is_file():
        message = (f"bpmn-js is not installed: {VIEWER.relative_to(ROOT)} is missing. `make install` runs "
                   "`npm install --prefix .cache/bpmn-js bpmn-js@$BPMN_JS_VERSION` (pinned in the Makefile); "
                   "it needs npm and access to the npm registry.")
        if os.environ.get("RUN_BPMN_JS"):
            pytest.fail(f"RUN_BPMN_JS is set but {message}", pytrace=False)
        pytest.skip(message)
    page.set_viewport_size({"width": 1600, "height": 900})
    page.set_content('<html><body style="margin:0"><div id="canvas" style="width:1600px;height:900px">'
                     "</div></body></html>")
    page.add_style_tag(path=str(BPMN_JS_DIST / "assets" / "diagram-js.css"))
    page.add_style_tag(path=str(BPMN_JS_DIST / "assets" / "bpmn-js.css"))
    page.add_script_tag(path=str(VIEWER))
    return page


def written_diagram(xml: bytes):
    """What our export wrote: element id → DI bounds, flow id → DI waypoints, and the lane ids."""
    root = ET.fromstring(xml)
    bounds, waypoints = {}, {}
    for shape in root.iter(q("BPMNShape", BPMNDI)):
        b = shape.find(q("Bounds", DC))
        bounds[shape.get("bpmnElement")] = [float(b.get(k)) for k in ("x", "y", "width", "height")]
    for edge in root.iter(q("BPMNEdge", BPMNDI)):
        waypoints[edge.get("bpmnElement")] = [[float(p.get("x")), float(p.get("y"))]
                                              for p in edge.findall(q("waypoint", DI))]
    lanes = {lane.get("id"): lane.get("name") for lane in root.iter(q("lane"))}
    flows = [flow.get("id") for flow in root.iter(q("sequenceFlow"))]
    return bounds, waypoints, lanes, flows


def assert_opened_as_written(page, version):
    xml = bpmn.export_bpmn(version)
    result = page.evaluate(IMPORT_AND_DESCRIBE, xml.decode("utf-8"))
    assert "error" not in result, result
    assert result["warnings"] == []
    elements = result["elements"]
    bounds, waypoints, lanes, flows = written_diagram(xml)
    for node in version.nodes:
        shape = elements.get(node.key)
        assert shape is not None, f"{node.name} ({node.key}) has no shape"
        assert (shape["type"], shape["name"]) == (BPMN_TYPES[node.kind], node.name)
        assert shape["bounds"] == bounds[node.key], node.key
        assert shape["drawn"], node.key
    for lane_id, name in lanes.items():
        assert (elements[lane_id]["type"], elements[lane_id]["name"]) == ("bpmn:Lane", name)
    # Every shape we wrote (pool, lanes, steps) sits exactly where our diagram interchange put it.
    assert {element_id: elements.get(element_id, {}).get("bounds") for element_id in bounds} == bounds
    assert len(flows) == len(version.edges)
    for flow_id in flows:
        connection = elements.get(flow_id)
        assert connection is not None and connection["type"] == "bpmn:SequenceFlow", flow_id
        assert connection["waypoints"] == waypoints[flow_id], flow_id
        assert connection["drawn"], flow_id
    return result


def test_bpmn_js_opens_the_demo_sales_process_as_exported(bpmn_js, company, factory, tmp_path):
    sales = demo_processes(company, factory)[0]
    for version in sales.versions:  # the approved version, and the draft with a parallel split and join
        assert_opened_as_written(bpmn_js, version)
        lanes = bpmn_js.locator(".djs-element[data-element-id^='Lane_']")
        assert lanes.count() == len({n.owner_role for n in version.nodes if n.owner_role})
        for name in ("报价审批", "客户流失", "销售代表"):
            assert bpmn_js.locator("svg text", has_text=name).count() >= 1, name
        bpmn_js.screenshot(path=str(tmp_path / f"bpmn-js-demo-sales-v{version.number}.png"))
    assert any(n.kind == "parallel" for n in sales.versions[1].nodes)


def test_bpmn_js_opens_the_demo_lead_handoff_with_department_lanes(bpmn_js, company, factory):
    handoff = demo_processes(company, factory)[1]
    assert_opened_as_written(bpmn_js, handoff.versions[0])


def test_bpmn_js_opens_a_200_step_map_with_parallel_splits_as_exported(bpmn_js, company, tmp_path):
    version = large_process(company, size=200).versions[0]
    assert len(version.nodes) == 200 and any(n.kind == "parallel" for n in version.nodes)
    result = assert_opened_as_written(bpmn_js, version)
    assert sum(1 for e in result["elements"].values() if e["type"] == "bpmn:ParallelGateway") == 38
    bpmn_js.screenshot(path=str(tmp_path / "bpmn-js-200.png"))
