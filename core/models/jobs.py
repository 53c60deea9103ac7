"""The job registry (what /jobs/<id>/status reads) and the dead-letter list of tasks that gave up."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models.types import JSONType, UTCDateTime, utcnow


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    result: Mapped[Any] = mapped_column(JSONType, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Last change of any kind: the sweeper acts on a queued or started job silent for too long.
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, default=utcnow)
    # The task that does the job, recorded when it is enqueued, so the sweeper can send it again.
    task_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    task_kwargs: Mapped[Any] = mapped_column(JSONType, nullable=True)
    # Times the sweeper sent the task again; past STOCKFLOW_JOB_MAX_RESENDS it gives up.
    resends: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class DeadLetter(Base):
    """A task that spent its retries: kept with its arguments so a person can replay it."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_name: Mapped[str] = mapped_column(String(128), index=True)
    args: Mapped[Any] = mapped_column(JSONType)
    kwargs: Mapped[Any] = mapped_column(JSONType)
    error: Mapped[str] = mapped_column(Text)
    # What the payload is about (a scan_id, a receipt id...) so the UI can show and dedupe it.
    reference: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    replayed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # A person decided it needs no replay (the reason is required): it is no longer open.
    discarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    discarded_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    discard_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
