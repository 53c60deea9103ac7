"""merge the branches of issues 13-17 (devices, roles, receipt review, alerts, dead-letter
discard, device power, device signing): new migrations build on this head

Revision ID: 0020
Revises: 0012, 0014, 0015, 0016, 0017, 0018
Create Date: 2026-12-01
"""
from __future__ import annotations

revision = "0020"
down_revision = ("0012", "0014", "0015", "0016", "0017", "0018")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
