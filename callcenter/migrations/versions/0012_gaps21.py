"""meeting change notices (moved, cancelled; to the customer or the
salesperson) on the follow-up e-mail; indexes for pruning the webhook
deliveries and SMS by age

Revision ID: 0012_gaps21
Revises: 0011_reportspeed
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_gaps21'
down_revision: str | Sequence[str] | None = '0012_holdrec'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'notice',
                sa.Enum('invite', 'moved', 'cancelled', name='followupnotice',
                        native_enum=False, length=24),
                nullable=False,
                server_default='invite',
            )
        )
        batch_op.add_column(
            sa.Column('to_salesperson', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column('ics_sequence', sa.Integer(), nullable=False, server_default=sa.text('0'))
        )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_created_at', ['created_at'])
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.create_index('ix_sms_messages_created_at', ['created_at'])


def downgrade() -> None:
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_messages_created_at')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_created_at')
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_column('ics_sequence')
        batch_op.drop_column('to_salesperson')
        batch_op.drop_column('notice')
