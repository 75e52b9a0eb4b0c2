"""Rendering: links in the SVG, owners and lanes drawn, the CJK font in every format, the cache."""
import math
import re

import graphviz

from processmaps import render, services
from processmaps.models import ProcessRender
from rollout.extensions import db
from tests.processmaps.helpers import nodes_by_key, sales_process


def test_dot_draws_owners_lanes_exception_flows_and_the_cjk_font(company):
    version = sales_process(company).versions[0]
    source = render.dot_source(version, node_url=lambda node: f"/processes/nodes/{node.id}")
    assert 'fontname="Noto Sans CJK SC"' in source
    assert 'subgraph "cluster_0"' in source and 'label=<销售代表>' in source and 'label=<销售经理>' in source
    assert f"销售经理 · {company['head'].display_name}" in source  # owner inside the node
    assert 'style="dashed"' in source and "报价审批不通过" in source
    quote = nodes_by_key(version)["quote"]
    assert f'URL="/processes/nodes/{quote.id}"' in source


def test_swimlanes_per_department(company):
    version = sales_process(company).versions[0]
    services.set_lane_mode(version, "department")
    assert 'label=<销售部>' in render.dot_source(version)


def test_svg_links_nodes_to_their_pages_and_keeps_the_font(company):
    version = sales_process(company).versions[0]
    svg = render.inline_svg(render.render(version, "svg", node_url=lambda n: f"/processes/nodes/{n.id}"))
    assert svg.startswith("<svg")
    assert f'href="/processes/nodes/{nodes_by_key(version)["quote"].id}"' in svg
    assert "Noto Sans CJK SC" in svg and "报价审批" in svg


def test_png_and_pdf_use_the_cjk_font(company):
    version = sales_process(company).versions[0]
    png = render.render(version, "png")
    assert png.startswith(b"\x89PNG")
    pdf = render.render(version, "pdf")
    assert pdf.startswith(b"%PDF") and b"NotoSansCJK" in pdf


def test_a_second_view_does_not_run_graphviz(company, client_as, monkeypatch):
    process = sales_process(company, approve=True)
    calls = []
    real_pipe = graphviz.pipe

    def counting_pipe(*args, **kwargs):
        calls.append(args[1])
        return real_pipe(*args, **kwargs)

    monkeypatch.setattr(graphviz, "pipe", counting_pipe)
    client = client_as("staff")
    assert client.get(f"/processes/{process.id}/v/1").status_code == 200
    assert calls == ["svg"]
    assert client.get(f"/processes/{process.id}/v/1").status_code == 200
    assert client.get(f"/processes/{process.id}/v/1").status_code == 200
    assert calls == ["svg"]
    assert db.session.query(ProcessRender).count() == 1


def test_changing_the_content_draws_again(company):
    version = sales_process(company).versions[0]
    render.render(version, "svg")
    services.update_node(nodes_by_key(version)["quote"], name="报价（含折扣）")
    svg = render.render(version, "svg")
    assert "报价（含折扣）" in svg.decode()
    assert db.session.query(ProcessRender).count() == 2


def test_highlights_mark_added_and_changed_steps(company):
    version = sales_process(company).versions[0]
    source = render.dot_source(version, highlight={"added_nodes": {"quote"}, "changed_nodes": {"sign"},
                                                   "added_edges": set(), "changed_edges": set()})
    assert render.ADDED_COLOR in source and render.CHANGED_COLOR in source


def test_every_node_sits_in_a_lane(company):
    version = sales_process(company).versions[0]
    assert all(render.effective_lanes(version).values())


def test_names_cannot_inject_markup_into_the_page(company):
    version = sales_process(company).versions[0]
    services.update_node(nodes_by_key(version)["quote"], name='<script>alert(1)</script>" onmouseover="x',
                         owner_role='销售代表 & "经理" \\N')
    svg = render.inline_svg(render.render(version, "svg", node_url=lambda n: f"/processes/nodes/{n.id}"))
    assert "<script" not in svg and 'onmouseover="x' not in svg
    assert "&lt;script&gt;" in svg


def test_a_parallel_step_is_a_small_diamond_with_a_plus_and_its_name_underneath(company):
    version = sales_process(company).versions[0]
    services.add_node(version, key="split", kind="parallel", name="同时处理")
    source = render.dot_source(version)
    line = next(text for text in source.splitlines() if text.strip().startswith('"split"'))
    assert 'shape="diamond"' in line and 'fixedsize="shape"' in line
    assert render.PARALLEL_MARK in line and "同时处理" in line
    assert line.index(render.PARALLEL_MARK) < line.rindex("同时处理")  # the visible name comes after the mark
    assert "no owner" not in line  # it steers the flow; nobody works in it
    decision = next(text for text in source.splitlines() if text.strip().startswith('"approval"'))
    assert "fixedsize" not in decision and "+</B>" not in decision
    svg = render.inline_svg(render.render(version, "svg"))
    assert 'id="node&#45;split"' in svg and "同时处理" in svg and 'font-size="22.00">+<' in svg


def test_a_step_with_only_a_named_owner_is_drawn_in_that_persons_lane_never_a_neighbours(company):
    version = sales_process(company).versions[0]
    nodes = nodes_by_key(version)
    # 签约成单 follows 报价审批 (销售经理's lane); named owner only, it gets a lane of its own.
    services.update_node(nodes["sign"], owner_role="", owner_user_id=company["other_head"].id,
                         department_id=company["departments"]["finance"].id)
    unowned = services.add_node(version, key="unowned", kind="task", name="待定步骤")
    services.add_edge(version, source_id=nodes["approval"].id, target_id=unowned.id, label="特殊情况")
    lanes = render.effective_lanes(version)
    person = company["other_head"].display_name
    assert lanes[nodes["sign"].id] == person
    assert lanes[unowned.id] == "Unassigned"
    assert lanes[nodes["quote"].id] == "销售代表"
    source = render.dot_source(version)
    assert f"label=<{person}>" in source and "label=<Unassigned>" in source
    # Per department: a step without one is in the no-department lane, not its neighbour's.
    services.set_lane_mode(version, "department")
    services.update_node(nodes["quote"], department_id=None)
    lanes = render.effective_lanes(version)
    assert lanes[nodes["quote"].id] == "No department" and lanes[nodes["sign"].id] == "财务部"


def test_long_names_wrap_to_a_bounded_width(company):
    assert render.wrap_text("销售机会跟进流程中的报价审批步骤", 12) == ["销售机会跟进", "流程中的报价", "审批步骤"]
    assert render.wrap_text("Approve the invoice now", 12) == ["Approve the", "invoice now"]
    assert render.wrap_text("x" * 30, 12) == ["x" * 12, "x" * 12, "x" * 6]
    assert render.wrap_text("", 12) == [""]
    version = sales_process(company).versions[0]
    services.update_node(nodes_by_key(version)["quote"], name="报" * 120, owner_role="角" * 60)
    line = next(text for text in render.dot_source(version).splitlines() if text.strip().startswith('"quote"'))
    label = line.split(", tooltip=")[0]  # the tooltip keeps the whole name on one line
    assert label.count("<TR>") >= 120 // (render.NAME_WIDTH // 2)  # a line each
    assert "报" * (render.NAME_WIDTH // 2 + 1) not in label
    assert "label=<" + "<BR/>".join(["角" * (render.LANE_LABEL_WIDTH // 2)] * 3) + "<BR/>" + "角" * 6 + ">" in \
        render.dot_source(version)
    # Drawn, the step stays far narrower than its name written on one line.
    layout = render.layout(version)
    box = next(obj for obj in layout["objects"] if obj.get("name") == "quote")
    assert float(box["width"]) < 4  # inches


def test_events_are_small_circles_with_their_name_underneath(company):
    version = sales_process(company).versions[0]
    start = next(n for n in version.nodes if n.kind == "start")
    services.update_node(start, name="客户提交了一份很长很长的询价单并等待回复")
    svg = render.render(version, "svg").decode()
    group = svg.split(f'id="node&#45;{start.key}"')[1].split("</g>")[0]
    rx = float(re.search(r'<ellipse[^>]* rx="([\d.]+)"', group).group(1))
    assert rx < 20  # points: a fixed symbol, not a circle grown around its name
    circle_y = float(re.search(r'<ellipse[^>]* cy="([-\d.]+)"', group).group(1))
    texts = re.findall(r'<text[^>]* y="([-\d.]+)"[^>]*>([^<]*)</text>', group)
    assert texts and all(float(y) > circle_y + rx for y, _text in texts)  # the name is underneath
    assert "fffffe" not in svg  # the invisible copy that centres the symbol is not in the drawing


def test_conditions_are_tied_to_their_flow(company):
    source = render.dot_source(sales_process(company).versions[0])
    assert 'decorate="true"' in source.split("\n")[3]  # the edge defaults
    assert "label=<审批通过>" in source


def test_a_page_map_never_shrinks_below_a_readable_share_of_its_size_but_a_printed_one_fits(company):
    version = sales_process(company).versions[0]
    drawn = render.render(version, "svg")
    width = float(re.search(rb'<svg[^>]*\swidth="([\d.]+)pt"', drawn).group(1))
    on_page = render.inline_svg(drawn)
    assert f'style="min-width: {width * render.MIN_MAP_SCALE:.0f}pt"' in on_page
    assert "min-width" not in render.inline_svg(drawn, min_scale=None)


def test_a_wide_map_prints_in_parts_that_overlap_and_cover_it():
    svg = ('<svg class="process-map-svg" width="3000pt" height="300pt"\n viewBox="0.00 0.00 3000.00 300.00" '
           'xmlns="http://www.w3.org/2000/svg"><g/></svg>')
    parts = render.printed_slices(svg)
    boxes = [tuple(float(v) for v in re.search(r'viewBox="([^"]+)"', part).group(1).split()) for part in parts]
    assert len(parts) == math.ceil(3000 * render.MIN_MAP_SCALE / render.PRINTED_WIDTH_PT) == 3
    assert boxes[0][0] == 0 and boxes[-1][0] + boxes[-1][2] == 3000  # the whole width, left to right
    assert all(boxes[i][0] < boxes[i - 1][0] + boxes[i - 1][2] for i in range(1, len(boxes)))  # overlapping
    assert all(f'width="{box[2]:.0f}pt"' in part for part, box in zip(parts, boxes))
    narrow = svg.replace("3000", "700")
    assert render.printed_slices(narrow) == [narrow]
