"""`baixa.registrar` (queue baixa): write a scanned product off. Sent by the Pis by name.

A thin wrapper around core.baixa.registro: the task adds retries while the database is
unavailable and the dead-letter hand-off when they run out.
"""
from __future__ import annotations

from typing import Any

from core import dead_letters
from core.baixa.registro import BaixaUnavailable, registrar_baixa
from core.celery_app import celery_app
from tasks.base import FromSettings, JobTask


class BaixaTask(JobTask):
    """JobTask whose dead-letter hand-off survives the database being down: the entry is
    parked in Redis and dead_letters.move_parked writes it once the database is back."""

    autoretry_for = (BaixaUnavailable,)
    # The default 14 retries with the 600 s countdown cap cover about an hour of outage.
    max_retries = FromSettings("baixa_max_retries")
    retry_base_s = FromSettings("baixa_retry_base_s")
    dead_letter = True
    dead_letter_reference = "scan_id"

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: dict[str, Any],
                   einfo: Any) -> None:
        try:
            super().on_failure(exc, task_id, args, kwargs, einfo)
        except Exception:  # noqa: BLE001 - the database is down: park the entry, never drop it
            dead_letters.park(self.name, list(args), dict(kwargs), f"{type(exc).__name__}: {exc}",
                              str(kwargs.get("scan_id") or task_id))


@celery_app.task(name="baixa.registrar", base=BaixaTask, bind=True)
def registrar(self: BaixaTask, scan_id: Any = None, product_id: Any = None,
              store_key: Any = None, device_id: Any = None, scanned_at: Any = None,
              **_ignored: Any) -> dict[str, Any]:
    """Write the scanned product off (registrar_baixa) and return the scan's outcome."""
    return registrar_baixa(scan_id, product_id, store_key, device_id, scanned_at)
