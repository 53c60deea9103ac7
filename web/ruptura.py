"""The carteira page (/carteira) and its ruptura API: start an analysis of the visible
orders, read back an analysis's stored results, re-analyse one order synchronously."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request
from flask_login import current_user
from sqlalchemy import Select, func, or_, select

from core.db import session_scope
from core.models import Pedido, PedidoItem
from core.models.auth import CARTEIRA
from core.ruptura import analises, regras
from core.settings import get_settings
from web.access import requires
from web.params import choice_arg, date_arg, int_arg, text_arg, text_value

bp = Blueprint("ruptura", __name__)

POR_PAGINA = (25, 50, 100, 200)


def _dono_le(user: Any, analise_id: str) -> bool:
    # Only whoever started the analysis reads it (not even an administrator).
    return analises.dono(analise_id) == user.id


SSE_CHANNELS = {"ruptura": _dono_le}


@dataclass(frozen=True)
class Filtros:
    busca: str
    entrega_de: date | None
    entrega_ate: date | None
    pagina: int
    por_pagina: int

    @classmethod
    def da_requisicao(cls) -> "Filtros":
        """Read the filters from the query string (a value that does not parse is a 400)."""
        return cls(busca=text_arg("busca", 100),
                   entrega_de=date_arg("entrega_de"),
                   entrega_ate=date_arg("entrega_ate"),
                   pagina=int_arg("pagina", 1, minimum=1, maximum=1_000_000),
                   por_pagina=choice_arg("por_pagina", 50, POR_PAGINA))

    def aplicar(self, stmt: Select[Any]) -> Select[Any]:
        """Restrict a query on Pedido to the open orders these filters select."""
        stmt = stmt.where(Pedido.aberto.is_(True))
        if self.busca:
            stmt = stmt.where(or_(Pedido.num_pedido.startswith(self.busca, autoescape=True),
                                  Pedido.cliente.contains(self.busca, autoescape=True)))
        if self.entrega_de:
            stmt = stmt.where(Pedido.data_entrega_prevista >= self.entrega_de)
        if self.entrega_ate:
            stmt = stmt.where(Pedido.data_entrega_prevista <= self.entrega_ate)
        return stmt

    def query_string(self, pagina: int) -> dict[str, Any]:
        """The filters as URL arguments, for the pagination links."""
        args: dict[str, Any] = {"pagina": pagina, "por_pagina": self.por_pagina}
        if self.busca:
            args["busca"] = self.busca
        if self.entrega_de:
            args["entrega_de"] = self.entrega_de.isoformat()
        if self.entrega_ate:
            args["entrega_ate"] = self.entrega_ate.isoformat()
        return args


def brl(valor: Decimal) -> str:
    """Format money the Brazilian way: R$ 1.234,56."""
    texto = f"{valor:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"R$ {texto}"


@bp.get("/carteira")
@requires(CARTEIRA)
def index() -> Any:
    """The open orders, paginated and filtered; the page's JS analyses the visible ones."""
    filtros = Filtros.da_requisicao()
    with session_scope() as session:
        total = session.scalar(filtros.aplicar(select(func.count()).select_from(Pedido))) or 0
        paginas = max(1, -(-total // filtros.por_pagina))
        pagina = min(filtros.pagina, paginas)
        pedidos = session.execute(
            filtros.aplicar(select(Pedido))
            .order_by(Pedido.data_entrega_prevista, Pedido.num_pedido)
            .limit(filtros.por_pagina).offset((pagina - 1) * filtros.por_pagina)).scalars().all()
        totais = {pedido_id: (itens, valor) for pedido_id, itens, valor in session.execute(
            select(PedidoItem.pedido_id, func.count(),
                   func.sum(PedidoItem.quantidade * PedidoItem.preco_unitario))
            .where(PedidoItem.pedido_id.in_([p.id for p in pedidos]))
            .group_by(PedidoItem.pedido_id))}
    linhas = [{"pedido": p, "itens": totais.get(p.id, (0, 0))[0],
               "valor": brl(Decimal(totais.get(p.id, (0, 0))[1] or 0))} for p in pedidos]
    return render_template("ruptura/index.html", linhas=linhas, filtros=filtros,
                           total=total, pagina=pagina, paginas=paginas,
                           workers=get_settings().ruptura_workers, por_pagina_opcoes=POR_PAGINA)


@bp.post("/api/carteira/ruptura/analises")
@requires(CARTEIRA)
def iniciar_analise() -> Any:
    """Start an analysis of the posted orders: 202 with its id and SSE channel."""
    pedidos = (request.get_json(silent=True) or {}).get("pedidos")
    if not isinstance(pedidos, list) or not all(
            isinstance(num, str) and 0 < len(num) <= 30 for num in pedidos):
        abort(400, description="Envie {\"pedidos\": [\"num_pedido\", ...]}.")
    try:
        nova = analises.iniciar(current_user.id, pedidos)
    except ValueError as exc:
        abort(400, description=str(exc))
    return jsonify(analise_id=nova.analise_id, canal=analises.canal(nova.analise_id),
                   total=nova.total, lotes=len(nova.lotes),
                   workers=get_settings().ruptura_workers), 202


@bp.get("/api/carteira/ruptura/analises/<analise_id>")
@requires(CARTEIRA)
def resultados_da_analise(analise_id: str) -> Any:
    """Progress and stored results of the current user's analysis (reconnect, second tab)."""
    estado = analises.estado(analise_id)
    if estado is None or analises.dono(analise_id) != current_user.id:
        abort(404, description="Análise não encontrada (ou expirada).")
    return jsonify(estado)


@bp.post("/api/carteira/ruptura/pedidos/<num_pedido>")
@requires(CARTEIRA)
def reanalisar_pedido(num_pedido: str) -> Any:
    """Re-analyse one order now, in this request (no worker), on fresh data."""
    num_pedido = text_value("num_pedido", num_pedido, 30)
    resultado = regras.analisar_pedidos([num_pedido])[0]
    if resultado["status"] == regras.FALHA and resultado["erro"] == regras.NAO_ENCONTRADO:
        abort(404, description=f"Pedido {num_pedido} não encontrado.")
    return jsonify(resultado)
