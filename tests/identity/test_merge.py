"""Merge and undo: the golden record, moved rows, and an exact restore on both stores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from kithkin.config import get_settings
from kithkin.customers.models import Consent, Customer, CustomerIdentifier
from kithkin.database.base import Base
from kithkin.database.core import session_scope
from kithkin.errors import ConflictError, NotFoundError, ValidationError
from kithkin.identity import service
from kithkin.identity.models import CandidateStatus, CustomerMerge, DuplicateCandidate
from kithkin.interactions.models import Interaction
from kithkin.memberships.models import Membership
from kithkin.prospects.models import Prospect
from kithkin.transactions.models import Transaction, TransactionLine

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def _seed(engine: Engine) -> dict[str, int]:
    """Two duplicates with history, a consent clash, a third record merged earlier."""
    with session_scope(engine) as session:
        old = Customer(
            first_name="Jon", last_name="Smith", email="jon@x.com", email_normalized="jon@x.com",
            date_of_birth=date(1980, 5, 1), address_line="1 High St", city="Leeds",
            postcode="LS1 1AA", acquired_at=T0, acquisition_source="shop",
            attributes={"vip": True, "colour": "red"}, created_at=T0, updated_at=T0,
        )
        new = Customer(
            first_name="Jonathan", last_name="Smith", phone="+44 113 496 0000",
            phone_e164="+441134960000", address_line="9 Park Rd", city="York",
            postcode="YO1 7HH", country="GB", acquired_at=T0 + timedelta(days=30),
            acquisition_source="crm", attributes={"colour": "blue"},
            created_at=T0, updated_at=T0 + timedelta(days=60),
        )
        session.add_all([old, new])
        session.flush()
        earlier = Customer(first_name="J", last_name="Smith", merged_into_id=new.id,
                           created_at=T0, updated_at=T0)
        session.add(earlier)
        session.flush()
        session.add_all([
            CustomerIdentifier(customer_id=old.id, source="shop", external_id="s1", created_at=T0),
            CustomerIdentifier(customer_id=new.id, source="crm", external_id="c1", created_at=T0),
            Consent(customer_id=old.id, channel="email", status="granted", updated_at=T0),
            Consent(customer_id=new.id, channel="email", status="opted_out",
                    updated_at=T0 + timedelta(days=5)),
            Consent(customer_id=new.id, channel="sms", status="granted", updated_at=T0),
            Consent(customer_id=old.id, channel="post", status="denied",
                    updated_at=T0 + timedelta(days=9)),
            Consent(customer_id=new.id, channel="post", status="granted", updated_at=T0),
            Membership(source="crm", external_id="m1", customer_id=new.id, kind="loyalty",
                       programme="Club", started_at=T0, created_at=T0, updated_at=T0),
            Interaction(source="crm", external_id="i1", customer_id=new.id, occurred_at=T0,
                        direction="inbound", kind="complaint", tags=["late", "rude"],
                        score=3.5, created_at=T0),
            Prospect(source="web", external_id="p1", converted_customer_id=new.id,
                     created_at=T0, updated_at=T0),
        ])
        order = Transaction(source="crm", order_id="o1", customer_id=new.id, ordered_at=T0,
                            amount=19.99, cost=7.5, created_at=T0)
        order.lines.append(TransactionLine(line_no=1, quantity=1, unit_price=19.99))
        session.add(order)
        session.add(Transaction(source="shop", order_id="o2", customer_id=old.id,
                                ordered_at=T0, amount=5.0, created_at=T0))
        session.flush()
        session.add(DuplicateCandidate(customer_id_l=old.id, customer_id_r=new.id,
                                       match_probability=0.93, match_weight=3.7,
                                       weights={"email": {"level": "null", "weight": 0.0}},
                                       created_at=T0))
        return {"old": old.id, "new": new.id, "earlier": earlier.id}


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's content, rows sorted, except the merge log and the audit trail
    (append-only: a merge and its undo add rows by design)."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in ("customer_merge", "audit_log", "audit_scrub_grant"):
                continue
            rows = conn.execute(select(table)).all()
            dump[table.name] = sorted(tuple(map(repr, row)) for row in rows)
    return dump


def test_merge_then_undo_restores_every_table_exactly(store_engine: Engine) -> None:
    ids = _seed(store_engine)
    before = _dump(store_engine)
    with session_scope(store_engine) as session:
        entry = service.merge(session=session, settings=get_settings(), survivor_id=ids["old"],
                              merged_id=ids["new"],
                              actor="tester")
        merge_id = entry.id
    assert _dump(store_engine) != before
    with session_scope(store_engine) as session:
        undone = service.undo_merge(session=session, merge_id=merge_id, actor="tester")
        assert undone.undone_at is not None
    assert _dump(store_engine) == before


def test_merge_moves_history_and_builds_the_golden_record(store_engine: Engine) -> None:
    ids = _seed(store_engine)
    old, new = ids["old"], ids["new"]
    with session_scope(store_engine) as session:
        service.merge(session=session, settings=get_settings(), survivor_id=old, merged_id=new,
                      actor="tester")
    with session_scope(store_engine) as session:
        survivor = session.get(Customer, old)
        merged = session.get(Customer, new)
        assert survivor is not None and merged is not None
        assert merged.merged_into_id == old
        assert session.get(Customer, ids["earlier"]).merged_into_id == old  # type: ignore[union-attr]
        # complete wins for names, recent (the newer record) for address, both contacts kept
        assert (survivor.first_name, survivor.last_name) == ("Jonathan", "Smith")
        assert (survivor.address_line, survivor.city, survivor.country) == (
            "9 Park Rd", "York", "GB")
        assert survivor.email == "jon@x.com" and survivor.phone_e164 == "+441134960000"
        assert survivor.acquisition_source == "shop" and survivor.acquired_at == T0
        assert survivor.attributes == {"vip": True, "colour": "blue"}
        for model in (Transaction, Interaction, Membership):
            owners = set(session.scalars(select(model.customer_id)))
            assert owners == {old}
        sources = set(session.scalars(
            select(CustomerIdentifier.source).where(CustomerIdentifier.customer_id == old)))
        assert sources == {"shop", "crm"}
        consents = {c.channel: c.status for c in session.scalars(
            select(Consent).where(Consent.customer_id == old))}
        # the more recent statement of consent wins a clash
        assert consents == {"email": "opted_out", "sms": "granted", "post": "denied"}
        assert session.scalars(select(Consent).where(Consent.customer_id == new)).all() == []
        candidate = session.scalars(select(DuplicateCandidate)).one()
        assert candidate.status == CandidateStatus.MERGED


def test_refuses_merging_a_merged_record_and_double_undo(sqlite_engine: Engine) -> None:
    ids = _seed(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        merge_id = service.merge(session=session, settings=get_settings(), survivor_id=ids["old"],
                                 merged_id=ids["new"], actor="t").id
    with session_scope(sqlite_engine) as session, pytest.raises(ConflictError, match="already"):
        service.merge(session=session, settings=get_settings(), survivor_id=ids["old"],
                      merged_id=ids["new"], actor="t")
    with session_scope(sqlite_engine) as session, pytest.raises(ConflictError, match="already"):
        service.merge(session=session, settings=get_settings(), survivor_id=ids["earlier"],
                      merged_id=ids["old"],
                      actor="t")
    with session_scope(sqlite_engine) as session, pytest.raises(ValidationError):
        service.merge(session=session, settings=get_settings(), survivor_id=ids["old"],
                      merged_id=ids["old"], actor="t")
    with session_scope(sqlite_engine) as session, pytest.raises(NotFoundError):
        service.merge(session=session, settings=get_settings(), survivor_id=ids["old"],
                      merged_id=999_999, actor="t")
    with session_scope(sqlite_engine) as session:
        service.undo_merge(session=session, merge_id=merge_id)
    with session_scope(sqlite_engine) as session, pytest.raises(ConflictError, match="undone"):
        service.undo_merge(session=session, merge_id=merge_id)


def test_undo_refuses_when_a_later_merge_is_in_force(sqlite_engine: Engine) -> None:
    ids = _seed(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        third = Customer(first_name="Ann", created_at=T0, updated_at=T0)
        session.add(third)
        session.flush()
        third_id = third.id
        first = service.merge(session=session, settings=get_settings(), survivor_id=ids["old"],
                              merged_id=ids["new"],
                              actor="t").id
        second = service.merge(session=session, settings=get_settings(), survivor_id=ids["old"],
                               merged_id=third_id,
                                actor="t").id
    with session_scope(sqlite_engine) as session, pytest.raises(ConflictError, match="first"):
        service.undo_merge(session=session, merge_id=first)
    with session_scope(sqlite_engine) as session:
        service.undo_merge(session=session, merge_id=second)
        service.undo_merge(session=session, merge_id=first)
        assert session.get(Customer, ids["new"]).merged_into_id is None  # type: ignore[union-attr]


def test_undo_refuses_when_a_changed_row_was_deleted(sqlite_engine: Engine) -> None:
    ids = _seed(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        merge_id = service.merge(session=session, settings=get_settings(), survivor_id=ids["old"],
                                 merged_id=ids["new"], actor="t").id
    with sqlite_engine.begin() as conn:
        conn.execute(text("DELETE FROM membership"))
    with session_scope(sqlite_engine) as session, pytest.raises(ConflictError, match="deleted"):
        service.undo_merge(session=session, merge_id=merge_id)
    with session_scope(sqlite_engine) as session:
        assert session.get(CustomerMerge, merge_id).undone_at is None  # type: ignore[union-attr]


def test_reject_and_review_queue(sqlite_engine: Engine) -> None:
    ids = _seed(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        pending, cursor = service.list_page(session=session)
        assert cursor is None
        assert [(c.customer_id_l, c.customer_id_r) for c in pending] == [(ids["old"], ids["new"])]
        service.reject(session=session, candidate_id=pending[0].id, actor="t")
        assert service.list_page(session=session) == ([], None)
        with pytest.raises(ConflictError, match="rejected"):
            service.merge_candidate(session=session, settings=get_settings(),
                                    candidate_id=pending[0].id, actor="t")
