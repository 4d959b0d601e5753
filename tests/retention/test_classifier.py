"""The exit-interview classifier: start rules before any label, then trained accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from kithkin.retention.classifier import (
    MIN_TRAINING_LABELS,
    Classifier,
    Labelled,
    NaiveBayes,
    evaluate,
    rule_suggestion,
)


@pytest.mark.parametrize(("text", "kind", "category"), [
    ("Your prices are far too high now, I found it cheaper down the road.", "price",
     "perceived_difference_in_value"),
    ("The jacket fell apart, poor quality.", "product",
     "dissatisfaction_with_product_class"),
    ("Nobody in support ever replied to me.", "service",
     "dissatisfaction_with_product_class"),
    ("We relocated to another country.", "market", "increased_competition"),
    ("Your app is clunky and the website keeps crashing.", "technology",
     "increased_competition"),
    ("Head office now buys through a tender.", "organizational",
     "other_friendships_or_bonds"),
])
def test_rules_suggest_type_and_category_before_any_label(text: str, kind: str,
                                                          category: str) -> None:
    hint = rule_suggestion(text)
    assert (hint.defector_type, hint.reason_category, hint.method) == (kind, category, "rules")


def test_rules_say_unknown_rather_than_guess() -> None:
    assert rule_suggestion("Bye.").defector_type is None
    assert rule_suggestion("Bye.").reason_category is None
    # a complaint history makes a silent leaver a likely service defector
    assert rule_suggestion("Bye.", complaints=2).defector_type == "service"
    assert rule_suggestion("No reason, really.").reason_category == "no_reason"
    assert rule_suggestion("").reason_category == "no_reason"


# A firm's own wording the keyword rules do not know: only training can learn it.
_JARGON = {
    "price": ["tariff {w} too steep", "the {w} quote from rivals won", "{w} bill shock"],
    "service": ["hotline {w} hopeless", "engineer never came {w}", "{w} queue forever"],
    "market": ["we emigrated {w}", "kids grew up {w}", "farm sold {w}"],
}


def _jargon(n: int, seed: int) -> list[Labelled]:
    rng = np.random.default_rng(seed)
    fillers = ["honestly", "sadly", "frankly", "well", "so", "anyway"]
    out = []
    for i in range(n):
        kind = list(_JARGON)[i % 3]
        template = _JARGON[kind][rng.integers(0, 3)]
        out.append(Labelled(template.format(w=fillers[rng.integers(0, 6)]), kind,
                            None))
    return out


def test_naive_bayes_learns_the_firms_own_words() -> None:
    examples = _jargon(300, seed=1)
    result = evaluate(examples, test_share=0.3, seed=0)
    assert result.method == "model"
    assert result.test_size == 90 and result.train_size == 210
    for kind in _JARGON:
        assert result.per_type[kind] == 1.0
        assert result.per_type_n[kind] > 0
    assert result.per_type["technology"] is None  # no held-out interview: unknown
    assert result.rules_overall is not None and result.rules_overall < 0.5


def test_below_the_minimum_the_rules_still_suggest() -> None:
    few = _jargon(MIN_TRAINING_LABELS - 1, seed=2)
    classifier = Classifier.train(few)
    assert classifier.method == "rules"
    assert classifier.suggest("Too expensive.").defector_type == "price"


def test_naive_bayes_by_hand() -> None:
    model = NaiveBayes.fit([["a", "a", "b"], ["c"]], ["x", "y"])
    # P(a|x) = 3/6, P(a|y) = 1/4 with Laplace smoothing over 3 words; equal priors
    assert np.exp(model.log_likelihood[0, model.vocabulary["a"]]) == pytest.approx(0.5)
    assert np.exp(model.log_likelihood[1, model.vocabulary["a"]]) == pytest.approx(0.25)
    assert model.predict([["a"], ["c"], ["unseen"]]) == ["x", "y", "x"]
