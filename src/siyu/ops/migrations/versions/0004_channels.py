"""channel delivery state: attempts, receipts, tokens, pauses, callback replay guard and
inbound callback events (issue 7)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("outbox_id", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("worker", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("error", sa.Text),
        sa.Column("provider_message_id", sa.String(128)),
    )
    op.create_index("ix_channel_attempts_outbox", "channel_attempts", ["outbox_id", "attempt"])
    op.create_table(
        "channel_receipts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("outbox_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider_message_id", sa.String(128)),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ux_channel_receipts", "channel_receipts", ["outbox_id", "status"],
                    unique=True)
    op.create_table(
        "channel_tokens",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "channel_state",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("paused_until", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "callback_nonces",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("timestamp", sa.String(16), primary_key=True),
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "channel_inbound",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("event_key", sa.String(64), nullable=False, unique=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("change_type", sa.String(64)),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("welcome_code", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("load_id", sa.String(64)),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_channel_inbound_status", "channel_inbound", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_channel_inbound_status", table_name="channel_inbound")
    op.drop_table("channel_inbound")
    op.drop_table("callback_nonces")
    op.drop_table("channel_state")
    op.drop_table("channel_tokens")
    op.drop_index("ux_channel_receipts", table_name="channel_receipts")
    op.drop_table("channel_receipts")
    op.drop_index("ix_channel_attempts_outbox", table_name="channel_attempts")
    op.drop_table("channel_attempts")
