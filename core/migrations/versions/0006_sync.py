"""sync: Consinco -> Plusoft run records and checkpoints, and the demo NAGV_PLUSOFT_* source

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-22 09:10:00

The four NAGV_PLUSOFT_* tables are the demo source: in production the sync reads the real
views from Oracle (STOCKFLOW_CONSINCO_URL) and these stay empty. They are always created,
so one schema serves every environment and switching the source URL needs no migration.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import core.models.types

revision = '0006'
down_revision = '0001'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(mysql.JSON(), 'mysql')


def upgrade() -> None:
    op.create_table('sync_runs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('entidade', sa.String(length=16), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('triggered_by', sa.String(length=80), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=True),
    sa.Column('watermark_since', sa.String(length=40), nullable=True),
    sa.Column('watermark_until', sa.String(length=40), nullable=True),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('rows_sent', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('batches', sa.Integer(), nullable=False),
    sa.Column('resumes', sa.Integer(), nullable=False),
    sa.Column('rejections', JSON, nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('heartbeat_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', core.models.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_runs_entidade'), ['entidade'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_runs_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_runs_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_runs_status'), ['status'], unique=False)

    op.create_table('sync_checkpoints',
    sa.Column('entidade', sa.String(length=16), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=True),
    sa.Column('last_key', JSON, nullable=True),
    sa.Column('watermark', sa.String(length=40), nullable=True),
    sa.Column('updated_at', core.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('entidade')
    )

    op.create_table('NAGV_PLUSOFT_FILIAIS',
    sa.Column('IDFILIAL', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('TXTNOMEFILIAL', sa.String(length=100), nullable=True),
    sa.Column('TXTRAZAOSOCIAL', sa.String(length=150), nullable=True),
    sa.Column('NUMCNPJ', sa.String(length=20), nullable=True),
    sa.Column('TXTLOGRADOURO', sa.String(length=150), nullable=True),
    sa.Column('TXTBAIRRO', sa.String(length=80), nullable=True),
    sa.Column('TXTCIDADE', sa.String(length=80), nullable=True),
    sa.Column('TXTUF', sa.String(length=2), nullable=True),
    sa.Column('NUMCEP', sa.String(length=10), nullable=True),
    sa.Column('TXTSTATUS', sa.String(length=1), nullable=True),
    sa.Column('DTAALTERACAO', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('IDFILIAL')
    )
    op.create_index('ix_NAGV_PLUSOFT_FILIAIS_DTAALTERACAO', 'NAGV_PLUSOFT_FILIAIS', ['DTAALTERACAO'])

    op.create_table('NAGV_PLUSOFT_PRODUTOS',
    sa.Column('IDPRODUTO', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('TXTDESCRICAO', sa.String(length=150), nullable=True),
    sa.Column('TXTDESCRICAOREDUZIDA', sa.String(length=60), nullable=True),
    sa.Column('NUMEAN', sa.String(length=20), nullable=True),
    sa.Column('TXTMARCA', sa.String(length=80), nullable=True),
    sa.Column('TXTCATEGORIA', sa.String(length=80), nullable=True),
    sa.Column('TXTSUBCATEGORIA', sa.String(length=80), nullable=True),
    sa.Column('TXTEMBALAGEM', sa.String(length=10), nullable=True),
    sa.Column('NUMQTDEMBALAGEM', sa.Numeric(precision=12, scale=3), nullable=True),
    sa.Column('TXTSTATUS', sa.String(length=1), nullable=True),
    sa.Column('DTACADASTRO', sa.Date(), nullable=True),
    sa.Column('DTAALTERACAO', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('IDPRODUTO')
    )
    op.create_index('ix_NAGV_PLUSOFT_PRODUTOS_DTAALTERACAO', 'NAGV_PLUSOFT_PRODUTOS', ['DTAALTERACAO'])

    op.create_table('NAGV_PLUSOFT_CLIENTES',
    sa.Column('IDPESSOA', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('TXTNOME', sa.String(length=150), nullable=True),
    sa.Column('TXTTIPOPESSOA', sa.String(length=1), nullable=True),
    sa.Column('NUMCPFCNPJ', sa.String(length=20), nullable=True),
    sa.Column('TXTEMAIL', sa.String(length=150), nullable=True),
    sa.Column('NUMTELEFONE', sa.String(length=20), nullable=True),
    sa.Column('DATNASCIMENTO', sa.Date(), nullable=True),
    sa.Column('TXTSEXO', sa.String(length=1), nullable=True),
    sa.Column('TXTCIDADE', sa.String(length=80), nullable=True),
    sa.Column('TXTUF', sa.String(length=2), nullable=True),
    sa.Column('NUMCEP', sa.String(length=10), nullable=True),
    sa.Column('DTACADASTRO', sa.Date(), nullable=True),
    sa.Column('DTAALTERACAO', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('IDPESSOA')
    )
    op.create_index('ix_NAGV_PLUSOFT_CLIENTES_DTAALTERACAO', 'NAGV_PLUSOFT_CLIENTES', ['DTAALTERACAO'])

    op.create_table('NAGV_PLUSOFT_VENDAS',
    sa.Column('IDPESSOA', sa.BigInteger(), nullable=True),
    sa.Column('IDFILIAL', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('IDCUPOM', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('IDPRODUTO', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('DATVENDA', sa.Date(), nullable=False),
    sa.Column('NUMQTDVENDIDA', sa.Numeric(precision=15, scale=3), nullable=True),
    sa.Column('VLRPRECOVENDAUNITARIO', sa.Numeric(precision=15, scale=2), nullable=True),
    sa.Column('VLRPRECOPDVUNITARIO', sa.Numeric(precision=15, scale=2), nullable=True),
    sa.Column('VLRDESCONTOUNITARIO', sa.Numeric(precision=15, scale=2), nullable=True),
    sa.Column('VLRMARGEMPDV', sa.Numeric(precision=15, scale=2), nullable=True),
    sa.Column('TXTCANALVENDAS', sa.String(length=50), nullable=True),
    sa.Column('TXTTIPOVENDA', sa.String(length=50), nullable=True),
    sa.Column('IDFORMAPAGTO', sa.BigInteger(), nullable=True),
    sa.Column('TXTFORMAPAGTO', sa.String(length=80), nullable=True),
    sa.PrimaryKeyConstraint('DATVENDA', 'IDFILIAL', 'IDCUPOM', 'IDPRODUTO')
    )


def downgrade() -> None:
    op.drop_table('NAGV_PLUSOFT_VENDAS')
    op.drop_index('ix_NAGV_PLUSOFT_CLIENTES_DTAALTERACAO', table_name='NAGV_PLUSOFT_CLIENTES')
    op.drop_table('NAGV_PLUSOFT_CLIENTES')
    op.drop_index('ix_NAGV_PLUSOFT_PRODUTOS_DTAALTERACAO', table_name='NAGV_PLUSOFT_PRODUTOS')
    op.drop_table('NAGV_PLUSOFT_PRODUTOS')
    op.drop_index('ix_NAGV_PLUSOFT_FILIAIS_DTAALTERACAO', table_name='NAGV_PLUSOFT_FILIAIS')
    op.drop_table('NAGV_PLUSOFT_FILIAIS')
    op.drop_table('sync_checkpoints')
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_runs_status'))
        batch_op.drop_index(batch_op.f('ix_sync_runs_started_at'))
        batch_op.drop_index(batch_op.f('ix_sync_runs_job_id'))
        batch_op.drop_index(batch_op.f('ix_sync_runs_entidade'))
    op.drop_table('sync_runs')
