"""Real-looking exports (Shopify, Stripe, a generic orders file), --set constants,
generated order ids, quantity on the order, ignored columns and the preview service."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from kithkin.api.app import create_app
from kithkin.cli.main import app
from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.errors import IngestError, ValidationError
from kithkin.imports.ingest import IngestOptions, ingest_file, load_mapping_file
from kithkin.imports.ingest.options import build_options, load_preset, preset_names
from kithkin.imports.ingest.preview import preview_file
from kithkin.imports.ingest.suggest import suggest_mapping
from kithkin.users import service as user_service
from kithkin.users.models import Role

from .helpers import count, seed_customers, write_csv

SHOPIFY_HEADER = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total",
    "Discount Code", "Discount Amount", "Shipping Method", "Created at",
    "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem sku",
    "Billing Name", "Refunded Amount", "Source", "Id"]


def _shopify_row(name: str, email: str, status: str, total: str, created: str, qty: int,
                 item: str, price: str, sku: str, refunded: str = "0.00",
                 first: bool = True) -> list[str]:
    """A line row; order-level cells only on the order's first row, as Shopify writes."""
    order = [status, created if status == "paid" else "", "fulfilled", "", "yes", "EUR",
             total, "4.90", "0.00", total, "", "0.00", "Standard"] if first else [""] * 13
    return [name, email, *order, created, str(qty), item, price, sku,
            "Ann Lee" if first else "", refunded if first else "", "web",
            "5512345678901" if first else ""]


def _shopify(folder: Path) -> Path:
    return write_csv(folder / "orders_export_1.csv", [
        SHOPIFY_HEADER,
        _shopify_row("#1001", "ann@example.com", "paid", "49.80", "2024-03-01 10:01:50 +0100",
                     2, "Tea mug", "14.95", "MUG-01"),
        _shopify_row("#1001", "ann@example.com", "", "", "2024-03-01 10:01:50 +0100",
                     1, "Green tea 100g", "15.00", "TEA-100", first=False),
        _shopify_row("#1002", "bob@example.com", "partially_refunded", "30.00",
                     "2024-03-04 16:20:00 +0100", 2, "Green tea 100g", "15.00", "TEA-100",
                     refunded="15.00"),
        _shopify_row("#1003", "cy@example.com", "voided", "15.00",
                     "2024-03-05 09:00:00 +0100", 1, "Green tea 100g", "15.00", "TEA-100"),
        _shopify_row("#1003", "cy@example.com", "", "", "2024-03-05 09:00:00 +0100",
                     1, "Tea mug", "14.95", "MUG-01", first=False),
        _shopify_row("#1004", "ann@example.com", "refunded", "15.00",
                     "2024-03-09 12:00:00 +0100", 1, "Green tea 100g", "15.00", "TEA-100",
                     refunded="15.00"),
    ])


STRIPE_HEADER = ["id", "Description", "Seller Message", "Created (UTC)", "Amount",
                 "Amount Refunded", "Currency", "Converted Amount",
                 "Converted Amount Refunded", "Fee", "Tax", "Converted Currency", "Mode",
                 "Status", "Statement Descriptor", "Customer ID", "Customer Description",
                 "Customer Email", "Captured", "Card ID"]


def _charge(charge: str, created: str, amount: str, refunded: str, status: str,
            customer: str, email: str) -> list[str]:
    return [charge, "Subscription update", "Payment complete.", created, amount, refunded,
            "eur", amount, refunded, "0.55", "0", "eur", "Live", status, "KITHKIN",
            customer, "", email, "true" if status != "Failed" else "false",
            "card_1OaBcD2eZvKYlo2C"]


def _stripe(folder: Path) -> Path:
    return write_csv(folder / "unified_payments.csv", [
        STRIPE_HEADER,
        _charge("ch_3OaBcD2eZvKYlo2C0x1", "2024-03-01 14:22:05", "29.00", "0.00", "Paid",
                "cus_PQ7tZ1", "ann@example.com"),
        _charge("ch_3OaBcD2eZvKYlo2C0x2", "2024-04-01 14:22:07", "29.00", "29.00",
                "Refunded", "cus_PQ7tZ1", "ann@example.com"),
        _charge("ch_3OaBcD2eZvKYlo2C0x3", "2024-04-02 08:00:00", "99.00", "0.00", "Failed",
                "cus_XY2b", "bob@example.com"),
        _charge("ch_3OaBcD2eZvKYlo2C0x4", "2024-04-03 08:00:00", "59.00", "9.00", "Paid",
                "cus_XY2b", "bob@example.com"),
    ])


def _orders(engine: Engine, source: str) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            'SELECT t.order_id, t.amount, t.quantity, t.currency, t.discount, '
            'i.external_id AS customer FROM "transaction" t JOIN customer_identifier i '
            'ON i.customer_id = t.customer_id WHERE t.source = :s'), {"s": source})
        orders = {row.order_id: dict(row._mapping) for row in rows}
    for order in orders.values():  # PostgreSQL returns Numeric as Decimal
        for name in ("amount", "discount"):
            order[name] = None if order[name] is None else float(order[name])
    return orders


def test_the_presets_are_shipped() -> None:
    assert {"generic", "shopify", "stripe"} <= set(preset_names())
    with pytest.raises(ValidationError, match="is for transactions"):
        load_preset("shopify", kind="customers")
    with pytest.raises(ValidationError, match="unknown preset"):
        load_preset("magento")


def test_shopify_export_one_order_per_name_voided_skipped_refunds_netted(
        store_engine: Engine, tmp_path: Path) -> None:
    sqlite_engine = store_engine  # and PostgreSQL
    path = _shopify(tmp_path)
    options = build_options(kind="transactions", preset="shopify")
    report = ingest_file(kind="transactions", path=path, mapping=options,
                         engine=sqlite_engine)
    assert (report.rows_read, report.rows_written, report.combined, report.skipped,
            report.rows_rejected) == (6, 3, 1, 2, 0), report
    assert report.customers_created == 2  # ann and bob; cy's only order was voided
    assert {"Paid at", "Lineitem name", "Lineitem sku", "Billing Name"} <= set(
        report.ignored_columns)
    orders = _orders(sqlite_engine, "shopify")
    assert {k: (v["amount"], v["quantity"], v["customer"]) for k, v in orders.items()} == {
        "#1001": (49.8, 3.0, "ann@example.com"),
        "#1002": (15.0, 2.0, "bob@example.com"),  # 30.00 less the 15.00 refunded
        "#1004": (0.0, 1.0, "ann@example.com"),  # refunded in full: kept at 0
    }
    again = ingest_file(kind="transactions", path=path, mapping=options,
                        engine=sqlite_engine)
    assert (again.inserted, again.unchanged, again.customers_created) == (0, 3, 0)


def test_stripe_charges_failed_skipped_refunds_netted(sqlite_engine: Engine,
                                                      tmp_path: Path) -> None:
    report = ingest_file(kind="transactions", path=_stripe(tmp_path),
                         mapping=build_options(kind="transactions", preset="stripe"),
                         engine=sqlite_engine)
    assert (report.rows_written, report.skipped, report.rows_rejected) == (3, 1, 0), report
    assert "Fee" in report.ignored_columns and "Customer Email" in report.ignored_columns
    orders = _orders(sqlite_engine, "stripe")
    assert {k[-1]: (v["amount"], v["currency"], v["customer"]) for k, v in orders.items()} == {
        "1": (29.0, "EUR", "cus_PQ7tZ1"), "2": (0.0, "EUR", "cus_PQ7tZ1"),
        "4": (50.0, "EUR", "cus_XY2b")}


def test_generic_orders_export_with_set_overriding_a_column(sqlite_engine: Engine,
                                                            tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", [
        ["Order Number", "Customer ID", "Order Date", "Total", "Qty", "Status", "Store",
         "Notes"],
        ["A-1", "C-001", "03/01/2024", "19.90", "2", "Completed", "north", "gift"],
        ["A-2", "C-002", "04/01/2024", "5.00", "1", "Cancelled", "north", ""],
        ["A-3", "C-001", "05/01/2024", "7.50", "", "Completed", "south", ""],
    ])
    options = build_options(kind="transactions", preset="generic",
                            constants=["source=erp", "channel=store"],
                            columns=["Store=channel"])
    report = ingest_file(kind="transactions", path=path, mapping=options,
                         engine=sqlite_engine)
    assert (report.rows_written, report.skipped) == (2, 1), report
    # --set wins over the column mapped to the same field; both are listed as ignored.
    assert report.ignored_columns == ["Store", "Notes"]
    orders = _orders(sqlite_engine, "erp")
    assert orders["A-1"]["quantity"] == 2.0
    assert orders["A-3"]["quantity"] is None  # not given: unknown, not 0
    with sqlite_engine.connect() as conn:
        channels = set(conn.execute(text('SELECT channel FROM "transaction"')).scalars())
    assert channels == {"store"}


def test_mapping_file_set_and_defaults_sections(sqlite_engine: Engine,
                                                tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    mapping = tmp_path / "orders.toml"
    mapping.write_text('[columns]\n"Ref" = "order_id"\n[set]\nsource = "shop"\n'
                       '[defaults]\ncurrency = "GBP"\n', encoding="utf-8")
    path = write_csv(tmp_path / "orders.csv", [
        ["Ref", "customer_external_id", "ordered_at", "amount", "currency"],
        ["o1", "c1", "2024-01-01", "10", ""], ["o2", "c2", "2024-01-02", "12", "EUR"]])
    report = ingest_file(kind="transactions", path=path, mapping=load_mapping_file(mapping),
                         engine=sqlite_engine)
    assert report.rows_written == 2, report
    orders = _orders(sqlite_engine, "shop")
    assert (orders["o1"]["currency"], orders["o2"]["currency"]) == ("GBP", "EUR")


def test_set_names_an_unknown_field(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", [["order_id"], ["o1"]])
    with pytest.raises(IngestError, match="--set names unknown field 'shop'"):
        ingest_file(kind="transactions", path=path, engine=sqlite_engine,
                    mapping=IngestOptions().with_constants(["shop=x"]))
    with pytest.raises(ValidationError, match="--set expects field=value"):
        IngestOptions().with_constants(["source"])


def test_generated_order_ids_one_order_per_customer_and_time(store_engine: Engine,
                                                            tmp_path: Path) -> None:
    """Rows of one customer at one time are one order, wherever they are in the file
    (batches of 100 rows here); ids are stable across re-imports."""
    sqlite_engine = store_engine  # and PostgreSQL
    seed_customers(sqlite_engine, tmp_path)
    rows = [["customer_external_id", "ordered_at", "amount", "cost", "quantity"]]
    rows += [["c1", f"2024-01-{1 + i % 20:02d}", "1.10", "0.50", "1"] for i in range(150)]
    rows += [["c2", "2024-02-01 10:00", "3.00", "", "2"]]
    path = write_csv(tmp_path / "log.csv", rows)
    options = IngestOptions(constants={"source": "pos", "customer_source": "shop"})
    report = ingest_file(kind="transactions", path=path, mapping=options,
                         engine=sqlite_engine, batch_size=100)
    assert (report.rows_written, report.combined) == (21, 130), report
    orders = _orders(sqlite_engine, "pos")
    assert all(order_id.startswith("gen-") for order_id in orders)
    by_day = sorted((v["amount"], v["quantity"]) for v in orders.values()
                    if v["customer"] == "c1")
    assert by_day[0] == (7.7, 7.0) and by_day[-1] == (8.8, 8.0)  # 7 or 8 rows a day
    with sqlite_engine.connect() as conn:
        costs = dict(conn.execute(text(
            'SELECT i.external_id, max(t.cost) FROM "transaction" t JOIN customer_identifier'
            ' i ON i.customer_id = t.customer_id GROUP BY i.external_id')).all())
    assert {k: v if v is None else float(v) for k, v in costs.items()} == {
        "c1": 4.0, "c2": None}  # 8 x 0.50 on a day of 8 rows; c2: unknown
    again = ingest_file(kind="transactions", path=path, mapping=options,
                        engine=sqlite_engine, batch_size=100)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 21)
    assert count(sqlite_engine, "transaction") == 21


def _client() -> tuple[TestClient, dict[str, str]]:
    with session_scope() as session:
        user = user_service.create_user(session=session, email="a@example.com", name="A",
                                        password="correct horse battery", role=Role.ADMIN)
        _, key = user_service.create_api_key(session=session, settings=get_settings(),
                                             user_id=user.id, name="k", scopes=["*"])
    return TestClient(create_app(include_dashboard=False)), {"X-API-Key": key}


def _wait(client: TestClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(200):
        job: dict[str, Any] = client.get(url, headers=headers).json()
        if job["status"] != "running":
            return job
        time.sleep(0.05)
    raise AssertionError(job)


def test_upload_takes_set_preset_and_delimiter_and_the_job_lists_ignored_columns(
        sqlite_engine: Engine, tmp_path: Path) -> None:
    client, headers = _client()
    log = b"00001 19970101  1  11.77\n00002 19970112  2  24.00\n"
    started = client.post(
        "/api/v1/imports", headers=headers,
        files={"file": ("CDNOW_master.txt", log, "text/plain")},
        data={"kind": "transactions", "delimiter": "whitespace", "header": "no",
              "set": ["source=cdnow"], "create_customers": "true",
              "map": ["column_1=customer_external_id", "column_2=ordered_at",
                      "column_4=amount"]})
    assert started.status_code == 202, started.text
    job = _wait(client, started.json()["status_url"], headers)
    assert job["status"] == "succeeded" and job["rows_written"] == 2, job
    assert job["ignored_columns"] == ["column_3"]
    shopify = client.post(
        "/api/v1/imports", headers=headers, data={"kind": "transactions", "preset": "shopify"},
        files={"file": ("orders_export_1.csv", _shopify(tmp_path).read_bytes(), "text/csv")})
    assert shopify.status_code == 202, shopify.text
    assert _wait(client, shopify.json()["status_url"], headers)["rows_written"] == 3
    listed = client.get("/api/v1/transactions", headers=headers).json()["items"]
    assert {o["order_id"]: o["quantity"] for o in listed if o["source"] == "shopify"} == {
        "#1001": 3.0, "#1002": 2.0, "#1004": 1.0}
    customer = next(o["customer_id"] for o in listed if o["order_id"] == "#1001")
    detail = client.get(f"/api/v1/customers/{customer}", headers=headers).json()
    assert {o["quantity"] for o in detail["recent_transactions"]} == {3.0, 1.0}


def test_preview_reads_suggests_and_does_not_write(sqlite_engine: Engine,
                                                   tmp_path: Path) -> None:
    shop = preview_file(path=_shopify(tmp_path), kind="transactions", rows=2)
    assert (shop.delimiter, shop.header, shop.encoding) == (",", True, "utf-8")
    assert shop.suggested_preset == "shopify"
    assert shop.suggested_mapping["Name"] == "order_id"
    assert shop.missing_required == [] and not shop.generated_order_ids
    assert len(shop.rows) == 2 and shop.rows[1][0] == "#1001"
    log = tmp_path / "log.txt"
    log.write_bytes("00001;19970101;1;11,77\n00002;19970112;2;24,00\n".encode("cp1252"))
    seen = preview_file(path=log, kind="transactions")
    assert (seen.delimiter, seen.header) == (";", False)
    assert seen.columns == ["column_1", "column_2", "column_3", "column_4"]
    assert seen.generated_order_ids
    assert seen.missing_required == ["source", "customer_external_id", "ordered_at", "amount"]
    assert suggest_mapping(kind="transactions",
                           columns=["Customer ID", "order date", "TOTAL", "x"]) == {
        "Customer ID": "customer_external_id", "order date": "ordered_at", "TOTAL": "amount"}
    assert count(sqlite_engine, "import_job") == 0


def test_cli_preset(sqlite_engine: Engine, tmp_path: Path) -> None:
    runner = CliRunner()
    path = _stripe(tmp_path)
    done = runner.invoke(app, ["import", "transactions", str(path), "--preset", "stripe"],
                         terminal_width=200)
    assert done.exit_code == 0, done.output
    summary = " ".join(done.output.replace("│", " ").split())  # table or list layout
    assert "skipped (status in skip_statuses) 1" in summary
    assert "Customer Email" in summary.split("ignored columns (not imported)")[1]
    unknown = runner.invoke(app, ["import", "transactions", str(path), "--preset", "magento"])
    assert unknown.exit_code == 2
    assert ("unknown preset 'magento' (generic, shopify, shopify-customers, stripe)"
            in unknown.output)


def test_a_huge_refund_is_rejected_not_a_crash(sqlite_engine: Engine, tmp_path: Path) -> None:
    """`refunded` is read, not stored, yet range-checked like the amount it reduces
    (1e308 used to overflow Arrow's rounding and abort the import)."""
    seed_customers(sqlite_engine, tmp_path)
    path = write_csv(tmp_path / "o.csv", [
        ["source", "order_id", "customer_external_id", "ordered_at", "amount", "refunded"],
        ["shop", "o1", "c1", "2024-01-01", "10", "1e308"],
        ["shop", "o2", "c1", "2024-01-02", "10", "2.5"]])
    report = ingest_file(kind="transactions", path=path, engine=sqlite_engine)
    assert (report.rows_written, report.rows_rejected) == (1, 1), report
    assert "out of range" in (report.reject_path or Path()).read_text(encoding="utf-8")
    assert _orders(sqlite_engine, "shop")["o2"]["amount"] == 7.5


def _statuses(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "orders.csv", [
        ["order_id", "customer_external_id", "ordered_at", "amount", "status"],
        ["o1", "c1", "2024-01-02", "10", "paid"], ["o2", "c1", "2024-01-03", "20", "refunded"],
        ["o3", "c2", "2024-01-04", "30", " Cancelled "], ["o4", "c2", "2024-01-05", "40", ""],
        ["o5", "c2", "2024-01-06", "50", "REFUNDED"]])


def test_statuses_that_are_not_sales_are_reported_or_left_out(sqlite_engine: Engine,
                                                              tmp_path: Path) -> None:
    """A shop export's refunded orders counted as revenue without a word: the summary now
    names them, and --skip-status leaves them out."""
    path = _statuses(tmp_path)
    runner = CliRunner()
    args = ["import", "transactions", str(path), "--set", "source=shop", "--create-customers"]
    kept = runner.invoke(app, args, terminal_width=200)
    assert kept.exit_code == 0, kept.output
    said = " ".join(kept.output.replace("│", " ").split())
    assert ("not-a-sale statuses kept cancelled 1, refunded 2: counted as sales; leave them "
            "out with --skip-status STATUS") in said
    with sqlite_engine.connect() as conn:
        conn.execute(text('DELETE FROM "transaction"'))
        conn.commit()
    skipped = runner.invoke(app, [*args, "--skip-status", "refunded", "--skip-status",
                                  "CANCELLED"], terminal_width=200)
    assert skipped.exit_code == 0, skipped.output
    said = " ".join(skipped.output.replace("│", " ").split())
    assert "skipped (status in skip_statuses) 3" in said
    assert "not-a-sale statuses" not in said
    assert count(sqlite_engine, "transaction") == 2


def test_upload_takes_statuses_to_skip(sqlite_engine: Engine, tmp_path: Path) -> None:
    client, headers = _client()
    started = client.post(
        "/api/v1/imports", headers=headers,
        files={"file": ("orders.csv", _statuses(tmp_path).read_bytes(), "text/csv")},
        data={"kind": "transactions", "set": ["source=shop"], "create_customers": "true",
              "skip_status": ["refunded", "cancelled"]})
    assert started.status_code == 202, started.text
    job = _wait(client, started.json()["status_url"], headers)
    assert job["status"] == "succeeded" and job["rows_written"] == 2, job


def test_a_shop_export_with_its_own_column_names(sqlite_engine: Engine,
                                                 tmp_path: Path) -> None:
    """A hand-made shop export: ``Country`` and ``E-mail`` are fields in another case,
    ``Name`` is one name column, ``Signup date`` looks like the acquisition date; the
    orders' ``Status`` and ``Amount (EUR)`` are fields too (``Status`` used to be
    ignored while refunded orders counted as sales)."""
    customers = write_csv(tmp_path / "klanten.csv", [
        ["Customer No", "Name", "E-mail", "Signup date", "Country"],
        ["C1", "Ana María García", "ana@example.org", "15/01/2023", "ES"],
        ["C2", "Cher", "cher@example.org", "16/01/2022", "FR"],
    ], delimiter=";")
    runner = CliRunner()
    first = runner.invoke(app, ["import", "customers", str(customers), "--set", "source=shop",
                                "--map", "Customer No=external_id"], terminal_width=200)
    assert first.exit_code == 0, first.output
    summary = " ".join(first.output.replace("│", " ").split())
    assert "kept as attributes (not a field) Name, Signup date" in summary
    assert "column 'Name' looks like full_name --map Name=full_name" in summary
    assert "--map 'Signup date=acquired_at'" in summary
    again = ingest_file(kind="customers", path=customers, engine=sqlite_engine,
                        mapping=IngestOptions(columns={"Customer No": "external_id",
                                                       "Name": "full_name",
                                                       "Signup date": "acquired_at"},
                                              constants={"source": "shop"}))
    assert again.attribute_columns == [] and again.column_hints == {}
    with sqlite_engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT first_name, last_name, email, country, acquired_at FROM customer "
            "ORDER BY id")).all()
    assert [(r[0], r[1], r[2], r[3], str(r[4])[:10]) for r in rows] == [
        ("Ana María", "García", "ana@example.org", "ES", "2023-01-15"),
        (None, "Cher", "cher@example.org", "FR", "2022-01-16")]
    orders = write_csv(tmp_path / "orders.csv", [
        ["Order no", "Customer no", "Date", "Amount (EUR)", "Status"],
        ["#1", "C1", "20/01/2023", "10,50", "paid"],
        ["#2", "C1", "21/01/2023", "4,00", "refunded"],
    ], delimiter=";")
    report = ingest_file(kind="transactions", path=orders, engine=sqlite_engine,
                         mapping=IngestOptions(columns={"Customer no": "customer_external_id",
                                                        "Date": "ordered_at"},
                                               constants={"source": "shop"}))
    assert report.doubtful_statuses == {"refunded": 1}  # Status is read
    assert report.column_hints == {"Order no": "order_id"}
    assert report.ignored_columns == ["Order no"]
    assert sorted(o["amount"] for o in _orders(sqlite_engine, "shop").values()) == [4.0, 10.5]
