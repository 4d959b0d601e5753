"""has_preferences reads the customer's first-class preferences (kithkin.preferences),
through the refresh's engine path (the incremental snapshot), on every store."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.preferences import service as preference_service
from kithkin.preferences.schemas import PreferencesUpdate
from kithkin.relationships import inputs

AS_OF = date(2026, 3, 31)


def _has_preferences(session: Session) -> dict[int, object]:
    found = inputs.event_inputs(session=session, settings=get_settings(),
                                as_of=AS_OF).per_customer.set_index("customer_id")
    return {int(k): (None if v is None or v != v else bool(v))
            for k, v in found["has_preferences"].items()}


def test_edited_preferences_count_and_win_over_the_imported_attribute(
        store_engine: Engine) -> None:
    with Session(store_engine) as session:
        session.add_all([Customer(id=1), Customer(id=2, attributes={"preferences": "tea"}),
                         Customer(id=3, attributes={"preferences": "jazz"}), Customer(id=4)])
        session.commit()
        before = _has_preferences(session)
        assert before.get(1) is None and before[2] is True and before[3] is True
        preference_service.save(session=session, customer_id=1, staff_user_id=None,
                                data=PreferencesUpdate(brands=["Acme"]))
        # Staff emptied what was imported: the edit wins, nothing is remembered now.
        preference_service.save(session=session, customer_id=3, staff_user_id=None,
                                data=PreferencesUpdate())
        preference_service.save(session=session, customer_id=4, staff_user_id=None,
                                data=PreferencesUpdate(notes="prefers mornings"))
        session.commit()
        after = _has_preferences(session)
    assert (after[1], after[2], after[3], after[4]) == (True, True, False, True)


def test_an_interaction_logged_by_staff_counts_in_the_next_refresh(
        sqlite_engine: Engine) -> None:
    """Logged from the 360 page (the service the page, API and CLI share), a tagged
    touch reaches the engine's next computation through the incremental snapshot."""
    from datetime import UTC, datetime

    from kithkin.interactions import service as interaction_service
    from kithkin.interactions.schemas import InteractionCreate
    from kithkin.users.models import StaffUser

    with Session(sqlite_engine) as session:
        staff = StaffUser(email="ann@example.com", name="Ann", role="agent",
                          password_hash="x")
        session.add_all([Customer(id=1), staff])
        session.commit()
        assert _column(session, "community_interactions").get(1) is None
        interaction_service.log(session=session, staff_user_id=staff.id, data=InteractionCreate(
            customer_id=1, occurred_at=datetime(2026, 3, 2, tzinfo=UTC), kind="meeting",
            direction="outbound", tags=["Event", "launch"]))
        session.commit()
        assert _column(session, "community_interactions")[1] == 1


def _column(session: Session, name: str) -> dict[int, object]:
    found = inputs.event_inputs(session=session, settings=get_settings(),
                                as_of=AS_OF).per_customer.set_index("customer_id")
    return {int(k): v for k, v in found[name].items() if v == v and v is not None}
