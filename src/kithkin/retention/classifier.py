"""Suggest a defector type and reason category from an exit interview.

Two stages, because a new installation has no labelled interviews:

1. **Keyword rules** (:func:`rule_suggestion`): each type has a list of stems taken from
   how people describe leaving (seed 003's six defector types). The type with the most
   hits wins; with no hit, a complaint history points to a service defector, otherwise
   there is no suggestion (unknown is not a guess).
2. **Naive Bayes** (:class:`NaiveBayes`): once staff have labelled enough interviews, a
   multinomial naive Bayes on word counts (plus complaint-history tokens) in NumPy is
   trained on them; it learns the firm's own wording. Laplace smoothing keeps unseen
   words neutral.

:func:`evaluate` splits labelled interviews into train and held-out parts and reports
accuracy per true type (the share of each type's held-out interviews classified as it),
so a weak type is visible rather than averaged away.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kithkin.retention.taxonomy import DEFECTOR_TYPES, REASON_CATEGORIES, TYPE_TO_CATEGORY

MIN_TRAINING_LABELS = 30  # fewer labelled interviews: the rules suggest
_WORD = re.compile(r"[a-z][a-z']+")

KEYWORDS: dict[str, tuple[str, ...]] = {
    "price": ("price", "cheap", "expensive", "cost", "deal", "discount", "afford",
              "spend", "money", "sale", "pric"),
    "product": ("quality", "broke", "faulty", "range", "product", "model", "feature",
                "defect", "item"),
    "service": ("service", "rude", "staff", "complaint", "support", "ignored", "answer",
                "agent", "apolog", "repl", "late", "valued", "unresolved", "resolved"),
    "market": ("moved", "abroad", "relocat", "no longer need", "need went", "closed",
               "situation changed", "these days", "country"),
    "technology": ("app", "website", "online", "digital", "checkout", "crash", "mobile",
                   "integration", "tools", "clunky"),
    "organizational": ("policy", "management", "procurement", "tender", "head office",
                       "merger", "consolidat", "politics", "decision", "supplier for"),
}
NO_REASON = ("no reason", "don't know", "dont know", "not sure", "no comment")


@dataclass(frozen=True)
class Suggestion:
    defector_type: str | None
    reason_category: str | None
    method: str  # "rules" | "model"


def _hits(text: str) -> dict[str, int]:
    lowered = text.lower()
    return {kind: sum(lowered.count(word) for word in words)
            for kind, words in KEYWORDS.items()}


def rule_suggestion(text: str, *, complaints: int = 0) -> Suggestion:
    """The keyword rules' type and category (None when the text gives nothing to go on
    and there is no complaint history)."""
    lowered = text.lower().strip()
    if not lowered or any(phrase in lowered for phrase in NO_REASON):
        return Suggestion(None, "no_reason", "rules")
    hits = _hits(lowered)
    best = max(hits.values())
    if best == 0:
        if complaints > 0:
            return Suggestion("service", TYPE_TO_CATEGORY["service"], "rules")
        return Suggestion(None, None, "rules")
    # ties: the order of DEFECTOR_TYPES, except that complaints break a tie for service
    tied = [kind for kind in DEFECTOR_TYPES if hits[kind] == best]
    kind = "service" if complaints > 0 and "service" in tied else tied[0]
    return Suggestion(kind, TYPE_TO_CATEGORY[kind], "rules")


def tokens(text: str, *, complaints: int = 0, complaint_tags: Sequence[str] = ()) -> list[str]:
    """Words and word pairs of the text plus complaint-history tokens (``__complaints``,
    ``__tag_<tag>``), so the model can learn that complainers leave over service."""
    words = _WORD.findall(text.lower())
    out = words + [f"{a}_{b}" for a, b in itertools.pairwise(words)]
    if complaints:
        out.append("__complaints")
        out.extend(f"__tag_{tag}" for tag in complaint_tags)
    return out


@dataclass
class NaiveBayes:
    """Multinomial naive Bayes with Laplace smoothing on token counts."""

    classes: list[str]
    vocabulary: dict[str, int]
    log_prior: np.ndarray
    log_likelihood: np.ndarray  # classes x vocabulary

    @classmethod
    def fit(cls, documents: Sequence[list[str]], labels: Sequence[str],
            alpha: float = 1.0) -> NaiveBayes:
        classes = sorted(set(labels))
        vocabulary: dict[str, int] = {}
        for doc in documents:
            for token in doc:
                vocabulary.setdefault(token, len(vocabulary))
        counts = np.zeros((len(classes), len(vocabulary)))
        index = {c: i for i, c in enumerate(classes)}
        for doc, label in zip(documents, labels, strict=True):
            row = index[label]
            for token in doc:
                counts[row, vocabulary[token]] += 1
        smoothed = counts + alpha
        log_likelihood = np.log(smoothed / smoothed.sum(axis=1, keepdims=True))
        prior = np.array([sum(1 for y in labels if y == c) for c in classes], float)
        return cls(classes, vocabulary, np.log(prior / prior.sum()), log_likelihood)

    def predict(self, documents: Sequence[list[str]]) -> list[str]:
        matrix = np.zeros((len(documents), len(self.vocabulary)))
        for i, doc in enumerate(documents):
            for token in doc:
                j = self.vocabulary.get(token)
                if j is not None:
                    matrix[i, j] += 1
        scores = matrix @ self.log_likelihood.T + self.log_prior
        return [self.classes[k] for k in scores.argmax(axis=1)]


@dataclass(frozen=True)
class Labelled:
    text: str
    defector_type: str | None
    reason_category: str | None
    complaints: int = 0
    complaint_tags: tuple[str, ...] = ()

    def tokens(self) -> list[str]:
        return tokens(self.text, complaints=self.complaints,
                      complaint_tags=self.complaint_tags)


def _cross_validated(examples: Sequence[Labelled], folds: int = 5) -> tuple[float, float]:
    """Accuracy of the model and of the rules on ``folds``-fold cross-validation."""
    model_hits = rule_hits = 0
    order = np.random.default_rng(0).permutation(len(examples))
    for fold in range(folds):
        held = set(order[fold::folds].tolist())
        train = [e for i, e in enumerate(examples) if i not in held]
        if len({e.defector_type for e in train}) < 2:
            return 0.0, 1.0
        model = NaiveBayes.fit([e.tokens() for e in train], [str(e.defector_type)
                                                             for e in train])
        test = [examples[i] for i in sorted(held)]
        predicted = model.predict([e.tokens() for e in test])
        model_hits += sum(p == e.defector_type for p, e in zip(predicted, test, strict=True))
        rule_hits += sum(rule_suggestion(e.text, complaints=e.complaints).defector_type
                         == e.defector_type for e in test)
    return model_hits / len(examples), rule_hits / len(examples)


@dataclass
class Classifier:
    """Rules until the labels can train a model that beats them: with at least
    :data:`MIN_TRAINING_LABELS` labels, naive Bayes takes over only when its 5-fold
    cross-validated accuracy on the labels is at least the rules' (with few labels a
    model is worse than good rules; the benchmark's learning curve shows by how much)."""

    type_model: NaiveBayes | None = None
    category_model: NaiveBayes | None = None
    cv_model: float | None = None
    cv_rules: float | None = None

    @classmethod
    def train(cls, examples: Sequence[Labelled]) -> Classifier:
        typed = [e for e in examples if e.defector_type in DEFECTOR_TYPES]
        categorised = [e for e in examples if e.reason_category in REASON_CATEGORIES]
        if len(typed) < MIN_TRAINING_LABELS or len({e.defector_type for e in typed}) < 2:
            return cls()
        cv_model, cv_rules = _cross_validated(typed)
        if cv_model < cv_rules:
            return cls(cv_model=cv_model, cv_rules=cv_rules)
        type_model = NaiveBayes.fit([e.tokens() for e in typed],
                                    [str(e.defector_type) for e in typed])
        category_model = (NaiveBayes.fit([e.tokens() for e in categorised],
                                         [str(e.reason_category) for e in categorised])
                          if len(categorised) >= MIN_TRAINING_LABELS
                          and len({e.reason_category for e in categorised}) >= 2 else None)
        return cls(type_model, category_model, cv_model, cv_rules)

    @property
    def method(self) -> str:
        return "model" if self.type_model is not None else "rules"

    def suggest(self, text: str, *, complaints: int = 0,
                complaint_tags: Sequence[str] = ()) -> Suggestion:
        rules = rule_suggestion(text, complaints=complaints)
        if self.type_model is None:
            return rules
        doc = tokens(text, complaints=complaints, complaint_tags=complaint_tags)
        kind = self.type_model.predict([doc])[0]
        category = (self.category_model.predict([doc])[0] if self.category_model
                    else TYPE_TO_CATEGORY[kind])
        if rules.reason_category == "no_reason":
            category = "no_reason"
        return Suggestion(kind, category, "model")


@dataclass(frozen=True)
class Evaluation:
    """Held-out accuracy per true type (None: no held-out interview of that type) of the
    naive Bayes trained on the training part (``model_*``), of the keyword rules
    (``rules_*``) and of what :class:`Classifier` chose between them (``method``)."""

    method: str
    train_size: int
    test_size: int
    overall: float | None
    per_type: dict[str, float | None]
    per_type_n: dict[str, int]
    model_overall: float | None
    model_per_type: dict[str, float | None]
    rules_overall: float | None
    rules_per_type: dict[str, float | None]


def _accuracy(truth: Sequence[str], predicted: Sequence[str | None]
              ) -> tuple[float | None, dict[str, float | None], dict[str, int]]:
    per: dict[str, float | None] = {}
    sizes: dict[str, int] = {}
    for kind in DEFECTOR_TYPES:
        rows = [p == t for t, p in zip(truth, predicted, strict=True) if t == kind]
        sizes[kind] = len(rows)
        per[kind] = sum(rows) / len(rows) if rows else None
    overall = (sum(p == t for t, p in zip(truth, predicted, strict=True)) / len(truth)
               if truth else None)
    return overall, per, sizes


def evaluate(examples: Sequence[Labelled], *, test_share: float = 0.3,
             seed: int = 0, train_limit: int | None = None) -> Evaluation:
    """Train on a random part (at most ``train_limit`` of it: a learning curve), score
    the rest with the model, the rules and the classifier's choice between them."""
    typed = [e for e in examples if e.defector_type in DEFECTOR_TYPES]
    order = np.random.default_rng(seed).permutation(len(typed))
    cut = round(len(typed) * (1 - test_share))
    train = [typed[i] for i in order[:cut]][:train_limit]
    test = [typed[i] for i in order[cut:]]
    truth = [str(e.defector_type) for e in test]
    classifier = Classifier.train(train)
    chosen = [classifier.suggest(e.text, complaints=e.complaints,
                                 complaint_tags=e.complaint_tags).defector_type for e in test]
    by_rules = [rule_suggestion(e.text, complaints=e.complaints).defector_type for e in test]
    by_model: list[str | None] = [None] * len(test)
    if len({e.defector_type for e in train}) >= 2:
        model = NaiveBayes.fit([e.tokens() for e in train],
                               [str(e.defector_type) for e in train])
        by_model = list(model.predict([e.tokens() for e in test]))
    overall, per, sizes = _accuracy(truth, chosen)
    model_overall, model_per, _ = _accuracy(truth, by_model)
    rules_overall, rules_per, _ = _accuracy(truth, by_rules)
    return Evaluation(classifier.method, len(train), len(test), overall, per, sizes,
                      model_overall, model_per, rules_overall, rules_per)
