"""Ruptura: for each order, whether its stock is there, how much of it, and when the rest arrives.

`analisar_pedido` applies the rules (written out in docs/ruptura.md) to plain data;
`carregar_lote` reads everything a batch of orders needs in three queries, whatever the
batch's size, straight from the database (no cache: every analysis sees current stock).
`analisar_pedidos` joins the two and isolates failures per order.
"""
from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import session_scope
from core.models import EntradaProgramada, EstoqueAtual, Pedido, PedidoItem
from core.models.types import utcnow
from core.settings import get_settings

log = logging.getLogger(__name__)

CRITICA, ALTA, MEDIA, BAIXA = "CRITICA", "ALTA", "MEDIA", "BAIXA"
ANALISADO, FALHA = "analisado", "falha"
ZERO = Decimal("0")
NAO_ENCONTRADO = "Pedido não encontrado."


@dataclass(frozen=True)
class Item:
    cod_produto: str
    nome_produto: str
    quantidade: Decimal
    preco_unitario: Decimal


@dataclass(frozen=True)
class PedidoCarteira:
    num_pedido: str
    cliente: str
    data_entrega_prevista: date | None
    itens: tuple[Item, ...]


@dataclass(frozen=True)
class Entrada:
    data: date
    quantidade: Decimal
    origem: str


@dataclass(frozen=True)
class Lote:
    """What a batch needs: its orders, the stock of their products, and entries from today on."""

    pedidos: Mapping[str, PedidoCarteira]
    estoque: Mapping[str, Decimal]
    entradas: Mapping[str, Sequence[Entrada]]  # per product, in date order
    hoje: date


def hoje_local() -> date:
    """Return today's date where the business is (settings.timezone), not in UTC."""
    return datetime.now(ZoneInfo(get_settings().timezone)).date()


def carregar_lote(session: Session, nums: Sequence[str], hoje: date) -> Lote:
    """Load a batch's orders, items, stock and upcoming entries in at most three queries."""
    rows = session.execute(
        select(Pedido.num_pedido, Pedido.cliente, Pedido.data_entrega_prevista,
               PedidoItem.cod_produto, PedidoItem.nome_produto, PedidoItem.quantidade,
               PedidoItem.preco_unitario)
        .outerjoin(PedidoItem, PedidoItem.pedido_id == Pedido.id)
        .where(Pedido.num_pedido.in_(nums))
        .order_by(Pedido.id, PedidoItem.id)).all()
    cabecalhos: dict[str, tuple[str, date | None]] = {}
    itens: dict[str, list[Item]] = defaultdict(list)
    for num, cliente, entrega, cod, nome, qtd, preco in rows:
        cabecalhos[num] = (cliente, entrega)
        if cod is not None:
            itens[num].append(Item(cod, nome, Decimal(qtd), Decimal(preco)))
    pedidos = {num: PedidoCarteira(num, cliente, entrega, tuple(itens[num]))
               for num, (cliente, entrega) in cabecalhos.items()}

    # The batch's products come from the rows above: an IN (subquery) here let MariaDB's
    # planner pick a full scan of pedido_itens per batch (8x slower with 2 workers).
    produtos = sorted({item.cod_produto for linhas in itens.values() for item in linhas})
    if not produtos:
        return Lote(pedidos, {}, {}, hoje)
    estoque = {cod: Decimal(qtd) for cod, qtd in session.execute(
        select(EstoqueAtual.cod_produto, EstoqueAtual.quantidade)
        .where(EstoqueAtual.cod_produto.in_(produtos)))}
    entradas: dict[str, list[Entrada]] = defaultdict(list)
    for cod, data, qtd, origem in session.execute(
            select(EntradaProgramada.cod_produto, EntradaProgramada.data_prevista,
                   EntradaProgramada.quantidade, EntradaProgramada.origem)
            .where(EntradaProgramada.cod_produto.in_(produtos),
                   EntradaProgramada.data_prevista >= hoje)
            .order_by(EntradaProgramada.cod_produto, EntradaProgramada.data_prevista,
                      EntradaProgramada.id)):
        entradas[cod].append(Entrada(data, Decimal(qtd), origem))
    return Lote(pedidos, estoque, dict(entradas), hoje)


@dataclass(frozen=True)
class ItemAnalisado:
    """One order line measured against its product's stock and entries."""

    item: Item
    estoque: Decimal
    disponivel: Decimal  # of this line's quantity, on hand now
    data_disponibilidade: date | None
    origem_entrada: str | None

    @property
    def disponivel_agora(self) -> bool:
        return self.disponivel >= self.item.quantidade

    def as_json(self) -> dict[str, Any]:
        """Return the line as the results show it (numbers as floats, dates as ISO text)."""
        return {
            "cod_produto": self.item.cod_produto,
            "nome_produto": self.item.nome_produto,
            "quantidade": float(self.item.quantidade),
            "preco_unitario": float(self.item.preco_unitario),
            "estoque": float(self.estoque),
            "disponivel": float(self.disponivel),
            "falta": float(self.item.quantidade - self.disponivel),
            "disponivel_agora": self.disponivel_agora,
            "data_disponibilidade": _iso(self.data_disponibilidade),
            "origem_entrada": self.origem_entrada,
        }


def analisar_pedido(pedido: PedidoCarteira, estoque: Mapping[str, Decimal],
                    entradas: Mapping[str, Sequence[Entrada]], hoje: date) -> dict[str, Any]:
    """Apply the ruptura rules to one order and return its JSON-ready result."""
    itens = []
    # Lines of the same product in one order draw on the same stock, in line order.
    ja_pedido: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for item in pedido.itens:
        anterior = ja_pedido[item.cod_produto]
        ja_pedido[item.cod_produto] = anterior + item.quantidade
        itens.append(analisar_item(item, anterior, estoque.get(item.cod_produto, ZERO),
                                   entradas.get(item.cod_produto, ()), hoje))

    percentual = _percentual_disponivel(itens)
    datas = [i.data_disponibilidade for i in itens]
    data_total = max(datas) if itens and None not in datas else None  # type: ignore[type-var]
    pedido_ok = bool(itens) and all(i.disponivel_agora for i in itens)
    return {
        "num_pedido": pedido.num_pedido,
        "cliente": pedido.cliente,
        "status": ANALISADO,
        "data_entrega_prevista": _iso(pedido.data_entrega_prevista),
        "pedido_ok": pedido_ok,
        "sem_itens": not itens,
        "percentual_disponibilidade": percentual,
        "data_disponibilidade_total": _iso(data_total),
        "criticidade": _criticidade(pedido, itens, pedido_ok, percentual, data_total),
        "valor_total": float(sum((i.item.quantidade * i.item.preco_unitario for i in itens), ZERO)),
        "qtd_itens": len(itens),
        "itens_disponiveis": sum(1 for i in itens if i.disponivel_agora),
        "itens": [i.as_json() for i in itens],
        "analisado_em": utcnow().isoformat(),
    }


def analisar_item(item: Item, ja_pedido: Decimal, estoque: Decimal,
                  entradas: Iterable[Entrada], hoje: date) -> ItemAnalisado:
    """Return how much of a line is on hand and the first date all of it is (None: never).

    `ja_pedido` is what earlier lines of the same order already take of this product.
    """
    necessario = ja_pedido + item.quantidade
    disponivel = max(ZERO, min(item.quantidade, estoque - ja_pedido))
    if disponivel >= item.quantidade:
        return ItemAnalisado(item, estoque, disponivel, hoje, None)
    acumulado = estoque
    for entrada in entradas:
        acumulado += entrada.quantidade
        if acumulado >= necessario:
            return ItemAnalisado(item, estoque, disponivel, entrada.data, entrada.origem)
    return ItemAnalisado(item, estoque, disponivel, None, None)


def _percentual_disponivel(itens: Sequence[ItemAnalisado]) -> float:
    """Percent of the order on hand now: by value, or by quantity when the value is 0."""
    if not itens:
        return 0.0
    valor = sum((i.item.quantidade * i.item.preco_unitario for i in itens), ZERO)
    if valor > 0:
        parte = sum((i.disponivel * i.item.preco_unitario for i in itens), ZERO)
        base = valor
    else:
        parte = sum((i.disponivel for i in itens), ZERO)
        base = sum((i.item.quantidade for i in itens), ZERO)
    return 100.0 if base == 0 else _floor1(100 * parte / base)


def _criticidade(pedido: PedidoCarteira, itens: Sequence[ItemAnalisado], pedido_ok: bool,
                 percentual: float, data_total: date | None) -> str:
    if not itens or any(i.data_disponibilidade is None for i in itens):
        return CRITICA
    if pedido_ok:
        # Everything is on hand: a delivery date already past is not a stock problem.
        return BAIXA
    entrega = pedido.data_entrega_prevista
    if entrega is not None and data_total is not None and data_total > entrega:
        return ALTA
    if percentual < 50:
        return MEDIA
    return BAIXA


def falha(num_pedido: str, erro: str) -> dict[str, Any]:
    """Return the result of an order that could not be analysed, with the reason."""
    return {"num_pedido": num_pedido, "status": FALHA, "erro": erro,
            "analisado_em": utcnow().isoformat()}


def analisar_lote(lote: Lote, nums: Sequence[str]) -> list[dict[str, Any]]:
    """Analyse each order of a loaded batch on its own; one failing order fails only itself."""
    resultados = []
    for num in nums:
        pedido = lote.pedidos.get(num)
        if pedido is None:
            resultados.append(falha(num, NAO_ENCONTRADO))
            continue
        try:
            resultados.append(analisar_pedido(pedido, lote.estoque, lote.entradas, lote.hoje))
        except Exception as exc:  # noqa: BLE001 - reported as this order's failure, and logged
            log.exception("ruptura failed num_pedido=%s", num)
            resultados.append(falha(num, f"Erro ao analisar o pedido: {type(exc).__name__}"))
    return resultados


def analisar_pedidos(nums: Sequence[str], hoje: date | None = None) -> list[dict[str, Any]]:
    """Analyse orders on fresh data (one read-only transaction) and return their results."""
    with session_scope() as session:
        lote = carregar_lote(session, nums, hoje or hoje_local())
    return analisar_lote(lote, nums)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _floor1(value: Decimal) -> float:
    """Round down to one decimal, so an order short of anything never shows 100%."""
    return math.floor(value * 10) / 10
