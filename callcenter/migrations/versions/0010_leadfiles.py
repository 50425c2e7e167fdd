"""lead files as people have them

- lead_imports.options: how the manager chose to read the file (sheet,
  header line, delimiter) in the preview, so the background import reads it
  the same way; NULL: as detected.

Revision ID: 0010_leadfiles
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010_leadfiles'
down_revision: str | Sequence[str] | None = '0010_agentwork'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('lead_imports', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'options',
                sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('lead_imports', schema=None) as batch_op:
        batch_op.drop_column('options')
