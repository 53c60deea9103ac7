"""sync.sincronizar: Consinco -> Plusoft, one entity or all in order, on the `sync` queue;
sync.reenviar: replay an entity's rejected rows; sync.simular: the dry run (posts nothing).

The task is a thin wrapper around core.sync.engine.sync_slice. A task works for at most
STOCKFLOW_PLUSOFT_CHUNK_S, then replaces itself with a fresh task that continues from the
checkpoint (same job), so no task ever runs near the broker visibility timeout; when an
entity is done the same hand-over moves on to the next entity of the job.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core import jobs
from core.celery_app import celery_app
from core.settings import get_settings
from core.sse import publish_safely
from core.sync import dry_run, locks, runs
from core.sync.consinco.entities import PERSONAL_DATA_ENTITIES
from core.sync.consinco.queries import INCREMENTAL
from core.sync.drift import SchemaDrift
from core.sync.engine import sync_slice
from core.sync.plusoft import PlusoftUnavailable
from core.sync.replay import ReplayResult, replay_slice
from core.sync.trigger import (
    DRY_RUN_TASK_NAME,
    REPLAY_TASK_NAME,
    SSE_CHANNEL,
    TASK_NAME,
    scheduled_entities,
    trigger,
)
from tasks.base import FromSettings, JobTask

log = logging.getLogger(__name__)

# Live updates at most this often; the final state of a run is always published.
PUBLISH_EVERY_S = 0.5


class SyncTask(JobTask):
    """JobTask whose hand-over slices continue the same job instead of restarting it.

    Plusoft being away for longer than the client's own attempts (PlusoftUnavailable) is
    retried by hand, not by autoretry_for: the entities' locks must be held for the wait.
    """

    retry_base_s = FromSettings("plusoft_retry_later_s")
    # A job that gave up is kept for replay (it continues from its checkpoint).
    dead_letter = True
    dead_letter_reference = "job_id"

    def before_start(self, task_id: str, args: Any, kwargs: dict[str, Any]) -> None:
        if kwargs.get("parte", 0) == 0:
            super().before_start(task_id, args, kwargs)

    def failure_message(self, exc: BaseException) -> str:
        # A changed view's reason is already a sentence for the person reading the page.
        return str(exc) if isinstance(exc, SchemaDrift) else super().failure_message(exc)


# ignore_result: the job registry and sync_runs hold the outcome; nobody waits on Celery's.
@celery_app.task(name=TASK_NAME, base=SyncTask, bind=True,
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
    with _locks_held(self, remaining, job_id):
        result = sync_slice(entidade, modo, job_id, disparado_por, on_batch=progress)

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


@celery_app.task(name=REPLAY_TASK_NAME, base=SyncTask, bind=True,
                 max_retries=3, ignore_result=True)
def reenviar(self: SyncTask, entidade: str, ids: list[int] | None = None,
             job_id: str | None = None, disparado_por: str = "manual", depois_de: int = 0,
             parte: int = 0, contagem: dict[str, int] | None = None) -> dict[str, Any]:
    """Replay the entity's pending rejections (only `ids` when given) for one time slice,
    then hand over to a fresh task after the last one done."""
    settings = get_settings()
    job_id = job_id or self.request.id
    holder = locks.acquire([entidade], job_id, settings.plusoft_lock_ttl_s)
    if holder is not None:
        log.warning("sync replay step aside job=%s entidade=%s holder=%s", job_id, entidade,
                    holder)
        return {"ignorado": f"entidade {entidade} já sincronizando no job {holder}"}

    def renew(result: ReplayResult) -> None:
        locks.renew([entidade], job_id, settings.plusoft_lock_ttl_s)
        jobs.set_progress(job_id, 0, stage=f"{entidade}: {result.counts['reenviadas']} "
                                           "linhas reenviadas")

    with _locks_held(self, [entidade], job_id):
        result = replay_slice(entidade, ids, depois_de, disparado_por, job_id, on_chunk=renew)
    totals = {name: (contagem or {}).get(name, 0) + result.counts[name] for name in result.counts}
    if not result.done:
        raise self.replace(reenviar.si(
            entidade=entidade, ids=ids, job_id=job_id, disparado_por=disparado_por,
            depois_de=result.after_id, parte=parte + 1, contagem=totals).set(queue=_queue(self)))
    locks.release([entidade], job_id)
    answer = {"entidade": entidade, **totals}
    publish_safely(SSE_CHANNEL, "reenvio", {**answer, "job_id": job_id})
    return answer


class DryRunTask(SyncTask):
    """A dry run reads only: nothing to keep for a replay when it fails (start another)."""

    dead_letter = False


@celery_app.task(name=DRY_RUN_TASK_NAME, base=DryRunTask, bind=True, ignore_result=True)
def simular(self: DryRunTask, entidades: list[str], modo: str = INCREMENTAL,
            job_id: str | None = None, disparado_por: str = "manual",
            amostras: int = dry_run.DEFAULT_SAMPLES, dados_pessoais: bool = False,
            indice: int = 0, parte: int = 0, estado: dict[str, Any] | None = None,
            resultados: dict[str, Any] | None = None) -> dict[str, Any]:
    """Dry-run entidades[indice] for one time slice (posting nothing), then hand over to the
    next slice or entity; the job's result holds each entity's counts and samples."""
    job_id = job_id or self.request.id
    entidade = entidades[indice]
    state = estado or dry_run.start(entidade, modo)
    personal = entidade not in PERSONAL_DATA_ENTITIES or dados_pessoais
    last_publish = [0.0]

    def progress(current: dict[str, Any]) -> None:
        now = time.monotonic()
        if not current["concluida"] and now - last_publish[0] < PUBLISH_EVERY_S:
            return
        last_publish[0] = now
        overall = (indice + dry_run.progress_pct(current) / 100) / len(entidades) * 100
        jobs.set_progress(job_id, int(overall), stage=(
            f"simulação {entidade}: {current['lidas']}/{current['total']} linhas"))

    state = dry_run.simulate_slice(state, amostras, with_samples=personal, on_batch=progress)
    following = dict(entidades=entidades, modo=modo, job_id=job_id, disparado_por=disparado_por,
                     amostras=amostras, dados_pessoais=dados_pessoais, parte=parte + 1)
    if not state["concluida"]:
        raise self.replace(simular.si(**following, indice=indice, estado=state,
                                      resultados=resultados).set(queue=_queue(self)))
    resultados = {**(resultados or {}), entidade: state}
    if indice + 1 < len(entidades):
        raise self.replace(simular.si(**following, indice=indice + 1, resultados=resultados)
                           .set(queue=_queue(self)))
    log.info("sync dry run done job=%s by=%s counts=%s", job_id, disparado_por,
             {name: {key: result[key] for key in dry_run.COUNTS}
              for name, result in resultados.items()})
    return {"simulacao": True, "modo": modo, "entidades": resultados}


@contextmanager
def _locks_held(task: SyncTask, entidades: list[str], job_id: str) -> Iterator[None]:
    """Run a slice holding the entities' locks: Plusoft away is retried later with the locks
    kept for the wait; any other failure (or the last retry) releases them."""
    try:
        yield
    except PlusoftUnavailable as exc:
        if task.retries_left:
            countdown = task.retry_countdown()
            locks.renew(entidades, job_id, get_settings().plusoft_lock_ttl_s + int(countdown))
            raise task.retry(exc=exc, countdown=countdown)
        locks.release(entidades, job_id)
        raise
    except Exception:
        locks.release(entidades, job_id)
        raise


@celery_app.task(name="sync.sincronizar_agendado")
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
