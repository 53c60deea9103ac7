"""Loading a batch from the database: fresh data, past entries ignored, constant query count."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from core.db import get_engine, session_scope
from core.models import EstoqueAtual
from core.ruptura import regras
from tests.ruptura.support import Carteira


@contextmanager
def statements() -> Iterator[list[str]]:
    """Collect every SQL statement the engine sends while the block runs."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.mariadb
def test_a_batch_loads_in_the_same_three_queries_whatever_its_size(carteira: Carteira) -> None:
    for n in range(30):
        carteira.estoque(f"C{n}", n)
        carteira.entrada(f"C{n}", 3, 100)
        carteira.entrada(f"C{n}", 9, 100, origem="producao")
    um = [carteira.pedido("UM", [("C1", 5, 1)])]
    vinte = [carteira.pedido(f"V{p:02d}", [(f"C{n}", 5, 1) for n in range(30)]) for p in range(20)]

    regras.analisar_pedidos(um)  # warm the pool: connecting runs statements of its own
    with statements() as pequeno:
        assert regras.analisar_pedidos(um)[0]["status"] == regras.ANALISADO
    with statements() as grande:
        resultados = regras.analisar_pedidos(vinte)
    assert all(r["status"] == regras.ANALISADO and len(r["itens"]) == 30 for r in resultados)
    selects = [s for s in grande if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3, grande
    assert len(grande) == len(pequeno), (pequeno, grande)


@pytest.mark.mariadb
def test_entries_dated_in_the_past_are_ignored(carteira: Carteira) -> None:
    # A past entry is either already in the stock figure or overdue with no date to promise.
    carteira.estoque("A", 2)
    carteira.entrada("A", -1, 100)
    carteira.entrada("A", 4, 8)
    carteira.pedido("P", [("A", 10, 1)])
    r = regras.analisar_pedidos(["P"])[0]
    assert r["itens"][0]["data_disponibilidade"] == carteira.dia(4).isoformat()

    carteira.pedido("Q", [("A", 11, 1)])  # needs more than stock + future entries
    assert regras.analisar_pedidos(["Q"])[0]["criticidade"] == regras.CRITICA


@pytest.mark.mariadb
def test_analysis_reads_current_stock_every_time(carteira: Carteira) -> None:
    carteira.estoque("A", 0)
    carteira.pedido("P", [("A", 3, 1)])
    assert regras.analisar_pedidos(["P"])[0]["pedido_ok"] is False
    with session_scope() as session:
        session.get(EstoqueAtual, "A").quantidade = 3
    assert regras.analisar_pedidos(["P"])[0]["pedido_ok"] is True


@pytest.mark.mariadb
def test_unknown_order_fails_alone_and_decimals_survive(carteira: Carteira) -> None:
    carteira.estoque("A", 1.5)
    carteira.pedido("P", [("A", 2.25, 3.33)], entrega_em_dias=None)
    falta, existe = regras.analisar_pedidos(["NAO-EXISTE", "P"])
    assert falta == {"num_pedido": "NAO-EXISTE", "status": regras.FALHA,
                     "erro": regras.NAO_ENCONTRADO, "analisado_em": falta["analisado_em"]}
    item = existe["itens"][0]
    assert (item["quantidade"], item["estoque"], item["disponivel"], item["falta"]) == (2.25, 1.5, 1.5, 0.75)
    assert existe["data_entrega_prevista"] is None
    assert existe["percentual_disponibilidade"] == 66.6


def test_one_order_raising_fails_only_itself(carteira: Carteira, monkeypatch: pytest.MonkeyPatch) -> None:
    carteira.estoque("A", 10)
    nums = [carteira.pedido(n, [("A", 1, 1)]) for n in ("P1", "P2", "P3")]
    real = regras.analisar_pedido

    def quebra_p2(pedido: regras.PedidoCarteira, *args: Any) -> dict[str, Any]:
        if pedido.num_pedido == "P2":
            raise ZeroDivisionError("dados corrompidos")
        return real(pedido, *args)

    monkeypatch.setattr(regras, "analisar_pedido", quebra_p2)
    r1, r2, r3 = regras.analisar_pedidos(nums)
    assert r1["pedido_ok"] and r3["pedido_ok"]
    assert r2["status"] == regras.FALHA and "ZeroDivisionError" in r2["erro"]
