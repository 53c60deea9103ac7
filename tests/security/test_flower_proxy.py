"""Flower behind the app's login: a real Flower on 127.0.0.1 (--url_prefix=flower, basic auth)
is reached through /flower by administrators only; the app adds the credentials, so Flower
itself answers nobody without them; a state-changing call must come from this site."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from core.settings import reset_settings
from standins.embedded_redis import free_port
from tests.security.hardening_support import set_settings
from tests.support.environment import ROOT
from tests.support.waiting import wait_until
from tests.support.web import login

CREDENTIALS = "ops:quarta-estante-violeta-27"


@pytest.fixture(scope="module")
def flower() -> Iterator[int]:
    """A real Flower for this module, on a free loopback port; yields the port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "flower", "--address=127.0.0.1",
         f"--port={port}", "--url_prefix=flower", f"--basic-auth={CREDENTIALS}"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def answers() -> bool:
        assert process.poll() is None, "flower exited"
        try:
            return requests.get(f"http://127.0.0.1:{port}/flower/", timeout=2).status_code == 401
        except requests.ConnectionError:
            return False

    try:
        wait_until(answers, 90, "Flower to answer")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def proxied(flower: int, monkeypatch: pytest.MonkeyPatch, app: Any) -> Iterator[Any]:
    """The app pointed at that Flower."""
    set_settings(monkeypatch, flower_host="127.0.0.1", flower_port=flower,
                 flower_basic_auth=CREDENTIALS)
    yield app
    monkeypatch.undo()
    reset_settings()


def signed_in(app: Any, username: str) -> Any:
    client = app.test_client()
    login(client, username, f"{username}-password")
    return client


def test_administrators_reach_flower_through_the_app(proxied: Any, users: Any, flower: int) -> None:
    admin = signed_in(proxied, "admin")
    page = admin.get("/flower/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/flower/static/" in html  # Flower's own page, its links under the prefix
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "Authorization" not in page.headers and "ops" not in page.headers.get("Set-Cookie", "")
    script = admin.get("/flower/static/js/flower.js")
    assert script.status_code == 200 and "javascript" in script.mimetype
    workers = admin.get("/flower/api/workers")  # Flower's API: authenticated by the proxy
    assert workers.status_code == 200 and isinstance(workers.get_json(), dict)
    # Without the app, Flower answers nobody who lacks its credentials.
    assert requests.get(f"http://127.0.0.1:{flower}/flower/api/workers", timeout=5).status_code == 401


def test_others_do_not_reach_flower(proxied: Any, users: Any) -> None:
    anonymous = proxied.test_client().get("/flower/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert signed_in(proxied, "ana").get("/flower/").status_code == 403  # store staff
    token_less = proxied.test_client().get("/flower/api/workers",
                                           headers={"Authorization": "Bearer nada"})
    assert token_less.status_code == 401


def test_state_changing_calls_must_come_from_this_site(proxied: Any, users: Any) -> None:
    admin = signed_in(proxied, "admin")
    foreign = admin.post("/flower/api/task/revoke/x", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "de fora desta página" in foreign.get_data(as_text=True)
    assert admin.post("/flower/api/task/revoke/x").status_code == 403  # no Origin nor Referer
    # From this site the call reaches Flower, whose own XSRF check then wants its token.
    ours = admin.post("/flower/api/task/revoke/x", headers={"Origin": "http://localhost"})
    assert "de fora desta página" not in ours.get_data(as_text=True)


def test_flower_down_is_a_readable_502(app: Any, users: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    set_settings(monkeypatch, flower_host="127.0.0.1", flower_port=free_port())
    answer = signed_in(app, "admin").get("/flower/")
    assert answer.status_code == 502 and "Flower não está respondendo" in answer.get_data(as_text=True)
    reset_settings()


@pytest.mark.browser
def test_flower_pages_work_in_a_browser_through_the_proxy(flower: int, page: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The `page` fixture fails on any console error: Flower's scripts and its polling must run
    # under the policy its pages get (and its one inline script).
    set_settings(monkeypatch, flower_host="127.0.0.1", flower_port=flower,
                 flower_basic_auth=CREDENTIALS)
    for path in ("/flower/", "/flower/tasks", "/flower/broker"):
        assert page.goto(path).status == 200
        page.wait_for_load_state("networkidle")
    assert page.locator("a.navbar-brand, .navbar").first.is_visible()
    reset_settings()
