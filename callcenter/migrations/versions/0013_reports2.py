"""the campaign/date index of calls widened to cover the compliance
report's daily abandon counts

Revision ID: 0013_reports2
Revises: 0012_gaps21
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013_reports2'
down_revision: str | Sequence[str] | None = '0012_gaps21'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_campaign_dialed')
        batch_op.create_index(
            'ix_calls_campaign_dialed_outcome',
            ['campaign_id', 'dialed_at', 'outcome', 'answered_at', 'direction'],
        )


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_campaign_dialed_outcome')
        batch_op.create_index('ix_calls_campaign_dialed', ['campaign_id', 'dialed_at'])
