"""Splink resolution end to end: quality on known duplicates, thresholds, re-runs, bad input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.errors import ValidationError
from kithkin.identity import evaluation, resolution, service, synthetic
from kithkin.identity.models import CandidateStatus, CustomerMerge, DuplicateCandidate
from kithkin.simulate.service import simulate_business

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _candidates(engine: Engine) -> list[DuplicateCandidate]:
    with session_scope(engine) as session:
        return list(session.scalars(select(DuplicateCandidate).order_by(DuplicateCandidate.id)))


@pytest.mark.slow
def test_quality_on_hard_duplicates(sqlite_engine: Engine) -> None:
    customers, truth = synthetic.generate(persons=2_000, duplicates_rate=0.15, hard=True, seed=7)
    synthetic.load_customers(sqlite_engine, customers)
    with session_scope(sqlite_engine) as session:
        run = service.identify(session=session, settings=get_settings(), threshold_review=0.8,
                               auto_merge=False)
        clusters = evaluation.truth_clusters(session=session, truth=truth)
        assert run.records == len(customers)
    pairs = [(c.customer_id_l, c.customer_id_r) for c in _candidates(sqlite_engine)]
    scores = evaluation.pair_scores(pairs, clusters)
    assert scores.actual == len(truth) // 2
    assert scores.precision >= 0.95, scores
    assert scores.recall >= 0.85, scores
    assert scores.f1 >= 0.92, scores
    _, exact = evaluation.cluster_scores(pairs, clusters)
    assert exact.f1 >= 0.9, exact


@pytest.mark.slow
def test_quality_on_the_simulators_hard_setting(sqlite_engine: Engine, tmp_path: Path) -> None:
    """Ground truth from `kithkin simulate --hard`, every duplicate left to the model."""
    summary = simulate_business(customers=2_000, years=0.1, seed=3, out_dir=tmp_path / "sim",
                                fmt="parquet", duplicates_rate=0.15, hard=True,
                                prospects_rate=0.0)
    synthetic.load_customers(sqlite_engine, pd.read_parquet(summary.files["customers"]))
    truth = pd.read_parquet(summary.files["truth/duplicate_clusters"])
    with session_scope(sqlite_engine) as session:
        service.identify(session=session, settings=get_settings(), threshold_review=0.8,
                         auto_merge=False)
        clusters = evaluation.truth_clusters(session=session, truth=truth)
    pairs = [(c.customer_id_l, c.customer_id_r) for c in _candidates(sqlite_engine)]
    scores = evaluation.pair_scores(pairs, clusters)
    assert scores.actual > 200
    assert scores.precision >= 0.93, scores
    assert scores.f1 >= 0.85, scores


@pytest.mark.slow
def test_thresholds_auto_merge_and_reruns(sqlite_engine: Engine) -> None:
    customers, _ = synthetic.generate(persons=500, duplicates_rate=0.25, hard=True, seed=3)
    synthetic.load_customers(sqlite_engine, customers)
    with session_scope(sqlite_engine) as session:
        first = service.identify(session=session, settings=get_settings(), threshold_merge=0.99,
                                 threshold_review=0.3)
        assert first.report is not None and first.report["model"] == "trained"
    candidates = _candidates(sqlite_engine)
    assert candidates and all(c.match_probability >= 0.3 for c in candidates)
    for c in candidates:
        sure = c.match_probability >= 0.99
        assert (c.status == CandidateStatus.AUTO_MERGED) == sure, c.match_probability
    merged = [c for c in candidates if c.status == CandidateStatus.AUTO_MERGED]
    with session_scope(sqlite_engine) as session:
        assert first.auto_merged == session.query(CustomerMerge).count() > 0
        gone = set(session.scalars(select(Customer.id).where(Customer.merged_into_id.is_not(None))))
    assert {c.customer_id_r for c in merged} <= gone
    pending = [c for c in candidates if c.status == CandidateStatus.PENDING]
    assert pending, "the review band should hold some pairs"
    with session_scope(sqlite_engine) as session:
        service.reject(session=session, candidate_id=pending[0].id, actor="t")
        second = service.identify(session=session, settings=get_settings(), threshold_merge=1.0,
                                  threshold_review=0.3)
        assert second.report is not None and second.report["model"] == "reused"
    again = _candidates(sqlite_engine)
    keys = [(c.customer_id_l, c.customer_id_r) for c in again]
    assert len(keys) == len(set(keys)), "a re-run must never duplicate a pair"
    rejected = {(c.customer_id_l, c.customer_id_r): c.status for c in again}
    assert rejected[(pending[0].customer_id_l, pending[0].customer_id_r)] == "rejected"
    # merged customers are no longer matched, so their pending pairs are not proposed again
    assert all(c.run_id == second.id for c in again if c.status == CandidateStatus.PENDING)
    assert not any(c.customer_id_r in gone and c.status == CandidateStatus.PENDING
                   for c in again)


def test_thresholds_must_be_ordered(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session, pytest.raises(ValidationError):
        service.identify(session=session, settings=get_settings(), threshold_merge=0.7,
                         threshold_review=0.8)


def test_bad_input_never_crashes_and_is_reported(sqlite_engine: Engine) -> None:
    customers, _ = synthetic.generate(persons=300, duplicates_rate=0.2, seed=5)
    broken = pd.DataFrame([
        {"source": "shop", "external_id": "b1", "first_name": None, "last_name": None},
        {"source": "shop", "external_id": "b2", "first_name": "  ", "last_name": "\u200b",
         "email": "no at sign", "phone": "call me", "postcode": "!!"},
        {"source": "shop", "external_id": "b3", "first_name": "Zoë", "last_name": "O'Brien-Núñez",
         "email": "ZOË@@example", "phone": "+999", "date_of_birth": date(1900, 1, 1)},
        {"source": "crm", "external_id": "b4", "first_name": "Zoe", "last_name": "OBrien Nunez",
         "email": "", "phone": "", "address_line": "", "city": ""},
    ])
    synthetic.load_customers(sqlite_engine, pd.concat([customers, broken], ignore_index=True))
    with session_scope(sqlite_engine) as session:
        session.add(Customer(created_at=T0, updated_at=T0))  # no identifier, nothing at all
        session.flush()
        run = service.identify(session=session, settings=get_settings(), auto_merge=False)
        assert run.report is not None
        fields = run.report["fields"]
    assert fields["malformed_email"] >= 2 and fields["malformed_phone"] >= 2
    assert fields["no_name"] >= 3


def test_tiny_stores_do_not_crash(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        assert service.identify(session=session, settings=get_settings()).candidates == 0
        session.add(Customer(first_name="Ann", created_at=T0, updated_at=T0))
        session.flush()
        assert service.identify(session=session, settings=get_settings()).records == 1


def test_model_file_is_saved_in_the_workspace(sqlite_engine: Engine) -> None:
    customers, _ = synthetic.generate(persons=200, duplicates_rate=0.3, seed=11)
    synthetic.load_customers(sqlite_engine, customers)
    with session_scope(sqlite_engine) as session:
        service.identify(session=session, settings=get_settings(), auto_merge=False)
    assert resolution.model_path(get_settings()).exists()
    resolution.model_path(get_settings()).write_text("{not json")
    with session_scope(sqlite_engine) as session:
        run = service.identify(session=session, settings=get_settings(), auto_merge=False)
        assert run.report is not None and run.report["model"] == "trained"
        assert any("unusable" in note for note in run.report["notes"])


def test_a_model_saved_for_another_engine_is_retrained(sqlite_engine: Engine) -> None:
    """A model file holds its engine's SQL: reused on another it would block on nothing."""
    customers, _ = synthetic.generate(persons=200, duplicates_rate=0.3, seed=11)
    synthetic.load_customers(sqlite_engine, customers)
    with session_scope(sqlite_engine) as session:
        service.identify(session=session, settings=get_settings(), auto_merge=False)
    path = resolution.model_path(get_settings())
    with session_scope(sqlite_engine) as session:
        run = service.identify(session=session, settings=get_settings(), auto_merge=False)
        assert run.report is not None and run.report["model"] == "reused"
    saved = json.loads(path.read_text())
    path.write_text(json.dumps({**saved, "sql_dialect": "spark"}))
    with session_scope(sqlite_engine) as session:
        run = service.identify(session=session, settings=get_settings(), auto_merge=False)
        assert run.report is not None and run.report["model"] == "trained"
        assert any("trained on spark, not duckdb" in note for note in run.report["notes"])
    assert json.loads(path.read_text())["sql_dialect"] == "duckdb"


def test_a_shop_file_with_no_near_certain_pair_does_not_crash(sqlite_engine: Engine) -> None:
    """Seventy customers of a shop export, e-mails all different, no birth date, phone or
    postcode: no pair agreed on a near-certain rule, the prior stayed 0 and scoring failed
    on log2(0) ("math domain error"), also on the next run with the saved model."""
    with session_scope(sqlite_engine) as session:
        for i in range(70):
            session.add(Customer(first_name=f"Name{i % 23}", last_name=f"Family{i}",
                                 email=f"person{i}@example.org",
                                 email_normalized=f"person{i}@example.org",
                                 country="FR", created_at=T0, updated_at=T0))
        session.flush()
        for _ in range(2):  # trained, then the saved model reused
            run = service.identify(session=session, settings=get_settings(), auto_merge=False)
            assert run.report is not None and run.records == 70
            assert any("half a pair in 2,415" in note for note in run.report["notes"])
