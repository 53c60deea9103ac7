"""Receive the server's outcome of each scan and remove that scan from the spool.

The worker answers every scan whose outcome it recorded (removed, already_removed, not_found,
invalid; dead_letter once the scan is in the dead-letter table) on the broker queue
`baixa.outcomes.<device_id>`, body {"scan_id", "outcome", "reason"} (core/baixa/outcomes.py).
Until that answer arrives the scan stays in the spool and is sent again at its resend time,
so a message the broker lost (Redis appends `everysec`; kombu#305 pops before it records the
message as unacked) is never a lost baixa.

Plain kombu on the agent's broker URL (Redis or RabbitMQ alike): a durable queue on the
default exchange, consumed without broker acks. A reply lost between the broker and the spool
(a crash in between) only means the scan is sent again and answered again.
"""
from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from kombu import Connection, Consumer, Message, Queue

from edge_agent.config import AgentConfig
from edge_agent.publisher import backoff_delay, make_celery
from edge_agent.spool import Spool

log = logging.getLogger("edge_agent.outcomes")

# Replies written to the spool in one transaction (one fsync) at most.
BATCH = 200
# After a reply, how long to wait for the next one before writing what came.
GATHER_S = 0.05
# What the server answers when the baixa went as the clerk meant.
REMOVED = "removed"


def parse_reply(message: Message) -> tuple[str, str, str] | None:
    """Return (scan_id, outcome, reason) of a reply, or None for anything else (logged)."""
    try:
        body = message.decode()
    except Exception as exc:  # noqa: BLE001 - a reply we cannot read is dropped, not fatal
        log.warning("unreadable outcome reply dropped error=%s", f"{type(exc).__name__}: {exc}")
        return None
    if not isinstance(body, dict) or not isinstance(body.get("scan_id"), str):
        log.warning("outcome reply without a scan_id dropped: %r", str(body)[:200])
        return None
    return body["scan_id"], str(body.get("outcome")), str(body.get("reason") or "")


class OutcomeListener:
    """Consumes this device's reply queue; `run()` is a background loop of the agent."""

    def __init__(self, config: AgentConfig, spool: Spool) -> None:
        self.config = config
        self.spool = spool
        self.queue = Queue(config.outcome_queue, durable=True)
        self._app = make_celery(config)  # the same broker options as the publisher

    def run(self, stop: threading.Event) -> None:
        """Remove each answered scan from the spool; while the broker is away, back off."""
        attempt = 0
        while not stop.is_set():
            try:
                with self._app.connection_for_read() as connection:
                    connection.ensure_connection(max_retries=0,
                                                 timeout=self.config.publish_timeout_s)
                    replies: list[Message] = []
                    with Consumer(connection, queues=[self.queue], no_ack=True, accept=["json"],
                                  on_message=replies.append):
                        if attempt:
                            log.info("outcome queue %s reachable again", self.queue.name)
                        attempt = 0
                        self._consume(connection, replies, stop)
            except Exception as exc:  # noqa: BLE001 - any broker failure: back off, try again
                delay = backoff_delay(attempt, self.config.reconnect_base_s,
                                      self.config.reconnect_max_s)
                if attempt == 0:
                    log.warning("outcome queue %s unreachable (%s: %s); sent scans wait for "
                                "their outcome", self.queue.name, type(exc).__name__, exc)
                attempt += 1
                stop.wait(delay)

    def _consume(self, connection: Connection, replies: list[Message],
                 stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if not _drain(connection, 1.0):
                    continue
                while len(replies) < BATCH and _drain(connection, GATHER_S):
                    pass
            finally:
                # Even when the broker went away meanwhile: these replies left its queue.
                self.settle(replies)
                replies.clear()

    def settle(self, replies: list[Message]) -> int:
        """Remove the answered scans from the spool in one transaction; return how many went."""
        answered = [reply for reply in map(parse_reply, replies) if reply is not None]
        for scan_id, outcome, reason in answered:
            level = logging.INFO if outcome == REMOVED else logging.WARNING
            log.log(level, "scan outcome scan_id=%s outcome=%s reason=%s", scan_id, outcome, reason)
        return self.spool.remove(scan_id for scan_id, _, _ in answered)


def _drain(connection: Any, timeout_s: float) -> bool:
    """Wait up to `timeout_s` for broker events; return whether one came."""
    try:
        connection.drain_events(timeout=timeout_s)
    except socket.timeout:
        return False
    return True
