"""devices: the credential generation each device's signing secret is derived from

Revision ID: 0018
Revises: 0011, 0013 (the devices table and the head of its time)
Create Date: 2026-12-01

A device's signing secret is HMAC(STOCKFLOW_DEVICE_SIGNING_KEY, device id + generation)
(core/device_signing.py): the secret itself is never stored. Devices issued before this
revision start at generation 1 (`devices secret ID` prints their secret).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = ("0011", "0013")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("secret_generation", sa.Integer(), nullable=False,
                                   server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("secret_generation")
