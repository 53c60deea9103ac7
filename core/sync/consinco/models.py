"""The Consinco export views, mirrored column for column (seed 003: the model is the database).

Attribute names are the Oracle column names, upper case. These models live on their own
MetaData (`ConsincoBase`): in production they describe views in another database (Oracle,
STOCKFLOW_CONSINCO_URL), never tables of ours. Migration 0006 creates the same layouts as
plain tables in the app database, the demo source used by `make up` and the tests.

NAGV_PLUSOFT_VENDAS follows the public Consinco export layout. The other three layouts are
our choice in the same naming style (ID*, TXT*, NUM*, VLR*, DAT*/DTA*); they are the part to
adjust to the views the DBA publishes. Each has a change watermark, DTAALTERACAO.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class ConsincoBase(DeclarativeBase):
    """Declarative base of the Consinco source; separate from core.db.Base on purpose."""

    metadata = MetaData()


class ConsincoFilial(ConsincoBase):
    __tablename__ = "NAGV_PLUSOFT_FILIAIS"

    IDFILIAL: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    TXTNOMEFILIAL: Mapped[str | None] = mapped_column(String(100))
    TXTRAZAOSOCIAL: Mapped[str | None] = mapped_column(String(150))
    NUMCNPJ: Mapped[str | None] = mapped_column(String(20))
    TXTLOGRADOURO: Mapped[str | None] = mapped_column(String(150))
    TXTBAIRRO: Mapped[str | None] = mapped_column(String(80))
    TXTCIDADE: Mapped[str | None] = mapped_column(String(80))
    TXTUF: Mapped[str | None] = mapped_column(String(2))
    NUMCEP: Mapped[str | None] = mapped_column(String(10))
    TXTSTATUS: Mapped[str | None] = mapped_column(String(1))  # 'A' ativa, 'I' inativa
    DTAALTERACAO: Mapped[datetime | None] = mapped_column(DateTime, index=True)


class ConsincoProduto(ConsincoBase):
    __tablename__ = "NAGV_PLUSOFT_PRODUTOS"

    IDPRODUTO: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    TXTDESCRICAO: Mapped[str | None] = mapped_column(String(150))
    TXTDESCRICAOREDUZIDA: Mapped[str | None] = mapped_column(String(60))
    NUMEAN: Mapped[str | None] = mapped_column(String(20))
    TXTMARCA: Mapped[str | None] = mapped_column(String(80))
    TXTCATEGORIA: Mapped[str | None] = mapped_column(String(80))
    TXTSUBCATEGORIA: Mapped[str | None] = mapped_column(String(80))
    TXTEMBALAGEM: Mapped[str | None] = mapped_column(String(10))
    NUMQTDEMBALAGEM: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))
    TXTSTATUS: Mapped[str | None] = mapped_column(String(1))  # 'A' ativo, 'I' inativo
    DTACADASTRO: Mapped[date | None] = mapped_column(Date)
    DTAALTERACAO: Mapped[datetime | None] = mapped_column(DateTime, index=True)


class ConsincoCliente(ConsincoBase):
    __tablename__ = "NAGV_PLUSOFT_CLIENTES"

    IDPESSOA: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    TXTNOME: Mapped[str | None] = mapped_column(String(150))
    TXTTIPOPESSOA: Mapped[str | None] = mapped_column(String(1))  # 'F' física, 'J' jurídica
    NUMCPFCNPJ: Mapped[str | None] = mapped_column(String(20))
    TXTEMAIL: Mapped[str | None] = mapped_column(String(150))
    NUMTELEFONE: Mapped[str | None] = mapped_column(String(20))
    DATNASCIMENTO: Mapped[date | None] = mapped_column(Date)
    TXTSEXO: Mapped[str | None] = mapped_column(String(1))
    TXTCIDADE: Mapped[str | None] = mapped_column(String(80))
    TXTUF: Mapped[str | None] = mapped_column(String(2))
    NUMCEP: Mapped[str | None] = mapped_column(String(10))
    DTACADASTRO: Mapped[date | None] = mapped_column(Date)
    DTAALTERACAO: Mapped[datetime | None] = mapped_column(DateTime, index=True)


class ConsincoVenda(ConsincoBase):
    """One line per receipt (cupom) and product; the view sums repeated items of a receipt,
    so (IDFILIAL, IDCUPOM, IDPRODUTO) is unique. DATVENDA leads the key: a run reads day by day."""

    __tablename__ = "NAGV_PLUSOFT_VENDAS"
    # Columns in the layout's order; the key's order is the reading order.
    __table_args__ = (PrimaryKeyConstraint("DATVENDA", "IDFILIAL", "IDCUPOM", "IDPRODUTO"),)

    IDPESSOA: Mapped[int | None] = mapped_column(BigInteger)
    IDFILIAL: Mapped[int] = mapped_column(BigInteger, autoincrement=False)
    IDCUPOM: Mapped[int] = mapped_column(BigInteger, autoincrement=False)
    IDPRODUTO: Mapped[int] = mapped_column(BigInteger, autoincrement=False)
    DATVENDA: Mapped[date] = mapped_column(Date)
    NUMQTDVENDIDA: Mapped[Decimal | None] = mapped_column(Numeric(15, 3))
    VLRPRECOVENDAUNITARIO: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    VLRPRECOPDVUNITARIO: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    VLRDESCONTOUNITARIO: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    VLRMARGEMPDV: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    TXTCANALVENDAS: Mapped[str | None] = mapped_column(String(50))
    TXTTIPOVENDA: Mapped[str | None] = mapped_column(String(50))
    IDFORMAPAGTO: Mapped[int | None] = mapped_column(BigInteger)
    TXTFORMAPAGTO: Mapped[str | None] = mapped_column(String(80))
