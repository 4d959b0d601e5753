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
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, insert, null, select, update
from sqlalchemy.orm import Session

from kithkin.config import get_settings
from kithkin.customers import service as customer_service
from kithkin.customers.models import Customer, CustomerIdentifier, Purpose
from kithkin.customers.schemas import MatchRule
from kithkin.database import bulk
from kithkin.database.base import Base, utcnow
from kithkin.imports.ingest.kinds import SPECS, Kind
from kithkin.imports.ingest.options import IngestOptions
from kithkin.imports.ingest.prepare import ROW, ColumnPlan, Prepared, Reject, plan_columns
from kithkin.imports.ingest.store import BatchCounts
from kithkin.imports.ingest.validate import Limits
from kithkin.privacy import consent as consent_service
from kithkin.privacy import suppression
from kithkin.privacy.models import ConsentSource

PROFILE = ("first_name", "last_name", "company", "email", "email_normalized", "phone",
           "phone_e164", "date_of_birth", "date_of_birth_raw", "address_line", "address_line2",
           "city", "region", "postcode", "country",
           "acquisition_source", "acquired_at")
CONSENT_PREFIX = "consent_"
CONSENT_DETAILS = ("consent_wording", "consent_evidence", "consent_at")
SUPPRESSED = ("suppressed: this e-mail, phone or id belongs to an erased person; import it "
              "only with new consent (a consent_* column saying granted and a consent_at "
              "after the erasure)")
# Core tables, not ORM entities: bulk inserts skip the ORM's per-object bookkeeping.
CUSTOMERS = Base.metadata.tables[Customer.__tablename__]
IDENTIFIERS = Base.metadata.tables[CustomerIdentifier.__tablename__]


def split_full_name(row: dict[str, Any]) -> dict[str, str]:
    """First and last name from a one-column name (``Ana María García``: first ``Ana
    María``, last ``García``), the way most exports order it; a row's own first or last
    name wins, and a one-word name is a last name (what matching and search key on)."""
    full = " ".join(str(row.get("full_name") or "").split())
    if not full or row.get("first_name") or row.get("last_name"):
        return {}
    first, _, last = full.rpartition(" ")
    return {"last_name": last, **({"first_name": first} if first else {})}


def consent_changes(row: dict[str, Any]) -> list[consent_service.ConsentChange]:
    """The consent events one customer row states: ``consent_<channel>`` (marketing) and
    ``consent_<channel>_<purpose>``, with the row's wording, evidence and time."""
    changes = []
    for name, value in row.items():
        if not name.startswith(CONSENT_PREFIX) or name in CONSENT_DETAILS or value is None:
            continue
        channel, _, purpose = name.removeprefix(CONSENT_PREFIX).partition("_")
        changes.append(consent_service.ConsentChange(
            customer_id=0, channel=channel, purpose=purpose or Purpose.MARKETING,
            status=value, source=ConsentSource.IMPORT,
            source_detail=f"import from {row['source']}"[:200],
            wording=row.get("consent_wording"), evidence=row.get("consent_evidence"),
            occurred_at=row.get("consent_at")))
    return changes


def _granted_after(row: dict[str, Any], moment: datetime) -> bool:
    """New consent: a grant in the row dated (``consent_at``) after the erasure. A grant
    without a date is what the source said before, not new consent."""
    at = row.get("consent_at")
    if not isinstance(at, datetime):
        return False
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return at > moment and any(c.status == "granted" for c in consent_changes(row))


def _without_suppressed(session: Session, rows: list[dict[str, Any]],
                        extras: list[dict[str, Any]]
                        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Reject]]:
    """Drop the rows of erased people (see :mod:`kithkin.privacy.suppression`) unless
    they carry a grant given after the erasure. The reject keeps the row number and
    reason only: writing the row to the reject file would store the erased values again."""
    if not suppression.any_suppressed(session=session):
        return rows, extras, []
    entries = {(i, kind, value) for i, row in enumerate(rows) for kind, value in (
        (suppression.EMAIL, row.get("email_normalized")),
        (suppression.PHONE, row.get("phone_e164")),
        (suppression.IDENTIFIER, suppression.identifier_value(row["source"],
                                                              row["external_id"])))
        if value}
    found = suppression.suppressed(session=session, settings=get_settings(),
                                   entries=sorted({(k, v) for _, k, v in entries}))
    since: dict[int, datetime] = {}
    for i, kind, value in entries:
        if (kind, value) in found:
            since[i] = max(since.get(i, found[(kind, value)]), found[(kind, value)])
    blocked = {i for i in since if not _granted_after(rows[i], since[i])}
    if not blocked:
        return rows, extras, []
    rejects = [Reject(row=rows[i][ROW], field="email", value=None, reason=SUPPRESSED,
                      original={}) for i in sorted(blocked)]
    keep = [i for i in range(len(rows)) if i not in blocked]
    return [rows[i] for i in keep], [extras[i] for i in keep], rejects


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
        rows, extras, rejects = _without_suppressed(session, rows, extras)
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
        consents: list[tuple[int, consent_service.ConsentChange]] = []
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
            profile.update(split_full_name(row))
            profile.update({c: row[c] for c in PROFILE if row.get(c) is not None})
            attributes = {k: v for k, v in extra.items() if v not in (None, "")}
            if attributes:
                profile["attributes"] = {**profile.get("attributes", {}), **attributes}
            consents += [(cid, change) for change in consent_changes(row)]
        created = self._create(session,
                               {cid: p for cid, p in profiles.items() if cid < 0})
        ids = {**created, **{cid: cid for cid in profiles if cid > 0}}
        changed = self._update(session, {c: p for c, p in profiles.items() if c > 0})
        if links:
            session.execute(insert(IDENTIFIERS), [
                {"source": s, "external_id": e, "customer_id": ids[c], "created_at": utcnow()}
                for s, e, c in links
            ])
        self._consents(session, [replace(change, customer_id=ids[cid])
                                 for cid, change in consents])
        matched = {rule.value: rules[rule] for rule in (MatchRule.EMAIL, MatchRule.PHONE)
                   if rules[rule]}
        # Counted per row, so read = inserted + updated + unchanged (+ superseded, rejected):
        # a row that adds its identifier to a customer (matched) updates that customer.
        inserted = rules[MatchRule.NEW]
        updated = sum(1 for cid, rule in row_customers
                      if rule in (MatchRule.EMAIL, MatchRule.PHONE) or cid in changed)
        return (BatchCounts(inserted, updated, len(rows) - inserted - updated, matched),
                rejects)

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
    def _consents(session: Session, wanted: list[consent_service.ConsentChange]) -> None:
        """To the consent ledger, skipping what it already says (re-imports add nothing)."""
        consent_service.record_many(session=session, changes=wanted, skip_repeats=True)


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
    session = Session(bind=connection)  # joins the batch's transaction
    if suppression.any_suppressed(session=session):
        # An erased person's id must not come back as a new customer: their orders are
        # rejected as an unknown customer instead.
        keys = [suppression.identifier_value(s, e) for s, e in zip(
            pairs["source"].to_pylist(), pairs["external_id"].to_pylist(), strict=True)]
        found = suppression.suppressed(session=session, settings=get_settings(), entries=[
            (suppression.IDENTIFIER, key) for key in keys])
        pairs = pairs.filter(pa.array([(suppression.IDENTIFIER, k) not in found
                                       for k in keys]))
    if pairs.num_rows == 0:
        return 0
    plan = plan_columns(SPECS[Kind.CUSTOMERS], ["source", "external_id"], IngestOptions(),
                        file=label, limits=limits)
    staged = pairs.append_column(ROW, pa.array(range(1, pairs.num_rows + 1), pa.int64()))
    counts, _ = CustomerWriter(connection, plan).write(
        Prepared(staged, [], 0), lambda _row: {})
    return counts.inserted
