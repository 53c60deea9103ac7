"""The carteira page and its API over real HTTP: SSE cut and resumed, isolation, re-analysis."""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
import requests

from core.ruptura import analises, regras
from tests.ruptura.support import Carteira, pedidos_simples
from tests.support.sse import Event, parse_sse
from tests.support.waiting import wait_until

API = "/api/carteira/ruptura"


def hold_order(monkeypatch: pytest.MonkeyPatch, num_pedido: str) -> threading.Event:
    """Hold the (in-process) worker analysing `num_pedido` until the returned event is set."""
    real = regras.analisar_pedido
    gate = threading.Event()

    def held(pedido: regras.PedidoCarteira, *args: Any) -> dict[str, Any]:
        if pedido.num_pedido == num_pedido:
            assert gate.wait(10), "the test never released the held order"
        return real(pedido, *args)

    monkeypatch.setattr(regras, "analisar_pedido", held)
    return gate




def start(http: requests.Session, url: str, nums: list[str]) -> dict[str, Any]:
    response = http.post(f"{url}{API}/analises", json={"pedidos": nums}, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()


@pytest.mark.mariadb
def test_sse_cut_mid_analysis_then_resumed_with_last_event_id_misses_nothing(
        carteira: Carteira, worker: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # What must survive: every order's result reaches the client across a dropped connection.
    nums = pedidos_simples(carteira, 120)  # 6 batches
    gate = hold_order(monkeypatch, nums[-1])  # the last batch waits until after the cut
    http = live_server.session()
    nova = start(http, live_server.url, nums)
    assert nova["canal"] == f"ruptura:{nova['analise_id']}" and nova["workers"] == 2
    stream = f"{live_server.url}/stream?channel={nova['canal']}"

    received: list[Event] = []
    first = http.get(stream, params={"last_event_id": "0-0"}, stream=True, timeout=30)
    assert first.status_code == 200
    for event in parse_sse(first):
        received.append(event)
        if event.type == "resultados":
            break
    first.close()  # the cut, mid-analysis: the held batch cannot have finished
    # the other five batches publish while the client is away
    wait_until(lambda: analises.estado(nova["analise_id"])["processados"] >= 100)
    assert not analises.estado(nova["analise_id"])["completo"]
    gate.set()

    second = http.get(stream, headers={"Last-Event-ID": received[-1].id}, stream=True, timeout=30)
    for event in parse_sse(second):
        received.append(event)
        if event.type == "completo":
            break
    second.close()

    tipos = [e.type for e in received]
    assert tipos.count("completo") == 1 and tipos[-1] == "completo"
    assert len({e.id for e in received}) == len(received), "an event was delivered twice"
    got = Counter(r["num_pedido"] for e in received if e.type == "resultados"
                  for r in e.data["resultados"])
    assert got == Counter({num: 1 for num in nums})


def test_analyses_are_isolated_per_user(carteira: Carteira, worker: Any, live_server: Any) -> None:
    from core.users import set_role

    set_role("ana", "financeiro")  # she may use the carteira, just not read others' analyses
    nums = pedidos_simples(carteira, 3)
    admin, ana = live_server.session(), live_server.session("ana", "ana-password")
    nova = start(admin, live_server.url, nums)

    stream = f"{live_server.url}/stream?channel={nova['canal']}"
    assert ana.get(stream, timeout=10).status_code == 403
    assert ana.get(f"{live_server.url}{API}/analises/{nova['analise_id']}", timeout=10).status_code == 404
    assert ana.get(f"{live_server.url}/stream?channel=ruptura:{'f' * 32}", timeout=10).status_code == 403

    # the owner (a reconnecting page or a second tab) gets every stored result
    def stored() -> dict[str, Any]:
        return admin.get(f"{live_server.url}{API}/analises/{nova['analise_id']}", timeout=10).json()

    wait_until(lambda: stored()["completo"])
    assert sorted(r["num_pedido"] for r in stored()["resultados"]) == nums


def test_start_rejects_bad_input(client: Any) -> None:
    for body in ({}, {"pedidos": []}, {"pedidos": "P1"}, {"pedidos": [1, 2]}, {"pedidos": ["x" * 31]}):
        response = client.post(f"{API}/analises", json=body)
        assert response.status_code == 400, body
        assert response.json["error"]


def test_start_needs_csrf_from_a_browser_session(live_server: Any) -> None:
    http = live_server.session()
    del http.headers["X-CSRFToken"]
    assert http.post(f"{live_server.url}{API}/analises", json={"pedidos": ["P"]}, timeout=10).status_code == 400


@pytest.mark.mariadb
def test_reanalysis_of_one_order_runs_in_the_request_on_fresh_data(carteira: Carteira, client: Any) -> None:
    # no worker fixture here: the answer can only come from the web request itself
    carteira.estoque("A", 1)
    carteira.pedido("P-1", [("A", 2, 10)])
    r = client.post(f"{API}/pedidos/P-1").json
    assert r["status"] == "analisado" and r["pedido_ok"] is False and r["percentual_disponibilidade"] == 50.0
    carteira.estoque("A", 2)
    assert client.post(f"{API}/pedidos/P-1").json["pedido_ok"] is True
    missing = client.post(f"{API}/pedidos/NAO-EXISTE")
    assert missing.status_code == 404 and missing.json["error"]


@pytest.mark.mariadb
def test_page_lists_open_orders_paginated_and_filtered(carteira: Carteira, client: Any) -> None:
    from core.db import session_scope
    from core.models import Pedido

    for n in range(60):
        carteira.pedido(f"PED-{n:03d}", [("A", 1, 2.5)], entrega_em_dias=n)
    carteira.pedido("FECHADO", [("A", 1, 1)])
    with session_scope() as session:
        session.query(Pedido).filter_by(num_pedido="FECHADO").one().aberto = False

    page = client.get("/carteira").get_data(as_text=True)
    assert "60 pedido(s) em aberto" in page and "página 1 de 2" in page
    assert page.count('class="pedido-row"') == 50 and "FECHADO" not in page
    assert page.count('data-estado="pendente"') == 50 and "ruptura.js" in page
    assert 'data-workers="2"' in page and "R$ 2,50" in page

    segunda = client.get("/carteira?pagina=2").get_data(as_text=True)
    assert segunda.count('class="pedido-row"') == 10 and "PED-059" in segunda

    filtrada = client.get(f"/carteira?busca=PED-00&entrega_ate={carteira.dia(5).isoformat()}").get_data(as_text=True)
    assert filtrada.count('class="pedido-row"') == 6
    assert client.get("/carteira?busca=Cliente%20PED-042").get_data(as_text=True).count('class="pedido-row"') == 1
