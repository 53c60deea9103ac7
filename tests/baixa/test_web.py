"""The /baixas page and its JSON APIs: feed, history search, rejected scans, audited undo,
dead-letter replay; and the live feed in a real browser."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core import dead_letters
from core.baixa.registro import registrar_baixa
from core.db import session_scope
from core.models import BaixaEstorno, Produto
from tests.baixa.support import removals_by_product, scan_message, seed_products
from tests.support.waiting import wait_until
from tests.support.web import login
from web.sse import may_read


def scanned(*ids: int, store: str = "LOJA-001") -> list[dict[str, Any]]:
    return [registrar_baixa(**scan_message(pid, store_key=store)) for pid in ids]


def test_page_lists_stores_and_needs_login(app: Any, client: Any) -> None:
    seed_products("LOJA-002", [1])
    assert app.test_client().get("/baixas").status_code in (302, 401)
    page = client.get("/baixas?loja=LOJA-002")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-store="LOJA-002"' in html and "Produtos retirados" in html


def test_store_channel_is_for_logged_in_users(app: Any, users: dict[str, Any]) -> None:
    class Anonymous:
        is_authenticated = False

    with app.app_context():
        assert may_read(users["ana"], "store:LOJA-001")
        assert not may_read(users["ana"], "store")
        assert not may_read(Anonymous(), "store:LOJA-001")


@pytest.mark.mariadb
def test_feed_history_search_and_rejected(client: Any) -> None:
    seed_products("LOJA-001", [10, 11, 12])
    scanned(10, 11, 10, 99)
    registrar_baixa(**{**scan_message(0), "product_id": "abc"})
    feed = client.get("/api/baixas/leituras?loja=LOJA-001").get_json()
    assert [i["outcome"] for i in feed["items"]] == ["invalid", "not_found", "already_removed",
                                                     "removed", "removed"]
    assert feed["since"]
    rejected = client.get("/api/baixas/leituras?loja=LOJA-001&rejeitadas=1").get_json()
    assert {i["outcome"] for i in rejected["items"]} == {"invalid", "not_found", "already_removed"}
    assert all(i["reason"] for i in rejected["items"])
    history = client.get("/api/baixas/removidos?loja=LOJA-001").get_json()
    assert sorted(i["product_id"] for i in history["items"]) == [10, 11]
    found = client.get("/api/baixas/removidos?loja=LOJA-001&q=Produto 11").get_json()
    assert [i["product_id"] for i in found["items"]] == [11]
    assert client.get("/api/baixas/removidos?loja=LOJA-001&q=%25' OR 1=1 --").get_json()["total"] == 0
    assert client.get("/api/baixas/removidos?loja=LOJA-002").get_json()["total"] == 0
    assert client.get("/api/baixas/removidos").status_code == 400


@pytest.mark.mariadb
def test_undo_is_audited_and_the_product_can_be_scanned_again(client: Any) -> None:
    seed_products("LOJA-001", [20])
    [removed] = scanned(20)
    url = f"/api/baixas/removidos/{removed['id_removido']}/estorno"
    assert client.post(url, json={"motivo": ""}).status_code == 400
    response = client.post(url, json={"motivo": "Leitura por engano no caixa 2"})
    assert response.status_code == 200, response.get_json()
    event = response.get_json()
    assert event["estornado_por"] == "admin" and event["product_id"] == 20
    assert client.post(url, json={"motivo": "de novo"}).status_code == 409
    with session_scope() as session:
        assert session.get(Produto, 20) is not None
        audit = session.scalar(select(BaixaEstorno))
        assert audit is not None and audit.motivo == "Leitura por engano no caixa 2"
        assert audit.removido["scan_id"] == removed["scan_id"]
        assert audit.removido["responsavel_retirada"] == "Leitor QRCODE"
    undos = client.get("/api/baixas/estornos?loja=LOJA-001").get_json()
    assert [u["motivo"] for u in undos["items"]] == ["Leitura por engano no caixa 2"]
    assert scanned(20)[0]["outcome"] == "removed"  # back on the shelf, removable again


def test_undo_and_replay_need_an_administrator(app: Any, users: dict[str, Any]) -> None:
    seed_products("LOJA-001", [30])
    [removed] = scanned(30)
    ana = app.test_client()
    login(ana, "ana", "ana-password")
    assert ana.get("/api/baixas/removidos?loja=LOJA-001").status_code == 200
    response = ana.post(f"/api/baixas/removidos/{removed['id_removido']}/estorno",
                        json={"motivo": "tentativa"})
    assert response.status_code == 403
    assert ana.post("/api/baixas/dead-letters/1/replay").status_code == 403


@pytest.mark.mariadb
def test_dead_letter_list_and_replay(client: Any, worker: Any) -> None:
    seed_products("LOJA-001", [40])
    message = scan_message(40)
    entry_id = dead_letters.record("baixa.registrar", [], message, "BaixaUnavailable: down",
                                 reference=message["scan_id"])
    dead_letters.record("comprovantes.processar", [], {"id": 1}, "x", reference="1")
    listed = client.get("/api/baixas/dead-letters").get_json()["items"]
    assert [(i["id"], i["product_id"]) for i in listed] == [(entry_id, "40")]
    assert client.post(f"/api/baixas/dead-letters/{entry_id}/replay").status_code == 200
    wait_until(lambda: removals_by_product([40]), 30, "the replayed scan")
    assert client.post(f"/api/baixas/dead-letters/{entry_id}/replay").status_code == 404
    assert client.get("/api/baixas/dead-letters").get_json()["items"] == []


@pytest.mark.browser
def test_browser_live_feed_search_and_undo(page: Any) -> None:
    seed_products("LOJA-001", [50, 51, 52])
    scanned(50)
    page.goto("/baixas?loja=LOJA-001")
    page.locator("#live-status", has_text="ao vivo").wait_for(timeout=15_000)
    assert page.locator("#feed tbody tr").count() == 1

    scanned(51)  # a Pi scans: the feed shows it without a reload
    page.locator('#feed tbody tr >> text="51"').wait_for(timeout=15_000)
    page.locator("#history tbody tr", has_text="Produto 51").wait_for(timeout=15_000)

    page.fill("#history-search input[name=q]", "Produto 50")
    page.click("#history-search button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#history tbody tr').length === 1")
    page.click("#history tbody tr >> text=Estornar")
    page.fill("#undo-form textarea[name=motivo]", "Produto ainda na prateleira")
    page.click("#undo-form button[type=submit]")
    page.locator("#undos tbody tr", has_text="Produto ainda na prateleira").wait_for(timeout=15_000)
    with session_scope() as session:
        assert session.get(Produto, 50) is not None
