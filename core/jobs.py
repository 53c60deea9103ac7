"""The job registry: one row per background job, read by GET /jobs/<id>/status.

Celery alone reports PENDING for any unknown id, so the registry is ours. Every change
is also published on the SSE channel `job:<id>` so pages update without polling.

A job records the task that does it (name and kwargs) when it is created, so that the sweeper
(`sweep`, Beat's maintenance.sweep_jobs) can send a job stuck in queued or started past its
kind's deadline (STOCKFLOW_JOB_DEADLINES) again, and give it up after
STOCKFLOW_JOB_MAX_RESENDS resends.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from core.db import session_scope
from core.enqueue import enqueue
from core.models import Job
from core.models.types import utcnow
from core.settings import get_settings
from core.sse import publish_safely

log = logging.getLogger(__name__)

QUEUED, STARTED, FINISHED, FAILED = "queued", "started", "finished", "failed"
ACTIVE = (QUEUED, STARTED)
# What an ended job may still become: a failed job may yet finish (a late success after a
# give-up) and either may be queued again (a replay, a re-upload); nothing else reopens it,
# so a late progress report or failure of a redelivery changes nothing.
_AFTER_END = {FINISHED: (QUEUED,), FAILED: (FINISHED, FAILED, QUEUED)}
SWEEP_BATCH = 500


def channel(job_id: str) -> str:
    return f"job:{job_id}"


def new_job(kind: str, owner_id: int | None = None, job_id: str | None = None,
            task_name: str | None = None, task_kwargs: dict[str, Any] | None = None) -> Job:
    """Return a new queued job row, with the task that will do it, for the caller to commit
    together with its own rows (before it enqueues that task)."""
    return Job(id=job_id or str(uuid.uuid4()), kind=kind, status=QUEUED, owner_id=owner_id,
               task_name=task_name, task_kwargs=task_kwargs, resends=0, updated_at=utcnow())


def create_job(kind: str, owner_id: int | None = None, job_id: str | None = None,
               task_name: str | None = None, task_kwargs: dict[str, Any] | None = None) -> str:
    """Record a queued job (and the task that will do it) and return its id; commit happens
    before any enqueue."""
    job = new_job(kind, owner_id, job_id, task_name, task_kwargs)
    with session_scope() as session:
        session.add(job)
    return job.id


def _update(job_id: str, only_from: tuple[str, ...] | None = None,
            **fields: Any) -> dict[str, Any] | None:
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None:
            return None
        ended = job.status in _AFTER_END and fields.get("status") not in _AFTER_END[job.status]
        if ended or (only_from is not None and job.status not in only_from):
            return as_status(job)
        for name, value in fields.items():
            setattr(job, name, value)
        job.updated_at = utcnow()
        status = as_status(job)
    publish_safely(channel(job_id), "job", status)
    return status


def mark_started(job_id: str, stage: str | None = None, first_try: bool = True) -> None:
    """Move a job to started (progress 0), unless it already ended; on a later try, only a
    job still queued (its first try could not record the start)."""
    _update(job_id, only_from=None if first_try else (QUEUED,), status=STARTED,
            started_at=utcnow(), stage=stage, progress=0, error=None, ended_at=None)


def set_progress(job_id: str, progress: int, stage: str | None = None) -> None:
    """Record progress 0-100 and, optionally, the stage name shown to the user."""
    fields: dict[str, Any] = {"progress": max(0, min(100, int(progress)))}
    if stage is not None:
        fields["stage"] = stage
    _update(job_id, **fields)


def mark_finished(job_id: str, result: Any) -> None:
    """End a job successfully with its JSON result."""
    _update(job_id, status=FINISHED, progress=100, result=result, ended_at=utcnow(), error=None)


def mark_failed(job_id: str, error: str) -> None:
    """End a job with a readable error."""
    _update(job_id, status=FAILED, error=error, ended_at=utcnow())


_QUEUED_AGAIN = {"status": QUEUED, "progress": 0, "stage": None, "result": None, "error": None,
                 "started_at": None, "ended_at": None}


def requeue(job_id: str) -> None:
    """Put an ended job back to queued (a replay or a retry of the same job)."""
    _update(job_id, **_QUEUED_AGAIN)


def reset_to_queued(job: Job) -> None:
    """Put a job row back to queued in the caller's transaction (it is about to be sent again)."""
    for name, value in _QUEUED_AGAIN.items():
        setattr(job, name, value)
    job.updated_at = utcnow()


def is_stuck(job: Job, now: datetime | None = None) -> bool:
    """Whether a job is queued or started with no news for longer than its kind's deadline."""
    deadline = timedelta(seconds=get_settings().job_deadline_s(job.kind))
    return job.status in ACTIVE and (job.updated_at or job.created_at) < (now or utcnow()) - deadline


def get_status(job_id: str) -> dict[str, Any] | None:
    """Return the job's status as /jobs/<id>/status shows it, or None if unknown."""
    with session_scope() as session:
        job = session.get(Job, job_id)
        return None if job is None else as_status(job)


def get_owner(job_id: str) -> tuple[bool, int | None]:
    """Return (exists, owner_id) for access checks."""
    with session_scope() as session:
        job = session.get(Job, job_id)
        return (False, None) if job is None else (True, job.owner_id)


def as_status(job: Job) -> dict[str, Any]:
    """Shape a job like seed 004's status answer (only the fields its status has)."""
    out: dict[str, Any] = {"job_id": job.id, "kind": job.kind, "status": job.status,
                           "created_at": job.created_at.isoformat()}
    if job.status != QUEUED:
        out["progress"] = job.progress
        if job.stage:
            out["stage"] = job.stage
        if job.started_at:
            out["started_at"] = job.started_at.isoformat()
    if job.status == FINISHED:
        out["result"] = job.result
    if job.status == FAILED:
        out["error"] = job.error
    if job.ended_at:
        out["ended_at"] = job.ended_at.isoformat()
    return out


# give_up(job, reason): record that a stuck job was given up (its domain, a dead letter, the
# job failed); the task layer provides it (tasks.base.give_up_job).
GiveUp = Callable[[Job, str], None]


def sweep(give_up: GiveUp, now: datetime | None = None) -> dict[str, int]:
    """Send every job stuck past its deadline again, or give it up after too many resends;
    return how many were resent and given up."""
    now = now or utcnow()
    shortest = timedelta(seconds=get_settings().job_deadline_s())
    with session_scope() as session:
        candidates = list(session.scalars(
            select(Job.id).where(Job.status.in_(ACTIVE), Job.updated_at < now - shortest)
            .order_by(Job.updated_at).limit(SWEEP_BATCH)))
    counts = {"resent": 0, "given_up": 0}
    for job_id in candidates:
        try:
            outcome = recover(job_id, give_up, now)
        except Exception:  # noqa: BLE001 - one job's trouble (broker down...) must not stop the sweep
            log.exception("job recovery failed job=%s", job_id)
            continue
        if outcome:
            counts[outcome] += 1
    return counts


def recover(job_id: str, give_up: GiveUp, now: datetime | None = None) -> str | None:
    """Send one stuck job's task again, or give it up; return "resent", "given_up" or None
    (not stuck any more)."""
    now = now or utcnow()
    with session_scope() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or not is_stuck(job, now):
            return None
        silent_s = int((now - (job.updated_at or job.created_at)).total_seconds())
        stuck_in = job.status
        resend = job.task_name is not None and job.resends < get_settings().job_max_resends
        if resend:
            reset_to_queued(job)
            job.resends += 1
    if not resend:
        reason = (f"Tarefa abandonada: parada em {stuck_in} há {silent_s} s, "
                  + (f"já reenviada {job.resends} vezes." if job.task_name
                     else "sem tarefa registrada para reenviar."))
        log.error("job given up job=%s kind=%s reason=%s", job_id, job.kind, reason)
        give_up(job, reason)
        return "given_up"
    # After the commit: the job says queued again before its task can start.
    publish_safely(channel(job_id), "job", as_status(job))
    enqueue(job.task_name, dict(job.task_kwargs or {}))
    log.warning("job resent job=%s task=%s resends=%d was=%s silent_s=%d", job_id, job.task_name,
                job.resends, stuck_in, silent_s)
    return "resent"


def prune(keep_days: int) -> int:
    """Delete ended jobs older than keep_days and return how many went."""
    cutoff = utcnow() - timedelta(days=keep_days)
    with session_scope() as session:
        result = session.execute(delete(Job).where(
            Job.ended_at.is_not(None), Job.ended_at < cutoff))
        return int(result.rowcount or 0)
