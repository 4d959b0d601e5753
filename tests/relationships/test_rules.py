from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kithkin.relationships.rules import Evaluator, RuleError, compile_rule

FRAME = pd.DataFrame({
    "customer_id": [1, 2, 3, 4],
    "orders": [0, 2, 3, None],
    "days_since_last_purchase": [None, 100, 400, 5],
    "has_contract": [None, True, False, True],
    "tenure_days": [1, 800, 10, 1000],
    "rfm_segment": ["new", "champions", None, "at_risk"],
    "last_purchase_at": pd.to_datetime(["2025-01-01", "2025-06-01", None, "2024-01-01"]),
})


@pytest.mark.parametrize(("rule", "expected"), [
    ("true", [1, 1, 1, 1]),
    ("orders >= 2 and days_since_last_purchase <= 180 and (has_contract or tenure_days > 730)",
     [0, 1, 0, 0]),
    ("orders >= 2 or tenure_days > 900", [0, 1, 1, 1]),
    ("orders == 2", [0, 1, 0, 0]),
    ("orders != 2", [1, 0, 1, 0]),  # a missing value is never != anything
    ("not orders >= 2", [1, 0, 0, 1]),  # not negates the two-valued result
    ("has_contract", [0, 1, 0, 1]),
    ("has_contract = false", [0, 0, 1, 0]),  # missing boolean: comparison false
    ("rfm_segment in ['champions', \"at_risk\"]", [0, 1, 0, 1]),
    ("rfm_segment not in ['champions']", [1, 0, 0, 1]),
    ("orders is null", [0, 0, 0, 1]),
    ("days_since_last_purchase is not null", [0, 1, 1, 1]),
    ("last_nps is null", [1, 1, 1, 1]),  # metric absent from the frame: all null
    ("last_purchase_at >= '2025-01-01'", [1, 1, 0, 0]),
    ("orders in [2, 3] AND NOT (tenure_days < 100)", [0, 1, 0, 0]),
    ("1 < orders", [0, 1, 1, 0]),
])
def test_rules_evaluate_column_wise(rule: str, expected: list[int]) -> None:
    result = Evaluator(FRAME).evaluate(compile_rule(rule))
    assert result.dtype == np.bool_
    assert result.astype(int).tolist() == expected


@pytest.mark.parametrize(("rule", "kind", "position", "words"), [
    ("orders >= ", "syntax", 9, "found end of rule"),
    ("orders >= 2 )", "syntax", 12, "found ')'"),
    ("orders # 2", "syntax", 7, "Unexpected token, found '#'"),
    ("(orders > 1", "syntax", 11, "expected ')'"),
    ("orders in [1, tenure_days]", "syntax", 14, "list items must be literals"),
    ("", "syntax", 0, "empty rule"),
    ("ordrs > 1", "unknown_metric", 0, "unknown metric 'ordrs'"),
    ("orders > 'a'", "type", 7, "cannot compare number with string"),
    ("orders and true", "type", 0, "metric 'orders' is not a condition"),
    ("has_contract > 1", "type", 13, "cannot compare bool with number"),
    ("rfm_segment in ['a', 2]", "type", 21, "cannot compare string with number"),
    ("orders", "type", 0, "not a condition"),
])
def test_rule_errors_say_what_and_where(rule: str, kind: str, position: int,
                                        words: str) -> None:
    with pytest.raises(RuleError) as caught:
        compile_rule(rule)
    assert caught.value.kind == kind
    assert caught.value.position == position
    assert words in str(caught.value)


def test_rules_cannot_run_python() -> None:
    with pytest.raises(RuleError):
        compile_rule("__import__('os').system('true')")


def test_referenced_metrics_are_the_evidence() -> None:
    rule = compile_rule("orders >= 2 and (has_contract or orders > 5) and rfm_segment is null")
    assert rule.metrics == ("orders", "has_contract", "rfm_segment")
