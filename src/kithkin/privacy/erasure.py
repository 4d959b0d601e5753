"""Erasure that holds (GDPR art. 17): nothing left to restore, figures unchanged.

A person may live in several customer records (merged duplicates), so erasure takes the
whole merge cluster: the live record and every record merged into it. For each it

- nulls the personal fields of the customer row (``customers.service.PII_FIELDS``) and
  blanks prospects converted into it;
- deletes its identities (``customer_identifier``) after adding their digests, and those
  of its e-mails and phones, to the suppression list;
- scrubs free text in every table pointing at it (:mod:`kithkin.privacy.rules`);
- replaces the before-images in the merge log of every merge that touched it by their
  primary keys only, so no undo can bring the values back (and undo of such a merge is
  refused: :func:`kithkin.identity.service.undo_merge` checks ``erased_at``);
- removes its rows from uploaded and reject files (:mod:`kithkin.privacy.files`).

Orders, stages and metrics stay under the customer id, which no longer leads to a person:
it is the pseudonymous id, and CLV and retention figures, which count erased customers
like any other, do not move. The erasure log row says who erased which id, when and how
much was removed, never what. Idempotent: erasing again finds nothing more to remove
and writes no second log row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Table, delete, null, or_, select, update
from sqlalchemy.orm import Session

from kithkin.audit import service as audit_service
from kithkin.config import Settings
from kithkin.customers import service as customer_service
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.database.base import Base, utcnow
from kithkin.errors import NotFoundError
from kithkin.identity.models import CandidateStatus, CustomerMerge, DuplicateCandidate
from kithkin.privacy import files, rules, suppression
from kithkin.privacy.models import Erasure
from kithkin.prospects.models import Prospect

PROSPECT_FIELDS = ("first_name", "last_name", "company", "email", "email_normalized",
                   "phone_e164", "attributes")


def cluster(*, session: Session, customer_id: int) -> list[int]:
    """The ids of one person: the live record ``customer_id`` now lives in, and every
    record merged into it (directly or through others), ascending."""
    if session.get(Customer, customer_id) is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    root, seen = customer_id, {customer_id}
    while (parent := session.scalar(select(Customer.merged_into_id).where(
            Customer.id == root))) is not None and parent not in seen:
        seen.add(parent)
        root = parent
    found, frontier = {root}, [root]
    while frontier:
        children = set(session.scalars(select(Customer.id).where(
            Customer.merged_into_id.in_(frontier)))) - found
        found |= children
        frontier = list(children)
    return sorted(found)


def erase(*, session: Session, settings: Settings, customer_id: int, actor: str) -> Erasure:
    """Erase the person behind ``customer_id``; returns the log row (the existing one
    when they were erased already and nothing was left). The caller commits."""
    ids = cluster(session=session, customer_id=customer_id)
    customers = list(session.scalars(select(Customer).where(Customer.id.in_(ids))))
    merges = list(session.scalars(select(CustomerMerge).where(or_(
        CustomerMerge.survivor_id.in_(ids), CustomerMerge.merged_id.in_(ids)))))
    identifiers = list(session.scalars(select(CustomerIdentifier).where(
        CustomerIdentifier.customer_id.in_(ids))))
    old_rows = [row for merge in merges for row in _customer_images(merge, ids)]
    live_rows: list[Mapping[str, Any]] = [
        {name: getattr(c, name) for name in ("first_name", "last_name", "email",
                                             "email_normalized", "phone", "phone_e164")}
        for c in customers]
    people = [*live_rows, *old_rows]
    pending = any(c.erased_at is None or _has_personal_data(c) for c in customers) or \
        bool(identifiers) or any(_has_images(m) for m in merges)
    if not pending:
        previous = session.scalars(select(Erasure).where(Erasure.customer_id.in_(ids))
                                   .order_by(Erasure.id.desc())).first()
        if previous is not None:
            return previous
    removed: dict[str, Any] = {"records": len(ids), "identifiers": len(identifiers)}
    log = Erasure(customer_id=_live_id(customers, customer_id), customer_ids=ids,
                  actor=actor, removed=removed)
    session.add(log)
    session.flush()
    removed["suppressed"] = suppression.add(
        session=session, settings=settings, erasure_id=log.id,
        entries=_suppression_entries(people, identifiers))
    needles = files.Needles.of(
        contacts=[v for row in people for v in (row.get("email"), row.get("email_normalized"),
                                                row.get("phone"), row.get("phone_e164"))],
        external_ids=[i.external_id for i in identifiers],
        names=[(row.get("first_name"), row.get("last_name")) for row in people])
    session.execute(delete(CustomerIdentifier).where(CustomerIdentifier.customer_id.in_(ids)))
    removed.update(_scrub_owned(session, ids))
    now = utcnow()
    for customer in customers:
        for name in customer_service.PII_FIELDS:
            setattr(customer, name, None)
        customer.erased_at = customer.erased_at or now
        customer.updated_at = now
    for prospect in session.scalars(select(Prospect).where(
            Prospect.converted_customer_id.in_(ids))):
        for name in PROSPECT_FIELDS:
            setattr(prospect, name, None)
    removed["merge_images"] = sum(_strip_images(m) for m in merges)
    # A pending duplicate pair of an erased record has nothing left to compare.
    pending_pairs = session.execute(delete(DuplicateCandidate).where(
        DuplicateCandidate.status == CandidateStatus.PENDING,
        or_(DuplicateCandidate.customer_id_l.in_(ids),
            DuplicateCandidate.customer_id_r.in_(ids))))
    removed["pending_pairs"] = int(getattr(pending_pairs, "rowcount", 0) or 0)
    removed["files"] = files.purge([settings.uploads_dir, settings.rejects_dir],
                                   needles).as_dict()
    session.flush()
    # The audit trail recorded the values this erasure just removed (and its own
    # changes): the one permitted rewrite of audit rows, in this transaction.
    removed["audit_rows"] = sum(audit_service.scrub_customer(session, customer_id)
                                for customer_id in ids)
    log.removed = dict(removed)
    session.flush()
    return log


def _live_id(customers: Iterable[Customer], asked: int) -> int:
    live = [c.id for c in customers if c.merged_into_id is None]
    return live[0] if live else asked


def _has_personal_data(customer: Customer) -> bool:
    return any(getattr(customer, name) is not None for name in customer_service.PII_FIELDS)


def _customer_images(merge: CustomerMerge, ids: list[int]) -> list[Mapping[str, Any]]:
    return [change["row"] for change in merge.changes or []
            if change.get("table") == "customer" and change["row"].get("id") in ids
            and len(change["row"]) > 1]


def _has_images(merge: CustomerMerge) -> bool:
    return any(len(change.get("row", {})) > len(_primary_key(change["table"]))
               for change in merge.changes or [])


def _primary_key(table_name: str) -> list[str]:
    table = Base.metadata.tables.get(table_name)
    return ["id"] if table is None else [c.name for c in table.primary_key.columns]


def _strip_images(merge: CustomerMerge) -> int:
    """Keep only each changed row's table, operation and primary key; returns how many
    before-images were removed."""
    stripped, count = [], 0
    for change in merge.changes or []:
        keys = _primary_key(change["table"])
        row = {k: v for k, v in change.get("row", {}).items() if k in keys}
        if len(row) < len(change.get("row", {})):
            count += 1
        stripped.append({"table": change["table"], "op": change["op"], "row": row,
                         "erased": True})
    if count:
        merge.changes = stripped
    return count


def _suppression_entries(people: Iterable[Mapping[str, Any]],
                         identifiers: Iterable[CustomerIdentifier]) -> list[tuple[str, str]]:
    entries = []
    for row in people:
        if row.get("email_normalized"):
            entries.append((suppression.EMAIL, str(row["email_normalized"])))
        if row.get("phone_e164"):
            entries.append((suppression.PHONE, str(row["phone_e164"])))
    entries += [(suppression.IDENTIFIER,
                 suppression.identifier_value(i.source, i.external_id)) for i in identifiers]
    return entries


def _scrub_owned(session: Session, ids: list[int]) -> dict[str, int]:
    """Apply the per-table erasure rules; returns rows scrubbed per table."""
    counts: dict[str, int] = {}
    for owned in rules.owned_tables():
        table: Table = owned.table
        if table.name in rules.DELETE_TABLES:
            deleted = session.execute(delete(table).where(owned.column.in_(ids)))
            counts[table.name] = int(getattr(deleted, "rowcount", 0) or 0)
            continue
        values = rules.scrub_columns(owned.table)
        if not values:
            continue
        result = session.execute(update(table).where(owned.column.in_(ids)).values(
            {name: null() if value is None else value for name, value in values.items()}))
        rowcount = int(getattr(result, "rowcount", 0) or 0)
        if rowcount:
            counts[table.name] = counts.get(table.name, 0) + rowcount
    return counts
