"""agent_status.version: one more with every write of the row, carried in
every agent state payload so the agent's screen never goes back to an older
state (a reply that arrives after a newer push)

Revision ID: 0015_agentversion
Revises: 0014_opencalls
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015_agentversion'
down_revision: str | Sequence[str] | None = '0014_opencalls'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('agent_status', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('version', sa.Integer(), server_default=sa.text('0'), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('agent_status', schema=None) as batch_op:
        batch_op.drop_column('version')
