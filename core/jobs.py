"""The job registry: one row per background job, read by GET /jobs/<id>/status.

Celery alone reports PENDING for any unknown id, so the registry is ours. Every change
is also published on the SSE channel `job:<id>` so pages update without polling.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from core.db import session_scope
from core.models import Job
from core.models.types import utcnow
from core.sse import publish_safely

QUEUED, STARTED, FINISHED, FAILED = "queued", "started", "finished", "failed"


def channel(job_id: str) -> str:
    return f"job:{job_id}"


def create_job(kind: str, owner_id: int | None = None, job_id: str | None = None) -> str:
    """Record a queued job and return its id; commit happens before any enqueue."""
    job_id = job_id or str(uuid.uuid4())
    with session_scope() as session:
        session.add(Job(id=job_id, kind=kind, status=QUEUED, owner_id=owner_id))
    return job_id


def _update(job_id: str, **fields: Any) -> dict[str, Any] | None:
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None:
            return None
        if job.status in (FINISHED, FAILED) and fields.get("status") not in (FINISHED, FAILED, QUEUED):
            # a late progress report after the end (redelivery) must not reopen the job
            return as_status(job)
        for name, value in fields.items():
            setattr(job, name, value)
        status = as_status(job)
    publish_safely(channel(job_id), "job", status)
    return status


def mark_started(job_id: str, stage: str | None = None) -> None:
    """Move a job to started (progress 0), unless it already ended."""
    _update(job_id, status=STARTED, started_at=utcnow(), stage=stage, progress=0,
            error=None, ended_at=None)


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


def requeue(job_id: str) -> None:
    """Put an ended job back to queued (a replay or a retry of the same job)."""
    _update(job_id, status=QUEUED, progress=0, started_at=None, ended_at=None, error=None)


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


def prune(keep_days: int) -> int:
    """Delete ended jobs older than keep_days and return how many went."""
    cutoff = utcnow() - timedelta(days=keep_days)
    with session_scope() as session:
        result = session.execute(delete(Job).where(
            Job.ended_at.is_not(None), Job.ended_at < cutoff))
        return int(result.rowcount or 0)
