"""The baixas page (/baixas): live scan feed per store, write-off history with search and
undo, rejected scans with reasons, the baixa dead-letter list with replay, and the exports
of the history and the rejected scans (CSV, XLSX, web/exports.py)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request
from flask_login import current_user
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.sql import Select

from core import audit, dead_letters, sse
from core.baixa.estorno import EstornoError, desfazer_baixa, estorno_event
from core.baixa.registro import store_channel
from core.db import session_scope
from core.models import BaixaEstorno, BaixaLeitura, DeadLetter, Produto, ProdutoRemovido
from core.models.auth import BAIXAS, BAIXAS_ESTORNAR, BAIXAS_REENVIAR
from core.models.baixa import REMOVED
from web import exports
from web.access import requires
from web.exports import DATA_HORA, DINHEIRO, INTEIRO, TEXTO, Coluna
from web.params import choice_arg, int_arg, text_arg

bp = Blueprint("baixa", __name__)

TASK_NAME = "baixa.registrar"
PER_PAGE = 50

# Whoever may see the baixas may watch a store's scans ("store:<store_key>").
SSE_CHANNELS = {"store": lambda user, rest: bool(rest) and user.can(BAIXAS)}


def stores() -> list[str]:
    """Return every store key known from products, removals or scans, sorted."""
    with session_scope() as session:
        keys: set[str] = set()
        for model in (Produto, ProdutoRemovido, BaixaLeitura):
            keys.update(session.scalars(select(model.store_key).distinct()))
    return sorted(k for k in keys if k)


def _store_arg() -> str:
    store = text_arg("loja", 64)
    if not store:
        abort(400, description="Informe a loja (?loja=...).")
    return store


def _page_arg() -> int:
    return int_arg("pagina", 1, minimum=1, maximum=100_000)


def _paginate(query: Select[Any], page: int, to_json: Any) -> dict[str, Any]:
    with session_scope() as session:
        total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = session.scalars(query.limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
        items = [to_json(row) for row in rows]
    return {"items": items, "total": total, "page": page,
            "pages": max(1, -(-total // PER_PAGE))}


def removido_json(row: ProdutoRemovido) -> dict[str, Any]:
    return {"id_removido": row.id_removido, "product_id": row.id, "store_key": row.store_key,
            "descricao": row.descricao, "codigo_barras": row.codigo_barras,
            "preco": str(row.preco), "lote": row.lote,
            "responsavel_retirada": row.responsavel_retirada,
            "data_retirada": row.data_retirada.isoformat(), "device_id": row.device_id,
            "scan_id": row.scan_id}


@bp.get("/baixas")
@requires(BAIXAS)
def index() -> Any:
    known = stores()
    store = text_arg("loja", 64) or (known[0] if known else "")
    if store and store not in known:
        known.append(store)
    return render_template("baixa/index.html", stores=known, store=store,
                           since=sse.latest_id(store_channel(store)) if store else "0-0")


@bp.get("/api/baixas/leituras")
@requires(BAIXAS)
def api_scans() -> Any:
    """The store's recent scan outcomes, newest first (the live feed's starting point)."""
    store = _store_arg()
    since = sse.latest_id(store_channel(store))
    rejected_only = choice_arg("rejeitadas", "0", ("0", "1")) == "1"
    query = (_rejected_query(store) if rejected_only
             else select(BaixaLeitura).where(BaixaLeitura.store_key == store))
    page = _paginate(query.order_by(BaixaLeitura.id.desc()), _page_arg(),
                     lambda row: row.as_event())
    return jsonify(since=since, **page)


@bp.get("/api/baixas/removidos")
@requires(BAIXAS)
def api_removed() -> Any:
    """The store's written-off products, newest first; `q` searches id, name, barcode, device, scan."""
    query = _removed_query(_store_arg(), text_arg("q", 100))
    order = (ProdutoRemovido.data_retirada.desc(), ProdutoRemovido.id_removido.desc())
    return jsonify(_paginate(query.order_by(*order), _page_arg(), removido_json))


def _removed_query(store: str, text: str) -> Select[Any]:
    """The store's written-off products that `text` matches (id, name, barcode, device, scan, lot)."""
    query = select(ProdutoRemovido).where(ProdutoRemovido.store_key == store)
    if text:
        like = f"%{text}%"
        query = query.where(or_(
            cast(ProdutoRemovido.id, String).like(like), ProdutoRemovido.descricao.like(like),
            ProdutoRemovido.codigo_barras.like(like), ProdutoRemovido.device_id.like(like),
            ProdutoRemovido.scan_id.like(like), ProdutoRemovido.lote.like(like)))
    return query


def _rejected_query(store: str) -> Select[Any]:
    return select(BaixaLeitura).where(BaixaLeitura.store_key == store, BaixaLeitura.outcome != REMOVED)


@bp.get("/api/baixas/estornos")
@requires(BAIXAS)
def api_undos() -> Any:
    """The store's undone write-offs (who, when, why), newest first."""
    store = _store_arg()
    query = (select(BaixaEstorno).where(BaixaEstorno.store_key == store)
             .order_by(BaixaEstorno.id.desc()))
    return jsonify(_paginate(query, _page_arg(), estorno_event))


@bp.post("/api/baixas/removidos/<int:id_removido>/estorno")
@requires(BAIXAS_ESTORNAR)
def api_undo(id_removido: int) -> Any:
    """Put a written-off product back on the shelf; the reason is required and audited."""
    body = request.get_json(silent=True) or {}
    motivo = body.get("motivo") if isinstance(body, dict) else None
    if not isinstance(motivo, str):
        abort(400, description="Informe o motivo do estorno.")
    try:
        event = desfazer_baixa(id_removido, motivo, current_user.username)
    except EstornoError as exc:
        audit.record("baixa.undo", actor=None, target=str(id_removido), outcome="failed",
                     detail={"motivo": motivo, "erro": str(exc)})
        status = 400 if "motivo" in str(exc) else 409
        abort(status, description=str(exc))
    audit.record("baixa.undo", actor=None, target=str(id_removido), detail={
        "motivo": event["motivo"], "product_id": event["product_id"],
        "store_key": event["store_key"], "scan_id": event["scan_id"]})
    return jsonify(event)


def dead_letter_json(entry: Any) -> dict[str, Any]:
    kwargs = entry.kwargs if isinstance(entry.kwargs, dict) else {}
    return {"id": entry.id, "scan_id": entry.reference, "error": entry.error,
            "product_id": kwargs.get("product_id"), "store_key": kwargs.get("store_key"),
            "device_id": kwargs.get("device_id"), "scanned_at": kwargs.get("scanned_at"),
            "created_at": entry.created_at.isoformat()}


@bp.get("/api/baixas/dead-letters")
@requires(BAIXAS_REENVIAR)
def api_dead_letters() -> Any:
    """Scans whose baixa gave up (database down too long), waiting for a replay."""
    return jsonify(items=[dead_letter_json(e) for e in dead_letters.list_open(TASK_NAME)])


@bp.post("/api/baixas/dead-letters/<int:entry_id>/replay")
@requires(BAIXAS_REENVIAR)
def api_replay(entry_id: int) -> Any:
    """Send a given-up scan to the baixa queue again (idempotent on its scan_id)."""
    with session_scope() as session:
        entry = session.get(DeadLetter, entry_id)
        if entry is None or entry.task_name != TASK_NAME or entry.replayed_at is not None:
            abort(404, description="Item não encontrado ou já reenviado.")
    task_id = dead_letters.replay(entry_id, current_user.username)
    if task_id is None:
        abort(409, description="Item já reenviado.")
    return jsonify(id=entry_id, task_id=task_id)


OUTCOME_LABELS = {"removed": "Retirado", "already_removed": "Já retirado", "not_found": "Não encontrado",
                  "invalid": "Inválido", "refused": "Recusado"}
HISTORY_COLUMNS = (
    Coluna("Retirado em", DATA_HORA, 17), Coluna("Produto", INTEIRO, 12), Coluna("Descrição", TEXTO, 30),
    Coluna("Código de barras", TEXTO, 16), Coluna("Preço (R$)", DINHEIRO, 12), Coluna("Lote", TEXTO, 12),
    Coluna("Validade", DATA_HORA, 17), Coluna("Responsável", TEXTO, 16), Coluna("Dispositivo", TEXTO, 16),
    Coluna("Loja", TEXTO, 10), Coluna("Leitura (scan_id)", TEXTO, 38), Coluna("Nº da baixa", INTEIRO, 10))
REJECTED_COLUMNS = (
    Coluna("Processada em", DATA_HORA, 17), Coluna("Lida em", DATA_HORA, 17), Coluna("Lido", TEXTO, 16),
    Coluna("Resultado", TEXTO, 14), Coluna("Motivo", TEXTO, 40), Coluna("Dispositivo", TEXTO, 16),
    Coluna("Loja", TEXTO, 10), Coluna("Leitura (scan_id)", TEXTO, 38))


def _history_row(row: ProdutoRemovido) -> list[Any]:
    return [row.data_retirada, row.id, row.descricao, row.codigo_barras, row.preco, row.lote,
            row.validade, row.responsavel_retirada, row.device_id, row.store_key, row.scan_id,
            row.id_removido]


def _rejected_row(row: BaixaLeitura) -> list[Any]:
    return [row.processed_at, row.scanned_at, row.product_id, OUTCOME_LABELS.get(row.outcome, row.outcome),
            row.reason, row.device_id, row.store_key, row.scan_id]


@bp.get("/baixas/exportar/historico.<formato>")
@requires(BAIXAS)
def export_history(formato: str) -> Any:
    """The store's written-off products the search selects (`loja`, `q`), newest first."""
    formato = exports.choice_from_path(formato)
    store, text = _store_arg(), text_arg("q", 100)
    return exports.exportar(
        formato, f"baixas-{store}", HISTORY_COLUMNS,
        exports.keyset_chunks(_removed_query(store, text), ProdutoRemovido.id_removido, _history_row),
        acao="baixa.export", filtros={"lista": "historico", "loja": store, **({"q": text} if text else {})},
        folha="Produtos retirados")


@bp.get("/baixas/exportar/rejeitadas.<formato>")
@requires(BAIXAS)
def export_rejected(formato: str) -> Any:
    """The store's rejected scans (every outcome but a removal), newest first."""
    formato = exports.choice_from_path(formato)
    store = _store_arg()
    return exports.exportar(
        formato, f"leituras-rejeitadas-{store}", REJECTED_COLUMNS,
        exports.keyset_chunks(_rejected_query(store), BaixaLeitura.id, _rejected_row),
        acao="baixa.export", filtros={"lista": "rejeitadas", "loja": store}, folha="Leituras rejeitadas")
