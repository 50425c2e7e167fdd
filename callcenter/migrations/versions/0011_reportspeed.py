"""indexes for date-range reports and for pruning processed_events

Revision ID: 0011_reportspeed
Revises: 0010_recording
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0011_reportspeed'
down_revision: str | Sequence[str] | None = '0011_monitor'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index(
            'ix_calls_dialed_campaign_outcome', ['dialed_at', 'campaign_id', 'outcome', 'answered_at']
        )
    with op.batch_alter_table('lead_state_changes', schema=None) as batch_op:
        batch_op.create_index('ix_lead_state_changes_to_state_at', ['to_state', 'at'])
    with op.batch_alter_table('processed_events', schema=None) as batch_op:
        batch_op.create_index('ix_processed_events_processed_at', ['processed_at'])


def downgrade() -> None:
    with op.batch_alter_table('processed_events', schema=None) as batch_op:
        batch_op.drop_index('ix_processed_events_processed_at')
    with op.batch_alter_table('lead_state_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_lead_state_changes_to_state_at')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_dialed_campaign_outcome')
