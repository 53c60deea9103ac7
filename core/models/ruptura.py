"""Seed 001's carteira: open orders and their items, current stock and scheduled incoming stock.

Products are identified by their own code (`cod_produto`), as the ERP exports them; they are
not the store-shelf rows of tb_produto.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models.types import UTCDateTime, utcnow

# SQLite only autoincrements an INTEGER primary key.
AutoId = BigInteger().with_variant(Integer, "sqlite")
Quantidade = Numeric(15, 3)
Dinheiro = Numeric(15, 2)

ORIGEM_PRODUCAO = "producao"
ORIGEM_COMPRA = "compra"


class Pedido(Base):
    """An order of the carteira; `aberto` is false once it is invoiced or cancelled."""

    __tablename__ = "pedidos"
    __table_args__ = (Index("ix_pedidos_aberto_entrega", "aberto", "data_entrega_prevista"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    num_pedido: Mapped[str] = mapped_column(String(30), unique=True)
    cliente: Mapped[str] = mapped_column(String(150))
    data_pedido: Mapped[date] = mapped_column(Date)
    data_entrega_prevista: Mapped[date | None] = mapped_column(Date, nullable=True)
    observacao: Mapped[str | None] = mapped_column(Text, nullable=True)
    aberto: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PedidoItem(Base):
    """One line of an order: a product, how many and at what unit price."""

    __tablename__ = "pedido_itens"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    pedido_id: Mapped[int] = mapped_column(
        ForeignKey("pedidos.id", ondelete="CASCADE"), index=True)
    cod_produto: Mapped[str] = mapped_column(String(30), index=True)
    nome_produto: Mapped[str] = mapped_column(String(150))
    quantidade: Mapped[Decimal] = mapped_column(Quantidade)
    preco_unitario: Mapped[Decimal] = mapped_column(Dinheiro, default=Decimal("0"))


class EstoqueAtual(Base):
    """Stock on hand of a product now (a product without a row has none)."""

    __tablename__ = "estoque_atual"

    cod_produto: Mapped[str] = mapped_column(String(30), primary_key=True)
    quantidade: Mapped[Decimal] = mapped_column(Quantidade)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class EntradaProgramada(Base):
    """Stock expected to arrive for a product on a date, from production or a purchase."""

    __tablename__ = "estoque_entradas_programadas"
    __table_args__ = (Index("ix_entradas_produto_data", "cod_produto", "data_prevista"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    cod_produto: Mapped[str] = mapped_column(String(30))
    data_prevista: Mapped[date] = mapped_column(Date)
    quantidade: Mapped[Decimal] = mapped_column(Quantidade)
    origem: Mapped[str] = mapped_column(String(10))  # ORIGEM_PRODUCAO | ORIGEM_COMPRA
