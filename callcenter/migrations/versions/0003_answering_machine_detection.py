"""answering-machine detection per campaign; the verdict on each call

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24)


def upgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'amd_mode',
                _enum('amdmode', 'off', 'hangup', 'message'),
                nullable=False,
                server_default='off',
            )
        )
        batch_op.add_column(
            sa.Column('voicemail_wav', sa.String(length=255), nullable=False, server_default='')
        )

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'amd_result', _enum('amdresult', 'human', 'machine', 'not_sure'), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                'amd_action',
                _enum('amdaction', 'hung_up', 'message_played', 'passed_to_agent'),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('amd_action')
        batch_op.drop_column('amd_result')

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('voicemail_wav')
        batch_op.drop_column('amd_mode')
