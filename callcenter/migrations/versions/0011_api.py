"""the API's tokens, webhook subscriptions and their outbox, calendar feeds,
meeting reminders, SMS

Revision ID: 0011_api
Revises: 0010_recording
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = '0011_api'
down_revision: str | Sequence[str] | None = '0011_transfer'
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


    op.create_table(
        'webhook_subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('secret', sa.String(length=64), nullable=False),
        sa.Column('events', JSON, nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        _when('created_at', nullable=False),
        sa.ForeignKeyConstraint(
            ['created_by_id'], ['users.id'], name=op.f('fk_webhook_subscriptions_created_by_id_users')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscriptions')),
    )
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.String(length=32), nullable=False),
        sa.Column('event_type', sa.String(length=40), nullable=False),
        sa.Column('payload', JSON, nullable=False),
        sa.Column(
            'status', _enum('webhookdeliverystatus', 'pending', 'delivered', 'failed'), nullable=False
        ),
        sa.Column('attempts', sa.Integer(), nullable=False),
        _when('next_attempt_at', nullable=False),
        _when('leased_until'),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=False),
        _when('created_at', nullable=False),
        _when('delivered_at'),
        sa.ForeignKeyConstraint(
            ['subscription_id'], ['webhook_subscriptions.id'], ondelete='CASCADE',
            name=op.f('fk_webhook_deliveries_subscription_id_webhook_subscriptions'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_webhook_deliveries_subscription_id'), ['subscription_id'], unique=False
        )
        batch_op.create_index('ix_webhook_deliveries_due', ['status', 'next_attempt_at'], unique=False)
    op.create_table(
        'webhook_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=False),
        _when('at', nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['delivery_id'], ['webhook_deliveries.id'], ondelete='CASCADE',
            name=op.f('fk_webhook_attempts_delivery_id_webhook_deliveries'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts')),
    )
    with op.batch_alter_table('webhook_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_attempts_delivery_id'), ['delivery_id'], unique=False)

    op.create_table(
        'calendar_feeds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_sha256', sa.String(length=64), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('team_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        _when('created_at', nullable=False),
        _when('last_fetched_at'),
        _when('revoked_at'),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_calendar_feeds_owner_id_users')),
        sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_calendar_feeds_team_id_teams')),
        sa.ForeignKeyConstraint(
            ['created_by_id'], ['users.id'], name=op.f('fk_calendar_feeds_created_by_id_users')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
        sa.UniqueConstraint('token_sha256', name=op.f('uq_calendar_feeds_token_sha256')),
    )
    with op.batch_alter_table('calendar_feeds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_feeds_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_feeds_team_id'), ['team_id'], unique=False)

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_minutes', JSON, nullable=False, server_default='[]'))
    op.create_table(
        'appointment_reminders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=False),
        sa.Column('minutes_before', sa.Integer(), nullable=False),
        sa.Column('to_address', sa.String(length=255), nullable=False),
        sa.Column('status', _enum('deliverystatus', 'queued', 'sent', 'failed'), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        _when('next_attempt_at'),
        sa.Column('last_error', sa.Text(), nullable=False),
        _when('sent_at'),
        sa.ForeignKeyConstraint(
            ['appointment_id'], ['appointments.id'], ondelete='CASCADE',
            name=op.f('fk_appointment_reminders_appointment_id_appointments'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_reminders')),
        sa.UniqueConstraint(
            'appointment_id', 'minutes_before',
            name=op.f('uq_appointment_reminders_appointment_id_minutes_before'),
        ),
    )
    with op.batch_alter_table('appointment_reminders', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_appointment_reminders_appointment_id'), ['appointment_id'], unique=False
        )
        batch_op.create_index(
            batch_op.f('ix_appointment_reminders_next_attempt_at'), ['next_attempt_at'], unique=False
        )

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_templates', JSON, nullable=False, server_default='{}'))
    op.create_table(
        'sms_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=True),
        sa.Column('appointment_id', sa.Integer(), nullable=True),
        sa.Column('callback_id', sa.Integer(), nullable=True),
        sa.Column('to_e164', sa.String(length=20), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('status', _enum('smsstatus', 'queued', 'sent', 'delivered', 'failed'), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        _when('next_attempt_at'),
        sa.Column('provider_message_id', sa.String(length=64), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=False),
        _when('created_at', nullable=False),
        _when('sent_at'),
        _when('delivered_at'),
        sa.ForeignKeyConstraint(
            ['campaign_id'], ['campaigns.id'], name=op.f('fk_sms_messages_campaign_id_campaigns')
        ),
        sa.ForeignKeyConstraint(
            ['appointment_id'], ['appointments.id'], ondelete='CASCADE',
            name=op.f('fk_sms_messages_appointment_id_appointments'),
        ),
        sa.ForeignKeyConstraint(
            ['callback_id'], ['callbacks.id'], name=op.f('fk_sms_messages_callback_id_callbacks')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_messages')),
    )
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_messages_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_messages_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_messages_callback_id'), ['callback_id'], unique=False)
        batch_op.create_index('ix_sms_messages_due', ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_table('sms_messages')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('sms_templates')
    op.drop_table('appointment_reminders')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('reminder_minutes')
    op.drop_table('calendar_feeds')
    op.drop_table('webhook_attempts')
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_subscriptions')
    op.drop_table('api_token_campaigns')
    op.drop_table('api_tokens')
