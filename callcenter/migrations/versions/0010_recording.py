"""call recording per campaign, the recordings, QA scorecards and scores

Revision ID: 0010_recording
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = '0010_recording'
down_revision: str | Sequence[str] | None = '0010_codes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql')


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24)


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, callcenter.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'recording_mode',
                _enum('recordingmode', 'off', 'all', 'on_demand'),
                nullable=False,
                server_default='off',
            )
        )
        batch_op.add_column(
            sa.Column('recording_consent', sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column('consent_wav', sa.String(length=255), nullable=False, server_default='')
        )
        batch_op.add_column(sa.Column('recording_retention_days', sa.Integer(), nullable=True))

    op.create_table(
        'call_recordings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.String(length=32), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column(
            'status',
            _enum('recordingstatus', 'recording', 'stored', 'failed', 'deleted'),
            nullable=False,
        ),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        sa.Column('consent_played', sa.Boolean(), nullable=False),
        _when('started_at', nullable=False),
        _when('ended_at'),
        sa.Column('duration_ms', sa.Integer(), nullable=True),
        sa.Column('size_bytes', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('storage_key', sa.String(length=255), nullable=True),
        sa.Column('media_type', sa.String(length=40), nullable=False),
        sa.Column('legal_hold', sa.Boolean(), nullable=False),
        sa.Column('failure_reason', sa.String(length=255), nullable=True),
        _when('deleted_at'),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_recordings_call_id_calls')),
        sa.ForeignKeyConstraint(
            ['campaign_id'], ['campaigns.id'], name=op.f('fk_call_recordings_campaign_id_campaigns')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_call_recordings')),
        sa.UniqueConstraint('call_id', name=op.f('uq_call_recordings_call_id')),
    )
    with op.batch_alter_table('call_recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_recordings_campaign_id'), ['campaign_id'], unique=False)

    op.create_table(
        'qa_scorecards',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('items', JSON, nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        _when('updated_at', nullable=False),
        sa.ForeignKeyConstraint(
            ['campaign_id'], ['campaigns.id'], name=op.f('fk_qa_scorecards_campaign_id_campaigns')
        ),
        sa.ForeignKeyConstraint(
            ['updated_by_id'], ['users.id'], name=op.f('fk_qa_scorecards_updated_by_id_users')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_scorecards')),
        sa.UniqueConstraint('campaign_id', name=op.f('uq_qa_scorecards_campaign_id')),
    )

    op.create_table(
        'qa_scores',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.String(length=32), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('scorer_id', sa.Integer(), nullable=False),
        sa.Column('checked', JSON, nullable=False),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('max_points', sa.Integer(), nullable=False),
        sa.Column('auto_failed', sa.Boolean(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        _when('scored_at', nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_qa_scores_call_id_calls')),
        sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_qa_scores_agent_id_users')),
        sa.ForeignKeyConstraint(['scorer_id'], ['users.id'], name=op.f('fk_qa_scores_scorer_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_qa_scores')),
        sa.UniqueConstraint('call_id', 'scorer_id', name=op.f('uq_qa_scores_call_id_scorer_id')),
    )
    with op.batch_alter_table('qa_scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qa_scores_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qa_scores_agent_id'), ['agent_id'], unique=False)


def downgrade() -> None:
    op.drop_table('qa_scores')
    op.drop_table('qa_scorecards')
    op.drop_table('call_recordings')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('recording_retention_days')
        batch_op.drop_column('consent_wav')
        batch_op.drop_column('recording_consent')
        batch_op.drop_column('recording_mode')
