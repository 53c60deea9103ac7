"""Baixa tasks: `baixa.registrar` writes a scanned product off, `baixa.recuperar_dead_letters`
moves parked dead letters into the table.

Thin wrappers around core.baixa: the task adds retries while the database is unavailable
and the dead-letter hand-off when they run out.
"""
from __future__ import annotations

import logging
from typing import Any

from core.baixa.dead_letters import park, recuperar_dead_letters
from core.baixa.registro import BaixaUnavailable, registrar_baixa
from core.settings import get_settings
from tasks.app import celery_app
from tasks.base import JobTask, retry_countdown

log = logging.getLogger(__name__)


class BaixaTask(JobTask):
    """JobTask whose dead-letter hand-off survives the database being down: the entry waits
    in Redis and baixa.recuperar_dead_letters writes it once the database is back."""

    dead_letter = True
    dead_letter_reference = "scan_id"

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: dict[str, Any],
                   einfo: Any) -> None:
        try:
            super().on_failure(exc, task_id, args, kwargs, einfo)
        except Exception:  # noqa: BLE001 - the database is down: park the entry, never drop it
            park(self.name, list(args), dict(kwargs), f"{type(exc).__name__}: {exc}",
                 str(kwargs.get("scan_id") or task_id))


@celery_app.task(name="baixa.registrar", base=BaixaTask, bind=True)
def registrar(self: Any, scan_id: Any = None, product_id: Any = None, store_key: Any = None,
              device_id: Any = None, scanned_at: Any = None, **_ignored: Any) -> dict[str, Any]:
    """Task wrapper of registrar_baixa: retries with backoff while the database is down."""
    try:
        return registrar_baixa(scan_id, product_id, store_key, device_id, scanned_at)
    except BaixaUnavailable as exc:
        settings = get_settings()
        countdown = retry_countdown(self.request.retries, base_s=settings.baixa_retry_base_s)
        log.warning("baixa database unavailable scan_id=%s retry=%d in %.1fs: %s", scan_id,
                    self.request.retries + 1, countdown, exc)
        raise self.retry(exc=exc, countdown=countdown, max_retries=settings.baixa_max_retries)


@celery_app.task(name="baixa.recuperar_dead_letters")
def recuperar_dead_letters_task() -> int:
    """Beat, every minute: move dead letters parked while the database was down into the table."""
    return recuperar_dead_letters()
