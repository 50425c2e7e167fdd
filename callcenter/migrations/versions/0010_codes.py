"""codes that belong to the business: pause codes and dispositions per campaign

- pause_reasons.is_paid / position: paid or unpaid pause time, menu order;
- campaign_dispositions: each campaign's dispositions (fa/en label, category,
  retry minutes, order, active), seeded for every campaign with the ones the
  product used until now;
- dispositions.code becomes the campaign's code (a string), and
  dispositions.category keeps what the code did to the lead when it was set;
- the default pause codes (break, lunch, training, meeting, technical), so a
  production install without demo data lets its agents pause.

Revision ID: 0010_codes
Revises: 0010_leadfiles
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_codes"
down_revision: str | Sequence[str] | None = "0010_leadfiles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A copy, not an import: the migration must seed what it seeded the day it was written.
DEFAULT_PAUSE_CODES = [
    # code, label_fa, label_en, limit_minutes, is_paid
    ("break", "استراحت", "Break", 15, True),
    ("lunch", "ناهار", "Lunch", 45, False),
    ("training", "آموزش", "Training", 60, True),
    ("meeting", "جلسه", "Meeting", 30, True),
    ("technical", "مشکل فنی", "Technical problem", 15, True),
]
DEFAULT_DISPOSITIONS = [
    # code, label_fa, label_en, category, retry_minutes
    ("appointment_set", "قرار ملاقات گذاشته شد", "Appointment set", "appointment", None),
    ("sale", "فروش", "Sale", "sale", None),
    ("callback", "تماس مجدد", "Callback", "callback", None),
    ("no_decision", "بدون تصمیم", "No decision", "retry", None),
    ("not_interested", "علاقه‌ای ندارد", "Not interested", "final", None),
    ("wrong_number", "شمارهٔ اشتباه", "Wrong number", "final", None),
    ("do_not_call", "تماس نگیرید", "Do not call", "dnc", None),
    ("answering_machine", "پیغام‌گیر", "Answering machine", "retry", None),
]
CATEGORY_OF_OLD_CODES = {
    "appointment_set": "appointment",
    "sale": "sale",
    "callback": "callback",
    "no_decision": "retry",
    "not_interested": "final",
    "wrong_number": "final",
    "do_not_call": "dnc",
    "answering_machine": "retry",
    "wrap_up_timeout": "retry",
}
CATEGORIES = ("final", "retry", "callback", "dnc", "sale", "appointment")


def _category_type() -> sa.Enum:
    return sa.Enum(*CATEGORIES, name="dispositioncategory", native_enum=False, length=24)


def upgrade() -> None:
    with op.batch_alter_table("pause_reasons", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_paid", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    op.create_table(
        "campaign_dispositions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("label_fa", sa.String(length=120), nullable=False),
        sa.Column("label_en", sa.String(length=120), nullable=False),
        sa.Column("category", _category_type(), nullable=False),
        sa.Column("retry_minutes", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_dispositions_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_dispositions")),
        sa.UniqueConstraint(
            "campaign_id", "code", name=op.f("uq_campaign_dispositions_campaign_id_code")
        ),
    )
    with op.batch_alter_table("dispositions", schema=None) as batch_op:
        batch_op.alter_column(
            "code",
            existing_type=sa.String(length=24),
            type_=sa.String(length=32),
            existing_nullable=False,
        )
        batch_op.add_column(
            sa.Column("category", _category_type(), server_default="final", nullable=False)
        )
    connection = op.get_bind()
    for code, category in CATEGORY_OF_OLD_CODES.items():
        connection.execute(
            sa.text("UPDATE dispositions SET category = :category WHERE code = :code").bindparams(
                category=category, code=code
            )
        )
    _seed_pause_codes(connection)
    _seed_dispositions(connection)


def _seed_pause_codes(connection: sa.Connection) -> None:
    existing = set(connection.scalars(sa.text("SELECT code FROM pause_reasons")))
    pause_reasons = sa.table(
        "pause_reasons",
        sa.column("code", sa.String),
        sa.column("label_fa", sa.String),
        sa.column("label_en", sa.String),
        sa.column("limit_minutes", sa.Integer),
        sa.column("is_active", sa.Boolean),
        sa.column("is_system", sa.Boolean),
        sa.column("is_paid", sa.Boolean),
        sa.column("position", sa.Integer),
    )
    rows = [
        {
            "code": code,
            "label_fa": label_fa,
            "label_en": label_en,
            "limit_minutes": limit,
            "is_active": True,
            "is_system": False,
            "is_paid": paid,
            "position": position,
        }
        for position, (code, label_fa, label_en, limit, paid) in enumerate(DEFAULT_PAUSE_CODES)
        if code not in existing
    ]
    if rows:
        op.bulk_insert(pause_reasons, rows)
    for position, (code, *_rest) in enumerate(DEFAULT_PAUSE_CODES):
        connection.execute(
            sa.text("UPDATE pause_reasons SET position = :position WHERE code = :code").bindparams(
                position=position, code=code
            )
        )


def _seed_dispositions(connection: sa.Connection) -> None:
    campaign_ids = list(connection.scalars(sa.text("SELECT id FROM campaigns ORDER BY id")))
    if not campaign_ids:
        return
    table = sa.table(
        "campaign_dispositions",
        sa.column("campaign_id", sa.Integer),
        sa.column("code", sa.String),
        sa.column("label_fa", sa.String),
        sa.column("label_en", sa.String),
        sa.column("category", sa.String),
        sa.column("retry_minutes", sa.Integer),
        sa.column("position", sa.Integer),
        sa.column("is_active", sa.Boolean),
    )
    op.bulk_insert(
        table,
        [
            {
                "campaign_id": campaign_id,
                "code": code,
                "label_fa": label_fa,
                "label_en": label_en,
                "category": category,
                "retry_minutes": retry,
                "position": position,
                "is_active": True,
            }
            for campaign_id in campaign_ids
            for position, (code, label_fa, label_en, category, retry) in enumerate(
                DEFAULT_DISPOSITIONS
            )
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("dispositions", schema=None) as batch_op:
        batch_op.drop_column("category")
        batch_op.alter_column(
            "code",
            existing_type=sa.String(length=32),
            type_=sa.String(length=24),
            existing_nullable=False,
        )
    op.drop_table("campaign_dispositions")
    with op.batch_alter_table("pause_reasons", schema=None) as batch_op:
        batch_op.drop_column("position")
        batch_op.drop_column("is_paid")
