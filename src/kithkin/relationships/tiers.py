"""Differentiation (seed 003, "identify, differentiate, interact, customize").

Value tiers follow Peppers & Rogers' value-based differentiation: most valuable customers
(MVC, the top share by CLV), most growable customers (MGC, the top share by unrealised
potential), below-zero customers (BZC: the margin earned so far, less the cost of serving
their contacts, plus the expected future margin (CLV), is negative) and the ordinary rest.
Where the data has no cost, the margin is the revenue times the one documented assumption
(``default_margin``), never 0.

Potential proxy (stated): the *headroom* to the peers' upper quartile, weighted by the
chance the customer is still active,
``potential = max(0, Q75(clv of the customer's needs segment) - clv) * p_alive``;
without needs segments the peer group is the whole base. A customer who buys like rich
peers but spends less has room to grow (share of wallet), and a customer who has left
has none; customers without a purchase have no potential here (that is acquisition).

Needs segments cluster the customers' category purchase shares with k-means
(``scipy.cluster.vq.kmeans2``, k-means++ seeding, fixed seed); k maximises the mean
silhouette (Rousseeuw 1987) over k_min..k_max on a fixed random sample.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.cluster.vq import kmeans2
from scipy.spatial.distance import cdist

from kithkin.config import DEFAULT_MARGIN
from kithkin.relationships.columns import FloatArray, number
from kithkin.relationships.workspace import NeedsSettings, TierSettings

VALUE_TIERS = ("most_valuable", "most_growable", "ordinary", "below_zero")  # display order
MOST_VALUABLE = "most_valuable"
MOST_GROWABLE = "most_growable"
ORDINARY = "ordinary"
BELOW_ZERO = "below_zero"


def assumed_margin_rate(frame: pd.DataFrame, default_margin: float) -> tuple[float, str]:
    """The ratio a customer's unknown margin is assumed at, and where it comes from: the
    data's own ratio (margin over revenue of the customers whose margin is known, clipped
    to [0, 1]; the ratio CLV uses) when some costs are known, else ``default_margin``."""
    margin = number(frame, "margin", np.nan)
    revenue = number(frame, "revenue", np.nan)
    known = ~np.isnan(margin) & ~np.isnan(revenue)
    total = float(revenue[known].sum())
    if total <= 0:
        return default_margin, "default_margin"
    return float(np.clip(margin[known].sum() / total, 0.0, 1.0)), "data"


def known_or_assumed_margin(frame: pd.DataFrame,
                            default_margin: float) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Each customer's margin where the data knows it (a cost), else revenue x the one
    documented assumption ``default_margin``; and which margins are known."""
    margin = number(frame, "margin", np.nan)
    known = ~np.isnan(margin)
    assumed = number(frame, "revenue") * default_margin
    return np.asarray(np.where(known, margin, assumed), dtype=float), known


def value_tiers(frame: pd.DataFrame, settings: TierSettings,
                needs_segment: pd.Series | None = None, *,
                default_margin: float = DEFAULT_MARGIN) -> pd.DataFrame:
    """customer_id, net_margin, potential and value_tier for every customer.

    Below zero means the relationship as a whole loses money: the margin earned so far
    (known, else assumed at ``default_margin``) minus the cost of serving the customer's
    contacts, plus the expected future margin (CLV), is negative. A complaint costs a
    customer their place only when it outweighs both what they earned and what they are
    expected to earn, never because a margin nobody measured was taken as 0.
    """
    clv = number(frame, "clv")
    contacts = number(frame, "service_requests") + number(frame, "complaints")
    margin, _known = known_or_assumed_margin(frame, default_margin)
    net_margin = margin - settings.service_cost_per_interaction * contacts
    peers = (needs_segment.fillna("none").to_numpy() if needs_segment is not None
             else np.zeros(len(frame), dtype=int))
    peer_q75 = pd.Series(clv).groupby(peers).transform(lambda s: s.quantile(0.75))
    p_alive = np.clip(number(frame, "p_alive", np.nan), 0, 1)
    p_alive = np.where(np.isnan(p_alive), 1.0, p_alive)
    bought = number(frame, "orders") >= 1  # headroom is share of wallet: buyers only
    potential = np.where(bought, np.maximum(0.0, peer_q75.to_numpy() - clv) * p_alive, 0.0)

    tier = np.full(len(frame), ORDINARY, dtype=object)
    below = (net_margin < 0) & (net_margin + clv < 0)
    tier[below] = BELOW_ZERO
    valuable = ~below & (clv > 0) & _top_share(clv, ~below & (clv > 0),
                                               settings.most_valuable_share)
    tier[valuable] = MOST_VALUABLE
    rest = ~below & ~valuable & (potential > 0)
    tier[rest & _top_share(potential, rest, settings.most_growable_share)] = MOST_GROWABLE
    return pd.DataFrame({"customer_id": frame["customer_id"].to_numpy(),
                         "net_margin": np.round(net_margin, 2),
                         "potential": np.round(potential, 2), "value_tier": tier})


def _top_share(values: FloatArray, eligible: npt.NDArray[np.bool_],
               share: float) -> npt.NDArray[np.bool_]:
    """Rows in the top ``share`` of ``values`` among the eligible rows (ties included)."""
    if not eligible.any():
        return np.zeros(len(values), dtype=bool)
    cutoff = np.quantile(values[eligible], 1 - share)
    return eligible & (values >= cutoff)


def category_shares(spend: pd.DataFrame) -> pd.DataFrame:
    """Pivot (customer_id, category, amount) rows into a customer x category share table."""
    positive = spend[spend["amount"] > 0]
    table = positive.pivot_table(index="customer_id", columns="category", values="amount",
                                 aggfunc="sum", fill_value=0.0)
    totals = table.sum(axis=1)
    return table.div(totals.where(totals > 0, 1.0), axis=0)


def distinctiveness(shares: pd.DataFrame) -> pd.Series:
    """1 - cosine similarity between a customer's shares and the base's mean shares."""
    data = shares.to_numpy(dtype=float)
    mean = data.mean(axis=0)
    norms = np.linalg.norm(data, axis=1) * np.linalg.norm(mean)
    cosine = np.divide(data @ mean, norms, out=np.ones(len(data)), where=norms > 0)
    return pd.Series(np.clip(1 - cosine, 0, 1), index=shares.index,
                     name="profile_distinctiveness")


def silhouette(data: FloatArray, labels: npt.NDArray[np.int_]) -> float:
    """Mean silhouette coefficient (Rousseeuw 1987); clusters of one score 0."""
    distances = cdist(data, data)
    clusters = np.unique(labels)
    if clusters.size < 2:
        return -1.0
    mean_to = np.vstack([distances[:, labels == c].mean(axis=1) for c in clusters])
    own = np.searchsorted(clusters, labels)
    sizes = np.array([(labels == c).sum() for c in clusters])
    a = mean_to[own, np.arange(len(data))] * sizes[own] / np.maximum(sizes[own] - 1, 1)
    mean_to[own, np.arange(len(data))] = np.inf
    b = mean_to.min(axis=0)
    s = np.where(sizes[own] > 1, (b - a) / np.maximum(a, b), 0.0)
    return float(np.nan_to_num(s).mean())


def _kmeans(data: FloatArray, k: int, seed: int) -> tuple[FloatArray, npt.NDArray[np.int_]]:
    centroids, labels = kmeans2(data, k, minit="++", seed=np.random.default_rng(seed))
    return np.asarray(centroids, dtype=float), np.asarray(labels)


def needs_segments(shares: pd.DataFrame, settings: NeedsSettings) -> pd.Series:
    """A named needs segment per customer of ``shares`` (index customer_id)."""
    data = shares.to_numpy(dtype=float)
    if len(data) < 3 or data.shape[1] < 2:
        return pd.Series("all", index=shares.index, name="needs_segment")
    if settings.k:
        k = min(settings.k, len(data) - 1)
    else:
        rng = np.random.default_rng(settings.seed)
        size = min(settings.silhouette_sample, len(data))
        sample = data[rng.choice(len(data), size=size, replace=False)]
        candidates = range(settings.k_min, min(settings.k_max, len(sample) - 1) + 1)
        scores = {k: silhouette(sample, _kmeans(sample, k, settings.seed)[1])
                  for k in candidates}
        k = max(scores, key=lambda key: scores[key]) if scores else 2
    centroids, labels = _kmeans(data, k, settings.seed)
    names = _segment_names(centroids, list(map(str, shares.columns)))
    return pd.Series(np.array(names, dtype=object)[labels], index=shares.index,
                     name="needs_segment")


def _segment_names(centroids: FloatArray, categories: list[str]) -> list[str]:
    """Name each cluster by its dominant categories (share >= 25 %, at most two)."""
    names: list[str] = []
    for centroid in centroids:
        order = np.argsort(-centroid)
        top = [categories[i] for i in order[:2] if centroid[i] >= 0.25]
        base = " + ".join(top) if top else "mixed"
        name, n = base, 2
        while name in names:
            name, n = f"{base} #{n}", n + 1
        names.append(name)
    return names
