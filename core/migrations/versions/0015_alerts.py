"""alerts: rule settings, recipients, alerts and their deliveries

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-01 12:10:00

New tables only (nothing altered), the same on SQLite and MariaDB. alerts.open_key is UNIQUE
and NULL once an alert is resolved: both databases allow any number of NULLs in a UNIQUE
index, so only the open alert of a rule and subject collides.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import core.models.types

revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(mysql.JSON(), 'mysql')


def upgrade() -> None:
    op.create_table('alert_rules',
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('state', JSON, nullable=True),
    sa.Column('updated_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=80), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('alert_recipients',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('open_key', sa.String(length=240), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('started_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('last_notified_at', core.models.types.UTCDateTime(), nullable=True),
    sa.Column('resolved_at', core.models.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('open_key')
    )
    op.create_index('ix_alerts_rule_started', 'alerts', ['rule', 'started_at'])
    op.create_index('ix_alerts_started_at', 'alerts', ['started_at'])
    op.create_index('ix_alerts_status', 'alerts', ['status'])
    op.create_table('alert_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('destination', sa.String(length=500), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('next_attempt_at', core.models.types.UTCDateTime(), nullable=True),
    sa.Column('delivered_at', core.models.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recipient_id'], ['alert_recipients.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_alert_deliveries_alert_id', 'alert_deliveries', ['alert_id'])
    op.create_index('ix_alert_deliveries_status_next', 'alert_deliveries',
                    ['status', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_index('ix_alert_deliveries_status_next', table_name='alert_deliveries')
    op.drop_index('ix_alert_deliveries_alert_id', table_name='alert_deliveries')
    op.drop_table('alert_deliveries')
    op.drop_index('ix_alerts_status', table_name='alerts')
    op.drop_index('ix_alerts_started_at', table_name='alerts')
    op.drop_index('ix_alerts_rule_started', table_name='alerts')
    op.drop_table('alerts')
    op.drop_table('alert_recipients')
    op.drop_table('alert_rules')
