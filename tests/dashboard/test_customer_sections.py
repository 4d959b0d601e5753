"""Sections of the 360 page other capabilities add: loyalty and connections."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from kithkin.config import get_settings
from kithkin.database.core import get_engine, session_scope
from kithkin.loyalty import ledger
from kithkin.loyalty import programme as loyalty_programme
from kithkin.transactions.models import Transaction
from tests.loyalty.members import enrol


def test_loyalty_section_appears_once_points_exist(
        login: Callable[[str], TestClient], seeded: dict[str, int]) -> None:
    client = login("agent")
    page = f"/customers/{seeded['lovelace']}"
    assert "Loyalty" not in client.get(page).text
    settings = get_settings()
    with session_scope(get_engine(settings.resolved_database_url)) as session:
        enrol(session, seeded["lovelace"])
        session.add(Transaction(source="till", order_id="loyal-1",
                                customer_id=seeded["lovelace"], amount=640.0,
                                ordered_at=datetime.now(UTC)))
        session.flush()
        ledger.grant(session, loyalty_programme.load(settings.home),
                     as_of=datetime.now(UTC).date())
    text = client.get(page).text
    assert "Loyalty" in text and "points</strong>" in text
    assert "tier\n  <strong>silver</strong>" in text or "<strong>silver</strong>" in text
    assert "+650" in text  # 640 at 1 point per unit + 10 for the order


def test_connections_section_lists_referrals_both_ways(
        login: Callable[[str], TestClient], seeded: dict[str, int]) -> None:
    from kithkin.connections import service as link_service
    from kithkin.connections.models import LinkKind

    settings = get_settings()
    with session_scope(get_engine(settings.resolved_database_url)) as session:
        link_service.link(session=session, from_customer_id=seeded["lovelace"],
                          to_customer_id=seeded["turing"], kind=LinkKind.REFERRED)
    client = login("agent")
    assert "referred <a href" in client.get(f"/customers/{seeded['lovelace']}").text
    assert "was referred by <a href" in client.get(f"/customers/{seeded['turing']}").text
