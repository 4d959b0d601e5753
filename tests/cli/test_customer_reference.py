"""A customer is found by what people know: internal id, external id, email or name."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from kithkin.cli.main import app
from kithkin.customers import reference
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.database.core import session_scope
from kithkin.errors import NotFoundError

runner = CliRunner()


@pytest.fixture
def people(sqlite_engine: Engine) -> dict[str, int]:
    with session_scope() as session:
        ada = Customer(first_name="Ada", last_name="Lovelace", email="ada@example.com",
                       email_normalized="ada@example.com",
                       identifiers=[CustomerIdentifier(source="shop", external_id="C-1")])
        other_ada = Customer(first_name="Ada", last_name="Lovelace",
                             identifiers=[CustomerIdentifier(source="crm", external_id="77")])
        nameless = Customer(identifiers=[CustomerIdentifier(source="shop", external_id="C-9")])
        session.add_all([ada, other_ada, nameless])
        session.flush()
        return {"ada": ada.id, "other_ada": other_ada.id, "nameless": nameless.id}


@pytest.mark.parametrize("ref", ["C-1", "ext:shop:C-1", "ada@example.com", "ADA@Example.com",
                                 "email:ada@example.com"])
def test_external_id_and_email_find_the_customer(people: dict[str, int], ref: str) -> None:
    with session_scope() as session:
        assert reference.resolve(session=session, reference=ref).id == people["ada"]


def test_digits_are_an_internal_or_an_external_id(people: dict[str, int]) -> None:
    with session_scope() as session:
        assert reference.resolve(session=session, reference="77").id == people["other_ada"]
        found = reference.resolve(session=session, reference=f"id:{people['nameless']}")
        assert found.id == people["nameless"]


def test_a_shared_name_is_ambiguous_and_lists_the_candidates(people: dict[str, int]) -> None:
    with session_scope() as session, pytest.raises(reference.AmbiguousReferenceError) as err:
        reference.resolve(session=session, reference="ada lovelace")
    message = str(err.value)
    assert "matches 2 customers" in message
    assert "ext:shop:C-1" not in message  # matched by name: picked by internal id
    assert f"id:{people['ada']}" in message and f"id:{people['other_ada']}" in message


def test_nothing_found_says_what_was_tried(people: dict[str, int]) -> None:
    with session_scope() as session, pytest.raises(NotFoundError, match="external id"):
        reference.resolve(session=session, reference="nobody")


def test_show_takes_an_external_id_and_titles_a_nameless_customer_by_it(
        people: dict[str, int]) -> None:
    result = runner.invoke(app, ["customers", "show", "C-9"], terminal_width=100)
    assert result.exit_code == 0, result.output
    assert f"customer {people['nameless']}: shop:C-9" in result.output
    assert f"customer {people['nameless']}: customer" not in result.output


def test_show_of_an_ambiguous_name_exits_1_listing_candidates(people: dict[str, int]) -> None:
    result = runner.invoke(app, ["customers", "show", "Ada Lovelace"], terminal_width=100)
    assert result.exit_code == 1
    assert f"id:{people['other_ada']}" in result.output


def test_explain_takes_an_email(people: dict[str, int]) -> None:
    result = runner.invoke(app, ["customers", "explain", "ada@example.com"],
                           terminal_width=100)
    # Resolved (no stages yet is the engine's answer, not "no such customer").
    assert "no relationship assessment" in result.output, result.output


def test_assign_takes_external_ids(people: dict[str, int]) -> None:
    runner.invoke(app, ["users", "create", "--email", "agent@example.com", "--name", "Agent",
                        "--role", "agent", "--password", "correct horse battery"])
    result = runner.invoke(app, ["customers", "assign", "agent@example.com", "C-1",
                                 "ext:crm:77"])
    assert result.exit_code == 0, result.output
    with session_scope() as session:
        managers = {c.id: c.account_manager_id for c in session.query(Customer)}
    assert managers[people["ada"]] is not None
    assert managers[people["other_ada"]] == managers[people["ada"]]
    assert managers[people["nameless"]] is None


def test_list_searches_filters_and_prints_json(people: dict[str, int]) -> None:
    import json

    result = runner.invoke(app, ["customers", "list", "--search", "Lovelace", "--format",
                                 "json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [row["id"] for row in listed] == [people["ada"], people["other_ada"]]
    assert listed[0]["clv"] is None and listed[0]["customer"] == "Ada Lovelace"
    table = runner.invoke(app, ["customers", "list", "--sort", "-clv"], terminal_width=80)
    assert table.exit_code == 0, table.output
    assert "shop:C-9" in table.output  # the nameless one, by its external id
    refused = runner.invoke(app, ["customers", "list", "--search", "x", "--sort", "-clv"])
    assert refused.exit_code == 1 and "sort:" in refused.output
