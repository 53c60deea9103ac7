"""`ocr.processar_comprovante` (queue ocr): a thin wrapper around core.comprovantes.processing."""
from __future__ import annotations

import logging
from typing import Any

from core import jobs
from core.comprovantes import processing
from core.comprovantes.ocr.errors import OcrError, OcrUnavailable
from core.settings import get_settings
from tasks.app import celery_app
from tasks.base import JobTask, retry_countdown

log = logging.getLogger(__name__)


class OcrTask(JobTask):
    """JobTask whose failures read as the pt-BR message the user sees, saved on the receipt too.

    An unreadable file is final (no dead letter: replaying cannot help); a transient failure
    that spent its retries is dead-lettered so someone can replay it when OCR is back.
    """

    dead_letter = True
    dead_letter_reference = "comprovante_id"

    def failure_message(self, exc: BaseException) -> str:
        if isinstance(exc, OcrUnavailable):
            return f"{exc} Desistimos após {self.request.retries + 1} tentativas."
        if isinstance(exc, OcrError):
            return str(exc)
        return "Erro inesperado ao processar o comprovante."

    def should_dead_letter(self, exc: BaseException) -> bool:
        return isinstance(exc, OcrUnavailable) or not isinstance(exc, OcrError)

    def record_failure(self, message: str, args: Any, kwargs: dict[str, Any]) -> None:
        comprovante_id = kwargs.get("comprovante_id", args[0] if args else None)
        if comprovante_id is not None:
            processing.record_failure(int(comprovante_id), message)


# The job registry holds the result, so Celery's result backend is not used: a web process
# that enqueues would otherwise subscribe to every task's result channel and never read it.
@celery_app.task(name="ocr.processar_comprovante", base=OcrTask, bind=True, ignore_result=True)
def processar_comprovante(self: OcrTask, comprovante_id: int, job_id: str | None = None) -> dict[str, Any]:
    """Read one stored receipt and save its PIX fields; transient OCR failures retry with backoff."""
    try:
        return processing.process(comprovante_id, job_id)
    except OcrUnavailable as exc:
        if self.request.retries >= get_settings().ocr_max_retries:
            raise
        countdown = retry_countdown(self.request.retries)
        log.warning("ocr transient failure comprovante=%s retry=%s in=%.1fs", comprovante_id,
                    self.request.retries + 1, countdown)
        if job_id:
            jobs.set_progress(job_id, 10, f"nova tentativa {self.request.retries + 1}")
        raise self.retry(exc=exc, countdown=countdown)
