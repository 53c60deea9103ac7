"""The Celery app and its configuration: reliability settings live here, once.

The app lives in core so that web, Beat and core itself can send work by task name
(core.enqueue) without importing a task module; `tasks/` holds the task modules that
`celery -A tasks worker` loads.
"""
from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals
from kombu import Exchange, Queue

from core.db import dispose_engine
from core.heartbeats import WorkerHeartbeat, beat_every_tick
from core.logs import configure_logging
from core.redis_client import reset_redis
from core.settings import Settings, get_settings
from core.sync.consinco.source import dispose_source_engine

log = logging.getLogger(__name__)

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


def task_queues(amqp: bool) -> list[Queue]:
    """The feature queues. On RabbitMQ: quorum queues (durable, replicated when clustered, the
    type each Pi's publish expects) behind topic exchanges, which Celery's native delayed
    delivery needs for retry countdowns (quorum queues have no global QoS, so a worker could
    not hold countdown tasks without stalling its prefetch)."""
    if not amqp:
        return [Queue(name) for name in QUEUES]
    return [Queue(name, Exchange(name, type="topic", durable=True), routing_key=name,
                  durable=True, queue_arguments={"x-queue-type": "quorum"}) for name in QUEUES]


def broker_options(settings: Settings) -> dict[str, Any]:
    """The broker-specific part of the configuration (Redis or RabbitMQ)."""
    redis_tls = settings.redis_ssl_options()
    options: dict[str, Any] = {
        "broker_use_ssl": settings.broker_ssl_options(),
        "redis_backend_use_ssl": redis_tls or None,
        # RedBeat would take broker_use_ssl, which holds py-amqp's keywords on RabbitMQ.
        "redbeat_redis_use_ssl": redis_tls or None,
    }
    if settings.broker_is_amqp:
        return {**options,
                # the broker confirms each publish (a retry is in before its original is acked)
                "broker_transport_options": {"confirm_publish": True},
                # a worker host lost without closing its sockets is noticed by missed beats
                # (about 25 s at 10 s, bench/brokers.py); its unacked tasks then run elsewhere
                "broker_heartbeat": settings.broker_heartbeat_s,
                "task_default_delivery_mode": "persistent",  # quorum queues keep every message
                "worker_detect_quorum_queues": True,  # per-consumer QoS, native delayed delivery
                "task_default_exchange_type": "topic"}
    # A task unacked for longer than this is redelivered (acks_late); every retry
    # countdown stays below it (celery#7918, kombu#337). Workers look for such tasks every
    # 10 s (kombu's default throttle of 10 made it every 100 s: a lost host's tasks came back
    # up to 100 s after the timeout; tests/multihost measures it).
    return {**options, "broker_transport_options": {
        "visibility_timeout": settings.visibility_timeout_s, "unacked_restore_throttle": 1}}


def make_celery() -> Celery:
    """Build the Celery app from the settings."""
    settings = get_settings()
    app = Celery("stockflow")
    app.conf.update(
        broker_url=settings.effective_broker_url,
        result_backend=settings.effective_redis_url,
        result_backend_transport_options={"visibility_timeout": settings.visibility_timeout_s},
        # One backend object per process: Celery otherwise builds one per thread, and under
        # gevent every request is a new "thread", so each send built a Redis backend (about
        # 0.8 ms of a web worker's CPU per upload). redis-py's client is thread-safe.
        result_backend_thread_safe=True,
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
        task_queues=task_queues(settings.broker_is_amqp),
        task_routes=[{pattern: {"queue": queue} for pattern, queue in ROUTES.items()}],
        worker_hijack_root_logger=False,
        # A message the worker cannot run (undecodable, unknown task) is kept as a dead letter.
        worker_consumer="core.worker_consumer:PoisonKeepingConsumer",
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # Beat: one scheduler even when two are started (RedBeat's Redis lock).
        redbeat_redis_url=settings.effective_redis_url,
        redbeat_key_prefix="stockflow:redbeat",
        # A Beat that died (e.g. Redis went away under it) frees its lock within a minute, so
        # the restarted one schedules again soon; it renews the lock every 10 s tick.
        redbeat_lock_timeout=60,
        beat_max_loop_interval=10,
        **broker_options(settings),
    )
    return app


celery_app = make_celery()
# Liveness: every worker records a heartbeat in Redis (core/heartbeats.py); so does Beat.
celery_app.steps["consumer"].add(WorkerHeartbeat)


@signals.beat_init.connect
def _beat_heartbeat(sender: Any, **_: Any) -> None:
    beat_every_tick(sender)


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    configure_logging()


@signals.worker_init.connect
def _declare_every_queue(**_: Any) -> None:
    """RabbitMQ: every worker declares every feature queue and its exchange, whichever queues
    it consumes, so the Pis' publishes (which declare nothing, and must be routed: mandatory)
    always find them, and Celery's delayed delivery can bind them all."""
    if not get_settings().broker_is_amqp:
        return
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=3)
            for queue in task_queues(amqp=True):
                queue(connection.default_channel).declare()
    except Exception as exc:  # noqa: BLE001 - the consumer declares its own queues anyway
        log.warning("feature queues not declared error=%s: %s", type(exc).__name__, exc)


@signals.worker_process_init.connect
def _after_fork(**_: Any) -> None:
    # A forked child must not reuse the parent's database, Consinco or Redis sockets.
    dispose_engine()
    dispose_source_engine()
    reset_redis()
