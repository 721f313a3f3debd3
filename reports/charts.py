"""Chart geometry for the dashboard: the server computes every coordinate and the
templates draw plain SVG (no JavaScript). Numbers are formatted here, as strings,
so the markup never depends on the locale's decimal separator.

The charts are pictures of the numbers; each report's table beside it carries the
same numbers for screen readers and for reading exact values.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence

WIDTH = 640
LABEL_WIDTH = 150  # category names, right-aligned left of the bars
VALUE_WIDTH = 80  # room for the value printed after the longest bar
BAR_HEIGHT = 18
BAR_GAP = 3
GROUP_GAP = 12
LEGEND_HEIGHT = 24
MAX_LABEL_CHARS = 20


def _n(value: float) -> str:
    """A coordinate, short and locale-free."""
    return f"{value:.1f}".removesuffix(".0")


def _short(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _legend(names: Sequence[str], y: float = 4) -> list[dict]:
    items, x = [], 0.0
    for index, name in enumerate(names):
        items.append(
            {
                "series": index,
                "name": name,
                "x": _n(x),
                "y": _n(y),
                "text_x": _n(x + 16),
                "text_y": _n(y + 11),
            }
        )
        x += 24 + 8 * len(name)
    return items


def bar_chart(
    chart_id: str,
    label: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], Sequence[str]]],
) -> dict:
    """Horizontal bars, one group per category, one bar per series in each group.
    `series`: (name, values, the text printed after each bar)."""
    legend = _legend([name for name, _values, _texts in series]) if len(series) > 1 else []
    top = LEGEND_HEIGHT if legend else 4
    values = [value or 0 for _name, vals, _texts in series for value in vals]
    peak = max(values, default=0) or 1
    area = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    group_height = len(series) * BAR_HEIGHT + (len(series) - 1) * BAR_GAP
    rows = []
    for index, category in enumerate(categories):
        y0 = top + index * (group_height + GROUP_GAP)
        bars = []
        for number, (_name, vals, texts) in enumerate(series):
            value = vals[index] or 0
            width = value / peak * area
            if value > 0:
                width = max(width, 2)
            y = y0 + number * (BAR_HEIGHT + BAR_GAP)
            bars.append(
                {
                    "series": number,
                    "x": _n(LABEL_WIDTH),
                    "y": _n(y),
                    "width": _n(width),
                    "height": _n(BAR_HEIGHT),
                    "text": texts[index],
                    "text_x": _n(LABEL_WIDTH + width + 6),
                    "text_y": _n(y + BAR_HEIGHT / 2),
                }
            )
        rows.append(
            {
                "label": _short(category),
                "label_x": _n(LABEL_WIDTH - 8),
                "label_y": _n(y0 + group_height / 2),
                "bars": bars,
            }
        )
    height = top + max(len(categories), 1) * (group_height + GROUP_GAP)
    return {
        "kind": "bars",
        "template": "reports/_bar_chart.html",
        "id": chart_id,
        "label": label,
        "width": WIDTH,
        "height": _n(height),
        "legend": legend,
        "rows": rows,
        "empty": not categories,
        "axis_x": _n(LABEL_WIDTH),
        "axis_bottom": _n(height - GROUP_GAP / 2),
    }


def nice_ceiling(peak: float, ticks: int = 4) -> tuple[float, float]:
    """(top of the axis, step): a step of 1, 2 or 5 x 10^k, `ticks` steps high."""
    if peak <= 0:
        return float(ticks), 1.0
    raw = peak / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        step = factor * magnitude
        if step >= raw:
            break
    step = max(step, 1.0)  # counts: no fractional ticks
    return step * ticks, step


LINE_HEIGHT = 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 16, 12, 28


def line_chart(
    chart_id: str,
    label: str,
    days: Sequence[datetime.date],
    series: Sequence[tuple[str, Sequence[float | None]]],
) -> dict:
    """One line per series over the days; a None value is a gap in its line."""
    legend = _legend([name for name, _values in series])
    top = PAD_TOP + LEGEND_HEIGHT
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = LINE_HEIGHT - top - PAD_BOTTOM
    known = [value for _name, values in series for value in values if value is not None]
    ceiling, step = nice_ceiling(max(known, default=0))
    count = len(days)

    def x(index: int) -> float:
        return PAD_LEFT + (plot_w / 2 if count == 1 else index * plot_w / (count - 1))

    def y(value: float) -> float:
        return top + plot_h - value / ceiling * plot_h

    lines = []
    for number, (name, values) in enumerate(series):
        runs: list[list[tuple[float, float]]] = [[]]
        for index, value in enumerate(values):
            if value is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((x(index), y(value)))
        runs = [run for run in runs if run]
        lines.append(
            {
                "series": number,
                "name": name,
                "paths": [
                    " ".join(f"{_n(px)},{_n(py)}" for px, py in run) for run in runs if len(run) > 1
                ],
                "dots": [{"x": _n(run[0][0]), "y": _n(run[0][1])} for run in runs if len(run) == 1],
            }
        )
    ticks = []
    value = 0.0
    while value <= ceiling + 1e-9:
        ticks.append({"y": _n(y(value)), "text": _n(value)})
        value += step
    labels = []
    if count:
        for index in sorted({0, count // 2, count - 1}):
            anchor = "start" if index == 0 else "end" if index == count - 1 else "middle"
            if count == 1:
                anchor = "middle"
            labels.append({"x": _n(x(index)), "text": days[index].isoformat(), "anchor": anchor})
    return {
        "kind": "lines",
        "template": "reports/_line_chart.html",
        "id": chart_id,
        "label": label,
        "width": WIDTH,
        "height": LINE_HEIGHT,
        "legend": legend,
        "lines": lines,
        "ticks": ticks,
        "labels": labels,
        "plot_left": _n(PAD_LEFT),
        "plot_right": _n(WIDTH - PAD_RIGHT),
        "plot_top": _n(top),
        "plot_bottom": _n(top + plot_h),
        "label_y": _n(LINE_HEIGHT - 8),
        "tick_x": _n(PAD_LEFT - 6),
        "empty": not known,
    }
