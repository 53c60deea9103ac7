"""Undo a write-off: put the product back in tb_produto, audited in tb_baixa_estorno."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from core.baixa.registro import begin_read_committed, copied_columns, store_channel
from core.db import session_scope
from core.models import BaixaEstorno, Produto, ProdutoRemovido
from core.models.types import utcnow
from core.sse import publish_safely

log = logging.getLogger(__name__)


class EstornoError(Exception):
    """The undo cannot be done; the message (pt-BR) says why."""


def desfazer_baixa(id_removido: int, motivo: str, who: str) -> dict[str, Any]:
    """Put a written-off product back in tb_produto, audited (who, when, why); return the record.

    Raises EstornoError when the removal does not exist (or was already undone) or a product
    with the same id is back on the shelf.
    """
    motivo = (motivo or "").strip()
    if not 3 <= len(motivo) <= 500:
        raise EstornoError("Informe o motivo do estorno (3 a 500 caracteres).")
    with session_scope() as session:
        begin_read_committed(session)
        removido = session.scalar(select(ProdutoRemovido).where(
            ProdutoRemovido.id_removido == id_removido).with_for_update())
        if removido is None:
            raise EstornoError("Baixa não encontrada (talvez já estornada).")
        if session.get(Produto, removido.id, with_for_update=True) is not None:
            raise EstornoError(f"O produto {removido.id} já está no estoque.")
        snapshot = {c.key: _json_value(getattr(removido, c.key))
                    for c in sa_inspect(ProdutoRemovido).column_attrs}
        session.add(Produto(**{column: getattr(removido, column) for column in copied_columns()}))
        estorno = BaixaEstorno(
            id_removido=removido.id_removido, product_id=removido.id,
            store_key=removido.store_key, scan_id=removido.scan_id, descricao=removido.descricao,
            removido=snapshot, motivo=motivo, estornado_por=who[:80], estornado_em=utcnow())
        session.add(estorno)
        session.delete(removido)
        session.flush()
        event = estorno_event(estorno)
    log.info("estorno id_removido=%s product_id=%s by=%s", id_removido, event["product_id"], who)
    publish_safely(store_channel(event["store_key"]), "estorno", event)
    return event


def estorno_event(estorno: BaixaEstorno) -> dict[str, Any]:
    """Return an undo as JSON-ready data."""
    return {"id": estorno.id, "id_removido": estorno.id_removido,
            "product_id": estorno.product_id, "store_key": estorno.store_key,
            "scan_id": estorno.scan_id, "descricao": estorno.descricao,
            "motivo": estorno.motivo, "estornado_por": estorno.estornado_por,
            "estornado_em": estorno.estornado_em.isoformat()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)  # Decimal
