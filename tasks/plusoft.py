"""plusoft.sincronizar: Consinco -> Plusoft, one entity or all in order, on the `sync` queue.

The task is a thin wrapper around core.plusoft.sync.sync_slice. A task works for at most
STOCKFLOW_PLUSOFT_CHUNK_S, then replaces itself with a fresh task that continues from the
checkpoint (same job), so no task ever runs near the broker visibility timeout; when an
entity is done the same hand-over moves on to the next entity of the job.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from celery import signals

from core import jobs
from core.consinco.entities import ENTITIES
from core.consinco.queries import INCREMENTAL
from core.consinco.source import dispose_source_engine
from core.plusoft import locks, runs
from core.plusoft.client import PlusoftUnavailable
from core.plusoft.sync import sync_slice
from core.settings import Settings, get_settings
from core.sse import publish_safely
from tasks.app import celery_app
from tasks.base import JobTask, retry_countdown

log = logging.getLogger(__name__)

SSE_CHANNEL = "sync"
JOB_KIND = "plusoft.sincronizar"
# Live updates at most this often; the final state of a run is always published.
PUBLISH_EVERY_S = 0.5
DEFAULT_PLUSOFT_URL = Settings.model_fields["plusoft_base_url"].default


def scheduled_entities() -> list[str]:
    """Return the entities the nightly run syncs, in order (STOCKFLOW_PLUSOFT_ENTITIES)."""
    names = [name.strip() for name in get_settings().plusoft_entities.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENTITIES]
    if unknown:
        raise ValueError(f"STOCKFLOW_PLUSOFT_ENTITIES: entidades desconhecidas {unknown}")
    return names


class SyncNotConfigured(RuntimeError):
    """Production without a real Consinco or Plusoft: syncing the demo data would lie."""


def ensure_configured(settings: Settings | None = None) -> None:
    """Refuse to sync in production against the demo source or the local stand-in."""
    settings = settings or get_settings()
    if not settings.is_production:
        return
    missing = [name for name, value in (
        ("STOCKFLOW_CONSINCO_URL", settings.consinco_url),
        ("STOCKFLOW_PLUSOFT_BASE_URL", "" if settings.plusoft_base_url == DEFAULT_PLUSOFT_URL
         else settings.plusoft_base_url)) if not value]
    if missing:
        raise SyncNotConfigured("Sincronização não configurada em produção: defina "
                                f"{', '.join(missing)}.")


@dataclass(frozen=True)
class Trigger:
    """The answer to a trigger: the job syncing the entities, and whether it is a new one."""

    job_id: str
    created: bool


def trigger(entidades: Sequence[str], mode: str = INCREMENTAL, triggered_by: str = "manual",
            owner_id: int | None = None, queue: str = "sync") -> Trigger:
    """Start syncing these entities in order, or return the job already syncing one of them."""
    entidades = list(entidades)
    unknown = [name for name in entidades if name not in ENTITIES]
    if not entidades or unknown:
        raise ValueError(f"entidades desconhecidas: {unknown or '(nenhuma)'}")
    if mode not in runs.MODES:
        raise ValueError(f"modo inválido: {mode!r} (use {' ou '.join(runs.MODES)})")
    ensure_configured()
    job_id = str(uuid.uuid4())
    holder = locks.acquire(entidades, job_id, get_settings().plusoft_lock_ttl_s)
    if holder is not None:
        log.info("sync trigger answered with running job=%s entidades=%s", holder, entidades)
        return Trigger(holder, created=False)
    try:
        jobs.create_job(JOB_KIND, owner_id=owner_id, job_id=job_id)
        sincronizar.apply_async(queue=queue, kwargs={
            "entidades": entidades, "modo": mode, "job_id": job_id,
            "disparado_por": triggered_by})
    except Exception:
        locks.release(entidades, job_id)
        raise
    log.info("sync triggered job=%s entidades=%s mode=%s by=%s", job_id, entidades, mode,
             triggered_by)
    return Trigger(job_id, created=True)


class SyncTask(JobTask):
    """JobTask whose hand-over slices continue the same job instead of restarting it."""

    def before_start(self, task_id: str, args: Any, kwargs: dict[str, Any]) -> None:
        if kwargs.get("parte", 0) == 0:
            super().before_start(task_id, args, kwargs)


# ignore_result: the job registry and sync_runs hold the outcome; nobody waits on Celery's.
@celery_app.task(name="plusoft.sincronizar", base=SyncTask, bind=True, queue="sync",
                 max_retries=3, ignore_result=True)
def sincronizar(self: SyncTask, entidades: list[str], modo: str = INCREMENTAL,
                job_id: str | None = None, disparado_por: str = "manual", indice: int = 0,
                parte: int = 0, resultados: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sync entidades[indice] for one time slice, then hand over to the next slice/entity."""
    settings = get_settings()
    job_id = job_id or self.request.id
    remaining = entidades[indice:]
    entidade = remaining[0]
    resultados = dict(resultados or {})
    holder = locks.acquire(remaining, job_id, settings.plusoft_lock_ttl_s)
    if holder is not None:
        # A late copy of this job (redelivered after its lock expired) while another job
        # syncs: that job resumes from the same checkpoint, so this one steps aside.
        log.warning("sync step aside job=%s entidade=%s holder=%s", job_id, entidade, holder)
        return {"ignorado": f"entidade {entidade} já sincronizando no job {holder}"}

    progress = _ProgressReporter(job_id, entidades, indice, remaining)
    try:
        result = sync_slice(entidade, modo, job_id, disparado_por, on_batch=progress)
    except PlusoftUnavailable as exc:
        if self.request.retries < self.max_retries:
            countdown = retry_countdown(self.request.retries,
                                        base_s=settings.plusoft_retry_later_s)
            locks.renew(remaining, job_id, settings.plusoft_lock_ttl_s + int(countdown))
            log.warning("sync retry later job=%s entidade=%s in_s=%.0f", job_id, entidade,
                        countdown)
            raise self.retry(exc=exc, countdown=countdown)
        locks.release(remaining, job_id)
        raise
    except Exception:
        locks.release(remaining, job_id)
        raise

    following = dict(entidades=entidades, modo=modo, job_id=job_id,
                     disparado_por=disparado_por, parte=parte + 1)
    if not result.done:
        raise self.replace(sincronizar.si(**following, indice=indice, resultados=resultados)
                           .set(queue=_queue(self)))
    resultados[entidade] = {key: result.run[key] for key in (
        "id", "status", "linhas_lidas", "linhas_enviadas", "linhas_rejeitadas", "lotes")}
    locks.release([entidade], job_id)
    if indice + 1 < len(entidades):
        raise self.replace(sincronizar.si(**following, indice=indice + 1, resultados=resultados)
                           .set(queue=_queue(self)))
    return {"entidades": resultados}


@celery_app.task(name="plusoft.sincronizar_agendado", queue="sync")
def sincronizar_agendado() -> dict[str, Any]:
    """Beat's nightly entry: every scheduled entity, incremental, in order."""
    started = trigger(scheduled_entities(), INCREMENTAL, triggered_by="agendador")
    return {"job_id": started.job_id, "novo": started.created}


def _queue(task: SyncTask) -> str:
    """The queue this task came from, so hand-overs stay on it."""
    return (task.request.delivery_info or {}).get("routing_key") or "sync"


class _ProgressReporter:
    """Per batch: renew the job's locks; now and then publish the run and the job's progress."""

    def __init__(self, job_id: str, entidades: list[str], indice: int,
                 remaining: list[str]) -> None:
        self.job_id, self.entidades = job_id, entidades
        self.indice, self.remaining = indice, remaining
        self.last_publish = 0.0

    def __call__(self, run: dict[str, Any]) -> None:
        settings = get_settings()
        locks.renew(self.remaining, self.job_id, settings.plusoft_lock_ttl_s)
        final = run["status"] != runs.RUNNING
        now = time.monotonic()
        if not final and now - self.last_publish < PUBLISH_EVERY_S:
            return
        self.last_publish = now
        publish_safely(SSE_CHANNEL, "execucao", run)
        if run["status"] != runs.FAILED:
            overall = (self.indice + run["progresso"] / 100) / len(self.entidades) * 100
            jobs.set_progress(self.job_id, int(overall), stage=(
                f"{run['entidade']}: {run['linhas_lidas']}/{run['linhas_total']} linhas"))


@signals.worker_process_init.connect
def _after_fork(**_: Any) -> None:
    dispose_source_engine()
