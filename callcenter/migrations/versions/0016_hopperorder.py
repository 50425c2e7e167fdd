"""indexes in the hopper's dial order, and on the customers' time zones, so
a refill reads the next leads of a campaign and not all of them

Revision ID: 0016_hopperorder
Revises: 0015_agentversion
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016_hopperorder'
down_revision: str | Sequence[str] | None = '0015_agentversion'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_timezone', ['timezone'])
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index(
            'ix_leads_dial_due', ['campaign_id', 'state', 'priority', 'next_attempt_at', 'id']
        )
        batch_op.create_index(
            'ix_leads_dial_fresh',
            ['campaign_id', 'state', 'priority', 'created_at', 'id'],
            sqlite_where=sa.text('next_attempt_at IS NULL'),
            postgresql_where=sa.text('next_attempt_at IS NULL'),
        )


def downgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_dial_fresh')
        batch_op.drop_index('ix_leads_dial_due')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_timezone')
