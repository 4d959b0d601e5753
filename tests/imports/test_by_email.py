"""Rows that name their customer by e-mail (a helpdesk's requester, a receipt's e-mail)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, text, update

from kithkin.customers.models import Customer
from kithkin.errors import IngestError
from kithkin.imports.ingest import IngestOptions, ingest_file

from .helpers import write_csv

TICKET_MAP = {"Ticket ID": "external_id", "Created at": "occurred_at", "Type": "kind",
              "Requester email": "customer_email"}


def _customers(engine: Engine, folder: Path) -> dict[str, int]:
    """Five customers; C2 and C3 then share an e-mail without being merged (an import
    would have joined them: as if one changed address later), and C4 is merged into C5,
    which has the same e-mail. external_id -> customer id."""
    path = write_csv(folder / "customers.csv", [
        ["external_id", "email", "last_name"],
        ["C1", "Ana@Example.org", "García"],
        ["C2", "twin@example.org", "One"],
        ["C3", "two@example.org", "Two"],
        ["C4", "old@example.org", "Merged"],
        ["C5", "gone@example.org", "Survivor"],
    ])
    report = ingest_file(kind="customers", path=path, engine=engine,
                         mapping=IngestOptions(constants={"source": "shop"}))
    assert report.rows_written == 5, report
    with engine.begin() as conn:
        ids = {e: c for e, c in conn.execute(text(
            "SELECT external_id, customer_id FROM customer_identifier")).all()}
        conn.execute(update(Customer).where(Customer.id == ids["C3"]).values(
            email="twin@example.org", email_normalized="twin@example.org"))
        conn.execute(update(Customer).where(Customer.id == ids["C4"]).values(
            email="gone@example.org", email_normalized="gone@example.org",
            merged_into_id=ids["C5"]))
    return ids


def test_tickets_join_the_customer_with_their_email(store_engine: Engine,
                                                    tmp_path: Path) -> None:
    ids = _customers(store_engine, tmp_path)
    path = write_csv(tmp_path / "tickets.csv", [
        ["Ticket ID", "Requester email", "Created at", "Type", "Status"],
        ["T1", " ANA@example.org ", "2024-03-01T10:00:00Z", "question", "solved"],
        ["T2", "twin@example.org", "2024-03-02T10:00:00Z", "problem", "open"],
        ["T3", "nobody@example.org", "2024-03-03T10:00:00Z", "incident", "pending"],
        ["T4", "gone@example.org", "2024-03-04T10:00:00Z", "complaint", "new"],
        ["T5", "not an address", "2024-03-05T10:00:00Z", "question", "open"],
    ])
    options = IngestOptions(columns=TICKET_MAP,
                            constants={"source": "helpdesk", "direction": "inbound"})
    report = ingest_file(kind="interactions", path=path, engine=store_engine,
                         mapping=options)
    assert (report.rows_written, report.rows_rejected) == (2, 3), report
    with store_engine.connect() as conn:
        stored = conn.execute(text(
            "SELECT external_id, customer_id, kind, status FROM interaction "
            "ORDER BY external_id")).all()
    # the merged customer's e-mail leads to the survivor only; helpdesk words read
    assert [tuple(r) for r in stored] == [
        ("T1", ids["C1"], "inquiry", "resolved"), ("T4", ids["C5"], "complaint", "open")]
    again = ingest_file(kind="interactions", path=path, engine=store_engine,
                        mapping=options)
    assert (again.inserted, again.unchanged) == (0, 2)


def test_rejected_rows_say_which_email_and_why(sqlite_engine: Engine,
                                               tmp_path: Path) -> None:
    _customers(sqlite_engine, tmp_path)
    path = write_csv(tmp_path / "orders.csv", [
        ["Order", "Customer Email", "Date", "Total"],
        ["1", "twin@example.org", "2024-03-02", "10"],
        ["2", "nobody@example.org", "2024-03-03", "12"],
        ["3", "ana@example.org", "2024-03-04", "14"],
    ])
    report = ingest_file(kind="transactions", path=path, engine=sqlite_engine,
                         mapping=IngestOptions(columns={"Order": "order_id", "Date": "ordered_at",
                                                        "Total": "amount"},
                                               constants={"source": "pay"}))
    # "Customer Email" is a field's own name in another spelling: no --map needed
    assert report.rows_written == 1 and report.ignored_columns == []
    assert report.reject_path is not None
    with Path(report.reject_path).open(encoding="utf-8") as handle:
        rejects = list(csv.DictReader(handle))
    reasons = {r["value"]: r["reason"] for r in rejects}
    assert reasons["nobody@example.org"] == "no customer has this e-mail"
    assert reasons["twin@example.org"].startswith("2 customers have this e-mail")
    assert {(r["row"], r["field"]) for r in rejects} == {("1", "customer_email"),
                                                         ("2", "customer_email")}


def test_an_id_wins_over_an_email_and_a_missing_customer_names_the_email_column(
        sqlite_engine: Engine, tmp_path: Path) -> None:
    _customers(sqlite_engine, tmp_path)
    both = write_csv(tmp_path / "both.csv", [
        ["order_id", "customer_external_id", "customer_email", "ordered_at", "amount"],
        ["1", "C1", "twin@example.org", "2024-03-02", "10"]])
    report = ingest_file(kind="transactions", path=both, engine=sqlite_engine,
                         mapping=IngestOptions(constants={"source": "shop"}))
    assert report.rows_written == 1 and report.ignored_columns == ["customer_email"]
    tickets = write_csv(tmp_path / "t.csv", [
        ["Ticket ID", "Requester email", "Created at", "Type"],
        ["T1", "ana@example.org", "2024-03-01", "question"]])
    with pytest.raises(IngestError, match="--map 'Requester email=customer_email'"):
        ingest_file(kind="interactions", path=tickets, engine=sqlite_engine,
                    mapping=IngestOptions(
                        columns={k: v for k, v in TICKET_MAP.items() if v != "customer_email"},
                        constants={"source": "helpdesk", "direction": "inbound"}))
