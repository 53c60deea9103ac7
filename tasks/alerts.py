"""Alerts, evaluated every minute by Beat (queue default), and the workers' watchdog that keeps
them evaluated when Beat itself has stopped (otherwise "Beat stopped" could never be sent).

The evaluation is a sweep: a failed run needs no retry (the next minute is the retry) and
its messages are pending rows that the next run sends.
"""
from __future__ import annotations

import logging
from typing import Any

from celery import bootsteps
from redis.exceptions import RedisError

from core.alerts import evaluator
from core.celery_app import celery_app
from core.enqueue import BrokerUnavailable, enqueue
from core.redis_client import get_redis
from core.settings import get_settings

log = logging.getLogger(__name__)

TASK_NAME = "alerts.evaluate"
# Beat sends the task every 60 s; a worker checks this often whether one ended lately
# (STOCKFLOW_ALERTS_WATCHDOG_S).
WATCHDOG_EVERY_S = 60
WATCHDOG_KEY = "stockflow:alerts:watchdog"


@celery_app.task(name=TASK_NAME)
def evaluate() -> dict[str, Any]:
    """Evaluate every alert rule and send the messages due; return what changed."""
    return evaluator.evaluate().as_dict()


def watchdog_check() -> bool:
    """Send an evaluation when none ended for STOCKFLOW_ALERTS_WATCHDOG_S (Beat down); one
    worker a minute does it (a Redis key). Return whether it sent one."""
    after_s = get_settings().alerts_watchdog_after_s
    if not after_s:
        return False
    try:
        since = evaluator.seconds_since_last_run()
        if since is not None and since < after_s:
            return False
        if not get_redis().set(WATCHDOG_KEY, "1", nx=True, ex=WATCHDOG_EVERY_S - 5):
            return False
        enqueue(TASK_NAME, {}, timeout_s=2)
    except (RedisError, BrokerUnavailable) as exc:
        log.warning("alerts watchdog could not check error=%s: %s", type(exc).__name__, exc)
        return False
    log.warning("alerts watchdog: no evaluation %s (Beat down?), sent one",
                "ever" if since is None else f"for {since:.0f} s")
    return True


class AlertsWatchdog(bootsteps.StartStopStep):
    """Consumer bootstep: every minute, watchdog_check() on the worker's own timer."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, consumer: Any, **kwargs: Any) -> None:
        self.timer_entry: Any = None
        super().__init__(consumer, **kwargs)

    def start(self, consumer: Any) -> None:
        self.timer_entry = consumer.timer.call_repeatedly(WATCHDOG_EVERY_S, watchdog_check,
                                                          priority=20)

    def stop(self, consumer: Any) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None


celery_app.steps["consumer"].add(AlertsWatchdog)
