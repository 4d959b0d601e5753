"""The request session (kithkin.api.deps.get_session): what a route wrote is committed
when it returns and rolled back when it raises; the session is closed either way."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kithkin.api.deps import SessionDep
from kithkin.api.problems import install_problem_handlers
from kithkin.customers.models import Customer
from kithkin.database.core import session_factory
from kithkin.errors import ConflictError


def test_route_writes_commit_on_return_and_roll_back_on_error(sqlite_engine: Engine) -> None:
    sessions: list[Session] = []
    app = FastAPI()
    app.state.session_factory = session_factory(sqlite_engine)
    install_problem_handlers(app)

    @app.post("/ok/{name}")
    def ok(name: str, session: SessionDep) -> dict[str, str]:
        sessions.append(session)
        session.add(Customer(first_name=name))
        return {"name": name}

    @app.post("/fail/{name}")
    def fail(name: str, session: SessionDep) -> None:
        sessions.append(session)
        session.add(Customer(first_name=name))
        session.flush()
        raise ConflictError("no")

    with TestClient(app) as client:
        assert client.post("/ok/kept").status_code == 200
        assert client.post("/fail/dropped").status_code == 409
    with Session(sqlite_engine) as check:
        names = check.scalars(select(Customer.first_name)).all()
        assert names == ["kept"]
        assert check.scalar(select(func.count()).select_from(Customer)) == 1
    assert [s.in_transaction() for s in sessions] == [False, False]  # closed
