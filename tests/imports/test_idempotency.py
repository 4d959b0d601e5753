"""Upserts on natural keys: re-imports change nothing; customers match deterministically."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from kithkin.imports.ingest import ingest_file, ingest_records

from .helpers import count, rows_of, seed_customers, write_csv

TABLES = ["customer", "customer_identifier", "consent", "product", "prospect", "transaction",
          "transaction_line", "interaction", "membership"]


def _files(folder: Path) -> list[tuple[str, Path]]:
    return [
        ("products", write_csv(folder / "products.csv", [
            ["sku", "name", "category", "list_price", "unit_cost"],
            ["A1", "Anvil", "tools", "19.99", "7.5"],
            ["B2", "Bolt", "tools", "0.5", ""],
        ])),
        ("prospects", write_csv(folder / "prospects.csv", [
            ["source", "external_id", "first_name", "email", "phone", "origin", "captured_at"],
            ["fair", "p1", "Pat", "PAT@EXAMPLE.COM", "+1 202 555 0199", "event", "2024-02-01"],
        ])),
        ("transactions", write_csv(folder / "orders.csv", [
            ["source", "order_id", "customer_external_id", "ordered_at", "amount", "cost",
             "currency", "channel"],
            ["shop", "o1", "c1", "2024-03-01T10:00:00+01:00", "€25.49", "10", "eur", "web"],
            ["shop", "o2", "c2", "01/03/2024", "12", "", "EUR", "store"],
        ])),
        ("lines", write_csv(folder / "lines.csv", [
            ["source", "order_id", "line_no", "sku", "quantity", "unit_price"],
            ["shop", "o1", "1", "A1", "1", "19.99"],
            ["shop", "o1", "2", "ZZ", "2", "2.75"],
            ["shop", "o2", "1", "B2", "-1", "12"],
        ])),
        ("interactions", write_csv(folder / "interactions.csv", [
            ["source", "external_id", "customer_external_id", "customer_source",
             "prospect_external_id", "occurred_at", "channel", "direction", "kind", "score",
             "score_scale", "status", "tags"],
            ["desk", "t1", "c1", "shop", "", "2024-03-02 09:30", "email", "inbound",
             "complaint", "", "", "open", "late;vip"],
            ["desk", "t2", "", "fair", "p1", "2024-03-03", "phone", "outbound", "call", "9",
             "nps", "", ""],
        ])),
        ("memberships", write_csv(folder / "memberships.csv", [
            ["source", "external_id", "customer_external_id", "kind", "programme", "tier",
             "started_at"],
            ["shop", "m1", "c1", "loyalty", "Club", "gold", "2023-01-01"],
        ])),
    ]


def _import_all(engine: Engine, folder: Path) -> dict[str, tuple[int, int, int]]:
    seed_customers(engine, folder)
    outcome = {}
    for kind, path in _files(folder):
        report = ingest_file(kind=kind, path=path, engine=engine)
        assert report.rows_rejected == 0, (kind, report)
        outcome[kind] = (report.inserted, report.updated, report.unchanged)
    return outcome


def test_every_kind_imports_and_reimport_changes_nothing(store_engine: Engine,
                                                         tmp_path: Path) -> None:
    first = _import_all(store_engine, tmp_path)
    assert first["transactions"] == (2, 0, 0)
    assert first["lines"] == (3, 0, 0)
    before = {table: rows_of(store_engine, table) for table in TABLES}
    stamps = rows_of(store_engine, "product", exclude={"id"})
    second = _import_all(store_engine, tmp_path)
    assert second["transactions"] == (0, 0, 2)
    assert second["lines"] == (0, 0, 3)
    assert second["interactions"] == (0, 0, 2)
    assert {table: rows_of(store_engine, table) for table in TABLES} == before
    assert rows_of(store_engine, "product", exclude={"id"}) == stamps  # updated_at unmoved
    assert count(store_engine, "transaction") == 2
    with store_engine.connect() as conn:
        amount, currency, ordered = conn.execute(text(
            "SELECT amount, currency, ordered_at FROM \"transaction\" WHERE order_id = 'o1'"
        )).one()
        line_product: object = conn.execute(text(
            "SELECT product_id FROM transaction_line WHERE sku = 'ZZ'")).scalar_one()
        prospect = conn.execute(text(
            "SELECT email_normalized, phone_e164, status FROM prospect")).one()
        tags: object = conn.execute(text(
            "SELECT tags FROM interaction WHERE external_id = 't1'")).scalar_one()
    assert float(str(amount)) == 25.49 and currency == "EUR"
    assert str(ordered).startswith("2024-03-01 09:00:00")
    assert line_product is None  # unknown SKU keeps its text, no product link
    assert tuple(prospect) == ("pat@example.com", "+12025550199", "new")
    assert "vip" in str(tags)


def test_changed_row_is_updated_not_duplicated(store_engine: Engine, tmp_path: Path) -> None:
    seed_customers(store_engine, tmp_path)
    header = ["source", "order_id", "customer_external_id", "ordered_at", "amount"]
    ingest_file(kind="transactions", engine=store_engine, path=write_csv(
        tmp_path / "a.csv", [header, ["shop", "o1", "c1", "2024-01-01", "10"]]))
    # Other columns on the same pooled connection: the staging table is rebuilt.
    report = ingest_file(kind="transactions", engine=store_engine, path=write_csv(
        tmp_path / "b.csv", [[*header, "currency"], ["shop", "o1", "c2", "2024-01-01", "11", "EUR"],
                             ["shop", "o2", "c2", "2024-01-02", "1", "EUR"]]))
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 0)
    assert count(store_engine, "transaction") == 2
    before = rows_of(store_engine, "transaction")
    dry = ingest_file(kind="transactions", engine=store_engine, dry_run=True,
                      path=tmp_path / "a.csv")
    assert (dry.inserted, dry.updated, dry.unchanged) == (0, 1, 0)
    assert rows_of(store_engine, "transaction") == before


def test_all_caps_email_and_phone_match_existing_customer(store_engine: Engine,
                                                          tmp_path: Path) -> None:
    seed_customers(store_engine, tmp_path)
    path = write_csv(tmp_path / "pos.csv", [
        ["source", "external_id", "email", "phone", "city"],
        ["pos", "900", "ANN@EXAMPLE.COM", "", "Leeds"],
        ["pos", "901", "", "(202) 555-0143", ""],
        ["pos", "902", "new@example.com", "", ""],
        ["crm", "x", "New@Example.com", "", ""],
    ])
    report = ingest_file(kind="customers", path=path, engine=store_engine)
    assert report.matched == {"email": 2, "phone": 1}
    # Every row is accounted for: one new customer, three rows that joined one.
    assert (report.inserted, report.updated, report.unchanged) == (1, 3, 0)
    assert count(store_engine, "customer") == 4  # 3 seeded + 1 new
    assert count(store_engine, "customer_identifier") == 7
    with store_engine.connect() as conn:
        owners: dict[str, int] = dict(conn.execute(text(
            "SELECT external_id, customer_id FROM customer_identifier")).all())
        city: object = conn.execute(text("SELECT city FROM customer WHERE id = :id"),
                            {"id": owners["c1"]}).scalar_one()
    assert owners["900"] == owners["c1"] and owners["901"] == owners["c3"]
    assert owners["x"] == owners["902"]
    assert city == "Leeds"
    before = rows_of(store_engine, "customer")
    again = ingest_file(kind="customers", path=path, engine=store_engine)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert rows_of(store_engine, "customer") == before


def test_transactions_resolve_through_matched_identifiers(sqlite_engine: Engine,
                                                          tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    ingest_records(kind="customers", records=[
        {"source": "pos", "external_id": "P1", "email": "ann@example.com"}],
        engine=sqlite_engine)
    report = ingest_records(kind="transactions", records=[
        {"source": "pos", "order_id": "r1", "customer_external_id": "P1",
         "ordered_at": "2024-05-01T12:00:00Z", "amount": 3}], engine=sqlite_engine)
    assert report.rows_written == 1
    with sqlite_engine.connect() as conn:
        ids = conn.execute(text(
            "SELECT t.customer_id, i.customer_id FROM \"transaction\" t, customer_identifier i "
            "WHERE i.external_id = 'c1'")).one()
    assert ids[0] == ids[1]


def test_single_event_is_idempotent_by_client_event_id(sqlite_engine: Engine,
                                                       tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    event = {"source": "app", "external_id": "evt-1", "customer_external_id": "c1",
             "customer_source": "shop", "occurred_at": "2024-05-01T12:00:00Z",
             "direction": "inbound", "kind": "review", "score": 4, "score_scale": "csat"}
    first = ingest_records(kind="interactions", records=[event], engine=sqlite_engine)
    second = ingest_records(kind="interactions", records=[event], engine=sqlite_engine)
    assert (first.inserted, second.inserted, second.unchanged) == (1, 0, 1)
    assert count(sqlite_engine, "interaction") == 1
    assert count(sqlite_engine, "import_job") == 1  # only the seeding file import
