"""Plotly figure builders for the dashboard.

Figures are built on the server as plain Plotly JSON (data + layout) and drawn by the page's
own script with the locally served plotly.js. Plain dicts, not ``plotly.graph_objects``:
validating a graph object costs tens of milliseconds per chart, which a page with five
charts would pay on every request. Every chart carries a text description, used as the
accessible name of the drawing, and a data table built from the same numbers as the
figure (WCAG 1.1.1: a chart without words is invisible to a screen reader, and a keyboard
user cannot hover a bar to read its value).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

# One restrained palette, readable for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
# Bar charts reserve at least this many bar widths, so one or two bars stay bar-shaped.
MIN_SLOTS = 6
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
GRID = "#e4e7eb"
# ColorBrewer "Blues" (Brewer 2003), light = low to dark = high.
SEQUENTIAL = [[0.0, "#f7fbff"], [0.125, "#deebf7"], [0.25, "#c6dbef"], [0.375, "#9ecae1"],
              [0.5, "#6baed6"], [0.625, "#4292c6"], [0.75, "#2171b5"], [0.875, "#08519c"],
              [1.0, "#08306b"]]

Figure = dict[str, Any]


@dataclass(frozen=True)
class DataTable:
    """The numbers a chart draws, as text: ``columns`` head the table, the first cell of
    each row names it (a row header). None cells read "–" (unknown, not zero)."""

    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Chart:
    """A figure ready for a template: a stable DOM id, a title and two text alternatives
    (a one-line description and the data table)."""

    id: str
    title: str
    description: str
    figure_json: str
    table: DataTable


def cell(value: float | int | str | None, number_format: str = "") -> str:
    """One table cell: a d3-style ``.0%`` format gives percentages, else plain numbers."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if number_format.endswith("%"):
        digits = number_format.strip(".%") or "0"
        return f"{value:.{int(digits)}%}"
    return _number(float(value))


def layout(*, x_title: str = "", y_title: str = "", height: int = 300) -> dict[str, Any]:
    """The house style: transparent background, light grid, legend below."""
    return {
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 16, "b": 48},
        "font": {"family": FONT, "size": 12, "color": "#1f2933"},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "colorway": list(PALETTE),
        "legend": {"orientation": "h", "y": -0.2},
        # Plotly's default toolbar backdrop is the paper colour at half opacity: black
        # here, so a grey bar under which the focus ring and icons lose their contrast.
        "modebar": {"bgcolor": "rgba(255,255,255,0.85)", "color": "#52606d",
                    "activecolor": "#1849a9"},
        # automargin: long tick labels (months, cohort names) push the titles out
        # instead of being cut or overlapping them.
        "xaxis": {"title": {"text": x_title}, "gridcolor": GRID, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "gridcolor": GRID, "zerolinecolor": "#cbd2d9",
                  "automargin": True},
    }


def make_chart(chart_id: str, title: str, description: str,
               figure: Figure | go.Figure, *, table: DataTable) -> Chart:
    """Wrap a figure (Plotly JSON dict or graph object) for the ``chart`` template macro;
    ``table`` must hold the same numbers as the figure."""
    text = figure.to_json() if isinstance(figure, go.Figure) else json.dumps(
        figure, allow_nan=False)
    # "</" is escaped so no label can close the <script> block the JSON sits in.
    return Chart(id=chart_id, title=title, description=description,
                 figure_json=text.replace("</", "<\\/"), table=table)


def bar_chart(chart_id: str, title: str, *, categories: Sequence[str],
              series: dict[str, Sequence[float]], x_title: str = "", y_title: str = "",
              stacked: bool = False, row_label: str = "") -> Chart:
    """Bars per category, one trace per series (stacked when the series add up);
    ``row_label`` heads the categories in the data table (default: the x title)."""
    shape = layout(x_title=x_title, y_title=y_title)
    shape.update(barmode="stack" if stacked else "group", showlegend=len(series) > 1)
    shape["xaxis"]["type"] = "category"  # "2025-01" labels stay labels, not dates
    if len(categories) < MIN_SLOTS:  # a lone bar must not fill the whole plot
        pad = (MIN_SLOTS - len(categories)) / 2
        shape["xaxis"]["range"] = [-0.5 - pad, len(categories) - 0.5 + pad]
    figure = {"data": [{"type": "bar", "name": name, "x": list(categories), "y": list(values)}
                       for name, values in series.items()], "layout": shape}
    if len(categories) <= 12:
        description = f"{title}. " + "; ".join(
            f"{name}: " + ", ".join(f"{c} {_number(v)}"
                                    for c, v in zip(categories, values, strict=True))
            for name, values in series.items()
        )
    else:
        peak = max((max(values, default=0.0) for values in series.values()), default=0.0)
        description = (f"{title}: {len(categories)} bars from {categories[0]} to "
                       f"{categories[-1]}, highest {_number(peak)}")
    table = DataTable(columns=[row_label or x_title or "category", *series],
                      rows=[[str(c), *(cell(values[i]) for values in series.values())]
                            for i, c in enumerate(categories)])
    return make_chart(chart_id, title, description, figure, table=table)


def line_chart(chart_id: str, title: str, *, x: Sequence[Any],
               series: dict[str, Sequence[float | None]], x_title: str = "",
               y_title: str = "", y_format: str = "", row_label: str = "") -> Chart:
    """Lines over time, one trace per series (None is a gap); ``y_format`` is a d3 format
    such as ``.0%``; ``row_label`` heads the x values in the data table."""
    shape = layout(x_title=x_title, y_title=y_title)
    shape["showlegend"] = len(series) > 1
    if y_format:
        shape["yaxis"]["tickformat"] = y_format
    figure = {"data": [{"type": "scatter", "mode": "lines+markers", "name": name,
                        "x": list(x), "y": list(values)} for name, values in series.items()],
              "layout": shape}
    description = f"{title}, {len(x)} points"
    if x:
        description += f" from {x[0]} to {x[-1]}"
    table = DataTable(columns=[row_label or x_title or "x", *series],
                      rows=[[str(point), *(cell(values[i], y_format)
                                           for values in series.values())]
                            for i, point in enumerate(x)])
    return make_chart(chart_id, title, description, figure, table=table)


def histogram_chart(chart_id: str, title: str, *, edges: Sequence[float],
                    counts: Sequence[int], x_title: str) -> Chart:
    """A distribution binned on the server: ``len(edges) == len(counts) + 1``."""
    shape = layout(x_title=x_title, y_title="customers")
    shape["bargap"] = 0
    figure = {"data": [{
        "type": "bar", "x": [(low + high) / 2 for low, high in itertools.pairwise(edges)],
        "y": list(counts), "width": [high - low for low, high in itertools.pairwise(edges)],
        "marker": {"color": PALETTE[0], "line": {"width": 0.5, "color": "#fff"}},
        "hovertemplate": "%{x:,.0f}: %{y} customers<extra></extra>",
    }], "layout": shape}
    description = (f"{title}: {sum(counts)} customers in {len(counts)} bins from "
                   f"{_number(edges[0])} to {_number(edges[-1])}" if counts else title)
    table = DataTable(columns=["from", "to", "customers"],
                      rows=[[cell(low), cell(high), cell(n)] for (low, high), n
                            in zip(itertools.pairwise(edges), counts, strict=True)])
    return make_chart(chart_id, title, description, figure, table=table)


def heatmap_chart(chart_id: str, title: str, *, x: Sequence[Any], y: Sequence[Any],
                  z: Sequence[Sequence[float | None]], x_title: str, y_title: str,
                  z_title: str, z_format: str = ".0%", z_max: float | None = None) -> Chart:
    """A matrix such as cohort retention: rows ``y``, columns ``x``, cell values ``z``.

    Light to dark is low to high (ColorBrewer's sequential Blues; Plotly's own "Blues"
    runs the other way), the colour bar is titled ``z_title``, and ``z_max`` caps the
    scale (cells above it take the darkest colour) so that one column of certainties,
    such as month 0 of a cohort, does not wash out every other cell.
    """
    shape = layout(x_title=x_title, y_title=y_title, height=max(300, 28 * len(y) + 90))
    shape["yaxis"].update(autorange="reversed", type="category", showgrid=False)
    shape["xaxis"].update(showgrid=False, dtick=1)
    trace: dict[str, Any] = {
        "type": "heatmap", "x": list(x), "y": [str(label) for label in y],
        "z": [list(row) for row in z], "colorscale": SEQUENTIAL, "zmin": 0,
        "hoverongaps": False, "texttemplate": f"%{{z:{z_format}}}",
        "colorbar": {"tickformat": z_format, "title": {"text": z_title, "side": "right"}},
    }
    if z_max is not None:
        trace["zmax"] = z_max
    figure = {"data": [trace], "layout": shape}
    description = f"{title}: {len(y)} rows by {len(x)} columns"
    table = DataTable(columns=[y_title, *(str(column) for column in x)],
                      rows=[[str(label), *(cell(v, z_format) for v in row)]
                            for label, row in zip(y, z, strict=True)])
    return make_chart(chart_id, title, description, figure, table=table)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
