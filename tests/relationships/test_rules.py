from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes
from sqlalchemy import make_url

from kithkin.relationships.catalog import METRIC_TYPES
from kithkin.relationships.definitions import builtin_models
from kithkin.relationships.rules import Evaluator, Rule, RuleError, compile_rule, to_ibis

FRAME = pd.DataFrame({
    "customer_id": [1, 2, 3, 4],
    "orders": [0, 2, 3, None],
    "days_since_last_purchase": [None, 100, 400, 5],
    "has_contract": [None, True, False, True],
    "tenure_days": [1, 800, 10, 1000],
    "rfm_segment": ["new", "champions", None, "at_risk"],
    "last_purchase_at": pd.to_datetime(["2025-01-01", "2025-06-01", None, "2024-01-01"]),
})

EVALUATED = [
    ("true", [1, 1, 1, 1]),
    ("false", [0, 0, 0, 0]),
    ("orders >= 2 and days_since_last_purchase <= 180 and (has_contract or tenure_days > 730)",
     [0, 1, 0, 0]),
    ("orders >= 2 or tenure_days > 900", [0, 1, 1, 1]),
    ("orders == 2", [0, 1, 0, 0]),
    ("orders = 2", [0, 1, 0, 0]),
    ("orders != 2", [1, 0, 1, 0]),  # a missing value is never != anything
    ("orders <> 2", [1, 0, 1, 0]),
    ("orders < 3 and orders > 0", [0, 1, 0, 0]),
    ("not orders >= 2", [1, 0, 0, 1]),  # not negates the two-valued result
    ("NOT NOT orders >= 2", [0, 1, 1, 0]),
    ("has_contract", [0, 1, 0, 1]),
    ("not has_contract", [1, 0, 1, 0]),
    ("has_contract = false", [0, 0, 1, 0]),  # missing boolean: comparison false
    ("has_contract != true", [0, 0, 1, 0]),
    ("rfm_segment in ['champions', \"at_risk\"]", [0, 1, 0, 1]),  # old list syntax
    ("rfm_segment IN ('champions', 'at_risk')", [0, 1, 0, 1]),
    ("rfm_segment not in ['champions']", [1, 0, 0, 1]),  # infix: false on a missing value
    ("not rfm_segment in ['champions']", [1, 0, 1, 1]),  # prefix: negates the false
    ("rfm_segment = \"new\"", [1, 0, 0, 0]),  # double quotes are a string
    ("rfm_segment < 'd'", [0, 1, 0, 1]),
    ("orders is null", [0, 0, 0, 1]),
    ("days_since_last_purchase is not null", [0, 1, 1, 1]),
    ("last_nps is null", [1, 1, 1, 1]),  # metric absent from the frame: all null
    ("last_nps is null or last_nps > 100", [1, 1, 1, 1]),
    ("last_purchase_at >= '2025-01-01'", [1, 1, 0, 0]),
    ("'2025-01-01' <= last_purchase_at", [1, 1, 0, 0]),
    ("last_purchase_at in ('2024-01-01', '2025-06-01')", [0, 1, 0, 1]),
    ("last_purchase_at between '2024-06-01' and '2025-03-01'", [1, 0, 0, 0]),
    ("orders in [2, 3] AND NOT (tenure_days < 100)", [0, 1, 0, 0]),
    ("1 < orders", [0, 1, 1, 0]),
    ("orders between 1 and 2", [0, 1, 0, 0]),
    ("orders not between 1 and 2", [1, 0, 1, 0]),  # infix: false on a missing value
    ("not orders between 1 and 2", [1, 0, 1, 1]),
    ("tenure_days - 10 * orders >= 900", [0, 0, 0, 0]),
    ("tenure_days / orders > 300", [0, 1, 0, 0]),  # x / 0 is missing, so false
    ("(tenure_days / orders) is null", [1, 0, 0, 1]),
    ("tenure_days + orders > 1000 or -orders < -2.5", [0, 0, 1, 0]),
    ("orders * 2 = 6.0", [0, 0, 1, 0]),
    ("orders in (-1, 0)", [1, 0, 0, 0]),
    ("days_since_last_purchase >= 1e2", [0, 1, 1, 0]),
    ("(orders > 1) = true", [0, 1, 1, 0]),
]


@pytest.mark.parametrize(("rule", "expected"), EVALUATED)
def test_rules_evaluate_column_wise(rule: str, expected: list[int]) -> None:
    result = Evaluator(FRAME).evaluate(compile_rule(rule))
    assert result.dtype == np.bool_
    assert result.astype(int).tolist() == expected


def _on_duckdb(frame: pd.DataFrame, rules: list[Rule]) -> list[list[bool]]:
    table = ibis.memtable(frame)
    selected = table.select(**{f"r{i}": to_ibis(rule, table) for i, rule in enumerate(rules)})
    result = ibis.duckdb.connect().to_pyarrow(selected)
    return [result[f"r{i}"].to_pylist() for i in range(len(rules))]


def test_ibis_on_duckdb_gives_the_evaluators_result() -> None:
    rules = [compile_rule(text) for text, _ in EVALUATED]
    for (text, expected), got in zip(EVALUATED, _on_duckdb(FRAME, rules), strict=True):
        assert [int(v) for v in got] == expected, text


def test_ibis_on_postgresql_gives_the_evaluators_result(pg_url: str) -> None:
    rules = [compile_rule(text) for text, _ in EVALUATED]
    url = make_url(pg_url).set(drivername="postgres").render_as_string(hide_password=False)
    backend = ibis.connect(url)
    table = backend.create_table("metrics", FRAME)
    selected = table.select(**{f"r{i}": to_ibis(rule, table) for i, rule in enumerate(rules)})
    result = selected.to_pyarrow()
    backend.disconnect()
    for i, (text, expected) in enumerate(EVALUATED):
        assert [int(v) for v in result[f"r{i}"].to_pylist()] == expected, text


def test_builtin_models_run_the_same_on_duckdb() -> None:
    rules = [stage.rule for model in builtin_models().values() for stage in model.stages]
    frame = pd.DataFrame({
        "customer_id": range(6), "orders": [0, 1, 2, 3, None, 5],
        "days_since_last_purchase": [None, 10, 200, 400, 5, 30],
        "complaints_open": [0, 0, 0, 1, 0, None], "has_preferences": [True, None, True,
                                                                         False, True, False],
        "interactions_90d": [0, 1, 0, 2, None, 3], "tenure_days": [0, 800, 366, 1000, 1, 740],
        "has_contract": [False, True, None, True, True, True], "last_nps": [None, 9, 10, 3,
                                                                               9, 9]})
    evaluator = Evaluator(frame)
    expected = [evaluator.evaluate(rule).tolist() for rule in rules]
    assert _on_duckdb(frame, rules) == expected
    assert any(any(row) for row in expected[1:]) and not all(all(r) for r in expected[1:])


_NUMBERS = st.one_of(st.none(), st.integers(-3, 3).map(float))
_RULES = [
    "a >= 1 and not b < 0", "a != b or c", "a not in (0, 1) or b is null", "not a in (0, 1)",
    "a between b and 2 and not c", "a / b > 0.5", "not (a - b <= 1 or c = false)",
    "-a * 2 + b < 1", "s in ('x', 'y') and s <> 'x'", "s not between 'a' and 'x'",
    "(a / b) is null", "c != true", "not not c",
]


@settings(max_examples=40, deadline=None)
@given(data_frames([column("a", elements=_NUMBERS), column("b", elements=_NUMBERS),
                    column("c", elements=st.one_of(st.none(), st.booleans()),
                           dtype=object),
                    column("s", elements=st.sampled_from([None, "a", "x", "y", "z"]),
                           dtype=object)],
                   index=range_indexes(min_size=1, max_size=12)))
def test_ibis_and_evaluator_agree_on_any_frame(frame: pd.DataFrame) -> None:
    types = {"a": "number", "b": "number", "c": "bool", "s": "string"}
    rules = [compile_rule(text, types) for text in _RULES]  # type: ignore[arg-type]
    frame = frame.astype({"a": "float64", "b": "float64"})
    table = ibis.memtable(frame, schema={"a": "float64", "b": "float64", "c": "boolean",
                                         "s": "string"})
    selected = table.select(**{f"r{i}": to_ibis(rule, table, types)  # type: ignore[arg-type]
                               for i, rule in enumerate(rules)})
    result = ibis.duckdb.connect().to_pyarrow(selected)
    evaluator = Evaluator(frame, types)  # type: ignore[arg-type]
    for i, rule in enumerate(rules):
        assert result[f"r{i}"].to_pylist() == evaluator.evaluate(rule).tolist(), rule.text


@pytest.mark.parametrize(("rule", "kind", "position", "words"), [
    ("orders >= ", "syntax", 9, "found end of rule"),
    ("orders >= 2 )", "syntax", 12, "found ')'"),
    ("orders # 2", "syntax", 7, "Unexpected token, found '#'"),
    ("(orders > 1", "syntax", 11, "expected ')'"),
    ("orders in [1, tenure_days]", "syntax", 14, "list items must be literals"),
    ("", "syntax", 0, "empty rule"),
    ("  \n ", "syntax", 0, "empty rule"),
    ("rfm_segment = 'new", "syntax", 14, "unterminated string"),
    ("ordrs > 1", "unknown_metric", 0, "unknown metric 'ordrs'"),
    ("orders > 1 and\n  tenur_days > 2", "unknown_metric", 17, "unknown metric 'tenur_days'"),
    ("orders > 'a'", "type", 7, "cannot compare number with string"),
    ("orders and true", "type", 0, "metric 'orders' is not a condition"),
    ("has_contract > 1", "type", 13, "cannot compare bool with number"),
    ("has_contract between true and false", "type", 13,
     "booleans only support = and !="),
    ("rfm_segment in ['a', 2]", "type", 21, "cannot compare string with number"),
    ("orders", "type", 0, "not a condition"),
    ("orders + 1", "type", 0, "not a condition"),
    ("rfm_segment + 1 > 2", "type", 12, "arithmetic needs numbers"),
    ("-rfm_segment = 'a'", "type", 1, "'-' needs a number"),
    ("last_purchase_at > 'soon'", "type", 19, "'soon' is not a date"),
    ("last_purchase_at > rfm_segment", "type", 17, "cannot compare date with string"),
    # what the whitelist rejects, named, at its keyword
    ("orders > 1; drop table customer", "syntax", 10, "';' is not allowed"),
    ("drop table customer", "syntax", 0, "DROP is not allowed"),
    ("orders > (select 1)", "syntax", 10, "SELECT is not allowed"),
    ("orders in (select orders from customer)", "syntax", 0, "not a query"),
    ("abs(orders) > 1", "syntax", 0, "function abs() is not allowed"),
    ("orders > 1 and shell('rm')", "syntax", 15, "function shell() is not allowed"),
    ("cast(orders as int) > 1", "syntax", 0, "function cast() is not allowed"),
    ("rfm_segment like 'a%'", "syntax", 12, "LIKE is not allowed"),
    ("case when has_contract then 1 else 0 end = 1", "syntax", 0, "CASE is not allowed"),
    ("customer.orders > 1", "syntax", 0, "qualified name 'customer.orders'"),
    ("orders = null", "syntax", 9, "use 'is null'"),
    ("has_contract is true", "syntax", 0, "only 'is null' and 'is not null'"),
    ("orders >= 2 x", "syntax", 12, "unexpected 'x' after 'orders >= 2'"),
    ("orders > 1e", "syntax", 9, "'1e' is not a number"),
])
def test_rule_errors_say_what_and_where(rule: str, kind: str, position: int,
                                        words: str) -> None:
    with pytest.raises(RuleError) as caught:
        compile_rule(rule)
    assert caught.value.kind == kind
    assert caught.value.position == position
    assert words in str(caught.value)


def test_every_catalogue_metric_is_a_name_in_sql() -> None:
    for name in METRIC_TYPES:  # none is an SQL keyword
        assert compile_rule(f"{name} is null or {name} is not null").metrics == (name,)


def test_rules_cannot_run_python() -> None:
    with pytest.raises(RuleError, match="is not allowed"):
        compile_rule("__import__('os').system('true')")


def test_referenced_metrics_are_the_evidence() -> None:
    rule = compile_rule("orders >= 2 and (has_contract or orders > 5) and rfm_segment is null")
    assert rule.metrics == ("orders", "has_contract", "rfm_segment")


def test_only_a_literal_true_is_the_fallback() -> None:
    assert compile_rule("true").is_always_true
    assert compile_rule(" ( TRUE ) ").is_always_true
    assert not compile_rule("orders >= 0").is_always_true
    assert not compile_rule("false").is_always_true
