"""Chart builders and the locally served assets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from kithkin.dashboard import charts

REPO = Path(__file__).resolve().parents[2]


def test_chart_json_cannot_close_its_script_block() -> None:
    chart = charts.bar_chart("x", "Stages", categories=["</script><b>x"], series={"n": [1]})
    assert "</script>" not in chart.figure_json
    assert json.loads(chart.figure_json)["data"][0]["x"] == ["</script><b>x"]


def test_charts_describe_themselves_for_screen_readers() -> None:
    bar = charts.bar_chart("b", "Orders", categories=["a", "b"], series={"n": [3, 4]})
    assert bar.description == "Orders. n: a 3, b 4"
    hist = charts.histogram_chart("h", "CLV", edges=[0, 10, 20], counts=[5, 2], x_title="")
    assert hist.description == "CLV: 7 customers in 2 bins from 0 to 20"
    heat = charts.heatmap_chart("m", "Cohorts", x=[0, 1], y=["a"], z=[[1.0, None]],
                                x_title="", y_title="", z_title="share")
    assert heat.description == "Cohorts: 1 rows by 2 columns"


def test_every_chart_has_a_data_table_of_the_numbers_it_draws() -> None:
    bar = charts.bar_chart("b", "Orders", categories=["a", "b"],
                           series={"n": [3, 4], "m": [1250.5, 0]}, row_label="stage")
    figure = json.loads(bar.figure_json)
    assert bar.table.columns == ["stage", "n", "m"]
    assert bar.table.rows == [["a", "3", "1,250"], ["b", "4", "0"]]
    assert [row[0] for row in bar.table.rows] == figure["data"][0]["x"]
    line = charts.line_chart("l", "Retention", x=["2025-01", "2025-02"],
                             series={"retained": [None, 0.25]}, y_format=".0%")
    assert line.table.rows == [["2025-01", "–"], ["2025-02", "25%"]]  # unknown is not 0
    hist = charts.histogram_chart("h", "CLV", edges=[0, 10, 20], counts=[5, 2], x_title="")
    assert hist.table.rows == [["0", "10", "5"], ["10", "20", "2"]]
    heat = charts.heatmap_chart("m", "Cohorts", x=[0, 1], y=["2025-01"], z=[[1.0, None]],
                                x_title="months", y_title="cohort", z_title="share")
    assert heat.table.columns == ["cohort", "0", "1"]
    assert heat.table.rows == [["2025-01", "100%", "–"]]


def test_heatmap_reads_dark_as_high_and_titles_its_scale() -> None:
    heat = charts.heatmap_chart("m", "Cohorts", x=[0, 1], y=["a"], z=[[1.0, 0.2]],
                                x_title="", y_title="", z_title="share buying again",
                                z_max=0.3)
    trace = json.loads(heat.figure_json)["data"][0]
    scale = trace["colorscale"]

    def luminance(colour: str) -> float:
        red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    assert isinstance(scale, list) and scale[0][0] == 0 and scale[-1][0] == 1
    assert luminance(scale[0][1]) > luminance(scale[-1][1])  # low is light, high is dark
    assert trace.get("reversescale") is not True
    assert trace["colorbar"]["title"]["text"] == "share buying again"
    assert (trace["zmin"], trace["zmax"]) == (0, 0.3)


def test_plotly_js_comes_from_the_installed_package_not_the_repo(
        login: Callable[[str], TestClient]) -> None:
    client = login("agent")
    response = client.get("/static/vendor/plotly.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert b"plotly" in response.content[:2000].lower()
    assert not list(REPO.joinpath("src").rglob("plotly*.js"))
    assert client.get("/static/dashboard/dashboard.css").status_code == 200
    assert client.get("/static/dashboard/..%2Fweb.py").status_code == 404
