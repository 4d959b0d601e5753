"""Signing in and out of the dashboard: CSRF, errors, redirects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update

from kithkin.api.app import SESSION_COOKIE
from kithkin.database.base import utcnow
from kithkin.database.core import build_engine
from kithkin.users.models import StaffSession
from tests.dashboard.conftest import sign_in
from tests.dashboard.seeding import PASSWORD, email_of, form_token


def test_a_page_without_a_session_redirects_to_login_keeping_the_target(
        client: TestClient) -> None:
    response = client.get("/customers?q=smi")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/customers%3Fq%3Dsmi"


def test_login_form_has_labelled_fields_and_a_csrf_token(client: TestClient) -> None:
    html = client.get("/login").text
    assert '<label for="email">' in html and 'id="email"' in html
    assert '<label for="password">' in html and 'id="password"' in html
    assert len(form_token(html)) > 20


def test_login_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"email": email_of("admin"), "password": PASSWORD})
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert "text/html" in response.headers["content-type"]


def test_wrong_password_shows_the_form_again_with_an_error(client: TestClient) -> None:
    token = form_token(client.get("/login").text)
    response = client.post("/login", data={"email": email_of("admin"), "password": "nope",
                                           "csrf_token": token})
    assert response.status_code == 401
    assert 'role="alert"' in response.text and "Wrong email or password" in response.text
    assert client.get("/").status_code == 303  # still signed out


def test_login_goes_where_the_user_wanted_but_never_off_site(client: TestClient) -> None:
    token = form_token(client.get("/login").text)
    response = client.post("/login", data={"email": email_of("agent"), "password": PASSWORD,
                                           "csrf_token": token, "next": "/customers?q=tur"})
    assert response.headers["location"] == "/customers?q=tur"
    client.cookies.clear()
    token = form_token(client.get("/login").text)
    response = client.post("/login", data={"email": email_of("agent"), "password": PASSWORD,
                                           "csrf_token": token,
                                           "next": "//evil.example/phish"})
    assert response.headers["location"] == "/customers"  # the agent's home page


def test_login_is_rate_limited(seeded: dict[str, int]) -> None:
    from kithkin.api.app import create_app
    from kithkin.auth.ratelimit import LoginRateLimiter

    limiter = LoginRateLimiter(free_failures=2, clock=lambda: 0.0)  # time stands still
    with TestClient(create_app(login_limiter=limiter), follow_redirects=False) as c:
        for _ in range(2):
            token = form_token(c.get("/login").text)
            c.post("/login", data={"email": email_of("admin"), "password": "x",
                                   "csrf_token": token})
        token = form_token(c.get("/login").text)
        response = c.post("/login", data={"email": email_of("admin"), "password": PASSWORD,
                                          "csrf_token": token})
    assert response.status_code == 429
    assert "too many" in response.text.lower()


def test_logout_needs_the_csrf_token_and_ends_the_session(
        login: Callable[[str], TestClient]) -> None:
    client = login("admin")
    page = client.get("/customers")
    assert client.post("/logout").status_code == 403
    assert client.get("/customers").status_code == 200
    response = client.post("/logout", data={"csrf_token": form_token(page.text)})
    assert response.headers["location"] == "/login"
    assert client.get("/customers").status_code == 303


def test_a_cookie_copied_before_sign_out_opens_no_page(
        login: Callable[[str], TestClient]) -> None:
    client = login("manager")
    copy = TestClient(client.app, follow_redirects=False)
    copy.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
    assert copy.get("/customers").status_code == 200
    page = client.get("/customers")
    client.post("/logout", data={"csrf_token": form_token(page.text)})
    response = copy.get("/customers")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_an_expired_session_sends_the_browser_back_to_sign_in(
        login: Callable[[str], TestClient], workspace: Path) -> None:
    client = login("analyst")
    assert client.get("/customers").status_code == 200
    engine = build_engine(f"sqlite:///{workspace / 'kithkin.db'}")
    with engine.begin() as connection:
        connection.execute(update(StaffSession).values(expires_at=utcnow()))
    engine.dispose()
    response = client.get("/customers")
    assert response.headers["location"] == "/login?next=/customers"
    assert client.get("/login").status_code == 200  # the form, not a redirect loop


def test_own_password_change_keeps_this_browser_and_ends_the_others(
        login: Callable[[str], TestClient]) -> None:
    client = login("agent")
    other = TestClient(client.app, follow_redirects=False)
    sign_in(other, "agent")
    form = client.get("/account/password")
    assert form.status_code == 200 and 'for="current-password"' in form.text
    token = form_token(form.text)
    wrong = client.post("/account/password", data={
        "current_password": "nope", "new_password": "new-long-password", "csrf_token": token})
    assert wrong.status_code == 400 and "does not match" in wrong.text
    done = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "new-long-password",
        "csrf_token": token})
    assert done.status_code == 303
    assert "Password changed" in client.get("/customers").text
    assert other.get("/customers").status_code == 303
    token = form_token(other.get("/login").text)
    assert other.post("/login", data={"email": email_of("agent"), "password": PASSWORD,
                                      "csrf_token": token}).status_code == 401
