"""The RabbitMQ bridge for Pis still publishing seed 002's raw JSON: `python -m processes.health_bridge`.

Reads the durable queue `rasp_data` (STOCKFLOW_HEALTH_BRIDGE_QUEUE) and stores each report
with the same domain function as the `health.report` task (core.health.store).
What the seed lost, this keeps:
- manual ack, sent only after the database commit (a crash redelivers; the upsert is idempotent);
- a bounded prefetch, and batches of what arrived together written in one transaction;
- a poison message (not UTF-8, not JSON, not a valid report, a parser failure, a row the
  database refuses while it takes others) goes to the dead letters as `health.bridge` with
  its reason (core.health.poison) and only then is acked: never lost, never stopping the bridge;
- while the database does not answer, nothing is acked and the bridge reconnects with
  exponential backoff; so it does after any broker failure.
Without STOCKFLOW_HEALTH_BRIDGE_AMQP_URL the process idles until stopped (honcho stops every
process when one exits).
"""
from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from core.backoff import run_until_stopped
from core.health import poison
from core.health.report import InvalidReport, decode_body, parse_report
from core.health.store import Refused, apply_reports_isolating
from core.logs import configure_logging
from core.models.types import utcnow
from core.settings import get_settings

log = logging.getLogger("processes.health_bridge")  # not __name__: run as __main__

CONSUMER = "health.bridge"


@dataclass
class Delivery:
    """A message read and parsed, waiting for its batch's commit before it is acked."""

    tag: int
    row: dict[str, Any]
    body: bytes


class HealthBridge:
    """Consumes one RabbitMQ queue of raw health reports into the database until `stop` is set."""

    def __init__(self, amqp_url: str, queue: str, prefetch: int, batch_wait_s: float,
                 reconnect_max_s: float) -> None:
        self.amqp_url = amqp_url
        self.queue = queue
        self.prefetch = max(1, prefetch)
        self.batch_wait_s = batch_wait_s
        self.reconnect_max_s = reconnect_max_s

    def run(self, stop: threading.Event) -> None:
        """Consume, reconnecting with exponential backoff and jitter, until `stop` is set."""
        # Any error here is the broker's, the database's or Redis's (a message's own is kept
        # in the dead letters): pause, reconnect; the unacked messages are redelivered.
        run_until_stopped(self.consume, stop, (Exception,), cap_s=self.reconnect_max_s,
                          what="bridge paused", logger=log)

    def consume(self, stop: threading.Event) -> None:
        """One connection's life: read, write batches, ack after commit; returns when stopped."""
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.queue_declare(self.queue, durable=True)
            channel.basic_qos(prefetch_count=self.prefetch)
            log.info("bridge consuming queue=%s prefetch=%d", self.queue, self.prefetch)
            batch: list[Delivery] = []
            for method, properties, body in channel.consume(
                    self.queue, inactivity_timeout=self.batch_wait_s):
                if method is not None:
                    delivery = self._parse(channel, method.delivery_tag, properties, body)
                    if delivery is not None:
                        batch.append(delivery)
                if batch and (method is None or len(batch) >= self.prefetch or stop.is_set()):
                    self._store(channel, batch)
                    batch = []
                if stop.is_set():
                    break
            channel.cancel()
        finally:
            if connection.is_open:
                connection.close()

    def _parse(self, channel: BlockingChannel, tag: int, properties: pika.BasicProperties,
               body: bytes) -> Delivery | None:
        raw: Any = None
        try:
            raw = decode_body(body)
            row = parse_report(with_amqp_timestamp(raw, properties.timestamp), received_at=utcnow())
            return Delivery(tag, row, body)
        except InvalidReport as error:
            poison.refuse(CONSUMER, body, error, raw=raw)
        except Exception as exc:  # noqa: BLE001 - a parser bug must not stop ingestion
            poison.refuse(CONSUMER, body, poison.unexpected(exc), raw=raw)
        channel.basic_ack(tag)  # only now: its dead letter is recorded or parked
        return None

    def _store(self, channel: BlockingChannel, batch: list[Delivery]) -> None:
        # DatabaseUnavailable propagates: nothing acked, all redelivered after the reconnect.
        outcomes = apply_reports_isolating([d.row for d in batch])
        stored = []
        for delivery, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Refused):
                poison.refuse(CONSUMER, delivery.body, InvalidReport("refused", outcome.reason),
                              device=delivery.row["raspberry_id"])
                channel.basic_ack(delivery.tag)
            else:
                stored.append(delivery.tag)
        if stored:  # every tag up to it is in this batch (a poison one was acked on its own)
            channel.basic_ack(max(stored), multiple=True)


def with_amqp_timestamp(raw: Any, timestamp: Any) -> Any:
    """Return the report with the producer's AMQP timestamp as its reported_at when it has none,
    so a redelivered seed message is the same report; InvalidReport when the timestamp is no
    time in POSIX seconds (a producer sending milliseconds)."""
    if not isinstance(raw, dict) or "reported_at" in raw or not timestamp:
        return raw
    try:
        at = datetime.fromtimestamp(timestamp, timezone.utc)
    except (OverflowError, OSError, ValueError, TypeError):
        raise InvalidReport("invalid", f"AMQP timestamp {timestamp} is no time in POSIX seconds "
                                       "(milliseconds?)") from None
    return {**raw, "reported_at": at.isoformat()}


def bridge_from_settings() -> HealthBridge | None:
    """Return the bridge the settings describe, or None when no AMQP URL is configured."""
    settings = get_settings()
    if not settings.health_bridge_amqp_url:
        return None
    return HealthBridge(settings.health_bridge_amqp_url, settings.health_bridge_queue,
                        settings.health_bridge_prefetch, settings.health_bridge_batch_wait_s,
                        settings.health_bridge_reconnect_max_s)


def main() -> int:
    """Run the bridge (or idle without an AMQP URL) until SIGTERM / SIGINT; return the exit code."""
    configure_logging()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    bridge = bridge_from_settings()
    if bridge is None:
        log.info("STOCKFLOW_HEALTH_BRIDGE_AMQP_URL is empty: the RabbitMQ bridge idles")
        while not stop.wait(1.0):
            pass
        return 0
    bridge.run(stop)
    log.info("bridge stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
