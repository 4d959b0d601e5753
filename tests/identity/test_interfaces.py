"""The `kithkin identify` / `kithkin duplicates` commands and the /duplicates API."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from kithkin.api.app import create_app
from kithkin.cli.main import app
from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.identity import synthetic
from kithkin.identity.models import CustomerMerge, DuplicateCandidate
from kithkin.users import service as user_service
from kithkin.users.models import Role

runner = CliRunner()


def _load(engine: Engine) -> None:
    customers, _ = synthetic.generate(persons=200, duplicates_rate=0.3, seed=2)
    synthetic.load_customers(engine, customers)


def test_cli_identify_review_merge_undo_reject(sqlite_engine: Engine) -> None:
    _load(sqlite_engine)
    result = runner.invoke(app, ["identify", "--no-auto-merge", "--threshold-review", "0.5"])
    assert result.exit_code == 0, result.output
    assert re.search(r"\d+ customers, \d+ candidate pairs", result.output)
    listing = runner.invoke(app, ["duplicates", "list", "--limit", "2"])
    assert listing.exit_code == 0 and "next page: --after" in listing.output
    with session_scope(sqlite_engine) as session:
        first, second = session.scalars(
            select(DuplicateCandidate).order_by(DuplicateCandidate.id).limit(2)).all()
        pair = (first.customer_id_l, first.customer_id_r)
    shown = runner.invoke(app, ["duplicates", "show", str(first.id)])
    assert shown.exit_code == 0 and "first_name" in shown.output
    merged = runner.invoke(app, ["duplicates", "merge", str(pair[0]), str(pair[1])])
    assert merged.exit_code == 0, merged.output
    merge_id = int(re.search(r"merge (\d+)", merged.output).group(1))  # type: ignore[union-attr]
    again = runner.invoke(app, ["duplicates", "merge", str(pair[0]), str(pair[1])])
    assert again.exit_code == 1 and "already merged" in again.output
    undone = runner.invoke(app, ["duplicates", "undo", str(merge_id)])
    assert undone.exit_code == 0, undone.output
    with session_scope(sqlite_engine) as session:
        assert session.get(Customer, pair[1]).merged_into_id is None  # type: ignore[union-attr]
    rejected = runner.invoke(app, ["duplicates", "reject", str(second.id)])
    assert rejected.exit_code == 0 and "rejected" in rejected.output
    bad = runner.invoke(app, ["identify", "--threshold-merge", "0.5", "--threshold-review", "0.9"])
    assert bad.exit_code == 1 and "thresholds" in bad.output


def test_api_duplicates(sqlite_engine: Engine) -> None:
    _load(sqlite_engine)
    runner.invoke(app, ["identify", "--no-auto-merge", "--threshold-review", "0.5"])
    with session_scope(sqlite_engine) as session:
        keys = {}
        for role in (Role.MANAGER, Role.ANALYST):
            user = user_service.create_user(session=session, email=f"{role}@example.com",
                                            name=role, password="correct horse battery",
                                            role=role)
            keys[role] = user_service.create_api_key(
                session=session, settings=get_settings(), user_id=user.id, name="t",
                scopes=["*"])[1]
    manager = {"Authorization": f"Bearer {keys[Role.MANAGER]}"}
    analyst = {"Authorization": f"Bearer {keys[Role.ANALYST]}"}
    with TestClient(create_app(include_dashboard=False)) as client:
        page = client.get("/api/v1/identity/duplicates?limit=1", headers=analyst)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) == 1 and body["next_cursor"]
        following = client.get(f"/api/v1/identity/duplicates?limit=1&after={body['next_cursor']}",
                               headers=analyst).json()
        assert following["items"][0]["id"] > body["items"][0]["id"]
        pair_id = body["items"][0]["id"]
        detail = client.get(f"/api/v1/identity/duplicates/{pair_id}", headers=analyst).json()
        fields = {f["field"]: f for f in detail["fields"]}
        assert fields["first_name"]["comparison"] == "first_name_last_name"
        assert fields["first_name"]["weight"] is not None
        assert client.post(f"/api/v1/identity/duplicates/{pair_id}/merge",
                           headers=analyst).status_code == 403
        merged = client.post(f"/api/v1/identity/duplicates/{pair_id}/merge", headers=manager)
        assert merged.status_code == 200, merged.text
        merge_id = merged.json()["id"]
        assert client.post(f"/api/v1/identity/duplicates/{pair_id}/merge",
                           headers=manager).status_code == 409
        undone = client.post(f"/api/v1/identity/merges/{merge_id}/undo", headers=manager)
        assert undone.status_code == 200 and undone.json()["undone_at"]
        assert client.post(f"/api/v1/identity/merges/{merge_id}/undo",
                           headers=manager).status_code == 409
        reject = client.post(f"/api/v1/identity/duplicates/{following['items'][0]['id']}/reject",
                             headers=manager)
        assert reject.status_code == 200 and reject.json()["status"] == "rejected"
        assert client.get("/api/v1/identity/duplicates/999999", headers=analyst).status_code == 404
    with session_scope(sqlite_engine) as session:
        assert session.scalars(select(CustomerMerge)).one().undone_at is not None
