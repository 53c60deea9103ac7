"""roles: a role per user in place of is_admin; bearer tokens expire and can be revoked

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-01 10:00:00

Administrators become `admin`, everyone else `loja` (the least a user may do). Tokens that
existed before expiries get 90 days from the upgrade (STOCKFLOW_TOKEN_DAYS's default).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

import core.models.types

revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None

EXISTING_TOKEN_DAYS = 90


def upgrade() -> None:
    # Plain ALTERs on users, never a batch copy: on SQLite a copy drops the old table, and with
    # foreign keys on that DROP would cascade to every api_tokens row (SQLite 3.35+ drops
    # columns in place).
    op.add_column('users', sa.Column('role', sa.String(length=16), nullable=False,
                                     server_default='loja'))
    op.execute("UPDATE users SET role = 'admin' WHERE is_admin")
    op.drop_column('users', 'is_admin')

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', core.models.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', core.models.types.UTCDateTime(), nullable=True))
    expires = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=EXISTING_TOKEN_DAYS)
    op.get_bind().execute(sa.text("UPDATE api_tokens SET expires_at = :expires"),
                          {"expires": expires})
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=core.models.types.UTCDateTime(),
                              nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('expires_at')
    op.add_column('users', sa.Column('is_admin', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.execute("UPDATE users SET is_admin = (role = 'admin')")
    op.drop_column('users', 'role')
