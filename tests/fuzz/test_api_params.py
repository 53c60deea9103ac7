"""Fuzzing every route's parameters through the Flask test client, logged in: any text in
every path variable and every query parameter of every GET route (API and pages), and in
the path ids and bodies of the POST routes that take an id, is answered below 500 (the test
app re-raises any exception). Strict parsing lives in web/params.py. The query parameter
names are read from web/*.py, so a new route's parameters are fuzzed without editing this."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WEB = Path(__file__).resolve().parents[2] / "web"
# request.args.get("x"), request.args.getlist("x"), and the helpers: int_arg("x", ...), _int_arg(...)
PARAM_READ = re.compile(r"(?:\b\w*_arg|request\.args\.get(?:list)?)\(\s*\"([A-Za-z_]+)\"")
# Not fuzzed here: the probes (they ping the broker and workers), static files, the SSE stream
# (tests/fuzz/test_last_event_id.py), the login/logout forms, and the Flower proxy (it passes any
# query to Flower, and answers 502 when none runs: tests/security/test_flower_proxy.py).
SKIPPED = {"probes.healthz", "probes.readyz", "static", "sse.stream", "auth.login", "auth.logout",
           "flower_proxy.forward"}
FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def query_names() -> list[str]:
    names = {name for path in WEB.glob("*.py") for name in PARAM_READ.findall(path.read_text())}
    assert {"pagina", "horas", "limite", "entrega_de", "loja"} <= names, names  # the pattern still reads them
    return sorted(names)


# Values that look like what a parameter expects, almost do, or do not at all.
numbers = (st.integers(min_value=-(10**25), max_value=10**25).map(str)
           | st.sampled_from(["0", "-1", "1.5", "1e3", "nan", "inf", "+7", " 7", "1_000", "0x10", "²", "١٢", "７"]))
dates = st.dates().map(str) | st.sampled_from(["2026-02-30", "20260101", "2026-W01-1", "２０２６-01-01", "0000-00-00"])
values = numbers | dates | st.text(max_size=30) | st.text(st.characters(codec="utf-8"), max_size=300)
queries = st.dictionaries(st.sampled_from(query_names()) | st.text(max_size=8), values, max_size=4)


def routes(app: Any, method: str) -> list[Any]:
    return sorted((rule for rule in app.url_map.iter_rules()
                   if method in rule.methods and rule.endpoint not in SKIPPED
                   and (method == "GET" or rule.arguments)), key=lambda rule: rule.rule)


def fill(rule: Any, data: Any) -> str:
    """The rule's path with each variable replaced by drawn text (percent-encoded)."""
    path = rule.rule
    for name in sorted(rule.arguments):
        text = data.draw(values.filter(bool) | st.sampled_from(["1", "7", "9" * 25]), label=name)
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", quote(text, safe=""), path)
    return path


def assert_answered(response: Any, url: str) -> None:
    assert response.status_code < 500, (url, response.get_data(as_text=True)[:300])
    if response.status_code >= 400 and response.is_json:
        body = response.get_json()
        assert body["status"] == response.status_code and body["error"], (url, body)


@FUZZ
@given(data=st.data())
def test_any_query_on_any_get_route_is_answered_below_500(client: Any, data: Any) -> None:
    rule = data.draw(st.sampled_from(routes(client.application, "GET")), label="route")
    url = fill(rule, data) + "?" + urlencode(data.draw(queries, label="query"))
    assert_answered(client.get(url), url)


# Found before issue 12 (500s or silent misreadings), kept as regression cases; /api/consinco
# keeps the 422 it always answered for a bad parameter (docs/sync.md).
FOUND = [
    ("/api/comprovantes/99999999999999999999999", 400),  # past 64 bits: OverflowError in SQLite
    ("/api/comprovantes/%D9%A1%D9%A2", 400),              # '١٢' was receipt 12
    ("/api/consinco/filiais?pular=999999999999999999999999", 422),  # OverflowError in SQLite
    ("/api/baixas/leituras?loja=x&pagina=%C2%B2", 400),  # '²' was silently page 1
    ("/api/dispositivos/x/historico?horas=%D9%A1", 400),  # '١' was 1 hour
    ("/carteira?entrega_de=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%94-01-01", 400),
]


@pytest.mark.parametrize(("url", "status"), FOUND)
def test_the_values_found_are_refused_in_portuguese(client: Any, url: str, status: int) -> None:
    response = client.get(url, headers={"Accept": "application/json"})
    body = response.get_json()
    assert response.status_code == status and body["status"] == status
    assert "inválid" in body["error"] or "deve ser" in body["error"]


@FUZZ
@given(data=st.data())
def test_any_id_and_body_on_a_post_route_is_answered_below_500(client: Any, data: Any) -> None:
    rule = data.draw(st.sampled_from(routes(client.application, "POST")), label="route")
    url = fill(rule, data)
    body = data.draw(st.none() | st.dictionaries(st.sampled_from(["motivo", "modo", "pedidos"]) | st.text(max_size=8),
                                                 values | st.lists(values, max_size=3), max_size=3), label="body")
    response = client.post(url, json=body) if body is not None else client.post(url, data=data.draw(values))
    assert_answered(response, url)


def as_a_browser_reads_it(target: str) -> str:
    """The URL a browser follows for a Location (WHATWG: tabs and newlines dropped, '\\' is '/')."""
    return re.sub(r"[\t\n\r]", "", target).strip("\x00 ").replace("\\", "/")


@FUZZ
@given(target=st.text(st.sampled_from("/\\:.@?#%\t\n ae1") | st.characters(), max_size=20)
       .map(lambda text: "/" + text) | st.text(max_size=20))
def test_login_next_is_followed_only_within_the_site(target: str) -> None:
    from web.auth import same_site_path

    if same_site_path(target):
        followed = as_a_browser_reads_it(target)
        assert followed.startswith("/") and not followed.startswith("//"), target


@pytest.mark.parametrize("target", ["/\\evil.example", "/\t/evil.example", "//evil.example", "https://evil.example"])
def test_login_does_not_redirect_off_site(app: Any, users: Any, target: str) -> None:
    response = app.test_client().post(f"/login?next={quote(target)}",
                                      data={"username": "ana", "password": "ana-password"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
