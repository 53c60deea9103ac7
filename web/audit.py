"""The audit page (/auditoria) for administrators: the trail filtered by action, actor, dates,
outcome and text in the target, a page at a time, and the filtered entries as CSV."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from flask import Blueprint, Response, render_template, stream_with_context
from sqlalchemy import select
from sqlalchemy.sql import Select

from core import audit
from core.db import session_scope
from core.models import AuditEntry
from core.models.auth import AUDITORIA
from web import access, exports
from web.params import choice_arg, date_arg, int_arg, text_arg

bp = Blueprint("audit", __name__)

PER_PAGE = 50
MAX_PAGE = 100_000
EXPORT_CHUNK = 500
OUTCOMES = ("ok", "failed")
CSV_COLUMNS = ("id", "quando_utc", "ator", "acao", "alvo", "resultado", "endereco",
               "navegador", "detalhe")


@dataclass(frozen=True)
class AuditFilter:
    acao: str = ""
    ator: str = ""
    alvo: str = ""
    resultado: str = ""
    de: date | None = None
    ate: date | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        """Return `query` narrowed to the entries this filter asks for."""
        if self.acao:
            query = query.where(AuditEntry.action == self.acao)
        if self.ator:
            query = query.where(AuditEntry.actor == self.ator)
        if self.alvo:
            query = query.where(AuditEntry.target.contains(self.alvo, autoescape=True))
        if self.resultado:
            query = query.where(AuditEntry.outcome == self.resultado)
        if self.de:
            query = query.where(AuditEntry.at >= _utc_midnight(self.de))
        if self.ate:  # inclusive: the whole day
            query = query.where(AuditEntry.at < _utc_midnight(self.ate + timedelta(days=1)))
        return query

    def as_args(self) -> dict[str, str]:
        """The filter as query-string arguments (only those set), for links and the export."""
        return {key: str(value) for key, value in asdict(self).items() if value}


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def filter_args() -> AuditFilter:
    """Read the filter from the query string (a 400 in pt-BR for garbage)."""
    return AuditFilter(acao=text_arg("acao", 64), ator=text_arg("ator", 80),
                       alvo=text_arg("alvo", 200),
                       resultado=choice_arg("resultado", "", OUTCOMES),
                       de=date_arg("de"), ate=date_arg("ate"))


@bp.get("/auditoria")
@access.requires(AUDITORIA)
def index() -> Any:
    """One page of the filtered trail, newest first."""
    filtro = filter_args()
    page = int_arg("pagina", 1, minimum=1, maximum=MAX_PAGE)
    query = filtro.apply(select(AuditEntry)).order_by(AuditEntry.id.desc())
    with session_scope() as session:
        rows = list(session.scalars(query.offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)))
        actions = sorted(session.scalars(select(AuditEntry.action).distinct()))
    return render_template("audit/index.html", entries=[entry_view(e) for e in rows[:PER_PAGE]],
                           has_next=len(rows) > PER_PAGE, page=page, filtro=filtro,
                           args=filtro.as_args(), actions=actions, outcomes=OUTCOMES)


@bp.get("/auditoria/exportar.csv")
@access.requires(AUDITORIA)
def export_csv() -> Any:
    """Every entry the filter selects, as CSV, written while it is read (newest first)."""
    filtro = filter_args()
    audit.record("audit.export", actor=None, detail=filtro.as_args())
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Response(stream_with_context(csv_lines(filtro)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="auditoria-{stamp}.csv"',
                             "Cache-Control": "no-store"})


def csv_lines(filtro: AuditFilter) -> Iterator[str]:
    """Yield the CSV header, then the filtered entries a chunk at a time (web/exports.py's
    writer and formula guard; the trail keeps its own machine-readable columns: ISO UTC times,
    comma-separated, as scripts reading it expect)."""
    return exports.csv_text(CSV_COLUMNS, ([csv_row(entry) for entry in chunk]
                                          for chunk in entry_chunks(filtro)), delimiter=",")


def entry_chunks(filtro: AuditFilter) -> Iterator[list[AuditEntry]]:
    """Yield the filtered entries, newest first, EXPORT_CHUNK at a time, each chunk read in a
    short session of its own (no transaction stays open while the client downloads)."""
    before: int | None = None
    while True:
        query = filtro.apply(select(AuditEntry))
        if before is not None:
            query = query.where(AuditEntry.id < before)
        with session_scope() as session:
            chunk = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(EXPORT_CHUNK)))
        if not chunk:
            return
        yield chunk
        before = chunk[-1].id


def csv_row(entry: AuditEntry) -> list[str]:
    detail = "" if entry.detail is None else json.dumps(entry.detail, ensure_ascii=False)
    values = [str(entry.id), entry.at.isoformat(), entry.actor, entry.action, entry.target or "",
              entry.outcome, entry.remote_addr or "", entry.user_agent or "", detail]
    return [exports.guard(value) for value in values]


def entry_view(entry: AuditEntry) -> dict[str, Any]:
    """An entry as the page shows it."""
    return {"id": entry.id, "quando": entry.at,
            "ator": entry.actor, "acao": entry.action, "alvo": entry.target or "",
            "resultado": entry.outcome, "endereco": entry.remote_addr or "",
            "navegador": entry.user_agent or "",
            "detalhe": "" if entry.detail is None else json.dumps(entry.detail,
                                                                   ensure_ascii=False)}
