"""Start a Consinco -> Plusoft sync: the one way the web, Beat and scripts ask for a run.

`trigger` takes the entities' locks, records the job and enqueues `sync.sincronizar`
(tasks/sync.py), or answers with the job already syncing one of the entities. A replay of
rejected rows (core.sync.replay) starts the same way, under the same per-entity lock.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core import jobs
from core.enqueue import enqueue
from core.settings import Settings, get_settings
from core.sync import locks, runs
from core.sync.consinco.entities import ENTITIES
from core.sync.consinco.queries import INCREMENTAL

log = logging.getLogger(__name__)

TASK_NAME = "sync.sincronizar"
REPLAY_TASK_NAME = "sync.reenviar"
DRY_RUN_TASK_NAME = "sync.simular"
SSE_CHANNEL = "sync"
JOB_KIND = "sync"
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


def _checked(entidades: Sequence[str], mode: str) -> list[str]:
    """The entities, in order, once every name and the mode are known (else ValueError)."""
    entidades = list(entidades)
    unknown = [name for name in entidades if name not in ENTITIES]
    if not entidades or unknown:
        raise ValueError(f"entidades desconhecidas: {unknown or '(nenhuma)'}")
    if mode not in runs.MODES:
        raise ValueError(f"modo inválido: {mode!r} (use {' ou '.join(runs.MODES)})")
    return entidades


def trigger(entidades: Sequence[str], mode: str = INCREMENTAL, triggered_by: str = "manual",
            owner_id: int | None = None, queue: str = "sync") -> Trigger:
    """Start syncing these entities in order, or return the job already syncing one of them."""
    entidades = _checked(entidades, mode)
    started = start_locked_job(entidades, TASK_NAME, {
        "entidades": entidades, "modo": mode, "disparado_por": triggered_by}, owner_id, queue)
    log.info("sync trigger job=%s new=%s entidades=%s mode=%s by=%s", started.job_id,
             started.created, entidades, mode, triggered_by)
    return started


def start_dry_run(entidades: Sequence[str], mode: str, triggered_by: str, owner_id: int | None,
                  samples: int, personal_data: bool, queue: str = "sync") -> str:
    """Queue a dry run of these entities in order (core.sync.dry_run) as a job of its
    owner; return its id. No lock: a dry run writes nothing. `personal_data` says whether
    the owner may read clientes rows (their samples are kept only then)."""
    entidades = _checked(entidades, mode)
    settings = get_settings()
    if settings.is_production and not settings.consinco_url:
        raise SyncNotConfigured("Simulação sem origem em produção: defina STOCKFLOW_CONSINCO_URL.")
    job_id = str(uuid.uuid4())
    task_kwargs = {"entidades": entidades, "modo": mode, "disparado_por": triggered_by,
                   "amostras": samples, "dados_pessoais": personal_data, "job_id": job_id}
    jobs.create_job(JOB_KIND, owner_id=owner_id, job_id=job_id, task_name=DRY_RUN_TASK_NAME,
                    task_kwargs=task_kwargs)
    enqueue(DRY_RUN_TASK_NAME, task_kwargs, queue=queue)
    log.info("sync dry run job=%s entidades=%s mode=%s by=%s", job_id, entidades, mode,
             triggered_by)
    return job_id


def start_locked_job(entidades: Sequence[str], task_name: str, kwargs: dict[str, Any],
                     owner_id: int | None = None, queue: str = "sync") -> Trigger:
    """Lock the entities for a new job and enqueue `task_name` with it, or return the job
    already holding one of them (a sync or a replay: one job per entity at a time)."""
    ensure_configured()
    job_id = str(uuid.uuid4())
    holder = locks.acquire(entidades, job_id, get_settings().plusoft_lock_ttl_s)
    if holder is not None:
        return Trigger(holder, created=False)
    try:
        task_kwargs = {**kwargs, "job_id": job_id}  # recorded on the job: the sweeper resends it
        jobs.create_job(JOB_KIND, owner_id=owner_id, job_id=job_id, task_name=task_name,
                        task_kwargs=task_kwargs)
        enqueue(task_name, task_kwargs, queue=queue)
    except Exception:
        locks.release(entidades, job_id)
        raise
    return Trigger(job_id, created=True)
