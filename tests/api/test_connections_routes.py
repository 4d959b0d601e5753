"""Links between customers: referrals (once, no cycles, counted as the referrer's
referral interaction), households stored once, company contacts; the referral tree."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from kithkin.database.core import session_scope
from kithkin.interactions.models import Interaction
from kithkin.users.models import Role

Headers = Callable[[str], dict[str, str]]


def test_referrals_households_and_contacts(client: TestClient, keys: dict[Role, str],
                                           bearer: Headers,
                                           add_customers: Callable[..., list[int]],
                                           sqlite_engine: Engine) -> None:
    a, b, c, d = add_customers(4)
    headers = bearer(keys[Role.MANAGER])

    def link(frm: int, to: int, kind: str, role: str | None = None) -> tuple[int, dict]:
        response = client.post(f"/api/v1/customers/{frm}/links", headers=headers,
                               json={"other_customer_id": to, "kind": kind, "role": role})
        return response.status_code, response.json()

    assert link(a, b, "referred")[0] == 201
    assert link(a, b, "referred")[0] == 201  # the same link again: answered, not doubled
    assert link(b, c, "referred")[0] == 201
    status, body = link(d, c, "referred")
    assert status == 409 and "already referred by" in body["detail"]
    status, body = link(c, a, "referred")
    assert status == 409 and "no referral cycle" in body["detail"]
    assert link(a, a, "household")[0] == 422

    assert link(c, b, "household")[0] == 201
    status, household = link(b, c, "household")
    assert household["from_customer_id"] == min(b, c)  # one row per pair
    assert link(d, a, "contact_of", "buyer")[0] == 201

    tree = client.get(f"/api/v1/customers/{a}/referrals", headers=headers).json()
    assert tree["edges"] == [[a, b], [b, c]] and tree["size"] == 2 and tree["depth"] == 2
    assert client.get(f"/api/v1/customers/{c}/referrals",
                      headers=headers).json()["referred_by"] == b
    top = client.get("/api/v1/referrals/top", headers=headers).json()
    assert {(r["customer_id"], r["referred"]) for r in top} == {(a, 1), (b, 1)}
    with session_scope(sqlite_engine) as session:
        referrers = session.scalars(select(Interaction.customer_id).where(
            Interaction.kind == "referral").order_by(Interaction.customer_id)).all()
    assert referrers == sorted([a, b])

    links = client.get(f"/api/v1/customers/{a}/links", headers=headers).json()
    assert {(x["kind"], x["role"]) for x in links} == {("referred", None),
                                                     ("contact_of", "buyer")}
    referral = next(x for x in links if x["kind"] == "referred")
    assert client.delete(f"/api/v1/customers/{a}/links/{referral['id']}",
                         headers=headers).status_code == 204
    with session_scope(sqlite_engine) as session:
        assert session.scalars(select(Interaction.customer_id).where(
            Interaction.kind == "referral")).all() == [b]
    assert client.get("/api/v1/referrals/top",
                      headers=bearer(keys[Role.AGENT])).status_code == 403
