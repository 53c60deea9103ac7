"""Send spooled scans to the broker as `baixa.registrar` tasks, in scan order.

A minimal Celery app of its own (the agent imports no server code): the task goes by name.
Publishing never retries inside kombu (retry=False, short socket timeouts), so a down broker
fails fast and the scan simply stays in the spool; the run loop reconnects with exponential
backoff and jitter. A scan the broker accepted (Redis LPUSH returned; on RabbitMQ, the
publisher confirm came for a message a queue took: one the broker nacks, returns as
unroutable or never confirms raises) stays in the spool, waiting for its outcome
(edge_agent/outcomes.py); without one within its ack timeout it is sent again, the timeout
doubling per send (edge_agent/spool.py). Each scan is signed as it is sent
(edge_agent/signing.py), so those spooled before the agent had a secret are signed too.
"""
from __future__ import annotations

import logging
import math
import random
import ssl
import threading
import time
from typing import Any
from urllib.parse import unquote, urlsplit

from celery import Celery

from edge_agent.config import AgentConfig
from edge_agent.signing import signed_scan
from edge_agent.spool import Pending, Spool

log = logging.getLogger("edge_agent.publisher")

BATCH = 200


def is_amqp(broker_url: str) -> bool:
    """Whether the broker is RabbitMQ (amqp://, amqps://) rather than Redis."""
    return urlsplit(broker_url).scheme in ("amqp", "amqps", "pyamqp")


def broker_ssl(config: AgentConfig) -> dict[str, Any] | None:
    """Celery's broker_use_ssl for a rediss:// or amqps:// URL (the broker's certificate
    verified against the configured CA); None for a plain URL."""
    scheme = urlsplit(config.broker_url).scheme
    if scheme == "rediss":
        return {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": config.tls_ca_file,
                "ssl_certfile": config.tls_cert_file, "ssl_keyfile": config.tls_key_file}
    if scheme == "amqps":
        # py-amqp loads no default CAs itself; kombu fills server_hostname from the URL.
        return {"cert_reqs": ssl.CERT_REQUIRED,
                "ca_certs": config.tls_ca_file or ssl.get_default_verify_paths().openssl_cafile,
                "certfile": config.tls_cert_file, "keyfile": config.tls_key_file,
                "server_hostname": None}
    return None


def make_celery(config: AgentConfig) -> Celery:
    """Return a Celery app that can only send, failing fast when the broker is away."""
    timeout = config.publish_timeout_s
    app = Celery("stockflow-edge-agent", broker=config.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=config.queue,
        broker_connection_timeout=timeout,
        broker_connection_retry=False,
        broker_connection_max_retries=0,
        broker_use_ssl=broker_ssl(config),
        broker_transport_options={
            "socket_connect_timeout": timeout, "socket_timeout": timeout,
            # RabbitMQ: each publish waits for the broker's confirm (py-amqp's
            # basic_publish_confirm; a nack raises MessageNacked), so a scan counts as sent
            # only once the broker has it
            "confirm_publish": True,
        },
        task_send_sent_event=False,
    )
    return app


def publish_options(broker_url: str, queue: str) -> dict[str, Any]:
    """What each send to `queue` adds. On RabbitMQ: the queue's own exchange (a Pi's user may
    write there and nowhere else, not even the default exchange Celery would use for a bare
    `queue=`); mandatory, so a message no queue takes comes back
    and fails the publish (a confirm alone also acks an unroutable message); no
    declarations (the server's workers declare the quorum queues and their exchanges; a Pi's
    user may only write); and `user_id`, the broker user of the URL, which RabbitMQ refuses
    unless it is the connection's own, so the worker knows which device's user sent it. On
    Redis: nothing (Celery declares the queue, which kombu's Redis routing needs; Redis would
    carry a user_id unchecked)."""
    if not is_amqp(broker_url):
        return {}
    user = urlsplit(broker_url).username
    return {"exchange": queue, "routing_key": queue, "declare": [], "mandatory": True,
            **({"user_id": unquote(user)} if user else {})}


def backoff_delay(attempt: int, base_s: float, max_s: float) -> float:
    """Return the wait before reconnect attempt `attempt` (0-based): exponential, capped, jittered."""
    delay = min(max_s, base_s * (2 ** min(attempt, 30)))
    return random.uniform(delay / 2, delay)


class Publisher:
    """Drains the spool to the broker; `run()` is the background loop of the agent."""

    def __init__(self, config: AgentConfig, spool: Spool) -> None:
        self.config = config
        self.spool = spool
        self.app = make_celery(config)
        self._connection: Any = None
        self._publish_options = publish_options(config.broker_url, config.queue)
        self.wake = threading.Event()

    def _ensure_connection(self) -> Any:
        if self._connection is None:
            connection = self.app.connection_for_write()
            connection.ensure_connection(max_retries=0, timeout=self.config.publish_timeout_s)
            self._connection = connection
        return self._connection

    def _reset_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.collect()  # drop sockets without talking to a dead broker
            except Exception:  # noqa: BLE001 - the connection is being thrown away
                pass
        self._connection = None

    def publish_pending(self, everything: bool = False) -> int:
        """Send every scan due now (or, with `everything`, every scan held), oldest first,
        and return how many were sent.

        Raises the broker's error at the first scan it refuses; what was sent before is noted.
        """
        due_by = math.inf if everything else time.time()
        sent_total = resent_total = last_seq = 0
        while True:
            batch = self.spool.pending(BATCH, now=due_by, after_seq=last_seq)
            if not batch:
                break
            sent: list[Pending] = []
            try:
                connection = self._ensure_connection()
                for item in batch:
                    self.app.send_task(self.config.task_name,
                                       kwargs=signed_scan(item.scan, self.config.device_secret),
                                       queue=self.config.queue, task_id=item.scan["scan_id"],
                                       connection=connection, retry=False, ignore_result=True,
                                       **self._publish_options)
                    sent.append(item)
                    resent_total += item.sends > 0
            except Exception as exc:
                self._reset_connection()
                if len(sent) < len(batch):
                    self.spool.note_failure(batch[len(sent)].seq, f"{type(exc).__name__}: {exc}")
                raise
            finally:
                # Noted per batch: a crash before this line only sends these scans again
                # sooner, which the server's idempotency on scan_id makes harmless.
                self.spool.mark_sent(sent, self.config.ack_timeout_s,
                                     self.config.ack_timeout_max_s)
                sent_total += len(sent)
            last_seq = batch[-1].seq
        if resent_total:
            log.warning("sent again %d scan(s) with no outcome from the server in time",
                        resent_total)
        return sent_total

    def _idle_wait_s(self) -> float:
        """Seconds until the next scan waiting for its outcome is due again (30 s at most)."""
        return min(30.0, max(0.0, self.spool.next_resend_at() - time.time()))

    def broker_reachable(self) -> bool:
        """Return whether the broker answers a connection attempt now."""
        try:
            self._ensure_connection()
            return True
        except Exception:  # noqa: BLE001 - any failure means: not reachable
            self._reset_connection()
            return False

    def run(self, stop: threading.Event) -> None:
        """Publish new scans as they are spooled; while the broker is away, back off and retry."""
        attempt = 0
        while not stop.is_set():
            try:
                self.wake.clear()  # before reading the spool: a scan added later wakes the wait
                sent = self.publish_pending()
                if sent:
                    log.info("published %d scan(s); spool depth %d", sent, self.spool.depth())
                if attempt:
                    log.info("broker reachable again after %d failed attempt(s)", attempt)
                self.spool.set_meta("broker_reachable", "1")
                attempt = 0
                self.wake.wait(timeout=self._idle_wait_s())  # or woken by each new scan
            except Exception as exc:  # noqa: BLE001 - any broker failure: keep scans, back off
                delay = backoff_delay(attempt, self.config.reconnect_base_s,
                                      self.config.reconnect_max_s)
                if attempt == 0:
                    log.error("broker unreachable (%s: %s); scans wait in the spool",
                              type(exc).__name__, exc)
                else:
                    log.warning("broker still unreachable (attempt %d); next try in %.1f s; "
                                "spool depth %d", attempt + 1, delay, self.spool.depth())
                self.spool.set_meta("broker_reachable", "0")
                attempt += 1
                stop.wait(delay)
        self._reset_connection()
