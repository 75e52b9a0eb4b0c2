"""Server-side SVG charts (pygal): the same SVG serves the page and the PDF.

The SVG is inlined in the HTML, so its text is real text: Chinese labels use
the CJK font stack, are searchable on the page and are extractable from the
PDF.  pygal's tooltip script is removed: the CSP forbids inline scripts and
WeasyPrint ignores them.
"""
from __future__ import annotations

import re

import pygal
from babel.numbers import format_compact_decimal
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape
from pygal.style import Style

CJK_FONTS = '"Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif'

STYLE = Style(
    font_family=CJK_FONTS, label_font_family=CJK_FONTS, major_label_font_family=CJK_FONTS,
    value_font_family=CJK_FONTS, title_font_family=CJK_FONTS, legend_font_family=CJK_FONTS,
    tooltip_font_family=CJK_FONTS, no_data_font_family=CJK_FONTS, background="white",
    plot_background="white",
    colors=("#1f4e79", "#e07b39", "#3a9d5d", "#c0392b", "#8e44ad", "#16a085", "#7f8c8d"),
    title_font_size=16, label_font_size=12, major_label_font_size=12, legend_font_size=12,
    no_data_font_size=16,
)

KINDS = {"bar": pygal.Bar, "hbar": pygal.HorizontalBar, "line": pygal.Line, "pie": pygal.Pie,
         "stacked": pygal.StackedBar, "hstacked": pygal.HorizontalStackedBar}
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)


def axis_number(value: float | None) -> str:
    """A value on an axis in the reader's short form: 840万 (or 8.4M) reads at a glance, 8400000 does not."""
    if value is None:
        return ""
    return format_compact_decimal(value, locale=get_locale() or "en", fraction_digits=2)


def whole_ticks(top: int) -> list[int]:
    """Axis ticks for counts: whole numbers from 0 past ``top``, ten or so (steps of 1, 2, 5, 10, 20 …);
    pygal's own ticks would put 0.5 people on a count axis."""
    top, step = max(int(top), 1), 1
    while top / step > 10:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return list(range(0, top + step, step))


def svg_chart(kind: str, title: str, labels: list[str], series: dict[str, list], width: int = 720,
              height: int = 360, name: str = "", **options) -> Markup:
    """An inline SVG chart. ``series`` maps a legend name to values aligned with ``labels``.

    ``kind`` is one of bar, hbar, line, pie, stacked, hstacked; extra pygal
    options (e.g. ``x_label_rotation``) pass through. ``name`` is what a screen reader announces
    for a chart drawn without a title (one whose heading is beside it on the page).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown chart kind {kind!r}")
    accessible_name = title or name
    options.setdefault("show_legend", len(series) > 1 or kind == "pie")
    options.setdefault("value_formatter", axis_number)
    chart = KINDS[kind](style=STYLE, width=width, height=height, js=[], explicit_size=False,
                        disable_xml_declaration=True, legend_at_bottom=True, print_values=False,
                        no_data_text=_("No data"), **options)
    chart.title = title
    has_data = any(v is not None for values in series.values() for v in values)
    if not has_data:
        pass  # pygal draws no_data_text instead of empty axes
    elif kind == "pie":
        # One slice per series: its values summed.
        for name, values in series.items():
            chart.add(str(name), float(sum(v or 0 for v in values)))
    else:
        chart.x_labels = [str(label) for label in labels]
        for name, values in series.items():
            chart.add(str(name), [None if v is None else float(v) for v in values])
    svg = _SCRIPT.sub("", chart.render(is_unicode=True))
    # An accessible name for screen readers; the SVG scales to its container (viewBox).
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(accessible_name)}" ', 1)
    # An untitled chart gets pygal's own name as its hover text: use the chart's name (or nothing) instead.
    svg = svg.replace("<title>Pygal</title>",
                      f"<title>{escape(accessible_name)}</title>" if accessible_name else "", 1)
    return Markup(svg)


def no_data_yet(title: str, message: str) -> Markup:
    """What stands in for a chart with nothing to draw yet: its title and why it is empty, in words
    (on the page and in the PDF) instead of an empty axis."""
    return Markup('<div class="border rounded bg-white p-3 text-center d-flex flex-column justify-content-center" '
                  'style="min-height: 10rem" data-testid="chart-empty"><div class="fw-semibold mb-1">{}</div>'
                  '<div class="text-muted small">{}</div></div>').format(title, message)
