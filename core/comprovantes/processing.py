"""Process one stored receipt: read its text (OCR), extract the PIX fields, check the payee, save.

Callable without Celery: the `comprovantes.processar` task wraps `process`; `enqueue` hands
a receipt to it. When the broker is unreachable the receipt stays queued (its job row holds
the task) and Beat's sweeper (maintenance.sweep_jobs) sends it later: OCR never runs in the
web process.
"""
from __future__ import annotations

import logging
from typing import Any

from core import jobs
from core.comprovantes import pix, storage
from core.comprovantes.ocr.errors import OcrError
from core.comprovantes.ocr.reading import read_text
from core.comprovantes.recebedor import validar_recebedor
from core.db import session_scope
from core.enqueue import BrokerUnavailable
from core.enqueue import enqueue as enqueue_task
from core.models import Comprovante
from core.models.comprovantes import CONCLUIDO, ERRO, PROCESSANDO
from core.models.types import utcnow
from core.settings import get_settings

log = logging.getLogger(__name__)

TASK_NAME = "comprovantes.processar"
# An upload waits about this long at most to learn that the broker is down.
BROKER_TIMEOUT_S = 1.0

# (progress %, stage) shown on the page and in /jobs/<id>/status
RECEBIDO_STAGE = (5, "recebido")
OCR_STAGE = (15, "ocr")
PARSING_STAGE = (85, "extraindo_campos")
DONE_STAGE = (100, "concluido")


def task_kwargs(comprovante_id: int, job_id: str) -> dict[str, Any]:
    """Return the kwargs of the task processing this receipt (also recorded on its job, so the
    sweeper can send it again)."""
    return {"comprovante_id": comprovante_id, "job_id": job_id}


def enqueue(comprovante_id: int, job_id: str) -> bool:
    """Queue the receipt for processing; return False when the broker is unreachable."""
    try:
        enqueue_task(TASK_NAME, task_kwargs(comprovante_id, job_id), timeout_s=BROKER_TIMEOUT_S)
    except BrokerUnavailable:
        log.warning("broker unreachable, receipt left queued for the sweeper comprovante=%s "
                    "job=%s", comprovante_id, job_id)
        return False
    return True


def _report(job_id: str | None, stage: tuple[int, str]) -> None:
    if job_id:
        jobs.set_progress(job_id, stage[0], stage[1])


def result_of(receipt: Comprovante) -> dict[str, Any]:
    """Return the job result for a processed receipt (what /jobs/<id>/status shows when finished)."""
    campos = receipt.campos or {}
    return {"comprovante_id": receipt.id, "status": receipt.status, "motor": receipt.motor,
            "dados": campos, "validacao_recebedor": receipt.validacao_recebedor}


def process(comprovante_id: int, job_id: str | None = None) -> dict[str, Any]:
    """Read, parse and save one receipt; return its result. Raises OcrError subclasses on failure.

    Idempotent: a receipt already processed (a redelivered task) returns its saved result.
    """
    settings = get_settings()
    _report(job_id, RECEBIDO_STAGE)
    with session_scope() as session:
        receipt = session.get(Comprovante, comprovante_id)
        if receipt is None:
            raise OcrError(f"Comprovante {comprovante_id} não encontrado.")
        if receipt.status == CONCLUIDO:
            return result_of(receipt)
        receipt.status = PROCESSANDO
        stored, mime = receipt.nome_armazenado, receipt.mime
    # The session is closed before the slow part: OCR never holds a database connection.
    try:
        data = storage.read(stored)
    except OSError as exc:
        raise OcrError("O arquivo do comprovante não foi encontrado no armazenamento.") from exc
    _report(job_id, OCR_STAGE)
    read = read_text(data, mime, settings.upload_max_pdf_pages)
    _report(job_id, PARSING_STAGE)
    dados = pix.parse(read.text)
    validacao = validar_recebedor(dados.recebedor, settings)
    with session_scope() as session:
        receipt = session.get(Comprovante, comprovante_id)
        assert receipt is not None
        receipt.status, receipt.motor, receipt.texto = CONCLUIDO, read.motor, read.text
        receipt.campos = dados.as_json()
        receipt.valor, receipt.data_hora, receipt.id_transacao = dados.valor, dados.data_hora, dados.id_transacao
        receipt.recebedor_nome = (dados.recebedor.nome or "")[:200] or None
        receipt.recebedor_documento = dados.recebedor.documento
        receipt.validacao_recebedor = validacao.as_json()
        receipt.erro, receipt.processado_em = None, utcnow()
        result = result_of(receipt)
    _report(job_id, DONE_STAGE)
    log.info("receipt processed comprovante=%s job=%s motor=%s validacao=%s", comprovante_id, job_id,
             read.motor, validacao.status)
    return result


def record_failure(comprovante_id: int, message: str) -> None:
    """Save a readable error on the receipt (the job registry gets it from the caller)."""
    with session_scope() as session:
        receipt = session.get(Comprovante, comprovante_id)
        if receipt is not None and receipt.status != CONCLUIDO:
            receipt.status, receipt.erro, receipt.processado_em = ERRO, message, utcnow()

