"""ocr: payment receipts (comprovantes) with their OCR job and PIX fields

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-22 09:05:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import core.models.types

revision = '0004'
down_revision = '0001'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(mysql.JSON(), 'mysql')


def upgrade() -> None:
    op.create_table('comprovantes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pedido', sa.String(length=64), nullable=True),
    sa.Column('nome_original', sa.String(length=255), nullable=False),
    sa.Column('nome_armazenado', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('tamanho', sa.Integer(), nullable=False),
    sa.Column('mime', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=True),
    sa.Column('motor', sa.String(length=32), nullable=True),
    sa.Column('texto', sa.Text(), nullable=True),
    sa.Column('campos', JSON, nullable=True),
    sa.Column('valor', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('data_hora', sa.String(length=19), nullable=True),
    sa.Column('id_transacao', sa.String(length=32), nullable=True),
    sa.Column('recebedor_nome', sa.String(length=200), nullable=True),
    sa.Column('recebedor_documento', sa.String(length=20), nullable=True),
    sa.Column('validacao_recebedor', JSON, nullable=True),
    sa.Column('erro', sa.Text(), nullable=True),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('created_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('processado_em', core.models.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256', name='uq_comprovantes_sha256')
    )
    with op.batch_alter_table('comprovantes', schema=None) as batch_op:
        batch_op.create_index('ix_comprovantes_pedido', ['pedido'], unique=False)
        batch_op.create_index('ix_comprovantes_status', ['status'], unique=False)
        batch_op.create_index('ix_comprovantes_job_id', ['job_id'], unique=False)
        batch_op.create_index('ix_comprovantes_id_transacao', ['id_transacao'], unique=False)
        batch_op.create_index('ix_comprovantes_uploaded_by', ['uploaded_by'], unique=False)
        batch_op.create_index('ix_comprovantes_created_at', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_table('comprovantes')
