"""job recovery: jobs remember their task and their last change, so stuck ones can be resent

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import core.models.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", core.models.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("task_name", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("task_kwargs", sa.JSON().with_variant(mysql.JSON(), "mysql"),
                                      nullable=True))
        batch_op.add_column(sa.Column("resends", sa.Integer(), server_default="0", nullable=False))
    # Jobs from before: their last change is the latest moment they recorded.
    op.execute("UPDATE jobs SET updated_at = COALESCE(ended_at, started_at, created_at)")


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("resends")
        batch_op.drop_column("task_kwargs")
        batch_op.drop_column("task_name")
        batch_op.drop_column("updated_at")
