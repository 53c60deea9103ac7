"""The sync dry run ("simulação"): what a run of an entity would send now, posting nothing.

It reads the window a run would read (the open run's window and checkpoint when one would be
resumed, else [last watermark − overlap, source's watermark now]), maps every row and compares
it with what Plusoft has (the sent-row digests) exactly as core.sync.engine does, and counts:
rows to send, rows unchanged since last sent ("sem mudança"), rows the mapping refuses, the
POSTs it would take; plus the first mapped payloads as samples. It writes nothing: no run, no
checkpoint, no watermark, no digest, no rejection. The drift check runs first, as for a run.

The state of a dry run is plain JSON (a task hands it to the next time slice); callable
without Celery (`start`, then `simulate_slice` until `concluida`).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from core.db import session_scope
from core.models import SyncCheckpoint, SyncRun
from core.settings import get_settings
from core.sync import drift, runs
from core.sync.consinco.entities import from_json, get_entity, to_json
from core.sync.consinco.queries import (
    FULL,
    INCREMENTAL,
    count_rows,
    watermark_ceiling,
    watermark_filters,
)
from core.sync.consinco.source import source_engine, source_session
from core.sync.engine import read_batches
from core.sync.mapeamento import MAPEAMENTOS

DEFAULT_SAMPLES = 5
MAX_SAMPLES = 50
COUNTS = ("lidas", "a_enviar", "sem_mudanca", "rejeitadas", "lotes")

Progress = Callable[[dict[str, Any]], None]


def start(entidade: str, mode: str) -> dict[str, Any]:
    """Return the initial state of a dry run of the entity: its window and row count, or
    the drift reason (then it is already done)."""
    if mode not in runs.MODES:
        raise ValueError(f"modo inválido: {mode!r} (use {' ou '.join(runs.MODES)})")
    entity = get_entity(entidade)
    state: dict[str, Any] = {"entidade": entidade, "modo": mode, "marca_de": None,
                             "marca_ate": None, "depois_de": None, "retomaria": None,
                             "total": 0, **dict.fromkeys(COUNTS, 0), "amostras": [],
                             "rejeicoes": [], "deriva": None, "concluida": False}
    with source_engine().connect() as connection:
        found = drift.problems(connection, entity)
    if found:
        return {**state, "deriva": drift.reason(entity, found), "concluida": True}
    state.update(_window(entidade, mode))
    column = entity.watermark_column
    filters = watermark_filters(entity, state["modo"], from_json(column, state["marca_de"]),
                                from_json(column, state["marca_ate"]))
    with source_session() as source:
        state["total"] = count_rows(source, entity, _typed(entidade, state["depois_de"]), filters)
    return state


def _window(entidade: str, mode: str) -> dict[str, Any]:
    """Return the window and starting key the next run would have, reading only."""
    entity = get_entity(entidade)
    with session_scope() as session:
        checkpoint = session.get(SyncCheckpoint, entidade)
        run = session.get(SyncRun, checkpoint.run_id) if checkpoint and checkpoint.run_id else None
        # runs.open_run resumes an open run, unless a full run replaces an incremental one
        if run is not None and run.status in (runs.RUNNING, runs.FAILED) and not (
                mode == FULL and run.mode == INCREMENTAL):
            return {"modo": run.mode, "marca_de": run.watermark_since,
                    "marca_ate": run.watermark_until, "depois_de": checkpoint.last_key,
                    "retomaria": run.id}
        watermark = checkpoint.watermark if checkpoint else None
    since = runs.overlap_since(entity, watermark) if mode == INCREMENTAL else None
    with source_session() as source:
        ceiling = watermark_ceiling(source, entity, get_settings().timezone)
    return {"modo": mode, "marca_de": since, "marca_ate": to_json(ceiling), "depois_de": None,
            "retomaria": None}


def _typed(entidade: str, key: list[Any] | None) -> list[Any] | None:
    entity = get_entity(entidade)
    if key is None:
        return None
    return [from_json(column, value) for column, value in zip(entity.key_columns, key)]


def simulate_slice(state: dict[str, Any], samples: int = DEFAULT_SAMPLES,
                   with_samples: bool = True, slice_s: float | None = None,
                   on_batch: Progress | None = None) -> dict[str, Any]:
    """Go on with a dry run for up to `slice_s` seconds; return its new state (`concluida`
    once every row of the window was read). `with_samples=False` keeps no payloads (rows
    of personal data for someone who may not read them)."""
    if state["concluida"]:
        return state
    settings = get_settings()
    slice_s = settings.plusoft_chunk_s if slice_s is None else slice_s
    state = {**state, "amostras": list(state["amostras"]), "rejeicoes": list(state["rejeicoes"])}
    entity = get_entity(state["entidade"])
    column = entity.watermark_column
    filters = watermark_filters(entity, state["modo"], from_json(column, state["marca_de"]),
                                from_json(column, state["marca_ate"]))
    samples = max(0, min(MAX_SAMPLES, samples))
    started = time.monotonic()
    batches = read_batches(entity, MAPEAMENTOS[entity.name], _typed(entity.name, state["depois_de"]),
                           filters, settings.plusoft_batch_size)
    for batch in batches:
        state["lidas"] += batch.read
        state["a_enviar"] += len(batch.payloads)
        state["sem_mudanca"] += batch.unchanged
        state["rejeitadas"] += len(batch.rejections)
        state["lotes"] += 1 if batch.payloads else 0
        if with_samples:
            state["amostras"] += batch.payloads[:samples - len(state["amostras"])]
        state["rejeicoes"] += [{"chave": item.chave, "motivo": item.motivo}
                               for item in batch.rejections[:samples - len(state["rejeicoes"])]]
        state["depois_de"] = [to_json(value) for value in batch.last_key]
        if batch.read < settings.plusoft_batch_size:
            break  # a short batch is the window's last: no slice needed to find that out
        if on_batch:
            on_batch(state)
        if time.monotonic() - started >= slice_s:
            return state
    state["concluida"] = True
    if not with_samples:
        state["amostras_omitidas"] = "dados pessoais: só quem pode lê-los vê as amostras"
    if on_batch:
        on_batch(state)
    return state


def progress_pct(state: dict[str, Any]) -> int:
    """Return how far the dry run of the entity is, 0-100."""
    if state["concluida"]:
        return 100
    return 0 if state["total"] <= 0 else min(99, int(state["lidas"] * 100 / state["total"]))
