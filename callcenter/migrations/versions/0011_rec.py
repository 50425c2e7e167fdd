"""indexes for the reports' call list and the floor's recent calls; a
campaign's uploaded recording notice

Revision ID: 0011_rec
Revises: 0010_recording
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_rec'
down_revision: str | Sequence[str] | None = '0010_recording'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_wav_key', sa.String(length=255), nullable=True))
    op.create_index('ix_calls_campaign_ended', 'calls', ['campaign_id', 'ended_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('consent_wav_key')
    op.drop_index('ix_calls_campaign_ended', table_name='calls')
