"""health: device status (current row per Pi) and health history samples

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-22 08:46:42.366180
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import core.models.types

revision = '0005'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('device_health_samples',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('raspberry_id', sa.String(length=64), nullable=False),
    sa.Column('reported_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('cpu_temp_c', sa.Float(), nullable=True),
    sa.Column('cpu_percent', sa.Float(), nullable=True),
    sa.Column('mem_percent', sa.Float(), nullable=True),
    sa.Column('wifi_signal_dbm', sa.Integer(), nullable=True),
    sa.Column('spool_depth', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('raspberry_id', 'reported_at', name='uq_device_health_samples_device_at')
    )
    with op.batch_alter_table('device_health_samples', schema=None) as batch_op:
        batch_op.create_index('ix_device_health_samples_reported_at', ['reported_at'], unique=False)

    op.create_table('device_status',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('raspberry_id', sa.String(length=64), nullable=False),
    sa.Column('wifi_status', sa.String(length=32), nullable=True),
    sa.Column('mem_usage', sa.String(length=32), nullable=True),
    sa.Column('cpu_temp', sa.String(length=32), nullable=True),
    sa.Column('led_internal_status', sa.Boolean(), nullable=True),
    sa.Column('led_external_status', sa.Boolean(), nullable=True),
    sa.Column('cpu_percent', sa.Float(), nullable=True),
    sa.Column('gpio_used_count', sa.Integer(), nullable=True),
    sa.Column('spi_buses', sa.JSON().with_variant(mysql.JSON(), 'mysql'), nullable=True),
    sa.Column('i2c_buses', sa.JSON().with_variant(mysql.JSON(), 'mysql'), nullable=True),
    sa.Column('usb_devices_count', sa.Integer(), nullable=True),
    sa.Column('net_bytes_sent', sa.BigInteger(), nullable=True),
    sa.Column('net_bytes_recv', sa.BigInteger(), nullable=True),
    sa.Column('net_ifaces', sa.JSON().with_variant(mysql.JSON(), 'mysql'), nullable=True),
    sa.Column('store_key', sa.String(length=64), nullable=True),
    sa.Column('agent_version', sa.String(length=32), nullable=True),
    sa.Column('uptime_s', sa.BigInteger(), nullable=True),
    sa.Column('spool_depth', sa.Integer(), nullable=True),
    sa.Column('spool_oldest_at', core.models.types.UTCDateTime(), nullable=True),
    sa.Column('wifi_signal_dbm', sa.Integer(), nullable=True),
    sa.Column('cpu_temp_c', sa.Float(), nullable=True),
    sa.Column('mem_percent', sa.Float(), nullable=True),
    sa.Column('leds', sa.JSON().with_variant(mysql.JSON(), 'mysql'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reported_at', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('last_update', core.models.types.UTCDateTime(), nullable=False),
    sa.Column('first_seen', core.models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('raspberry_id')
    )
    with op.batch_alter_table('device_status', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_status_last_update'), ['last_update'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_status_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_status_store_key'), ['store_key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('device_status', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_status_store_key'))
        batch_op.drop_index(batch_op.f('ix_device_status_status'))
        batch_op.drop_index(batch_op.f('ix_device_status_last_update'))

    op.drop_table('device_status')
    with op.batch_alter_table('device_health_samples', schema=None) as batch_op:
        batch_op.drop_index('ix_device_health_samples_reported_at')

    op.drop_table('device_health_samples')
