"""The sync page (/sync) and API: Consinco source pages, Plusoft triggers, run history."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from flask_login import current_user

from core import sse
from core.sync import locks, runs
from core.sync.consinco.entities import ENTITIES, get_entity
from core.sync.consinco.queries import INCREMENTAL, read_page
from core.sync.consinco.source import source_session
from core.sync.trigger import SSE_CHANNEL, SyncNotConfigured, Trigger, trigger

bp = Blueprint("sync", __name__)

# Any logged-in user may watch the sync runs (one channel, no sub-channels).
SSE_CHANNELS = {SSE_CHANNEL: lambda user, rest: rest == ""}

MAX_PAGE = 500
STATUS_LABELS = {"running": "em andamento", "finished": "concluída", "failed": "falhou",
                 "superseded": "substituída", "interrupted": "interrompida"}


@bp.get("/sync")
def index() -> Any:
    """Each entity's last run with a trigger button, and the run history (live over SSE)."""
    since = sse.latest_id(SSE_CHANNEL)
    latest = {name: with_liveness(run)
              for name, run in runs.latest_by_entity(list(ENTITIES)).items()}
    history = [with_liveness(run) for run in runs.recent_runs(30)]
    return render_template("sync/index.html", entidades=list(ENTITIES), latest=latest,
                           history=history, since=since, labels=STATUS_LABELS)


@bp.get("/api/consinco/<entidade>")
def source_page(entidade: str) -> Any:
    """A page of source rows in key order: ?pular=0&limite=100 (limite at most 500)."""
    entity = _entity_or_404(entidade)
    skip = _int_arg("pular", 0, minimum=0)
    limit = _int_arg("limite", 100, minimum=1, maximum=MAX_PAGE)
    with source_session() as session:
        rows = read_page(session, entity, skip, limit)
    records = [{key: _json_value(value) for key, value in row._mapping.items()} for row in rows]
    return jsonify(entidade=entidade, pular=skip, limite=limit, quantidade=len(records),
                   registros=records)


@bp.post("/api/plusoft/<entidade>/sincronizar")
def sync_one(entidade: str) -> Any:
    """Sync one entity: body {"modo": "incremental" | "full"} (optional)."""
    _entity_or_404(entidade)
    return _trigger([entidade])


@bp.post("/api/plusoft/sincronizar")
def sync_all() -> Any:
    """Sync every entity in order: filiais, produtos, clientes, vendas."""
    return _trigger(list(ENTITIES))


@bp.get("/api/plusoft/execucoes")
def history() -> Any:
    """The newest runs first: ?entidade=vendas&limite=30."""
    entidade = request.args.get("entidade") or None
    if entidade:
        _entity_or_404(entidade)
    limit = _int_arg("limite", 30, minimum=1, maximum=MAX_PAGE)
    return jsonify(execucoes=[with_liveness(run) for run in runs.recent_runs(limit, entidade)])


def _trigger(entidades: list[str]) -> Any:
    """Enqueue a sync (202) or answer with the job already syncing (200)."""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    mode = str(body.get("modo") or request.args.get("modo") or INCREMENTAL)
    if mode not in runs.MODES:
        abort(422, description=f"Modo inválido: {mode!r}. Use 'incremental' ou 'full'.")
    try:
        # No owner: a second user triggering the same entity is answered with this job.
        started: Trigger = trigger(entidades, mode, triggered_by=current_user.username)
    except SyncNotConfigured as exc:
        abort(503, description=str(exc))
    answer = {"job_id": started.job_id, "entidades": entidades, "modo": mode,
              "ja_em_andamento": not started.created,
              "status_url": url_for("jobs.status", job_id=started.job_id)}
    return jsonify(answer), 202 if started.created else 200


def with_liveness(run: dict[str, Any] | None) -> dict[str, Any] | None:
    """A running run whose lock is gone lost its worker: show it as interrupted."""
    if run is not None and run["status"] == runs.RUNNING and not locks.holder(run["entidade"]):
        run = {**run, "status": "interrupted"}
    return run


def _entity_or_404(entidade: str) -> Any:
    try:
        return get_entity(entidade)
    except KeyError:
        abort(404, description=f"Entidade desconhecida: {entidade}. Use: {', '.join(ENTITIES)}.")


def _int_arg(name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    """Read an integer query parameter or abort 422 saying what is wrong with it."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(422, description=(f"Parâmetro '{name}' deve ser um número inteiro "
                                f"(recebido: {raw!r})."))
    if value < minimum:
        abort(422, description=f"Parâmetro '{name}' deve ser no mínimo {minimum}.")
    if maximum is not None and value > maximum:
        abort(422, description=f"Parâmetro '{name}' deve ser no máximo {maximum}.")
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
