"""a partial index of the calls still open, so the pacer's abandon tallies
keep the settled minutes and count only the rest each tick

Revision ID: 0014_opencalls
Revises: 0013_reports2
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_opencalls'
down_revision: str | Sequence[str] | None = '0013_reports2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = (
    "state <> 'ended' OR (agent_id IS NOT NULL AND wrap_up_ended_at IS NULL"
    " AND outcome <> 'machine' AND (answered_at IS NOT NULL OR outcome = 'abandoned'))"
)


def upgrade() -> None:
    op.create_index(
        'ix_calls_open',
        'calls',
        ['campaign_id', 'dialed_at'],
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )


def downgrade() -> None:
    op.drop_index('ix_calls_open', table_name='calls')
