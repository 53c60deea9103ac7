"""comprovantes: the review queue (revisao, reasons, who corrected what) and one payment, one
receipt (e2e_original UNIQUE, duplicado_de)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 12:00:00

Plain ADD COLUMNs (nullable, no foreign key), never a batch copy of the table: SQLite adds
them in place. Unique and plain indexes work the same on SQLite and MariaDB; both allow any
number of NULLs in a UNIQUE index, which is what lets every duplicate leave e2e_original NULL.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import core.models.types

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(mysql.JSON(), 'mysql')


def upgrade() -> None:
    op.add_column('comprovantes', sa.Column('revisao', sa.String(length=16), nullable=True))
    op.add_column('comprovantes', sa.Column('revisao_motivos', JSON, nullable=True))
    op.add_column('comprovantes', sa.Column('revisado_por', sa.String(length=80), nullable=True))
    op.add_column('comprovantes', sa.Column('revisado_em', core.models.types.UTCDateTime(), nullable=True))
    op.add_column('comprovantes', sa.Column('correcoes', JSON, nullable=True))
    op.add_column('comprovantes', sa.Column('e2e_original', sa.String(length=32), nullable=True))
    op.add_column('comprovantes', sa.Column('duplicado_de', sa.Integer(), nullable=True))
    op.create_index('ix_comprovantes_revisao', 'comprovantes', ['revisao'])
    op.create_index('ix_comprovantes_duplicado_de', 'comprovantes', ['duplicado_de'])
    op.create_index('uq_comprovantes_e2e_original', 'comprovantes', ['e2e_original'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_comprovantes_e2e_original', table_name='comprovantes')
    op.drop_index('ix_comprovantes_duplicado_de', table_name='comprovantes')
    op.drop_index('ix_comprovantes_revisao', table_name='comprovantes')
    for column in ('duplicado_de', 'e2e_original', 'correcoes', 'revisado_em', 'revisado_por',
                   'revisao_motivos', 'revisao'):
        op.drop_column('comprovantes', column)
