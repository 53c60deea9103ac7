"""Replay rejected rows once the source row or the mapping is fixed: re-read each row from
the source by its key, map it, send what Plusoft does not have, and resolve its rejection
(or keep it with the new reason).

`start_replay` queues `sync.reenviar` (tasks/sync.py) as a job under the entity's sync lock,
so a replay and a sync of one entity never send the same row at once. `replay_slice` does
the work for a while, in chunks of pending rejections taken in id order, so a hand-over
continues after the last chunk done. Callable without Celery.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.db import session_scope
from core.models.sync import SyncRejection
from core.settings import get_settings
from core.sync import rejections, sent
from core.sync.consinco.entities import (
    SourceEntity,
    get_entity,
    key_text,
    parse_key_text,
)
from core.sync.consinco.queries import read_by_keys
from core.sync.consinco.source import source_session
from core.sync.engine import Batch, idempotency_key, prepare
from core.sync.mapeamento import MAPEAMENTOS
from core.sync.plusoft import PlusoftClient
from core.sync.trigger import REPLAY_TASK_NAME, Trigger, start_locked_job

log = logging.getLogger(__name__)

# Oracle accepts at most 1000 entries in one IN list.
MAX_CHUNK = 1_000
COUNTS = ("reenviadas", "inalteradas", "ainda_rejeitadas", "sem_origem", "sem_chave")


@dataclass
class ReplayResult:
    """Where a replay slice stopped (`after_id`), whether it is done, and what it did."""

    done: bool
    after_id: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))


def start_replay(entidade: str, ids: Sequence[int] | None, triggered_by: str,
                 queue: str = "sync") -> Trigger:
    """Queue the replay of these pending rejections of an entity (all of them when `ids` is
    None); return the job, or the job already syncing the entity (created=False)."""
    get_entity(entidade)
    return start_locked_job([entidade], REPLAY_TASK_NAME, {
        "entidade": entidade, "ids": None if ids is None else list(ids),
        "disparado_por": triggered_by}, queue=queue)


def replay_slice(entidade: str, ids: Sequence[int] | None, after_id: int, triggered_by: str,
                 job_id: str, slice_s: float | None = None, client: PlusoftClient | None = None,
                 on_chunk: Callable[[ReplayResult], None] | None = None) -> ReplayResult:
    """Replay pending rejections after `after_id` for up to `slice_s` seconds."""
    settings = get_settings()
    slice_s = settings.plusoft_chunk_s if slice_s is None else slice_s
    size = min(settings.plusoft_batch_size, MAX_CHUNK)
    result = ReplayResult(done=False, after_id=after_id)
    http = client or PlusoftClient(settings)
    started = time.monotonic()
    try:
        while time.monotonic() - started < slice_s:
            chunk = rejections.pending(entidade, ids, result.after_id, size)
            if not chunk:
                result.done = True
                break
            for name, count in replay_chunk(entidade, chunk, triggered_by, job_id, http).items():
                result.counts[name] += count
            result.after_id = chunk[-1].id
            if on_chunk:
                on_chunk(result)
    finally:
        if client is None:
            http.close()
    log.info("sync replay slice job=%s entidade=%s done=%s after_id=%d counts=%s", job_id,
             entidade, result.done, result.after_id, result.counts)
    return result


def replay_chunk(entidade: str, chunk: Sequence[SyncRejection], triggered_by: str,
                 job_id: str, http: PlusoftClient) -> dict[str, int]:
    """Re-read, map and send the rows of these rejections; update them in one transaction."""
    entity = get_entity(entidade)
    mapper = MAPEAMENTOS[entidade]
    keys = _replayable_keys(entity, chunk)
    with source_session() as source:
        rows = read_by_keys(source, entity, list(keys.values()))
    found = {key_text([getattr(row, name) for name in entity.key]) for row in rows}
    missing = [text for text in keys if text not in found]
    delivery, rejected, unchanged = sent.Delivery(0, [], []), [], []
    if rows:
        batch = prepare(entity, mapper, sent.digester(mapper), rows)
        delivery = _send(entidade, batch, job_id, http)
        rejected = batch.rejections + delivery.rejected
        # neither sent nor refused: Plusoft already has the row exactly as it is now
        handled = set(batch.keys) | {item.chave for item in batch.rejections}
        unchanged = [text for text in found if text not in handled]
    accepted = [text for text, _ in delivery.accepted]
    with session_scope() as session:
        sent.remember(session, entidade, delivery.accepted)
        rejections.resolve(session, entidade, accepted, f"reenviada por {triggered_by}")
        rejections.resolve(session, entidade, unchanged, "o Plusoft já tinha esta versão")
        rejections.resolve(session, entidade, missing, "não existe mais na origem")
        rejections.record(session, entidade, None, rejected)
    return {"reenviadas": len(accepted), "inalteradas": len(unchanged),
            "ainda_rejeitadas": len(rejected), "sem_origem": len(missing),
            "sem_chave": len(chunk) - len(keys)}


def _replayable_keys(entity: SourceEntity, chunk: Sequence[SyncRejection]) -> dict[str, list[Any]]:
    """Return key text -> typed key of the rejections that name a row (others cannot be
    read again: Plusoft refused them without saying which row)."""
    keys: dict[str, list[Any]] = {}
    for rejection in chunk:
        if rejection.chave is None:
            continue
        try:
            keys[rejection.chave] = parse_key_text(entity, rejection.chave)
        except ValueError:
            log.warning("sync replay bad key entidade=%s id=%d chave=%r", entity.name,
                        rejection.id, rejection.chave)
    return keys


def _send(entidade: str, batch: Batch, job_id: str, http: PlusoftClient) -> sent.Delivery:
    """POST the batch's rows Plusoft does not have; return what it took."""
    if not batch.payloads:
        return sent.Delivery(0, [], [])
    answer = http.send_batch(entidade, batch.payloads, idempotency_key(
        entidade, f"reenvio-{job_id}", batch.first_key, batch.last_key, batch.sent_rows),
        context=f"job={job_id}")
    return sent.delivered(batch.sent_rows, answer.rejected)
