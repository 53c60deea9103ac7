"""The Celery worker's message consumer, keeping the messages it cannot run as dead letters.

Stock Celery logs and acks a message it cannot decode and rejects (drops) one naming a task it
does not know or in no task format: one bad message and the evidence is gone. Here each such
message is kept first (core.dead_letters.keep_message, parked in Redis while the database is
down) with the reason, then handled as Celery would, so the worker goes on with the next one.
When neither the database nor Redis takes it, the message goes back to the broker instead.
A message naming a task a newer deploy will know (unknown task) is kept under that task's
name, so replaying the dead letter sends it again; the others are kept as `celery.poison`.

The queues the Pis may publish to (baixa, health) run only the tasks routed to them: the broker
lets a device write there, so a message naming any other task (a sync, a dead-letter replay) on
those queues is someone's forgery and is kept as a dead letter instead of run.
"""
from __future__ import annotations

import logging
from typing import Any

from celery.worker.consumer import Consumer
from kombu.utils.encoding import safe_str
from vine import promise

from core import dead_letters

log = logging.getLogger(__name__)

POISON = "celery.poison"

# Queue -> the only tasks it runs. Device credentials may publish to these queues.
DEVICE_QUEUES = {"baixa": frozenset({"baixa.registrar"}),
                 "health": frozenset({"health.report", "health.bridge", "health.batch_worker"})}


def arrival_queue(message: Any) -> str:
    """The queue a message came through: its routing key, whose last word is the queue also on
    RabbitMQ's delayed delivery ("1.0.1...baixa")."""
    routing_key = str((message.delivery_info or {}).get("routing_key") or "")
    return routing_key.rsplit(".", 1)[-1]


def task_name_of(message: Any) -> str | None:
    """The task a message names: protocol 2 in its headers, protocol 1 in its body."""
    name = (message.headers or {}).get("task")
    if name is None:
        try:
            body = message.decode()
        except Exception:  # noqa: BLE001 - undecodable: Celery's own path keeps it
            return None
        name = body.get("task") if isinstance(body, dict) else None
    return safe_str(name) if name is not None else None


class PoisonKeepingConsumer(Consumer):
    """Consumer (set as the app's `worker_consumer`) that keeps every message it cannot run."""

    def create_task_handler(self, promise: Any = promise) -> Any:
        handle = super().create_task_handler(promise)

        def on_task_received(message: Any) -> Any:
            allowed = DEVICE_QUEUES.get(arrival_queue(message))
            name = task_name_of(message) if allowed is not None else None
            if allowed is not None and name is not None and name not in allowed:
                if self._keep(POISON, message.body, f"tarefa {name[:128]!r} recusada: esta fila só "
                              f"aceita {', '.join(sorted(allowed))}", message):
                    log.warning("refused task %r on a device queue", name[:128])
                    message.ack()
                return None
            return handle(message)

        return on_task_received

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        if self._keep(POISON, message.body, f"mensagem ilegível ({type(exc).__name__}: {exc})",
                      message):
            super().on_decode_error(message, exc)

    def on_unknown_message(self, body: Any, message: Any) -> None:
        if self._keep(POISON, message.body, "mensagem fora do formato de tarefa do Celery",
                      message):
            super().on_unknown_message(body, message)

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        name = (message.headers or {}).get("task")
        task_name = name if isinstance(name, str) and 0 < len(name) <= 128 else POISON
        if self._keep_call(task_name, body, message, f"tarefa desconhecida: {name!r}"):
            super().on_unknown_task(body, message, exc)

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        if self._keep(POISON, message.body, f"tarefa inválida ({type(exc).__name__}: {exc})",
                      message):
            super().on_invalid_task(body, message, exc)

    def _keep_call(self, task_name: str, body: Any, message: Any, error: str) -> bool:
        """Keep an unknown task's call as args/kwargs (replayable as is), else its raw body."""
        try:  # Celery passes no body for protocol 2: decoding is the pool's job
            args, kwargs, _embed = body if body is not None else message.decode()
            if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict):
                raise ValueError("not protocol 2")
        except Exception:  # noqa: BLE001 - any undecodable shape: keep the raw body instead
            return self._keep(task_name, message.body, error, message)
        reference = str((message.headers or {}).get("id") or "")[:128] or None
        try:
            try:
                dead_letters.record(task_name, list(args), dict(kwargs), error, reference=reference)
            except Exception:  # noqa: BLE001 - the database is away: park it, never drop it
                dead_letters.park(task_name, list(args), dict(kwargs), error,
                                  reference or task_name)
        except Exception:  # noqa: BLE001 - neither took it: back to the broker
            return self._requeue(message)
        return True

    def _keep(self, task_name: str, raw: Any, error: str, message: Any) -> bool:
        """Keep the raw message; return False (after requeueing it) when nothing took it."""
        queue = (message.delivery_info or {}).get("routing_key") or "?"
        try:
            dead_letters.keep_message(task_name, raw, f"{error} (fila {queue})")
        except Exception:  # noqa: BLE001 - neither the database nor Redis: back to the broker
            return self._requeue(message)
        return True

    def _requeue(self, message: Any) -> bool:
        log.error("poison message kept nowhere (database and Redis down); back to the broker")
        message.reject_log_error(log, self.connection_errors, requeue=True)
        return False
