"""Login with hashed passwords, CSRF on cookie-authenticated posts, bearer tokens for scripts."""
from __future__ import annotations

from typing import Any

import requests
from sqlalchemy import select

from core.db import session_scope
from core.models import User
from core.users import create_token


def test_passwords_are_hashed(users: dict[str, Any]) -> None:
    with session_scope() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "ana"))
    assert "ana-password" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_wrong_password_is_refused_in_portuguese(live_server: Any) -> None:
    http = requests.Session()
    page = http.get(f"{live_server.url}/login").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = http.post(f"{live_server.url}/login",
                         data={"username": "ana", "password": "errada", "csrf_token": token})
    assert response.status_code == 401 and "Usuário ou senha inválidos" in response.text


def test_login_form_without_csrf_token_is_refused(live_server: Any) -> None:
    response = requests.post(f"{live_server.url}/login", allow_redirects=False,
                             data={"username": "ana", "password": "ana-password"})
    assert response.status_code != 302


def test_cookie_json_post_needs_csrf_header(live_server: Any) -> None:
    http = live_server.session()
    token = http.headers.pop("X-CSRFToken")
    # logout is a cookie-authenticated POST: refused without the token...
    refused = http.post(f"{live_server.url}/logout", json={}, allow_redirects=False)
    assert refused.status_code == 400 and "CSRF" in refused.json()["error"]
    # ...accepted with it
    accepted = http.post(f"{live_server.url}/logout", json={}, allow_redirects=False,
                         headers={"X-CSRFToken": token})
    assert accepted.status_code == 302


def test_bearer_token_works_without_cookie_or_csrf(live_server: Any) -> None:
    token = create_token("ana", "script de teste")
    headers = {"Authorization": f"Bearer {token}"}
    ok = requests.get(f"{live_server.url}/jobs/none/status", headers=headers)
    assert ok.status_code == 404  # authenticated: the job just does not exist
    post = requests.post(f"{live_server.url}/logout", headers=headers, allow_redirects=False)
    assert post.status_code == 302  # no CSRF needed for a bearer call
    bad = requests.get(f"{live_server.url}/jobs/none/status",
                       headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_pages_redirect_to_login_and_back(live_server: Any) -> None:
    response = requests.get(f"{live_server.url}/", allow_redirects=False)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_login_does_not_redirect_off_site(live_server: Any) -> None:
    http = requests.Session()
    page = http.get(f"{live_server.url}/login").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = http.post(f"{live_server.url}/login?next=//evil.example/x", allow_redirects=False,
                         data={"username": "ana", "password": "ana-password", "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_users_cli_creates_a_user(app: Any) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "add", "joao", "--name", "João"],
                           input="senha-do-joao\nsenha-do-joao\n")
    assert result.exit_code == 0, result.output
    from core.users import authenticate

    assert authenticate("joao", "senha-do-joao").name == "João"
    short = runner.invoke(args=["users", "add", "x", "--password", "curta"])
    assert short.exit_code != 0 and "12 caracteres" in short.output
