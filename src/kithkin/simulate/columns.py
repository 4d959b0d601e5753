"""Arrow schemas of the files the simulator writes.

The importable files carry exactly the canonical columns of docs/architecture.md, in
that order; ground truth has its own schemas and lives only under ``truth/``.
"""

from __future__ import annotations

import pyarrow as pa

TIMESTAMP = pa.timestamp("s", tz="UTC")
_S = pa.string()
_F = pa.float64()


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, kind) for name, kind in fields])


IMPORT_SCHEMAS: dict[str, pa.Schema] = {
    "prospects": _schema(
        ("source", _S), ("external_id", _S), ("first_name", _S), ("last_name", _S),
        ("company", _S), ("email", _S), ("phone", _S), ("origin", _S), ("competitor", _S),
        ("status", _S), ("captured_at", TIMESTAMP),
    ),
    "customers": _schema(
        ("source", _S), ("external_id", _S), ("first_name", _S), ("last_name", _S),
        ("company", _S), ("email", _S), ("phone", _S), ("date_of_birth", _S),
        ("address_line", _S), ("address_line2", _S), ("city", _S), ("region", _S),
        ("postcode", _S), ("country", _S),
        ("acquisition_source", _S), ("acquired_at", TIMESTAMP), ("consent_email", _S),
        ("consent_sms", _S), ("consent_phone", _S), ("consent_post", _S),
    ),
    "products": _schema(
        ("sku", _S), ("name", _S), ("category", _S), ("list_price", _F), ("unit_cost", _F),
    ),
    "transactions": _schema(
        ("source", _S), ("order_id", _S), ("customer_external_id", _S),
        ("customer_source", _S), ("ordered_at", TIMESTAMP), ("amount", _F), ("cost", _F),
        ("discount", _F), ("currency", _S), ("channel", _S),
    ),
    "lines": _schema(
        ("source", _S), ("order_id", _S), ("line_no", pa.int32()), ("sku", _S),
        ("quantity", pa.int32()), ("unit_price", _F), ("discount", _F), ("unit_cost", _F),
        ("bundle", _S),
    ),
    "interactions": _schema(
        ("source", _S), ("external_id", _S), ("customer_external_id", _S),
        ("customer_source", _S), ("prospect_external_id", _S), ("occurred_at", TIMESTAMP),
        ("channel", _S), ("direction", _S), ("kind", _S), ("subject", _S), ("text", _S),
        ("score", _F), ("score_scale", _S), ("status", _S), ("resolved_at", TIMESTAMP),
        ("tags", _S),
    ),
    "memberships": _schema(
        ("source", _S), ("external_id", _S), ("customer_external_id", _S),
        ("customer_source", _S), ("kind", _S), ("programme", _S), ("tier", _S),
        ("started_at", TIMESTAMP), ("ended_at", TIMESTAMP),
    ),
}

TRUTH_SCHEMAS: dict[str, pa.Schema] = {
    "customers_truth": _schema(
        ("source", _S), ("external_id", _S), ("person_id", pa.int64()),
        ("alive_at_end", pa.bool_()), ("defection_date", TIMESTAMP), ("defector_type", _S),
        ("purchase_rate_lambda", _F), ("dropout_rate_mu", _F), ("spend_nu", _F),
        ("mean_spend", _F), ("satisfaction", _F), ("price_sensitivity", _F),
    ),
    "duplicate_clusters": _schema(
        ("cluster_id", pa.int64()), ("source", _S), ("external_id", _S),
    ),
    "exit_interviews_truth": _schema(
        ("interaction_external_id", _S), ("customer_source", _S),
        ("customer_external_id", _S), ("defector_type", _S), ("worded_as", _S),
    ),
    "prospect_conversions": _schema(
        ("prospect_source", _S), ("prospect_external_id", _S), ("customer_source", _S),
        ("customer_external_id", _S),
    ),
}
