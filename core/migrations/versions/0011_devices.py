"""devices: the device registry (each Pi's identity, its stores and its broker user)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("broker", sa.String(length=16), nullable=False),
        sa.Column("broker_user", sa.String(length=128), nullable=False),
        sa.Column("created_at", core.models.types.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("revoked_at", core.models.types.UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("device_id"),
    )
    op.create_table(
        "device_stores",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("store_key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("device_id", "store_key"),
    )


def downgrade() -> None:
    op.drop_table("device_stores")
    op.drop_table("devices")
