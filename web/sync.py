"""The sync page (/sync) and API: Consinco source pages, Plusoft triggers and dry runs, run
history, rejected rows, their replay and export."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from core import audit, jobs, sse
from core.models.auth import CONSINCO, DADOS_PESSOAIS, SYNC, SYNC_EXECUTAR
from core.models.sync import SyncRejection
from core.sync import locks, rejections, runs
from core.sync.consinco.entities import ENTITIES, PERSONAL_DATA_ENTITIES, get_entity
from core.sync.consinco.queries import INCREMENTAL, read_page
from core.sync.consinco.source import source_session
from core.sync.dry_run import DEFAULT_SAMPLES, MAX_SAMPLES
from core.sync.replay import start_replay
from core.sync.trigger import SSE_CHANNEL, SyncNotConfigured, Trigger, start_dry_run, trigger
from web import exports
from web.access import require, requires
from web.params import int_arg, text_arg

bp = Blueprint("sync", __name__)

# Whoever may see the sync page may watch its runs (one channel, no sub-channels).
SSE_CHANNELS = {SSE_CHANNEL: lambda user, rest: rest == "" and user.can(SYNC)}

MAX_PAGE = 500
MAX_INT = 10**18
MAX_PAGE_NUMBER = 1_000_000
REJECTIONS_PER_PAGE = 50
# The list's filter: ?situacao= -> the stored status (None: any)
SITUACOES = {rejections.PENDING: rejections.PENDING, rejections.RESOLVED: rejections.RESOLVED,
             "todas": None}
STATUS_LABELS = {"running": "em andamento", "finished": "concluída", "failed": "falhou",
                 "superseded": "substituída", "interrupted": "interrompida"}


@bp.get("/sync")
@requires(SYNC)
def index() -> Any:
    """Each entity's last run with a trigger button, the run history (live over SSE), and
    a page of rejected rows (?entidade=&situacao=&pagina=) with replay buttons."""
    since = sse.latest_id(SSE_CHANNEL)
    latest = {name: with_liveness(run)
              for name, run in runs.latest_by_entity(list(ENTITIES)).items()}
    history = [with_liveness(run) for run in runs.recent_runs(30)]
    entidade, situacao = _rejection_filters()
    listing = rejections.page(entidade, SITUACOES[situacao], _page_number(), REJECTIONS_PER_PAGE)
    return render_template("sync/index.html", entidades=list(ENTITIES), latest=latest,
                           history=history, since=since, labels=STATUS_LABELS,
                           rejeicoes=listing, pendentes=rejections.pending_counts(),
                           filtro={"entidade": entidade or "", "situacao": situacao})


@bp.get("/api/plusoft/rejeicoes")
@requires(SYNC)
def rejection_list() -> Any:
    """Rejected rows, newest first: ?entidade=&situacao=pendente|resolvida|todas&pagina=1
    &por_pagina=50 (at most 500)."""
    entidade, situacao = _rejection_filters()
    size = _int_arg("por_pagina", REJECTIONS_PER_PAGE, minimum=1, maximum=MAX_PAGE,
                    status=400)
    return jsonify(rejections.page(entidade, SITUACOES[situacao], _page_number(), size))


# A run's rejected rows (or the list's filters) as a spreadsheet: web/exports.py's one way.
COLUNAS_REJEICOES = (
    exports.Coluna("Nº", exports.INTEIRO, 8), exports.Coluna("Entidade", exports.TEXTO, 10),
    exports.Coluna("Chave", exports.TEXTO, 30), exports.Coluna("Motivo", exports.TEXTO, 60),
    exports.Coluna("Origem", exports.TEXTO, 12), exports.Coluna("Situação", exports.TEXTO, 10),
    exports.Coluna("Vezes", exports.INTEIRO, 7), exports.Coluna("Execução", exports.TEXTO, 36),
    exports.Coluna("Primeira vez", exports.DATA_HORA, 17),
    exports.Coluna("Última vez", exports.DATA_HORA, 17),
    exports.Coluna("Resolvida em", exports.DATA_HORA, 17),
    exports.Coluna("Resolução", exports.TEXTO, 30))


def _rejection_row(row: SyncRejection) -> list[Any]:
    return [row.id, row.entidade, row.chave, row.motivo, row.origem, row.status, row.vezes,
            row.run_id, row.first_seen_at, row.last_seen_at, row.resolved_at, row.resolucao]


@bp.get("/sync/rejeicoes/exportar.<formato>")
@requires(SYNC)
def export_rejections(formato: str) -> Any:
    """The rejected rows as CSV or XLSX, newest first: ?execucao=<run id> (the rows that run
    refused; any situation unless ?situacao= says), or the list's ?entidade=&situacao=."""
    formato = exports.choice_from_path(formato)
    execucao = text_arg("execucao", 36)
    if execucao and runs.get_run(execucao) is None:
        abort(404, description=f"Execução {execucao} não encontrada.")
    if execucao and not request.args.get("situacao"):
        entidade, situacao = _rejection_filters()[0], "todas"
    else:
        entidade, situacao = _rejection_filters()
    query = select(SyncRejection)
    if execucao:
        query = query.where(SyncRejection.run_id == execucao)
    if entidade:
        query = query.where(SyncRejection.entidade == entidade)
    if SITUACOES[situacao]:
        query = query.where(SyncRejection.status == SITUACOES[situacao])
    filtros = {"execucao": execucao, "entidade": entidade, "situacao": situacao}
    return exports.exportar(formato, f"rejeicoes-{execucao[:8]}" if execucao else "rejeicoes",
                            COLUNAS_REJEICOES,
                            exports.keyset_chunks(query, SyncRejection.id, _rejection_row),
                            acao="sync.rejections.export", folha="Rejeitadas",
                            filtros={k: v for k, v in filtros.items() if v})


@bp.post("/api/plusoft/rejeicoes/<int:number>/reenviar")
@requires(SYNC_EXECUTAR)
def replay_one(number: int) -> Any:
    """Replay one rejected row: re-read it from the source, map it and send it (a job)."""
    rejection = rejections.get(number)
    if rejection is None:
        abort(404, description=f"Rejeição {number} não encontrada.")
    if rejection["situacao"] != rejections.PENDING:
        abort(409, description=f"A rejeição {number} já foi resolvida: {rejection['resolucao']}.")
    if rejection["chave"] is None:
        abort(409, description=(f"A rejeição {number} não diz qual linha o Plusoft recusou; "
                                "ela não pode ser reenviada."))
    return _replay(rejection["entidade"], [number])


@bp.post("/api/plusoft/<entidade>/rejeicoes/reenviar")
@requires(SYNC_EXECUTAR)
def replay_all(entidade: str) -> Any:
    """Replay every pending rejected row of an entity (a job)."""
    _entity_or_404(entidade)
    if not rejections.pending_counts().get(entidade):
        abort(409, description=f"Nenhuma linha rejeitada pendente em {entidade}.")
    return _replay(entidade, None)


@bp.get("/api/consinco/<entidade>")
@requires(CONSINCO)
def source_page(entidade: str) -> Any:
    """A page of source rows in key order: ?pular=0&limite=100 (limite at most 500);
    clientes only for those who may read personal data."""
    entity = _entity_or_404(entidade)
    if entidade in PERSONAL_DATA_ENTITIES:
        require(DADOS_PESSOAIS)
    skip = _int_arg("pular", 0, minimum=0)
    limit = _int_arg("limite", 100, minimum=1, maximum=MAX_PAGE)
    with source_session() as session:
        rows = read_page(session, entity, skip, limit)
    records = [{key: _json_value(value) for key, value in row._mapping.items()} for row in rows]
    return jsonify(entidade=entidade, pular=skip, limite=limit, quantidade=len(records),
                   registros=records)


@bp.post("/api/plusoft/<entidade>/sincronizar")
@requires(SYNC_EXECUTAR)
def sync_one(entidade: str) -> Any:
    """Sync one entity: body {"modo": "incremental" | "full"} (optional)."""
    _entity_or_404(entidade)
    return _trigger([entidade])


@bp.post("/api/plusoft/sincronizar")
@requires(SYNC_EXECUTAR)
def sync_all() -> Any:
    """Sync every entity in order: filiais, produtos, clientes, vendas."""
    return _trigger(list(ENTITIES))


@bp.post("/api/plusoft/<entidade>/simular")
@requires(SYNC_EXECUTAR)
def dry_run_one(entidade: str) -> Any:
    """Dry-run one entity (what a sync would send, posting nothing): body {"modo": ...,
    "amostras": 5} (both optional). A job of the caller; its result has the counts and samples."""
    _entity_or_404(entidade)
    return _dry_run([entidade])


@bp.post("/api/plusoft/simular")
@requires(SYNC_EXECUTAR)
def dry_run_all() -> Any:
    """Dry-run every entity in order."""
    return _dry_run(list(ENTITIES))


@bp.get("/api/plusoft/execucoes")
@requires(SYNC)
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
    target = ",".join(entidades)
    try:
        # No owner: a second user triggering the same entity is answered with this job.
        started: Trigger = trigger(entidades, mode, triggered_by=current_user.username)
    except SyncNotConfigured as exc:
        audit.record("sync.trigger", actor=None, target=target, outcome="failed",
                     detail={"modo": mode, "erro": str(exc)})
        abort(503, description=str(exc))
    audit.record("sync.trigger", actor=None, target=target, detail={
        "modo": mode, "job_id": started.job_id, "ja_em_andamento": not started.created})
    answer = {"job_id": started.job_id, "entidades": entidades, "modo": mode,
              "ja_em_andamento": not started.created,
              "status_url": url_for("jobs.status", job_id=started.job_id)}
    return jsonify(answer), 202 if started.created else 200


def _dry_run(entidades: list[str]) -> Any:
    """Enqueue a dry run (202) owned by the caller, who alone (and admins) follows its job."""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    mode = str(body.get("modo") or INCREMENTAL)
    if mode not in runs.MODES:
        abort(422, description=f"Modo inválido: {mode[:40]!r}. Use 'incremental' ou 'full'.")
    samples = body.get("amostras", DEFAULT_SAMPLES)
    if type(samples) is not int or not 0 <= samples <= MAX_SAMPLES:
        abort(422, description=f"'amostras' deve ser um número inteiro de 0 a {MAX_SAMPLES}.")
    target = ",".join(entidades)
    try:
        job_id = start_dry_run(entidades, mode, triggered_by=current_user.username,
                               owner_id=current_user.id, samples=samples,
                               personal_data=current_user.can(DADOS_PESSOAIS))
    except SyncNotConfigured as exc:
        abort(503, description=str(exc))
    audit.record("sync.dry_run", actor=None, target=target, detail={"modo": mode, "job_id": job_id})
    return jsonify(job_id=job_id, entidades=entidades, modo=mode, channel=jobs.channel(job_id),
                   status_url=url_for("jobs.status", job_id=job_id)), 202


def _replay(entidade: str, ids: list[int] | None) -> Any:
    """Enqueue a replay (202), or refuse while the entity is being synced (409)."""
    try:
        started = start_replay(entidade, ids, triggered_by=current_user.username)
    except SyncNotConfigured as exc:
        audit.record("sync.rejection.replay", actor=None, target=entidade, outcome="failed",
                     detail={"rejeicoes": ids, "erro": str(exc)})
        abort(503, description=str(exc))
    audit.record("sync.rejection.replay", actor=None, target=entidade,
                 outcome="ok" if started.created else "failed",
                 detail={"rejeicoes": ids, "job_id": started.job_id})
    if not started.created:
        abort(409, description=(f"{entidade.capitalize()} está sincronizando agora (job "
                                f"{started.job_id}); reenvie quando terminar."))
    return jsonify(job_id=started.job_id, entidade=entidade, rejeicoes=ids,
                   status_url=url_for("jobs.status", job_id=started.job_id)), 202


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


def _int_arg(name: str, default: int, minimum: int, maximum: int = MAX_INT,
             status: int = 422) -> int:
    """Read an integer query parameter (web.params: ASCII digits) or abort saying what is wrong;
    the source and run APIs keep the 422 they always answered."""
    return int_arg(name, default, minimum, maximum, status)


def _page_number() -> int:
    return _int_arg("pagina", 1, minimum=1, maximum=MAX_PAGE_NUMBER, status=400)


def _rejection_filters() -> tuple[str | None, str]:
    """Read ?entidade= and ?situacao= of the rejection list, or abort 400."""
    entidade = request.args.get("entidade") or None
    if entidade is not None and entidade not in ENTITIES:
        abort(400, description=(f"Entidade desconhecida: {entidade[:40]!r}. "
                                f"Use: {', '.join(ENTITIES)}."))
    situacao = request.args.get("situacao") or rejections.PENDING
    if situacao not in SITUACOES:
        abort(400, description=(f"Situação inválida: {situacao[:40]!r}. "
                                f"Use: {', '.join(SITUACOES)}."))
    return entidade, situacao


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
