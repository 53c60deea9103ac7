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


class RupturaTask(JobTask):
    """JobTask whose give-up (retries spent, time limit) reports every order of the batch as
    failed with the reason, so the page shows why and the analysis still completes; the batch
    is kept in the dead letters."""

    autoretry_for = (SQLAlchemyError, RedisError)
    max_retries = 3
    dead_letter = True

    def failure_message(self, exc: BaseException) -> str:
        if interrupted := self.interruption_message(exc):
            return f"{interrupted} Tente reanalisar."
        if isinstance(exc, SQLAlchemyError):
            return "Banco de dados indisponível; tente reanalisar."
        return f"Erro ao analisar o lote ({type(exc).__name__}); tente reanalisar."

    def record_failure(self, message: str, task_id: str | None, args: list[Any],
                       kwargs: dict[str, Any]) -> None:
        batch = {**dict(zip(("analise_id", "lote", "pedidos"), args)), **kwargs}
        # Claimed under the batch's own task id, so a redelivery publishes the same verdicts.
        analises.registrar_lote(batch["analise_id"], task_id or f"lote-{batch['lote']}",
                                int(batch["lote"]),
                                [regras.falha(num, message) for num in batch["pedidos"]])


# Publishing is safe to run again: results are claimed once per order (core.ruptura.analises).
@celery_app.task(name=analises.TASK_NAME, base=RupturaTask, bind=True, ignore_result=True)
def analisar_lote(self: RupturaTask, analise_id: str, lote: int,
                  pedidos: list[str]) -> dict[str, Any]:
    """Analyse one batch on fresh data and hand its results to the analysis."""
    resultados = regras.analisar_pedidos(pedidos)
    if not analises.registrar_lote(analise_id, self.request.id, lote, resultados):
        log.info("ruptura batch not published (analysis expired or complete) analise=%s lote=%s",
                 analise_id, lote)
    return {"analise_id": analise_id, "lote": lote, "pedidos": len(pedidos)}
