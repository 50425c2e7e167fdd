"""the API's tokens

Revision ID: 0011_api
Revises: 0010_recording
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = '0011_api'
down_revision: str | Sequence[str] | None = '0010_recording'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql')


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24)


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, callcenter.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('token_sha256', sa.String(length=64), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('role', _enum('role', 'agent', 'supervisor', 'manager', 'admin'), nullable=False),
        sa.Column('all_campaigns', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        _when('created_at', nullable=False),
        _when('last_used_at'),
        _when('revoked_at'),
        sa.ForeignKeyConstraint(
            ['created_by_id'], ['users.id'], name=op.f('fk_api_tokens_created_by_id_users')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
        sa.UniqueConstraint('token_sha256', name=op.f('uq_api_tokens_token_sha256')),
    )
    op.create_table(
        'api_token_campaigns',
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['token_id'], ['api_tokens.id'], ondelete='CASCADE',
            name=op.f('fk_api_token_campaigns_token_id_api_tokens'),
        ),
        sa.ForeignKeyConstraint(
            ['campaign_id'], ['campaigns.id'], ondelete='CASCADE',
            name=op.f('fk_api_token_campaigns_campaign_id_campaigns'),
        ),
        sa.PrimaryKeyConstraint('token_id', 'campaign_id', name=op.f('pk_api_token_campaigns')),
    )


def downgrade() -> None:
    op.drop_table('api_token_campaigns')
    op.drop_table('api_tokens')
