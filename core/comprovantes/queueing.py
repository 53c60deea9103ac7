"""Hand a receipt to the ocr queue, finding out fast (not hanging) when the broker is unreachable."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# An upload waits about this long at most to learn that the broker is down.
BROKER_TIMEOUT_S = 1.0


def enqueue(comprovante_id: int, job_id: str) -> bool:
    """Publish ocr.processar_comprovante for the receipt; return False when the broker is unreachable.

    Uses the app's pooled producer (no new connection per upload), but checks its connection
    with a single short attempt and publishes without retries: left to the default policy,
    a publish to a dead broker would keep the user waiting on the page.
    """
    from tasks.app import celery_app
    from tasks.ocr import processar_comprovante

    try:
        with celery_app.producer_pool.acquire(block=True, timeout=BROKER_TIMEOUT_S) as producer:
            producer.connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.1,
                                                  timeout=BROKER_TIMEOUT_S)
            processar_comprovante.apply_async(
                kwargs={"comprovante_id": comprovante_id, "job_id": job_id},
                producer=producer, retry=False)
        return True
    except Exception as exc:  # noqa: BLE001 - kombu, redis and socket errors all mean "not queued"
        log.warning("broker unreachable, processing inline comprovante=%s job=%s error=%s: %s",
                    comprovante_id, job_id, type(exc).__name__, exc)
        return False
