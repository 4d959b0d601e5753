"""Review, merge, reject and undo of duplicate customers.

A merge re-points every row a customer owns (see :mod:`kithkin.identity.ownership`) to the
survivor, writes the golden record by survivorship rules, marks the merged record with
``merged_into_id`` and logs the before-image of every row it changed. Undo replays that
log backwards, so both records and everything each owned come back exactly. Neither
commits: the caller's unit of work (``session_scope``) makes each one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.orm import Session

from kithkin.config import Settings
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.database.base import Base, utcnow
from kithkin.database.core import get_or_raise
from kithkin.database.pagination import SortKey, keyset_page
from kithkin.errors import ConflictError, NotFoundError, ValidationError
from kithkin.identity import features, ownership, resolution, snapshot, survivorship
from kithkin.identity.models import (
    CandidateStatus,
    CustomerMerge,
    DuplicateCandidate,
    IdentityRun,
)

CUSTOMER: Table = Customer.__table__  # type: ignore[assignment]
CANDIDATE: Table = DuplicateCandidate.__table__  # type: ignore[assignment]


class _ChangeLog:
    """Collects before-images, one per row, in the order rows were first changed."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._seen: set[tuple[str, tuple[Any, ...]]] = set()

    def record(self, table: Table, op: str, row: Mapping[Any, Any]) -> None:
        key = (table.name, tuple(row[c.name] for c in table.primary_key.columns))
        if key in self._seen:
            return
        self._seen.add(key)
        self.entries.append({"table": table.name, "op": op, "row": snapshot.encode_row(row)})


def _pk_clause(table: Table, row: Mapping[Any, Any]) -> Any:
    return and_(*(c == row[c.name] for c in table.primary_key.columns))


def _customer_row(session: Session, customer_id: int) -> Mapping[Any, Any]:
    row = session.execute(select(CUSTOMER).where(CUSTOMER.c.id == customer_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    return row


def _source_ranks(session: Session, customer_ids: Sequence[int],
                  priority: Sequence[str]) -> dict[int, int]:
    ranks = {cid: len(priority) for cid in customer_ids}
    rows = session.execute(
        select(CustomerIdentifier.customer_id, CustomerIdentifier.source).where(
            CustomerIdentifier.customer_id.in_(customer_ids)
        )
    )
    for customer_id, source in rows:
        if source in priority:
            ranks[customer_id] = min(ranks[customer_id], priority.index(source))
    return ranks


def _move_owned_rows(
    session: Session, log: _ChangeLog, *, survivor_id: int, merged_id: int
) -> None:
    """Re-point rows of every customer-owned table; settle unique-key collisions."""
    for owned in ownership.owned_columns():
        table, column = owned.table, owned.column
        rows = session.execute(select(table).where(column == merged_id)).mappings().all()
        for row in rows:
            clash = _colliding_row(session, owned, row, survivor_id=survivor_id)
            if clash is None:
                log.record(table, "update", row)
                continue
            keep_merged = owned.recency_column is not None and (
                row[owned.recency_column] > clash[owned.recency_column]
            )
            loser = clash if keep_merged else row
            log.record(table, "delete", loser)
            session.execute(table.delete().where(_pk_clause(table, loser)))
            if keep_merged:
                log.record(table, "update", row)
        session.execute(
            table.update().where(column == merged_id).values({column.name: survivor_id})
        )


def _colliding_row(
    session: Session, owned: ownership.OwnedColumn, row: Mapping[Any, Any], *, survivor_id: int
) -> Mapping[Any, Any] | None:
    for partners in owned.unique_partners:
        if any(row[p] is None for p in partners):
            continue  # NULLs never collide under SQL unique semantics
        clash = session.execute(
            select(owned.table).where(
                owned.column == survivor_id, *(owned.table.c[p] == row[p] for p in partners)
            )
        ).mappings().first()
        if clash is not None:
            return clash
    return None


def _pair_candidate(session: Session, a: int, b: int) -> Mapping[Any, Any] | None:
    low, high = sorted((a, b))
    return session.execute(
        select(CANDIDATE).where(CANDIDATE.c.customer_id_l == low, CANDIDATE.c.customer_id_r == high)
    ).mappings().first()


def merge(
    *,
    session: Session,
    settings: Settings,
    survivor_id: int,
    merged_id: int,
    actor: str,
    automatic: bool = False,
    reason: str | None = None,
    candidate_id: int | None = None,
) -> CustomerMerge:
    """Merge ``merged_id`` into ``survivor_id``; return the merge log entry.

    The candidate pair decided by this merge (``candidate_id``, else the stored pair of
    these two customers, if any) is marked merged, and put back by undo. The golden
    record follows the survivorship rules and source priority of ``settings``.
    Raises ConflictError when either record is already merged or erased.
    """
    if survivor_id == merged_id:
        raise ValidationError("a customer cannot be merged into itself")
    survivor = _customer_row(session, survivor_id)
    merged = _customer_row(session, merged_id)
    for row in (survivor, merged):
        if row["merged_into_id"] is not None:
            raise ConflictError(
                f"customer {row['id']} is already merged into customer {row['merged_into_id']}"
            )
        if row["erased_at"] is not None:
            raise ConflictError(f"customer {row['id']} is erased and cannot be merged")
    session.flush()
    log = _ChangeLog()
    rules = survivorship.resolve_rules(
        settings.identity_survivorship, source_priority=settings.identity_source_priority
    )
    golden = survivorship.golden_values(
        survivor, merged, rules=rules,
        source_rank=_source_ranks(session, [survivor_id, merged_id],
                                  settings.identity_source_priority),
    )
    log.record(CUSTOMER, "update", survivor)
    log.record(CUSTOMER, "update", merged)
    _move_owned_rows(session, log, survivor_id=survivor_id, merged_id=merged_id)
    if golden:
        session.execute(CUSTOMER.update().where(CUSTOMER.c.id == survivor_id).values(golden))
    session.execute(
        CUSTOMER.update().where(CUSTOMER.c.id == merged_id).values(merged_into_id=survivor_id)
    )
    candidate = (
        _pair_candidate(session, survivor_id, merged_id) if candidate_id is None
        else session.execute(select(CANDIDATE).where(CANDIDATE.c.id == candidate_id))
        .mappings().first()
    )
    if candidate is not None:
        log.record(CANDIDATE, "update", candidate)
        session.execute(
            CANDIDATE.update().where(CANDIDATE.c.id == candidate["id"]).values(
                status=CandidateStatus.AUTO_MERGED if automatic else CandidateStatus.MERGED,
                decided_at=utcnow(), decided_by=actor,
            )
        )
    entry = CustomerMerge(
        survivor_id=survivor_id, merged_id=merged_id, actor=actor, reason=reason,
        candidate_id=None if candidate is None else candidate["id"], changes=log.entries,
    )
    session.add(entry)
    session.flush()
    session.expire_all()
    session.refresh(entry)
    return entry


def undo_merge(*, session: Session, merge_id: int, actor: str = "system") -> CustomerMerge:
    """Restore both records of a merge, and every row each owned, as they were before it.

    Refuses (ConflictError) when the merge was undone already, when either record was
    erased (its before-images are gone: :mod:`kithkin.privacy.erasure`), when a later
    merge that is still in force involves either record (undo that one first), or when a
    row the merge changed was deleted, or a row it deleted was re-created, since.
    """
    entry = get_or_raise(session, CustomerMerge, merge_id, "merge")
    if entry.undone_at is not None:
        raise ConflictError(
            f"merge {merge_id} was already undone at {entry.undone_at:%Y-%m-%d %H:%M}"
        )
    ids = (entry.survivor_id, entry.merged_id)
    erased = session.scalars(select(Customer.id).where(
        Customer.id.in_(ids), Customer.erased_at.is_not(None)).order_by(Customer.id)).first()
    if erased is not None or any(change.get("erased") for change in entry.changes):
        raise ConflictError(
            f"cannot undo merge {merge_id}: customer {erased or entry.survivor_id} was "
            "erased, and undoing the merge would restore erased personal data"
        )
    later = session.scalars(
        select(CustomerMerge.id).where(
            CustomerMerge.id > merge_id, CustomerMerge.undone_at.is_(None),
            or_(CustomerMerge.survivor_id.in_(ids), CustomerMerge.merged_id.in_(ids)),
        ).order_by(CustomerMerge.id.desc())
    ).first()
    if later is not None:
        raise ConflictError(
            f"merge {later} came after merge {merge_id} and involves the same customers; "
            f"undo merge {later} first"
        )
    session.flush()
    tables = Base.metadata.tables
    for change in reversed(entry.changes):
        table = tables[change["table"]]
        row = snapshot.decode_row(table, change["row"])
        exists = session.execute(
            select(func.count()).select_from(table).where(_pk_clause(table, row))
        ).scalar_one()
        if change["op"] == "delete":
            if exists:
                raise ConflictError(
                    f"cannot undo merge {merge_id}: {table.name} row {_pk_text(table, row)} "
                    "was re-created after the merge"
                )
            session.execute(table.insert().values(row))
        else:
            if not exists:
                raise ConflictError(
                    f"cannot undo merge {merge_id}: {table.name} row {_pk_text(table, row)} "
                    "was deleted after the merge"
                )
            session.execute(table.update().where(_pk_clause(table, row)).values(row))
    session.execute(
        update(CustomerMerge).where(CustomerMerge.id == merge_id).values(
            undone_at=utcnow(), undone_by=actor
        )
    )
    session.flush()
    session.expire_all()
    refreshed = session.get(CustomerMerge, merge_id)
    assert refreshed is not None
    return refreshed


def _pk_text(table: Table, row: Mapping[Any, Any]) -> str:
    return ",".join(str(row[c.name]) for c in table.primary_key.columns)


def reject(*, session: Session, candidate_id: int, actor: str) -> DuplicateCandidate:
    """Mark a pending pair as not the same customer; later runs will not propose it again."""
    candidate = get_candidate(session=session, candidate_id=candidate_id)
    if candidate.status != CandidateStatus.PENDING:
        raise ConflictError(f"pair {candidate_id} is {candidate.status}, not pending")
    candidate.status = CandidateStatus.REJECTED
    candidate.decided_at = utcnow()
    candidate.decided_by = actor
    session.flush()
    return candidate


def live_customer_id(*, session: Session, customer_id: int) -> int:
    """The record a customer id now lives in (following ``merged_into_id``)."""
    current, seen = customer_id, set()
    while True:
        target = session.execute(
            select(Customer.merged_into_id).where(Customer.id == current)
        ).scalar_one_or_none()
        if target is None or current in seen:
            return current
        seen.add(current)
        current = target


def merge_candidate(*, session: Session, settings: Settings, candidate_id: int,
                    actor: str) -> CustomerMerge:
    """Merge a reviewed pair; the older record (lower id) survives.

    If either side was merged meanwhile (by another pair of its cluster), the records
    they now live in are merged instead.
    """
    candidate = get_candidate(session=session, candidate_id=candidate_id)
    if candidate.status != CandidateStatus.PENDING:
        raise ConflictError(f"pair {candidate_id} is {candidate.status}, not pending")
    left = live_customer_id(session=session, customer_id=candidate.customer_id_l)
    right = live_customer_id(session=session, customer_id=candidate.customer_id_r)
    if left == right:
        raise ConflictError(f"pair {candidate_id} is already one customer ({left})")
    return merge(
        session=session, settings=settings, survivor_id=min(left, right), merged_id=max(left,
                                                                                        right),
        actor=actor, candidate_id=candidate_id,
    )


def get_candidate(*, session: Session, candidate_id: int) -> DuplicateCandidate:
    candidate = get_or_raise(session, DuplicateCandidate, candidate_id, "duplicate pair")
    return candidate


def list_page(
    *,
    session: Session,
    limit: int = 50,
    after: str | None = None,
    status: CandidateStatus | None = CandidateStatus.PENDING,
) -> tuple[list[DuplicateCandidate], str | None]:
    """One page of candidate pairs in id order and the next page's cursor (keyset)."""
    query = select(DuplicateCandidate)
    if status is not None:
        query = query.where(DuplicateCandidate.status == status)
    return keyset_page(session=session, query=query, id_column=DuplicateCandidate.id,
                       key=SortKey("id", DuplicateCandidate.id), limit=limit, after=after)


# Field shown side by side -> the comparison whose weight it contributes to.
COMPARED_FIELDS: dict[str, str] = {
    "first_name": "first_name_last_name", "last_name": "first_name_last_name",
    "date_of_birth": "dob", "email": "email", "phone": "phone",
    "address_line": "location", "postcode": "location", "city": "location",
    "company": "", "country": "",
}


def compare_fields(*, session: Session, candidate: DuplicateCandidate) -> list[dict[str, Any]]:
    """The pair side by side: each field's two values, comparison level and weight."""
    left = _customer_row(session, candidate.customer_id_l)
    right = _customer_row(session, candidate.customer_id_r)
    rows = []
    for name, comparison in COMPARED_FIELDS.items():
        detail = candidate.weights.get(comparison, {}) if comparison else {}
        rows.append({
            "field": name, "left": left[name], "right": right[name],
            "comparison": comparison or None, "level": detail.get("level"),
            "weight": detail.get("weight"),
        })
    return rows


def get_merge(*, session: Session, merge_id: int) -> CustomerMerge:
    entry = get_or_raise(session, CustomerMerge, merge_id, "merge")
    return entry


def identify(
    *,
    session: Session,
    settings: Settings,
    threshold_merge: float | None = None,
    threshold_review: float | None = None,
    retrain: bool = False,
    auto_merge: bool | None = None,
    actor: str = "identify",
    step: Callable[[str], None] | None = None,
) -> IdentityRun:
    """Score every live customer pair, store candidates, merge the sure ones.

    Pairs at or above ``threshold_review`` become candidates: those at or above
    ``threshold_merge`` are merged at once when auto-merge is on, the others wait for
    review. Pending candidates of earlier runs are replaced; pairs someone already
    merged or rejected are never proposed again. Thresholds and auto-merge left as None
    come from ``settings``, as do the engine and the normalisation rules.
    """
    merge_at = settings.identity_threshold_merge if threshold_merge is None else threshold_merge
    review_at = (
        settings.identity_threshold_review if threshold_review is None else threshold_review
    )
    if not 0.0 <= review_at <= merge_at <= 1.0:
        raise ValidationError(
            f"thresholds must satisfy 0 <= review ({review_at}) <= merge ({merge_at}) <= 1"
        )
    auto = settings.identity_auto_merge if auto_merge is None else auto_merge
    run = IdentityRun(engine=settings.analytics_engine, threshold_merge=merge_at,
                      threshold_review=review_at)
    session.add(run)
    session.flush()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if step:
        step("reading customers")
    frame, fields = features.load_match_table(session=session, settings=settings)
    timings["load_seconds"] = time.perf_counter() - started
    model: dict[str, Any] = {}
    pairs = pd.DataFrame(columns=["customer_id_l", "customer_id_r", "match_probability"])
    if len(frame) >= 2:
        pairs, model = resolution.score_pairs(
            frame, settings=settings, threshold=review_at, retrain=retrain, step=step,
        )
        pairs = pairs[pairs["match_probability"] >= review_at]
    timings["score_seconds"] = time.perf_counter() - started - timings["load_seconds"]
    if step:
        step("storing candidates")
    stored = _store_candidates(session, run_id=run.id, pairs=pairs)
    merged = 0
    if auto:
        if step:
            step("merging pairs above the merge threshold")
        merged = _auto_merge(session, settings, run_id=run.id, threshold=merge_at,
                             actor=actor)
    timings["total_seconds"] = time.perf_counter() - started
    run.records = fields.records
    run.candidates = stored
    run.auto_merged = merged
    run.finished_at = utcnow()
    run.report = {"fields": fields.counts, **model,
                  **{k: round(v, 3) for k, v in timings.items()}}
    session.flush()
    return run


def _store_candidates(session: Session, *, run_id: int, pairs: pd.DataFrame) -> int:
    session.execute(CANDIDATE.delete().where(CANDIDATE.c.status == CandidateStatus.PENDING))
    decided = set(session.execute(select(CANDIDATE.c.customer_id_l, CANDIDATE.c.customer_id_r))
                  .all())
    now = utcnow()
    rows = [
        {"run_id": run_id, "customer_id_l": int(left), "customer_id_r": int(right),
         "match_probability": float(p), "match_weight": float(w), "weights": weights,
         "status": CandidateStatus.PENDING, "created_at": now}
        for left, right, p, w, weights in pairs[
            ["customer_id_l", "customer_id_r", "match_probability", "match_weight", "weights"]
        ].itertuples(index=False)
        if (left, right) not in decided
    ] if len(pairs) else []
    for start in range(0, len(rows), 5_000):
        session.execute(CANDIDATE.insert(), rows[start:start + 5_000])
    return len(rows)


def _auto_merge(session: Session, settings: Settings, *, run_id: int, threshold: float,
                actor: str) -> int:
    """Merge this run's sure pairs, most certain first; clusters collapse into one record."""
    sure = session.execute(
        select(DuplicateCandidate.id, DuplicateCandidate.customer_id_l,
               DuplicateCandidate.customer_id_r)
        .where(CANDIDATE.c.run_id == run_id, CANDIDATE.c.status == CandidateStatus.PENDING,
               CANDIDATE.c.match_probability >= threshold)
        .order_by(CANDIDATE.c.match_probability.desc(), CANDIDATE.c.id)
    ).all()
    home: dict[int, int] = {}

    def live(customer_id: int) -> int:
        while customer_id in home:
            customer_id = home[customer_id]
        return customer_id

    merges = 0
    implied: list[int] = []
    for candidate_id, left, right in sure:
        a, b = live(left), live(right)
        if a == b:
            implied.append(candidate_id)  # already one customer through other pairs
            continue
        survivor, merged = min(a, b), max(a, b)
        merge(session=session, settings=settings, survivor_id=survivor, merged_id=merged,
              actor=actor, automatic=True, candidate_id=candidate_id,
              reason=f"identify run {run_id}: probability >= {threshold}")
        home[merged] = survivor
        merges += 1
    if implied:
        session.execute(
            CANDIDATE.update().where(CANDIDATE.c.id.in_(implied)).values(
                status=CandidateStatus.AUTO_MERGED, decided_at=utcnow(), decided_by=actor)
        )
    return merges
