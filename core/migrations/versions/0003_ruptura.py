"""ruptura: carteira orders and items, current stock, scheduled incoming stock

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22 08:45:55.088729
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models.types  # noqa: F401 - column types used by autogenerate

revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('estoque_atual',
    sa.Column('cod_produto', sa.String(length=30), nullable=False),
    sa.Column('quantidade', sa.Numeric(precision=15, scale=3), nullable=False),
    sa.Column('updated_at', core.models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('cod_produto')
    )
    op.create_table('estoque_entradas_programadas',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('cod_produto', sa.String(length=30), nullable=False),
    sa.Column('data_prevista', sa.Date(), nullable=False),
    sa.Column('quantidade', sa.Numeric(precision=15, scale=3), nullable=False),
    sa.Column('origem', sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('estoque_entradas_programadas', schema=None) as batch_op:
        batch_op.create_index('ix_entradas_produto_data', ['cod_produto', 'data_prevista'], unique=False)

    op.create_table('pedidos',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('num_pedido', sa.String(length=30), nullable=False),
    sa.Column('cliente', sa.String(length=150), nullable=False),
    sa.Column('data_pedido', sa.Date(), nullable=False),
    sa.Column('data_entrega_prevista', sa.Date(), nullable=True),
    sa.Column('observacao', sa.Text(), nullable=True),
    sa.Column('aberto', sa.Boolean(), nullable=False),
    sa.Column('created_at', core.models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('num_pedido')
    )
    with op.batch_alter_table('pedidos', schema=None) as batch_op:
        batch_op.create_index('ix_pedidos_aberto_entrega', ['aberto', 'data_entrega_prevista'], unique=False)

    op.create_table('pedido_itens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('pedido_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cod_produto', sa.String(length=30), nullable=False),
    sa.Column('nome_produto', sa.String(length=150), nullable=False),
    sa.Column('quantidade', sa.Numeric(precision=15, scale=3), nullable=False),
    sa.Column('preco_unitario', sa.Numeric(precision=15, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['pedido_id'], ['pedidos.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pedido_itens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pedido_itens_cod_produto'), ['cod_produto'], unique=False)
        batch_op.create_index(batch_op.f('ix_pedido_itens_pedido_id'), ['pedido_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('pedido_itens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pedido_itens_pedido_id'))
        batch_op.drop_index(batch_op.f('ix_pedido_itens_cod_produto'))

    op.drop_table('pedido_itens')
    with op.batch_alter_table('pedidos', schema=None) as batch_op:
        batch_op.drop_index('ix_pedidos_aberto_entrega')

    op.drop_table('pedidos')
    with op.batch_alter_table('estoque_entradas_programadas', schema=None) as batch_op:
        batch_op.drop_index('ix_entradas_produto_data')

    op.drop_table('estoque_entradas_programadas')
    op.drop_table('estoque_atual')
