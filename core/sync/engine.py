"""Sync one entity to Plusoft for a while: read a batch after the checkpoint, map it, POST it,
checkpoint it; repeat until the source is exhausted or the time slice is over.

Callable without Celery (tests, bench, shell); tasks/sync.py is the thin wrapper.
Memory stays at one batch whatever the table size.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from core.settings import get_settings
from core.sync import drift, rejections, runs, sent
from core.sync.consinco.entities import (
    SourceEntity,
    from_json,
    get_entity,
    key_text,
    to_json,
)
from core.sync.consinco.queries import read_batch, watermark_filters
from core.sync.consinco.source import source_engine, source_session
from core.sync.mapeamento import MAPEAMENTOS, Mapeamento, RegistroInvalido
from core.sync.plusoft import PlusoftClient
from core.sync.rejections import MAPPING, Rejected
from core.sync.sent import Delivery, Digest

log = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, Any]], None]


@dataclass
class SliceResult:
    """Where a time slice left the run: `done` when every row was read."""

    run: dict[str, Any]
    done: bool


def idempotency_key(entidade: str, run_id: str, first: Sequence[Any], last: Sequence[Any],
                    rows: Sequence[tuple[str, str]]) -> str:
    """Name a batch by entity, run, its first..last key and a digest of the (key, digest)
    pairs it carries: the same rows after a resume carry the same key, so Plusoft can drop
    a batch it already has; a row that changed meanwhile makes it a new batch."""
    def text(key: Sequence[Any]) -> str:
        return "/".join(str(to_json(value)) for value in key)

    content = hashlib.blake2b(repr(list(rows)).encode(), digest_size=8).hexdigest()
    return f"{entidade}:{run_id}:{text(first)}..{text(last)}:{content}"


def map_rows(mapper: Mapeamento, entity: SourceEntity, rows: Sequence[Any],
             ) -> tuple[list[dict[str, Any]], list[list[Any]], list[Rejected]]:
    """Return (payloads, their keys, rejections) for a batch of source rows."""
    payloads: list[dict[str, Any]] = []
    keys: list[list[Any]] = []
    rejections: list[Rejected] = []
    if not rows:
        return payloads, keys, rejections
    columns = list(rows[0]._fields)
    translate = mapper.for_columns(columns)
    key_index = [columns.index(name) for name in entity.key]
    for row in rows:
        key = [row[i] for i in key_index]
        try:
            payloads.append(translate(row))
            keys.append(key)
        except RegistroInvalido as exc:
            rejections.append(Rejected(key_text(key), str(exc), MAPPING))
    return payloads, keys, rejections


@dataclass
class Batch:
    """One batch read from the source and mapped: what to POST, and what to checkpoint.

    `payloads`, `keys` and `digests` are the rows to send (new or changed); `unchanged`
    counts the rows Plusoft already has as they are."""

    read: int
    payloads: list[dict[str, Any]]
    keys: list[str]
    digests: list[str]
    unchanged: int
    rejections: list[Rejected]
    first_key: list[Any]
    last_key: list[Any]

    @property
    def sent_rows(self) -> list[tuple[str, str]]:
        return list(zip(self.keys, self.digests))


def prepare(entity: SourceEntity, mapper: Mapeamento, digest: Digest,
            rows: Sequence[Any]) -> Batch:
    """Map a batch of source rows and keep only those whose payload Plusoft does not have."""
    payloads, keys, rejections = map_rows(mapper, entity, rows)
    texts = [key_text(key) for key in keys]
    digests = [digest(payload) for payload in payloads]
    known = sent.known_digests(entity.name, texts)
    fresh = [i for i, text in enumerate(texts) if known.get(text) != digests[i]]
    first = [getattr(rows[0], name) for name in entity.key]
    last = [getattr(rows[-1], name) for name in entity.key]
    return Batch(len(rows), [payloads[i] for i in fresh], [texts[i] for i in fresh],
                 [digests[i] for i in fresh], len(payloads) - len(fresh), rejections,
                 first, last)


def read_batches(entity: SourceEntity, mapper: Mapeamento, after: Sequence[Any] | None,
                 filters: Sequence[Any], size: int) -> Iterator[Batch]:
    """Yield the mapped batches after `after`, reading each only when asked for."""
    digest = sent.digester(mapper)
    while True:
        with source_session() as source:
            rows = read_batch(source, entity, after, filters, size)
        if not rows:
            return
        batch = prepare(entity, mapper, digest, rows)
        after = batch.last_key
        yield batch
        if len(rows) < size:
            return


def sync_slice(entidade: str, mode: str, job_id: str | None = None, triggered_by: str = "manual",
               slice_s: float | None = None, client: PlusoftClient | None = None,
               on_batch: ProgressCallback | None = None) -> SliceResult:
    """Run (or resume) the entity's sync for up to `slice_s` seconds; return where it stands.

    While a batch is being POSTed and checkpointed, the next one is read and mapped (one
    POST in flight, one batch read ahead); the checkpoint only ever moves past a batch
    Plusoft accepted.
    A Plusoft failure marks the run failed and re-raises: the next trigger resumes there.
    """
    settings = get_settings()
    entity = get_entity(entidade)
    mapper = MAPEAMENTOS[entidade]
    slice_s = settings.plusoft_chunk_s if slice_s is None else slice_s
    check_source(entity, mode, job_id, triggered_by, on_batch)
    run = runs.open_run(entity, mode, job_id, triggered_by)
    context = f"run={run.id}"
    log.info("sync slice start %s entidade=%s mode=%s job=%s resumed=%s after=%s", context,
             entidade, run.mode, job_id, run.resumed, run.last_key)
    filters = watermark_filters(entity, run.mode, run.since, run.until)
    batches = read_batches(entity, mapper, _typed_key(entity, run.last_key), filters,
                           settings.plusoft_batch_size)
    http = client or PlusoftClient(settings)
    started = time.monotonic()
    checkpoint: Sequence[Any] | None = run.last_key

    # Resolving old rejections costs a query per batch: only worth it if there are some.
    resolve = rejections.has_pending(entidade)

    def deliver(batch: Batch) -> dict[str, Any]:
        """POST a batch's new and changed rows, then checkpoint it; return the run. Runs in
        the poster thread, so the checkpoint's writes overlap the next batch's reading."""
        delivery = Delivery(0, [], list(batch.rejections))
        if batch.payloads:
            answer = http.send_batch(entidade, batch.payloads, idempotency_key(
                entidade, run.id, batch.first_key, batch.last_key, batch.sent_rows),
                context=context)
            taken = sent.delivered(batch.sent_rows, answer.rejected)
            delivery = Delivery(taken.sent, taken.accepted, batch.rejections + taken.rejected)
        for rejection in delivery.rejected:
            log.warning("sync row rejected %s entidade=%s key=%s reason=%s", context,
                        entidade, rejection.chave, rejection.motivo)
        return runs.record_batch(run.id, entidade, batch.last_key, batch.read,
                                 batch.unchanged, delivery, resolve)

    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="plusoft-post") as poster:
            batch = next(batches, None)
            while batch is not None:
                delivering = poster.submit(deliver, batch)
                over_time = time.monotonic() - started >= slice_s
                following = None if over_time else next(batches, None)
                state = delivering.result()
                checkpoint = batch.last_key
                if on_batch:
                    on_batch(state)
                if over_time:
                    log.info("sync slice handover %s entidade=%s rows_read=%d", context,
                             entidade, state["linhas_lidas"])
                    return SliceResult(state, done=False)
                batch = following
        return _finished(run.id, context, on_batch)
    except Exception as exc:
        state = runs.fail_run(run.id, f"{type(exc).__name__}: {exc}")
        log.error("sync failed %s entidade=%s error=%s checkpoint=%s", context, entidade,
                  state["erro"], checkpoint)
        if on_batch:
            on_batch(state)
        raise
    finally:
        if client is None:
            http.close()


def check_source(entity: SourceEntity, mode: str, job_id: str | None, triggered_by: str,
                 on_batch: ProgressCallback | None = None) -> None:
    """Stop before reading when the entity's view no longer matches its model: the run is
    recorded failed with the reason (the page shows it) and SchemaDrift is raised."""
    with source_engine().connect() as connection:
        found = drift.problems(connection, entity)
    if not found:
        return
    reason = drift.reason(entity, found)
    state = runs.refuse_run(entity, mode, job_id, triggered_by, reason)
    log.error("sync refused run=%s entidade=%s drift=%s", state["id"], entity.name,
              "; ".join(p.motivo for p in found))
    if on_batch:
        on_batch(state)
    raise drift.SchemaDrift(reason)


def _finished(run_id: str, context: str, on_batch: ProgressCallback | None) -> SliceResult:
    state = runs.finish_run(run_id)
    log.info("sync finished %s entidade=%s rows_sent=%d rejected=%d batches=%d", context,
             state["entidade"], state["linhas_enviadas"], state["linhas_rejeitadas"],
             state["lotes"])
    if on_batch:
        on_batch(state)
    return SliceResult(state, done=True)


def _typed_key(entity: SourceEntity, key: Sequence[Any] | None) -> list[Any] | None:
    if key is None:
        return None
    return [from_json(column, value) for column, value in zip(entity.key_columns, key)]
