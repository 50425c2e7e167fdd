"""the agent's own work: a customer's second number, manual calls, callback alerts

Revision ID: 0010_agentwork
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db


revision: str = '0010_agentwork'
down_revision: str | Sequence[str] | None = '0010_floor'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone2_e164', sa.String(length=20), nullable=True))
        batch_op.create_index('ix_customers_phone2_e164', ['phone2_e164'])
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('is_manual', sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alerted_at', callcenter.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.drop_column('alerted_at')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('is_manual')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_phone2_e164')
        batch_op.drop_column('phone2_e164')
