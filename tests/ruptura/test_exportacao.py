"""The carteira by value at risk: the page sorted and filtered by it, the API, and the export
of the carteira with its analysis (CSV and XLSX, opened back with csv and openpyxl)."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any

import openpyxl
import pytest

from tests.ruptura.support import Carteira

API = "/api/carteira/ruptura/valor-em-risco"


def exemplo(carteira: Carteira) -> None:
    """Four orders: 200, 20 and 0 at risk, and one whose client's name is a formula."""
    carteira.estoque("OK", 1000)
    carteira.estoque("POUCO", 1)
    carteira.entrada("POUCO", 50, 100, origem="producao")  # after every delivery date below
    carteira.pedido("R1", [("POUCO", 3, 10), ("OK", 2, 1.5)], entrega_em_dias=10)  # 20 at risk
    carteira.pedido("R2", [("OK", 5, 1)])
    carteira.pedido("R3", [("NADA", 4, 50)], entrega_em_dias=5)                   # 200 at risk
    carteira.pedido("=HYPERLINK(1)", [("NADA", 1, 0.5)])                          # 0.50 at risk


def pedidos_da_pagina(html: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(3)) for m in re.finditer(
        r'<tr class="pedido-row" data-pedido="([^"]+)"( data-valor-em-risco="([^"]+)")?', html)]


def test_the_page_sorts_and_filters_by_value_at_risk_and_shows_the_total(carteira: Carteira,
                                                                        client: Any) -> None:
    exemplo(carteira)
    padrao = pedidos_da_pagina(client.get("/carteira").get_data(as_text=True))
    assert [num for num, _ in padrao][:2] == ["R3", "R1"] and all(v is None for _, v in padrao)

    html = client.get("/carteira?ordem=valor_em_risco").get_data(as_text=True)
    assert pedidos_da_pagina(html) == [("R3", "200.00"), ("R1", "20.00"), ("=HYPERLINK(1)", "0.50"),
                                       ("R2", "0.00")]
    assert "Valor em risco da carteira:" in html and "R$ 220,50" in html and "em 3 de" in html

    filtrada = client.get("/carteira?risco_min=20").get_data(as_text=True)
    assert [num for num, _ in pedidos_da_pagina(filtrada)] == ["R3", "R1"]  # delivery order kept
    assert "2 pedido(s) com esses filtros" in filtrada
    assert client.get("/carteira?risco_min=abc").status_code == 400
    assert client.get("/carteira?ordem=preco").status_code == 400


def test_the_api_ranks_the_filtered_carteira(carteira: Carteira, client: Any) -> None:
    exemplo(carteira)
    body = client.get(f"{API}?por_pagina=25").json
    assert body["valor_em_risco_total"] == "220.50" and body["pedidos_em_risco"] == 3
    assert [(p["num_pedido"], p["valor_em_risco"]) for p in body["pedidos"]] == [
        ("R3", 200.0), ("R1", 20.0), ("=HYPERLINK(1)", 0.5), ("R2", 0.0)]
    filtrada = client.get(f"{API}?risco_min=1").json
    assert [p["num_pedido"] for p in filtrada["pedidos"]] == ["R3", "R1"]
    assert filtrada["total_pedidos"] == 4 and filtrada["selecionados"] == 2
    assert [p["num_pedido"] for p in client.get(f"{API}?busca=R3").json["pedidos"]] == ["R3"]
    por_entrega = client.get(f"{API}?ordem=entrega&risco_min=0.5").json["pedidos"]
    assert [p["num_pedido"] for p in por_entrega] == ["R3", "R1", "=HYPERLINK(1)"]


def ler_csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))


@pytest.mark.mariadb
def test_csv_export_is_sorted_by_value_at_risk_one_row_per_line(carteira: Carteira, client: Any) -> None:
    exemplo(carteira)
    response = client.get("/carteira/exportar.csv")
    assert re.match(r'attachment; filename="carteira-ruptura-\d{8}-\d{4}\.csv"',
                    response.headers["Content-Disposition"])
    header, *rows = ler_csv(response)
    col = {nome: n for n, nome in enumerate(header)}
    assert [r[col["Pedido"]] for r in rows] == ["R3", "R1", "R1", "'=HYPERLINK(1)", "R2"]
    r3, r1_pouco, r1_ok = rows[0], rows[1], rows[2]
    assert r3[col["Valor em risco do pedido (R$)"]] == "200,00"
    assert r3[col["Cobertura"]] == "sem previsão: 4" and r3[col["Situação da linha"]] == "Sem previsão"
    assert r1_pouco[col["Valor em risco da linha (R$)"]] == "20,00"
    assert r1_pouco[col["Preço unitário (R$)"]] == "10,00" and r1_ok[col["Preço unitário (R$)"]] == "1,50"
    producao = (carteira.dia(50)).strftime("%d/%m/%Y")
    assert r1_pouco[col["Cobertura"]] == f"Estoque: 1; Produção {producao}: 2 (fora do prazo)"
    assert r1_pouco[col["Entrega prevista"]] == carteira.dia(10).strftime("%d/%m/%Y")
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", r3[col["Analisado em"]])

    filtrada = ler_csv(client.get("/carteira/exportar.csv?risco_min=20&busca=R1"))[1:]
    assert {r[col["Pedido"]] for r in filtrada} == {"R1"}


def test_xlsx_export_has_numbers_dates_and_guarded_text(carteira: Carteira, client: Any) -> None:
    exemplo(carteira)
    response = client.get("/carteira/exportar.xlsx")
    assert response.status_code == 200 and response.is_streamed
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    header, *rows = list(sheet.iter_rows())
    col = {cell.value: n for n, cell in enumerate(header)}
    assert [r[col["Pedido"]].value for r in rows] == ["R3", "R1", "R1", "'=HYPERLINK(1)", "R2"]
    risco = rows[0][col["Valor em risco do pedido (R$)"]]
    assert risco.value == 200 and risco.number_format == '"R$" #,##0.00' and risco.data_type == "n"
    assert isinstance(rows[0][col["Entrega prevista"]].value, datetime)
    assert all(r[col["Pedido"]].data_type == "s" for r in rows)  # never a formula
