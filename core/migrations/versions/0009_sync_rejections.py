"""sync: every rejected row kept with its reason, a digest of each row Plusoft has, and the
count of rows a run read but did not send because Plusoft already had them

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-23 09:00:00

`sync_runs.rejections` (the first 50 rejections of a run) is replaced by `sync_rejections`.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import core.models.types

revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(mysql.JSON(), 'mysql')
# Row keys compare byte for byte (see core.models.sync.RowKey).
ROW_KEY = sa.String(length=200).with_variant(mysql.VARCHAR(200, collation='utf8mb4_bin'), 'mysql')


def upgrade() -> None:
    op.create_table('sync_sent_rows',
    sa.Column('entidade', sa.String(length=16), nullable=False),
    sa.Column('chave', ROW_KEY, nullable=False),
    sa.Column('digest', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('entidade', 'chave'),
    sqlite_with_rowid=False
    )
    op.create_table('sync_rejections',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('entidade', sa.String(length=16), nullable=False),
    sa.Column('chave', ROW_KEY, nullable=True),
    sa.Column('motivo', sa.Text(), nullable=False),
    sa.Column('origem', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('vezes', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=True),
    sa.Column('first_seen_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', core.models.types.UTCDateTime(), nullable=True),
    sa.Column('resolucao', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entidade', 'chave', name='uq_sync_rejections_row')
    )
    op.create_index('ix_sync_rejections_list', 'sync_rejections', ['entidade', 'status', 'id'])
    op.create_index('ix_sync_rejections_status', 'sync_rejections', ['status', 'id'])
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rows_unchanged', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.drop_column('rejections')


def downgrade() -> None:
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rejections', JSON, nullable=True))
        batch_op.drop_column('rows_unchanged')
    op.drop_index('ix_sync_rejections_status', table_name='sync_rejections')
    op.drop_index('ix_sync_rejections_list', table_name='sync_rejections')
    op.drop_table('sync_rejections')
    op.drop_table('sync_sent_rows')
