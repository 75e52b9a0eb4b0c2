"""Server-side SVG charts (pygal): the same SVG serves the page and the PDF."""
from __future__ import annotations

import pygal
from markupsafe import Markup
from pygal.style import Style

CJK_FONTS = '"Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif'

STYLE = Style(
    font_family=CJK_FONTS, label_font_family=CJK_FONTS, major_label_font_family=CJK_FONTS,
    value_font_family=CJK_FONTS, title_font_family=CJK_FONTS, legend_font_family=CJK_FONTS,
    tooltip_font_family=CJK_FONTS, background="white", plot_background="white",
    colors=("#1f4e79", "#e07b39", "#3a9d5d", "#c0392b", "#8e44ad", "#16a085", "#7f8c8d"),
    title_font_size=16, label_font_size=12, major_label_font_size=12, legend_font_size=12,
)

_KINDS = {"bar": pygal.Bar, "hbar": pygal.HorizontalBar, "line": pygal.Line, "pie": pygal.Pie,
          "stacked": pygal.StackedBar}


def svg_chart(kind: str, title: str, labels: list[str], series: dict[str, list], width: int = 720,
              height: int = 360, **options) -> Markup:
    """An inline SVG chart. ``series`` maps a legend name to values aligned with ``labels``."""
    chart_class = _KINDS[kind]
    chart = chart_class(style=STYLE, width=width, height=height, js=[], explicit_size=True,
                        disable_xml_declaration=True, show_legend=len(series) > 1 or kind == "pie",
                        legend_at_bottom=True, print_values=False, **options)
    chart.title = title
    if kind == "pie":
        for name, values in series.items():
            chart.add(name, sum(v or 0 for v in values))
    else:
        chart.x_labels = labels
        for name, values in series.items():
            chart.add(name, [None if v is None else float(v) for v in values])
    return Markup(chart.render(is_unicode=True))
