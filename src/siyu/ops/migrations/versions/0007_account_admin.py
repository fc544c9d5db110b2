"""administration of console users and API keys: the user's last sign-in (issue 8)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("console_users", sa.Column("last_login_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    # a plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35): batch mode would recreate the table
    # and, with foreign keys on, cascade-delete the sessions
    op.drop_column("console_users", "last_login_at")
