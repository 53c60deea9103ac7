"""Sync run records and checkpoints: open or resume a run, record each accepted batch, end it.

Invariant: an entity has at most one open run (running or failed), named by its checkpoint
row. Every trigger resumes that run from its last accepted key instead of starting over;
only a full run asked for while an incremental one is open replaces it ("superseded").
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import session_scope
from core.models import SyncCheckpoint, SyncRun
from core.models.types import utcnow
from core.settings import get_settings
from core.sync import rejections, sent
from core.sync.consinco.entities import SourceEntity, from_json, to_json
from core.sync.consinco.queries import (
    FULL,
    INCREMENTAL,
    count_rows,
    overlap_start,
    watermark_ceiling,
    watermark_filters,
)
from core.sync.consinco.source import source_session
from core.sync.sent import Delivery

RUNNING, FINISHED, FAILED, SUPERSEDED = "running", "finished", "failed", "superseded"
MODES = (FULL, INCREMENTAL)


@dataclass
class OpenRun:
    """The run a task works on: its id, window and the key to continue after."""

    id: str
    entidade: str
    mode: str
    since: Any
    until: Any
    last_key: list[Any] | None
    resumed: bool


def _checkpoint(session: Session, entidade: str) -> SyncCheckpoint:
    """Return the entity's checkpoint row, locked for this transaction, creating it once."""
    row = session.scalar(select(SyncCheckpoint).where(SyncCheckpoint.entidade == entidade)
                         .with_for_update())
    if row is None:
        row = SyncCheckpoint(entidade=entidade, updated_at=utcnow())
        session.add(row)
        session.flush()
    return row


def open_run(entity: SourceEntity, mode: str, job_id: str | None, triggered_by: str) -> OpenRun:
    """Resume the entity's open run, or start a new one whose window ends at the source's
    watermark now; return what to read next."""
    if mode not in MODES:
        raise ValueError(f"modo inválido: {mode!r} (use {' ou '.join(MODES)})")
    column = entity.watermark_column
    with source_session() as source:
        ceiling = watermark_ceiling(source, entity, get_settings().timezone)
    with session_scope() as session:
        checkpoint = _checkpoint(session, entity.name)
        run = session.get(SyncRun, checkpoint.run_id) if checkpoint.run_id else None
        if run is not None and run.status in (RUNNING, FAILED):
            if mode == FULL and run.mode == INCREMENTAL:
                run.status, run.finished_at = SUPERSEDED, utcnow()
                run = None
            else:
                resumed = run.status == FAILED or run.job_id != job_id
                run.resumes += int(resumed)
                run.status, run.error, run.job_id = RUNNING, None, job_id
                run.heartbeat_at = utcnow()
                return OpenRun(run.id, entity.name, run.mode,
                               from_json(column, run.watermark_since),
                               from_json(column, run.watermark_until),
                               checkpoint.last_key, resumed)
        since = overlap_since(entity, checkpoint.watermark) if mode == INCREMENTAL else None
        run = SyncRun(id=str(uuid.uuid4()), entidade=entity.name, mode=mode, status=RUNNING,
                      triggered_by=triggered_by[:80], job_id=job_id,
                      watermark_since=since, watermark_until=to_json(ceiling),
                      rows_total=0, rows_read=0, rows_sent=0, rows_rejected=0,
                      rows_unchanged=0, batches=0,
                      resumes=0, started_at=utcnow(), heartbeat_at=utcnow())
        session.add(run)
        session.flush()
        checkpoint.run_id, checkpoint.last_key, checkpoint.updated_at = run.id, None, utcnow()
        opened = OpenRun(run.id, entity.name, mode, from_json(column, since), ceiling, None,
                         False)
    with source_session() as source:
        total = count_rows(source, entity, None,
                           watermark_filters(entity, mode, opened.since, opened.until))
    with session_scope() as session:
        session.get_one(SyncRun, opened.id).rows_total = total
    return opened


def overlap_since(entity: SourceEntity, watermark: str | None) -> str | None:
    """Return the lower bound of an incremental run after `watermark` (ISO text), the overlap
    window earlier."""
    settings = get_settings()
    column = entity.watermark_column
    start = overlap_start(entity, from_json(column, watermark), settings.plusoft_overlap_minutes,
                          settings.plusoft_overlap_days)
    return to_json(start)


def record_batch(run_id: str, entidade: str, last_key: Sequence[Any], read: int,
                 unchanged: int, delivery: Delivery,
                 resolve_rejections: bool = True) -> dict[str, Any]:
    """Count a batch and move the checkpoint past it; in the same transaction, store the
    digests of the rows Plusoft took, resolve their old rejections (when there may be some)
    and keep the new ones. Return the run as the page shows it."""
    with session_scope() as session:
        checkpoint = _checkpoint(session, entidade)
        run = session.get_one(SyncRun, run_id)
        if checkpoint.run_id != run_id:
            raise RuntimeError(f"run {run_id} is no longer the open run of {entidade}")
        checkpoint.last_key = [to_json(value) for value in last_key]
        checkpoint.updated_at = run.heartbeat_at = utcnow()
        run.rows_read += read
        run.rows_sent += delivery.sent
        run.rows_unchanged += unchanged
        run.rows_rejected += len(delivery.rejected)
        run.batches += 1
        sent.remember(session, entidade, delivery.accepted)
        if resolve_rejections:
            rejections.resolve(session, entidade, [key for key, _ in delivery.accepted],
                               f"enviada na execução {run_id}")
        rejections.record(session, entidade, run_id, delivery.rejected)
        return as_dict(run)


def finish_run(run_id: str) -> dict[str, Any]:
    """End a run that read everything; the next incremental run starts after its window."""
    with session_scope() as session:
        run = session.get_one(SyncRun, run_id)
        checkpoint = _checkpoint(session, run.entidade)
        run.status, run.finished_at, run.error = FINISHED, utcnow(), None
        run.heartbeat_at = run.finished_at
        if checkpoint.run_id == run_id:
            checkpoint.last_key = None
            if run.watermark_until is not None:
                checkpoint.watermark = run.watermark_until
            checkpoint.updated_at = utcnow()
        return as_dict(run)


def refuse_run(entity: SourceEntity, mode: str, job_id: str | None, triggered_by: str,
               error: str) -> dict[str, Any]:
    """Record that a run could not start (the source's views changed: core.sync.drift): the
    open run, if any, fails with the reason and keeps its checkpoint; otherwise a new run is
    recorded failed with it, outside the checkpoint (there is nothing to resume)."""
    with session_scope() as session:
        checkpoint = _checkpoint(session, entity.name)
        run = session.get(SyncRun, checkpoint.run_id) if checkpoint.run_id else None
        now = utcnow()
        if run is None or run.status not in (RUNNING, FAILED):
            run = SyncRun(id=str(uuid.uuid4()), entidade=entity.name, mode=mode,
                          triggered_by=triggered_by[:80], rows_total=0, rows_read=0,
                          rows_sent=0, rows_rejected=0, rows_unchanged=0, batches=0, resumes=0,
                          started_at=now, finished_at=now)
            session.add(run)
        run.status, run.error, run.job_id, run.heartbeat_at = FAILED, error[:4000], job_id, now
        session.flush()
        return as_dict(run)


def fail_run(run_id: str, error: str) -> dict[str, Any]:
    """Mark a run failed; its checkpoint stays, so the next trigger resumes it."""
    with session_scope() as session:
        run = session.get_one(SyncRun, run_id)
        if run.status == RUNNING:
            run.status, run.error, run.heartbeat_at = FAILED, error[:4000], utcnow()
        return as_dict(run)


def get_run(run_id: str) -> dict[str, Any] | None:
    with session_scope() as session:
        run = session.get(SyncRun, run_id)
        return None if run is None else as_dict(run)


def recent_runs(limit: int = 50, entidade: str | None = None) -> list[dict[str, Any]]:
    """Return the newest runs first (optionally of one entity)."""
    with session_scope() as session:
        statement = select(SyncRun).order_by(SyncRun.started_at.desc()).limit(limit)
        if entidade:
            statement = statement.where(SyncRun.entidade == entidade)
        return [as_dict(run) for run in session.scalars(statement)]


def latest_by_entity(entidades: Sequence[str]) -> dict[str, dict[str, Any] | None]:
    """Return each entity's newest run (or None)."""
    return {name: next(iter(recent_runs(1, name)), None) for name in entidades}


def as_dict(run: SyncRun) -> dict[str, Any]:
    """A run as JSON for the page, the API and SSE."""
    end = run.finished_at or run.heartbeat_at
    return {
        "id": run.id, "entidade": run.entidade, "modo": run.mode, "status": run.status,
        "disparado_por": run.triggered_by, "job_id": run.job_id,
        "marca_de": run.watermark_since, "marca_ate": run.watermark_until,
        "linhas_total": run.rows_total, "linhas_lidas": run.rows_read,
        "linhas_enviadas": run.rows_sent, "linhas_rejeitadas": run.rows_rejected,
        "linhas_inalteradas": run.rows_unchanged,
        "lotes": run.batches, "retomadas": run.resumes,
        "erro": run.error, "inicio": run.started_at.isoformat(),
        "fim": run.finished_at.isoformat() if run.finished_at else None,
        "duracao_s": round((end - run.started_at).total_seconds(), 1),
        "progresso": progress_pct(run.rows_read, run.rows_total, run.status),
    }


def progress_pct(read: int, total: int, status: str) -> int:
    if status == FINISHED:
        return 100
    return 0 if total <= 0 else min(99, int(read * 100 / total))
