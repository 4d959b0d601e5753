"""Customer batches: identifier upsert plus deterministic matching on email and phone.

A (source, external_id) already known updates its customer. A new one joins the live
customer with the same normalised email, else the same E.164 phone, else creates a
customer; later rows of the same file match customers created by earlier rows. Values
fold in file order and an empty cell never erases a stored value, so importing the same
file twice ends in the same state ("last non-empty value wins").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, insert, null, select, update
from sqlalchemy.orm import Session

from kithkin.customers import service as customer_service
from kithkin.customers.models import Consent, Customer, CustomerIdentifier
from kithkin.customers.schemas import MatchRule
from kithkin.database import bulk
from kithkin.database.base import Base, utcnow
from kithkin.imports.ingest.kinds import SPECS, Kind
from kithkin.imports.ingest.options import IngestOptions
from kithkin.imports.ingest.prepare import ROW, ColumnPlan, Prepared, Reject, plan_columns
from kithkin.imports.ingest.store import BatchCounts
from kithkin.imports.ingest.validate import Limits

PROFILE = ("first_name", "last_name", "company", "email", "email_normalized", "phone",
           "phone_e164", "date_of_birth", "date_of_birth_raw", "address_line", "address_line2",
           "city", "region", "postcode", "country",
           "acquisition_source", "acquired_at")
CONSENT_PREFIX = "consent_"
# Core tables, not ORM entities: bulk inserts skip the ORM's per-object bookkeeping.
CUSTOMERS = Base.metadata.tables[Customer.__tablename__]
IDENTIFIERS = Base.metadata.tables[CustomerIdentifier.__tablename__]
CONSENTS = Base.metadata.tables[Consent.__tablename__]


class CustomerWriter:
    def __init__(self, connection: Connection, plan: ColumnPlan) -> None:
        self.connection, self.plan = connection, plan
        self.session = Session(bind=connection)  # joins the batch's transaction

    def encode(self, prepared: Prepared) -> Prepared:
        return prepared  # rows are read as Python dicts in write()

    def write(self, prepared: Prepared, original: Callable[[int], dict[str, Any]]
              ) -> tuple[BatchCounts, list[Reject]]:
        session = self.session
        bulk.prepare_batch(self.connection)
        rows = prepared.table.to_pylist()
        extras = prepared.extras.to_pylist() if prepared.extras is not None else [{}] * len(rows)
        known = customer_service.resolve_identifiers(
            session=session, keys=[(r["source"], r["external_id"]) for r in rows])
        fresh = [r for r in rows if (r["source"], r["external_id"]) not in known]
        by_email, by_phone = customer_service.match_contacts(
            session=session,
            emails=[r["email_normalized"] for r in fresh if r.get("email_normalized")],
            phones=[r["phone_e164"] for r in fresh if r.get("phone_e164")],
        )
        rules: Counter[str] = Counter()
        row_customers: list[tuple[int, MatchRule]] = []
        links: list[tuple[str, str, int]] = []
        profiles: dict[int, dict[str, Any]] = {}
        consents: dict[int, dict[str, tuple[str, str]]] = {}
        placeholders = 0
        for row, extra in zip(rows, extras, strict=True):
            key = (row["source"], row["external_id"])
            email, phone = row.get("email_normalized"), row.get("phone_e164")
            if key in known:
                cid, rule = known[key], MatchRule.IDENTIFIER
            else:
                if email and email in by_email:
                    cid, rule = by_email[email], MatchRule.EMAIL
                elif phone and phone in by_phone:
                    cid, rule = by_phone[phone], MatchRule.PHONE
                else:
                    placeholders -= 1
                    cid, rule = placeholders, MatchRule.NEW
                known[key] = cid
                links.append((*key, cid))
            if email:
                by_email.setdefault(email, cid)
            if phone:
                by_phone.setdefault(phone, cid)
            rules[rule] += 1
            row_customers.append((cid, rule))
            profile = profiles.setdefault(cid, {})
            profile.update({c: row[c] for c in PROFILE if row.get(c) is not None})
            attributes = {k: v for k, v in extra.items() if v not in (None, "")}
            if attributes:
                profile["attributes"] = {**profile.get("attributes", {}), **attributes}
            for name, value in row.items():
                if name.startswith(CONSENT_PREFIX) and value is not None:
                    consents.setdefault(cid, {})[name.removeprefix(CONSENT_PREFIX)] = (
                        value, row["source"])
        created = self._create(session,
                               {cid: p for cid, p in profiles.items() if cid < 0})
        ids = {**created, **{cid: cid for cid in profiles if cid > 0}}
        changed = self._update(session, {c: p for c, p in profiles.items() if c > 0})
        if links:
            session.execute(insert(IDENTIFIERS), [
                {"source": s, "external_id": e, "customer_id": ids[c], "created_at": utcnow()}
                for s, e, c in links
            ])
        self._consents(session, {ids[c]: v for c, v in consents.items()})
        matched = {rule.value: rules[rule] for rule in (MatchRule.EMAIL, MatchRule.PHONE)
                   if rules[rule]}
        # Counted per row, so read = inserted + updated + unchanged (+ superseded, rejected):
        # a row that adds its identifier to a customer (matched) updates that customer.
        inserted = rules[MatchRule.NEW]
        updated = sum(1 for cid, rule in row_customers
                      if rule in (MatchRule.EMAIL, MatchRule.PHONE) or cid in changed)
        return BatchCounts(inserted, updated, len(rows) - inserted - updated, matched), []

    @staticmethod
    def _create(session: Session, profiles: dict[int, dict[str, Any]]
                ) -> dict[int, int]:
        """Insert new customers with ids allocated up front (one executemany, no RETURNING)."""
        if not profiles:
            return {}
        now = utcnow()
        placeholders = list(profiles)
        new_ids = bulk.allocate_ids(session.connection(), CUSTOMERS, len(placeholders))
        values = [{**dict.fromkeys(PROFILE), "attributes": null(), **profiles[p], "id": new,
                   "created_at": now, "updated_at": now}
                  for p, new in zip(placeholders, new_ids, strict=True)]
        session.execute(insert(CUSTOMERS), values)
        return dict(zip(placeholders, new_ids, strict=True))

    @staticmethod
    def _update(session: Session, profiles: dict[int, dict[str, Any]]) -> set[int]:
        """Write the profile fields that differ; returns the ids of the changed customers."""
        changes: list[dict[str, Any]] = []
        ids: Sequence[int] = list(profiles)
        for start in range(0, len(ids), 400):
            for customer in session.scalars(
                select(Customer).where(Customer.id.in_(ids[start:start + 400]))
            ):
                wanted = dict(profiles[customer.id])
                if "attributes" in wanted:
                    wanted["attributes"] = {**(customer.attributes or {}), **wanted["attributes"]}
                diff = {k: v for k, v in wanted.items() if getattr(customer, k) != v}
                if diff:
                    changes.append({"id": customer.id, **diff, "updated_at": utcnow()})
        session.expunge_all()
        if changes:
            session.execute(update(Customer), changes)
        return {change["id"] for change in changes}

    @staticmethod
    def _consents(session: Session, wanted: dict[int, dict[str, tuple[str, str]]]) -> None:
        if not wanted:
            return
        current: dict[tuple[int, str], tuple[int, str]] = {}
        ids = list(wanted)
        for start in range(0, len(ids), 400):
            for cid, channel, status, consent_id in session.execute(
                select(Consent.customer_id, Consent.channel, Consent.status, Consent.id)
                .where(Consent.customer_id.in_(ids[start:start + 400]))
            ):
                current[(cid, channel)] = (consent_id, status)
        now = utcnow()
        inserts, updates = [], []
        for cid, channels in wanted.items():
            for channel, (status, source) in channels.items():
                existing = current.get((cid, channel))
                if existing is None:
                    inserts.append({"customer_id": cid, "channel": channel, "status": status,
                                    "source": source, "updated_at": now})
                elif existing[1] != status:
                    updates.append({"id": existing[0], "status": status, "source": source,
                                    "updated_at": now})
        if inserts:
            session.execute(insert(CONSENTS), inserts)
        if updates:
            session.execute(update(Consent), updates)


def create_missing_customers(connection: Connection, table: pa.Table, *, label: str,
                             limits: Limits) -> int:
    """Create the customers a batch of orders (interactions, memberships) names but the
    store does not know, with their source and external id only; return how many.

    Runs in the batch's transaction before its rows are written, so their references
    resolve; known identifiers (merged customers included) are left alone.
    """
    if "customer_external_id" not in table.column_names or table.num_rows == 0:
        return 0
    source = table["customer_source" if "customer_source" in table.column_names
                   else "source"]
    pairs = pa.table({"source": source, "external_id": table["customer_external_id"]})
    pairs = pairs.filter(pc.and_(pc.is_valid(pairs["source"]),
                                 pc.is_valid(pairs["external_id"])))
    pairs = pairs.group_by(["source", "external_id"], use_threads=False).aggregate([])
    if pairs.num_rows == 0:
        return 0
    plan = plan_columns(SPECS[Kind.CUSTOMERS], ["source", "external_id"], IngestOptions(),
                        file=label, limits=limits)
    staged = pairs.append_column(ROW, pa.array(range(1, pairs.num_rows + 1), pa.int64()))
    counts, _ = CustomerWriter(connection, plan).write(
        Prepared(staged, [], 0), lambda _row: {})
    return counts.inserted
