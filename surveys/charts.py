"""The charts of a survey's results page: answer counts per option and Likert matrices."""
from __future__ import annotations

import unicodedata

from flask_babel import gettext as _
from markupsafe import Markup

from rollout.reports.charts import svg_chart, whole_ticks
from surveys.models import DECIMAL, INTEGER
from surveys.services import localized

#: A Likert scale's colours from disagree to agree: ColorBrewer's RdBu (red to blue, readable with colour
#: blindness) with a grey middle, as its near-white middle would vanish on the white chart.
DIVERGING = ("#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#bdbdbd", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac")
#: pygal's own style sheets, kept when a chart adds rules of its own.
PYGAL_CSS = ("file://style.css", "file://graph.css")


def results_charts(summaries) -> tuple[dict, dict]:
    """SVG charts by question id, and the colours of each Likert question's scale (for its table)."""
    charts, scale_colors = {}, {}
    for summary in summaries:
        question = summary.question
        if summary.counts and question.type not in (INTEGER, DECIMAL):
            charts[question.id] = counts_chart([label for label, _count in summary.counts],
                                               [count for _label, count in summary.counts], name=localized(question))
        elif summary.matrix:
            charts[question.id] = likert_chart(question.id, summary.matrix, name=localized(question))
            scale_colors[question.id] = diverging_colors(len(question.choices))
    return charts, scale_colors


def counts_chart(labels: list[str], counts: list[int], name: str = "") -> Markup:
    """How many answers each option got, as horizontal bars on a whole-number axis; ``name`` (the
    question) is what a screen reader announces."""
    return svg_chart("hbar", "", labels, {_("Answers"): counts}, name=name, width=560,
                     height=max(140, 28 * len(labels) + 60), y_labels=whole_ticks(max(counts)),
                     margin_left=label_room(labels))


def likert_chart(question_id: int, matrix: dict[str, list[tuple[str, int]]], name: str = "") -> Markup:
    """Statements as horizontal bars stacked from disagree to agree. The table under the chart is its
    legend and gives each statement in full."""
    statements = list(matrix)[::-1]  # pygal draws the first label at the bottom: keep the table's order
    scale = [label for label, _count in matrix[statements[0]]]
    series = {choice: [matrix[row][i][1] for row in statements] for i, choice in enumerate(scale)}
    top = max(sum(count for _label, count in counts) for counts in matrix.values())
    # pygal colours series from the chart style's palette; these rules replace it for this chart only. They
    # need !important to win over pygal's rules, which are scoped by the chart's own id.
    chart_class = f"likert-{question_id}"
    css = "".join(f".{chart_class} .color-{i},.{chart_class} .color-{i} a:visited"
                  f"{{fill:{colour}!important;stroke:{colour}!important}}"
                  for i, colour in enumerate(diverging_colors(len(scale))))
    labels = [short_label(statement) for statement in statements]
    return svg_chart("hstacked", "", labels, series, name=name, width=560, height=max(120, 44 * len(statements) + 50),
                     y_labels=whole_ticks(top), show_legend=False, margin_left=label_room(labels),
                     classes=("pygal-chart", chart_class), css=(*PYGAL_CSS, "inline:" + css))


def diverging_colors(count: int) -> list[str]:
    """``count`` colours for a scale ordered from disagree to agree, picked evenly along DIVERGING."""
    if count == 1:
        return [DIVERGING[len(DIVERGING) // 2]]
    last = len(DIVERGING) - 1
    return [DIVERGING[round(index * last / (count - 1))] for index in range(count)]


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def short_label(text: str, width: int = 36) -> str:
    """``text`` cut to about ``width`` Latin letters (a Chinese character counts as two), with "…"."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if _is_wide(char) else 1
        if used > width:
            return text[:index].rstrip() + "…"
    return text


def label_room(labels: list[str], font_size: int = 12, margin: int = 20) -> int:
    """The left margin a horizontal chart needs so its labels are not cut at the edge: pygal makes room
    for 0.6 em a character, and a Chinese character is a whole em wide."""
    def width(text: str) -> float:
        return sum(font_size if _is_wide(char) else 0.6 * font_size for char in text)
    reserved = 0.6 * font_size * max((len(label) for label in labels), default=0)
    return margin + max(0, round(max((width(label) for label in labels), default=0) - reserved))
