"""Cleaning, blocking keys, quality metrics and survivorship rules in isolation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kithkin.errors import ConfigurationError
from kithkin.identity import evaluation, features, survivorship


@pytest.mark.parametrize(("raw", "clean"), [
    ("  José  ", "jose"), ("O'Brien-Núñez", "o'brien-nunez"), ("MARY   ann", "mary ann"),
    ("", None), ("   ", None), ("123", None), (None, None), ("\u200b", None),
])
def test_clean_name(raw: str | None, clean: str | None) -> None:
    assert features.clean_name(raw) == clean


def test_addresses_and_postcodes_compare_in_one_form() -> None:
    assert features.clean_address("12, High Street") == features.clean_address("12 high st")
    assert features.clean_address("  ,, ") is None
    assert features.clean_postcode("ls1 1aa") == features.clean_postcode("LS11AA") == "LS11AA"


@pytest.mark.parametrize(("name", "code"), [
    ("robert", "R163"), ("rupert", "R163"), ("rubin", "R150"), ("ashcraft", "A261"),
    ("tymczak", "T522"), ("pfister", "P236"), ("lee", "L000"), ("", None), ("'", None),
])
def test_soundex(name: str, code: str | None) -> None:
    assert features.soundex(name) == code


def test_pair_keys_ignore_order_so_swapped_names_block_together() -> None:
    assert features._pair_key("smith", "john") == features._pair_key("john", "smith")
    assert features._pair_key(None, "john") == "john"
    assert features._pair_key(None, None) is None


def test_pair_and_cluster_scores() -> None:
    clusters = {1: 10, 2: 10, 3: 10, 4: 20, 5: 20, 6: 30}
    predicted = [(1, 2), (2, 3), (4, 6)]
    pairs = evaluation.pair_scores(predicted, clusters)
    assert (pairs.true_positives, pairs.predicted, pairs.actual) == (2, 3, 4)
    assert pairs.precision == pytest.approx(2 / 3) and pairs.recall == pytest.approx(0.5)
    components, exact = evaluation.cluster_scores(predicted, clusters)
    # components {1,2,3} (3 pairs, all true) and {4,6} (1 pair, false)
    assert (components.true_positives, components.predicted, components.actual) == (3, 4, 4)
    # {1,2,3} equals cluster 10; {4,6} matches nothing; cluster 20 is missed
    assert (exact.true_positives, exact.predicted, exact.actual) == (1, 2, 2)
    assert evaluation.connected_components([(5, 3), (3, 1), (7, 8)]) == {
        1: 1, 3: 1, 5: 1, 7: 7, 8: 7}


def _row(customer_id: int, updated: int, **values: Any) -> dict[str, Any]:
    base = dict.fromkeys(
        ("first_name", "last_name", "company", "email", "email_normalized", "phone",
         "phone_e164", "date_of_birth", "date_of_birth_raw", "address_line", "address_line2",
         "city", "region", "postcode", "country",
         "acquired_at", "acquisition_source", "attributes", "account_manager_id"))
    return {**base, "id": customer_id, "updated_at": datetime(2024, 1, updated, tzinfo=UTC),
            **values}


def test_survivorship_rules() -> None:
    old = _row(1, 1, first_name="J", email="a@x.com", city="Leeds", postcode="LS1")
    new = _row(2, 5, first_name="John", city="York", postcode=None, address_line="9 Rd")
    rules = survivorship.resolve_rules({}, source_priority=[])
    golden = survivorship.golden_values(old, new, rules=rules, source_rank={1: 0, 2: 0})
    assert golden["first_name"] == "John"  # complete
    # the address block travels whole, from the more recent record
    assert (golden["address_line"], golden["city"], golden["postcode"]) == ("9 Rd", "York", None)
    assert "email" not in golden  # only the survivor has one: unchanged
    by_source = survivorship.resolve_rules({}, source_priority=["erp", "shop"])
    golden = survivorship.golden_values(old, new, rules=by_source, source_rank={1: 0, 2: 1})
    assert golden == {}  # the survivor's source ranks first for every field
    override = survivorship.resolve_rules({"address": "complete"}, source_priority=[])
    golden = survivorship.golden_values(old, new, rules=override, source_rank={1: 0, 2: 0})
    assert "city" not in golden and "address_line" not in golden  # a tie keeps the survivor
    # The account manager follows the latest assignment; one unassigned side keeps the other.
    golden = survivorship.golden_values(_row(1, 1, account_manager_id=7),
                                        _row(2, 5, account_manager_id=None),
                                        rules=rules, source_rank={1: 0, 2: 0})
    assert "account_manager_id" not in golden
    golden = survivorship.golden_values(_row(1, 1, account_manager_id=None),
                                        _row(2, 5, account_manager_id=9),
                                        rules=rules, source_rank={1: 0, 2: 0})
    assert golden["account_manager_id"] == 9
    with pytest.raises(ConfigurationError):
        survivorship.resolve_rules({"shoe_size": "recent"}, source_priority=[])
