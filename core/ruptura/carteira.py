"""The ruptura of a whole carteira at once: every order's value at risk and their total (the
page's sort and filter, the API), and every order's full analysis sorted by value at risk
(the export).

Runs in the caller's process on fresh data, like a manual re-analysis: the orders are loaded
and analysed LOTE at a time (3 queries each, core.ruptura.regras.carregar_lote), each load in
a short session of its own, so memory and transactions stay small whatever the carteira's size.
"""
from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from core.db import session_scope
from core.ruptura.regras import ANALISADO, analisar_lote, carregar_lote, hoje_local

LOTE = 500
CENTAVO = Decimal("0.01")


def analisar_em_lotes(nums: Sequence[str], hoje: date | None = None) -> Iterator[list[dict[str, Any]]]:
    """Yield the results of these orders, LOTE at a time, in the given order."""
    hoje = hoje or hoje_local()
    for inicio in range(0, len(nums), LOTE):
        parte = nums[inicio:inicio + LOTE]
        with session_scope() as session:
            lote = carregar_lote(session, parte, hoje)
        yield analisar_lote(lote, parte)
        # In the web's gevent worker (time monkey-patched), let its other requests, live
        # streams and heartbeat run between two loads: a large carteira takes many seconds.
        time.sleep(0)


def valor_em_risco(resultado: dict[str, Any]) -> Decimal:
    """An order's value at risk, in cents (0 for an order that could not be analysed)."""
    return Decimal(str(resultado.get("valor_em_risco") or 0)).quantize(CENTAVO)


def _chave(resultado: dict[str, Any]) -> tuple[Decimal, str]:
    # Highest value at risk first; the order number breaks ties, so the order is stable.
    return -valor_em_risco(resultado), resultado["num_pedido"]


@dataclass(frozen=True)
class Risco:
    """One order's place in the carteira's ranking."""

    num_pedido: str
    valor_em_risco: Decimal
    valor_total: Decimal
    criticidade: str | None
    analisado: bool
    data_entrega: str | None  # ISO date

    def as_json(self) -> dict[str, Any]:
        return {"num_pedido": self.num_pedido, "valor_em_risco": float(self.valor_em_risco),
                "valor_total": float(self.valor_total), "criticidade": self.criticidade,
                "analisado": self.analisado, "data_entrega_prevista": self.data_entrega}


@dataclass(frozen=True)
class Ranking:
    """The carteira's orders, highest value at risk first, and their totals."""

    pedidos: list[Risco]

    @property
    def valor_em_risco_total(self) -> Decimal:
        return sum((r.valor_em_risco for r in self.pedidos), Decimal("0"))

    @property
    def pedidos_em_risco(self) -> int:
        return sum(1 for r in self.pedidos if r.valor_em_risco > 0)

    def a_partir_de(self, minimo: Decimal | None) -> list[Risco]:
        """The orders whose value at risk is at least `minimo` (all of them for None)."""
        if minimo is None:
            return self.pedidos
        return [r for r in self.pedidos if r.valor_em_risco >= minimo]


def ranking(nums: Sequence[str], hoje: date | None = None) -> Ranking:
    """Analyse the orders and rank them by value at risk (only the ranking is kept)."""
    pedidos = []
    for resultados in analisar_em_lotes(nums, hoje):
        for r in resultados:
            pedidos.append(Risco(r["num_pedido"], valor_em_risco(r),
                                 Decimal(str(r.get("valor_total") or 0)).quantize(CENTAVO),
                                 r.get("criticidade"),
                                 r["status"] == ANALISADO, r.get("data_entrega_prevista")))
    pedidos.sort(key=lambda r: (-r.valor_em_risco, r.num_pedido))
    return Ranking(pedidos)


def ordenados(nums: Sequence[str], hoje: date | None = None) -> Iterator[dict[str, Any]]:
    """Yield every order's full result, highest value at risk first, from one analysis.

    The results go to a temporary file as they are computed; only each one's sort key and
    place in the file stay in memory, so 20,000 orders with their lines cost a few MB.
    """
    with tempfile.TemporaryFile() as arquivo:
        indice: list[tuple[tuple[Decimal, str], int, int]] = []
        for resultados in analisar_em_lotes(nums, hoje):
            for r in resultados:
                linha = json.dumps(r, default=str).encode()
                indice.append((_chave(r), arquivo.tell(), len(linha)))
                arquivo.write(linha)
        indice.sort(key=lambda entrada: entrada[0])
        for _, posicao, tamanho in indice:
            arquivo.seek(posicao)
            yield json.loads(arquivo.read(tamanho))
