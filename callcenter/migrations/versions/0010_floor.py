"""lists can be switched off and recycled; agents have a direct number; a
supervisor's pause of an agent on a call waits for the call's end

Revision ID: 0010_floor
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010_floor'
down_revision: str | Sequence[str] | None = '0010_appointments'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('lead_lists', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('is_enabled', sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('attempts_before_reset', sa.Integer(), nullable=False, server_default='0')
        )
    with op.batch_alter_table('agent_status', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pause_forced_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f('fk_agent_status_pause_forced_by_id_users'),
            'users',
            ['pause_forced_by_id'],
            ['id'],
        )
    with op.batch_alter_table('users', schema=None) as batch_op:
        # users.phone was read by the script but nothing set it; it becomes the
        # agent's direct number, set by an admin and checked as a phone number.
        batch_op.alter_column('phone', new_column_name='direct_number')


def downgrade() -> None:
    with op.batch_alter_table('agent_status', schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f('fk_agent_status_pause_forced_by_id_users'), type_='foreignkey'
        )
        batch_op.drop_column('pause_forced_by_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('direct_number', new_column_name='phone')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_column('attempts_before_reset')
    with op.batch_alter_table('lead_lists', schema=None) as batch_op:
        batch_op.drop_column('is_enabled')
