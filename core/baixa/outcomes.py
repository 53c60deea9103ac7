"""Tell the Pi that sent a scan what became of it, so it can drop the scan from its spool.

The agent keeps every scan until this reply arrives and sends it again when none came in
time (edge_agent/outcomes.py), so a message the broker lost (Redis `everysec`, kombu#305) is
never a lost baixa. The reply goes out after the outcome is committed, on the Celery broker
through kombu (Redis or RabbitMQ alike): queue `baixa.outcomes.<device_id>`, one per device,
body {"scan_id", "outcome", "reason"}. A scan without a usable device_id gets its outcome
recorded as always and no reply (there is no one to address).

Sending a reply never fails the baixa: an error is logged and that is all; the agent's
resend finds the recorded outcome (idempotent on scan_id) and brings the reply again.
"""
from __future__ import annotations

import logging
from typing import Any

from kombu import Producer, Queue

from core.celery_app import celery_app
from core.settings import get_settings

log = logging.getLogger(__name__)

OUTCOME_QUEUE_PREFIX = "baixa.outcomes."
# The reply for a scan whose task gave up: recorded in the dead-letter table, where a person
# sees and replays it.
DEAD_LETTER = "dead_letter"


def outcome_queue(device_id: str) -> Queue:
    """Return the durable reply queue of one device (on the default exchange)."""
    return Queue(OUTCOME_QUEUE_PREFIX + device_id, durable=True)


def addressable(scan_id: Any, device_id: Any) -> bool:
    """Whether a reply can be sent: a scan_id and device_id as the agent sends them."""
    return (isinstance(scan_id, str) and isinstance(device_id, str)
            and 0 < len(device_id) <= 64)


def send_outcome(scan_id: Any, device_id: Any, outcome: str, reason: str | None) -> bool:
    """Send a scan's recorded outcome to its device's queue; return whether the broker took it.

    Never raises: the outcome is already recorded, and the device sends the scan again.
    """
    if not addressable(scan_id, device_id):
        return False
    timeout = get_settings().baixa_outcome_timeout_s
    try:
        with celery_app.producer_pool.acquire(block=True, timeout=timeout) as producer:
            producer.connection.ensure_connection(max_retries=1, interval_start=0,
                                                  interval_step=0.1, timeout=timeout)
            publish_outcome(producer, scan_id, device_id, outcome, reason)
    except Exception as exc:  # noqa: BLE001 - kombu, redis and socket errors: the resend covers it
        log.warning("baixa outcome reply not sent scan_id=%s device=%s error=%s: %s",
                    scan_id, device_id, type(exc).__name__, exc)
        return False
    return True


def publish_outcome(producer: Producer, scan_id: str, device_id: str, outcome: str,
                    reason: str | None) -> None:
    """Publish one reply with `producer`, declaring the device's queue (raises on failure)."""
    queue = outcome_queue(device_id)
    producer.publish({"scan_id": scan_id, "outcome": outcome, "reason": reason},
                     exchange="", routing_key=queue.name, declare=[queue], serializer="json",
                     delivery_mode="persistent", retry=False)
