"""Messages queued set-wise (a playbook run, a list send) read the same as one by one:
the same memory, the same text, the same cap decisions."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, select

from kithkin.config import Settings
from kithkin.database.core import session_scope
from kithkin.offers.models import CustomerOffer
from kithkin.outbox import batch
from kithkin.outbox import service as outbox_service
from kithkin.outbox.models import Message, MessageStatus
from kithkin.outbox.render import Renderer, builtin_names
from kithkin.preferences import service as preference_service
from kithkin.preferences.schemas import PreferencesUpdate
from kithkin.products.models import Product
from tests.outbox.conftest import AddCustomer, add_order


def crafted(engine: Engine, add_customer: AddCustomer) -> list[int]:
    """Customers whose memories differ in every part a template reads (and two who
    share a first name but nothing else)."""
    ada = add_customer(first_name="Ada")
    add_order(engine, ada, product="Blue Kettle")
    twin = add_customer(first_name="Ada", email="ada2@example.com")
    add_order(engine, twin, product="Red Teapot")
    html = add_customer(first_name="<b>Bo</b>", email="bo@example.com")
    nameless = add_customer(first_name=None, email="x@example.com")
    liked = add_customer(first_name="Cy", email="cy@example.com")
    with session_scope(engine) as session:
        preference_service.save(session=session, customer_id=liked,
                                data=PreferencesUpdate(categories=["tea"]),
                                staff_user_id=None)
        product = Product(sku="sku-offer", name="Green Teapot")
        session.add(product)
        session.flush()
        session.add(CustomerOffer(customer_id=liked, as_of=date(2026, 3, 1),
                                  method="item_cosine", product_1=product.id))
    return [ada, twin, html, nameless, liked]


def test_setwise_text_is_the_one_by_one_text(
        sqlite_engine: Engine, settings: Settings, add_customer: AddCustomer) -> None:
    customers = crafted(sqlite_engine, add_customer)
    settings = settings.model_copy(update={"outbox_cap_messages": 0})
    extra = {"idea_title": "Refills", "idea_status": "planned", "note": None,
             "subject": "Hello", "body": "A note for you"}
    for template in builtin_names():
        with session_scope(sqlite_engine) as session:
            for n, customer in enumerate(customers):
                outbox_service.queue_message(
                    session=session, customer_id=customer, template=template,
                    context={**extra, "occurrence": str(n)}, settings=settings,
                    dedupe_key=f"one:{template}:{customer}")
            batch.queue_passing(
                session=session, rows=[batch.Passing(
                    customer, "a@example.com", {**extra, "occurrence": str(n)},
                    f"set:{template}:{customer}") for n, customer in enumerate(customers)],
                template=template, channel="email", purpose="marketing", reason="test",
                settings=settings)
        with session_scope(sqlite_engine) as session:
            messages = {m.dedupe_key: m for m in session.scalars(select(Message).where(
                Message.template == template))}
        bodies = set()
        for customer in customers:
            one, set_wise = (messages[f"{way}:{template}:{customer}"] for way in ("one", "set"))
            assert one.status == set_wise.status == MessageStatus.QUEUED, one.last_error
            assert (set_wise.subject, set_wise.body, set_wise.body_html) == (
                one.subject, one.body, one.body_html), (template, customer)
            assert set_wise.context == one.context
            bodies.add(set_wise.body)
        if template == "checkin_accountable":
            assert len(bodies) == len(customers)  # the memories differ: so do the texts


def test_renderer_renders_each_distinct_input_once(settings: Settings) -> None:
    renderer = Renderer(template="satisfaction_proactive", workspace_dir=None)
    first = renderer.render({"firm": "F", "customer": {"first_name": "Ada", "id": 1}})
    again = renderer.render({"firm": "F", "customer": {"first_name": "Ada", "id": 2}})
    other = renderer.render({"firm": "F", "customer": {"first_name": "Bo", "id": 3}})
    assert first is again  # the id is not printed: one rendering
    assert "Ada" in first.text and "Bo" in other.text


def test_setwise_caps_as_one_by_one(sqlite_engine: Engine, settings: Settings,
                                    add_customer: AddCustomer) -> None:
    customer = add_customer()
    capped = settings.model_copy(update={"outbox_cap_messages": 2, "outbox_cap_days": 7})
    with session_scope(sqlite_engine) as session:
        outbox_service.queue_message(session=session, customer_id=customer,
                                     template="winback", settings=capped)
        stored = batch.queue_passing(
            session=session, rows=[batch.Passing(customer, "ada@example.com", None, f"k{n}")
                                   for n in range(3)],
            template="winback", channel="email", purpose="marketing", reason="test",
            settings=capped)
    assert stored == {"": 1, "frequency cap (2 per 7 days)": 2}
    with session_scope(sqlite_engine) as session:
        statuses = [m.status for m in session.scalars(
            select(Message).where(Message.dedupe_key.in_(["k0", "k1", "k2"]))
            .order_by(Message.dedupe_key))]
    assert statuses == [MessageStatus.QUEUED, MessageStatus.SKIPPED, MessageStatus.SKIPPED]
