"""agent phone legs

The state of each agent's nailed-up phone leg on agent_status, and the
system pause reason `phone_lost` an agent is put in when their leg fails or
drops (agent_status.pause_reason is a foreign key: production installs have
no demo data, so the row comes with the schema). phone_leg_id held the
phone address cut to 64 characters; it now holds the dialer's leg id (the
address is users.sip_uri, whole).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PHONE_LOST = 'phone_lost'


def upgrade() -> None:
    with op.batch_alter_table('pause_reasons', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('is_system', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table('agent_status', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'phone_leg',
                sa.Enum(
                    'down', 'calling', 'up', 'lost',
                    name='phonelegstate', native_enum=False, length=24,
                ),
                server_default='down',
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column('phone_leg_detail', sa.String(length=120), nullable=True))
    op.execute(sa.text('UPDATE agent_status SET phone_leg_id = NULL'))
    pause_reasons = sa.table(
        'pause_reasons',
        sa.column('code', sa.String),
        sa.column('label_fa', sa.String),
        sa.column('label_en', sa.String),
        sa.column('limit_minutes', sa.Integer),
        sa.column('is_active', sa.Boolean),
        sa.column('is_system', sa.Boolean),
    )
    op.bulk_insert(
        pause_reasons,
        [
            {
                'code': PHONE_LOST,
                'label_fa': 'تلفن قطع شد',
                'label_en': 'Phone lost',
                'limit_minutes': None,
                'is_active': True,
                'is_system': True,
            }
        ],
    )


def downgrade() -> None:
    op.execute(
        sa.text('UPDATE agent_status SET pause_reason = NULL WHERE pause_reason = :code').bindparams(
            code=PHONE_LOST
        )
    )
    op.execute(sa.text('DELETE FROM pause_reasons WHERE code = :code').bindparams(code=PHONE_LOST))
    with op.batch_alter_table('agent_status', schema=None) as batch_op:
        batch_op.drop_column('phone_leg_detail')
        batch_op.drop_column('phone_leg')
    with op.batch_alter_table('pause_reasons', schema=None) as batch_op:
        batch_op.drop_column('is_system')
