"""Process one stored receipt: read its text (OCR), extract the PIX fields, check the payee, save.

Callable without Celery: the `comprovantes.processar` task wraps `process`; `enqueue` hands
a receipt to it. When the broker is unreachable the receipt stays queued (its job row holds
the task) and Beat's sweeper (maintenance.sweep_jobs) sends it later: OCR never runs in the
web process.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from core import jobs
from core.comprovantes import duplicados, review, storage
from core.comprovantes.ocr.errors import OcrError
from core.comprovantes.ocr.reading import read_receipt
from core.comprovantes.recebedor import validar_recebedor
from core.db import session_scope
from core.enqueue import BrokerUnavailable
from core.enqueue import enqueue as enqueue_task
from core.models import Comprovante
from core.models.comprovantes import CONCLUIDO, ERRO, PROCESSANDO, REVISAO_PENDENTE
from core.models.types import utcnow
from core.settings import get_settings
from core.sse import publish_safely

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
    """Return the job result for a processed receipt (what /jobs/<id>/status shows when finished):
    today's fields, and seed 004's `success` and `data` (amount as a number) for its clients."""
    campos = receipt.campos or {}
    return {"comprovante_id": receipt.id, "status": receipt.status, "motor": receipt.motor,
            "dados": campos, "validacao_recebedor": receipt.validacao_recebedor,
            "revisao": receipt.revisao, "duplicado_de": receipt.duplicado_de,
            "success": receipt.status == CONCLUIDO,
            "data": {"amount": None if receipt.valor is None else float(receipt.valor),
                     "transaction_id": receipt.id_transacao,
                     "validacao_recebedor": receipt.validacao_recebedor}}


def apply_fields(session: Session, receipt: Comprovante, campos: dict[str, Any],
                 validacao: dict[str, Any]) -> None:
    """Make these fields (read, or corrected by a person) the receipt's result: `campos`, its
    columns and the payee check; then claim its E2E id (one payment, one receipt)."""
    recebedor = campos.get("recebedor") or {}
    receipt.campos, receipt.validacao_recebedor = campos, validacao
    receipt.valor = None if campos.get("valor") is None else Decimal(campos["valor"])
    receipt.data_hora, receipt.id_transacao = campos.get("data_hora"), campos.get("id_transacao")
    receipt.recebedor_nome = (recebedor.get("nome") or "")[:200] or None
    receipt.recebedor_documento = recebedor.get("documento")
    duplicados.claim(session, receipt)


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
    # every reader that applies (PDF text layer, Google, or RapidOCR + tesseract), fields checked and rated
    read = read_receipt(data, mime, settings.upload_max_pdf_pages, threshold=settings.ocr_review_confidence)
    _report(job_id, PARSING_STAGE)
    dados = read.dados
    validacao = validar_recebedor(dados.recebedor, settings)
    result = save_read(comprovante_id, read.motor, read.text, dados.as_json(), validacao.as_json())
    _report(job_id, DONE_STAGE)
    log.info("receipt processed comprovante=%s job=%s motor=%s validacao=%s", comprovante_id, job_id,
             read.motor, validacao.status)
    return result


def save_read(comprovante_id: int, motor: str, texto: str, campos: dict[str, Any],
              validacao: dict[str, Any]) -> dict[str, Any]:
    """Save what was read, the review state and the E2E claim in one transaction; return the
    receipt's result.

    Another receipt of the same payment saved at the same moment may take the E2E id first
    (the UNIQUE index refuses the second, or MariaDB's deadlock detector picks a loser between
    two gap locks): saving again sees the winner and records this receipt as its duplicate.
    """
    for attempt in range(1, duplicados.CLAIM_ATTEMPTS + 1):
        try:
            with session_scope() as session:
                receipt = session.get(Comprovante, comprovante_id, with_for_update=True)
                assert receipt is not None
                receipt.status, receipt.motor, receipt.texto = CONCLUIDO, motor, texto
                apply_fields(session, receipt, campos, validacao)
                review.mark(receipt)
                receipt.erro, receipt.processado_em = None, utcnow()
                result = result_of(receipt)
            break
        except (IntegrityError, OperationalError) as exc:
            if attempt == duplicados.CLAIM_ATTEMPTS or not duplicados.lost_claim_race(exc):
                raise
            log.info("E2E id claimed concurrently, saving again comprovante=%s", comprovante_id)
    if result["revisao"] == REVISAO_PENDENTE:  # finance staff's pages add it to their queue
        publish_safely(review.CHANNEL, "revisao", {"comprovante_id": comprovante_id,
                                                   "revisao": REVISAO_PENDENTE})
    return result


def record_failure(comprovante_id: int, message: str) -> None:
    """Save a readable error on the receipt (the job registry gets it from the caller)."""
    with session_scope() as session:
        receipt = session.get(Comprovante, comprovante_id)
        if receipt is not None and receipt.status != CONCLUIDO:
            receipt.status, receipt.erro, receipt.processado_em = ERRO, message, utcnow()

