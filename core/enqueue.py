"""The one way to start background work: send a task by name through the Celery app.

Web, Beat and core all enqueue here, never by importing a task module, so
`core` depends on no task code and the routing (core.celery_app.ROUTES) decides the queue.
Enqueue after the transaction that the task reads has committed.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from core.celery_app import celery_app

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """The broker did not take the message within the time the caller can wait."""


def enqueue(task_name: str, kwargs: dict[str, Any] | None = None, *,
            args: Sequence[Any] = (), queue: str | None = None,
            timeout_s: float | None = None) -> str:
    """Send one task by name and return its task id.

    With `timeout_s`, a broker that does not answer within it raises BrokerUnavailable after
    a single attempt (a person is waiting on the page); without it, kombu's own retry policy
    applies (Beat, workers, scripts).
    """
    return _send(task_name, [(list(args), kwargs or {})], queue, timeout_s)[0]


def enqueue_many(task_name: str, kwargs_list: Iterable[dict[str, Any]], *,
                 queue: str | None = None, timeout_s: float | None = None) -> list[str]:
    """Send one task per kwargs, in order, over one pooled producer; return their task ids."""
    return _send(task_name, [([], kwargs) for kwargs in kwargs_list], queue, timeout_s)


def _send(task_name: str, calls: list[tuple[list[Any], dict[str, Any]]], queue: str | None,
          timeout_s: float | None) -> list[str]:
    # The job registry holds outcomes: a sender that asked for the result would subscribe to
    # every task's result channel on a Redis backend and never read it.
    options: dict[str, Any] = {"ignore_result": True}
    if queue:
        options["queue"] = queue
    try:
        with celery_app.producer_pool.acquire(block=True, timeout=timeout_s) as producer:
            if timeout_s is not None:
                producer.connection.ensure_connection(
                    max_retries=1, interval_start=0, interval_step=0.1, timeout=timeout_s)
                options["retry"] = False
            return [celery_app.send_task(task_name, args=args, kwargs=kwargs,
                                         producer=producer, **options).id
                    for args, kwargs in calls]
    except Exception as exc:  # noqa: BLE001 - kombu, redis and socket errors all mean "not queued"
        if timeout_s is None:
            raise
        log.warning("broker unreachable task=%s error=%s: %s", task_name, type(exc).__name__, exc)
        raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc
