"""`ruptura.analisar_lote` (queue ruptura): analyse one batch of an analysis.

core.ruptura.analises.iniciar records the analysis and enqueues its batches of 20
(settings.ruptura_workers processes consume the queue); each batch publishes its own results
on the analysis's SSE channel.
"""
from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from core.celery_app import celery_app
from core.ruptura import analises, regras
from tasks.base import JobTask

log = logging.getLogger(__name__)


# Publishing is safe to run again: results are claimed once per order (core.ruptura.analises).
@celery_app.task(name=analises.TASK_NAME, base=JobTask, bind=True, ignore_result=True,
                 autoretry_for=(SQLAlchemyError, RedisError), max_retries=3)
def analisar_lote(self: JobTask, analise_id: str, lote: int, pedidos: list[str]) -> dict[str, Any]:
    """Analyse one batch on fresh data and hand its results to the analysis."""
    try:
        resultados = regras.analisar_pedidos(pedidos)
    except SQLAlchemyError:
        if self.retries_left:
            raise
        # Given up on the database: every order of the batch is reported failed, so the
        # page shows why and the analysis still completes.
        log.error("ruptura batch gave up analise=%s lote=%s", analise_id, lote)
        resultados = [regras.falha(num, "Banco de dados indisponível; tente reanalisar.")
                      for num in pedidos]
    if not analises.registrar_lote(analise_id, self.request.id, lote, resultados):
        log.info("ruptura batch not published (analysis expired or complete) analise=%s lote=%s",
                 analise_id, lote)
    return {"analise_id": analise_id, "lote": lote, "pedidos": len(pedidos)}
