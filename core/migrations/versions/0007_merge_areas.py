"""merge the areas' branches: new migrations build on this single head

Revision ID: 0007
Revises: 0002, 0003, 0004, 0005, 0006
Create Date: 2026-11-22
"""
from __future__ import annotations

revision = "0007"
down_revision = ("0002", "0003", "0004", "0005", "0006")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
