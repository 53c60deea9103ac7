"""The ruptura rules, applied to plain data (no database): one case per rule."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from core.ruptura.regras import (
    ALTA,
    BAIXA,
    CRITICA,
    MEDIA,
    Entrada,
    Item,
    PedidoCarteira,
    analisar_pedido,
)

HOJE = date(2026, 3, 10)


def dia(n: int) -> date:
    return HOJE + timedelta(days=n)


def pedido(*itens: tuple[str, float, float], entrega: date | None = dia(30)) -> PedidoCarteira:
    return PedidoCarteira("P1", "Cliente", entrega, tuple(
        Item(cod, f"Produto {cod}", Decimal(str(qtd)), Decimal(str(preco))) for cod, qtd, preco in itens))


def analisar(p: PedidoCarteira, estoque: dict[str, float], entradas: dict[str, list[tuple[int, float]]] | None = None):
    return analisar_pedido(
        p, {cod: Decimal(str(q)) for cod, q in estoque.items()},
        {cod: [Entrada(dia(d), Decimal(str(q)), "compra") for d, q in lst]
         for cod, lst in (entradas or {}).items()}, HOJE)


def test_every_item_in_stock_is_ok_and_available_today() -> None:
    r = analisar(pedido(("A", 10, 2.0), ("B", 5, 1.0)), {"A": 10, "B": 50})
    assert r["pedido_ok"] is True
    assert r["percentual_disponibilidade"] == 100.0
    assert r["data_disponibilidade_total"] == HOJE.isoformat()
    assert r["criticidade"] == BAIXA
    assert [i["disponivel_agora"] for i in r["itens"]] == [True, True]


def test_no_items_is_not_ok_and_critical() -> None:
    # Changed rule: a vacuous "every item available" would show an empty order as Estoque OK.
    r = analisar(pedido(), {})
    assert r["sem_itens"] is True
    assert r["pedido_ok"] is False
    assert r["percentual_disponibilidade"] == 0.0
    assert r["data_disponibilidade_total"] is None
    assert r["criticidade"] == CRITICA
    assert r["itens"] == []


def test_zero_stock_waits_for_the_entry_that_covers_it() -> None:
    r = analisar(pedido(("A", 10, 1.0)), {"A": 0}, {"A": [(3, 4), (8, 6), (20, 100)]})
    item = r["itens"][0]
    assert item["disponivel"] == 0 and item["falta"] == 10 and item["estoque"] == 0
    assert item["data_disponibilidade"] == dia(8).isoformat()
    assert item["origem_entrada"] == "compra"
    assert r["percentual_disponibilidade"] == 0.0
    assert r["pedido_ok"] is False
    assert r["criticidade"] == MEDIA


def test_missing_stock_row_counts_as_zero() -> None:
    r = analisar(pedido(("A", 1, 1.0)), {}, {"A": [(2, 1)]})
    assert r["itens"][0]["estoque"] == 0
    assert r["data_disponibilidade_total"] == dia(2).isoformat()


def test_entries_that_exactly_meet_the_quantity() -> None:
    r = analisar(pedido(("A", 10, 1.0)), {"A": 4}, {"A": [(2, 3), (5, 3), (9, 50)]})
    assert r["itens"][0]["data_disponibilidade"] == dia(5).isoformat()


def test_stock_exactly_equal_to_quantity_is_available_now() -> None:
    r = analisar(pedido(("A", 10, 1.0)), {"A": 10})
    assert r["pedido_ok"] is True and r["itens"][0]["falta"] == 0


def test_entry_dated_today_gives_today_but_not_available_now() -> None:
    r = analisar(pedido(("A", 10, 1.0)), {"A": 0}, {"A": [(0, 10)]})
    assert r["itens"][0]["data_disponibilidade"] == HOJE.isoformat()
    assert r["pedido_ok"] is False


def test_never_available_is_critical_with_no_total_date() -> None:
    r = analisar(pedido(("A", 10, 1.0), ("B", 1, 1.0)), {"A": 3, "B": 5}, {"A": [(4, 2)]})
    assert r["itens"][0]["data_disponibilidade"] is None
    assert r["data_disponibilidade_total"] is None
    assert r["criticidade"] == CRITICA


def test_percentage_is_by_value() -> None:
    # A: 10 x 9.00, 5 on hand -> 45 of 90; B: 10 x 1.00 all on hand -> 10. (45+10)/100
    r = analisar(pedido(("A", 10, 9.0), ("B", 10, 1.0)), {"A": 5, "B": 10}, {"A": [(1, 5)]})
    assert r["percentual_disponibilidade"] == 55.0


def test_zero_price_order_is_measured_by_quantity() -> None:
    r = analisar(pedido(("A", 30, 0), ("B", 10, 0)), {"A": 0, "B": 10}, {"A": [(1, 30)]})
    assert r["valor_total"] == 0
    assert r["percentual_disponibilidade"] == 25.0


def test_percentage_rounds_down_so_a_short_order_never_shows_100() -> None:
    r = analisar(pedido(("A", 9999, 1.0), ("B", 1, 1.0)), {"A": 9999, "B": 0}, {"B": [(1, 1)]})
    assert r["percentual_disponibilidade"] == 99.9


def test_late_total_date_is_high() -> None:
    r = analisar(pedido(("A", 10, 1.0), entrega=dia(5)), {"A": 9}, {"A": [(6, 1)]})
    assert r["data_disponibilidade_total"] == dia(6).isoformat()
    assert r["criticidade"] == ALTA


def test_on_time_but_under_half_available_is_medium_and_over_half_is_low() -> None:
    entradas = {"A": [(2, 100)]}
    assert analisar(pedido(("A", 10, 1.0)), {"A": 4}, entradas)["criticidade"] == MEDIA
    assert analisar(pedido(("A", 10, 1.0)), {"A": 5}, entradas)["criticidade"] == BAIXA


def test_order_fully_in_stock_is_low_even_when_its_delivery_date_passed() -> None:
    # Changed rule: total date (today) after a past delivery date would read ALTA on a green
    # "Estoque OK" order; lateness with everything on hand is not a stock problem.
    r = analisar(pedido(("A", 1, 1.0), entrega=dia(-3)), {"A": 1})
    assert r["pedido_ok"] is True and r["criticidade"] == BAIXA


def test_no_delivery_date_is_never_high() -> None:
    r = analisar(pedido(("A", 10, 1.0), entrega=None), {"A": 9}, {"A": [(60, 1)]})
    assert r["criticidade"] == BAIXA


def test_lines_of_the_same_product_share_its_stock() -> None:
    # Changed rule: each line alone against the full stock would call both lines available.
    r = analisar(pedido(("A", 6, 1.0), ("A", 6, 1.0)), {"A": 10}, {"A": [(4, 2)]})
    primeira, segunda = r["itens"]
    assert primeira["disponivel_agora"] is True and primeira["data_disponibilidade"] == HOJE.isoformat()
    assert segunda["disponivel"] == 4 and segunda["falta"] == 2
    assert segunda["data_disponibilidade"] == dia(4).isoformat()
    assert r["pedido_ok"] is False
    assert r["percentual_disponibilidade"] == 83.3


def test_negative_stock_counts_nothing_on_hand_and_must_be_covered_first() -> None:
    r = analisar(pedido(("A", 5, 1.0)), {"A": -3}, {"A": [(2, 5), (7, 3)]})
    item = r["itens"][0]
    assert item["disponivel"] == 0 and r["percentual_disponibilidade"] == 0.0
    assert item["data_disponibilidade"] == dia(7).isoformat()
