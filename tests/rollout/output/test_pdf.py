"""render_pdf: Chinese text with an embedded CJK font, header, page numbers, repeated table headers."""
import io
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from jinja2 import ChoiceLoader, DictLoader
from pypdf import PdfReader

from rollout.reports.charts import svg_chart
from rollout.reports.pdf import ExternalResourceRefused, check_resource, render_pdf

ROWS = [{"name": f"客户{n:03d}", "owner": "销售代表 张伟", "amount": f"{n * 1234.5:,.2f}"} for n in range(90)]
LONG_REPORT = """{% extends "reports/base.html" %}{% block content %}
<h1>销售计划跟踪报告</h1><p>本报告汇总了各部门的上线准备情况。</p>
<table><thead><tr><th>客户名称</th><th>负责人</th><th class="num">预计金额</th></tr></thead><tbody>
{% for r in rows %}<tr><td>{{ r.name }}</td><td>{{ r.owner }}</td><td class="num">{{ r.amount }}</td></tr>{% endfor %}
</tbody></table>{% endblock %}"""
CHART_REPORT = """{% extends "reports/base.html" %}{% block content %}<h1>准备度</h1>
<div class="chart">{{ chart }}</div>{% endblock %}"""
IMAGE_REPORT = """{% extends "reports/base.html" %}{% block content %}<p>图片</p>
<img src="{{ image_url }}">{% endblock %}"""


@pytest.fixture(autouse=True)
def test_templates(app, monkeypatch):
    """Report templates for these tests, found before the project's own."""
    loader = ChoiceLoader([DictLoader({"test/long.html": LONG_REPORT, "test/chart.html": CHART_REPORT,
                                       "test/image.html": IMAGE_REPORT}), app.jinja_env.loader])
    monkeypatch.setattr(app.jinja_env, "loader", loader)
    app.jinja_env.cache.clear()
    yield
    app.jinja_env.cache.clear()


def _fonts(reader):
    """(base font name, has an embedded font file) of every font used on any page."""
    found = set()
    for page in reader.pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            descriptors = [font.get("/FontDescriptor")]
            for descendant in font.get("/DescendantFonts", []):
                descriptors.append(descendant.get_object().get("/FontDescriptor"))
            embedded = any(d is not None and any(k in d.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3"))
                           for d in descriptors)
            found.add((str(font["/BaseFont"]), embedded))
    return found


def test_chinese_text_embedded_font_header_and_page_numbers(app, monkeypatch):
    monkeypatch.setitem(app.config, "COMPANY_NAME", "华东智联科技有限公司")
    with app.test_request_context():
        data = render_pdf("test/long.html", rows=ROWS, report_title="月度报告", report_date="2026-11-27")
    reader = PdfReader(io.BytesIO(data))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 3
    assert "销售计划跟踪报告" in pages[0] and "上线准备情况" in pages[0]
    for number, text in enumerate(pages, start=1):
        assert f"{number} / {len(pages)}" in text  # page numbers
        assert "华东智联科技有限公司" in text and "月度报告" in text and "2026-11-27" in text  # header
        assert "客户名称" in text and "负责人" in text  # the table header repeats on every page
    assert "客户089" in pages[-1]
    fonts = _fonts(reader)
    cjk = [(name, embedded) for name, embedded in fonts if "CJK" in name or "WenQuanYi" in name]
    assert cjk and all(embedded for _name, embedded in cjk), fonts


def test_the_same_svg_chart_renders_in_the_pdf(app):
    with app.test_request_context():
        chart = svg_chart("bar", "各部门培训完成率", ["销售部", "财务部"], {"已完成": [12, 5], "未完成": [3, 4]})
        data = render_pdf("test/chart.html", chart=chart)
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    for word in ("各部门培训完成率", "销售部", "财务部", "已完成"):
        assert word in text


def test_reports_cannot_load_outside_resources():
    for url in ("http://169.254.169.254/latest/meta-data", "https://example.com/x.png", "file:///etc/passwd",
                "file:///work/main/rollout/static/../config.py"):
        with pytest.raises(ExternalResourceRefused):
            check_resource(url)


def test_reports_may_load_static_files_and_data_urls(app):
    from rollout.reports.pdf import STATIC_ROOT
    check_resource("data:image/png;base64,iVBORw0KGgo=")
    check_resource((STATIC_ROOT / "app.css").as_uri())


def test_a_user_written_external_image_is_not_fetched(app):
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with app.test_request_context():
            data = render_pdf("test/image.html", image_url=f"http://127.0.0.1:{server.server_port}/secret.png")
    finally:
        server.shutdown()
        server.server_close()
    assert data.startswith(b"%PDF") and hits == []
