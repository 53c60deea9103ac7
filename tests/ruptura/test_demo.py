"""The demo carteira: loads fast, once, and every ruptura case shows up in it."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from core.db import session_scope
from core.models import Pedido, PedidoItem
from core.ruptura import regras
from core.ruptura.demo import load_carteira


@pytest.mark.mariadb
def test_demo_loads_2000_orders_quickly_once_with_every_case(db: str) -> None:
    start = time.perf_counter()
    with session_scope() as session:
        load_carteira(session)
    # "a few seconds at most on SQLite"; a shared MariaDB server gets more slack
    assert time.perf_counter() - start < (5 if db.startswith("sqlite") else 15)
    with session_scope() as session:
        assert load_carteira(session) == "carteira já tem dados"
        assert session.scalar(select(func.count()).select_from(Pedido).where(Pedido.aberto)) == 2000
        itens = session.execute(select(func.count()).select_from(PedidoItem)
                                .group_by(PedidoItem.pedido_id)).scalars().all()
    assert min(itens) >= 1 and max(itens) == 30  # PED-000001 has none: it is not grouped

    nums = [f"PED-{n:06d}" for n in range(1, 2001)]
    resultados = [r for i in range(0, 2000, 20) for r in regras.analisar_pedidos(nums[i:i + 20])]
    assert all(r["status"] == regras.ANALISADO for r in resultados)
    assert {r["criticidade"] for r in resultados} == {regras.CRITICA, regras.ALTA, regras.MEDIA, regras.BAIXA}
    assert any(r["pedido_ok"] for r in resultados) and any(r["sem_itens"] for r in resultados)
    assert any(r["valor_total"] == 0 and r["itens"] for r in resultados)
    assert any(not r["pedido_ok"] and r["criticidade"] == regras.BAIXA for r in resultados)
    por_num = {r["num_pedido"]: r for r in resultados}
    exato = por_num["PED-000004"]["itens"][0]  # stock 10 + entries 10 + 20 = exactly 40
    assert exato["quantidade"] == 40 and exato["data_disponibilidade"] is not None
    assert por_num["PED-000007"]["criticidade"] == regras.CRITICA  # only a past entry
    assert por_num["PED-000008"]["criticidade"] == regras.ALTA
