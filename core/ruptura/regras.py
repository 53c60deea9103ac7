"""Ruptura: for each order, whether its stock is there, how much of it, and when the rest arrives;
which stock and scheduled entries cover each line, and the value of what does not arrive by
the order's deadline (its value at risk).

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
from decimal import ROUND_HALF_UP, Decimal
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


ESTOQUE = "estoque"  # the source of a line's cover that is on hand now
DUAS_CASAS = Decimal("0.01")


@dataclass(frozen=True)
class Cobertura:
    """Part of a line covered by one source: the stock on hand, or one scheduled entry."""

    fonte: str  # ESTOQUE, or the entry's origin (producao | compra)
    data: date  # today for the stock
    quantidade: Decimal  # of this line's quantity
    no_prazo: bool  # the source is there by the order's deadline

    def as_json(self) -> dict[str, Any]:
        return {"fonte": self.fonte, "data": self.data.isoformat(),
                "quantidade": float(self.quantidade), "no_prazo": self.no_prazo}


@dataclass(frozen=True)
class ItemAnalisado:
    """One order line measured against its product's stock and entries."""

    item: Item
    estoque: Decimal
    disponivel: Decimal  # of this line's quantity, on hand now
    data_disponibilidade: date | None
    origem_entrada: str | None
    coberturas: tuple[Cobertura, ...] = ()

    @property
    def disponivel_agora(self) -> bool:
        return self.disponivel >= self.item.quantidade

    @property
    def coberto_no_prazo(self) -> Decimal:
        return sum((c.quantidade for c in self.coberturas if c.no_prazo), ZERO)

    @property
    def falta_no_prazo(self) -> Decimal:
        return self.item.quantidade - self.coberto_no_prazo

    @property
    def sem_previsao(self) -> Decimal:
        """How much of the line no stock or entry covers at all."""
        return self.item.quantidade - sum((c.quantidade for c in self.coberturas), ZERO)

    @property
    def valor_em_risco(self) -> Decimal:
        return self.falta_no_prazo * self.item.preco_unitario

    @property
    def situacao(self) -> str:
        if self.disponivel_agora:
            return "agora"
        if self.sem_previsao > 0:
            return "sem_previsao"
        return "no_prazo" if self.falta_no_prazo <= 0 else "atrasado"

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
            "situacao": self.situacao,
            "falta_no_prazo": float(self.falta_no_prazo),
            "sem_previsao": float(self.sem_previsao),
            "valor_em_risco": _dinheiro(self.valor_em_risco),
            "cobertura": [c.as_json() for c in self.coberturas],
        }


def prazo_do_pedido(pedido: PedidoCarteira, hoje: date) -> date:
    """The date by which an order's lines must be there: its delivery date, or today when it
    has none or it has passed (then only what is on hand counts as in time)."""
    entrega = pedido.data_entrega_prevista
    return entrega if entrega is not None and entrega > hoje else hoje


def analisar_pedido(pedido: PedidoCarteira, estoque: Mapping[str, Decimal],
                    entradas: Mapping[str, Sequence[Entrada]], hoje: date) -> dict[str, Any]:
    """Apply the ruptura rules to one order and return its JSON-ready result."""
    prazo = prazo_do_pedido(pedido, hoje)
    itens = []
    # Lines of the same product in one order draw on the same stock, in line order.
    ja_pedido: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for item in pedido.itens:
        anterior = ja_pedido[item.cod_produto]
        ja_pedido[item.cod_produto] = anterior + item.quantidade
        itens.append(analisar_item(item, anterior, estoque.get(item.cod_produto, ZERO),
                                   entradas.get(item.cod_produto, ()), hoje, prazo))

    percentual = _percentual_disponivel(itens)
    datas = [i.data_disponibilidade for i in itens]
    data_total = max(datas) if itens and None not in datas else None  # type: ignore[type-var]
    pedido_ok = bool(itens) and all(i.disponivel_agora for i in itens)
    return {
        "num_pedido": pedido.num_pedido,
        "cliente": pedido.cliente,
        "status": ANALISADO,
        "data_entrega_prevista": _iso(pedido.data_entrega_prevista),
        "prazo": prazo.isoformat(),
        "pedido_ok": pedido_ok,
        "sem_itens": not itens,
        "percentual_disponibilidade": percentual,
        "data_disponibilidade_total": _iso(data_total),
        "criticidade": _criticidade(pedido, itens, pedido_ok, percentual, data_total),
        "valor_total": _dinheiro(sum((i.item.quantidade * i.item.preco_unitario for i in itens), ZERO)),
        "valor_em_risco": _dinheiro(sum((i.valor_em_risco for i in itens), ZERO)),
        "qtd_itens": len(itens),
        "itens_disponiveis": sum(1 for i in itens if i.disponivel_agora),
        "itens": [i.as_json() for i in itens],
        "analisado_em": utcnow().isoformat(),
    }


def analisar_item(item: Item, ja_pedido: Decimal, estoque: Decimal,
                  entradas: Iterable[Entrada], hoje: date, prazo: date | None = None) -> ItemAnalisado:
    """Return how much of a line is on hand, the first date all of it is (None: never), and
    which sources cover which part of it.

    `ja_pedido` is what earlier lines of the same order already take of this product: the
    product's supply (stock, then entries in date order) is laid end to end, and this line
    takes the units from `ja_pedido` to `ja_pedido + quantidade` of it. `prazo` (default:
    today) is the order's deadline: sources dated after it cover the line late.
    """
    prazo = prazo or hoje
    inicio, fim = ja_pedido, ja_pedido + item.quantidade
    coberturas: list[Cobertura] = []

    def cobre(de: Decimal, ate: Decimal, fonte: str, data: date) -> None:
        parte = min(ate, fim) - max(de, inicio)
        if parte > 0:
            coberturas.append(Cobertura(fonte, data, parte, data <= prazo))

    cobre(ZERO, estoque, ESTOQUE, hoje)  # negative stock covers nothing
    disponivel = max(ZERO, min(item.quantidade, estoque - ja_pedido))
    if disponivel >= item.quantidade:
        return ItemAnalisado(item, estoque, disponivel, hoje, None, tuple(coberturas))
    acumulado = estoque
    for entrada in entradas:
        cobre(acumulado, acumulado + entrada.quantidade, entrada.origem, entrada.data)
        acumulado += entrada.quantidade
        if acumulado >= fim:
            return ItemAnalisado(item, estoque, disponivel, entrada.data, entrada.origem,
                                 tuple(coberturas))
    return ItemAnalisado(item, estoque, disponivel, None, None, tuple(coberturas))


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


def _dinheiro(value: Decimal) -> float:
    return float(value.quantize(DUAS_CASAS, rounding=ROUND_HALF_UP))


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _floor1(value: Decimal) -> float:
    """Round down to one decimal, so an order short of anything never shows 100%."""
    return math.floor(value * 10) / 10
