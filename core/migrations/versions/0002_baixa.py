"""baixa: the outcome of every scan (idempotency on scan_id) and audited undos

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import core.models.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tb_baixa_leitura",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("scan_id", sa.String(length=36), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("store_key", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("scanned_at", core.models.types.UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("processed_at", core.models.types.UTCDateTime(), nullable=False),
        sa.Column("id_removido", sa.BigInteger(), nullable=True),
        sa.Column("descricao", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scan_id"),
    )
    op.create_index("ix_tb_baixa_leitura_product_id", "tb_baixa_leitura", ["product_id"])
    op.create_index("ix_tb_baixa_leitura_outcome", "tb_baixa_leitura", ["outcome"])
    op.create_index("ix_tb_baixa_leitura_store_processed", "tb_baixa_leitura",
                    ["store_key", "processed_at"])
    op.create_table(
        "tb_baixa_estorno",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("id_removido", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("store_key", sa.String(length=64), nullable=False),
        sa.Column("scan_id", sa.String(length=36), nullable=True),
        sa.Column("descricao", sa.String(length=255), nullable=False),
        sa.Column("removido", sa.JSON().with_variant(mysql.JSON(), "mysql"), nullable=False),
        sa.Column("motivo", sa.String(length=500), nullable=False),
        sa.Column("estornado_por", sa.String(length=80), nullable=False),
        sa.Column("estornado_em", core.models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("id_removido"),
    )
    op.create_index("ix_tb_baixa_estorno_product_id", "tb_baixa_estorno", ["product_id"])
    op.create_index("ix_tb_baixa_estorno_store_key", "tb_baixa_estorno", ["store_key"])
    op.create_index("ix_tb_baixa_estorno_scan_id", "tb_baixa_estorno", ["scan_id"])
    op.create_index("ix_tb_baixa_estorno_estornado_em", "tb_baixa_estorno", ["estornado_em"])


def downgrade() -> None:
    op.drop_table("tb_baixa_estorno")
    op.drop_table("tb_baixa_leitura")
