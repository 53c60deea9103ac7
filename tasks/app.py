"""The Celery app: `celery -A tasks worker`. Reliability settings live here, once."""
from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals
from kombu import Queue

from core.db import dispose_engine
from core.logs import configure_logging
from core.redis_client import reset_redis
from core.settings import get_settings

# One queue per job family, so a slow OCR never delays a scan.
QUEUES = ("baixa", "health", "ruptura", "ocr", "sync", "default")

# Task-name prefix -> queue. Anything else (maintenance.*) goes to "default".
ROUTES = {"baixa.*": "baixa", "health.*": "health", "ruptura.*": "ruptura", "ocr.*": "ocr",
          "plusoft.*": "sync"}

# The modules holding tasks.
TASK_MODULES = [
    "tasks.maintenance",
    "tasks.baixa",
    "tasks.ruptura",
    "tasks.health",
    "tasks.plusoft",
    "tasks.ocr",
]


def make_celery() -> Celery:
    """Build the Celery app from the settings."""
    settings = get_settings()
    app = Celery("stockflow", include=TASK_MODULES)
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
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # Beat: one scheduler even when two are started (RedBeat's Redis lock).
        redbeat_redis_url=settings.effective_redis_url,
        redbeat_key_prefix="stockflow:redbeat",
        redbeat_lock_timeout=300,
    )
    from celerybeat.schedule import beat_schedule

    app.conf.beat_schedule = beat_schedule(settings)
    return app


celery_app = make_celery()


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    configure_logging()


@signals.worker_process_init.connect
def _after_fork(**_: Any) -> None:
    # A forked child must not reuse the parent's database or Redis sockets.
    dispose_engine()
    reset_redis()


log = logging.getLogger(__name__)
