"""Value at risk and the drill-down of each line (which stock and entries cover it, in time or
not), on plain data; then the carteira's ranking on a database."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from core.ruptura import carteira as ranking_da_carteira
from core.ruptura import regras
from core.ruptura.regras import Entrada, Item, PedidoCarteira, analisar_pedido
from tests.ruptura.support import Carteira

HOJE = date(2026, 3, 10)


def dia(n: int) -> date:
    return HOJE + timedelta(days=n)


def analisar(itens: list[tuple[str, float, float]], estoque: dict[str, float],
             entradas: dict[str, list[tuple[int, float, str]]] | None = None,
             entrega: date | None = dia(10)) -> dict:
    pedido = PedidoCarteira("P1", "Cliente", entrega, tuple(
        Item(cod, f"Produto {cod}", Decimal(str(q)), Decimal(str(p))) for cod, q, p in itens))
    return analisar_pedido(
        pedido, {cod: Decimal(str(q)) for cod, q in estoque.items()},
        {cod: [Entrada(dia(d), Decimal(str(q)), origem) for d, q, origem in lista]
         for cod, lista in (entradas or {}).items()}, HOJE)


def cobertura(item: dict) -> list[tuple[str, str, float, bool]]:
    return [(c["fonte"], c["data"], c["quantidade"], c["no_prazo"]) for c in item["cobertura"]]


def test_a_line_covered_partly_after_the_delivery_date_puts_that_part_at_risk() -> None:
    r = analisar([("A", 10, 2.5)], {"A": 4}, {"A": [(5, 3, "producao"), (15, 10, "compra")]})
    [item] = r["itens"]
    assert cobertura(item) == [("estoque", HOJE.isoformat(), 4.0, True),
                               ("producao", dia(5).isoformat(), 3.0, True),
                               ("compra", dia(15).isoformat(), 3.0, False)]
    assert item["situacao"] == "atrasado" and item["falta_no_prazo"] == 3.0
    assert item["valor_em_risco"] == 7.5 and item["sem_previsao"] == 0
    assert r["valor_em_risco"] == 7.5 and r["prazo"] == dia(10).isoformat()
    assert r["criticidade"] == regras.ALTA  # the same reason, told by the existing rule


def test_what_nothing_covers_is_at_risk_and_shown_as_without_a_date() -> None:
    r = analisar([("A", 5, 10), ("B", 2, 1)], {"A": 2, "B": 100})
    a, b = r["itens"]
    assert cobertura(a) == [("estoque", HOJE.isoformat(), 2.0, True)]
    assert a["sem_previsao"] == 3 and a["situacao"] == "sem_previsao" and a["valor_em_risco"] == 30.0
    assert b["situacao"] == "agora" and b["valor_em_risco"] == 0
    assert r["valor_em_risco"] == 30.0 and r["valor_total"] == 52.0


def test_an_order_whose_entries_arrive_in_time_has_nothing_at_risk_though_not_on_hand() -> None:
    r = analisar([("A", 10, 3)], {"A": 0}, {"A": [(2, 4, "compra"), (10, 6, "compra")]})
    [item] = r["itens"]
    assert not item["disponivel_agora"] and item["situacao"] == "no_prazo"
    assert item["falta_no_prazo"] == 0 and r["valor_em_risco"] == 0  # the delivery day counts


def test_lines_of_one_product_take_its_supply_in_line_order() -> None:
    r = analisar([("A", 6, 1), ("A", 6, 1)], {"A": 10}, {"A": [(5, 10, "compra")]}, entrega=dia(3))
    primeira, segunda = r["itens"]
    assert cobertura(primeira) == [("estoque", HOJE.isoformat(), 6.0, True)]
    assert cobertura(segunda) == [("estoque", HOJE.isoformat(), 4.0, True),
                                  ("compra", dia(5).isoformat(), 2.0, False)]
    assert segunda["valor_em_risco"] == 2.0 and r["valor_em_risco"] == 2.0


def test_a_passed_or_missing_delivery_date_means_only_the_stock_is_in_time() -> None:
    for entrega in (dia(-2), None):
        r = analisar([("A", 10, 1)], {"A": 3}, {"A": [(1, 50, "compra")]}, entrega=entrega)
        assert r["prazo"] == HOJE.isoformat()
        assert r["itens"][0]["falta_no_prazo"] == 7 and r["valor_em_risco"] == 7.0


def test_negative_stock_is_covered_first_by_the_entries() -> None:
    r = analisar([("A", 3, 1)], {"A": -5}, {"A": [(2, 6, "compra"), (4, 10, "producao")]})
    assert cobertura(r["itens"][0]) == [("compra", dia(2).isoformat(), 1.0, True),
                                        ("producao", dia(4).isoformat(), 2.0, True)]


def test_money_is_rounded_half_up_to_cents() -> None:
    r = analisar([("A", 0.005, 1), ("B", 1, 0.125)], {})
    assert r["itens"][0]["valor_em_risco"] == 0.01 and r["itens"][1]["valor_em_risco"] == 0.13
    assert r["valor_em_risco"] == 0.13  # the order's sum is rounded once, not the lines'


def test_the_carteira_ranking_sorts_by_value_at_risk_and_keeps_the_same_figures(carteira: Carteira) -> None:
    carteira.estoque("OK", 1000)
    carteira.estoque("POUCO", 1)
    nums = [carteira.pedido("R1", [("POUCO", 3, 10)]),            # 2 of 3 missing x 10: 20 at risk
            carteira.pedido("R2", [("OK", 5, 1)]),                # nothing at risk
            carteira.pedido("R3", [("NADA", 4, 50)]),             # 200 at risk
            carteira.pedido("R4", [])]                            # no lines: nothing to value
    ranking = ranking_da_carteira.ranking(nums)
    assert [(r.num_pedido, r.valor_em_risco) for r in ranking.pedidos] == [
        ("R3", Decimal("200.0")), ("R1", Decimal("20.0")), ("R2", Decimal("0")), ("R4", Decimal("0"))]
    assert ranking.valor_em_risco_total == 220 and ranking.pedidos_em_risco == 2
    assert [r.num_pedido for r in ranking.a_partir_de(Decimal("20"))] == ["R3", "R1"]
    sozinhos = {r["num_pedido"]: r["valor_em_risco"] for r in regras.analisar_pedidos(nums)}
    assert {r.num_pedido: float(r.valor_em_risco) for r in ranking.pedidos} == sozinhos

    ordenados = list(ranking_da_carteira.ordenados(nums))
    assert [r["num_pedido"] for r in ordenados] == ["R3", "R1", "R2", "R4"]
    assert ordenados[0]["itens"][0]["sem_previsao"] == 4
