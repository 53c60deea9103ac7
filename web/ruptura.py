"""The carteira page (/carteira) and its ruptura API: start an analysis of the visible
orders, read back an analysis's stored results, re-analyse one order synchronously; the
carteira ranked and filtered by value at risk (page and API), and its export (CSV, XLSX)."""
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
from core.ruptura import analises, carteira, regras
from core.settings import get_settings
from web import exports
from web.access import requires
from web.exports import DATA, DINHEIRO, INTEIRO, NUMERO, TEXTO, Coluna
from web.formats import numero
from web.params import choice_arg, date_arg, int_arg, positive_number_arg, text_arg, text_value

bp = Blueprint("ruptura", __name__)

POR_PAGINA = (25, 50, 100, 200)
ORDENS = ("entrega", "valor_em_risco")
MAX_RISCO_MIN = 1_000_000_000


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
    ordem: str = "entrega"
    risco_min: Decimal | None = None  # only orders with at least this value at risk

    @classmethod
    def da_requisicao(cls, ordem: str = "entrega") -> "Filtros":
        """Read the filters from the query string (a value that does not parse is a 400)."""
        risco_min = positive_number_arg("risco_min", 0, MAX_RISCO_MIN)
        return cls(busca=text_arg("busca", 100),
                   entrega_de=date_arg("entrega_de"),
                   entrega_ate=date_arg("entrega_ate"),
                   pagina=int_arg("pagina", 1, minimum=1, maximum=1_000_000),
                   por_pagina=choice_arg("por_pagina", 50, POR_PAGINA),
                   ordem=choice_arg("ordem", ordem, ORDENS),
                   risco_min=Decimal(str(risco_min)) if risco_min else None)

    @property
    def por_risco(self) -> bool:
        """Whether the page needs the whole carteira's value at risk (sorted or filtered by it)."""
        return self.ordem == "valor_em_risco" or self.risco_min is not None

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
        if self.ordem != "entrega":
            args["ordem"] = self.ordem
        if self.risco_min is not None:
            args["risco_min"] = str(self.risco_min)
        return args

    def exportacao(self) -> dict[str, Any]:
        """The filters an export applies (every page: no pagina/por_pagina)."""
        args = self.query_string(1)
        for chave in ("pagina", "por_pagina", "ordem"):
            args.pop(chave, None)
        return args


def nums_filtrados(filtros: Filtros) -> list[str]:
    """The order numbers of the open orders the filters select (value at risk aside)."""
    with session_scope() as session:
        return list(session.scalars(filtros.aplicar(select(Pedido.num_pedido)).order_by(Pedido.id)))


def ranking_filtrado(filtros: Filtros) -> tuple[carteira.Ranking, list[carteira.Risco]]:
    """The carteira's ranking by value at risk and the orders left by `risco_min`, sorted as
    the filters ask (by value at risk, or by delivery date as the page's default)."""
    ranking = carteira.ranking(nums_filtrados(filtros))
    selecionados = ranking.a_partir_de(filtros.risco_min)
    if filtros.ordem == "entrega":
        # as the database sorts the default view: no delivery date first
        selecionados = sorted(selecionados, key=lambda r: (r.data_entrega is not None,
                                                           r.data_entrega or "", r.num_pedido))
    return ranking, selecionados


@bp.get("/carteira")
@requires(CARTEIRA)
def index() -> Any:
    """The open orders, paginated and filtered; the page's JS analyses the visible ones.

    Sorted or filtered by value at risk, the whole filtered carteira is analysed in this
    request first (core.ruptura.carteira), and its total at risk is shown."""
    filtros = Filtros.da_requisicao()
    ranking = None
    riscos: dict[str, Decimal] = {}
    if filtros.por_risco:
        ranking, selecionados = ranking_filtrado(filtros)
    with session_scope() as session:
        if ranking is not None:
            total = len(selecionados)
        else:
            total = session.scalar(filtros.aplicar(select(func.count()).select_from(Pedido))) or 0
        paginas = max(1, -(-total // filtros.por_pagina))
        pagina = min(filtros.pagina, paginas)
        inicio = (pagina - 1) * filtros.por_pagina
        if ranking is not None:
            fatia = selecionados[inicio:inicio + filtros.por_pagina]
            riscos = {r.num_pedido: r.valor_em_risco for r in fatia}
            por_num = {p.num_pedido: p for p in session.scalars(
                select(Pedido).where(Pedido.num_pedido.in_(list(riscos))))}
            pedidos = [por_num[r.num_pedido] for r in fatia if r.num_pedido in por_num]
        else:
            pedidos = session.execute(
                filtros.aplicar(select(Pedido))
                .order_by(Pedido.data_entrega_prevista, Pedido.num_pedido)
                .limit(filtros.por_pagina).offset(inicio)).scalars().all()
        totais = {pedido_id: (itens, valor) for pedido_id, itens, valor in session.execute(
            select(PedidoItem.pedido_id, func.count(),
                   func.sum(PedidoItem.quantidade * PedidoItem.preco_unitario))
            .where(PedidoItem.pedido_id.in_([p.id for p in pedidos]))
            .group_by(PedidoItem.pedido_id))}
    linhas = [{"pedido": p, "itens": totais.get(p.id, (0, 0))[0],
               "valor": Decimal(totais.get(p.id, (0, 0))[1] or 0),
               "valor_em_risco": riscos.get(p.num_pedido)} for p in pedidos]
    return render_template("ruptura/index.html", linhas=linhas, filtros=filtros,
                           total=total, pagina=pagina, paginas=paginas, ranking=ranking,
                           exportar=filtros.exportacao(),
                           workers=get_settings().ruptura_workers, por_pagina_opcoes=POR_PAGINA)


@bp.get("/api/carteira/ruptura/valor-em-risco")
@requires(CARTEIRA)
def valor_em_risco() -> Any:
    """The filtered carteira's value at risk: its total, and its orders a page at a time,
    highest value at risk first (or `ordem=entrega`), `risco_min` keeping only those at or
    above it. Analysed in this request, on fresh data."""
    filtros = Filtros.da_requisicao(ordem="valor_em_risco")
    ranking, selecionados = ranking_filtrado(filtros)
    paginas = max(1, -(-len(selecionados) // filtros.por_pagina))
    pagina = min(filtros.pagina, paginas)
    inicio = (pagina - 1) * filtros.por_pagina
    return jsonify(total_pedidos=len(ranking.pedidos), pedidos_em_risco=ranking.pedidos_em_risco,
                   valor_em_risco_total=f"{ranking.valor_em_risco_total:.2f}",
                   selecionados=len(selecionados), pagina=pagina, paginas=paginas,
                   ordem=filtros.ordem,
                   pedidos=[r.as_json() for r in selecionados[inicio:inicio + filtros.por_pagina]])


COLUNAS_EXPORTACAO = (
    Coluna("Pedido", TEXTO, 14), Coluna("Cliente", TEXTO, 26), Coluna("Entrega prevista", DATA, 12),
    Coluna("Criticidade", TEXTO, 10), Coluna("Disponível agora (%)", NUMERO, 10),
    Coluna("Disponibilidade total", DATA, 12), Coluna("Valor do pedido (R$)", DINHEIRO, 14),
    Coluna("Valor em risco do pedido (R$)", DINHEIRO, 14), Coluna("Linha", INTEIRO, 6),
    Coluna("Produto", TEXTO, 10), Coluna("Descrição", TEXTO, 24), Coluna("Quantidade", NUMERO, 10),
    Coluna("Preço unitário (R$)", DINHEIRO, 12), Coluna("Estoque do produto", NUMERO, 10),
    Coluna("Disponível agora", NUMERO, 10), Coluna("Falta no prazo", NUMERO, 10),
    Coluna("Valor em risco da linha (R$)", DINHEIRO, 14), Coluna("Situação da linha", TEXTO, 14),
    Coluna("Disponível em", DATA, 12), Coluna("Cobertura", TEXTO, 50),
    Coluna("Analisado em", exports.DATA_HORA, 17), Coluna("Erro", TEXTO, 30))

SITUACOES = {"agora": "Disponível agora", "no_prazo": "Chega no prazo", "atrasado": "Chega atrasado",
             "sem_previsao": "Sem previsão"}
FONTES = {regras.ESTOQUE: "Estoque", "producao": "Produção", "compra": "Compra"}


def cobertura_texto(item: dict[str, Any]) -> str:
    """The line's drill-down in one cell: "Estoque: 4; Compra 10/03/2026: 6 (fora do prazo);
    sem previsão: 2"."""
    partes = []
    for c in item["cobertura"]:
        fonte = FONTES.get(c["fonte"], c["fonte"])
        if c["fonte"] != regras.ESTOQUE:
            fonte += " " + date.fromisoformat(c["data"]).strftime("%d/%m/%Y")
        atraso = "" if c["no_prazo"] else " (fora do prazo)"
        partes.append(f"{fonte}: {numero(c['quantidade'])}{atraso}")
    if item["sem_previsao"] > 0:
        partes.append(f"sem previsão: {numero(item['sem_previsao'])}")
    return "; ".join(partes)


def linhas_exportacao(resultado: dict[str, Any]) -> list[list[Any]]:
    """One row per order line (an order without lines, or not analysed, gets one row)."""
    if resultado["status"] != regras.ANALISADO:
        return [[resultado["num_pedido"]] + [None] * 19 + [resultado["analisado_em"], resultado["erro"]]]
    pedido = [resultado["num_pedido"], resultado["cliente"], resultado["data_entrega_prevista"],
              resultado["criticidade"], resultado["percentual_disponibilidade"],
              resultado["data_disponibilidade_total"], resultado["valor_total"],
              resultado["valor_em_risco"]]
    if not resultado["itens"]:
        return [pedido + [None] * 11 + ["Pedido sem itens", resultado["analisado_em"], None]]
    return [pedido + [n, i["cod_produto"], i["nome_produto"], i["quantidade"], i["preco_unitario"],
                      i["estoque"], i["disponivel"], i["falta_no_prazo"], i["valor_em_risco"],
                      SITUACOES.get(i["situacao"], i["situacao"]), i["data_disponibilidade"],
                      cobertura_texto(i), resultado["analisado_em"], None]
            for n, i in enumerate(resultado["itens"], start=1)]


def _chunks_exportacao(filtros: Filtros) -> Any:
    nums = nums_filtrados(filtros)
    chunk: list[list[Any]] = []
    for resultado in carteira.ordenados(nums):
        if filtros.risco_min is not None and carteira.valor_em_risco(resultado) < filtros.risco_min:
            continue
        chunk += linhas_exportacao(resultado)
        if len(chunk) >= exports.CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@bp.get("/carteira/exportar.<formato>")
@requires(CARTEIRA)
def exportar(formato: str) -> Any:
    """The filtered carteira with its analysis, one row per line, highest value at risk first."""
    formato = exports.choice_from_path(formato)
    filtros = Filtros.da_requisicao()
    return exports.exportar(formato, "carteira-ruptura", COLUNAS_EXPORTACAO, _chunks_exportacao(filtros),
                            acao="carteira.export", filtros=filtros.exportacao(), folha="Carteira")


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
