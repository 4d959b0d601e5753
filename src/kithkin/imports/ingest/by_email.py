"""Rows that name their customer by e-mail: joined to the live customer with that e-mail.

A helpdesk export knows the requester's e-mail, a payment provider's the receipt's; neither
knows the shop's customer id. Each row's e-mail (normalised as identity resolution does) is
looked up among customers that are neither merged nor erased, and the row takes that
customer's first identifier, so the usual reference join stores it. A row is rejected,
naming the e-mail, when no customer has it or when several do (two customers not yet
merged: `kithkin identify` finds them); a customer is never created from an e-mail alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, select

from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.identity.normalize import normalize_email
from kithkin.imports.ingest.prepare import ROW, Prepared, Reject

CHUNK = 500  # e-mails per look-up (SQLite's bound-parameter limit is far above)


def resolve(connection: Connection, prepared: Prepared,
            original: Callable[[int], dict[str, Any]]) -> Prepared:
    """The batch with customer_source and customer_external_id of each row's customer;
    rows without exactly one live customer of that e-mail move to the rejects."""
    table = prepared.table
    emails = table["customer_external_id"].to_pylist()
    keys = [normalize_email(e) for e in emails]
    found = _customers(connection, sorted({k for k in keys if k}))
    rows = table[ROW].to_pylist()
    sources: list[str | None] = []
    externals: list[str | None] = []
    keep: list[bool] = []
    rejects: list[Reject] = []
    for row, email, key in zip(rows, emails, keys, strict=True):
        matches = found.get(key, {}) if key else {}
        if len(matches) == 1:
            source, external = next(iter(matches.values()))
            sources.append(source)
            externals.append(external)
            keep.append(True)
            continue
        reason = ("not an e-mail address" if key is None else
                  "no customer has this e-mail" if not matches else
                  f"{len(matches)} customers have this e-mail (not merged: kithkin "
                  "identify finds them); give the customer's id instead")
        rejects.append(Reject(row=row, field="customer_email", value=email, reason=reason,
                              original=original(row)))
        sources.append(None)
        externals.append(None)
        keep.append(False)
    columns = dict(zip(table.column_names, table.columns, strict=True))
    columns["customer_source"] = pa.array(sources, pa.string())
    columns["customer_external_id"] = pa.array(externals, pa.string())
    resolved = pa.table(columns).filter(pa.array(keep))
    extras = (prepared.extras.filter(pa.array(keep)) if prepared.extras is not None
              else None)
    return replace(prepared, table=resolved, extras=extras, payload=None,
                   rejects=[*prepared.rejects, *rejects])


def _customers(connection: Connection,
               emails: list[str]) -> dict[str, dict[int, tuple[str, str]]]:
    """e-mail -> {customer id: its first identifier (source, external id)}."""
    found: dict[str, dict[int, tuple[str, str]]] = {}
    for start in range(0, len(emails), CHUNK):
        rows = connection.execute(
            select(Customer.email_normalized, Customer.id, CustomerIdentifier.source,
                   CustomerIdentifier.external_id)
            .join(CustomerIdentifier, CustomerIdentifier.customer_id == Customer.id)
            .where(Customer.email_normalized.in_(emails[start:start + CHUNK]),
                   Customer.merged_into_id.is_(None), Customer.erased_at.is_(None))
            .order_by(CustomerIdentifier.id))
        for email, customer, source, external in rows:
            if email is not None:
                found.setdefault(email, {}).setdefault(customer, (source, external))
    return found
