"""GET /metrics for Prometheus: the platform's state in the text exposition format, behind a
bearer token (STOCKFLOW_METRICS_TOKEN).

Multi-process: gunicorn runs several web workers (platform/Procfile, the systemd unit, the
Dockerfile), and a scrape reaches any one of them. So nothing here lives in a process's memory:
- the gauges come from a custom Collector that reads the shared state at scrape time (the
  database, Redis, the broker), so every worker answers the same;
- the two histograms keep their buckets in Redis (`RedisHistogram`): upload latency is
  observed by whichever worker served the upload (web/comprovantes.py), OCR latency is folded
  in from the jobs table (created -> finished) at scrape time. They survive a web restart and
  count every worker and every web host, which prometheus_client's own multiprocess mode
  (files in PROMETHEUS_MULTIPROC_DIR, cleaned by a gunicorn hook) would not across hosts.
Each section that cannot be read (a database away) is left out and says so in
stockflow_metrics_section_up, so one outage does not blank the whole scrape.
"""
from __future__ import annotations

import functools
import hmac
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from sqlalchemy import func, select

from core import dead_letters, heartbeats, overview
from core.alerts.history import firing_by_rule
from core.db import session_scope
from core.models import DeviceStatus, Job, SyncRun
from core.models.sync import SyncRejection
from core.models.types import utcnow
from core.redis_client import get_redis
from core.settings import get_settings
from web.access import PUBLIC, requires
from web.stream_hub import open_stream_count

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)
View = TypeVar("View", bound=Callable[..., Any])

UPLOAD_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OCR_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
# Jobs ending this close to the scrape wait for the next one: a job's ended_at is stamped just
# before its transaction commits, so a later scrape still finds it past the watermark.
OCR_SETTLE_S = 30
OCR_JOB_KIND = "comprovantes"
OCR_WATERMARK_KEY = "stockflow:metrics:ocr-folded-until"
OCR_FOLD_LOCK = "stockflow:metrics:ocr-fold-lock"
FLUSH_S = 1.0  # longest an observation waits in its process before it reaches Redis


class RedisHistogram:
    """A Prometheus histogram whose counts live in one Redis hash, shared by every process.

    An observation is kept in the process first and added to Redis with the others of its
    second (one round trip per FLUSH_S instead of one per upload: about 0.3 ms of a web
    worker's CPU each, measured paired as docs/comprovantes.md tells), and before the process
    answers a scrape. A process that stops or is killed loses at most that second's
    observations; a Redis outage loses the batch (logged) and never fails the caller.
    """

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...]) -> None:
        self.name, self.documentation, self.buckets = name, documentation, buckets
        self.key = f"stockflow:metrics:{name}"
        self._lock = threading.Lock()
        self._pending: list[float] = []
        self._flusher: tuple[int, threading.Timer] | None = None  # (pid, timer)

    def add_to(self, pipe: Any, seconds: list[float]) -> None:
        """Queue the counting of these observations on a Redis pipeline."""
        if not seconds:
            return
        slots = Counter(next((str(bound) for bound in self.buckets if value <= bound), "+Inf")
                        for value in seconds)
        for slot, count in slots.items():
            pipe.hincrby(self.key, slot, count)
        pipe.hincrbyfloat(self.key, "sum", sum(seconds))

    def observe(self, seconds: float) -> None:
        """Count one observation (in Redis within FLUSH_S)."""
        with self._lock:
            self._drop_inherited()
            self._pending.append(seconds)
            if self._flusher is None:
                timer = threading.Timer(FLUSH_S, self.flush)
                timer.daemon = True
                self._flusher = (os.getpid(), timer)
                timer.start()

    def flush(self) -> None:
        """Add this process's pending observations to Redis now."""
        with self._lock:
            self._drop_inherited()
            pending, self._pending = self._pending, []
            flusher, self._flusher = self._flusher, None
        if flusher is not None and flusher[1] is not threading.current_thread():
            flusher[1].cancel()
        if not pending:
            return
        try:
            pipe = get_redis().pipeline(transaction=True)
            self.add_to(pipe, pending)
            pipe.execute()
        except RedisError as exc:
            log.warning("metric not recorded name=%s observations=%s error=%s", self.name,
                        len(pending), type(exc).__name__)

    def _drop_inherited(self) -> None:
        """After fork(), what is pending is the parent's (its timer sends it), not this process's."""
        if self._flusher is not None and self._flusher[0] != os.getpid():
            self._pending, self._flusher = [], None

    def family(self) -> HistogramMetricFamily:
        self.flush()
        raw = get_redis().hgetall(self.key)
        total, cumulative = 0, []
        for bound in (*map(str, self.buckets), "+Inf"):
            total += int(raw.get(bound, 0))
            cumulative.append((bound, total))
        family = HistogramMetricFamily(self.name, self.documentation)
        family.add_metric([], cumulative, sum_value=float(raw.get("sum", 0)))
        return family


UPLOAD_LATENCY = RedisHistogram("stockflow_upload_duration_seconds",
                                "Receipt upload requests, arrival to answer (web)", UPLOAD_BUCKETS)
OCR_LATENCY = RedisHistogram("stockflow_ocr_duration_seconds",
                             "Receipt OCR jobs, upload to finished result (jobs table)", OCR_BUCKETS)


def fold_ocr_durations(now: datetime | None = None) -> int:
    """Add the OCR jobs finished since the last fold to OCR_LATENCY; return how many. One
    process folds at a time (a Redis lock); the watermark moves in the same transaction as the
    counts, so no job is counted twice."""
    redis = get_redis()
    if not redis.set(OCR_FOLD_LOCK, "1", nx=True, ex=30):
        return 0
    try:
        raw = redis.get(OCR_WATERMARK_KEY)
        since = datetime.fromtimestamp(float(raw), tz=timezone.utc) if raw else None
        until = (now or utcnow()) - timedelta(seconds=OCR_SETTLE_S)
        query = select(Job.created_at, Job.ended_at).where(
            Job.kind == OCR_JOB_KIND, Job.status == "finished", Job.ended_at <= until)
        if since is not None:
            query = query.where(Job.ended_at > since)
        with session_scope() as session:
            durations = [max(0.0, (ended - created).total_seconds())
                         for created, ended in session.execute(query)]
        pipe = redis.pipeline(transaction=True)
        OCR_LATENCY.add_to(pipe, durations)
        pipe.set(OCR_WATERMARK_KEY, str(until.timestamp()))
        pipe.execute()
        return len(durations)
    finally:
        redis.delete(OCR_FOLD_LOCK)


def _gauge(name: str, documentation: str, labels: list[str],
           values: list[tuple[list[str], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for label_values, value in values:
        family.add_metric(label_values, value)
    return family


def queue_families() -> Iterator[Metric]:
    depths = overview.queue_depths()
    yield _gauge("stockflow_queue_depth", "Messages waiting in each feature queue", ["queue"],
                 [([queue], depth) for queue, depth in depths.items() if depth is not None])
    yield _gauge("stockflow_queue_consumers", "Live workers consuming each queue", ["queue"],
                 [([queue], n) for queue, n in heartbeats.consumers_by_queue().items()])
    yield _gauge("stockflow_worker_up", "1 while a worker's heartbeat is fresh", ["worker"],
                 [([beat.hostname], float(beat.alive)) for beat in heartbeats.workers()])
    yield _gauge("stockflow_beat_up", "1 while Celery Beat's heartbeat is fresh", [],
                 [([], float(heartbeats.beat_alive()))])


def job_families() -> Iterator[Metric]:
    with session_scope() as session:
        rows = session.execute(select(func.coalesce(Job.task_name, Job.kind), Job.status, func.count())
                               .group_by(func.coalesce(Job.task_name, Job.kind), Job.status)).all()
    yield _gauge("stockflow_jobs", "Jobs in the registry (30 days) by task and state",
                 ["task", "state"], [([task, state], count) for task, state, count in rows])


def dead_letter_families() -> Iterator[Metric]:
    yield _gauge("stockflow_dead_letters", "Dead letters neither replayed nor discarded, by area",
                 ["area"], [([area], n) for area, n in dead_letters.open_by_area().items()])


def device_families() -> Iterator[Metric]:
    with session_scope() as session:
        by_status = dict(session.execute(select(DeviceStatus.status, func.count())
                                         .group_by(DeviceStatus.status)).all())
        spools = session.execute(select(DeviceStatus.raspberry_id, DeviceStatus.store_key,
                                        DeviceStatus.spool_depth, DeviceStatus.spool_oldest_at)).all()
    yield _gauge("stockflow_devices", "Devices by fleet status", ["status"],
                 [([status], by_status.get(status, 0)) for status in ("online", "stale", "offline")])
    yield _gauge("stockflow_device_spool_depth", "Scans waiting in each Pi's spool (last report)",
                 ["device", "store"],
                 [([device, store or ""], depth or 0) for device, store, depth, _ in spools])
    yield _gauge("stockflow_device_spool_oldest_timestamp_seconds",
                 "When the oldest scan waiting in a Pi's spool was read (last report)",
                 ["device", "store"],
                 [([device, store or ""], oldest.timestamp())
                  for device, store, depth, oldest in spools if depth and oldest])


def sync_families() -> Iterator[Metric]:
    now = utcnow()
    with session_scope() as session:
        newest = select(SyncRun.entidade, func.max(SyncRun.started_at).label("started")) \
            .group_by(SyncRun.entidade).subquery()
        latest = list(session.scalars(select(SyncRun).join(
            newest, (SyncRun.entidade == newest.c.entidade) & (SyncRun.started_at == newest.c.started))))
        finished = dict(session.execute(select(SyncRun.entidade, func.max(SyncRun.finished_at))
                                        .where(SyncRun.status == "finished")
                                        .group_by(SyncRun.entidade)).all())
        pending = dict(session.execute(select(SyncRejection.entidade, func.count())
                                       .where(SyncRejection.status == "pendente")
                                       .group_by(SyncRejection.entidade)).all())
    rows = []
    for run in latest:
        for kind, value in (("total", run.rows_total), ("read", run.rows_read), ("sent", run.rows_sent),
                            ("rejected", run.rows_rejected), ("unchanged", run.rows_unchanged)):
            rows.append(([run.entidade, kind], value))
    yield _gauge("stockflow_sync_rows", "Rows of each entity's latest sync run, by kind",
                 ["entidade", "kind"], rows)
    yield _gauge("stockflow_sync_running", "1 while an entity's latest sync run is running",
                 ["entidade"], [([run.entidade], float(run.status == "running")) for run in latest])
    yield _gauge("stockflow_sync_last_success_timestamp_seconds",
                 "When each entity's last finished sync run ended", ["entidade"],
                 [([name], at.timestamp()) for name, at in finished.items() if at])
    yield _gauge("stockflow_sync_lag_seconds", "Seconds since each entity's last finished sync run",
                 ["entidade"], [([name], (now - at).total_seconds()) for name, at in finished.items() if at])
    yield _gauge("stockflow_sync_rejections_pending", "Rows refused and not yet sent, by entity",
                 ["entidade"], [([name], n) for name, n in pending.items()])


def latency_families() -> Iterator[Metric]:
    fold_ocr_durations()
    yield UPLOAD_LATENCY.family()
    yield OCR_LATENCY.family()


def sse_families() -> Iterator[Metric]:
    yield _gauge("stockflow_sse_clients", "Live SSE streams open on every web process", [],
                 [([], open_stream_count())])


def alert_families() -> Iterator[Metric]:
    yield _gauge("stockflow_alerts_firing", "Alerts firing now, by rule", ["rule"],
                 [([rule], n) for rule, n in firing_by_rule().items()])


SECTIONS: dict[str, Callable[[], Iterator[Metric]]] = {
    "queues": queue_families, "jobs": job_families, "dead_letters": dead_letter_families,
    "devices": device_families, "sync": sync_families, "latency": latency_families,
    "sse": sse_families, "alerts": alert_families}


class StockflowCollector(Collector):
    """Reads the platform's current state at each scrape (nothing kept between scrapes)."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("stockflow_metrics_section_up",
                               "1 when a section of /metrics could be read at this scrape",
                               labels=["section"])
        started = time.monotonic()
        for name, section in SECTIONS.items():
            try:
                families = list(section())
            except Exception as exc:  # noqa: BLE001 - one source away must not blank the scrape
                log.warning("metrics section failed section=%s error=%s: %s", name,
                            type(exc).__name__, exc)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up
        yield _gauge("stockflow_metrics_scrape_duration_seconds", "Time this scrape took to read", [],
                     [([], time.monotonic() - started)])


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(StockflowCollector())


def _authorized() -> bool:
    token = get_settings().metrics_token
    if not token:
        abort(404, description="Métricas desligadas: defina STOCKFLOW_METRICS_TOKEN.")
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.startswith("Bearer ") else ""
    return hmac.compare_digest(given.encode(), token.encode())


@bp.get("/metrics")
@requires(PUBLIC)  # not a user's route: the metrics token below is its only key
def scrape() -> Any:
    if not _authorized():
        return Response("token de métricas ausente ou errado\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return Response(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


def timed_upload(view: View) -> View:
    """Decorate the upload view: its time to answer (refusals included) goes to
    stockflow_upload_duration_seconds."""

    @functools.wraps(view)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return view(*args, **kwargs)
        finally:
            UPLOAD_LATENCY.observe(time.perf_counter() - started)

    return timed  # type: ignore[return-value]
