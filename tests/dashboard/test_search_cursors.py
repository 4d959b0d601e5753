"""The dashboard's customer search pages with the store's one keyset pagination and cursor
format (kithkin.database.pagination)."""

from __future__ import annotations

import pytest

from kithkin.customers import search as customer_search
from kithkin.customers.models import Customer
from kithkin.dashboard import service as dashboard_service
from kithkin.database.core import session_scope
from kithkin.database.pagination import decode_values, encode_values
from kithkin.errors import ValidationError


def test_email_prefix_pages_visit_every_match_once_in_email_order(
        seeded: dict[str, int]) -> None:
    with session_scope() as session:
        for n in (3, 1, 4, 0, 2):
            session.add(Customer(email=f"pat@shop{n}.example",
                                 email_normalized=f"pat@shop{n}.example"))
    seen: list[str] = []
    cursor = None
    with session_scope() as session:
        while True:
            page = customer_search.search_customers(session=session, query="Pat@",
                                                      cursor=cursor, limit=2)
            seen += [c.email_normalized or "" for c in page.customers]
            if page.next_cursor is None:
                break
            assert decode_values(page.next_cursor) == [seen[-1], page.customers[-1].id]
            cursor = page.next_cursor
    assert seen == [f"pat@shop{n}.example" for n in range(5)]


@pytest.mark.parametrize("query", ["", "pat@", "smith"])
def test_a_cursor_of_another_shape_is_a_validation_error_naming_the_cursor(
        seeded: dict[str, int], query: str) -> None:
    with session_scope() as session, pytest.raises(ValidationError, match=r"^cursor: "):
        customer_search.search_customers(session=session, query=query,
                                           cursor=encode_values(["x"]))


def test_a_timeline_cursor_of_another_shape_is_a_validation_error(
        seeded: dict[str, int]) -> None:
    with session_scope() as session, pytest.raises(ValidationError, match=r"^cursor: "):
        dashboard_service.timeline(session=session, customer_id=seeded["lovelace"],
                                   cursor=encode_values([1]))
