"""The model step of a refresh reproduces kithkin.clv fitted on lifetimes' own summary."""

from __future__ import annotations

from datetime import UTC, date

import numpy as np
import pandas as pd
import pytest
from lifetimes.datasets import load_dataset
from lifetimes.utils import summary_data_from_transaction_data
from sqlalchemy import Engine, insert, select

from kithkin.analytics import refresh
from kithkin.analytics.fitting import ModelOptions
from kithkin.analytics.models import CustomerMetric
from kithkin.clv import BetaGeo, GammaGamma
from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.transactions.models import Transaction

AS_OF = date(1997, 9, 30)
CUSTOMERS = 1500


def cdnow_head() -> pd.DataFrame:
    frame = load_dataset("CDNOW_master.txt", sep=r"\s+", dtype={"date": str})
    frame = frame[(frame.customer_id <= CUSTOMERS) & (frame.dollar_value > 0)].copy()
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


def test_refresh_fits_bg_nbd_and_gamma_gamma_like_clv_on_lifetimes_summary(
    sqlite_engine: Engine,
) -> None:
    frame = cdnow_head()
    with sqlite_engine.begin() as conn:
        conn.execute(insert(Customer), [{"id": int(i)} for i in frame.customer_id.unique()])
        conn.execute(insert(Transaction), [
            {"source": "cdnow", "order_id": str(n), "customer_id": int(row.customer_id),
             "ordered_at": row.date.to_pydatetime().replace(tzinfo=UTC),
             "amount": float(row.dollar_value)}
            for n, row in enumerate(frame.itertuples())])
    options = ModelOptions(discount_rate_annual=0.1, margin=0.3, purchase_model="bg_nbd")
    result = refresh.run(settings=get_settings(), as_of=AS_OF, options=options,
                         store_engine=sqlite_engine)
    assert result.model_error is None

    summary = summary_data_from_transaction_data(
        frame, "customer_id", "date", "dollar_value", observation_period_end=str(AS_OF))
    x, tx, age, spend = (summary[c].to_numpy() for c in
                         ("frequency", "recency", "T", "monetary_value"))
    bg = BetaGeo().fit(frequency=x, recency=tx, T=age)
    gg = GammaGamma().fit(frequency=x, monetary_value=spend)
    expected = pd.DataFrame({
        "customer_id": summary.index.to_numpy(),
        "p_alive": bg.probability_alive(x, tx, age),
        "expected_purchases_90d": bg.expected_purchases(90, x, tx, age),
        "expected_spend": gg.expected_spend(x, spend),
        "clv": gg.customer_lifetime_value(bg, frequency=x, recency=tx, T=age,
                                          monetary_value=spend, horizon_days=365,
                                          discount_rate_annual=0.1, margin=0.3,
                                          time_unit_days=1),
    }).sort_values("customer_id")
    with session_scope(sqlite_engine) as session:
        rows = session.execute(
            select(CustomerMetric.customer_id, CustomerMetric.p_alive,
                   CustomerMetric.expected_purchases_90d, CustomerMetric.expected_spend,
                   CustomerMetric.clv).order_by(CustomerMetric.customer_id)).all()
    stored = pd.DataFrame(rows, columns=list(expected.columns))
    assert stored.customer_id.tolist() == expected.customer_id.tolist()
    for column in ("p_alive", "expected_purchases_90d", "expected_spend", "clv"):
        np.testing.assert_allclose(stored[column], expected[column], rtol=1e-6,
                                   err_msg=column)
    assert result.model_params["bg_nbd"]["params"] == pytest.approx(bg.params_)
