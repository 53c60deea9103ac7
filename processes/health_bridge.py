"""The RabbitMQ bridge for Pis still publishing seed 002's raw JSON: `python -m processes.health_bridge`.

Reads the durable queue `rasp_data` (STOCKFLOW_HEALTH_BRIDGE_QUEUE) and stores each report
with the same domain function as the `health.report` task (core.health.store.apply_reports).
What the seed lost, this keeps:
- manual ack, sent only after the database commit (a crash redelivers; the upsert is idempotent);
- a bounded prefetch, and batches of what arrived together written in one transaction;
- a message that is not JSON or not a valid report is published to `<queue>.dead` (durable,
  publisher-confirmed) and only then acked: never lost, never crashing the bridge;
- a lost broker or database connection is retried with exponential backoff.
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
from sqlalchemy.exc import DBAPIError, OperationalError

from core.backoff import run_until_stopped
from core.health.report import InvalidReport, decode_body, parse_report, reject
from core.health.store import apply_reports
from core.logs import configure_logging
from core.models.types import utcnow
from core.settings import get_settings

log = logging.getLogger("processes.health_bridge")  # not __name__: run as __main__


@dataclass
class Delivery:
    """A message read and parsed, waiting for its batch's commit before it is acked."""

    tag: int
    row: dict[str, Any]
    body: bytes
    properties: pika.BasicProperties


def dead_queue_name(queue: str) -> str:
    """Return the dead-letter queue of a bridge queue (`rasp_data` -> `rasp_data.dead`)."""
    return f"{queue}.dead"


class HealthBridge:
    """Consumes one RabbitMQ queue of raw health reports into the database until `stop` is set."""

    def __init__(self, amqp_url: str, queue: str, prefetch: int, batch_wait_s: float,
                 reconnect_max_s: float) -> None:
        self.amqp_url = amqp_url
        self.queue = queue
        self.dead_queue = dead_queue_name(queue)
        self.prefetch = max(1, prefetch)
        self.batch_wait_s = batch_wait_s
        self.reconnect_max_s = reconnect_max_s

    def run(self, stop: threading.Event) -> None:
        """Consume, reconnecting with exponential backoff and jitter, until `stop` is set."""
        run_until_stopped(self.consume, stop, (pika.exceptions.AMQPError, OSError, OperationalError),
                          cap_s=self.reconnect_max_s, what="bridge connection lost", logger=log)

    def consume(self, stop: threading.Event) -> None:
        """One connection's life: read, write batches, ack after commit; returns when stopped."""
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.queue_declare(self.queue, durable=True)
            channel.queue_declare(self.dead_queue, durable=True)
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
            if isinstance(raw, dict) and "reported_at" not in raw and properties.timestamp:
                # The producer's timestamp makes a redelivered seed message the same report.
                raw = {**raw, "reported_at": datetime.fromtimestamp(
                    properties.timestamp, timezone.utc).isoformat()}
            return Delivery(tag, parse_report(raw, received_at=utcnow()), body, properties)
        except InvalidReport as error:
            reject(error, source="bridge", raw=raw)
            self._dead_letter(channel, tag, properties, body, error.code, error.reason)
            return None

    def _store(self, channel: BlockingChannel, batch: list[Delivery]) -> None:
        try:
            apply_reports([d.row for d in batch])
        except OperationalError:
            raise  # the database is away: reconnect later; nothing was acked, all is redelivered
        except DBAPIError as exc:
            if len(batch) > 1:
                for delivery in batch:  # find the one row the database refuses
                    self._store(channel, [delivery])
                return
            delivery = batch[0]
            self._dead_letter(channel, delivery.tag, delivery.properties, delivery.body,
                              "database", str(exc.orig)[:300])
            return
        channel.basic_ack(batch[-1].tag, multiple=True)

    def _dead_letter(self, channel: BlockingChannel, tag: int, properties: pika.BasicProperties,
                     body: bytes, code: str, reason: str) -> None:
        headers = dict(properties.headers or {})
        headers.update({"x-rejected-code": code, "x-rejected-reason": reason[:300],
                        "x-original-queue": self.queue})
        # Confirmed publish first, ack second: a crash in between duplicates, never loses.
        channel.basic_publish("", self.dead_queue, body, pika.BasicProperties(
            delivery_mode=2, content_type=properties.content_type, headers=headers,
            timestamp=properties.timestamp))
        channel.basic_ack(tag)


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
