"""The carteira page in headless Chromium: live progress, final buttons, details modal."""
from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from core.db import session_scope
from core.ruptura.demo import gerar_carteira, inserir
from core.ruptura.regras import hoje_local

FINAL = re.compile(r"^(Estoque OK|Sem itens|Disp\. \d{1,3}% \| (Total Disp\. \d\d/\d\d|Total Não Disp\.))$")


@pytest.mark.browser
def test_page_analyses_every_visible_order_live_and_opens_the_details(db: str, worker: Any, page: Any) -> None:
    with session_scope() as session:
        inserir(session, gerar_carteira(45, 12, hoje_local()))  # every case, 3 batches

    page.goto("/carteira")
    painel = page.locator("#ruptura-progresso")
    painel.locator(".ruptura-progresso-info").wait_for()
    assert painel.locator(".ruptura-progresso-info").inner_text() == "Processando 45 pedidos com 2 workers..."
    page.wait_for_function(
        # A function, not an expression: Playwright evals an expression, which the CSP refuses.
        "() => document.querySelector('#ruptura-progresso .progress-bar').textContent === '100%'",
        timeout=30_000)
    # the bar may reach 100% on the last batch's progress, a moment before the "completo" event
    # that writes the summary: wait for it rather than read it at once
    expect(painel.locator(".ruptura-progresso-resumo")).to_contain_text("Concluído: 45 pedidos", timeout=10_000)
    assert painel.locator(".progress-bar").evaluate("el => el.style.width") == "100%"

    botoes = page.locator("button.btn-ruptura")
    assert botoes.count() == 45
    textos = botoes.all_inner_texts()
    assert all(FINAL.match(t.strip()) for t in textos), textos
    assert page.locator("button.btn-ruptura[data-estado='pendente']").count() == 0
    assert "Estoque OK" in textos and "Sem itens" in textos
    assert any("Total Não Disp." in t for t in textos) and any("Total Disp." in t for t in textos)
    ok = page.locator("button.btn-ruptura", has_text="Estoque OK").first
    assert "btn-success" in ok.get_attribute("class")
    critico = page.locator("button.btn-ruptura[data-criticidade='CRITICA']").first
    assert "btn-danger" in critico.get_attribute("class")

    # details of an order with a shortfall
    page.locator("button.btn-ruptura", has_text="Total Disp.").first.click()
    modal = page.locator("#ruptura-modal")
    modal.wait_for(state="visible")
    assert modal.locator("#ruptura-modal-titulo").inner_text().startswith("Pedido PED-")
    assert modal.locator(".ruptura-itens tbody tr").count() >= 1
    assert modal.locator(".ruptura-itens tbody tr.falta").count() >= 1
    assert "Disponibilidade total" in modal.locator("#ruptura-modal-resumo").inner_text()

    # manual re-analysis (synchronous, in the web request) keeps the modal up to date
    with page.expect_response(lambda r: "/api/carteira/ruptura/pedidos/" in r.url) as resposta:
        modal.locator("#ruptura-reanalisar").click()
    assert resposta.value.status == 200
    modal.locator("[data-fechar]").click()
    modal.wait_for(state="hidden")
