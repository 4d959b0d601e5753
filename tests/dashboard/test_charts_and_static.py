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
                                x_title="", y_title="")
    assert heat.description == "Cohorts: 1 rows by 2 columns"


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
