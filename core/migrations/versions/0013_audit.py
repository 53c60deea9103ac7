"""audit: the append-only audit trail (who, when, what, to what, from where)

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-01 10:00:00

On MariaDB two triggers refuse every UPDATE and DELETE on the table, so no code path (nor
a stray statement in a console) can rewrite history. TRUNCATE and DROP do not fire
triggers: see docs/audit.md for the grants that close those too.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import core.models.types

revision = '0013'
down_revision = '0010'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(mysql.JSON(), 'mysql')
REFUSED = ("UPDATE", "DELETE")


def upgrade() -> None:
    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', JSON, nullable=True),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_entries_at', 'audit_entries', ['at'])
    op.create_index('ix_audit_entries_action_at', 'audit_entries', ['action', 'at'])
    op.create_index('ix_audit_entries_actor_at', 'audit_entries', ['actor', 'at'])
    if op.get_bind().dialect.name == 'mysql':
        for statement in REFUSED:
            op.execute(
                f"CREATE TRIGGER audit_entries_no_{statement.lower()} BEFORE {statement} "
                "ON audit_entries FOR EACH ROW SIGNAL SQLSTATE '45000' "
                "SET MESSAGE_TEXT = 'audit_entries is append-only'")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'mysql':
        for statement in REFUSED:
            op.execute(f"DROP TRIGGER IF EXISTS audit_entries_no_{statement.lower()}")
    op.drop_index('ix_audit_entries_actor_at', table_name='audit_entries')
    op.drop_index('ix_audit_entries_action_at', table_name='audit_entries')
    op.drop_index('ix_audit_entries_at', table_name='audit_entries')
    op.drop_table('audit_entries')
