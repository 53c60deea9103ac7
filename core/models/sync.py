"""Consinco -> Plusoft sync bookkeeping: one record per run, where each entity stopped, what
Plusoft already has (a digest per row) and every row that could not be sent (rejections)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models.types import JSONType, UTCDateTime, utcnow

# A row's key as canonical JSON text, e.g. '["2025-01-01",3,123,1001]', compared byte for
# byte (MariaDB's default collation would make 'José' and 'jose' one key).
RowKey = String(200).with_variant(mysql.VARCHAR(200, collation="utf8mb4_bin"), "mysql")


class SyncRun(Base):
    """A sync of one entity; a failed or interrupted run is resumed, never restarted."""

    __tablename__ = "sync_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    entidade: Mapped[str] = mapped_column(String(16), index=True)
    mode: Mapped[str] = mapped_column(String(16))  # full | incremental
    # running | finished | failed | superseded (a full run replaced it)
    status: Mapped[str] = mapped_column(String(16), index=True)
    triggered_by: Mapped[str] = mapped_column(String(80))
    job_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    # The watermark window (since, until], as ISO text; until is fixed at the start.
    watermark_since: Mapped[str | None] = mapped_column(String(40), nullable=True)
    watermark_until: Mapped[str | None] = mapped_column(String(40), nullable=True)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_sent: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    # Rows read but not sent: Plusoft already has them with this content (overlap re-reads).
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    # How often the run was picked up again after a crash, failure or hand-over.
    resumes: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SyncCheckpoint(Base):
    """Per entity: the open run and its last key Plusoft accepted, and the watermark the
    last finished run reached (the next incremental run starts after it)."""

    __tablename__ = "sync_checkpoints"

    entidade: Mapped[str] = mapped_column(String(16), primary_key=True)
    run_id: Mapped[str | None] = mapped_column(
        ForeignKey("sync_runs.id", ondelete="SET NULL"), nullable=True)
    last_key: Mapped[Any] = mapped_column(JSONType, nullable=True)
    watermark: Mapped[str | None] = mapped_column(String(40), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncSentRow(Base):
    """What Plusoft has of one source row: a digest of the payload it accepted last.

    A run re-reading a row (the overlap window, a full run) sends it only when its digest
    differs, so Plusoft never receives the same content twice.
    """

    __tablename__ = "sync_sent_rows"
    # SQLite keeps the rows in the key's B-tree (as InnoDB does): half the size of a rowid
    # table plus its key index.
    __table_args__ = {"sqlite_with_rowid": False}

    entidade: Mapped[str] = mapped_column(String(16), primary_key=True)
    chave: Mapped[str] = mapped_column(RowKey, primary_key=True)
    digest: Mapped[str] = mapped_column(String(16))  # 8-byte BLAKE2b of the payload, hex


class SyncRejection(Base):
    """A source row the mapping or Plusoft refused, with the reason, until it is sent.

    One record per entity and key: a row refused again updates it (reason, count, last
    time). It is resolved when the row is sent, by a later run or a replay.
    """

    __tablename__ = "sync_rejections"
    __table_args__ = (UniqueConstraint("entidade", "chave", name="uq_sync_rejections_row"),
                      Index("ix_sync_rejections_list", "entidade", "status", "id"),
                      Index("ix_sync_rejections_status", "status", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entidade: Mapped[str] = mapped_column(String(16))
    # None when Plusoft refused a row without saying which (such a row cannot be replayed).
    chave: Mapped[str | None] = mapped_column(RowKey, nullable=True)
    motivo: Mapped[str] = mapped_column(Text)
    origem: Mapped[str] = mapped_column(String(16))  # mapeamento | plusoft
    status: Mapped[str] = mapped_column(String(16))  # pendente | resolvida
    vezes: Mapped[int] = mapped_column(Integer, default=1)
    run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # How it was resolved: "enviada na execução <run>", "reenviada por <user>", ...
    resolucao: Mapped[str | None] = mapped_column(String(200), nullable=True)
