"""svg_chart: well-formed SVG with Chinese labels, no scripts, usable inline in pages."""
import defusedxml.ElementTree as ET
import pytest
from flask_babel import force_locale

from rollout.reports.charts import svg_chart

SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(str(svg))
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


def test_chart_kinds_carry_chinese_labels_and_no_script(app):
    for kind in ("bar", "hbar", "line", "stacked", "hstacked"):
        with app.test_request_context():
            svg = svg_chart(kind, "各部门上线准备度", ["销售部", "市场部", "财务部"],
                            {"培训完成": [12, 8, 3], "种子用户": [2, 1, None]})
        texts = _texts(svg)
        for word in ("各部门上线准备度", "销售部", "市场部", "财务部", "培训完成", "种子用户"):
            assert word in texts, (kind, word, texts)
        assert "<script" not in svg
        assert "Noto Sans CJK SC" in svg  # the CJK font stack the page and the PDF both have
        assert 'role="img"' in svg and 'aria-label="各部门上线准备度"' in svg


def test_axis_numbers_are_short_in_the_readers_language(app):
    """8,400,000 on an axis reads 840万 in Chinese and 8.4M in English, on either axis."""
    for kind in ("line", "bar", "hbar", "stacked"):
        for locale, expected in (("zh_CN", "800万"), ("en", "8M")):
            with app.test_request_context(), force_locale(locale):
                svg = svg_chart(kind, "", ["10-07", "10-14"], {"累计签约额": [1_250_000, 8_400_000]})
            texts = _texts(svg)
            assert expected in texts, (kind, locale, texts)
            assert not any(t.isdigit() and len(t) > 4 for t in texts), (kind, texts)
    with app.test_request_context():
        texts = _texts(svg_chart("line", "", ["1", "2"], {"完成率": [0, 100]}))
    assert "100" in texts and "0" in texts  # small numbers stay as they are


def test_pie_has_one_slice_per_series(app):
    with app.test_request_context():
        svg = svg_chart("pie", "需求来源", [], {"问卷": [30], "访谈": [12, 3]})
    texts = _texts(svg)
    assert "问卷" in texts and "访谈" in texts


def test_empty_chart_says_so_in_the_users_language(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        svg = svg_chart("bar", "空", ["销售部"], {})
    assert "暂无数据" in _texts(svg)


def test_titles_are_escaped(app):
    with app.test_request_context():
        svg = svg_chart("bar", '<b>"报表"</b>', ["a"], {"x": [1]})
    ET.fromstring(str(svg))  # still well-formed
    assert "<b>" not in svg


def test_unknown_kind_is_an_error(app):
    with app.test_request_context(), pytest.raises(ValueError):
        svg_chart("radar", "x", [], {})


def test_the_audit_summary_page_shows_the_chart(client_as, company):
    page = client_as("admin").get("/reports/audit-summary").get_data(as_text=True)
    assert "<svg" in page and "<script" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]
