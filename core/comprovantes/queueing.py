"""Hand a receipt to the ocr queue, finding out fast (not hanging) when the broker is unreachable."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# An upload waits at most about this long to learn that the broker is down.
BROKER_TIMEOUT_S = 1.0


def enqueue(comprovante_id: int, job_id: str) -> bool:
    """Publish ocr.processar_comprovante for the receipt; return False when the broker is unreachable.

    A fresh connection with one short connection attempt: the pooled producer would retry
    for as long as the broker's own retry policy says, with the user waiting on the page.
    """
    from tasks.app import celery_app
    from tasks.ocr import processar_comprovante

    try:
        with celery_app.connection_for_write(connect_timeout=BROKER_TIMEOUT_S) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.1,
                                         timeout=BROKER_TIMEOUT_S)
            processar_comprovante.apply_async(
                kwargs={"comprovante_id": comprovante_id, "job_id": job_id},
                connection=connection, retry=False)
        return True
    except Exception as exc:  # noqa: BLE001 - kombu, redis and socket errors all mean "not queued"
        log.warning("broker unreachable, processing inline comprovante=%s job=%s error=%s: %s",
                    comprovante_id, job_id, type(exc).__name__, exc)
        return False
