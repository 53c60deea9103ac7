"""What Plusoft already has: a digest of the last payload it accepted for each source row.

Incremental runs re-read an overlap window and full runs read everything, so most rows they
read were sent before. A row is sent only when its payload's digest differs from the stored
one: Plusoft never receives the same content twice, and a changed row always goes out.
The digests are written in the transaction that moves the checkpoint past the batch.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.db import dialect_name, session_scope, upsert_insert
from core.models.sync import SyncSentRow
from core.sync.mapeamento import Mapeamento
from core.sync.rejections import PLUSOFT, Rejected

Digest = Callable[[dict[str, Any]], str]


def digester(mapper: Mapeamento) -> Digest:
    """Return a function giving a payload's 8-byte BLAKE2b digest (hex).

    The payload's values are JSON scalars in the mapping's field order, so their repr is
    canonical and about 3x cheaper than JSON; the field names seed the hash, so renaming a
    Plusoft field sends every row again in the new layout.
    """
    base = hashlib.blake2b(",".join(campo for campo, _, _ in mapper.campos).encode(),
                           digest_size=8)

    def digest(payload: dict[str, Any]) -> str:
        hashed = base.copy()
        hashed.update(repr(tuple(payload.values())).encode())
        return hashed.hexdigest()

    return digest


def known_digests(entidade: str, keys: Sequence[str]) -> dict[str, str]:
    """Return the stored digest of each of these row keys that Plusoft has (one query)."""
    if not keys:
        return {}
    with session_scope() as session:
        rows = session.execute(select(SyncSentRow.chave, SyncSentRow.digest).where(
            SyncSentRow.entidade == entidade, SyncSentRow.chave.in_(keys)))
        return {chave: digest for chave, digest in rows}


def remember(session: Session, entidade: str, rows: Sequence[tuple[str, str]]) -> None:
    """Store (key, digest) of rows Plusoft accepted, replacing older digests."""
    if not rows:
        return
    table = SyncSentRow.__table__
    insert = upsert_insert(table)
    if dialect_name() == "mysql":
        statement = insert.on_duplicate_key_update(digest=insert.inserted.digest)
    else:
        statement = insert.on_conflict_do_update(index_elements=["entidade", "chave"],
                                                 set_={"digest": insert.excluded.digest})
    session.execute(statement, [{"entidade": entidade, "chave": chave, "digest": digest}
                                for chave, digest in rows])


def forget(entidade: str) -> int:
    """Forget what Plusoft has of an entity (its next run sends every row); return how many."""
    with session_scope() as session:
        result = session.execute(delete(SyncSentRow).where(SyncSentRow.entidade == entidade))
        return int(result.rowcount or 0)


@dataclass
class Delivery:
    """A batch's outcome: how many rows Plusoft took, the (key, digest) of those known to be
    stored, and the rows not sent with the reason."""

    sent: int
    accepted: list[tuple[str, str]]
    rejected: list[Rejected]


def delivered(sent_rows: Sequence[tuple[str, str]], refused: Sequence[Any]) -> Delivery:
    """Split a POSTed batch by Plusoft's answer into the rows it accepted and those it
    refused (named by their index in the batch)."""
    named: dict[int, str] = {}
    unnamed: list[str] = []
    for item in refused:
        index = item.get("indice") if isinstance(item, dict) else None
        reason = f"Plusoft: {item.get('motivo') if isinstance(item, dict) else item}"
        if type(index) is int and 0 <= index < len(sent_rows):
            named[index] = reason
        else:
            unnamed.append(reason)
    rejected = [Rejected(sent_rows[i][0], reason, PLUSOFT) for i, reason in named.items()]
    rejected += [Rejected(None, reason, PLUSOFT) for reason in unnamed]
    sent_count = len(sent_rows) - len(named) - len(unnamed)
    if unnamed:
        # Plusoft refused rows without saying which: no row of the batch counts as stored,
        # so the next run compares and sends them all again rather than lose one.
        return Delivery(sent_count, [], rejected)
    return Delivery(sent_count, [row for i, row in enumerate(sent_rows) if i not in named],
                    rejected)

