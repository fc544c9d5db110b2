"""loyalty points ledger (issue 6, siyu.activation.points)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "points_ledger",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(160), nullable=False, unique=True),
        sa.Column("consumer_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.String(200)),
        sa.Column("source", sa.String(128), nullable=False),
    )
    op.create_index("ix_points_ledger_consumer", "points_ledger", ["consumer_id", "at"])
    op.create_index("ix_points_ledger_expires", "points_ledger", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_points_ledger_expires", table_name="points_ledger")
    op.drop_index("ix_points_ledger_consumer", table_name="points_ledger")
    op.drop_table("points_ledger")
