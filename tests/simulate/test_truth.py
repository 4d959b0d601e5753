"""Ground truth is consistent with the files, and the files carry its statistical signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kithkin.simulate import simulate_business

from .conftest import Business

DAY = pd.Timedelta(days=1)


def _purchases(business: Business) -> pd.DataFrame:
    orders = business["transactions"]
    return orders[~orders.order_id.str.endswith("-R")]


def _shop_truth(business: Business) -> pd.DataFrame:
    truth = business["truth/customers_truth"]
    customers = business["customers"][["source", "external_id", "acquired_at"]]
    shop = truth[truth.source == "shop"].merge(customers, on=["source", "external_id"])
    assert len(shop) == len(truth[truth.source == "shop"])
    return shop.set_index("external_id")


def test_truth_covers_every_customer_record(business: Business) -> None:
    truth = business["truth/customers_truth"]
    customers = business["customers"]
    assert sorted(zip(truth.source, truth.external_id, strict=True)) == sorted(
        zip(customers.source, customers.external_id, strict=True))


def test_no_purchase_after_defection(business: Business) -> None:
    shop = _shop_truth(business)
    purchases = _purchases(business).join(shop.drop(columns="source"), on="customer_external_id")
    defected = purchases[~purchases.alive_at_end]
    assert len(defected) > 0
    assert (defected.ordered_at <= defected.defection_date).all()
    first = purchases.groupby("customer_external_id").ordered_at.min()
    assert (first == shop.loc[first.index].acquired_at).all()


def test_defector_types_only_for_defected_customers(business: Business) -> None:
    truth = business["truth/customers_truth"]
    assert truth.defector_type.notna().equals(~truth.alive_at_end)
    assert truth.defection_date.notna().equals(~truth.alive_at_end)
    assert set(truth.defector_type.dropna()) == {
        "price", "product", "service", "market", "technology", "organizational"}
    assert 0.2 < (~truth.alive_at_end).mean() < 0.8


def test_duplicate_clusters_reference_existing_records(business: Business) -> None:
    clusters = business["truth/duplicate_clusters"]
    customers = business["customers"]
    known = set(zip(customers.source, customers.external_id, strict=True))
    assert set(zip(clusters.source, clusters.external_id, strict=True)) <= known
    sizes = clusters.groupby("cluster_id").source.agg(["nunique", "count"])
    assert (sizes["nunique"] == 2).all() and (sizes["count"] == 2).all()
    truth = business["truth/customers_truth"].set_index(["source", "external_id"])
    persons = truth.loc[list(zip(clusters.source, clusters.external_id, strict=True)), "person_id"]
    assert (persons.to_numpy() == clusters.cluster_id.to_numpy()).all()
    assert 0.03 < len(sizes) / (customers.source == "shop").sum() < 0.07


def test_converted_prospects_were_captured_before_acquisition(business: Business) -> None:
    links = business["truth/prospect_conversions"]
    prospects = business["prospects"].set_index("external_id")
    customers = business["customers"].set_index("external_id")
    linked = prospects.loc[links.prospect_external_id]
    assert (linked.status == "converted").all()
    acquired = customers.loc[links.customer_external_id, "acquired_at"].to_numpy()
    assert (linked.captured_at.to_numpy() < acquired).all()
    assert (customers.loc[links.customer_external_id, "acquisition_source"] == "lead").all()
    strangers = set(prospects.index) - set(links.prospect_external_id)
    assert not strangers & set(business["transactions"].customer_external_id)


def test_mean_purchase_count_matches_the_latent_process(business: Business) -> None:
    """Fit-free: observed counts against expectations computed from truth and parameters.

    Conditional on (lambda, mu), E[repeat purchases in (0, T]] = lambda/mu (1 - e^{-mu T});
    unconditionally the Pareto/NBD mean (Schmittlein et al. 1987, eq. 17) with s != 1 is
    r beta / (alpha (s - 1)) [1 - (beta / (beta + T))^(s - 1)].
    """
    shop = _shop_truth(business)
    params = business.summary.params
    counts = _purchases(business).groupby("customer_external_id").size()
    counts = counts.reindex(shop.index, fill_value=0)
    assert (counts >= 1).all()
    end = pd.Timestamp(params.end, tz="UTC")
    t = ((end - shop.acquired_at) / DAY).to_numpy()
    lam, mu = shop.purchase_rate_lambda.to_numpy(), shop.dropout_rate_mu.to_numpy()
    conditional = 1 + lam / mu * (1 - np.exp(-mu * t))
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    population = 1 + r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))
    assert counts.mean() == pytest.approx(conditional.mean(), rel=0.08)
    assert counts.mean() == pytest.approx(population.mean(), rel=0.15)
    assert 7 < counts.mean() < 13


def test_mean_order_value_tracks_the_spend_parameter(business: Business) -> None:
    """Order amounts are Gamma(p, nu): their mean is the order-weighted mean of p / nu."""
    shop = _shop_truth(business)
    purchases = _purchases(business)
    expected = shop.mean_spend.loc[purchases.customer_external_id].mean()
    assert purchases.amount.mean() == pytest.approx(expected, rel=0.05)
    mean_value = purchases.groupby("customer_external_id").amount.mean()
    frequent = purchases.groupby("customer_external_id").size() >= 5
    spend = shop.loc[mean_value[frequent].index, "mean_spend"]
    assert np.corrcoef(np.log(mean_value[frequent]), np.log(spend))[0, 1] > 0.6


def _per_customer(business: Business, kind: str) -> pd.Series:
    interactions = business["interactions"]
    rows = interactions[(interactions.kind == kind) & (interactions.customer_source == "shop")]
    return rows.groupby("customer_external_id").size()


def test_unhappy_customers_complain_more(business: Business) -> None:
    shop = _shop_truth(business)
    complaints = _per_customer(business, "complaint").reindex(shop.index, fill_value=0)
    end = pd.Timestamp(business.summary.params.end, tz="UTC")
    active_years = ((shop.defection_date.fillna(end) - shop.acquired_at) / DAY) / 365.25
    rate = complaints / active_years.clip(lower=0.05)
    low = shop.satisfaction < -0.5
    high = shop.satisfaction > 0.5
    assert complaints[low].sum() / active_years[low].sum() > 1.5 * (
        complaints[high].sum() / active_years[high].sum())
    assert rate.notna().all()


def test_survey_scores_track_satisfaction(business: Business) -> None:
    interactions = business["interactions"]
    by_shop = interactions.customer_source == "shop"
    nps = interactions[(interactions.score_scale == "nps") & by_shop]
    assert nps.score.between(0, 10).all()
    csat = interactions[interactions.score_scale == "csat"]
    assert csat.score.between(1, 5).all()
    satisfaction = _shop_truth(business).satisfaction.loc[nps.customer_external_id]
    assert np.corrcoef(nps.score, satisfaction)[0, 1] > 0.4


def test_exit_interviews_follow_defections_and_reflect_the_type(business: Business) -> None:
    interactions = business["interactions"]
    exits = interactions[interactions.kind == "exit_interview"]
    shop = _shop_truth(business).loc[exits.customer_external_id]
    assert len(exits) > 50
    assert (~shop.alive_at_end).all()
    assert (exits.occurred_at.to_numpy() > shop.defection_date.to_numpy()).all()
    price_words = exits.text.str.contains("price|cost|cheaper|expensive|deal", case=False)
    is_price = (shop.defector_type == "price").to_numpy()
    assert price_words[is_price].mean() > 0.7
    assert price_words[~is_price].mean() < 0.2


def test_every_exit_interview_has_its_true_type(business: Business) -> None:
    interactions = business["interactions"]
    exits = interactions[interactions.kind == "exit_interview"].set_index("external_id")
    truth = business["truth/exit_interviews_truth"].set_index("interaction_external_id")
    assert sorted(truth.index) == sorted(exits.index)
    customers = _shop_truth(business).loc[exits.loc[truth.index, "customer_external_id"]]
    assert (truth.defector_type.to_numpy() == customers.defector_type.to_numpy()).all()
    same = (truth.worded_as == truth.defector_type).mean()
    assert 0.85 < same < 0.97  # 10% worded after a random type (1 in 6 of them the same)


def test_memberships_are_well_formed(business: Business) -> None:
    memberships = business["memberships"]
    assert set(memberships.kind) == {"loyalty", "subscription", "contract"}
    ended = memberships.dropna(subset=["ended_at"])
    assert (ended.ended_at >= ended.started_at).all()
    loyalty = memberships[memberships.kind == "loyalty"]
    assert set(loyalty.tier) <= {"bronze", "silver", "gold"}


def test_hard_mode_degrades_duplicates_more(tmp_path: Path) -> None:
    def exact_email_share(hard: bool) -> float:
        summary = simulate_business(customers=3000, years=1, seed=4, duplicates_rate=0.3,
                                    hard=hard, out_dir=tmp_path / str(hard))
        customers = pd.read_csv(summary.files["customers"])
        clusters = pd.read_csv(summary.files["truth/duplicate_clusters"])
        records = clusters.merge(customers, on=["source", "external_id"])
        pairs = records.pivot(index="cluster_id", columns="source", values="email")
        return float((pairs["shop"] == pairs["crm"]).mean())

    assert exact_email_share(hard=True) < exact_email_share(hard=False) - 0.1
