"""The carteira page in headless Chromium, by value at risk: sorted, filtered, the carteira's
total, and the drill-down of a red order (which stock and entries cover each line)."""
from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ruptura.support import Carteira


@pytest.mark.browser
def test_sorted_and_filtered_by_value_at_risk_with_the_drill_down(carteira: Carteira, worker: Any,
                                                                   page: Any) -> None:
    carteira.estoque("OK", 1000)
    carteira.estoque("POUCO", 2)
    carteira.entrada("POUCO", 3, 3, origem="compra")      # in time for a delivery in 10 days
    carteira.entrada("POUCO", 40, 100, origem="producao")  # too late
    carteira.pedido("B-BAIXO", [("OK", 1, 5)], entrega_em_dias=1)
    carteira.pedido("B-MEDIO", [("POUCO", 10, 4), ("OK", 2, 3)], entrega_em_dias=10)  # 5 x 4 = 20
    carteira.pedido("B-ALTO", [("NADA", 3, 100)], entrega_em_dias=20)                 # 300

    page.goto("/carteira")  # by delivery date: the page adds up its own orders as they arrive
    page.wait_for_function("() => !document.querySelector(\"button.btn-ruptura[data-estado='pendente']\")",
                           timeout=30_000)
    assert page.locator("#risco-pagina [data-total-risco]").inner_text().replace("\xa0", " ") == "R$ 320,00"
    page.select_option("#ordem", "valor_em_risco")
    page.click("form.toolbar button[type=submit]")
    page.wait_for_url(re.compile(r"ordem=valor_em_risco"))
    linhas = page.locator("tr.pedido-row")
    assert [linhas.nth(n).get_attribute("data-pedido") for n in range(3)] == ["B-ALTO", "B-MEDIO", "B-BAIXO"]
    assert page.locator("#risco-carteira").inner_text().startswith("Valor em risco da carteira: R$ 320,00")
    # every order analysed by the workers: the buttons are final, the column agrees
    page.wait_for_function("() => !document.querySelector(\"button.btn-ruptura[data-estado='pendente']\")",
                           timeout=30_000)
    # (the browser's Intl writes "R$" and the amount with a no-break space)
    assert [t.replace("\xa0", " ") for t in linhas.locator("td.valor-em-risco").all_inner_texts()] == [
        "R$ 300,00", "R$ 20,00", "R$ 0,00"]

    page.fill("#risco-min", "10")
    page.click("form.toolbar button[type=submit]")
    page.wait_for_url(re.compile(r"risco_min=10"))
    filtrados = [linhas.nth(n).get_attribute("data-pedido") for n in range(linhas.count())]
    assert filtrados == ["B-ALTO", "B-MEDIO"]
    assert page.get_attribute("#exportar-xlsx", "href").startswith("/carteira/exportar.xlsx?")
    assert "risco_min=10" in page.get_attribute("#exportar-csv", "href")

    # the drill-down: why B-MEDIO is not green
    page.wait_for_function("() => !document.querySelector(\"button.btn-ruptura[data-estado='pendente']\")",
                           timeout=30_000)
    page.locator("tr.pedido-row[data-pedido='B-MEDIO'] button.btn-ruptura").click()
    modal = page.locator("#ruptura-modal")
    modal.wait_for(state="visible")
    resumo = modal.locator("#ruptura-modal-resumo").inner_text().replace("\xa0", " ")
    assert "Valor em risco\nR$ 20,00" in resumo
    pouco = modal.locator(".ruptura-itens tbody tr").first
    assert "item-atrasado" in pouco.get_attribute("class")
    entrada = carteira.dia(3).strftime("%d/%m/%Y")
    tarde = carteira.dia(40).strftime("%d/%m/%Y")
    assert pouco.locator(".cobertura li").all_inner_texts() == [
        "Estoque: 2", f"Compra {entrada}: 3", f"Produção {tarde}: 5 (fora do prazo)"]
    assert pouco.locator("td").nth(9).inner_text().replace("\xa0", " ") == "R$ 20,00"
