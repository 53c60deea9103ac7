"""Seed 000's tables: products on the shelf and the products written off (baixa)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models.types import UTCDateTime, utcnow


class Produto(Base):
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

    # SQLite only autoincrements an INTEGER primary key.
    id_removido: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
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
