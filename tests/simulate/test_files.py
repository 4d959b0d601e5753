"""The importable files: canonical columns, referential integrity, money, timestamps."""

from __future__ import annotations

import filecmp
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from kithkin.imports.ingest import ingest_file
from kithkin.simulate import simulate_business

from .conftest import Business, header

ARCHITECTURE = Path(__file__).parents[2] / "docs" / "architecture.md"
IMPORTABLE = ("prospects", "customers", "products", "transactions", "lines", "interactions",
              "memberships")


def canonical_columns() -> dict[str, list[str]]:
    """Parse the import table of docs/architecture.md: the contract, not our own schemas."""
    columns = {}
    for line in ARCHITECTURE.read_text().splitlines():
        match = re.match(r"^\| (\w+) \| [^|]+ \| (.+) \|$", line)
        if match and match.group(1) in IMPORTABLE:
            text = re.sub(r"\(.*?\)", "", match.group(2))
            columns[match.group(1)] = [c.strip().strip("`") for c in text.split(",")]
    return columns


def test_every_file_has_exactly_the_canonical_columns(business: Business) -> None:
    expected = canonical_columns()
    assert set(expected) == set(IMPORTABLE)
    for kind, columns in expected.items():
        assert header(business.summary.files[kind]) == columns, kind


def test_no_ground_truth_in_importable_files(business: Business) -> None:
    truth_columns = {"person_id", "alive_at_end", "defection_date", "defector_type",
                     "purchase_rate_lambda", "dropout_rate_mu", "spend_nu", "mean_spend",
                     "satisfaction", "price_sensitivity", "cluster_id", "worded_as"}
    out = business.summary.out_dir
    for kind in IMPORTABLE:
        assert not truth_columns & set(header(business.summary.files[kind]))
    assert sorted(p.name for p in out.glob("*.csv")) == sorted(f"{k}.csv" for k in IMPORTABLE)
    assert {p.name for p in (out / "truth").iterdir()} == {
        "customers_truth.csv", "duplicate_clusters.csv", "prospect_conversions.csv",
        "exit_interviews_truth.csv", "params.json", "README.md",
    }


def _keys(frame: pd.DataFrame, source: str, external_id: str) -> set[tuple[str, str]]:
    return set(zip(frame[source], frame[external_id], strict=True))


def test_references_resolve(business: Business) -> None:
    customers = _keys(business["customers"], "source", "external_id")
    assert len(customers) == len(business["customers"])
    for kind in ("transactions", "memberships"):
        refs = _keys(business[kind], "customer_source", "customer_external_id")
        assert refs <= customers, kind
    interactions = business["interactions"]
    by_customer = interactions[interactions.customer_external_id.notna()]
    assert _keys(by_customer, "customer_source", "customer_external_id") <= customers
    by_prospect = interactions[interactions.customer_external_id.isna()]
    assert len(by_prospect) > 0
    assert set(by_prospect.prospect_external_id) <= set(business["prospects"].external_id)
    assert (interactions.customer_external_id.notna()
            ^ interactions.prospect_external_id.notna()).all()
    assert set(business["lines"].sku) <= set(business["products"].sku)


def test_ids_are_unique(business: Business) -> None:
    for kind, key in (("transactions", ["source", "order_id"]),
                      ("lines", ["source", "order_id", "line_no"]),
                      ("interactions", ["source", "external_id"]),
                      ("memberships", ["source", "external_id"]),
                      ("prospects", ["source", "external_id"]),
                      ("products", ["sku"])):
        assert not business[kind].duplicated(key).any(), kind
    shop = business["customers"].query("source == 'shop'").email.dropna().str.lower()
    assert shop.is_unique


def test_amount_cost_and_discount_equal_the_sum_of_lines(business: Business) -> None:
    lines = business["lines"].copy()
    assert set(lines.order_id) == set(business["transactions"].order_id)
    lines["net"] = lines.quantity * lines.unit_price - lines.discount
    lines["line_cost"] = lines.quantity * lines.unit_cost
    sums = lines.groupby("order_id")[["net", "line_cost", "discount"]].sum()
    orders = business["transactions"].set_index("order_id").loc[sums.index]
    np.testing.assert_allclose(orders.amount, sums.net, atol=0.006)
    np.testing.assert_allclose(orders.cost, sums.line_cost, atol=0.006)
    np.testing.assert_allclose(orders.discount, sums.discount, atol=0.006)
    line_numbers = lines.groupby("order_id").line_no.agg(["min", "max", "count"])
    assert (line_numbers["min"] == 1).all()
    assert (line_numbers["max"] == line_numbers["count"]).all()


def test_refunds_are_a_small_share_of_negative_orders(business: Business) -> None:
    orders = business["transactions"]
    refunds = orders[orders.order_id.str.endswith("-R")]
    assert (refunds.amount < 0).all()
    assert (orders[~orders.order_id.str.endswith("-R")].amount > 0).all()
    assert 0.005 < len(refunds) / len(orders) < 0.05
    originals = orders.set_index("order_id").loc[refunds.order_id.str[:-2]]
    assert (refunds.ordered_at.to_numpy() > originals.ordered_at.to_numpy()).all()


def test_bundles_and_discounts_occur(business: Business) -> None:
    lines = business["lines"]
    assert lines.bundle.notna().mean() > 0.02
    assert (business["transactions"].discount > 0).mean() > 0.05


def test_timestamps_are_iso_8601_with_offset_inside_the_history(business: Business) -> None:
    path = business.summary.files["transactions"]
    rows = path.read_text().splitlines()[1:200]
    for row in rows:
        stamp = datetime.fromisoformat(row.split(",")[4].strip('"'))
        assert stamp.utcoffset() is not None
        assert stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    end = pd.Timestamp(business.summary.params.end, tz="UTC")
    ordered = business["transactions"].ordered_at
    assert ordered.max() < end
    assert ordered.min() >= end - pd.Timedelta(days=3 * 365.25)


def test_output_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    runs = [simulate_business(customers=300, years=2, seed=seed, out_dir=tmp_path / name)
            for seed, name in ((5, "a"), (5, "b"), (6, "c"))]
    for name in runs[0].files:
        assert filecmp.cmp(runs[0].files[name], runs[1].files[name], shallow=False), name
    assert not filecmp.cmp(runs[0].files["transactions"], runs[2].files["transactions"],
                           shallow=False)


def test_parquet_holds_the_same_records_as_csv(tmp_path: Path) -> None:
    csv = simulate_business(customers=300, years=2, seed=2, out_dir=tmp_path / "csv")
    parquet = simulate_business(customers=300, years=2, seed=2, out_dir=tmp_path / "pq",
                                fmt="parquet")
    assert csv.rows == parquet.rows
    orders = pq.read_table(parquet.files["transactions"])
    assert orders.column_names == header(csv.files["transactions"])
    ordered_at = orders.schema.field("ordered_at").type
    assert pa.types.is_timestamp(ordered_at)
    assert ordered_at.tz == "UTC"


@pytest.mark.parametrize("bad", [{"customers": 0}, {"duplicates_rate": 2.0}, {"years": -1}])
def test_invalid_parameters_are_rejected(tmp_path: Path, bad: dict[str, float]) -> None:
    from pydantic import ValidationError

    kwargs: dict[str, Any] = {"customers": 10, "years": 1, "seed": 0, **bad}
    with pytest.raises(ValidationError):
        simulate_business(out_dir=tmp_path, **kwargs)


@pytest.mark.parametrize("hard", [False, True])
def test_files_import_without_rejects(tmp_path: Path, sqlite_engine: Engine, hard: bool) -> None:
    """The real importer accepts every row, in dependency order, even of hard duplicates."""
    summary = simulate_business(customers=250, years=2, seed=8, out_dir=tmp_path,
                                hard=hard, duplicates_rate=0.3)
    for kind in ("products", "customers", "prospects", "transactions", "lines",
                 "interactions", "memberships"):
        report = ingest_file(kind=kind, path=summary.files[kind], engine=sqlite_engine)
        assert report.rows_rejected == 0, (kind, report.reject_path)
        assert report.rows_read == summary.rows[kind]
