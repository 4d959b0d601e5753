"""The export (#17 part 2): a crafted customer with one of every entity, and odd data,
exports every entity, as strict JSON of the documented schema and as readable HTML."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from kithkin.analytics import refresh
from kithkin.analytics.models import CustomerMetric
from kithkin.cli.main import app
from kithkin.config import get_settings
from kithkin.connections import service as link_service
from kithkin.connections.models import LinkKind
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.ideas import service as idea_service
from kithkin.identity import service as identity_service
from kithkin.identity.models import DuplicateCandidate
from kithkin.loyalty import programme as loyalty_programme
from kithkin.loyalty import service as loyalty_service
from kithkin.memberships.models import Membership
from kithkin.preferences import service as preference_service
from kithkin.preferences.schemas import PreferencesUpdate
from kithkin.privacy import consent, export, rules
from kithkin.privacy.models import ConsentSource
from kithkin.relationships.models import StageChange
from kithkin.tags import service as tag_service
from tests.privacy.seeding import AS_OF, EMAIL, seed

ODD_NAME = "Zoë 🦄 \u202eevil\u202c <b>&amp;</b>"
# Every table on main that points at a customer; a table added later is exported by the
# same code (checked generically below), this list only proves each has a row here.
EXPECTED = {"consent", "consent_event", "customer_metric", "customer_stage",
            "duplicate_candidate", "interaction", "membership", "message", "prospect",
            "relationship_profile", "stage_change", "task", "transaction", "transaction_line",
            "loyalty_entry", "idea", "idea_vote", "idea_comment", "customer_link",
            "customer_tag", "customer_preference"}


def _crafted(engine: Engine) -> int:
    settings = get_settings()
    seeded = seed(engine, settings)
    with session_scope(engine) as session:
        consent.record(session=session, change=consent.ConsentChange(
            customer_id=seeded.survivor, channel="sms", purpose="profiling",
            status="opted_out", source=ConsentSource.STAFF, wording="Profiling by SMS?",
            evidence="call 2024-03-02"))
        session.add(Membership(source="club", external_id="M-1", customer_id=seeded.survivor,
                               kind="loyalty", programme="Readers", started_at=datetime(
                                   2023, 3, 1, tzinfo=UTC), attributes={"odd": [1, None]}))
        session.add(DuplicateCandidate(customer_id_l=seeded.survivor, customer_id_r=30,
                                       match_probability=0.7, match_weight=2.0,
                                       weights={"email": {"level": "exact", "weight": 9}}))
        session.execute(update(Customer).where(Customer.id == seeded.survivor).values(
            first_name=ODD_NAME, date_of_birth_raw="31/02/1900",
            attributes={"nested": {"list": [1, None, "x"]}, "nan": "NaN"}))
    refresh.run(settings=settings, as_of=AS_OF, store_engine=engine)
    with session_scope(engine) as session:
        identity_service.merge(session=session, settings=settings,
                               survivor_id=seeded.survivor, merged_id=seeded.merged,
                               actor="tester")
        # A move down the journey (a first refresh records stages, not moves).
        session.add(StageChange(customer_id=seeded.survivor, model="journey",
                                as_of=AS_OF, from_stage="friend", to_stage="acquaintance",
                                from_rank=3, to_rank=2, direction="down",
                                evidence='{"orders": 2}'))
        # One of each thing the act, retain and bond work keeps about a customer.
        friend = Customer(first_name="Friend")
        session.add(friend)
        session.flush()
        idea = idea_service.submit(session=session, title="Refills", body="Tins refilled",
                                   customer_id=seeded.survivor)
        idea_service.vote(session=session, idea_id=idea.id, customer_id=seeded.survivor)
        idea_service.comment(session=session, idea_id=idea.id, body="Yes",
                             customer_id=seeded.survivor)
        link_service.link(session=session, from_customer_id=seeded.survivor,
                          to_customer_id=friend.id, kind=LinkKind.REFERRED)
        tag_service.add_tags(session=session, customer_id=seeded.survivor, tags=["vip"])
        preference_service.save(session=session, customer_id=seeded.survivor,
                                data=PreferencesUpdate(categories=["tea"]),
                                staff_user_id=None)
        loyalty_service.adjust(session=session, programme=loyalty_programme.load(
            settings.home), customer_id=seeded.survivor, points=5, reason="welcome",
            user_id=None)
        # Odd numbers an engine can leave behind: not finite.
        session.execute(update(CustomerMetric).where(
            CustomerMetric.customer_id == seeded.survivor).values(
            p_alive=float("nan"), clv=float("inf")))
    return seeded.survivor


def test_export_has_every_entity_of_a_crafted_customer(sqlite_engine: Engine,
                                                       tmp_path: Path) -> None:
    customer_id = _crafted(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        document = export.export(session=session, customer_id=customer_id)
    text = json.dumps(document, allow_nan=False, ensure_ascii=False)  # strict JSON
    assert document["schema"] == "kithkin.customer-export"
    assert document["schema_version"] == export.SCHEMA_VERSION
    assert document["records"] == [11, 12]
    sections = document["sections"]
    missing = {name for name in EXPECTED if not sections.get(name)}
    assert missing == set()
    # Generic: every table pointing at a customer is a section, so new tables join.
    assert {o.table.name for o in rules.owned_tables()} <= set(sections)
    assert {row["customer_id"] for row in sections["transaction"]} == {12}
    assert [p["first_name"] for p in document["profile"] if p["id"] == 12] == [ODD_NAME]
    assert any(p["email"] == EMAIL for p in document["profile"])
    odd = [m for m in sections["customer_metric"] if m["clv"] == "Infinity"]
    assert odd and all(m["p_alive"] is None for m in odd)
    pair = sections["duplicate_candidate"][0]
    assert pair["customer_id_l"] == 12 and pair["customer_id_r"] is None  # someone else
    events = {(e["channel"], e["purpose"], e["status"]) for e in sections["consent_event"]}
    assert ("sms", "profiling", "opted_out") in events
    assert ("email", "marketing", "granted") in events  # from the import
    assert document["merge_log"][0]["merged_id"] == 11
    assert "Infinity" in text
    html = export.to_html(document)
    assert "Zoë 🦄" in html and "<b>&amp;amp;</b>" not in html and "&lt;b&gt;" in html
    for name in EXPECTED:
        assert f'id="s-{name}"' in html
    out = tmp_path / "export.json"
    result = CliRunner().invoke(app, ["privacy", "export", "12", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["records"] == [11, 12]
    result = CliRunner().invoke(app, ["privacy", "export", "id:11", "--html"])
    assert result.exit_code == 0 and "<h1>Personal data held about customer 11" in result.output


def test_every_customer_exports(sqlite_engine: Engine) -> None:
    """Bare, erased and merged-away customers too (the ones real stores are full of)."""
    _crafted(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        ids = list(session.scalars(select(Customer.id)))
        for customer_id in ids:
            document = export.export(session=session, customer_id=customer_id)
            json.dumps(document, allow_nan=False)
            export.to_html(document)
