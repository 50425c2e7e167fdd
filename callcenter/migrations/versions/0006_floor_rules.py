"""floor rules held by the server

- agent_status.pause_after_call / log_out_after_call: a pause or a log-out
  the agent (or the session's end) asked for while on a call or in wrap-up,
  applied when the wrap-up ends instead of Ready;
- the system pause reason `wrap_up_timeout`: an agent whose wrap-up limit
  passed without a disposition (tab closed, or away) is put there, not Ready;
- campaigns.callback_open_after_minutes: how long a callback booked "for me"
  waits for its agent before any agent of the campaign may take it;
- users.last_active_at: the last request or Socket.IO event of the user, so
  the idle timeout counts the agent's screen working over its socket.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WRAP_UP_TIMEOUT = "wrap_up_timeout"


def upgrade() -> None:
    with op.batch_alter_table("agent_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pause_after_call", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("log_out_after_call", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "callback_open_after_minutes",
                sa.Integer(),
                server_default=sa.text("15"),
                nullable=False,
            )
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_active_at", callcenter.db.UTCDateTime(timezone=True), nullable=True)
        )
    pause_reasons = sa.table(
        "pause_reasons",
        sa.column("code", sa.String),
        sa.column("label_fa", sa.String),
        sa.column("label_en", sa.String),
        sa.column("limit_minutes", sa.Integer),
        sa.column("is_active", sa.Boolean),
        sa.column("is_system", sa.Boolean),
    )
    op.bulk_insert(
        pause_reasons,
        [
            {
                "code": WRAP_UP_TIMEOUT,
                "label_fa": "پایان وقت جمع‌بندی",
                "label_en": "Wrap-up timed out",
                "limit_minutes": None,
                "is_active": True,
                "is_system": True,
            }
        ],
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE agent_status SET pause_reason = NULL WHERE pause_reason = :code"
        ).bindparams(code=WRAP_UP_TIMEOUT)
    )
    op.execute(
        sa.text("DELETE FROM pause_reasons WHERE code = :code").bindparams(code=WRAP_UP_TIMEOUT)
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("last_active_at")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("callback_open_after_minutes")
    with op.batch_alter_table("agent_status", schema=None) as batch_op:
        batch_op.drop_column("log_out_after_call")
        batch_op.drop_column("pause_after_call")
