"""`baixa.registrar` (queue baixa): write a scanned product off. Sent by the Pis by name.

A thin wrapper around core.baixa.registro: the task adds retries while the database is
unavailable and the dead-letter hand-off when they run out. Once the outcome is recorded
(or the dead letter is in the table) it is sent back to the scan's Pi (core.baixa.outcomes),
which only then drops the scan from its spool.
"""
from __future__ import annotations

from typing import Any

from core.baixa.outcomes import DEAD_LETTER, send_outcome
from core.baixa.registro import BaixaUnavailable, registrar_baixa
from core.celery_app import celery_app
from tasks.base import FromSettings, JobTask


def publisher_user(task: JobTask) -> Any:
    """Return the message's AMQP `user_id` (RabbitMQ refuses one that is not the publishing
    connection's user; the agent sets it), or None when it carries none."""
    return (task.request.properties or {}).get("user_id")


class BaixaTask(JobTask):
    """JobTask whose given-up scans are answered to their Pi: a dead letter in the table is
    the scan's recorded outcome (JobTask parks it in Redis while the database is down, and
    dead_letters.move_parked records it, and so answers it, once the database is back)."""

    autoretry_for = (BaixaUnavailable,)
    # The default 14 retries with the 600 s countdown cap cover about an hour of outage.
    max_retries = FromSettings("baixa_max_retries")
    retry_base_s = FromSettings("baixa_retry_base_s")
    dead_letter = True
    dead_letter_reference = "scan_id"

    def record_given_up(self, failure: dict[str, Any]) -> None:
        super().record_given_up(failure)  # raises while the database is down: nothing to answer
        if failure.get("dead_letter", True):
            kwargs = failure["kwargs"]
            send_outcome(kwargs.get("scan_id"), kwargs.get("device_id"), DEAD_LETTER,
                         failure["error"])


@celery_app.task(name="baixa.registrar", base=BaixaTask, bind=True)
def registrar(self: BaixaTask, scan_id: Any = None, product_id: Any = None,
              store_key: Any = None, device_id: Any = None, scanned_at: Any = None,
              signature: Any = None, **_ignored: Any) -> dict[str, Any]:
    """Write the scanned product off (registrar_baixa), tell the scan's Pi, and return the
    scan's outcome."""
    outcome = registrar_baixa(scan_id, product_id, store_key, device_id, scanned_at, signature,
                              publisher_user(self))
    send_outcome(scan_id, device_id, outcome["outcome"], outcome["reason"])
    return outcome
