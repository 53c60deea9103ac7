"""foundation: users, tokens, jobs, dead letters, tb_produto

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 08:41:20.118375
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import core.models.types

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dead_letters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_name', sa.String(length=128), nullable=False),
    sa.Column('args', sa.JSON().with_variant(mysql.JSON(), 'mysql'), nullable=False),
    sa.Column('kwargs', sa.JSON().with_variant(mysql.JSON(), 'mysql'), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('reference', sa.String(length=128), nullable=True),
    sa.Column('created_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('replayed_at', core.models.types.UTCDateTime(), nullable=True),
    sa.Column('replayed_by', sa.String(length=80), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letters_reference'), ['reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_dead_letters_task_name'), ['task_name'], unique=False)

    op.create_table('tb_produto',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('store_key', sa.String(length=64), nullable=False),
    sa.Column('descricao', sa.String(length=255), nullable=False),
    sa.Column('codigo_barras', sa.String(length=64), nullable=True),
    sa.Column('preco', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('lote', sa.String(length=64), nullable=True),
    sa.Column('validade', core.models.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', core.models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tb_produto', schema=None) as batch_op:
        batch_op.create_index('ix_tb_produto_store_key_id', ['store_key', 'id'], unique=False)

    op.create_table('tb_produto_removido',
    sa.Column('id_removido', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('store_key', sa.String(length=64), nullable=False),
    sa.Column('descricao', sa.String(length=255), nullable=False),
    sa.Column('codigo_barras', sa.String(length=64), nullable=True),
    sa.Column('preco', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('lote', sa.String(length=64), nullable=True),
    sa.Column('validade', core.models.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('responsavel_retirada', sa.String(length=80), nullable=False),
    sa.Column('data_retirada', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=True),
    sa.Column('scan_id', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('id_removido'),
    sa.UniqueConstraint('scan_id')
    )
    with op.batch_alter_table('tb_produto_removido', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tb_produto_removido_data_retirada'), ['data_retirada'], unique=False)
        batch_op.create_index(batch_op.f('ix_tb_produto_removido_id'), ['id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tb_produto_removido_store_key'), ['store_key'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', core.models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('created_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', core.models.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=64), nullable=True),
    sa.Column('result', sa.JSON().with_variant(mysql.JSON(), 'mysql'), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('created_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('started_at', core.models.types.UTCDateTime(), nullable=True),
    sa.Column('ended_at', core.models.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_status'))
        batch_op.drop_index(batch_op.f('ix_jobs_owner_id'))
        batch_op.drop_index(batch_op.f('ix_jobs_kind'))

    op.drop_table('jobs')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('users')
    with op.batch_alter_table('tb_produto_removido', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tb_produto_removido_store_key'))
        batch_op.drop_index(batch_op.f('ix_tb_produto_removido_id'))
        batch_op.drop_index(batch_op.f('ix_tb_produto_removido_data_retirada'))

    op.drop_table('tb_produto_removido')
    with op.batch_alter_table('tb_produto', schema=None) as batch_op:
        batch_op.drop_index('ix_tb_produto_store_key_id')

    op.drop_table('tb_produto')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letters_task_name'))
        batch_op.drop_index(batch_op.f('ix_dead_letters_reference'))

    op.drop_table('dead_letters')
