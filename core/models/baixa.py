"""Baixa: seed 000's tables (products on the shelf, products written off) and our records of
every scan's outcome and of the audited undo of a write-off."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models.types import JSONType, UTCDateTime, utcnow

# What happened to a scan.
REMOVED = "removed"
ALREADY_REMOVED = "already_removed"
NOT_FOUND = "not_found"
INVALID = "invalid"
OUTCOMES = (REMOVED, ALREADY_REMOVED, NOT_FOUND, INVALID)

# SQLite only autoincrements an INTEGER primary key.
_BigId = BigInteger().with_variant(Integer, "sqlite")


class Produto(Base):
    """A product on a store's shelf (seed 000's tb_produto): a baixa removes its row."""

    __tablename__ = "tb_produto"
    __table_args__ = (Index("ix_tb_produto_store_key_id", "store_key", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    store_key: Mapped[str] = mapped_column(String(64))
    descricao: Mapped[str] = mapped_column(String(255))
    codigo_barras: Mapped[str | None] = mapped_column(String(64), nullable=True)
    preco: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    lote: Mapped[str | None] = mapped_column(String(64), nullable=True)
    validade: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProdutoRemovido(Base):
    """A full copy of the removed tb_produto row plus who, when, where and which scan."""

    __tablename__ = "tb_produto_removido"

    id_removido: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    # the copied tb_produto row
    id: Mapped[int] = mapped_column(BigInteger, index=True)
    store_key: Mapped[str] = mapped_column(String(64), index=True)
    descricao: Mapped[str] = mapped_column(String(255))
    codigo_barras: Mapped[str | None] = mapped_column(String(64), nullable=True)
    preco: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    lote: Mapped[str | None] = mapped_column(String(64), nullable=True)
    validade: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # the write-off
    responsavel_retirada: Mapped[str] = mapped_column(String(80))
    data_retirada: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    scan_id: Mapped[str | None] = mapped_column(String(36), nullable=True, unique=True)


class BaixaLeitura(Base):
    """One row per scan_id: what the scan did, and why (the idempotency record of baixa.registrar)."""

    __tablename__ = "tb_baixa_leitura"
    __table_args__ = (Index("ix_tb_baixa_leitura_store_processed", "store_key", "processed_at"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    scan_id: Mapped[str] = mapped_column(String(36), unique=True)
    # As read at the Pi (an invalid scan keeps its text, cut to 64 characters).
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    store_key: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str] = mapped_column(String(255))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The tb_produto_removido row this scan created (kept after an undo deletes that row).
    id_removido: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    descricao: Mapped[str | None] = mapped_column(String(255), nullable=True)

    def as_event(self) -> dict[str, Any]:
        """Return the outcome as JSON-ready data (task result and SSE event)."""
        return {
            "scan_id": self.scan_id, "product_id": self.product_id, "store_key": self.store_key,
            "device_id": self.device_id, "outcome": self.outcome, "reason": self.reason,
            "descricao": self.descricao, "id_removido": self.id_removido,
            "scanned_at": self.scanned_at.isoformat() if self.scanned_at else None,
            "processed_at": self.processed_at.isoformat() if self.processed_at else None,
        }


class BaixaEstorno(Base):
    """An undone write-off: the removed row went back to tb_produto; who, when and why."""

    __tablename__ = "tb_baixa_estorno"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    id_removido: Mapped[int] = mapped_column(BigInteger, unique=True)
    product_id: Mapped[int] = mapped_column(BigInteger, index=True)
    store_key: Mapped[str] = mapped_column(String(64), index=True)
    scan_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    descricao: Mapped[str] = mapped_column(String(255))
    # The full tb_produto_removido row as it was, so the undo itself loses nothing.
    removido: Mapped[Any] = mapped_column(JSONType)
    motivo: Mapped[str] = mapped_column(String(500))
    estornado_por: Mapped[str] = mapped_column(String(80))
    estornado_em: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
