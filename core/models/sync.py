"""Consinco -> Plusoft sync bookkeeping: one record per run, and where each entity stopped."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models.types import JSONType, UTCDateTime, utcnow


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
    batches: Mapped[int] = mapped_column(Integer, default=0)
    # How often the run was picked up again after a crash, failure or hand-over.
    resumes: Mapped[int] = mapped_column(Integer, default=0)
    # The first rejections (row key and reason), so a person can see what Plusoft refused.
    rejections: Mapped[Any] = mapped_column(JSONType, nullable=True)
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
