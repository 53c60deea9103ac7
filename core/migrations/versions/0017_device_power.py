"""device power: each Pi's get_throttled word, and per-device limits of the fleet status

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models.types

revision = "0017"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_status") as batch:
        batch.add_column(sa.Column("throttled", sa.BigInteger(), nullable=True))
    op.create_table(
        "device_thresholds",
        sa.Column("raspberry_id", sa.String(length=64), nullable=False),
        sa.Column("temp_warn_c", sa.Float(), nullable=True),
        sa.Column("mem_warn_pct", sa.Float(), nullable=True),
        sa.Column("wifi_warn_dbm", sa.Integer(), nullable=True),
        sa.Column("backlog_warn", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", core.models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("raspberry_id"),
    )


def downgrade() -> None:
    op.drop_table("device_thresholds")
    with op.batch_alter_table("device_status") as batch:
        batch.drop_column("throttled")
