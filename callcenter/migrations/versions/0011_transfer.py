"""customers ringing back (call direction, the campaign's wait, callbacks the
system books) and call transfers (openers and closers)

Revision ID: 0011_transfer
Revises: 0010_recording
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = '0011_transfer'
down_revision: str | Sequence[str] | None = '0011_rec'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24)


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, callcenter.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'direction',
                _enum('calldirection', 'outbound', 'inbound'),
                nullable=False,
                server_default='outbound',
            )
        )
        batch_op.add_column(sa.Column('opened_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_calls_opened_by_id_users'), 'users', ['opened_by_id'], ['id']
        )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('inbound_wait_seconds', sa.Integer(), nullable=False, server_default='20')
        )
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.alter_column('created_by_id', existing_type=sa.Integer(), nullable=True)

    op.create_table(
        'call_transfers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.String(length=32), nullable=False),
        sa.Column('kind', _enum('transferkind', 'blind', 'warm'), nullable=False),
        sa.Column('target', _enum('transfertarget', 'agent', 'team', 'number'), nullable=False),
        sa.Column(
            'state',
            _enum(
                'transferstate',
                'requested',
                'consulting',
                'joined',
                'completed',
                'cancelled',
                'failed',
            ),
            nullable=False,
        ),
        sa.Column('from_agent_id', sa.Integer(), nullable=False),
        sa.Column('to_agent_id', sa.Integer(), nullable=True),
        sa.Column('to_team_id', sa.Integer(), nullable=True),
        sa.Column('to_number', sa.String(length=20), nullable=True),
        _when('requested_at', nullable=False),
        _when('ended_at'),
        sa.Column('reason', sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_transfers_call_id_calls')),
        sa.ForeignKeyConstraint(
            ['from_agent_id'], ['users.id'], name=op.f('fk_call_transfers_from_agent_id_users')
        ),
        sa.ForeignKeyConstraint(
            ['to_agent_id'], ['users.id'], name=op.f('fk_call_transfers_to_agent_id_users')
        ),
        sa.ForeignKeyConstraint(
            ['to_team_id'], ['teams.id'], name=op.f('fk_call_transfers_to_team_id_teams')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_call_transfers')),
    )
    with op.batch_alter_table('call_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_transfers_call_id'), ['call_id'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_call_transfers_from_agent_id'), ['from_agent_id'], unique=False
        )
        batch_op.create_index(
            batch_op.f('ix_call_transfers_to_agent_id'), ['to_agent_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('call_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_transfers_to_agent_id'))
        batch_op.drop_index(batch_op.f('ix_call_transfers_from_agent_id'))
        batch_op.drop_index(batch_op.f('ix_call_transfers_call_id'))
    op.drop_table('call_transfers')
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.alter_column('created_by_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('inbound_wait_seconds')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_calls_opened_by_id_users'), type_='foreignkey')
        batch_op.drop_column('opened_by_id')
        batch_op.drop_column('direction')
