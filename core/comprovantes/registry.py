"""Receipt records: register an accepted upload once per file content, look receipts up, describe them."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from core import jobs
from core.comprovantes import processing, storage
from core.comprovantes.validation import AcceptedUpload
from core.db import get_engine, session_scope
from core.models import Comprovante, Job
from core.models.comprovantes import CONCLUIDO, ERRO, RECEBIDO
from core.sse import publish_safely

log = logging.getLogger(__name__)

JOB_KIND = "comprovantes"
# Core INSERTs on the tables: the ORM's unit of work and its bulk-insert path cost more than the
# statements for two rows nobody reads back in this request (Python-side defaults still apply).
INSERT_COMPROVANTE = Comprovante.__table__.insert()
INSERT_JOB = Job.__table__.insert()


@dataclass(frozen=True)
class Registered:
    comprovante_id: int
    job_id: str | None
    duplicate: bool


def find_by_sha256(sha256: str) -> Comprovante | None:
    with session_scope() as session:
        return session.scalar(select(Comprovante).where(Comprovante.sha256 == sha256))


def register(data: bytes, accepted: AcceptedUpload, pedido: str | None, user_id: int | None) -> Registered:
    """Store the file and record the receipt with its queued job; the same content returns the first.

    One transaction inserts the receipt and its job (the job row is the registry's own queued
    row with the task that will process it, written here so both commit together): one commit
    per upload, before the caller enqueues. The UNIQUE sha256 decides duplicates, even two
    uploads of one file at the same moment: there is no lookup first (a new file, by far the
    common case, costs one INSERT each for the receipt and its job and no SELECT); the insert
    that loses removes its copy of the file and answers with the receipt that won.
    """
    sha256 = storage.sha256_hex(data)
    job_id = str(uuid.uuid4())
    stored = storage.save(data, accepted.extension)
    try:
        # A connection's transaction, no ORM session: nothing here is read back as an object.
        with get_engine().begin() as connection:
            comprovante_id = connection.execute(INSERT_COMPROVANTE, dict(
                pedido=pedido, nome_original=accepted.name, nome_armazenado=stored, sha256=sha256,
                tamanho=len(data), mime=accepted.mime, status=RECEBIDO, job_id=job_id,
                uploaded_by=user_id)).inserted_primary_key[0]
            job = jobs.new_job(JOB_KIND, owner_id=user_id, job_id=job_id, task_name=processing.TASK_NAME,
                               task_kwargs=processing.task_kwargs(comprovante_id, job_id))
            connection.execute(INSERT_JOB, _columns_set(job))
    except IntegrityError:
        storage.delete(stored)
        existing = find_by_sha256(sha256)
        if existing is None:
            raise
        log.info("duplicate upload sha256=%s comprovante=%s", sha256, existing.id)
        return Registered(existing.id, existing.job_id, True)
    except BaseException:
        storage.delete(stored)  # the rows were rolled back: no orphan file either
        raise
    log.info("receipt stored comprovante=%s job=%s size=%s mime=%s", comprovante_id, job_id, len(data),
             accepted.mime)
    return Registered(comprovante_id, job_id, False)


def _columns_set(row: Any) -> dict[str, Any]:
    """The column values an ORM constructor set on a new row (what its INSERT would carry)."""
    state = inspect(row)
    return {key: state.dict[key] for key in state.mapper.columns.keys() if key in state.dict}


def reopen_unfinished(comprovante_id: int) -> str | None:
    """Put a receipt that never finished back in line, for an upload of the same file: one that
    failed, or is unfinished with its job stuck past its deadline (or ended, or gone). Return
    its job id, queued again for the caller to enqueue, or None (processed, or on its way)."""
    with session_scope() as session:
        receipt = session.get(Comprovante, comprovante_id, with_for_update=True)
        if receipt is None or receipt.status == CONCLUIDO:
            return None
        job = session.get(Job, receipt.job_id, with_for_update=True) if receipt.job_id else None
        on_its_way = job is not None and job.status in jobs.ACTIVE and not jobs.is_stuck(job)
        if receipt.status != ERRO and on_its_way:
            return None
        if job is None:
            job = jobs.new_job(JOB_KIND, owner_id=receipt.uploaded_by)
            session.add(job)
            receipt.job_id = job.id
        jobs.reset_to_queued(job)
        job.resends = 0  # a person asked again: the sweeper's count starts over
        job.task_name = processing.TASK_NAME
        job.task_kwargs = processing.task_kwargs(receipt.id, job.id)
        was = receipt.status
        receipt.status, receipt.erro, receipt.processado_em = RECEBIDO, None, None
        status = jobs.as_status(job)
    publish_safely(jobs.channel(job.id), "job", status)
    log.info("unfinished receipt queued again comprovante=%s job=%s was=%s", comprovante_id,
             job.id, was)
    return job.id


def get(comprovante_id: int) -> Comprovante | None:
    with session_scope() as session:
        return session.get(Comprovante, comprovante_id)


def recent(user_id: int | None, limit: int = 50) -> list[Comprovante]:
    """Return the newest receipts, of one uploader (or everyone's when user_id is None)."""
    query = select(Comprovante).order_by(Comprovante.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(Comprovante.uploaded_by == user_id)
    with session_scope() as session:
        return list(session.scalars(query))


def describe(receipt: Comprovante) -> dict[str, Any]:
    """Return a receipt as the API and the page show it."""
    campos = receipt.campos or {}
    return {
        "id": receipt.id, "pedido": receipt.pedido, "nome_original": receipt.nome_original,
        "tamanho": receipt.tamanho, "mime": receipt.mime, "status": receipt.status,
        "job_id": receipt.job_id,
        "status_url": f"/jobs/{receipt.job_id}/status" if receipt.job_id else None,
        "motor": receipt.motor,
        "valor": None if receipt.valor is None else f"{receipt.valor:.2f}",
        "data_hora": receipt.data_hora, "id_transacao": receipt.id_transacao,
        "pagador": campos.get("pagador"), "recebedor": campos.get("recebedor"),
        "validacao_recebedor": receipt.validacao_recebedor, "erro": receipt.erro,
        "created_at": receipt.created_at.isoformat(),
        "processado_em": receipt.processado_em.isoformat() if receipt.processado_em else None,
        # The OCR's confidence per field (0..1) and the fields it doubts, when it says so.
        "confianca": campos.get("confianca") or {}, "duvidosos": campos.get("duvidosos") or [],
        "revisao": receipt.revisao, "revisao_motivos": receipt.revisao_motivos or [],
        "revisado_por": receipt.revisado_por,
        "revisado_em": receipt.revisado_em.isoformat() if receipt.revisado_em else None,
        "correcoes": receipt.correcoes or {},
        "duplicado_de": receipt.duplicado_de,
    }


def total_recebido(receipts: list[Comprovante]) -> Decimal:
    """Return the sum of the amounts read, each payment once: duplicates and unread receipts
    count nothing."""
    return sum((r.valor for r in receipts
                if r.status == CONCLUIDO and r.duplicado_de is None and r.valor is not None), Decimal("0"))
