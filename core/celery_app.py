"""The Celery app and its configuration: reliability settings live here, once.

The app lives in core so that web, Beat and core itself can send work by task name
(core.enqueue) without importing a task module; `tasks/` holds the task modules that
`celery -A tasks worker` loads.
"""
from __future__ import annotations

from typing import Any

from celery import Celery, signals
from kombu import Queue

from core.db import dispose_engine
from core.logs import configure_logging
from core.redis_client import reset_redis
from core.settings import get_settings
from core.sync.consinco.source import dispose_source_engine

# One queue per feature, named as the feature, so a slow OCR never delays a scan.
QUEUES = ("baixa", "health", "ruptura", "comprovantes", "sync", "default")

# Task name or prefix -> queue; exact names win over prefixes. Anything else
# (maintenance.*, dead_letters.*) goes to "default". Health housekeeping runs on "default":
# the health queue's batch worker only reads reports.
ROUTES = {"health.mark_silent_devices": "default", "health.prune_history": "default",
          **{f"{queue}.*": queue for queue in QUEUES if queue != "default"}}


class TimeLimits:
    """Task annotation: every task gets its family's soft and hard time limits from the
    settings (STOCKFLOW_TASK_TIME_LIMITS; the family is the task name before its dot)."""

    def annotate(self, task: Any) -> dict[str, float]:
        soft, hard = get_settings().time_limits(task.name.split(".", 1)[0])
        return {"soft_time_limit": soft, "time_limit": hard}

    def annotate_any(self) -> None:
        return None


def make_celery() -> Celery:
    """Build the Celery app from the settings."""
    settings = get_settings()
    app = Celery("stockflow")
    transport_options = {
        # A task unacked for longer than this is redelivered (acks_late); every retry
        # countdown stays below it (celery#7918, kombu#337).
        "visibility_timeout": settings.visibility_timeout_s,
    }
    app.conf.update(
        broker_url=settings.effective_broker_url,
        result_backend=settings.effective_redis_url,
        broker_transport_options=transport_options,
        result_backend_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # No task runs forever: soft and hard limits per family (tasks.base words the failure).
        task_annotations=[TimeLimits()],
        worker_prefetch_multiplier=1,
        task_track_started=True,
        worker_send_task_events=True,
        task_send_sent_event=True,
        result_expires=settings.result_expires_s,
        result_extended=True,
        timezone=settings.timezone,
        enable_utc=True,
        task_default_queue="default",
        task_queues=[Queue(name) for name in QUEUES],
        task_routes=[{pattern: {"queue": queue} for pattern, queue in ROUTES.items()}],
        worker_hijack_root_logger=False,
        # A message the worker cannot run (undecodable, unknown task) is kept as a dead letter.
        worker_consumer="core.worker_consumer:PoisonKeepingConsumer",
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # Beat: one scheduler even when two are started (RedBeat's Redis lock).
        redbeat_redis_url=settings.effective_redis_url,
        redbeat_key_prefix="stockflow:redbeat",
        redbeat_lock_timeout=300,
    )
    return app


celery_app = make_celery()


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    configure_logging()


@signals.worker_process_init.connect
def _after_fork(**_: Any) -> None:
    # A forked child must not reuse the parent's database, Consinco or Redis sockets.
    dispose_engine()
    dispose_source_engine()
    reset_redis()
