"""the date-range index of calls carries the direction: the outbound abandon
rates (inbound calls are not dials) are still read from the index alone

Revision ID: 0012_holdrec
Revises: 0011_reportspeed
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0012_holdrec'
down_revision: str | Sequence[str] | None = '0011_reportspeed'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = ['dialed_at', 'campaign_id', 'outcome', 'answered_at']


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_dialed_campaign_outcome')
        batch_op.create_index('ix_calls_dialed_campaign_outcome', [*_OLD, 'direction'])


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_dialed_campaign_outcome')
        batch_op.create_index('ix_calls_dialed_campaign_outcome', _OLD)
