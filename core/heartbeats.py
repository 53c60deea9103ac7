"""Liveness of workers and Beat: each records a heartbeat in Redis, readers judge it stale.

A worker beats from a consumer bootstep on the consumer's own timer (every
STOCKFLOW_HEARTBEAT_INTERVAL_S): with prefork the timer is driven by the worker's event loop,
so a worker whose loop is stuck stops beating too. Beat records one after each tick that
succeeded (at least every 10 s, beat_max_loop_interval). A worker or Beat unheard of for
STOCKFLOW_HEARTBEAT_STALE_S is not alive; one that shut down says so at once, and whether
it was asked to (a deploy or scale-down: "encerrado", no worker_parado alert) or gave up on an
error. A killed worker (-9) cannot say anything: its silence makes it "parado".
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from celery import bootsteps

from core.redis_client import get_redis
from core.settings import get_settings
from core.sse import publish_safely

log = logging.getLogger(__name__)

WORKERS_KEY = "stockflow:heartbeats:workers"
BEAT_KEY = "stockflow:heartbeats:beat"
# A worker gone for longer than this leaves the list (it is shown as stopped until then);
# one that shut down cleanly (scaled down, restarted under a new name) leaves it sooner.
FORGET_AFTER_S = 86_400
FORGET_STOPPED_AFTER_S = 3_600


@dataclass(frozen=True)
class WorkerBeat:
    hostname: str
    queues: list[str]
    last_seen: datetime
    alive: bool
    pid: int | None = None
    ended: bool = False  # shut down on purpose (deploy, scale-down): nothing to alert


def record_worker(hostname: str, queues: list[str], stopped: bool = False,
                  on_purpose: bool = False) -> None:
    """Write a worker's heartbeat (stopped=True: it is shutting down, not alive from now;
    on_purpose=True: because it was asked to, so it is "encerrado", not "parado")."""
    entry = {"queues": sorted(queues), "pid": os.getpid(), "at": time.time(), "stopped": stopped,
             "on_purpose": stopped and on_purpose}
    get_redis().hset(WORKERS_KEY, hostname, json.dumps(entry))


def record_beat() -> None:
    """Write Beat's heartbeat."""
    entry = {"host": socket.gethostname(), "pid": os.getpid(), "at": time.time()}
    get_redis().set(BEAT_KEY, json.dumps(entry), ex=FORGET_AFTER_S)


def _is_fresh(at: float, now: float) -> bool:
    return now - at <= get_settings().heartbeat_stale_s


def _as_datetime(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=UTC)


def workers() -> list[WorkerBeat]:
    """Every worker heard of in the last day, alive or not, by hostname."""
    redis = get_redis()
    now = time.time()
    beats, forgotten = [], []
    for hostname, text in sorted(redis.hgetall(WORKERS_KEY).items()):
        entry = json.loads(text)
        if now - entry["at"] > (FORGET_STOPPED_AFTER_S if entry.get("stopped") else FORGET_AFTER_S):
            forgotten.append(hostname)
            continue
        beats.append(WorkerBeat(hostname=hostname, queues=list(entry["queues"]),
                                last_seen=_as_datetime(entry["at"]), pid=entry.get("pid"),
                                alive=_is_fresh(entry["at"], now) and not entry.get("stopped"),
                                ended=bool(entry.get("on_purpose"))))
    if forgotten:
        redis.hdel(WORKERS_KEY, *forgotten)
    return beats


def consumers_by_queue() -> dict[str, int]:
    """Alive workers per queue: every feature queue is present, 0 when nobody consumes it."""
    from core.celery_app import QUEUES

    counts = dict.fromkeys(QUEUES, 0)
    for beat in workers():
        if beat.alive:
            for queue in beat.queues:
                counts[queue] = counts.get(queue, 0) + 1
    return counts


def beat_last_seen() -> datetime | None:
    text = get_redis().get(BEAT_KEY)
    return _as_datetime(json.loads(text)["at"]) if text else None


def beat_alive() -> bool:
    last_seen = beat_last_seen()
    return last_seen is not None and _is_fresh(last_seen.timestamp(), time.time())


def workers_event() -> dict[str, Any]:
    """The overview's live worker figures (Redis only: cheap enough for a worker to send)."""
    consumers = consumers_by_queue()
    last_seen = beat_last_seen()
    # "agora" and "parado_apos_s" let the page itself see a heartbeat go stale when nothing
    # publishes (the worker that ran the periodic publish is the one that died)
    return {"workers": [{"hostname": beat.hostname, "filas": beat.queues,
                         "visto_em": beat.last_seen.isoformat(), "vivo": beat.alive,
                         "encerrado": beat.ended}
                        for beat in workers()],
            "consumidores": consumers,
            "beat": {"visto_em": last_seen.isoformat() if last_seen else None, "vivo": beat_alive()},
            "agora": datetime.now(UTC).isoformat(), "parado_apos_s": get_settings().heartbeat_stale_s}


def publish_workers() -> None:
    """Tell open overviews at once that a worker started or stopped (core/overview.py)."""
    try:
        publish_safely("overview:operacao", "workers", workers_event())
    except Exception as exc:  # noqa: BLE001 - the overview's periodic publish catches up
        log.warning("workers not published error=%s: %s", type(exc).__name__, exc)


def _consumed_queues(consumer: Any) -> list[str]:
    task_consumer = getattr(consumer, "task_consumer", None)
    if task_consumer is not None:
        return [queue.name for queue in task_consumer.queues]
    return list(consumer.app.amqp.queues.consume_from or consumer.app.amqp.queues)


def _asked_to_stop(consumer: Any) -> bool:
    """Whether the worker shuts down because someone asked (SIGTERM/SIGINT/SIGQUIT: a deploy,
    a scale-down, Ctrl+C; or `celery control shutdown`, which ends with exit code 0) rather
    than because it gave up (an unrecoverable error, the broker gone with retries off)."""
    from celery.worker import state

    # the signal handlers set these flags to the exit code, and EX_OK is 0: compare to None
    signalled = any(flag is not None and flag is not False
                    for flag in (state.should_stop, state.should_terminate))
    return signalled or getattr(consumer.controller, "exitcode", None) == 0


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Consumer bootstep: beat now and then every interval while the consumer runs."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, consumer: Any, **kwargs: Any) -> None:
        self.timer_entry: Any = None
        super().__init__(consumer, **kwargs)

    def beat(self, consumer: Any, stopped: bool = False, on_purpose: bool = False) -> None:
        try:
            record_worker(consumer.hostname, _consumed_queues(consumer), stopped=stopped,
                          on_purpose=on_purpose)
        except Exception as exc:  # noqa: BLE001 - a missed beat only makes the worker look late
            log.warning("worker heartbeat not recorded error=%s: %s", type(exc).__name__, exc)

    def start(self, consumer: Any) -> None:
        self.beat(consumer)
        publish_workers()
        self.timer_entry = consumer.timer.call_repeatedly(
            get_settings().heartbeat_interval_s, self.beat, (consumer,), priority=10)

    def stop(self, consumer: Any) -> None:
        # also on a lost broker connection: the consumer restarts and start() beats again
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    def shutdown(self, consumer: Any) -> None:
        # the worker's shutdown (WorkController.on_stopped), after its exit code is known
        self.stop(consumer)
        self.beat(consumer, stopped=True, on_purpose=_asked_to_stop(consumer))
        publish_workers()


def beat_every_tick(service: Any) -> None:
    """Wrap the Beat scheduler's tick (any scheduler; called from the beat_init signal, after
    RedBeat took its lock): a successful tick records Beat's heartbeat."""
    scheduler = service.scheduler
    tick = scheduler.tick

    def tick_and_beat(*args: Any, **kwargs: Any) -> Any:
        interval = tick(*args, **kwargs)
        try:
            record_beat()
        except Exception as exc:  # noqa: BLE001 - Beat keeps scheduling; it only looks late
            log.warning("beat heartbeat not recorded error=%s: %s", type(exc).__name__, exc)
        return interval

    scheduler.tick = tick_and_beat
