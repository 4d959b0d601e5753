"""Ground truth under ``truth/``: never part of the importable files.

``exit_interviews_truth`` has the true defector type of every exit interview;
``customers_truth`` has one row per customer record (a duplicated person has two rows
with the same ``person_id``); ``duplicate_clusters`` lists the records of each person
known in more than one source; ``prospect_conversions`` links converted prospects to
their customer record; ``params.json`` and ``README.md`` describe the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from kithkin.simulate import duplicates, orders, vocab
from kithkin.simulate.arrow_ops import take
from kithkin.simulate.columns import TIMESTAMP
from kithkin.simulate.interactions import Batch
from kithkin.simulate.latent import Latent
from kithkin.simulate.schemas import SimulationParams
from kithkin.simulate.writer import TableSink, iso_utc

if TYPE_CHECKING:
    from kithkin.simulate.schemas import SimulationSummary

SHOP, CRM = orders.SOURCE, duplicates.SOURCE


def write_customers(sink: TableSink, latent: Latent, person_id: np.ndarray, shop_ids: pa.Array,
                    duplicated: np.ndarray, crm_ids: pa.Array, params: SimulationParams) -> None:
    rows = np.r_[np.arange(len(person_id)), duplicated]
    n_shop = len(person_id)
    defected = ~latent.alive[rows]
    table = pa.table({
        "source": pa.array([SHOP] * n_shop + [CRM] * len(duplicated), pa.string()),
        "external_id": pa.concat_arrays([shop_ids, crm_ids]),
        "person_id": pa.array(person_id[rows]),
        "alive_at_end": pa.array(latent.alive[rows]),
        "defection_date": pa.array(latent.defected_at[rows], TIMESTAMP, mask=~defected),
        "defector_type": take(vocab.DEFECTOR_TYPES, np.maximum(latent.defector_type[rows], 0),
                              mask=~defected),
        "purchase_rate_lambda": pa.array(latent.lam[rows]),
        "dropout_rate_mu": pa.array(latent.mu[rows]),
        "spend_nu": pa.array(latent.nu[rows]),
        "mean_spend": pa.array(params.p / latent.nu[rows]),
        "satisfaction": pa.array(latent.satisfaction[rows]),
        "price_sensitivity": pa.array(latent.price_sensitivity[rows]),
    })
    sink.write("customers_truth", table)
    sink.write("duplicate_clusters", pa.table({
        "cluster_id": pa.array(np.r_[person_id[duplicated], person_id[duplicated]]),
        "source": pa.array([SHOP] * len(duplicated) + [CRM] * len(duplicated), pa.string()),
        "external_id": pa.concat_arrays([shop_ids.take(pa.array(duplicated)), crm_ids]),
    }))


def write_exit_interviews(sink: TableSink, table: pa.Table, batch: Batch,
                          latent: Latent) -> None:
    """Per exit interview: the customer's true defector type and the type its text was
    worded after (they differ for the noisy share), keyed by the interaction's id."""
    rows = pa.array(batch.exit_rows)
    customer = np.concatenate(batch.customer)[batch.exit_rows] if len(batch.exit_rows) \
        else np.zeros(0, np.int64)
    sink.write("exit_interviews_truth", pa.table({
        "interaction_external_id": table["external_id"].take(rows),
        "customer_source": table["customer_source"].take(rows),
        "customer_external_id": table["customer_external_id"].take(rows),
        "defector_type": take(vocab.DEFECTOR_TYPES,
                              np.maximum(latent.defector_type[customer], 0)),
        "worded_as": take(vocab.DEFECTOR_TYPES, batch.exit_worded_as),
    }))


_README = """# Ground truth of a kithkin simulation

Not importable: these files describe the hidden process that generated the files in the
parent folder, so models can be checked against it.

- `customers_truth`: one row per customer record. `person_id` is the real person
  (duplicate records share it). `alive_at_end` is false when the customer defected
  before the end of the history, at `defection_date`, as a `defector_type` (price,
  product, service, market, technology, organizational). Latent Pareto/NBD parameters
  per day: `purchase_rate_lambda` ~ Gamma(r, alpha), `dropout_rate_mu` ~ Gamma(s, beta);
  Gamma-Gamma spend: order value ~ Gamma(p, `spend_nu`), `mean_spend` = p / nu.
  `satisfaction` is the standardised latent satisfaction that drives complaints,
  survey scores and reviews; `price_sensitivity` drives discounts and price defection.
- `duplicate_clusters`: `cluster_id` (= person id) with the (source, external_id) of each
  record of a person known in more than one source.
- `exit_interviews_truth`: per exit interview (`interaction_external_id`), the
  customer's true `defector_type` and the type its text was `worded_as` (about 10% are
  worded after a random type: the ceiling for any text classifier).
- `prospect_conversions`: prospects who became customers.
- `params.json`: every parameter, the history window and row counts.

Every customer's first order is at `acquired_at`; repeat orders are a Poisson process
while alive. Orders with id ending `-R` are refunds (negative amounts), not purchases.
"""


def write_description(directory: Path, summary: SimulationSummary, *, start: int,
                      end: int) -> None:
    window = iso_utc(np.array([start, end])).to_pylist()
    description = {
        "params": summary.params.model_dump(mode="json"),
        "history_start": window[0],
        "history_end": window[1],
        "time_unit": "day",
        "rows": summary.rows,
    }
    (directory / "params.json").write_text(json.dumps(description, indent=2) + "\n")
    (directory / "README.md").write_text(_README)
