"""supervisors on live calls: monitor sessions; a campaign may hide "listen" from agents

Revision ID: 0011_monitor
Revises: 0010_recording
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = '0011_monitor'
down_revision: str | Sequence[str] | None = '0011_api'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24)


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, callcenter.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('monitor_listen_hidden', sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        'monitor_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.String(length=32), nullable=False),
        sa.Column('supervisor_id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=True),
        sa.Column('mode', _enum('monitormode', 'listen', 'whisper', 'barge'), nullable=False),
        sa.Column('state', _enum('monitorstate', 'calling', 'active', 'ended'), nullable=False),
        sa.Column('phone', sa.String(length=255), nullable=False),
        _when('started_at', nullable=False),
        _when('answered_at'),
        _when('ended_at'),
        sa.Column('end_reason', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['agent_id'], ['users.id']),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id']),
        sa.ForeignKeyConstraint(['supervisor_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('monitor_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_monitor_sessions_call_id', ['call_id'], unique=False)
        batch_op.create_index('ix_monitor_sessions_supervisor_id', ['supervisor_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('monitor_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_monitor_sessions_supervisor_id')
        batch_op.drop_index('ix_monitor_sessions_call_id')
    op.drop_table('monitor_sessions')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('monitor_listen_hidden')
