"""`comprovantes.processar` (queue comprovantes): read one uploaded receipt and save its PIX
fields; `comprovante.correct` (queue default): a reviewer's corrections. Thin wrappers around
core.comprovantes.processing and core.comprovantes.review."""
from __future__ import annotations

from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from core import jobs
from core.celery_app import celery_app
from core.comprovantes import processing, review
from core.comprovantes.ocr.errors import OcrError, OcrUnavailable
from tasks.base import FromSettings, JobTask


class ComprovanteTask(JobTask):
    """JobTask whose failures read as the pt-BR message the user sees, saved on the receipt too.

    A transient OCR failure (OcrUnavailable) or a database gone mid-task (OperationalError,
    InterfaceError: a restart, a cut link) is retried with backoff; an unreadable file is
    final (no dead letter: replaying cannot help); a transient failure that spent its retries,
    a time limit or the database down is dead-lettered so someone can replay it (uploading
    the same file again queues it again too).
    """

    autoretry_for = (OcrUnavailable, OperationalError, InterfaceError)
    max_retries = FromSettings("ocr_max_retries")
    dead_letter = True
    dead_letter_reference = "comprovante_id"

    def failure_message(self, exc: BaseException) -> str:
        if isinstance(exc, OcrUnavailable):
            return f"{exc} Desistimos após {self.request.retries + 1} tentativas."
        if isinstance(exc, OcrError):
            return str(exc)
        if interrupted := self.interruption_message(exc):
            return f"A leitura do comprovante foi interrompida. {interrupted}"
        if isinstance(exc, SQLAlchemyError):
            return ("Banco de dados indisponível ao processar o comprovante; envie o arquivo de "
                    "novo para tentar outra vez.")
        return "Erro inesperado ao processar o comprovante."

    def should_dead_letter(self, exc: BaseException) -> bool:
        return isinstance(exc, OcrUnavailable) or not isinstance(exc, OcrError)

    def on_retry(self, exc: BaseException, task_id: str, args: Any, kwargs: dict[str, Any],
                 einfo: Any) -> None:
        if job_id := kwargs.get("job_id"):
            try:
                jobs.set_progress(job_id, 10, f"nova tentativa {self.request.retries + 1}")
            except SQLAlchemyError:
                pass  # only progress; the database being down may be why it retries

    def record_failure(self, message: str, task_id: str | None, args: list[Any],
                       kwargs: dict[str, Any]) -> None:
        comprovante_id = kwargs.get("comprovante_id", args[0] if args else None)
        if comprovante_id is not None:
            processing.record_failure(int(comprovante_id), message)


# ignore_result: the job registry holds the result, nobody reads Celery's.
@celery_app.task(name=processing.TASK_NAME, base=ComprovanteTask, bind=True, ignore_result=True)
def processar(self: ComprovanteTask, comprovante_id: int,
              job_id: str | None = None) -> dict[str, Any]:
    """Read one stored receipt and save its PIX fields; return the job's result."""
    return processing.process(comprovante_id, job_id)


class CorrectionTask(JobTask):
    """A reviewer's correction sent by a script: a database gone mid-task is retried; a
    correction that fails its checks is final (the same values would fail again)."""

    autoretry_for = (OperationalError, InterfaceError)


# Queue `default` (no family route): a correction is quick and must not wait behind OCR.
@celery_app.task(name=review.TASK_NAME, base=CorrectionTask, bind=True, ignore_result=True)
def correct(self: CorrectionTask, comprovante_id: int, campos: dict[str, Any],
            actor: str | int) -> dict[str, Any]:
    """Apply a reviewer's corrections to a receipt and confirm it (as the page's "Corrigir e
    confirmar" does); return the corrections and the new result."""
    return review.correct(comprovante_id, campos, actor)
