"""API test fixtures: a migrated SQLite store, the app, one API key per role."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from kithkin.api.app import create_app
from kithkin.config import get_settings
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.database.core import build_engine, session_scope
from kithkin.database.manage import upgrade
from kithkin.users import service as user_service
from kithkin.users.models import Role

PASSWORD = "correct horse battery"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store migrated once per session; each test gets a copy (fast setup)."""
    path = tmp_path_factory.mktemp("template") / "kithkin.db"
    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # checkpoints the WAL: the copy is one self-contained file
    return path


@pytest.fixture
def sqlite_engine(workspace: Path, migrated_template: Path) -> Iterator[Engine]:
    """Overrides the root fixture: same migrated store, copied instead of re-migrated."""
    url = get_settings().resolved_database_url
    target = Path(make_url(url).database or "")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_template, target)
    engine = build_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def app(sqlite_engine: Engine) -> FastAPI:
    return create_app(include_dashboard=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


MakeUser = Callable[..., tuple[int, str]]
AddCustomers = Callable[..., list[int]]


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def make_user(sqlite_engine: Engine) -> MakeUser:
    """``make_user(role, email=None, scopes=None)``: a user of ``role`` with an API key;
    returns (user id, plaintext key). Its password is the ``password`` fixture."""

    def make(role: Role, *, email: str | None = None,
             scopes: list[str] | None = None) -> tuple[int, str]:
        with session_scope(sqlite_engine) as session:
            user = user_service.create_user(
                session=session, email=email or f"{role}@example.com", name=role.title(),
                password=PASSWORD, role=role)
            _, key = user_service.create_api_key(
                session=session, settings=get_settings(), user_id=user.id, name="test",
                scopes=scopes or ["*"])
            return user.id, key

    return make


@pytest.fixture
def keys(make_user: MakeUser) -> dict[Role, str]:
    """One full-scope API key per role."""
    return {role: make_user(role)[1] for role in Role}


@pytest.fixture
def bearer() -> Callable[[str], dict[str, str]]:
    return lambda key: {"Authorization": f"Bearer {key}"}


@pytest.fixture
def add_customers(sqlite_engine: Engine) -> AddCustomers:
    """``add_customers(count, start=0, country="FR")``: customers First{i} Name{i:04d}
    with a shop identifier c{i}; returns their ids."""
    return lambda count, start=0, country="FR": _add_customers(sqlite_engine, count,
                                                               start=start, country=country)


def _add_customers(engine: Engine, count: int, *, start: int, country: str) -> list[int]:
    with session_scope(engine) as session:
        rows = [
            Customer(first_name=f"First{i}", last_name=f"Name{i:04d}",
                     email=f"person{i}@example.com", email_normalized=f"person{i}@example.com",
                     country=country, created_at=T0 + timedelta(minutes=i % 7),
                     identifiers=[CustomerIdentifier(source="shop", external_id=f"c{i}")])
            for i in range(start, start + count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


AssignCustomers = Callable[..., None]


@pytest.fixture
def assign_customers(sqlite_engine: Engine) -> AssignCustomers:
    """``assign_customers(email, ids)``: the staff user ``email`` becomes account manager
    of ``ids`` (agents see only those)."""

    def assign(email: str, ids: list[int]) -> None:
        with session_scope(sqlite_engine) as session:
            user = user_service.get_user_by_email(session=session, email=email)
            for customer in session.scalars(select(Customer).where(Customer.id.in_(ids))):
                customer.account_manager_id = user.id

    return assign
