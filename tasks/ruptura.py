"""Ruptura in the background: `ruptura.analisar_lote` analyses one batch of an analysis.

`iniciar_analise` records the analysis and enqueues its batches of 20 on the `ruptura`
queue (settings.ruptura_workers processes consume it); each batch publishes its own results
on the analysis's SSE channel (core.ruptura.analises).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from core.ruptura import analise, analises
from tasks.app import celery_app
from tasks.base import JobTask, retry_countdown

log = logging.getLogger(__name__)

MAX_RETRIES = 3


@celery_app.task(name="ruptura.analisar_lote", base=JobTask, bind=True, ignore_result=True,
                 max_retries=MAX_RETRIES)
def analisar_lote(self: JobTask, analise_id: str, lote: int, pedidos: list[str]) -> dict[str, Any]:
    """Analyse one batch on fresh data and hand its results to the analysis."""
    try:
        resultados = analise.analisar_pedidos(pedidos)
    except SQLAlchemyError as exc:
        if self.request.retries < MAX_RETRIES:
            raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries))
        # Given up on the database: every order of the batch is reported failed, so the
        # page shows why and the analysis still completes.
        log.error("ruptura batch gave up analise=%s lote=%s error=%s", analise_id, lote, exc)
        resultados = [analise.falha(num, "Banco de dados indisponível; tente reanalisar.")
                      for num in pedidos]
    try:
        publicado = analises.registrar_lote(analise_id, self.request.id, lote, resultados)
    except RedisError as exc:
        # Safe to run again: results are claimed once per order (see core.ruptura.analises).
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries))
    if not publicado:
        log.info("ruptura batch not published (analysis expired or complete) analise=%s lote=%s",
                 analise_id, lote)
    return {"analise_id": analise_id, "lote": lote, "pedidos": len(pedidos)}


def iniciar_analise(owner_id: int, pedidos: Sequence[str]) -> analises.NovaAnalise:
    """Record an analysis of these orders for its owner and enqueue its batches, first batch first."""
    nova = analises.criar(owner_id, pedidos)
    with celery_app.producer_or_acquire() as producer:
        for numero, lote in enumerate(nova.lotes, start=1):
            analisar_lote.apply_async(
                kwargs={"analise_id": nova.analise_id, "lote": numero, "pedidos": lote},
                producer=producer)
    return nova
