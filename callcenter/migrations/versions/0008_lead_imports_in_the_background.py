"""lead imports in the background

- lead_imports: one per uploaded lead list; its state (queued, running,
  done, failed), the counters committed with each chunk, and which worker
  holds it (worker, heartbeat_at), so another takes over a lost one;
- lead_import_files: the uploaded file until the import ends (in the
  database, so the process that runs the import may be on another host);
- lead_import_chunks: each committed chunk's part of the report.

Lead lists imported before this revision have no lead_imports row: done.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db


revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('lead_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_list_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('queued', 'running', 'done', 'failed', name='importstate', native_enum=False, length=24), nullable=False),
    sa.Column('mapping', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=True),
    sa.Column('region', sa.String(length=8), nullable=False),
    sa.Column('rows_expected', sa.Integer(), nullable=True),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('rows_imported', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('chunks_done', sa.Integer(), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=120), nullable=True),
    sa.Column('heartbeat_at', callcenter.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('created_at', callcenter.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', callcenter.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', callcenter.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lead_list_id'], ['lead_lists.id'], name=op.f('fk_lead_imports_lead_list_id_lead_lists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_imports')),
    sa.UniqueConstraint('lead_list_id', name=op.f('uq_lead_imports_lead_list_id'))
    )
    with op.batch_alter_table('lead_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_imports_state'), ['state'], unique=False)

    op.create_table('lead_import_chunks',
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('tally', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['lead_imports.id'], name=op.f('fk_lead_import_chunks_import_id_lead_imports')),
    sa.PrimaryKeyConstraint('import_id', 'seq', name=op.f('pk_lead_import_chunks'))
    )
    op.create_table('lead_import_files',
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['lead_imports.id'], name=op.f('fk_lead_import_files_import_id_lead_imports')),
    sa.PrimaryKeyConstraint('import_id', name=op.f('pk_lead_import_files'))
    )


def downgrade() -> None:
    op.drop_table('lead_import_files')
    op.drop_table('lead_import_chunks')
    with op.batch_alter_table('lead_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_imports_state'))
    op.drop_table('lead_imports')
