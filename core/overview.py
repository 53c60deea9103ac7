"""The operations overview: the figures the home page shows, one block per area, live over SSE.

Each block is published on its own SSE channel `overview:<block>`, so a user reads only the
blocks of the areas their role may open (web/home.py's channel rule). Beat's
`maintenance.publish_overview` publishes every block every STOCKFLOW_OVERVIEW_INTERVAL_S and
samples the queue depths for the 24-hour chart (nothing else keeps them); a new, replayed or
discarded dead letter (its figures only) and a worker starting or stopping publish at once.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import dead_letters, heartbeats
from core.db import session_scope
from core.models import Comprovante, DeadLetter, Job, ProdutoRemovido, SyncRun
from core.models.types import utcnow
from core.redis_client import get_redis
from core.sse import publish_safely

log = logging.getLogger(__name__)

OPERATIONS, BAIXAS, DEVICES, SYNC, RECEIPTS = "operacao", "baixas", "dispositivos", "sync", "comprovantes"
BLOCKS = (OPERATIONS, BAIXAS, DEVICES, SYNC, RECEIPTS)
CHART_HOURS = 24
# Tasks per minute: the jobs ended over this window, per minute (a steadier figure than one minute).
RATE_WINDOW_MIN = 5
DEPTH_SAMPLES_KEY = "stockflow:overview:queue-depth-samples"
DEPTH_SAMPLED_KEY = "stockflow:overview:queue-depth-sampled"
DEPTH_SAMPLE_EVERY_S = 60
NIGHTLY_TRIGGER = "agendador"  # sync runs Beat's nightly task starts (tasks/sync.py)
REVIEW_PENDING = "pendente"


def channel(block: str) -> str:
    return f"overview:{block}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- live figures (Redis, the broker) --------------------------------------------------

def queue_depths(app: Any = None) -> dict[str, int | None]:
    """Messages waiting in each feature queue of the app's broker (default: the platform's);
    None: unknown (the broker did not answer, or the queue does not exist yet)."""
    from core.celery_app import QUEUES, celery_app

    depths: dict[str, int | None] = dict.fromkeys(QUEUES)
    try:
        with (app or celery_app).connection_for_read() as connection:
            connection.ensure_connection(max_retries=1)
            if connection.transport.driver_type == "amqp":
                for name in QUEUES:
                    depths[name] = _amqp_depth(connection, name)
            else:
                # kombu's Redis channel: LLEN of the queue's list, summed over its priority lists
                channel = connection.default_channel
                for name in QUEUES:
                    depths[name] = int(channel._size(name))
    except Exception as exc:  # noqa: BLE001 - the overview shows "unknown" rather than failing
        log.warning("queue depths not read error=%s: %s", type(exc).__name__, exc)
    return depths


def _amqp_depth(connection: Any, name: str) -> int | None:
    """RabbitMQ: a passive declare's message count (None when the queue does not exist yet)."""
    channel = connection.channel()
    try:
        return int(channel.queue_declare(queue=name, passive=True).message_count)
    except Exception:  # noqa: BLE001 - NOT_FOUND closes the channel; the queue is simply absent
        return None
    finally:
        try:
            channel.close()
        except Exception:  # noqa: BLE001 - already closed by the broker
            pass


def sample_queue_depths(depths: dict[str, int | None], now: float | None = None) -> bool:
    """Keep at most one sample a minute of the total depth for 24 hours; return whether kept."""
    now = time.time() if now is None else now
    redis = get_redis()
    if not redis.set(DEPTH_SAMPLED_KEY, "1", nx=True, ex=DEPTH_SAMPLE_EVERY_S - 1):
        return False
    total = sum(depth for depth in depths.values() if depth is not None)
    pipe = redis.pipeline(transaction=False)
    pipe.zadd(DEPTH_SAMPLES_KEY, {json.dumps({"at": now, "total": total}): now})
    pipe.zremrangebyscore(DEPTH_SAMPLES_KEY, "-inf", now - CHART_HOURS * 3600)
    pipe.execute()
    return True


def depth_per_hour(now: datetime) -> list[dict[str, Any]]:
    """The largest total queue depth sampled in each of the last 24 hours (None: no sample)."""
    hours = _hours(now)
    peaks: dict[str, int] = {}
    start = hours[0].timestamp()
    for member in get_redis().zrangebyscore(DEPTH_SAMPLES_KEY, start, "+inf"):
        sample = json.loads(member)
        key = _hour_key(datetime.fromtimestamp(sample["at"], tz=now.tzinfo))
        peaks[key] = max(peaks.get(key, 0), sample["total"])
    return [{"hora": hour.isoformat(), "valor": peaks.get(_hour_key(hour))} for hour in hours]


# --- figures from the tables ----------------------------------------------------------

def _hours(now: datetime) -> list[datetime]:
    """The starts of the last 24 hours, oldest first (the current hour last)."""
    current = now.replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=back) for back in range(CHART_HOURS - 1, -1, -1)]


def _hour_key(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H")


def _hour_of(session: Session, column: Any) -> Any:
    """SQL for the 'YYYY-MM-DD HH' of a UTC timestamp column (SQLite stores it as text)."""
    if session.get_bind().dialect.name == "mysql":
        return func.date_format(column, "%Y-%m-%d %H")
    return func.substr(column, 1, 13)


def per_hour(session: Session, column: Any, now: datetime, *conditions: Any) -> list[dict[str, Any]]:
    """Rows per hour of `column` (a UTC timestamp) over the last 24 hours."""
    hours = _hours(now)
    bucket = _hour_of(session, column)
    counts = dict(session.execute(
        select(bucket, func.count()).where(column >= hours[0], *conditions).group_by(bucket)).all())
    return [{"hora": hour.isoformat(), "valor": int(counts.get(_hour_key(hour), 0))} for hour in hours]


def tasks_per_minute(session: Session, now: datetime) -> float:
    ended = session.scalar(select(func.count()).select_from(Job).where(
        Job.ended_at >= now - timedelta(minutes=RATE_WINDOW_MIN))) or 0
    return round(ended / RATE_WINDOW_MIN, 1)


def receipts_waiting_review(session: Session) -> int:
    """Receipts a person must review (revisao "pendente", core/comprovantes/review.py)."""
    return session.scalar(select(func.count()).select_from(Comprovante).where(
        Comprovante.revisao == REVIEW_PENDING)) or 0


def last_nightly_sync(session: Session, now: datetime) -> dict[str, Any]:
    """The newest nightly run of each entity, their status in one word, and the lag: how old
    the oldest of their data is (since the run that finished last of each entity)."""
    newest = select(SyncRun.entidade, func.max(SyncRun.started_at).label("started")).where(
        SyncRun.triggered_by == NIGHTLY_TRIGGER).group_by(SyncRun.entidade).subquery()
    runs = list(session.scalars(select(SyncRun).join(newest, (SyncRun.entidade == newest.c.entidade)
                                                     & (SyncRun.started_at == newest.c.started))
                                .order_by(SyncRun.entidade)))
    finished = dict(session.execute(select(SyncRun.entidade, func.max(SyncRun.finished_at)).where(
        SyncRun.status == "finished").group_by(SyncRun.entidade)).all())
    statuses = {run.status for run in runs}
    status = ("nunca" if not runs else "falhou" if "failed" in statuses
              else "em andamento" if "running" in statuses else "concluida")
    oldest_finish = min(finished.values()) if finished else None
    return {
        "status": status,
        "inicio": _iso(min((run.started_at for run in runs), default=None)),
        "fim": _iso(max((run.finished_at for run in runs if run.finished_at), default=None)),
        "entidades": [{"entidade": run.entidade, "status": run.status, "erro": run.error}
                      for run in runs],
        "ultima_conclusao": _iso(oldest_finish),
        "atraso_s": round((now - oldest_finish).total_seconds()) if oldest_finish else None,
    }


# --- the blocks -------------------------------------------------------------------------

def operations_block(now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    liveness = heartbeats.workers_event()
    consumers = liveness["consumidores"]
    depths = queue_depths()
    try:
        sample_queue_depths(depths)
    except Exception as exc:  # noqa: BLE001 - a missed sample is a gap in the chart, no more
        log.warning("queue depth not sampled error=%s: %s", type(exc).__name__, exc)
    with session_scope() as session:
        rate = tasks_per_minute(session, now)
        tasks_chart = per_hour(session, Job.ended_at, now)
    return {
        **liveness,
        **dead_letter_figures(now),
        "filas": [{"nome": name, "consumidores": consumers.get(name, 0), "profundidade": depths.get(name)}
                  for name in consumers],
        "tarefas_por_minuto": rate,
        "graficos": {"tarefas": tasks_chart, "profundidade": depth_per_hour(now)},
        "gerado_em": now.isoformat(),
    }


def dead_letter_figures(now: datetime | None = None) -> dict[str, Any]:
    """The operations block's dead-letter part (the database only: what a task that just
    recorded a failure can afford to send, whatever else is down)."""
    now = now or utcnow()
    by_area = dead_letters.open_by_area()
    with session_scope() as session:
        chart = per_hour(session, DeadLetter.created_at, now)
    return {"falhas_por_area": [{"area": area, "abertas": count} for area, count in by_area.items()],
            "falhas_abertas": sum(by_area.values()), "grafico_falhas": chart}


def publish_dead_letters_safely() -> None:
    """Send the dead-letter figures to open overviews ("falhas" event), never failing the caller."""
    try:
        publish_safely(channel(OPERATIONS), "falhas", dead_letter_figures())
    except Exception as exc:  # noqa: BLE001 - Beat's periodic publish catches up
        log.warning("dead-letter figures not published error=%s: %s", type(exc).__name__, exc)


def baixas_block(now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    with session_scope() as session:
        chart = per_hour(session, ProdutoRemovido.data_retirada, now)
        last_hour = session.scalar(select(func.count()).select_from(ProdutoRemovido).where(
            ProdutoRemovido.data_retirada >= now - timedelta(hours=1))) or 0
    return {"ultima_hora": last_hour, "graficos": {"baixas": chart}, "gerado_em": now.isoformat()}


def devices_block(now: datetime | None = None) -> dict[str, Any]:
    from core.health import fleet

    now = now or utcnow()
    devices = fleet.fleet()
    spooling = [{"id": device["id"], "loja": device["store_key"], "leituras": device["spool_depth"],
                 "mais_antiga": device["spool_oldest_at"]}
                for device in devices if (device["spool_depth"] or 0) > 0]
    return {
        "total": len(devices),
        "offline": sum(1 for device in devices if device["status"] == "offline"),
        "sem_relatorio": sum(1 for device in devices if device["status"] == "stale"),
        # sick: reporting, but something is wrong (fleet's severity 2)
        "com_problema": sum(1 for device in devices if device["severity"] == 2),
        "com_fila": sorted(spooling, key=lambda device: -device["leituras"]),
        "gerado_em": now.isoformat(),
    }


def sync_block(now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    with session_scope() as session:
        return {**last_nightly_sync(session, now), "gerado_em": now.isoformat()}


def receipts_block(now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    with session_scope() as session:
        return {"pendentes": receipts_waiting_review(session), "gerado_em": now.isoformat()}


BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    OPERATIONS: operations_block, BAIXAS: baixas_block, DEVICES: devices_block,
    SYNC: sync_block, RECEIPTS: receipts_block,
}


def block(name: str, now: datetime | None = None) -> dict[str, Any]:
    return BUILDERS[name](now)


def publish_block(name: str, now: datetime | None = None) -> str | None:
    return publish_safely(channel(name), name, block(name, now))


def publish_all() -> dict[str, Any]:
    """Beat's periodic run: publish every block (the operations block samples the queues)."""
    now = utcnow()
    published: dict[str, Any] = {}
    for name in BLOCKS:
        try:
            published[name] = publish_block(name, now)
        except Exception as exc:  # noqa: BLE001 - one area's trouble must not hide the others
            log.warning("overview block not built block=%s error=%s: %s", name, type(exc).__name__, exc)
            published[name] = None
    return published
