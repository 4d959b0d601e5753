"""Plotly figure builders for the dashboard.

Figures are built on the server as plain Plotly JSON (data + layout) and drawn by the page's
own script with the locally served plotly.js. Plain dicts, not ``plotly.graph_objects``:
validating a graph object costs tens of milliseconds per chart, which a page with five
charts would pay on every request. Every chart carries a text description, used as the
accessible name of the drawing, because a chart without words is invisible to a screen
reader and to anyone skimming the page.
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

Figure = dict[str, Any]


@dataclass(frozen=True)
class Chart:
    """A figure ready for a template: a stable DOM id, a title and a text alternative."""

    id: str
    title: str
    description: str
    figure_json: str


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
        # automargin: long tick labels (months, cohort names) push the titles out
        # instead of being cut or overlapping them.
        "xaxis": {"title": {"text": x_title}, "gridcolor": GRID, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "gridcolor": GRID, "zerolinecolor": "#cbd2d9",
                  "automargin": True},
    }


def make_chart(chart_id: str, title: str, description: str,
               figure: Figure | go.Figure) -> Chart:
    """Wrap a figure (Plotly JSON dict or graph object) for the ``chart`` template macro."""
    text = figure.to_json() if isinstance(figure, go.Figure) else json.dumps(
        figure, allow_nan=False)
    # "</" is escaped so no label can close the <script> block the JSON sits in.
    return Chart(id=chart_id, title=title, description=description,
                 figure_json=text.replace("</", "<\\/"))


def bar_chart(chart_id: str, title: str, *, categories: Sequence[str],
              series: dict[str, Sequence[float]], x_title: str = "", y_title: str = "",
              stacked: bool = False) -> Chart:
    """Bars per category, one trace per series (stacked when the series add up)."""
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
    return make_chart(chart_id, title, description, figure)


def line_chart(chart_id: str, title: str, *, x: Sequence[Any],
               series: dict[str, Sequence[float | None]], x_title: str = "",
               y_title: str = "", y_format: str = "") -> Chart:
    """Lines over time, one trace per series (None is a gap); ``y_format`` is a d3 format
    such as ``.0%``."""
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
    return make_chart(chart_id, title, description, figure)


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
    return make_chart(chart_id, title, description, figure)


def heatmap_chart(chart_id: str, title: str, *, x: Sequence[Any], y: Sequence[Any],
                  z: Sequence[Sequence[float | None]], x_title: str, y_title: str,
                  z_format: str = ".0%") -> Chart:
    """A matrix such as cohort retention: rows ``y``, columns ``x``, cell values ``z``."""
    shape = layout(x_title=x_title, y_title=y_title, height=max(300, 28 * len(y) + 90))
    shape["yaxis"].update(autorange="reversed", type="category", showgrid=False)
    shape["xaxis"].update(showgrid=False, dtick=1)
    figure = {"data": [{
        "type": "heatmap", "x": list(x), "y": [str(label) for label in y],
        "z": [list(row) for row in z], "colorscale": "Blues", "hoverongaps": False,
        "texttemplate": f"%{{z:{z_format}}}", "colorbar": {"tickformat": z_format},
    }], "layout": shape}
    description = f"{title}: {len(y)} rows by {len(x)} columns"
    return make_chart(chart_id, title, description, figure)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
