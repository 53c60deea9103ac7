"""The batch worker of the `health` queue: `python -m processes.health_batch_worker`.

A Celery worker spends a few milliseconds of CPU on every task (request, trace, events,
ack), which caps one process at a few hundred reports per second whatever the database
does. This process reads the same `health.report` messages (Celery protocol 2, JSON) off
the broker with kombu, a batch at a time, and stores each batch with the code the task
uses (core.health.report.parse_report, core.health.store.apply_reports): one upsert and
one history insert per batch, one commit.

Reliability is the task's: a message is acked only after the commit that holds its report
(a crash leaves it unacked and the broker redelivers it; the upsert is idempotent). A poison
message (a body that does not decode, an invalid report, a parser failure, a row the database
refuses while it takes the rest of the batch) is counted, kept in the dead letters as
`health.batch_worker` with its reason (core.health.poison) and acked; the worker goes on.
While the database does not answer the batch is handed back to the queue and the worker
backs off. Another task on the queue is kept in the dead letters under its own name, for a
person to replay. Both this process and ordinary Celery workers may consume the `health`
queue at once.
"""
from __future__ import annotations

import argparse
import logging
import signal
import socket
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from kombu import Message, Queue
from kombu.transport import redis as redis_transport
from kombu.transport import virtual

from core import dead_letters
from core.backoff import run_until_stopped
from core.celery_app import celery_app  # the app's broker URL and transport options
from core.health import poison
from core.health.report import InvalidReport, parse_report, registry_refusal
from core.health.store import Refused, apply_reports_isolating
from core.logs import configure_logging
from core.models.types import utcnow
from core.settings import get_settings

log = logging.getLogger("processes.health_batch_worker")

CONSUMER = "health.batch_worker"
# health.report, and the replays of kept messages (tasks/health.py): the same arguments.
TASK_NAMES = ("health.report", "health.bridge", "health.batch_worker")
QUEUE = "health"


class HealthBatchWorker:
    """Consumes the `health` queue in batches of up to `batch_max` reports until `stop` is set."""

    def __init__(self, batch_max: int, batch_wait_s: float = 0.02, queue: str = QUEUE) -> None:
        self.queue = queue
        self.batch_max = max(1, batch_max)
        self.batch_wait_s = batch_wait_s
        self._messages: list[Message] = []
        self._rows: list[dict[str, Any]] = []
        self._kept: list[Any] = []  # each message as it arrived, kept if the database refuses it

    def run(self, stop: threading.Event) -> None:
        """Consume, reconnecting with backoff after a broker or database failure, until stopped."""
        # Any error: the broker or the database is away; back off (1 s, 2 s, ... 30 s), reconnect.
        run_until_stopped(self.consume, stop, (Exception,), cap_s=30.0, base_s=1.0,
                          what="health batch worker paused", logger=log)

    def consume(self, stop: threading.Event) -> None:
        """One broker connection's life: fill a batch, store it, ack it; returns when stopped."""
        with celery_app.connection_for_read() as connection, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="health-writer") as writer:
            with connection.Consumer(Queue(self.queue), callbacks=[self._on_message],
                                     on_decode_error=self._on_undecodable, accept=["json"],
                                     prefetch_count=2 * self.batch_max):
                log.info("health batch worker consuming queue=%s batch_max=%d", self.queue,
                         self.batch_max)
                while not stop.is_set():
                    self._drain(connection)
                    if self._messages:
                        self.flush(connection, writer)
                self.flush(connection, writer)

    def flush(self, connection: Any, writer: ThreadPoolExecutor) -> None:
        """Store the pending reports in one transaction, then ack their messages.

        The write runs in the writer thread while this thread keeps receiving the next
        batch (kombu's channel stays on this thread), so fetching and writing overlap.
        """
        if not self._messages:
            return
        messages, rows, kept = self._messages, self._rows, self._kept
        self._messages, self._rows, self._kept = [], [], []
        written = writer.submit(apply_reports_isolating, rows)
        while not written.done():
            if len(self._messages) < self.batch_max:
                self._drain(connection, timeout_s=0.005)
            else:
                wait([written])
        try:
            outcomes = written.result()
        except Exception:  # the database does not answer (DatabaseUnavailable), or worse
            for message in messages + self._messages:
                if not message.acknowledged:
                    message.requeue()  # back to the queue: nothing is lost, the worker backs off
            self._messages, self._rows, self._kept = [], [], []
            raise
        for message, row, arrived, outcome in zip(messages, rows, kept, outcomes, strict=True):
            if isinstance(outcome, Refused):
                self._refuse(message, arrived, InvalidReport("refused", outcome.reason),
                             device=row["raspberry_id"])
        ack_all([m for m in messages if not m.acknowledged])

    def _drain(self, connection: Any, timeout_s: float | None = None) -> None:
        """Receive messages until the batch is full or none came for a moment."""
        while len(self._messages) < self.batch_max:
            try:
                connection.drain_events(timeout=timeout_s or self.batch_wait_s)
            except socket.timeout:
                return

    def _on_message(self, body: Any, message: Message) -> None:
        task = (message.headers or {}).get("task")
        args, kwargs = _call_arguments(body)
        if args is None:
            self._refuse(message, body, InvalidReport("not_a_task", "not a Celery protocol 2 message"))
            return
        if task not in TASK_NAMES:
            self._keep_foreign(message, str(task), args, kwargs)
            return
        report = args[0] if args else kwargs.get("report")
        encoding = args[1] if len(args) > 1 else kwargs.get("encoding")
        raw: Any = None
        try:
            raw = poison.report_of_call(report, encoding)
            row = parse_report(raw, received_at=utcnow())
        except InvalidReport as error:
            self._refuse(message, poison.message_of_call(report, encoding), error, raw=raw)
            return
        except Exception as exc:  # noqa: BLE001 - a parser bug must not stop ingestion
            self._refuse(message, poison.message_of_call(report, encoding), poison.unexpected(exc), raw=raw)
            return
        # The registry unreadable (DatabaseUnavailable) stops this connection: the message
        # goes back to the queue unacked and the worker backs off.
        if refused := registry_refusal(row):
            self._refuse(message, poison.message_of_call(report, encoding), refused, raw=raw)
            return
        self._messages.append(message)
        self._rows.append(row)
        self._kept.append(poison.message_of_call(report, encoding))

    def _on_undecodable(self, message: Message, exc: Exception) -> None:
        # Not JSON, not UTF-8, nested too deep, or a content type other than JSON.
        self._refuse(message, message.body, InvalidReport(
            "not_json", f"message body does not decode: {type(exc).__name__}: {str(exc)[:200]}"))

    def _refuse(self, message: Message, arrived: Any, error: InvalidReport, raw: Any = None,
                device: str | None = None) -> None:
        # Acked only once kept; if neither the database nor Redis takes it, the error stops
        # this connection and kombu hands the unacked messages back to the queue.
        poison.refuse(CONSUMER, arrived, error, raw=raw, device=device)
        message.ack()

    def _keep_foreign(self, message: Message, task: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        reason = "not a health.report (protocol 2) message on the health queue"
        reference = str((message.headers or {}).get("id") or "-")
        try:
            dead_letters.record(task, args, kwargs, reason, reference=reference)
        except Exception:  # noqa: BLE001 - the database is away: park it, never drop it
            dead_letters.park(task, args, kwargs, reason, reference)
        message.ack()


def ack_all(messages: list[Message]) -> None:
    """Ack messages; on the Redis transport in one pipeline (kombu's ack is a round trip each).

    The pipeline does what kombu's redis QoS.ack does per message (kombu pinned to 5.7.0 in
    requirements.txt; tests/health/test_batch_worker.py checks nothing stays unacked).
    """
    if not messages:
        return
    qos = messages[0].channel.qos
    if not (isinstance(qos, redis_transport.QoS) and hasattr(qos, "_remove_from_indices")):
        for message in messages:
            message.ack()
        return
    with qos.pipe_or_acquire() as pipe:
        for message in messages:
            qos._remove_from_indices(message.delivery_tag, pipe)
        pipe.execute()
    for message in messages:
        virtual.QoS.ack(qos, message.delivery_tag)
        message._state = "ACK"


def _call_arguments(body: Any) -> tuple[list[Any] | None, dict[str, Any] | None]:
    """Return (args, kwargs) of a Celery protocol 2 body [args, kwargs, embed], else (None, None)."""
    if isinstance(body, (list, tuple)) and len(body) == 3 and isinstance(body[0], (list, tuple)) \
            and isinstance(body[1], dict):
        return list(body[0]), body[1]
    return None, None


def main(argv: list[str] | None = None) -> int:
    """Run the batch worker until SIGTERM / SIGINT; the batch in hand is stored and acked, and
    messages received but not yet stored go back to the queue. Return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m processes.health_batch_worker")
    parser.add_argument("--queue", default=QUEUE, help="queue to read (default: health)")
    args = parser.parse_args(argv)
    configure_logging()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    HealthBatchWorker(get_settings().health_batch_max, queue=args.queue).run(stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
