"""meetings held by salespeople, their outcome and history; DNC hits prevented

Revision ID: 0010_appointments
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = '0010_appointments'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPOINTMENT_STATUSES = (
    'booked', 'held', 'no_show', 'rescheduled', 'cancelled', 'sold', 'not_sold'
)


def _status() -> sa.Enum:
    return sa.Enum(
        *APPOINTMENT_STATUSES, name='appointmentstatus', native_enum=False, length=24
    )


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('is_salesperson', sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.alter_column(
            'status',
            existing_type=sa.Enum(
                'booked', 'held', 'no_show', 'cancelled', 'sold',
                name='appointmentstatus', native_enum=False, length=24,
            ),
            type_=_status(),
            existing_nullable=False,
        )
        batch_op.add_column(sa.Column('sale_amount', sa.Numeric(16, 0), nullable=True))
        batch_op.add_column(
            sa.Column('outcome_note', sa.Text(), nullable=False, server_default='')
        )
        batch_op.add_column(sa.Column('rescheduled_from_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_appointments_rescheduled_from_id_appointments'),
            'appointments', ['rescheduled_from_id'], ['id'],
        )
        batch_op.create_index(
            batch_op.f('ix_appointments_rescheduled_from_id'), ['rescheduled_from_id'], unique=False
        )

    op.create_table(
        'appointment_status_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=False),
        sa.Column('from_status', _status(), nullable=True),
        sa.Column('to_status', _status(), nullable=False),
        sa.Column('changed_by_id', sa.Integer(), nullable=True),
        sa.Column('at', callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['appointment_id'], ['appointments.id'],
            name=op.f('fk_appointment_status_changes_appointment_id_appointments'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['changed_by_id'], ['users.id'],
            name=op.f('fk_appointment_status_changes_changed_by_id_users'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_status_changes')),
    )
    with op.batch_alter_table('appointment_status_changes', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_appointment_status_changes_appointment_id'), ['appointment_id']
        )
        batch_op.create_index(batch_op.f('ix_appointment_status_changes_at'), ['at'])

    op.create_table(
        'dnc_hits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('phone_e164', sa.String(length=20), nullable=False),
        sa.Column(
            'source',
            sa.Enum('import', 'claim', name='dnchitsource', native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column('lead_id', sa.Integer(), nullable=True),
        sa.Column('lead_list_id', sa.Integer(), nullable=True),
        sa.Column('at', callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['campaign_id'], ['campaigns.id'], name=op.f('fk_dnc_hits_campaign_id_campaigns')
        ),
        sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_dnc_hits_lead_id_leads')),
        sa.ForeignKeyConstraint(
            ['lead_list_id'], ['lead_lists.id'], name=op.f('fk_dnc_hits_lead_list_id_lead_lists')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dnc_hits')),
    )
    with op.batch_alter_table('dnc_hits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dnc_hits_campaign_id'), ['campaign_id'])
        batch_op.create_index(batch_op.f('ix_dnc_hits_at'), ['at'])


def downgrade() -> None:
    with op.batch_alter_table('dnc_hits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dnc_hits_at'))
        batch_op.drop_index(batch_op.f('ix_dnc_hits_campaign_id'))
    op.drop_table('dnc_hits')
    with op.batch_alter_table('appointment_status_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_status_changes_at'))
        batch_op.drop_index(batch_op.f('ix_appointment_status_changes_appointment_id'))
    op.drop_table('appointment_status_changes')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointments_rescheduled_from_id'))
        batch_op.drop_constraint(
            batch_op.f('fk_appointments_rescheduled_from_id_appointments'), type_='foreignkey'
        )
        batch_op.drop_column('rescheduled_from_id')
        batch_op.drop_column('outcome_note')
        batch_op.drop_column('sale_amount')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('is_salesperson')
