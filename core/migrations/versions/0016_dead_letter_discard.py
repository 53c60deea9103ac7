"""operations: a dead letter may be discarded, with who, when and why

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-01 12:30:00

Plain ADD COLUMNs (nullable): SQLite adds them in place, no batch copy of the table.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models.types

revision = '0016'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('dead_letters', sa.Column('discarded_at', core.models.types.UTCDateTime(), nullable=True))
    op.add_column('dead_letters', sa.Column('discarded_by', sa.String(length=80), nullable=True))
    op.add_column('dead_letters', sa.Column('discard_reason', sa.Text(), nullable=True))
    op.create_index('ix_dead_letters_created_at', 'dead_letters', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_dead_letters_created_at', table_name='dead_letters')
    with op.batch_alter_table('dead_letters') as batch:
        batch.drop_column('discard_reason')
        batch.drop_column('discarded_by')
        batch.drop_column('discarded_at')
