"""Every row the mapping or Plusoft refused, kept with its reason until it is sent.

One record per entity and row key: refused again, it gets the new reason and its count goes
up; sent (by a later run that finds it fixed, or by a replay), it is resolved. Rejections are
written in the transaction that moves the checkpoint past their batch.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal_column, null, select, update
from sqlalchemy.orm import Session

from core.db import dialect_name, session_scope, upsert_insert
from core.models.sync import SyncRejection
from core.models.types import utcnow

PENDING, RESOLVED = "pendente", "resolvida"
STATUSES = (PENDING, RESOLVED)
MAPPING, PLUSOFT = "mapeamento", "plusoft"


@dataclass(frozen=True)
class Rejected:
    """A row that was not sent: its key text (None if Plusoft did not say which) and why."""

    chave: str | None
    motivo: str
    origem: str


def record(session: Session, entidade: str, run_id: str | None,
           rejected: Sequence[Rejected]) -> None:
    """Keep each refused row with its reason; one already kept gets the new reason, counts
    one more time and is pending again."""
    if not rejected:
        return
    now = utcnow()
    table = SyncRejection.__table__
    insert = upsert_insert(table)
    new = insert.inserted if dialect_name() == "mysql" else insert.excluded
    # No bound parameters here: MySQLdb's executemany cannot rewrite them in this clause.
    again = {"motivo": new.motivo, "origem": new.origem, "status": new.status,
             "last_seen_at": new.last_seen_at,
             # a replay (no run) keeps the run that first refused the row
             "run_id": func.coalesce(new.run_id, table.c.run_id),
             "vezes": table.c.vezes + literal_column("1"), "resolved_at": null(),
             "resolucao": null()}
    if dialect_name() == "mysql":
        statement = insert.on_duplicate_key_update(**again)
    else:
        statement = insert.on_conflict_do_update(index_elements=["entidade", "chave"],
                                                 set_=again)
    session.execute(statement, [
        {"entidade": entidade, "chave": item.chave, "motivo": item.motivo[:4000],
         "origem": item.origem, "status": PENDING, "vezes": 1, "run_id": run_id,
         "first_seen_at": now, "last_seen_at": now} for item in rejected])


def resolve(session: Session, entidade: str, keys: Sequence[str], resolucao: str) -> int:
    """Mark the pending rejections of these row keys resolved (they were sent); return how many."""
    if not keys:
        return 0
    result = session.execute(
        update(SyncRejection)
        .where(SyncRejection.entidade == entidade, SyncRejection.status == PENDING,
               SyncRejection.chave.in_(keys))
        .values(status=RESOLVED, resolved_at=utcnow(), resolucao=resolucao[:200])
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def pending(entidade: str, ids: Sequence[int] | None, after_id: int,
            limit: int) -> list[SyncRejection]:
    """Return the next pending rejections of an entity after `after_id`, oldest first
    (only those in `ids` when given)."""
    statement = (select(SyncRejection)
                 .where(SyncRejection.entidade == entidade, SyncRejection.status == PENDING,
                        SyncRejection.id > after_id)
                 .order_by(SyncRejection.id).limit(limit))
    if ids is not None:
        statement = statement.where(SyncRejection.id.in_(list(ids)))
    with session_scope() as session:
        return list(session.scalars(statement))


def get(rejection_id: int) -> dict[str, Any] | None:
    with session_scope() as session:
        row = session.get(SyncRejection, rejection_id)
        return None if row is None else as_dict(row)


def page(entidade: str | None, status: str | None, number: int,
         size: int) -> dict[str, Any]:
    """Return one page of rejections, newest first, with the total and the page count."""
    terms = []
    if entidade:
        terms.append(SyncRejection.entidade == entidade)
    if status:
        terms.append(SyncRejection.status == status)
    with session_scope() as session:
        total = int(session.scalar(select(func.count()).select_from(SyncRejection)
                                   .where(*terms)) or 0)
        rows = session.scalars(select(SyncRejection).where(*terms)
                               .order_by(SyncRejection.id.desc())
                               .offset((number - 1) * size).limit(size))
        items = [as_dict(row) for row in rows]
    return {"rejeicoes": items, "total": total, "pagina": number, "por_pagina": size,
            "paginas": max(1, -(-total // size))}


def has_pending(entidade: str) -> bool:
    """Whether the entity has any pending rejection."""
    with session_scope() as session:
        first = session.scalar(select(SyncRejection.id).where(
            SyncRejection.entidade == entidade, SyncRejection.status == PENDING).limit(1))
        return first is not None


def pending_counts() -> dict[str, int]:
    """Return how many rejections each entity has pending."""
    with session_scope() as session:
        rows = session.execute(select(SyncRejection.entidade, func.count())
                               .where(SyncRejection.status == PENDING)
                               .group_by(SyncRejection.entidade))
        return {entidade: int(count) for entidade, count in rows}


def as_dict(row: SyncRejection) -> dict[str, Any]:
    """A rejection as JSON for the page and the API."""
    return {"id": row.id, "entidade": row.entidade, "chave": row.chave, "motivo": row.motivo,
            "origem": row.origem, "situacao": row.status, "vezes": row.vezes,
            "execucao": row.run_id, "primeira_vez": row.first_seen_at.isoformat(),
            "ultima_vez": row.last_seen_at.isoformat(),
            "resolvida_em": row.resolved_at.isoformat() if row.resolved_at else None,
            "resolucao": row.resolucao}
