"""Quality of a resolution against known duplicate clusters.

Pair metrics compare the scored pairs at a threshold with the true duplicate pairs.
Cluster metrics first take connected components of the pairs at the threshold (what
merging would produce: A~B and B~C merge A, B and C) and compare them with the true
clusters, both pairwise over the implied pairs (counted from cluster intersections, so a
large chained component costs no quadratic memory) and as exact cluster matches.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from kithkin.customers.models import CustomerIdentifier


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    true_positives: int
    predicted: int
    actual: int


def _scores(true_positives: int, predicted: int, actual: int) -> Scores:
    precision = true_positives / predicted if predicted else 1.0
    recall = true_positives / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, true_positives, predicted, actual)


def truth_clusters(*, session: Session, truth: pd.DataFrame) -> dict[int, int]:
    """Customer id -> true cluster id, from ``cluster_id, source, external_id`` rows."""
    keys = {(s, e): c for c, s, e in truth[["cluster_id", "source", "external_id"]].itertuples(
        index=False)}
    found: dict[int, int] = {}
    rows = session.execute(
        select(CustomerIdentifier.source, CustomerIdentifier.external_id,
               CustomerIdentifier.customer_id)
    )
    for source, external_id, customer_id in rows:
        cluster = keys.get((source, external_id))
        if cluster is not None:
            found[customer_id] = int(cluster)
    return found


def pairs_within(clusters: Mapping[int, int]) -> set[tuple[int, int]]:
    """Every (smaller id, larger id) pair of nodes that share a cluster."""
    members: dict[int, list[int]] = defaultdict(list)
    for node, cluster in clusters.items():
        members[cluster].append(node)
    pairs: set[tuple[int, int]] = set()
    for nodes in members.values():
        nodes.sort()
        pairs.update((a, b) for i, a in enumerate(nodes) for b in nodes[i + 1:])
    return pairs


def pair_scores(predicted: Iterable[tuple[int, int]], clusters: Mapping[int, int]) -> Scores:
    return scores_against(predicted, pairs_within(clusters))


def scores_against(predicted: Iterable[tuple[int, int]], truth: set[tuple[int, int]]
                   ) -> Scores:
    """Pair scores against true pairs already built (the costly part on a large register)."""
    found = {(min(a, b), max(a, b)) for a, b in predicted}
    return _scores(len(found & truth), len(found), len(truth))


def connected_components(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Node -> component id (its smallest member), by union-find with path halving."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {node: find(node) for node in parent}


def cluster_scores(
    predicted: Iterable[tuple[int, int]], clusters: Mapping[int, int]
) -> tuple[Scores, Scores]:
    """(pairwise scores of the implied pairs, exact-cluster scores) of the components."""
    components = connected_components(predicted)
    both = Counter((components[n], clusters[n]) for n in components if n in clusters)
    predicted_pairs = sum(k * (k - 1) // 2 for k in Counter(components.values()).values())
    actual_sizes = Counter(clusters.values())
    actual_pairs = sum(k * (k - 1) // 2 for k in actual_sizes.values())
    true_pairs = sum(k * (k - 1) // 2 for k in both.values())
    pairwise = _scores(true_pairs, predicted_pairs, actual_pairs)
    component_sizes = Counter(components.values())
    exact = sum(
        1 for (component, cluster), k in both.items()
        if k == component_sizes[component] == actual_sizes[cluster]
    )
    multi_true = sum(1 for k in actual_sizes.values() if k > 1)
    return pairwise, _scores(exact, len(component_sizes), multi_true)
